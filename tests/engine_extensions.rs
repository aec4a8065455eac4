//! RFC 3262 reliable provisionals (100rel/PRACK), RFC 4028 session timers, TCP (no
//! retransmissions, §17), overflow to a partner control room, test calls.

mod engine_support;

use std::time::Duration;

use answerpoint::engine::{CallState, Command, EndReason, Transport};
use answerpoint::queue::RequestedState;
use engine_support::*;

const RURI_999: &str = "sip:999@127.0.0.1:5060;user=phone";

fn log_out_all(net: &mut Net) {
    for s in ["seat1", "seat2"] {
        net.engine
            .handle_command(
                net.now,
                Command::SetHandlerState {
                    handler: s.into(),
                    state: RequestedState::LoggedOut,
                },
            )
            .unwrap();
    }
}

fn prack(ringing: &answerpoint::sip::Message, rseq: u32, branch: &str) -> String {
    let to = ringing.header("To").unwrap();
    let from = ringing.header("From").unwrap();
    let call_id = ringing.call_id().unwrap();
    format!(
        "PRACK sip:answerpoint@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\nMax-Forwards: 70\r\n\
From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 2 PRACK\r\nRAck: {rseq} 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn required_100rel_gets_reliable_180_retransmitted_until_prack() {
    let mut net = Net::new(&config(""));
    log_out_all(&mut net);
    let t = invite(
        RURI_999,
        "rel@c",
        "z9hG4bKrel",
        "Require: 100rel\r\n",
        "application/sdp",
        SDP,
    );
    net.send(CARRIER, &t);
    net.response(CARRIER, 100);
    let r1 = net.response(CARRIER, 180);
    assert_eq!(r1.header("Require"), Some("100rel"));
    assert_eq!(r1.header("RSeq"), Some("1"));
    // Retransmitted at T1, 2·T1 until PRACK (RFC 3262 §3).
    net.advance(Duration::from_millis(1600));
    let re = net.take(CARRIER, |s| s.status() == Some(180));
    assert_eq!(re.len(), 2);
    assert!(re.iter().all(|s| s.header("RSeq") == Some("1")));
    net.send(CARRIER, &prack(&r1.msg, 1, "z9hG4bKprack1"));
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.msg.cseq().unwrap().method, "PRACK");
    net.advance(Duration::from_secs(20));
    assert!(net.take(CARRIER, |s| s.status() == Some(180)).is_empty());
    // The keepalive 30 s after the first 180 is a new reliable provisional, RSeq 2.
    net.advance(Duration::from_secs(10));
    let k = net.response(CARRIER, 180);
    assert_eq!(k.header("RSeq"), Some("2"));
    // A PRACK for an unknown RSeq is refused.
    net.send(CARRIER, &prack(&r1.msg, 9, "z9hG4bKprack9"));
    net.response(CARRIER, 481);
}

#[test]
fn supported_100rel_only_gets_unreliable_180() {
    let mut net = Net::new(&config(""));
    log_out_all(&mut net);
    let t = invite(
        RURI_999,
        "sup@c",
        "z9hG4bKsup",
        "Supported: 100rel\r\n",
        "application/sdp",
        SDP,
    );
    net.send(CARRIER, &t);
    let r = net.response(CARRIER, 180);
    assert_eq!(r.header("RSeq"), None);
    net.advance(Duration::from_secs(5));
    assert!(net.take(CARRIER, |s| s.status() == Some(180)).is_empty());
}

#[test]
fn session_timer_in_200_refresh_keeps_call_and_expiry_ends_it() {
    let mut net = Net::new(&config(""));
    let t = invite(
        RURI_999,
        "st@c",
        "z9hG4bKst",
        "Supported: timer\r\nSession-Expires: 120;refresher=uac\r\nMin-SE: 90\r\n",
        "application/sdp",
        SDP,
    );
    net.send(CARRIER, &t);
    let inv = net.request(SEAT1, "INVITE").msg;
    net.send_msg(
        SEAT1,
        &handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080"),
    );
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.header("Session-Expires"), Some("120;refresher=uac"));
    assert_eq!(ok.header("Require"), Some("timer"));
    net.send(CARRIER, &ack_for(&ok.msg, "z9hG4bKstack"));
    // A refreshing UPDATE without body is answered by the engine.
    net.advance(Duration::from_secs(60));
    let upd = carrier_in_dialog(&ok.msg, "UPDATE", 2, "z9hG4bKstupd").replace(
        "Content-Length: 0",
        "Session-Expires: 120;refresher=uac\r\nContent-Length: 0",
    );
    net.send(CARRIER, &upd);
    let uok = net.response(CARRIER, 200);
    assert_eq!(uok.msg.cseq().unwrap().method, "UPDATE");
    assert_eq!(uok.header("Session-Expires"), Some("120;refresher=uac"));
    assert!(net
        .take(SEAT1, |s| s.method().as_deref() == Some("UPDATE"))
        .is_empty());
    // 80 s after the refresh (120 − 40) the call is still up …
    net.advance(Duration::from_secs(79));
    assert_eq!(net.snapshot().calls[0].state, CallState::Connected);
    // … and with no further refresh it is closed at SE − min(32, SE/3) = 88 s.
    net.advance(Duration::from_secs(10));
    net.request(CARRIER, "BYE");
    net.request(SEAT1, "BYE");
    assert_eq!(
        net.snapshot().calls[0].end_reason,
        Some(EndReason::SessionExpired)
    );
}

