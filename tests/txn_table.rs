//! The transaction table in virtual time: routing by key (RFC 3261 §17.1.3, §17.2.3), CANCEL
//! (§9.2), one timer heap for many transactions, removal on Terminated, the size cap.

use std::time::{Duration, Instant};

use answerpoint::sip::transaction::{
    ClientEvent, ClientKey, ClientTransaction, InviteClient, InviteServer, InviteServerState,
    NonInviteClient, NonInviteServer, Reliability, RequestMatch, ServerEvent, ServerKey,
    ServerTransaction, TableError, TimerConfig, TransactionTable, Trying, TxEvent, TxKey,
};

const UDP: Reliability = Reliability::Unreliable;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn sent(t: &mut TransactionTable<String>) -> Vec<String> {
    std::iter::from_fn(|| t.poll_transmit())
        .map(|(_, m)| m)
        .collect()
}

fn events(t: &mut TransactionTable<String>) -> Vec<(TxKey, TxEvent<String>)> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

/// Runs the table's timers up to `t0 + until`.
fn run(t: &mut TransactionTable<String>, t0: Instant, until: Duration) {
    while let Some(at) = t.poll_timeout() {
        if at > t0 + until {
            break;
        }
        t.handle_timeout(at);
    }
}

#[test]
fn queued_999_call_cancelled_by_caller() {
    let t0 = Instant::now();
    let cfg = TimerConfig::default();
    let mut table = TransactionTable::new(1_000);
    let inv = ServerKey::new("z9hG4bK-999", "192.0.2.1:5060", "INVITE").unwrap();

    assert_eq!(
        table.handle_request(t0, &inv, "INVITE", "INVITE".into()),
        RequestMatch::New
    );
    let tx = InviteServer::new(t0, UDP, cfg, Trying::Immediate("100".to_owned()));
    table
        .insert_server(inv.clone(), ServerTransaction::Invite(tx))
        .unwrap();
    assert_eq!(
        table.insert_server(
            inv.clone(),
            ServerTransaction::Invite(InviteServer::new(t0, UDP, cfg, Trying::ByTu))
        ),
        Err(TableError::Exists)
    );
    table.send_response(t0, &inv, 180, "180".into()).unwrap();
    assert_eq!(sent(&mut table), vec!["100", "180"]);

    // The carrier retransmits the INVITE: absorbed, the 180 re-sent, no new call.
    assert_eq!(
        table.handle_request(t0 + ms(500), &inv, "INVITE", "INVITE".into()),
        RequestMatch::Absorbed
    );
    assert_eq!(sent(&mut table), vec!["180"]);
    assert_eq!(table.len(), 1);

    // The caller hangs up: CANCEL, its own transaction, targeting the INVITE.
    let cancel = ServerKey::new("z9hG4bK-999", "192.0.2.1:5060", "CANCEL").unwrap();
    assert_eq!(
        table.handle_request(t0 + ms(9_000), &cancel, "CANCEL", "CANCEL".into()),
        RequestMatch::New
    );
    assert!(table.is_cancellable(&cancel));
    table
        .insert_server(
            cancel.clone(),
            ServerTransaction::NonInvite(NonInviteServer::new(t0 + ms(9_000), UDP, cfg)),
        )
        .unwrap();
    table
        .send_response(t0 + ms(9_000), &cancel, 200, "200/CANCEL".into())
        .unwrap();
    table
        .send_response(t0 + ms(9_000), &inv, 487, "487".into())
        .unwrap();
    assert!(!table.is_cancellable(&cancel));
    assert_eq!(sent(&mut table), vec!["200/CANCEL", "487"]);

    // The ACK for the 487 (same branch, method ACK) reaches the INVITE transaction.
    let ack = ServerKey::new("z9hG4bK-999", "192.0.2.1:5060", "ACK").unwrap();
    assert_eq!(
        table.handle_request(t0 + ms(9_040), &ack, "ACK", "ACK".into()),
        RequestMatch::Absorbed
    );
    match table.server(&inv) {
        Some(ServerTransaction::Invite(s)) => assert_eq!(s.state(), InviteServerState::Confirmed),
        other => panic!("{other:?}"),
    }
    assert!(sent(&mut table).is_empty());
    assert!(events(&mut table).is_empty());

    run(&mut table, t0, ms(200_000));
    let evs = events(&mut table);
    assert_eq!(
        evs,
        vec![
            (
                TxKey::Server(inv.clone()),
                TxEvent::Server(ServerEvent::Terminated)
            ), // Timer I
            (
                TxKey::Server(cancel.clone()),
                TxEvent::Server(ServerEvent::Terminated)
            ) // Timer J
        ]
    );
    assert!(table.is_empty());
    assert_eq!(table.poll_timeout(), None);
    assert_eq!(
        table.send_response(t0 + ms(200_000), &inv, 200, "200".into()),
        Err(TableError::NotFound)
    );
}

