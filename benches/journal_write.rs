//! Journal write cost: 1,000 call-record upserts handed to the writer and committed, with
//! `synchronous = FULL` (fsync per commit, the default) against `NORMAL`, and the cost of
//! `Journal::record` alone (the call path: one `try_send`) against a bare crossbeam
//! `try_send` of the same record (only the `record` calls timed; the writer catches up
//! between batches, untimed). Run:
//! `cargo bench --bench journal_write -- --measurement-time 3`

use std::path::PathBuf;
use std::time::Duration;

use answerpoint::call::CallClass;
use answerpoint::store::{CallRecord, Journal, JournalConfig, JournalRecord, JournalState};
use criterion::{criterion_group, criterion_main, Criterion};

fn record(id: u64) -> CallRecord {
    CallRecord {
        call_id: id,
        class: Some(CallClass::Emergency),
        reason: "request-uri 999".into(),
        caller: "+441632960001".into(),
        callback_number: Some("+441632960001".into()),
        location_json: Some(r#"{"lat":51.5,"lon":-0.12,"radius_m":15.0}"#.into()),
        state: JournalState::Queued,
        handler: None,
        outcome: None,
        carrier_call_id: format!("{id}@carrier.example"),
        offers: 0,
        arrived_unix_ms: 1_700_000_000_000,
        queued_unix_ms: Some(1_700_000_000_001),
        offered_unix_ms: None,
        answered_unix_ms: None,
        ended_unix_ms: None,
    }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("answerpoint-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal_1000_upserts_committed");
    g.sample_size(10);
    for (name, full) in [("synchronous_full", true), ("synchronous_normal", false)] {
        let cfg = JournalConfig {
            synchronous_full: full,
            ..JournalConfig::new(dir(name))
        };
        let (mut j, _) = Journal::open(&cfg, 0).unwrap();
        let mut next = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..1000 {
                    next += 1;
                    while j.record(JournalRecord::Call(record(next))).is_err() {
                        j.flush(Duration::from_secs(10));
                    }
                }
                assert!(j.flush(Duration::from_secs(30)));
            })
        });
        j.shutdown();
        let _ = std::fs::remove_dir_all(&cfg.dir);
    }
    g.finish();

    let mut g = c.benchmark_group("call_path_record");
    let cfg = JournalConfig::new(dir("callpath"));
    let (mut j, _) = Journal::open(&cfg, 0).unwrap();
    let mut next = 0u64;
    // Only the `record` calls are timed; the writer catches up (flush) outside the
    // timing, so the channel never fills and no back-pressure is measured.
    g.bench_function("journal_record", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(1_000);
                left -= n;
                let batch: Vec<CallRecord> = (0..n)
                    .map(|_| {
                        next += 1;
                        record(next)
                    })
                    .collect();
                let t = std::time::Instant::now();
                for r in batch {
                    let _ = j.record(JournalRecord::Call(r));
                }
                total += t.elapsed();
                assert!(j.flush(Duration::from_secs(30)));
            }
            total
        })
    });
    let (tx, rx) = crossbeam_channel::bounded::<JournalRecord>(16_384);
    // Same timing loop as above; the channel is drained between batches, untimed.
    g.bench_function("bare_crossbeam_try_send", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(1_000);
                left -= n;
                let batch: Vec<CallRecord> = (0..n)
                    .map(|_| {
                        next += 1;
                        record(next)
                    })
                    .collect();
                let t = std::time::Instant::now();
                for r in batch {
                    let _ = tx.try_send(JournalRecord::Call(r));
                }
                total += t.elapsed();
                while rx.try_recv().is_ok() {}
            }
            total
        })
    });
    g.finish();
    j.shutdown();
    let _ = std::fs::remove_dir_all(&cfg.dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
