//! Graceful shutdown in virtual time (issue 6, `src/engine/shutdown.rs`): queued calls may
//! still be answered during the grace period, new non-emergency calls get 503 +
//! Retry-After at once, and at the end every remaining call gets 503 + Retry-After (RFC
//! 3261 §21.5.4), its ringing offer is cancelled and it lands on the callback list with its
//! number; the 503 is retransmitted until the carrier's ACK (§17.2.1).

mod engine_support;

use std::time::Duration;

use answerpoint::engine::{
    CallEventKind, CallState, EndReason, EngineEvent, SHUTDOWN_RETRY_AFTER_S,
};
use answerpoint::queue::RequestedState;
use engine_support::*;

fn abandoned_events(net: &Net) -> Vec<u64> {
    net.events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Call(c) if c.kind == CallEventKind::Abandoned => Some(c.call),
            _ => None,
        })
        .collect()
}

#[test]
fn grace_period_answers_what_it_can_then_503s_the_rest_onto_the_callback_list() {
    let mut net = Net::new(&config(""));
    net.set_state("seat1", RequestedState::LoggedOut);
    net.set_state("seat2", RequestedState::LoggedOut);
    net.send(CARRIER, &invite_999("e1@c", "z9hG4bKe1"));
    net.send(CARRIER, &invite_101("n1@c", "z9hG4bKn1"));
    net.send(CARRIER, &invite_999("e2@c", "z9hG4bKe2"));
    net.take(CARRIER, |_| true);
    assert_eq!(net.engine.shutdown_unanswered(), 3);

    let mut sd = net.engine.begin_shutdown(net.now, Duration::from_secs(10));
    assert_eq!(sd.deadline - sd.began, Duration::from_secs(10));
    assert!(!sd.is_finished());

    // A new 101 during the grace period: 503 + Retry-After at once, not a callback item.
    net.send(CARRIER, &invite_101("n2@c", "z9hG4bKn2"));
    let refused = net.engine.shutdown_refuse_new(net.now, &mut sd);
    net.advance(Duration::ZERO);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].carrier_call_id, "n2@c");
    assert!(!refused[0].on_callback_list);
    let r = net.response(CARRIER, 503);
    assert_eq!(r.msg.call_id(), Some("n2@c"));
    assert_eq!(
        r.header("Retry-After"),
        Some(SHUTDOWN_RETRY_AFTER_S.to_string().as_str())
    );
    // Its 100 Trying went out before the refusal, but no 180: no ringback for a call
    // that is about to be refused.
    let n2 = net.take(CARRIER, |s| s.msg.call_id() == Some("n2@c"));
    assert_eq!(
        n2.iter().map(|s| s.status()).collect::<Vec<_>>(),
        vec![Some(100)]
    );
    // A new 999 during the grace period is still queued.
    net.send(CARRIER, &invite_999("e3@c", "z9hG4bKe3"));
    assert!(net.engine.shutdown_refuse_new(net.now, &mut sd).is_empty());
    net.advance(Duration::ZERO);
    assert_eq!(net.response(CARRIER, 180).msg.call_id(), Some("e3@c"));
    assert_eq!(net.engine.shutdown_unanswered(), 4);

    // A handler logs in and answers the oldest 999 during the grace period.
    net.set_state("seat1", RequestedState::Available);
    let inv = net.request(SEAT1, "INVITE").msg;
    assert!(inv.call_id().is_some());
    let ok = handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080");
    net.send_msg(SEAT1, &ok);
    let ok_to_carrier = net.response(CARRIER, 200);
    assert_eq!(ok_to_carrier.msg.call_id(), Some("e1@c"));
    assert_eq!(net.engine.shutdown_unanswered(), 3);

    // The second handler logs in; the next 999 rings there but is not answered in time.
    net.set_state("seat2", RequestedState::Available);
    let ringing = net.request(SEAT2, "INVITE").msg;
    net.send_msg(SEAT2, &handler_response(&ringing, 180, "Ringing", "h2", ""));
    net.advance(Duration::from_secs(10));
    assert!(net.now >= sd.deadline);

    let done = net.engine.finish_shutdown(net.now, &mut sd);
    net.advance(Duration::ZERO);
    assert!(sd.is_finished());
    let ids: Vec<&str> = done.iter().map(|d| d.carrier_call_id.as_str()).collect();
    assert_eq!(ids, ["n1@c", "e2@c", "e3@c"]);
    assert!(done.iter().all(|d| d.status == 503 && d.on_callback_list));
    assert!(done.iter().all(|d| d.caller == "+441632960001"));
    assert_eq!(done[0].waited_ms, 10_000);
    assert_eq!(net.engine.shutdown_unanswered(), 0);

    // Each got exactly one 503 with Retry-After; the ringing seat got a CANCEL.
    // (n2's 503 is being retransmitted: it was never ACKed in this test.)
    net.take(CARRIER, |s| s.msg.call_id() == Some("n2@c"));
    let finals = net.take(CARRIER, |s| s.status() == Some(503));
    let mut got: Vec<&str> = finals.iter().map(|s| s.msg.call_id().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, ["e2@c", "e3@c", "n1@c"]);
    assert!(finals.iter().all(|s| s.header("Retry-After").is_some()));
    let cancel = net.request(SEAT2, "CANCEL");
    assert_eq!(cancel.msg.call_id(), ringing.call_id());

    // On the callback list, journaled through Abandoned events; the answered call is not.
    let snap = net.snapshot();
    let mut cb: Vec<u64> = snap.queue.callbacks.iter().map(|c| c.call.0).collect();
    cb.sort_unstable();
    let mut abandoned = abandoned_events(&net);
    abandoned.sort_unstable();
    let mut expected: Vec<u64> = done.iter().map(|d| d.call).collect();
    expected.sort_unstable();
    assert_eq!(cb, expected);
    assert_eq!(abandoned, expected);
    for d in &done {
        let v = snap.calls.iter().find(|c| c.id == d.call).unwrap();
        assert_eq!(v.state, CallState::Ended);
        assert_eq!(v.end_reason, Some(EndReason::Rejected(503)));
    }
    let answered = snap
        .calls
        .iter()
        .find(|c| &*c.carrier_call_id == "e1@c")
        .unwrap();
    assert_eq!(answered.state, CallState::Connected);

    // The 503s are retransmitted (Timer G) until the carrier ACKs them.
    assert_eq!(net.engine.shutdown_awaiting_ack(&sd), 4);
    net.advance(Duration::from_millis(600));
    let again = net.take(CARRIER, |s| {
        s.status() == Some(503) && s.msg.call_id() != Some("n2@c")
    });
    assert_eq!(again.len(), 3);
    for s in &finals {
        let branch = match s.msg.call_id().unwrap() {
            "e2@c" => "z9hG4bKe2",
            "e3@c" => "z9hG4bKe3",
            _ => "z9hG4bKn1",
        };
        net.send(CARRIER, &ack_for(&s.msg, branch));
    }
    assert_eq!(net.engine.shutdown_awaiting_ack(&sd), 1, "n2 not ACKed yet");
    // Finishing twice changes nothing.
    assert!(net.engine.finish_shutdown(net.now, &mut sd).is_empty());
}

