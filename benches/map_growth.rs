//! Worst single-operation time of the engine's big tables: `std::collections::HashMap` vs
//! `answerpoint::sharded::ShardedMap` (values inline, and boxed as the engine stores its
//! transaction entries and call records), same keys, same values, same run.
//!
//! Shape: the transaction table at 1,000 calls/s — String keys like a Via branch + sent-by +
//! method, 472-octet values (a transaction entry), growing from empty to 200,000 entries,
//! then 600,000 insert/remove pairs at a constant 130,000 live (transactions waiting out
//! 64·T1). A latency budget of 1 ms per datagram (docs/DESIGN.md §7) cares about the
//! slowest operation, not the mean, so each operation is timed on its own (thread CPU time,
//! so preemption by other load does not count); criterion's mean would hide the one insert
//! that doubles the table.
//!
//! Run: `cargo bench --bench map_growth` (about 30 s; three interleaved rounds).

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::time::{Duration, Instant};

use answerpoint::sharded::ShardedMap;
use hdrhistogram::Histogram;

/// A transaction entry's size in the engine (`size_of::<Entry<Pkt>>()` + its id).
type Value = [u64; 59];

const GROW_TO: usize = 200_000;
const LIVE: usize = 130_000;
const CHURN: usize = 600_000;
const ROUNDS: usize = 3;

trait Map {
    fn put(&mut self, k: String, v: Value);
    fn del(&mut self, k: &str);
    fn len(&self) -> usize;
}

impl Map for HashMap<String, Value> {
    fn put(&mut self, k: String, v: Value) {
        self.insert(k, v);
    }
    fn del(&mut self, k: &str) {
        self.remove(k);
    }
    fn len(&self) -> usize {
        HashMap::len(self)
    }
}

impl Map for ShardedMap<String, Value> {
    fn put(&mut self, k: String, v: Value) {
        self.insert(k, v);
    }
    fn del(&mut self, k: &str) {
        self.remove(k);
    }
    fn len(&self) -> usize {
        ShardedMap::len(self)
    }
}

/// What the engine does for its big records (transaction entries, calls).
impl Map for ShardedMap<String, Box<Value>> {
    fn put(&mut self, k: String, v: Value) {
        self.insert(k, Box::new(v));
    }
    fn del(&mut self, k: &str) {
        self.remove(k);
    }
    fn len(&self) -> usize {
        ShardedMap::len(self)
    }
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), ns: unlike wall time it does not
/// count the time the thread was preempted, so the machine's other load (2 shared cores)
/// does not pass for a slow operation.
fn cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn key(i: usize) -> String {
    format!(
        "z9hG4bK{:020x};192.0.2.{}:5060;INVITE",
        i.wrapping_mul(0x9E37_79B9),
        i % 250
    )
}

struct Result {
    grow: Histogram<u64>,
    churn: Histogram<u64>,
    total: Duration,
}

fn run<M: Map>(mut m: M) -> Result {
    let mut grow = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("bounds");
    let mut churn = grow.clone();
    let keys: Vec<String> = (0..GROW_TO + CHURN).map(key).collect();
    let mut live: VecDeque<usize> = VecDeque::with_capacity(GROW_TO);
    let start = Instant::now();
    for (i, k) in keys.iter().enumerate().take(GROW_TO) {
        let t = cpu_ns();
        m.put(k.clone(), [i as u64; 59]);
        grow.saturating_record(cpu_ns().saturating_sub(t));
        live.push_back(i);
    }
    while live.len() > LIVE {
        if let Some(old) = live.pop_front() {
            m.del(&keys[old]);
        }
    }
    for (i, k) in keys.iter().enumerate().skip(GROW_TO) {
        let t = cpu_ns();
        m.put(k.clone(), [i as u64; 59]);
        if let Some(old) = live.pop_front() {
            m.del(&keys[old]);
        }
        churn.saturating_record(cpu_ns().saturating_sub(t));
        live.push_back(i);
    }
    let total = start.elapsed();
    black_box(m.len());
    Result { grow, churn, total }
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn main() {
    println!("map_growth: grow to {GROW_TO}, then {CHURN} insert+remove at {LIVE} live; per-op ns");
    println!(
        "| round | map | total ms | grow p99.9 µs | grow max µs | churn p99.9 µs | churn max µs | ops > 1 ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut worst = [0u64; 3];
    for r in 1..=ROUNDS {
        for (i, name) in ["std HashMap", "ShardedMap", "ShardedMap, boxed values"]
            .iter()
            .enumerate()
        {
            let res = match i {
                0 => run(HashMap::<String, Value>::new()),
                1 => run(ShardedMap::<String, Value>::new()),
                _ => run(ShardedMap::<String, Box<Value>>::new()),
            };
            let over = res.grow.count_between(1_000_000, u64::MAX)
                + res.churn.count_between(1_000_000, u64::MAX);
            worst[i] = worst[i].max(res.grow.max().max(res.churn.max()));
            println!(
                "| {r} | {name} | {:.0} | {:.1} | {:.0} | {:.1} | {:.0} | {over} |",
                res.total.as_secs_f64() * 1000.0,
                us(res.grow.value_at_quantile(0.999)),
                us(res.grow.max()),
                us(res.churn.value_at_quantile(0.999)),
                us(res.churn.max()),
            );
        }
    }
    println!(
        "worst single operation: std HashMap {:.0} µs, ShardedMap {:.0} µs, boxed {:.0} µs \
         (HashMap ÷ boxed ShardedMap {:.1})",
        us(worst[0]),
        us(worst[1]),
        us(worst[2]),
        worst[0] as f64 / worst[2].max(1) as f64
    );
}
