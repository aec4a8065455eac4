//! B2BUA call flows in virtual time (issue 5): queueing with keepalive provisionals,
//! answer, hangups from either side, abandon, reject, ring-no-answer, priority, INVITE
//! retransmission, lost 200 OK, carrier allow-list.

mod engine_support;

use std::time::Duration;

use answerpoint::engine::{CallEventKind, CallState, Command, EndReason, EngineEvent};
use answerpoint::queue::RequestedState;
use engine_support::*;

fn log_out(net: &mut Net, seat: &str) {
    net.engine
        .handle_command(
            net.now,
            Command::SetHandlerState {
                handler: seat.into(),
                state: RequestedState::LoggedOut,
            },
        )
        .unwrap();
}

fn log_in(net: &mut Net, seat: &str) {
    let now = net.now;
    net.engine
        .handle_command(
            now,
            Command::SetHandlerState {
                handler: seat.into(),
                state: RequestedState::Available,
            },
        )
        .unwrap();
    // Commands may produce transmits (an offer): collect them.
    net.advance(Duration::ZERO);
}

/// Answers the pending INVITE at `seat` with 200 and returns (invite, ok).
fn seat_answers(
    net: &mut Net,
    seat: &str,
    tag: &str,
) -> (answerpoint::sip::Message, answerpoint::sip::Message) {
    let inv = net.request(seat, "INVITE").msg;
    let ringing = handler_response(&inv, 180, "Ringing", tag, "");
    net.send_msg(seat, &ringing);
    let ok = handler_response(&inv, 200, "OK", tag, &format!("sip:h@{seat}"));
    net.send_msg(seat, &ok);
    (inv, ok)
}

