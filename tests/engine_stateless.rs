//! Stateless answers to bad requests (RFC 3261 §8.2, §21; issue 5): each gets the right
//! status and a call in progress is not affected. OPTIONS keepalives are answered 200.

mod engine_support;

use answerpoint::engine::{CallState, Transport};
use engine_support::*;

const RURI_101: &str = "sip:101@127.0.0.1:5060;user=phone";
const RURI_999: &str = "sip:999@127.0.0.1:5060;user=phone";

/// A call in progress (answered by seat1) to check nothing else disturbs it.
fn net_with_live_call() -> (Net, answerpoint::sip::Message) {
    let mut net = Net::new(&config(""));
    net.send(CARRIER, &invite_999("live@c", "z9hG4bKlive"));
    let inv = net.request(SEAT1, "INVITE").msg;
    let ok = handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080");
    net.send_msg(SEAT1, &ok);
    let cok = net.response(CARRIER, 200);
    net.send(CARRIER, &ack_for(&cok.msg, "z9hG4bKliveack"));
    net.pending.clear();
    (net, cok.msg)
}

fn assert_live_call_unaffected(net: &mut Net, cok: &answerpoint::sip::Message) {
    let snap = net.snapshot();
    let live = snap
        .calls
        .iter()
        .find(|c| &*c.carrier_call_id == "live@c")
        .unwrap();
    assert_eq!(live.state, CallState::Connected);
    // The call still works: a BYE from the carrier is relayed.
    net.send(CARRIER, &carrier_in_dialog(cok, "BYE", 2, "z9hG4bKlivebye"));
    net.request(SEAT1, "BYE");
}

#[test]
fn options_keepalive_answered_200() {
    let mut net = Net::new(&config(""));
    let text = "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKopt1;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:carrier@127.0.0.1>;tag=o1\r\nTo: <sip:127.0.0.1:5060>\r\n\
Call-ID: opt1@c\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    net.send(CARRIER, text);
    let r = net.response(CARRIER, 200);
    assert_eq!(r.msg.cseq().unwrap().seq, 7);
    assert!(r.header("Allow").unwrap().contains("INVITE"));
    assert!(r.msg.to().unwrap().tag().is_some());
    // Max-Forwards 0 on OPTIONS is still answered (RFC 4475 §3.3.11).
    net.send(
        CARRIER,
        &text
            .replace("Max-Forwards: 70", "Max-Forwards: 0")
            .replace("opt1", "opt2"),
    );
    net.response(CARRIER, 200);
    // An option tag we do not support in Require gets 420 with Unsupported (§8.2.2.3);
    // a supported one is answered 200.
    net.send(
        CARRIER,
        &text
            .replace("opt1", "opt3")
            .replace("Content-Length: 0", "Require: foo\r\nContent-Length: 0"),
    );
    let r = net.response(CARRIER, 420);
    assert_eq!(r.header("Unsupported"), Some("foo"));
    net.send(
        CARRIER,
        &text
            .replace("opt1", "opt4")
            .replace("Content-Length: 0", "Require: timer\r\nContent-Length: 0"),
    );
    net.response(CARRIER, 200);
}

#[test]
fn malformed_request_gets_400_with_warning_and_call_continues() {
    let (mut net, cok) = net_with_live_call();
    let bad = "INVITE sip:101@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbad1\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:101@127.0.0.1>\r\n\
Call-ID: bad1@c\r\nCSeq: notanumber INVITE\r\nContent-Length: 0\r\n\r\n";
    net.send(CARRIER, bad);
    let r = net.response(CARRIER, 400);
    assert!(
        r.msg.reason_phrase().unwrap().contains("CSeq"),
        "{:?}",
        r.msg.reason_phrase()
    );
    assert!(r.header("Warning").unwrap().starts_with("399 answerpoint"));
    assert_eq!(r.msg.call_id(), Some("bad1@c"));
    // Garbage without a Via cannot be answered; nothing breaks.
    net.send(CARRIER, "\u{1}\u{2}garbage\r\n\r\n");
    // A malformed response is dropped (§18.1.2).
    net.send(CARRIER, "SIP/2.0 abc OK\r\n\r\n");
    assert!(net.take(CARRIER, |_| true).is_empty());
    assert_live_call_unaffected(&mut net, &cok);
}

#[test]
fn bad_version_505_unknown_scheme_416_body_too_large_413() {
    let (mut net, cok) = net_with_live_call();
    let v = invite_101("v@c", "z9hG4bKv").replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1);
    net.send(CARRIER, &v);
    net.response(CARRIER, 505);

    let s = invite(
        "mailto:101@example.com",
        "s@c",
        "z9hG4bKs",
        "",
        "application/sdp",
        SDP,
    );
    net.send(CARRIER, &s);
    let r = net.response(CARRIER, 416);
    assert_eq!(r.msg.call_id(), Some("s@c"));

    let big = "x".repeat(61_000);
    let b = invite(RURI_101, "big@c", "z9hG4bKbig", "", "application/sdp", &big);
    net.send(CARRIER, &b);
    net.response(CARRIER, 413);
    assert_eq!(net.snapshot().calls.len(), 1);
    assert_live_call_unaffected(&mut net, &cok);
}

