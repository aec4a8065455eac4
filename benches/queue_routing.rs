//! One routing decision with 100,000 calls queued and 1,000 handlers (issue 3):
//! the sans-IO [`Router`] against a naive baseline (`Mutex<BinaryHeap>` of calls plus a
//! linear scan of the handler table), in the same run.
//!
//! `cargo bench --bench queue_routing -- --measurement-time 3`
//!
//! - `enqueue`: a call arrives while every handler is busy: admission, a search of the
//!   idle index (nothing free), insertion at its place. The system is put back to 100,000
//!   queued calls outside the timed region (`iter_custom`; timer overhead ≈ 20–30 ns is
//!   included in both the router and the baseline).
//! - `state_change_dispatch`: a busy handler hangs up (wrap-up 0): it becomes Available,
//!   the best eligible call (emergency first, FIFO) is chosen and offered.
//! - `cycle`: arrival + hang-up/dispatch + answer, back to back, no per-op timing.
//!
//! Two mixes: `uniform` (every handler has every skill: the baseline's cost is its
//! linear handler scan and heap operations) and `skills` (four handler skill profiles,
//! language-tagged calls: a single heap must pop and push back every call the freed
//! handler is not eligible for, e.g. all waiting 999 calls for a 101-only handler).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::time::{Duration, Instant};

use answerpoint::call::CallClass;
use answerpoint::queue::*;
use criterion::{criterion_group, criterion_main, Criterion};
use parking_lot::Mutex;

const QUEUED: u64 = 100_000;
const HANDLERS: u32 = 1_000;

/// `skilled`: four skill profiles, 250 handlers each; else every handler has every skill.
fn handler_skills(h: u32, skilled: bool) -> Skills {
    if !skilled {
        return Skills(0b111);
    }
    match h % 4 {
        0 => Skills(0b111),
        1 => Skills::EMERGENCY,
        2 => Skills::EMERGENCY | Skills::NON_EMERGENCY,
        _ => Skills::NON_EMERGENCY | Skills::ADMIN | Skills::language(0).unwrap_or_default(),
    }
}

/// Call mix: 30 % emergency, 50 % non-emergency (with `skilled`, a fifth of them
/// needing a language), 20 % admin.
fn call_of(n: u64, skilled: bool) -> (CallClass, Skills) {
    match n % 10 {
        0..=2 => (CallClass::Emergency, Skills::NONE),
        3 if skilled => (
            CallClass::NonEmergency,
            Skills::language(0).unwrap_or_default(),
        ),
        3..=7 => (CallClass::NonEmergency, Skills::NONE),
        _ => (CallClass::Admin, Skills::NONE),
    }
}

// === the router ===

struct Fixture {
    now: Instant,
    router: Router,
    busy: VecDeque<(HandlerId, CallId)>,
    next_call: u64,
    skilled: bool,
}

impl Fixture {
    fn new(skilled: bool) -> Fixture {
        let mut config = QueueConfig {
            wrap_up_s: PerClass::default(),
            ..QueueConfig::default()
        };
        config.non_emergency_limit.max_queued = usize::MAX;
        config.admin_limit.max_queued = usize::MAX;
        let now = Instant::now();
        let mut f = Fixture {
            now,
            router: Router::new(config).expect("valid config"),
            busy: VecDeque::new(),
            next_call: 0,
            skilled,
        };
        for h in 0..HANDLERS {
            let handler = HandlerId(h);
            f.ev(Event::HandlerAdded {
                handler,
                skills: handler_skills(h, skilled),
            });
            f.ev(Event::SetHandlerState {
                handler,
                state: RequestedState::Available,
            });
        }
        // Every handler takes a call, then 100,000 more wait.
        while f.router.queue_depth().emergency
            + f.router.queue_depth().non_emergency
            + f.router.queue_depth().admin
            < QUEUED as usize
        {
            f.arrive();
            f.answer_offers();
        }
        assert_eq!(f.busy.len(), HANDLERS as usize);
        f
    }

    fn ev(&mut self, e: Event) {
        self.router.handle(self.now, e).expect("valid event");
    }