#[test]
fn call_waiting_four_minutes_gets_provisionals_then_answered_and_caller_hangs_up() {
    let mut net = Net::new(&config(""));
    log_out(&mut net, "seat1");
    log_out(&mut net, "seat2");
    net.send(CARRIER, &invite_999("wait4@c", "z9hG4bKw4"));
    let trying = net.response(CARRIER, 100);
    assert_eq!(trying.msg.call_id(), Some("wait4@c"));
    // §18.2.2 / RFC 3581: received and rport filled in on the top Via.
    let via = trying.msg.get(answerpoint::sip::HeaderName::Via).unwrap();
    assert!(via.contains("rport=5070"), "{via}");
    assert!(via.contains("received=127.0.0.1"), "{via}");
    let first = net.response(CARRIER, 180);
    assert!(first.msg.to().unwrap().tag().is_some());
    let snap = net.snapshot();
    assert_eq!(snap.calls.len(), 1);
    assert_eq!(snap.calls[0].state, CallState::Queued);
    assert_eq!(snap.queue.depth.emergency, 1);

    net.advance(Duration::from_secs(240));
    // Provisional responses at least every 60 s during the 4 minutes.
    let times: Vec<f64> = net
        .log
        .iter()
        .filter(|s| s.status() == Some(180) && s.to == addr(CARRIER))
        .map(|s| (s.at - net.t0).as_secs_f64())
        .collect();
    assert!(times.len() >= 5, "{times:?}");
    let mut prev = 0.0;
    for t in &times {
        assert!(t - prev <= 60.0, "gap {prev}..{t} in {times:?}");
        prev = *t;
    }
    assert!(240.0 - prev <= 60.0);
    // No final response while waiting.
    assert!(net
        .log
        .iter()
        .all(|s| s.to != addr(CARRIER) || s.status().unwrap_or(0) < 200));

    log_in(&mut net, "seat1");
    let inv = net.request(SEAT1, "INVITE").msg;
    // Handler INVITE identifies the caller and call; own Call-ID; SDP passed through.
    assert_ne!(inv.call_id(), Some("wait4@c"));
    assert_eq!(inv.header("Priority"), Some("emergency"));
    assert_eq!(inv.header("X-Answerpoint-Call-Id"), Some("1"));
    assert!(inv.header("From").unwrap().contains("tel:+441632960001"));
    assert_eq!(
        inv.header("P-Asserted-Identity"),
        Some("<tel:+441632960001>")
    );
    assert_eq!(inv.request_uri_str(), Some("sip:seat1@127.0.0.1:5080"));
    assert_eq!(inv.body(), SDP.as_bytes());
    let ok = handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080");
    net.send_msg(SEAT1, &ok);
    let hack = net.request(SEAT1, "ACK");
    assert_eq!(hack.msg.call_id(), inv.call_id());
    assert_eq!(hack.msg.cseq().unwrap().seq, 1);
    let cok = net.response(CARRIER, 200);
    assert_eq!(cok.msg.body(), HANDLER_SDP.as_bytes());
    assert_eq!(cok.msg.call_id(), Some("wait4@c"));
    net.send(CARRIER, &ack_for(&cok.msg, "z9hG4bKack1"));
    net.advance(Duration::from_secs(10));
    assert!(net.take(CARRIER, |s| s.status() == Some(200)).is_empty());
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].state, CallState::Connected);
    assert_eq!(snap.calls[0].handler.as_deref(), Some("seat1"));
    assert!(snap.calls[0].answered_ms.unwrap() >= 240_000);

    // Caller hangs up first: BYE relayed to the handler.
    net.send(
        CARRIER,
        &carrier_in_dialog(&cok.msg, "BYE", 2, "z9hG4bKbye1"),
    );
    let bye_ok = net.response(CARRIER, 200);
    assert_eq!(bye_ok.msg.cseq().unwrap().method, "BYE");
    let hbye = net.request(SEAT1, "BYE");
    assert_eq!(hbye.msg.call_id(), inv.call_id());
    assert!(hbye.msg.header("To").unwrap().contains("tag=h1"));
    net.send_msg(SEAT1, &plain_response(&hbye.msg, 200, "OK"));
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].state, CallState::Ended);
    assert_eq!(snap.calls[0].end_reason, Some(EndReason::CallerHangup));
    let kinds: Vec<&CallEventKind> = net
        .events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Call(c) => Some(&c.kind),
            _ => None,
        })
        .collect();
    assert!(matches!(kinds[0], CallEventKind::Arrived { .. }));
    assert!(kinds.contains(&&CallEventKind::Queued));
    assert!(kinds
        .iter()
        .any(|k| matches!(k, CallEventKind::Answered { handler } if handler == "seat1")));
}

#[test]
fn handler_hangs_up_first() {
    let mut net = Net::new(&config(""));
    net.send(CARRIER, &invite_999("hh@c", "z9hG4bKhh"));
    let (inv, _) = seat_answers(&mut net, SEAT1, "h1");
    let cok = net.response(CARRIER, 200);
    net.send(CARRIER, &ack_for(&cok.msg, "z9hG4bKhhack"));
    net.send(SEAT1, &handler_bye(&inv, "h1", SEAT1));
    let ok = net.response(SEAT1, 200);
    assert_eq!(ok.msg.cseq().unwrap().method, "BYE");
    let cbye = net.request(CARRIER, "BYE");
    assert_eq!(cbye.msg.call_id(), Some("hh@c"));
    assert_eq!(
        cbye.msg.request_uri_str(),
        Some("sip:carrier@127.0.0.1:5070")
    );
    // From carries the engine's tag, To the carrier's.
    assert!(cbye.msg.header("To").unwrap().contains("tag=c-hh@c"));
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].end_reason, Some(EndReason::HandlerHangup));
    // The handler is in wrap-up afterwards (queue core).
    let h = snap.handlers.iter().find(|h| &*h.id == "seat1").unwrap();
    assert_eq!(h.state, "wrap-up");
}

