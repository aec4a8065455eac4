//! Defects found by the fresh-user test, in virtual time: the 2xx to a relayed re-INVITE is
//! retransmitted until its ACK (RFC 3261 §13.3.1.4); a full transaction table sheds
//! non-emergency INVITEs first and never busies a 999; a failed overflow partner sends the
//! call back to the queue at its original place instead of failing it.

mod engine_support;

use std::time::Duration;

use answerpoint::engine::CallState;
use answerpoint::queue::RequestedState;
use engine_support::*;

#[test]
fn reinvite_2xx_is_retransmitted_until_the_ack() {
    let mut net = Net::new(&config(""));
    net.send(CARRIER, &invite_999("ri2@c", "z9hG4bKri2x"));
    let inv = net.request(SEAT1, "INVITE").msg;
    net.send_msg(
        SEAT1,
        &handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080"),
    );
    let cok = net.response(CARRIER, 200);
    net.send(CARRIER, &ack_for(&cok.msg, "z9hG4bKri2ack"));
    let reinv = carrier_reinvite_with_sdp(&cok.msg, 2, "z9hG4bKri2re");
    net.send(CARRIER, &reinv);
    let fwd = net.request(SEAT1, "INVITE").msg;
    net.send_msg(
        SEAT1,
        &handler_response(&fwd, 200, "OK", "h1", "sip:h@127.0.0.1:5080"),
    );
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.msg.cseq().unwrap().seq, 2);
    // No ACK from the carrier: the same 2xx again at T1 (500 ms), then 2·T1.
    net.advance(Duration::from_millis(499));
    assert!(net.take(CARRIER, |s| s.status() == Some(200)).is_empty());
    net.advance(Duration::from_millis(2));
    let again = net.response(CARRIER, 200);
    assert_eq!(again.msg.cseq().unwrap().seq, 2);
    assert_eq!(again.msg.to_bytes(), ok.msg.to_bytes());
    net.advance(Duration::from_millis(1_000));
    let _ = net.response(CARRIER, 200);
    // The ACK (CSeq 2) stops it.
    let ack = carrier_in_dialog(&ok.msg, "ACK", 2, "z9hG4bKri2ack2");
    net.send(CARRIER, &ack);
    net.advance(Duration::from_secs(40));
    assert!(net.take(CARRIER, |s| s.status() == Some(200)).is_empty());
    assert_eq!(net.snapshot().calls[0].state, CallState::Connected);
}

#[test]
fn full_transaction_table_sheds_101_first_and_never_busies_a_999() {
    let mut net = Net::new(&config(
        "[limits]\nmax_transactions = 1000\n[queue.non_emergency_limit]\nmax_queued = 5000\noutcome = \"reject\"\n",
    ));
    net.set_state("seat1", RequestedState::LoggedOut);
    net.set_state("seat2", RequestedState::LoggedOut);
    let mut busied = 0;
    for i in 0..1000 {
        net.send(
            CARRIER,
            &invite_101(&format!("ne{i}@c"), &format!("z9hG4bKne{i}")),
        );
        busied += net.take(CARRIER, |s| s.status() == Some(503)).len();
        net.pending.clear();
    }
    // The last tenth of the table is kept: 101s beyond 900 live transactions get 503.
    assert_eq!(busied, 100);
    for i in 0..50 {
        net.send(
            CARRIER,
            &invite_999(&format!("e{i}@c"), &format!("z9hG4bKe{i}")),
        );
        assert!(net.take(CARRIER, |s| s.status() == Some(503)).is_empty());
        let _ = net.response(CARRIER, 100);
        net.pending.clear();
    }
    let waiting = net.snapshot().queue.waiting.len();
    assert_eq!(waiting, 950);
}

#[test]
fn failed_overflow_partner_requeues_the_999_instead_of_failing_it() {
    let (mut net, inv) = overflowing_999("ovf@c", "z9hG4bKovf");
    net.send_msg(
        PARTNER,
        &handler_response(&inv, 503, "Service Unavailable", "p1", ""),
    );
    // Not failed towards the carrier: no 480, the call waits again.
    assert!(net
        .take(CARRIER, |s| s.status().is_some_and(|c| c >= 300))
        .is_empty());
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].state, CallState::Queued);
    assert_eq!(snap.queue.waiting.len(), 1);
    // Never sent to the partner again, even though nobody is logged in.
    net.advance(Duration::from_secs(90));
    assert!(net
        .take(PARTNER, |s| s.method().as_deref() == Some("INVITE"))
        .is_empty());
    // A handler logs in and answers it.
    net.set_state("seat1", RequestedState::Available);
    let inv = net.request(SEAT1, "INVITE").msg;
    net.send_msg(
        SEAT1,
        &handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080"),
    );
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.msg.call_id(), Some("ovf@c"));
    let call = &net.snapshot().calls[0];
    assert_eq!(call.state, CallState::Connected);
    assert_eq!(call.arrived_ms, 0);
}