    fn arrive(&mut self) {
        self.next_call += 1;
        self.now += Duration::from_micros(1);
        let (class, required_skills) = call_of(self.next_call, self.skilled);
        self.ev(Event::CallArrived(NewCall {
            call: CallId(self.next_call),
            class,
            caller: "+447700900123".to_string(),
            location: Some("51.5007,-0.1246 r=35m".to_string()),
            required_skills,
        }));
    }

    fn answer_offers(&mut self) {
        let mut offers = Vec::new();
        while let Some(a) = self.router.poll_action() {
            if let Action::Offer { call, handler } = a {
                offers.push((handler, call));
            }
        }
        for (handler, call) in offers {
            self.ev(Event::OfferAccepted { call, handler });
            while self.router.poll_action().is_some() {}
            self.busy.push_back((handler, call));
        }
    }

    fn hang_up(&mut self) {
        let (_, call) = self.busy.pop_front().expect("a busy handler");
        self.ev(Event::CallEnded { call });
    }
}

// === the naive baseline ===

#[derive(Clone, Copy, PartialEq)]
enum NaiveState {
    Available,
    Ringing,
    Busy,
}

struct NaiveHandler {
    skills: Skills,
    state: NaiveState,
    idle_since: Instant,
}

/// (class, arrival seq, required skills, caller, location)
type NaiveEntry = (CallClass, u64, Skills, String, Option<String>);

/// `Mutex<BinaryHeap>` of waiting calls keyed by (class, arrival seq) plus a linear scan
/// of the handler table for the longest-idle eligible handler.
struct Naive {
    now: Instant,
    queue: Mutex<BinaryHeap<Reverse<NaiveEntry>>>,
    handlers: Vec<NaiveHandler>,
    busy: VecDeque<usize>,
    next_call: u64,
    skilled: bool,
}

impl Naive {
    fn new(skilled: bool) -> Naive {
        let now = Instant::now();
        let mut n = Naive {
            now,
            queue: Mutex::new(BinaryHeap::new()),
            handlers: (0..HANDLERS)
                .map(|h| NaiveHandler {
                    skills: handler_skills(h, skilled),
                    state: NaiveState::Busy,
                    idle_since: now,
                })
                .collect(),
            busy: (0..HANDLERS as usize).collect(),
            next_call: 0,
            skilled,
        };
        for _ in 0..QUEUED {
            n.arrive();
        }
        n
    }

    /// Arrival: scan for a free eligible handler, else push on the heap.
    fn arrive(&mut self) -> Option<usize> {
        self.next_call += 1;
        self.now += Duration::from_micros(1);
        let (class, required) = call_of(self.next_call, self.skilled);
        let required = required | Skills::for_class(class);
        let mut queue = self.queue.lock();
        let free = self
            .handlers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.state == NaiveState::Available && h.skills.covers(required))
            .min_by_key(|(_, h)| h.idle_since)
            .map(|(i, _)| i);
        match free {
            Some(i) => {
                self.handlers[i].state = NaiveState::Ringing;
                Some(i)
            }
            None => {
                queue.push(Reverse((
                    class,
                    self.next_call,
                    required,
                    "+447700900123".to_string(),
                    Some("51.5007,-0.1246 r=35m".to_string()),
                )));
                None
            }
        }
    }

    /// A handler frees: pop calls until one it is eligible for, push the others back.
    fn free(&mut self, h: usize) -> Option<u64> {
        let mut queue = self.queue.lock();
        let skills = self.handlers[h].skills;
        let mut skipped = Vec::new();
        let mut found = None;
        while let Some(Reverse(entry)) = queue.pop() {
            if skills.covers(entry.2) {
                found = Some(entry.1);
                break;
            }
            skipped.push(Reverse(entry));
        }
        for s in skipped {
            queue.push(s);
        }
        self.handlers[h].state = if found.is_some() {
            NaiveState::Ringing
        } else {
            self.handlers[h].idle_since = self.now;
            NaiveState::Available
        };
        found
    }

    fn answer(&mut self, h: usize) {
        self.handlers[h].state = NaiveState::Busy;
        self.busy.push_back(h);
    }
}

// === benches ===