#[test]
fn nothing_waiting_means_nothing_to_answer() {
    let mut net = Net::new(&config(""));
    let mut sd = net.engine.begin_shutdown(net.now, Duration::from_secs(10));
    assert_eq!(net.engine.shutdown_unanswered(), 0);
    assert!(net.engine.finish_shutdown(net.now, &mut sd).is_empty());
    net.advance(Duration::ZERO);
    assert!(net.take(CARRIER, |_| true).is_empty());
    assert!(net.events.iter().any(
        |e| matches!(e, EngineEvent::Notice { text } if text.starts_with("shutdown: 0 call(s)"))
    ));
}

#[test]
fn shutdown_cancels_a_999_ringing_at_the_overflow_partner() {
    // The carrier takes the 503 as "send it to the fallback PSAP": the leg still ringing
    // at the overflow partner must be CANCELled, or two control rooms ring for one caller.
    let (mut net, inv) = overflowing_999("ovs@c", "z9hG4bKovs");
    net.send_msg(
        PARTNER,
        &handler_response(&inv, 180, "Ringing", "p1", "sip:partner@127.0.0.1:5099"),
    );
    let mut sd = net.engine.begin_shutdown(net.now, Duration::ZERO);
    let done = net.engine.finish_shutdown(net.now, &mut sd);
    assert_eq!(done.len(), 1);
    net.advance(Duration::ZERO);
    let final_resp = net.response(CARRIER, 503);
    assert_eq!(
        final_resp.header("Retry-After"),
        Some(SHUTDOWN_RETRY_AFTER_S.to_string().as_str())
    );
    let cancel = net.request(PARTNER, "CANCEL").msg;
    assert_eq!(cancel.call_id(), inv.call_id());
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        inv.top_via().unwrap().branch()
    );
    // The partner's 487 for its INVITE completes the leg: no further CANCEL.
    net.send_msg(PARTNER, &plain_response(&cancel, 200, "OK"));
    net.send_msg(PARTNER, &plain_response(&inv, 487, "Request Terminated"));
    net.advance(Duration::from_secs(40));
    assert!(net
        .take(PARTNER, |s| s.method().as_deref() == Some("CANCEL"))
        .is_empty());
}