#[test]
fn caller_abandons_while_queued_goes_to_callback_list() {
    let mut net = Net::new(&config(""));
    log_out(&mut net, "seat1");
    log_out(&mut net, "seat2");
    let ruri = "sip:999@127.0.0.1:5060;user=phone";
    net.send(CARRIER, &invite_999("ab@c", "z9hG4bKab"));
    net.response(CARRIER, 180);
    net.advance(Duration::from_secs(20));
    net.send(CARRIER, &cancel_for("ab@c", "z9hG4bKab", ruri));
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.msg.cseq().unwrap().method, "CANCEL");
    let term = net.response(CARRIER, 487);
    assert_eq!(term.msg.cseq().unwrap().method, "INVITE");
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].state, CallState::Abandoned);
    assert_eq!(snap.queue.callbacks.len(), 1);
    assert_eq!(snap.queue.callbacks[0].caller, "+441632960001");
    assert_eq!(snap.queue.depth.emergency, 0);
    // No more provisionals after the abandon.
    net.advance(Duration::from_secs(120));
    assert!(net.take(CARRIER, |s| s.status() == Some(180)).is_empty());
}

#[test]
fn caller_cancels_while_handler_rings_cancels_handler_leg() {
    let mut net = Net::new(&config(""));
    let ruri = "sip:999@127.0.0.1:5060;user=phone";
    net.send(CARRIER, &invite_999("cr@c", "z9hG4bKcr"));
    let inv = net.request(SEAT1, "INVITE").msg;
    net.send_msg(SEAT1, &handler_response(&inv, 180, "Ringing", "h1", ""));
    net.send(CARRIER, &cancel_for("cr@c", "z9hG4bKcr", ruri));
    net.response(CARRIER, 487);
    let cancel = net.request(SEAT1, "CANCEL");
    assert_eq!(cancel.msg.call_id(), inv.call_id());
    assert_eq!(
        cancel.msg.top_via().unwrap().branch(),
        inv.top_via().unwrap().branch()
    );
    assert_eq!(net.snapshot().calls[0].state, CallState::Abandoned);
}

#[test]
fn handler_rejects_and_call_is_offered_to_next_handler() {
    let mut net = Net::new(&config(""));
    net.send(CARRIER, &invite_101("rj@c", "z9hG4bKrj"));
    let inv1 = net.request(SEAT1, "INVITE").msg;
    net.send_msg(SEAT1, &handler_response(&inv1, 486, "Busy Here", "h1", ""));
    // The INVITE client transaction ACKs the 486 (§17.1.1.3).
    let ack = net.request(SEAT1, "ACK");
    assert_eq!(
        ack.msg.top_via().unwrap().branch(),
        inv1.top_via().unwrap().branch()
    );
    let (_, _) = seat_answers(&mut net, SEAT2, "h2");
    net.response(CARRIER, 200);
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].handler.as_deref(), Some("seat2"));
    assert_eq!(snap.calls[0].offers, 2);
    assert_eq!(snap.calls[0].state, CallState::Connected);
}

#[test]
fn handler_never_answers_ring_timeout_reoffers() {
    let mut net = Net::new(&config("[queue]\nring_timeout_ms = 12000\n"));
    net.send(CARRIER, &invite_999("rona@c", "z9hG4bKrona"));
    let inv1 = net.request(SEAT1, "INVITE").msg;
    net.send_msg(SEAT1, &handler_response(&inv1, 180, "Ringing", "h1", ""));
    net.advance(Duration::from_millis(11_900));
    assert!(net
        .take(SEAT2, |s| s.method().as_deref() == Some("INVITE"))
        .is_empty());
    net.advance(Duration::from_millis(200));
    let cancel = net.request(SEAT1, "CANCEL");
    assert_eq!(cancel.msg.call_id(), inv1.call_id());
    // The seat answers the CANCEL and 487s the INVITE.
    net.send_msg(SEAT1, &plain_response(&cancel.msg, 200, "OK"));
    net.send_msg(
        SEAT1,
        &handler_response(&inv1, 487, "Request Terminated", "h1", ""),
    );
    let (_, _) = seat_answers(&mut net, SEAT2, "h2");
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.msg.call_id(), Some("rona@c"));
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].handler.as_deref(), Some("seat2"));
    assert_eq!(snap.calls[0].offers, 2);
}