#[test]
fn max_forwards_zero_483_for_non_emergency() {
    let mut net = Net::new(&config(""));
    let t = invite_101("mf@c", "z9hG4bKmf").replace("Max-Forwards: 69", "Max-Forwards: 0");
    net.send(CARRIER, &t);
    net.response(CARRIER, 483);
    assert!(net.snapshot().calls.is_empty());
}

#[test]
fn unknown_require_420_for_non_emergency_but_emergency_is_served() {
    let mut net = Net::new(&config(""));
    let t = invite(
        RURI_101,
        "rq@c",
        "z9hG4bKrq",
        "Require: foo, 100rel\r\n",
        "application/sdp",
        SDP,
    );
    net.send(CARRIER, &t);
    let r = net.response(CARRIER, 420);
    assert_eq!(r.header("Unsupported"), Some("foo"));
    assert!(net.snapshot().calls.is_empty());

    let e = invite(
        RURI_999,
        "rqe@c",
        "z9hG4bKrqe",
        "Require: foo\r\n",
        "application/sdp",
        SDP,
    );
    net.send(CARRIER, &e);
    net.response(CARRIER, 100);
    let inv = net.request(SEAT1, "INVITE");
    assert_eq!(inv.header("Priority"), Some("emergency"));
    assert!(net.events.iter().any(|e| matches!(e,
        answerpoint::engine::EngineEvent::Notice { text } if text.contains("foo"))));
}

#[test]
fn unsupported_body_415_for_non_emergency_but_emergency_is_served() {
    let mut net = Net::new(&config(""));
    let t = invite(RURI_101, "bt@c", "z9hG4bKbt", "", "text/plain", "hello");
    net.send(CARRIER, &t);
    let r = net.response(CARRIER, 415);
    assert!(r.header("Accept").unwrap().contains("application/sdp"));

    let e = invite(RURI_999, "bte@c", "z9hG4bKbte", "", "text/plain", "hello");
    net.send(CARRIER, &e);
    net.response(CARRIER, 100);
    net.request(SEAT1, "INVITE");
    assert_eq!(net.snapshot().calls.len(), 1);
}

#[test]
fn missing_call_id_400_and_an_rfc2543_branch_served() {
    let mut net = Net::new(&config(""));
    let t = invite_101("nc@c", "z9hG4bKnc").replace("Call-ID: nc@c\r\n", "");
    net.send(CARRIER, &t);
    let r = net.response(CARRIER, 400);
    assert!(r.msg.reason_phrase().unwrap().contains("Call-ID"));
    // An RFC 2543 peer's branch (no magic cookie) is matched the RFC 2543 way (RFC 3261
    // §17.2.3), not refused; see engine_calls `rfc2543_*` for the whole flow.
    let t = invite_101("old@c", "1234");
    net.send(CARRIER, &t);
    net.response(CARRIER, 100);
    assert_eq!(net.snapshot().calls.len(), 1);
}

#[test]
fn responses_go_to_received_address_and_rport_per_18_2_2() {
    let mut net = Net::new(&config(""));
    // No rport: to the source IP at the sent-by port.
    let t = invite_101("nr@c", "z9hG4bKnr")
        .replace(";branch=z9hG4bKnr;rport", ";branch=z9hG4bKnr")
        .replace("127.0.0.1:5070;branch", "10.9.9.9:5099;branch");
    net.send("127.0.0.2:40000", &t);
    let r = net.response("127.0.0.2:5099", 100);
    let via = r.header("Via").unwrap();
    assert!(via.contains("received=127.0.0.2"), "{via}");
    assert!(!via.contains("rport"), "{via}");
    // With rport: to the source address and port.
    let t =
        invite_101("wr@c", "z9hG4bKwr").replace("127.0.0.1:5070;branch", "10.9.9.9:5099;branch");
    net.send("127.0.0.2:40001", &t);
    let r = net.response("127.0.0.2:40001", 100);
    assert!(r.header("Via").unwrap().contains("rport=40001"));
    // TCP: back to the connection's peer.
    let t = invite_101("tc@c", "z9hG4bKtc")
        .replace("SIP/2.0/UDP 127.0.0.1:5070", "SIP/2.0/TCP 10.9.9.9:5099");
    net.send_from("127.0.0.2:40002", Transport::Tcp, &t);
    let r = net.response("127.0.0.2:40002", 100);
    assert_eq!(r.transport, Transport::Tcp);
}

#[test]
fn unknown_number_404_and_in_dialog_request_without_dialog_481() {
    let mut net = Net::new(&config(""));
    let t = invite(
        "sip:0800123@127.0.0.1",
        "un@c",
        "z9hG4bKun",
        "",
        "application/sdp",
        SDP,
    );
    net.send(CARRIER, &t);
    net.response(CARRIER, 404);
    let bye = "BYE sip:answerpoint@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnob\r\nMax-Forwards: 70\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: nodialog@c\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    net.send(CARRIER, bye);
    net.response(CARRIER, 481);
}