#[test]
fn small_session_expires_422_for_101_never_for_999() {
    let mut net = Net::new(&config(""));
    let extra = "Supported: timer\r\nSession-Expires: 30\r\n";
    let t = invite(
        "sip:101@127.0.0.1:5060",
        "se1@c",
        "z9hG4bKse1",
        extra,
        "application/sdp",
        SDP,
    );
    net.send(CARRIER, &t);
    let r = net.response(CARRIER, 422);
    assert_eq!(r.header("Min-SE"), Some("90"));
    let t = invite(
        RURI_999,
        "se2@c",
        "z9hG4bKse2",
        extra,
        "application/sdp",
        SDP,
    );
    net.send(CARRIER, &t);
    let inv = net.request(SEAT1, "INVITE").msg;
    net.send_msg(
        SEAT1,
        &handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080"),
    );
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.header("Session-Expires"), Some("90;refresher=uac"));
}

#[test]
fn tcp_carrier_gets_no_retransmissions() {
    let mut net = Net::new(&config(""));
    let t = invite_999("tcp@c", "z9hG4bKtcp").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    net.send_from(CARRIER, Transport::Tcp, &t);
    let inv = net.request(SEAT1, "INVITE").msg;
    net.send_msg(
        SEAT1,
        &handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080"),
    );
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.transport, Transport::Tcp);
    net.advance(Duration::from_secs(10));
    assert!(net.take(CARRIER, |s| s.status() == Some(200)).is_empty());
}

#[test]
fn emergency_overflow_sends_invite_to_partner() {
    let (mut net, inv) = overflowing_999("ovf@c", "z9hG4bKovf");
    assert_eq!(inv.request_uri_str(), Some("sip:partner@127.0.0.1:5099"));
    assert_eq!(inv.header("Priority"), Some("emergency"));
    net.send_msg(
        "127.0.0.1:5099",
        &handler_response(&inv, 200, "OK", "p1", "sip:partner@127.0.0.1:5099"),
    );
    net.response(CARRIER, 200);
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].state, CallState::Connected);
    assert_eq!(
        snap.calls[0].handler.as_deref(),
        Some("sip:partner@127.0.0.1:5099")
    );
}

#[test]
fn non_emergency_over_limit_rejected_503_with_retry_after() {
    let extra =
        "[queue.non_emergency_limit]\nmax_queued = 1\noutcome = \"reject\"\nretry_after_s = 60\n";
    let mut net = Net::new(&config(extra));
    log_out_all(&mut net);
    net.send(
        CARRIER,
        &invite(
            "sip:101@127.0.0.1",
            "l1@c",
            "z9hG4bKl1",
            "",
            "application/sdp",
            SDP,
        ),
    );
    net.send(
        CARRIER,
        &invite(
            "sip:101@127.0.0.1",
            "l2@c",
            "z9hG4bKl2",
            "",
            "application/sdp",
            SDP,
        ),
    );
    let r = net.response(CARRIER, 503);
    assert_eq!(r.msg.call_id(), Some("l2@c"));
    assert_eq!(r.header("Retry-After"), Some("60"));
    let snap = net.snapshot();
    assert_eq!(snap.calls[1].end_reason, Some(EndReason::Rejected(503)));
    // A 999 is never rejected by the limit.
    net.send(CARRIER, &invite_999("l3@c", "z9hG4bKl3"));
    assert!(net.take(CARRIER, |s| s.status() == Some(503)).is_empty());
    assert_eq!(net.snapshot().queue.depth.emergency, 1);
}