#[test]
fn emergency_waiting_with_non_emergency_is_offered_first() {
    let mut net = Net::new(&config(""));
    log_out(&mut net, "seat1");
    log_out(&mut net, "seat2");
    net.send(CARRIER, &invite_101("n1@c", "z9hG4bKn1"));
    net.advance(Duration::from_secs(5));
    net.send(CARRIER, &invite_999("e1@c", "z9hG4bKe1"));
    let snap = net.snapshot();
    assert_eq!(snap.queue.depth.emergency, 1);
    assert_eq!(snap.queue.depth.non_emergency, 1);
    log_in(&mut net, "seat1");
    let inv = net.request(SEAT1, "INVITE").msg;
    assert_eq!(inv.header("Priority"), Some("emergency"));
    assert_eq!(inv.header("X-Answerpoint-Call-Id"), Some("2"));
}

#[test]
fn invite_retransmission_is_absorbed_one_call_only() {
    let mut net = Net::new(&config(""));
    log_out(&mut net, "seat1");
    log_out(&mut net, "seat2");
    let inv = invite_999("rt@c", "z9hG4bKrt");
    net.send(CARRIER, &inv);
    net.advance(Duration::from_millis(500));
    net.send(CARRIER, &inv);
    net.advance(Duration::from_millis(1000));
    net.send(CARRIER, &inv);
    let snap = net.snapshot();
    assert_eq!(snap.calls.len(), 1);
    assert_eq!(snap.queue.depth.emergency, 1);
    // Retransmissions are answered with the latest provisional (§17.2.1).
    let r = net.take(CARRIER, |s| s.status() == Some(180));
    assert_eq!(r.len(), 3);
    // Same Call-ID with a new branch (a second copy through another path): 482.
    net.send(CARRIER, &invite_999("rt@c", "z9hG4bKrt-other"));
    net.response(CARRIER, 482);
    assert_eq!(net.snapshot().calls.len(), 1);
}

#[test]
fn lost_200_ok_is_retransmitted_until_ack() {
    let mut net = Net::new(&config(""));
    net.send(CARRIER, &invite_999("lost@c", "z9hG4bKlost"));
    seat_answers(&mut net, SEAT1, "h1");
    let first = net.response(CARRIER, 200);
    // No ACK: retransmissions at T1, 2·T1, 4·T1 … capped at T2 (§13.3.1.4).
    net.advance(Duration::from_millis(3600));
    let re = net.take(CARRIER, |s| s.status() == Some(200));
    let at: Vec<u64> = re
        .iter()
        .map(|s| (s.at - first.at).as_millis() as u64)
        .collect();
    assert_eq!(at, vec![500, 1500, 3500]);
    assert_eq!(re[0].msg.to_bytes(), first.msg.to_bytes());
    net.send(CARRIER, &ack_for(&first.msg, "z9hG4bKlostack"));
    net.advance(Duration::from_secs(30));
    assert!(net.take(CARRIER, |s| s.status() == Some(200)).is_empty());
    assert_eq!(net.snapshot().calls[0].state, CallState::Connected);
}

#[test]
fn invite_from_non_carrier_address_is_refused() {
    let mut net = Net::new(&config(""));
    let text = invite_999("x@c", "z9hG4bKx");
    net.send("192.0.2.7:5060", &text);
    let r = net.response("192.0.2.7:5060", 403);
    assert_eq!(r.msg.call_id(), Some("x@c"));
    assert!(net.snapshot().calls.is_empty());
    assert!(net.take(SEAT1, |_| true).is_empty());
}