fn bench(c: &mut Criterion) {
    for (skilled, name) in [(false, "uniform"), (true, "skills")] {
        bench_mix(c, skilled, name);
    }
}

/// Median and p99 of single operations, each timed on its own (`Instant` overhead
/// included). Robust to preemption on a shared machine, unlike a sample mean.
fn per_op(mut samples: Vec<u64>) -> (u64, u64) {
    samples.sort_unstable();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

fn single_op_medians(skilled: bool, mix: &str) {
    const N: usize = 200_000;
    let mut f = Fixture::new(skilled);
    let (mut enq, mut disp) = (Vec::with_capacity(N), Vec::with_capacity(N));
    for _ in 0..N {
        let t = Instant::now();
        f.arrive();
        enq.push(t.elapsed().as_nanos() as u64);
        while f.router.poll_action().is_some() {}
        let t = Instant::now();
        f.hang_up();
        let offer = f.router.poll_action();
        disp.push(t.elapsed().as_nanos() as u64);
        black_box(offer);
        f.answer_offers();
    }
    drop(f);
    let mut n = Naive::new(skilled);
    // The skills-mix baseline takes milliseconds per hang-up: fewer samples.
    let n_naive = if skilled { 2_000 } else { N };
    let (mut nenq, mut ndisp) = (Vec::with_capacity(N), Vec::with_capacity(N));
    for _ in 0..n_naive {
        let t = Instant::now();
        black_box(n.arrive());
        nenq.push(t.elapsed().as_nanos() as u64);
        let h = n.busy.pop_front().expect("busy");
        let t = Instant::now();
        black_box(n.free(h));
        ndisp.push(t.elapsed().as_nanos() as u64);
        n.answer(h);
    }
    for (op, r, b) in [
        ("enqueue", enq, nenq),
        ("state_change_dispatch", disp, ndisp),
    ] {
        let (rm, r99) = per_op(r);
        let (bm, b99) = per_op(b);
        println!(
            "single-op {mix}/{op}: router median {rm} ns p99 {r99} ns | naive median {bm} ns p99 {b99} ns | naive/router median ratio {:.1}",
            bm as f64 / rm.max(1) as f64
        );
    }
}

fn bench_mix(c: &mut Criterion, skilled: bool, mix: &str) {
    // QUEUE_BENCH_NO_SINGLE=1 skips the single-op pass (e.g. for profiling).
    if std::env::var_os("QUEUE_BENCH_NO_SINGLE").is_none() {
        single_op_medians(skilled, mix);
    }
    let mut g = c.benchmark_group(format!("queue_routing/{mix}"));

    let mut f = Fixture::new(skilled);
    g.bench_function("router/enqueue", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                f.arrive();
                total += t.elapsed();
                while f.router.poll_action().is_some() {}
                f.hang_up();
                f.answer_offers();
            }
            total
        })
    });
    g.bench_function("router/state_change_dispatch", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                f.hang_up();
                let offer = f.router.poll_action();
                total += t.elapsed();
                black_box(offer);
                f.answer_offers();
                f.arrive();
                while f.router.poll_action().is_some() {}
            }
            total
        })
    });
    g.bench_function("router/cycle", |b| {
        b.iter(|| {
            f.arrive();
            f.hang_up();
            f.answer_offers();
        })
    });
    // With skill profiles some handlers can run out of eligible calls and idle; then an
    // arrival they can take is offered at once (still one routing decision).
    assert!(!f.busy.is_empty());
    drop(f);

    let mut n = Naive::new(skilled);
    g.bench_function("naive/enqueue", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                black_box(n.arrive());
                total += t.elapsed();
                let h = n.busy.pop_front().expect("busy");
                n.free(h);
                n.answer(h);
            }
            total
        })
    });
    g.bench_function("naive/state_change_dispatch", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let h = n.busy.pop_front().expect("busy");
                let t = Instant::now();
                black_box(n.free(h));
                total += t.elapsed();
                n.answer(h);
                n.arrive();
            }
            total
        })
    });
    g.bench_function("naive/cycle", |b| {
        b.iter(|| {
            n.arrive();
            let h = n.busy.pop_front().expect("busy");
            n.free(h);
            n.answer(h);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