#[test]
fn an_unreadable_topmost_via_is_echoed_and_answered_to_the_source() {
    // Before: no answer at all, so the carrier retransmitted for 32 s before giving up.
    // Now a 400 goes back where the request came from (the only address known, RFC 3581
    // §4) with the Via lines as received, so the sender can match it and fail over.
    let (mut net, cok) = net_with_live_call();
    for (ruri, n) in [(RURI_101, 1), (RURI_999, 2)] {
        let bad = format!(
            "INVITE {ruri} SIP/2.0\r\nVia: garbage!!\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKup\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\n\
Call-ID: badvia{n}@c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        net.send(CARRIER, &bad);
        let r = net.response(CARRIER, 400);
        assert_eq!(
            r.unparsed_vias,
            [
                "Via: garbage!!",
                "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKup"
            ]
        );
        assert_eq!(r.msg.call_id(), Some(format!("badvia{n}@c").as_str()));
        assert!(r.header("Warning").unwrap().contains("Via"));
    }
    // Bare-LF line endings (read liberally, as the parser does), and an empty Via.
    let lf = "OPTIONS sip:x@127.0.0.1 SIP/2.0\nVia: garbage!!\nFrom: <sip:a@b>;tag=1\n\
To: <sip:x@127.0.0.1>\nCall-ID: lf@c\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n";
    net.send(CARRIER, lf);
    let r = net.response(CARRIER, 400);
    assert_eq!(r.unparsed_vias, ["Via: garbage!!"]);
    assert_eq!(r.msg.call_id(), Some("lf@c"));
    let empty = "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: \r\nFrom: <sip:a@b>;tag=1\r\n\
To: <sip:x@127.0.0.1>\r\nCall-ID: empty@c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    net.send(CARRIER, empty);
    let r = net.response(CARRIER, 400);
    assert_eq!(r.unparsed_vias, ["Via:"]);
    // An ACK is never answered, however malformed (RFC 3261 §17).
    let ack = "ACK sip:x@127.0.0.1 SIP/2.0\r\nVia: garbage!!\r\nFrom: <sip:a@b>;tag=1\r\n\
To: <sip:x@127.0.0.1>;tag=2\r\nCall-ID: ack@c\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
    net.send(CARRIER, ack);
    net.send(
        CARRIER,
        &ack.replace("CSeq: 1 ACK", "CSeq: x ACK")
            .replace("garbage!!", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa"),
    );
    assert!(
        net.take(CARRIER, |_| true).is_empty(),
        "an ACK was answered"
    );
    // No Via at all: an answer could be neither routed nor matched; an ACK missing a
    // header is not answered either.
    for method in ["INVITE", "OPTIONS", "ACK"] {
        let novia = format!(
            "{method} sip:999@127.0.0.1 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:a@b>;tag=x\r\n\
To: <sip:999@127.0.0.1>\r\nCall-ID: nv@c\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        );
        net.send(CARRIER, &novia);
        // Nor when something else is wrong too (checked before Via).
        net.send(CARRIER, &novia.replace("Call-ID: nv@c\r\n", ""));
        net.send(
            CARRIER,
            &novia.replace("sip:999@127.0.0.1 SIP", "foo:999 SIP"),
        );
        assert!(
            net.take(CARRIER, |_| true).is_empty(),
            "{method} without Via answered"
        );
    }
    let ack_no_callid = ack
        .replace("garbage!!", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKb")
        .replace("Call-ID: ack@c\r\n", "");
    net.send(CARRIER, &ack_no_callid);
    assert!(
        net.take(CARRIER, |_| true).is_empty(),
        "an ACK without Call-ID was answered"
    );
    // A Via line holding two values, in a request refused for its CSeq: the answer is
    // routed by the first value (§18.2.2: to the received address, at the sent-by port)
    // and keeps the second. Before, the
    // two-value line did not parse as one Via and there was no answer.
    let bad = "INVITE sip:101@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.7:5099;branch=z9hG4bKtwo, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKup\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:101@127.0.0.1>\r\n\
Call-ID: twovia@c\r\nCSeq: notanumber INVITE\r\nContent-Length: 0\r\n\r\n";
    net.send(CARRIER, bad);
    let r = net.response("127.0.0.1:5099", 400);
    assert!(r.unparsed_vias.is_empty());
    let vias: Vec<&str> = r.msg.values(answerpoint::sip::HeaderName::Via).collect();
    assert_eq!(
        vias,
        [
            "SIP/2.0/UDP 192.0.2.7:5099;branch=z9hG4bKtwo;received=127.0.0.1",
            "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKup"
        ]
    );
    assert!(net.take(CARRIER, |_| true).is_empty());
    assert_live_call_unaffected(&mut net, &cok);
}