#[test]
fn reinvite_from_carrier_is_relayed_to_handler() {
    let mut net = Net::new(&config(""));
    net.send(CARRIER, &invite_999("ri@c", "z9hG4bKri"));
    let (inv, _) = seat_answers(&mut net, SEAT1, "h1");
    let cok = net.response(CARRIER, 200);
    net.send(CARRIER, &ack_for(&cok.msg, "z9hG4bKriack"));
    let reinv = carrier_reinvite_with_sdp(&cok.msg, 2, "z9hG4bKri2");
    net.send(CARRIER, &reinv);
    let fwd = net.request(SEAT1, "INVITE").msg;
    assert_eq!(fwd.call_id(), inv.call_id());
    assert_eq!(fwd.cseq().unwrap().seq, 2);
    assert_eq!(fwd.body(), SDP.as_bytes());
    net.send_msg(
        SEAT1,
        &handler_response(&fwd, 200, "OK", "h1", "sip:h@127.0.0.1:5080"),
    );
    net.request(SEAT1, "ACK");
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.msg.cseq().unwrap().seq, 2);
    assert_eq!(ok.msg.body(), HANDLER_SDP.as_bytes());
}

#[test]
fn engine_is_send_for_the_runtime_task() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<answerpoint::engine::Engine>();
    assert_send::<answerpoint::engine::Transmit>();
    assert_send::<answerpoint::engine::EngineEvent>();
}