#[test]
fn responses_route_by_branch_and_cseq_method() {
    let t0 = Instant::now();
    let cfg = TimerConfig::default();
    let mut table = TransactionTable::new(10);
    let inv = ClientKey::new("z9hG4bK-out1", "INVITE").unwrap();
    let can = ClientKey::new("z9hG4bK-out1", "CANCEL").unwrap();
    table
        .insert_client(
            inv.clone(),
            ClientTransaction::Invite(InviteClient::new(t0, "INVITE".into(), UDP, cfg)),
        )
        .unwrap();
    table
        .insert_client(
            can.clone(),
            ClientTransaction::NonInvite(NonInviteClient::new(t0, "CANCEL".into(), UDP, cfg)),
        )
        .unwrap();
    assert_eq!(sent(&mut table), vec!["INVITE", "CANCEL"]);
    assert!(table
        .handle_response(
            t0 + ms(50),
            &can,
            200,
            "200/CANCEL".into(),
            || unreachable!()
        )
        .unwrap());
    assert!(table
        .handle_response(t0 + ms(60), &inv, 487, "487".into(), || "ACK".into())
        .unwrap());
    assert_eq!(sent(&mut table), vec!["ACK"]);
    let evs = events(&mut table);
    assert_eq!(
        evs,
        vec![
            (
                TxKey::Client(can.clone()),
                TxEvent::Client(ClientEvent::Response {
                    status: 200,
                    response: "200/CANCEL".into()
                })
            ),
            (
                TxKey::Client(inv.clone()),
                TxEvent::Client(ClientEvent::Response {
                    status: 487,
                    response: "487".into()
                })
            ),
        ]
    );
    // A response for no transaction is stray.
    let other = ClientKey::new("z9hG4bK-none", "INVITE").unwrap();
    assert!(!table
        .handle_response(t0, &other, 200, "200".into(), || unreachable!())
        .unwrap());
    assert!(matches!(
        table.handle_response(t0, &inv, 42, "x".into(), || unreachable!()),
        Err(TableError::Transaction(_))
    ));
    run(&mut table, t0, ms(100_000));
    assert!(table.is_empty());
}

#[test]
fn one_heap_runs_many_transactions_in_time_order() {
    let t0 = Instant::now();
    let cfg = TimerConfig::default();
    let n = 1_000u64;
    let mut table = TransactionTable::new(10_000);
    for i in 0..n {
        let key = ClientKey::new(&format!("z9hG4bK-{i}"), "OPTIONS").unwrap();
        let start = t0 + ms(i); // staggered by 1 ms
        table
            .insert_client(
                key,
                ClientTransaction::NonInvite(NonInviteClient::new(start, format!("{i}"), UDP, cfg)),
            )
            .unwrap();
    }
    assert_eq!(table.len() as u64, n);
    assert_eq!(sent(&mut table).len() as u64, n, "first transmissions");
    let mut sends = 0u64;
    let mut last = t0;
    while let Some(at) = table.poll_timeout() {
        assert!(at >= last, "timers fire in order");
        last = at;
        table.handle_timeout(at);
        sends += sent(&mut table).len() as u64;
    }
    // 10 retransmissions each (Timer E, capped at T2) before Timer F.
    assert_eq!(sends, n * 10);
    let evs = events(&mut table);
    let timeouts = evs
        .iter()
        .filter(|(_, e)| *e == TxEvent::Client(ClientEvent::Timeout))
        .count();
    assert_eq!(timeouts as u64, n);
    assert!(table.is_empty());
    assert_eq!(last, t0 + ms(32_000 + n - 1));
}

