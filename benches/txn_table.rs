//! Transaction-layer costs with 100,000 calls queued (docs/DESIGN.md §7 "scale"): each queued
//! call holds an INVITE server transaction.
//!
//! - `next_deadline`: the table's timer heap vs scanning every transaction's
//!   `poll_timeout()` (the naive alternative), 100,000 transactions with a timer each.
//! - `lifecycle`: one complete INVITE server transaction over TCP (INVITE, 100, 180, 486,
//!   ACK, removal) in a table that already holds 100,000 queued calls vs an empty table.
//!
//! Run: `cargo bench --bench txn_table -- --measurement-time 3`

use std::hint::black_box;
use std::time::Instant;

use answerpoint::sip::transaction::{
    InviteServer, Reliability, RequestMatch, ServerKey, ServerTransaction, TimerConfig,
    TransactionTable, Trying,
};
use criterion::{criterion_group, criterion_main, Criterion};

const QUEUED: usize = 100_000;

fn queued_table(t0: Instant, n: usize) -> (TransactionTable<u16>, Vec<InviteServer<u16>>) {
    let cfg = TimerConfig::default();
    let mut table = TransactionTable::new(n + 10);
    let mut plain = Vec::with_capacity(n);
    for i in 0..n {
        let key = ServerKey::new(&format!("z9hG4bK-q{i}"), "192.0.2.1:5060", "INVITE").unwrap();
        let tx = InviteServer::new(t0, Reliability::Unreliable, cfg, Trying::Delayed(100));
        plain.push(tx.clone());
        table
            .insert_server(key, ServerTransaction::Invite(tx))
            .unwrap();
    }
    (table, plain)
}

fn next_deadline(c: &mut Criterion) {
    let t0 = Instant::now();
    let (table, plain) = queued_table(t0, QUEUED);
    let mut g = c.benchmark_group("txn_table/next_deadline_100k");
    g.bench_function("heap", |b| b.iter(|| black_box(&table).poll_timeout()));
    g.bench_function("scan", |b| {
        b.iter(|| {
            black_box(&plain)
                .iter()
                .filter_map(InviteServer::poll_timeout)
                .min()
        })
    });
    g.finish();
}

fn lifecycle(c: &mut Criterion) {
    let t0 = Instant::now();
    let cfg = TimerConfig::default();
    let mut g = c.benchmark_group("txn_table/lifecycle");
    for (name, n) in [("table_100k_queued", QUEUED), ("table_empty", 0)] {
        let (mut table, _) = queued_table(t0, n);
        let mut i = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let branch = format!("z9hG4bK-b{i}");
                let key = ServerKey::new(&branch, "198.51.100.7:5060", "INVITE").unwrap();
                assert_eq!(
                    table.handle_request(t0, &key, "INVITE", 0),
                    RequestMatch::New
                );
                let tx = InviteServer::new(t0, Reliability::Reliable, cfg, Trying::Immediate(100));
                table
                    .insert_server(key.clone(), ServerTransaction::Invite(tx))
                    .unwrap();
                table.send_response(t0, &key, 180, 180).unwrap();
                table.send_response(t0, &key, 486, 486).unwrap();
                let ack = ServerKey::new(&branch, "198.51.100.7:5060", "ACK").unwrap();
                table.handle_request(t0, &ack, "ACK", 0);
                while let Some(m) = table.poll_transmit() {
                    black_box(m);
                }
                while let Some(e) = table.poll_event() {
                    black_box(e);
                }
            })
        });
        assert_eq!(table.len(), n, "every benched transaction was removed");
    }
    g.finish();
}

criterion_group!(benches, next_deadline, lifecycle);
criterion_main!(benches);