#[test]
fn snapshot_lists_live_calls_and_only_the_last_thousand_finished() {
    // Finished calls stay in the engine 64·T1 for stray requests (tens of thousands at
    // 1,000 calls/s); the snapshot lists only the newest MAX_RECENT_CALLS of them.
    let mut net = Net::new(&config(""));
    log_out(&mut net, "seat1");
    log_out(&mut net, "seat2");
    let ruri = "sip:999@127.0.0.1:5060;user=phone";
    let finished = answerpoint::engine::MAX_RECENT_CALLS + 5;
    for i in 0..finished {
        let (cid, branch) = (format!("r{i}@c"), format!("z9hG4bKr{i}"));
        net.send(CARRIER, &invite_999(&cid, &branch));
        net.send(CARRIER, &cancel_for(&cid, &branch, ruri));
    }
    net.send(CARRIER, &invite_999("live@c", "z9hG4bKlive"));
    let snap = net.snapshot();
    assert_eq!(snap.calls.len(), answerpoint::engine::MAX_RECENT_CALLS + 1);
    let abandoned = snap
        .calls
        .iter()
        .filter(|c| c.state == CallState::Abandoned)
        .count();
    assert_eq!(abandoned, answerpoint::engine::MAX_RECENT_CALLS);
    // Sorted by id: the five oldest finished calls are the ones left out.
    assert!(snap.calls.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(&*snap.calls.last().unwrap().carrier_call_id, "live@c");
    assert!(snap.calls.iter().all(|c| &*c.carrier_call_id != "r4@c"));
    assert!(snap.calls.iter().any(|c| &*c.carrier_call_id == "r5@c"));
}

#[test]
fn a_free_handler_gets_the_invite_before_the_carrier_gets_its_100_and_180() {
    let mut net = Net::new(&config(""));
    log_out(&mut net, "seat2");
    let before = net.log.len();
    net.send(CARRIER, &invite_999("first@c", "z9hG4bKfirst"));
    let sent: Vec<(std::net::SocketAddr, String)> = net.log[before..]
        .iter()
        .map(|s| {
            let what = s
                .method()
                .unwrap_or_else(|| s.status().unwrap_or(0).to_string());
            (s.to, what)
        })
        .collect();
    let seat1 = addr(SEAT1);
    let carrier = addr(CARRIER);
    // The handler's INVITE leaves first; the carrier still gets 100 before 180.
    assert_eq!(
        sent,
        [
            (seat1, "INVITE".to_owned()),
            (carrier, "100".to_owned()),
            (carrier, "180".to_owned()),
        ]
    );
    // The call goes on as before: the seat answers, the carrier gets its 200.
    let (_inv, _ok) = seat_answers(&mut net, SEAT1, "s1");
    assert_eq!(net.response(CARRIER, 200).status(), Some(200));
}

/// An RFC 2543 carrier (top Via without the z9hG4bK branch, or without any branch): RFC
/// 3261 §17.2.3 matching on Request-URI, From tag, Call-ID, CSeq number and top Via. A
/// 999 from such a peer is served end to end; retransmissions are absorbed, the ACK for
/// the 2xx reaches the dialog (so the 200 stops), the BYE is its own transaction.
#[test]
fn rfc2543_carrier_999_is_served_end_to_end() {
    for via_params in ["", ";branch=1234"] {
        let mut net = Net::new(&config(""));
        let call_id = format!("old{}@c", via_params.len());
        let text = invite_999(&call_id, "z9hG4bKx").replace(";branch=z9hG4bKx;rport", via_params);
        net.send(CARRIER, &text);
        let trying = net.response(CARRIER, 100);
        assert!(trying
            .msg
            .get(answerpoint::sip::HeaderName::Via)
            .unwrap()
            .starts_with("SIP/2.0/UDP 127.0.0.1:5070"),);
        // A retransmission is absorbed: one call, one offer.
        net.send(CARRIER, &text);
        let (_inv, _ok) = seat_answers(&mut net, SEAT1, "h1");
        let cok = net.response(CARRIER, 200);
        assert_eq!(net.snapshot().calls.len(), 1, "{via_params}");
        assert!(net
            .take(SEAT1, |s| s.method().as_deref() == Some("INVITE"))
            .is_empty());
        // The ACK for the 2xx, with the peer's own Via (no new branch in RFC 2543).
        let ack = ack_for(&cok.msg, "z9hG4bKy").replace(";branch=z9hG4bKy", via_params);
        net.send(CARRIER, &ack);
        net.request(SEAT1, "ACK");
        assert_eq!(net.snapshot().calls[0].state, CallState::Connected);
        net.pending.clear();
        net.advance(Duration::from_secs(10));
        assert!(
            net.take(CARRIER, |s| s.status() == Some(200)).is_empty(),
            "{via_params}: 200 still retransmitted after the ACK"
        );
        // BYE (CSeq 2, same Via): a new transaction, relayed and answered.
        let bye = carrier_in_dialog(&cok.msg, "BYE", 2, "z9hG4bKz")
            .replace(";branch=z9hG4bKz;rport", via_params);
        net.send(CARRIER, &bye);
        let hbye = net.request(SEAT1, "BYE").msg;
        net.send_msg(SEAT1, &handler_response(&hbye, 200, "OK", "h1", ""));
        let ok = net.response(CARRIER, 200);
        assert_eq!(ok.msg.cseq().unwrap().method, "BYE");
    }
}

/// CANCEL from an RFC 2543 carrier carries the INVITE's Via (§9.1) and finds its INVITE
/// by the same fields; the ACK for the 487 is absorbed by the INVITE transaction.
#[test]
fn rfc2543_carrier_cancel_finds_its_invite() {
    let mut net = Net::new(&config(""));
    log_out(&mut net, "seat1");
    log_out(&mut net, "seat2");
    let ruri = "sip:999@127.0.0.1:5060;user=phone";
    let text = invite_999("oldc@c", "z9hG4bKx").replace(";branch=z9hG4bKx;rport", "");
    net.send(CARRIER, &text);
    net.response(CARRIER, 180);
    net.send(
        CARRIER,
        &cancel_for("oldc@c", "z9hG4bKx", ruri).replace(";branch=z9hG4bKx;rport", ""),
    );
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.msg.cseq().unwrap().method, "CANCEL");
    let term = net.response(CARRIER, 487);
    assert_eq!(net.snapshot().calls[0].state, CallState::Abandoned);
    // The ACK for the 487: same Request-URI, Via and CSeq number as the INVITE.
    let ack = ack_for(&term.msg, "z9hG4bKx")
        .replace(";branch=z9hG4bKx", "")
        .replace(
            "ACK sip:answerpoint@127.0.0.1:5060 SIP/2.0",
            &format!("ACK {ruri} SIP/2.0"),
        );
    net.send(CARRIER, &ack);
    net.advance(Duration::from_secs(40));
    // Absorbed: the 487 is not retransmitted, nothing else is sent to the carrier.
    assert!(
        net.take(CARRIER, |s| s.status() == Some(487)).is_empty(),
        "487 retransmitted: the ACK did not reach the INVITE transaction"
    );
}