#[test]
fn size_cap_is_enforced() {
    let t0 = Instant::now();
    let cfg = TimerConfig::default();
    let mut table = TransactionTable::<String>::new(2);
    for i in 0..2 {
        let k = ServerKey::new(&format!("z9hG4bK{i}"), "h", "OPTIONS").unwrap();
        table
            .insert_server(
                k,
                ServerTransaction::NonInvite(NonInviteServer::new(t0, UDP, cfg)),
            )
            .unwrap();
    }
    let k = ServerKey::new("z9hG4bK3", "h", "OPTIONS").unwrap();
    assert_eq!(
        table.insert_server(
            k.clone(),
            ServerTransaction::NonInvite(NonInviteServer::new(t0, UDP, cfg))
        ),
        Err(TableError::Full(2))
    );
    // Over TCP a final response terminates the transaction at once and frees the slot.
    let k0 = ServerKey::new("z9hG4bK0", "h", "OPTIONS").unwrap();
    table.send_response(t0, &k0, 200, "200".into()).unwrap();
    assert_eq!(table.len(), 2, "UDP: waits for Timer J");
    run(&mut table, t0, ms(32_000));
    assert_eq!(table.len(), 1);
    table
        .insert_server(
            k,
            ServerTransaction::NonInvite(NonInviteServer::new(t0, Reliability::Reliable, cfg)),
        )
        .unwrap();
    let k3 = ServerKey::new("z9hG4bK3", "h", "OPTIONS").unwrap();
    table.send_response(t0, &k3, 200, "200".into()).unwrap();
    assert_eq!(table.len(), 1);
}

#[test]
fn cancel_with_a_fresh_branch_found_by_alias() {
    let t0 = Instant::now();
    let cfg = TimerConfig::default();
    let mut table = TransactionTable::new(10);
    let inv = ServerKey::new("z9hG4bK24e14040b017", "10.244.139.184:5060", "INVITE").unwrap();
    table
        .insert_server(
            inv.clone(),
            ServerTransaction::Invite(InviteServer::new(
                t0,
                UDP,
                cfg,
                Trying::Immediate("100".to_owned()),
            )),
        )
        .unwrap();
    let alias =
        "4cfec4f1487431530e5933f1e7820485|0302e02c30690d19a70e020cde276590|1|urn:service:sos";
    assert!(table.set_alias(&inv, alias));
    // The CANCEL of carrier trace 16: same hop, different branch.
    let cancel = ServerKey::new("z9hG4bK8379230904f4", "10.244.139.184:5060", "CANCEL").unwrap();
    assert!(!table.is_cancellable(&cancel), "strict §9.2 matching fails");
    let target = table.server_by_alias(alias).cloned().unwrap();
    assert_eq!(target, inv);
    table
        .send_response(t0 + ms(5_000), &target, 487, "487".into())
        .unwrap();
    // Another transaction cannot take the alias while the first is live.
    let other = ServerKey::new("z9hG4bK-other", "10.244.139.184:5060", "INVITE").unwrap();
    table
        .insert_server(
            other.clone(),
            ServerTransaction::Invite(InviteServer::new(t0, UDP, cfg, Trying::ByTu)),
        )
        .unwrap();
    assert!(!table.set_alias(&other, alias));
    assert!(!table.set_alias(&ServerKey::new("z9hG4bK-none", "h", "INVITE").unwrap(), "x"));
    // Timer H (no ACK) ends the INVITE transaction; its alias goes with it.
    run(&mut table, t0, ms(40_000));
    assert_eq!(table.server_by_alias(alias), None);
    assert!(table.set_alias(&other, alias));
    assert_eq!(table.server_by_alias(alias), Some(&other));
}
