//! A 999 INVITE over UDP is never refused for malformed framing a datagram does not need
//! (DESIGN §6; RFC 3261 §18.3: a datagram is one message and may go without
//! Content-Length): a garbage, overflowing or duplicated Content-Length, a repeated
//! single-valued field (To, From, Call-ID, CSeq, Max-Forwards, Content-Type: the first is
//! kept), a malformed Contact, more header fields than `limits.max_headers`, a header line
//! without a colon, a header section without its empty line. The engine repairs a copy
//! (`sip::lenient`), queues the call as emergency and names the repair in a notice and as
//! the call's first location error. The same 101 INVITE keeps its 400 / 513, and so does
//! a 999 over TCP for faults in framing, which Content-Length does there. A malformed
//! lower Via is no fault at all. In virtual time, with the engine test harness.

mod engine_support;

use answerpoint::call::CallClass;
use answerpoint::engine::{CallState, EngineEvent, Transport};
use answerpoint::queue::RequestedState;
use engine_support::*;
use proptest::prelude::*;

/// A net with both seats logged out, so a served INVITE stays queued.
fn quiet_net() -> Net {
    let mut net = Net::new(&config(""));
    for s in ["seat1", "seat2"] {
        net.set_state(s, RequestedState::LoggedOut);
    }
    net
}

/// `text` with its `Content-Length` line's value replaced by `value`.
fn with_content_length(text: &str, value: &str) -> String {
    let at = text.find("Content-Length: ").unwrap();
    let end = at + text[at..].find("\r\n").unwrap();
    format!("{}Content-Length: {value}{}", &text[..at], &text[end..])
}

/// `text` with `lines` (each ending in CRLF) inserted after the line starting `after`.
fn insert_after(text: &str, after: &str, lines: &str) -> String {
    let at = text.find(after).unwrap();
    let end = at + text[at..].find("\r\n").unwrap() + 2;
    format!("{}{lines}{}", &text[..end], &text[end..])
}

/// `n` extension header lines.
fn fillers(n: usize) -> String {
    (0..n).map(|i| format!("X-Filler-{i}: y\r\n")).collect()
}

/// The malformations of the task, applied to an INVITE (999 or 101) with an SDP body:
/// `(name, malformed text, status the 101 gets)`.
fn malformations(text: &str) -> Vec<(&'static str, String, u16)> {
    let no_body = |t: &str| {
        // The same INVITE without a body, its header section ending the datagram.
        let head_end = t.find("\r\n\r\n").unwrap() + 2;
        with_content_length(&t[..head_end], "0")
    };
    vec![
        (
            "garbage Content-Length",
            with_content_length(text, "abc"),
            400,
        ),
        (
            "overflowing Content-Length",
            with_content_length(text, "99999999999999999999999"),
            400,
        ),
        (
            "Content-Length twice, different values",
            insert_after(text, "CSeq:", "Content-Length: 7\r\n"),
            400,
        ),
        (
            "Content-Length twice, same value",
            insert_after(text, "CSeq:", &format!("l: {}\r\n", SDP.len())),
            400,
        ),
        (
            "more header fields than max_headers",
            insert_after(text, "CSeq:", &fillers(140)),
            513,
        ),
        (
            "a header line without a colon",
            insert_after(text, "Via:", "Garbage line\r\n"),
            400,
        ),
        (
            "To twice",
            insert_after(text, "CSeq:", "To: <sip:someone-else@example.net>\r\n"),
            400,
        ),
        (
            "Call-ID and CSeq twice",
            insert_after(text, "CSeq:", "Call-ID: other@c\r\nCSeq: 9 INVITE\r\n"),
            400,
        ),
        (
            "From, Max-Forwards and Content-Type twice",
            insert_after(
                text,
                "CSeq:",
                "f: <sip:x@example.net>;tag=z\r\nMax-Forwards: 10\r\nContent-Type: text/plain\r\n",
            ),
            400,
        ),
        (
            "CSeq twice, the repeat naming another method",
            insert_after(text, "CSeq:", "CSeq: 1 BYE\r\n"),
            400,
        ),
        (
            "To twice, the repeat malformed",
            insert_after(text, "CSeq:", "To: <<<not a name-addr\r\n"),
            400,
        ),
        (
            "a malformed Contact",
            insert_after(text, "CSeq:", "Contact: <<<not a contact\r\n"),
            400,
        ),
        ("no final empty line (CRLF)", no_body(text), 400),
        (
            "no final empty line (no CRLF)",
            no_body(text).trim_end().to_owned(),
            400,
        ),
    ]
}

fn notices(net: &Net) -> Vec<&str> {
    net.events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Notice { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn malformed_999_over_udp_is_queued_as_emergency_and_the_101_keeps_its_refusal() {
    let base999 = invite_999("lenient@c", "z9hG4bKlenient");
    let base101 = invite_101("lenient101@c", "z9hG4bKlenient101");
    let cases = malformations(&base999)
        .into_iter()
        .zip(malformations(&base101));
    for ((name, m999, _), (_, m101, status101)) in cases {
        let mut net = quiet_net();
        net.send(CARRIER, &m999);
        net.response(CARRIER, 100);
        net.response(CARRIER, 180);
        assert!(
            net.take(CARRIER, |s| s.status().is_some_and(|c| c >= 400))
                .is_empty(),
            "{name}"
        );
        let snap = net.snapshot();
        assert_eq!(snap.calls.len(), 1, "{name}");
        let call = &snap.calls[0];
        assert_eq!(call.state, CallState::Queued, "{name}");
        assert_eq!(call.class, Some(CallClass::Emergency), "{name}");
        assert_eq!(call.callback_number.as_deref(), Some("+441632960001"));
        let first = call.location_errors.first().map(|e| e.to_string());
        let first = first.unwrap_or_default();
        assert!(first.starts_with("framing repaired: "), "{name}: {first}");
        let n = notices(&net);
        assert!(
            n.iter()
                .any(|t| t.contains("over UDP") && t.contains(&first)),
            "{name}: {n:?}"
        );

        // The same malformation in a 101 INVITE: refused as before, no call.
        net.send(CARRIER, &m101);
        let r = net.response(CARRIER, status101);
        assert_eq!(r.msg.call_id(), Some("lenient101@c"), "{name}");
        assert_eq!(net.snapshot().calls.len(), 1, "{name}");
        assert!(net.take(CARRIER, |_| true).is_empty(), "{name}");
    }
}

#[test]
fn each_repair_is_named_on_the_call() {
    let base = invite_999("named@c", "z9hG4bKnamed");
    let expect = [
        "framing repaired: 1 Content-Length field dropped (body: the rest of the datagram)",
        "framing repaired: 1 Content-Length field dropped (body: the rest of the datagram)",
        "framing repaired: 2 Content-Length fields dropped (body: the rest of the datagram)",
        "framing repaired: 1 Content-Length field dropped (a repeated value)",
        "framing repaired: 22 header fields beyond the limit of 128 dropped",
        "framing repaired: 1 malformed header line dropped",
        "framing repaired: 1 repeated single-valued header field dropped (first kept)",
        "framing repaired: 2 repeated single-valued header fields dropped (first kept)",
        "framing repaired: 3 repeated single-valued header fields dropped (first kept)",
        "framing repaired: 1 repeated single-valued header field dropped (first kept)",
        "framing repaired: 1 repeated single-valued header field dropped (first kept)",
        "framing repaired: 1 malformed Contact field dropped",
        "framing repaired: empty line added after the header section",
        "framing repaired: empty line added after the header section",
    ];
    for ((name, text, _), want) in malformations(&base).into_iter().zip(expect) {
        let mut net = quiet_net();
        net.send(CARRIER, &text);
        let snap = net.snapshot();
        assert_eq!(
            snap.calls[0].location_errors.first().map(String::as_str),
            Some(want),
            "{name}"
        );
    }
}

#[test]
fn repaired_999_reaches_the_handler_with_its_body_and_retransmissions_are_absorbed() {
    let mut net = Net::new(&config(""));
    // Content-Length unreadable: the body is the rest of the datagram (RFC 3261 §18.3),
    // here the SDP offer, which the handler's INVITE carries.
    let text = insert_after(
        &with_content_length(&invite_999("sdp@c", "z9hG4bKsdp"), "12x"),
        "To:",
        "this line has no colon\r\n",
    );
    net.send(CARRIER, &text);
    net.response(CARRIER, 100);
    let inv = net.request(SEAT1, "INVITE");
    assert_eq!(inv.msg.body(), SDP.as_bytes());
    assert_eq!(net.snapshot().calls[0].class, Some(CallClass::Emergency));
    // A retransmission (same branch) is repaired the same way and absorbed.
    net.send(CARRIER, &text);
    assert!(net
        .take(CARRIER, |s| s.status().is_some_and(|c| c >= 400))
        .is_empty());
    assert!(net.take(SEAT1, |s| s.method().is_some()).is_empty());
    assert_eq!(net.snapshot().calls.len(), 1);
}

#[test]
fn the_fields_the_engine_needs_survive_the_header_limit() {
    // 140 extension fields before Via, From, To, Call-ID, CSeq, Priority: the 999 is
    // classified by Priority (a 101 URI) and answered on its Via.
    let text = invite(
        "sip:101@127.0.0.1:5060;user=phone",
        "prio@c",
        "z9hG4bKprio",
        "Priority: emergency\r\n",
        "application/sdp",
        SDP,
    );
    // Fewer than the peek's 64 lines before Priority, so it is judged an emergency
    // before the parse: put the fillers after it.
    let text = insert_after(&text, "Priority:", &fillers(140));
    let mut net = quiet_net();
    net.send(CARRIER, &text);
    let trying = net.response(CARRIER, 100);
    assert_eq!(trying.msg.call_id(), Some("prio@c"));
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].class, Some(CallClass::Emergency));
    assert_eq!(snap.calls[0].state, CallState::Queued);
}

/// Repeats of a single-valued field other than Content-Length, and a malformed Contact:
/// repaired over TCP too.
fn repeated_field_case(name: &str) -> bool {
    (name.contains("twice") && !name.contains("Content-Length")) || name.contains("Contact")
}

#[test]
fn malformed_999_over_tcp_keeps_its_refusal() {
    // Over TCP Content-Length frames the stream (RFC 3261 §18.3): nothing but repeated
    // single-valued fields is repaired.
    let base = invite_999("tcp@c", "z9hG4bKtcp");
    for (name, text, status) in malformations(&base) {
        if repeated_field_case(name) {
            continue;
        }
        let mut net = quiet_net();
        net.send_from(CARRIER, Transport::Tcp, &text);
        let r = net.response(CARRIER, status);
        assert_eq!(r.transport, Transport::Tcp, "{name}");
        assert!(net.snapshot().calls.is_empty(), "{name}");
    }
}

#[test]
fn repeated_fields_in_a_999_over_tcp_keep_the_first_and_the_101_its_400() {
    let base999 = invite_999("tcprep@c", "z9hG4bKtcprep");
    let base101 = invite_101("tcprep101@c", "z9hG4bKtcprep101");
    let cases = malformations(&base999)
        .into_iter()
        .zip(malformations(&base101))
        .filter(|((name, _, _), _)| repeated_field_case(name));
    let mut n = 0;
    for ((name, m999, _), (_, m101, _)) in cases {
        n += 1;
        let mut net = quiet_net();
        net.send_from(CARRIER, Transport::Tcp, &m999);
        let trying = net.response(CARRIER, 100);
        assert_eq!(trying.transport, Transport::Tcp, "{name}");
        assert_eq!(trying.msg.call_id(), Some("tcprep@c"), "{name}");
        let snap = net.snapshot();
        assert_eq!(snap.calls.len(), 1, "{name}");
        assert_eq!(snap.calls[0].class, Some(CallClass::Emergency), "{name}");
        let first = snap.calls[0].location_errors.first().map(|e| e.to_string());
        assert!(
            first
                .as_deref()
                .is_some_and(|f| f.contains("repeated single-valued") || f.contains("Contact")),
            "{name}: {first:?}"
        );
        assert!(
            notices(&net).iter().any(|t| t.contains("over TCP")),
            "{name}"
        );
        net.send_from(CARRIER, Transport::Tcp, &m101);
        net.response(CARRIER, 400);
        assert_eq!(net.snapshot().calls.len(), 1, "{name}");
    }
    assert_eq!(n, 6);
}

#[test]
fn overflowing_content_length_is_named_as_such_in_the_refusal() {
    let mut net = quiet_net();
    let text = with_content_length(
        &invite_101("ovf@c", "z9hG4bKovf"),
        "99999999999999999999999",
    );
    net.send(CARRIER, &text);
    let r = net.response(CARRIER, 400);
    let w = r.header("Warning").unwrap();
    assert!(w.contains("Content-Length header: value overflows"), "{w}");
}

// === proptest: mutations of corpus 999 INVITEs ===

/// Corpus 999 INVITEs (fixtures/sip, see SOURCES there): `(header lines, body)`; the
/// request line is the first header line. Line endings become CRLF in the head.
fn corpus() -> Vec<(Vec<String>, Vec<u8>)> {
    [
        "bench/invite-999-multipart.sip",
        "emergency-invites/siplib-InviteAllAdditionalDataByValue1.sip",
    ]
    .iter()
    .map(|f| {
        let p = format!("{}/fixtures/sip/{f}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&p).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = match text.find("\r\n\r\n") {
            Some(i) => (&text[..i], &text[i + 4..]),
            None => {
                let i = text.find("\n\n").unwrap();
                (&text[..i], &text[i + 2..])
            }
        };
        let lines = head.lines().map(str::to_owned).collect();
        (lines, body.as_bytes().to_vec())
    })
    .collect()
}

/// Header lines a mutation must leave alone: the property is about INVITEs whose
/// request line, Via, From, To, Call-ID and CSeq survive.
fn protected(line: &str) -> bool {
    ["INVITE ", "Via:", "From:", "To:", "Call-ID:", "CSeq:"]
        .iter()
        .any(|p| line.starts_with(p))
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Delete the unprotected header line at this index (mod the line count).
    Delete(usize),
    /// Insert a line without a colon at this index.
    Garbage(usize, String),
    /// Insert an extension header field at this index.
    Extension(usize, String),
    /// Insert `n` extension header fields at this index (exceeds max_headers for n > ~100).
    Many(usize, usize),
    /// Insert a Content-Length field with this value at this index.
    ContentLength(usize, String),
    /// Replace every Content-Length value with this one.
    GarbleContentLength(String),
}

fn content_length_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-z -]{0,12}",
        "[0-9]{10,30}",
        (0u32..40_000).prop_map(|n| n.to_string()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), "[A-Za-z][A-Za-z0-9 _./<>=-]{0,30}")
            .prop_map(|(i, s)| Mutation::Garbage(i, s)),
        (any::<usize>(), "[A-Za-z0-9 ;=<>@.]{0,20}")
            .prop_map(|(i, v)| Mutation::Extension(i, format!("X-Mutant: {v}"))),
        (any::<usize>(), 0usize..160).prop_map(|(i, n)| Mutation::Many(i, n)),
        (any::<usize>(), content_length_value()).prop_map(|(i, v)| Mutation::ContentLength(i, v)),
        content_length_value().prop_map(Mutation::GarbleContentLength),
    ]
}

/// Applies `muts` to the header lines after the request line.
fn mutate(lines: &mut Vec<String>, muts: &[Mutation]) {
    for m in muts {
        // Index 1..=len: never before the request line.
        let at = |i: usize, len: usize| 1 + i % len;
        match m {
            Mutation::Delete(i) => {
                let idx = at(*i, lines.len().max(2) - 1);
                if lines.get(idx).is_some_and(|l| !protected(l)) {
                    lines.remove(idx);
                }
            }
            Mutation::Garbage(i, s) => lines.insert(at(*i, lines.len()), s.clone()),
            Mutation::Extension(i, s) => lines.insert(at(*i, lines.len()), s.clone()),
            Mutation::Many(i, n) => {
                let idx = at(*i, lines.len());
                for k in 0..*n {
                    lines.insert(idx, format!("X-Many-{k}: v"));
                }
            }
            Mutation::ContentLength(i, v) => {
                lines.insert(at(*i, lines.len()), format!("Content-Length: {v}"))
            }
            Mutation::GarbleContentLength(v) => {
                for l in lines
                    .iter_mut()
                    .filter(|l| l.starts_with("Content-Length:"))
                {
                    *l = format!("Content-Length: {v}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Whatever happens to the other lines and to the framing (a garbled or repeated
    /// Content-Length, garbage lines, too many fields, no empty line), a 999 INVITE over UDP
    /// whose request line, Via, From, To, Call-ID and CSeq survive is never answered
    /// 4xx/5xx: it is queued as an emergency call.
    #[test]
    fn mutated_999_over_udp_is_never_refused(
        which in 0usize..2,
        muts in proptest::collection::vec(mutation(), 0..6),
        cut_at_head in any::<bool>(),
        last_crlf in any::<bool>(),
    ) {
        let (mut lines, body) = corpus().swap_remove(which);
        mutate(&mut lines, &muts);
        let mut datagram = lines.join("\r\n").into_bytes();
        if cut_at_head {
            // The header section ends the datagram, with or without a last CRLF.
            if last_crlf {
                datagram.extend_from_slice(b"\r\n");
            }
        } else {
            datagram.extend_from_slice(b"\r\n\r\n");
            datagram.extend_from_slice(&body);
        }
        let mut net = quiet_net();
        net.send_bytes(CARRIER, Transport::Udp, &datagram);
        let refused: Vec<String> = net
            .pending
            .iter()
            .filter(|s| s.status().is_some_and(|c| c >= 400))
            .map(|s| s.msg.start_line().to_owned())
            .collect();
        prop_assert!(
            refused.is_empty(),
            "{refused:?} {:?}",
            net.events
        );
        let snap = net.snapshot();
        prop_assert_eq!(snap.calls.len(), 1);
        prop_assert_eq!(snap.calls[0].class, Some(CallClass::Emergency));
        prop_assert_eq!(snap.calls[0].state, CallState::Queued);
    }
}

#[test]
fn a_malformed_lower_via_is_carried_back_as_received_over_udp_and_tcp() {
    // Only the topmost Via is this end's to read (RFC 3261 §18.2.2); a lower one belongs
    // to the hop that added it and goes back in every response unchanged (§8.2.6.2).
    let bad_values = [
        "SIP/2.0/UDP proxy.example;branch=z9hG4bK;;,",
        "garbage!!",
        "SIP/2.0 host",
    ];
    for transport in [Transport::Udp, Transport::Tcp] {
        for (i, bad) in bad_values.iter().enumerate() {
            for make in [invite_999, invite_101] {
                let call_id = format!("lowvia{i}@c");
                let text = make(&call_id, &format!("z9hG4bKlowvia{i}"));
                // As a second Via field, and as a second value of the top Via field.
                let as_field = insert_after(&text, "Via:", &format!("Via: {bad}\r\n"));
                let at = text.find("Via:").unwrap();
                let eol = at + text[at..].find("\r\n").unwrap();
                let as_value = format!("{}, {bad}{}", &text[..eol], &text[eol..]);
                for t in [as_field, as_value] {
                    let mut net = quiet_net();
                    net.send_from(CARRIER, transport, &t);
                    let trying = net.response(CARRIER, 100);
                    let vias: Vec<&str> = trying
                        .msg
                        .values(answerpoint::sip::HeaderName::Via)
                        .collect();
                    assert_eq!(vias.len(), 2, "{transport:?} {bad}: {vias:?}");
                    assert_eq!(vias[1], bad.trim_end_matches(','), "{transport:?}");
                    assert_eq!(net.snapshot().calls.len(), 1, "{transport:?} {bad}");
                    assert!(net.snapshot().calls[0].location_errors.is_empty());
                }
            }
        }
    }
    // A malformed topmost Via is still refused: no response could be routed by it.
    let text = invite_101("topvia@c", "z9hG4bKtopvia").replace("Via: SIP/2.0/UDP", "Via: SIP/2.0");
    let mut net = quiet_net();
    net.send(CARRIER, &text);
    assert!(net.snapshot().calls.is_empty());
}

#[test]
fn an_unquoted_display_name_is_read_liberally_for_the_whole_dialog() {
    // A legacy PBX or a carrier's caller-name insertion writes the name unquoted with
    // characters a token may not hold (RFC 3261 §25.1; RFC 4475 §3.1.2.15). Every request
    // of the dialog repeats that From: the INVITE, the ACK, the BYE and a CANCEL must all
    // be read (an answered 999 whose ACK was refused was torn down after 32 s).
    for dn in [
        "Zoë Smith",
        "John (mobile)",
        "Bell, Alexander",
        "a@b",
        "\"Jo\" Smith",
    ] {
        let mut net = Net::new(&config(""));
        let text = invite_999("dn@c", "z9hG4bKdn").replacen("From: <", &format!("From: {dn} <"), 1);
        net.send(CARRIER, &text);
        let trying = net.response(CARRIER, 100);
        let from = trying.msg.from().unwrap();
        assert_eq!(from.display_text().as_deref(), Some(dn), "{dn}");
        assert_eq!(from.tag(), Some("c-dn@c"), "{dn}");
        let inv = net.request(SEAT1, "INVITE").msg;
        net.send_msg(
            SEAT1,
            &handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080"),
        );
        let cok = net.response(CARRIER, 200);
        assert_eq!(
            cok.msg.get(answerpoint::sip::HeaderName::From),
            trying.msg.get(answerpoint::sip::HeaderName::From)
        );
        net.send(CARRIER, &ack_for(&cok.msg, "z9hG4bKdnack"));
        net.request(SEAT1, "ACK");
        net.pending.clear();
        net.advance(std::time::Duration::from_secs(40));
        assert_eq!(net.snapshot().calls[0].state, CallState::Connected, "{dn}");
        net.send(
            CARRIER,
            &carrier_in_dialog(&cok.msg, "BYE", 2, "z9hG4bKdnbye"),
        );
        let bye = net.request(SEAT1, "BYE").msg;
        net.send_msg(SEAT1, &handler_response(&bye, 200, "OK", "h1", ""));
        net.response(CARRIER, 200);
        // A queued one cancelled by the caller.
        let mut net = quiet_net();
        let ruri = "sip:999@127.0.0.1:5060;user=phone";
        net.send(CARRIER, &text);
        net.response(CARRIER, 100);
        let cancel =
            cancel_for("dn@c", "z9hG4bKdn", ruri).replacen("From: <", &format!("From: {dn} <"), 1);
        net.send(CARRIER, &cancel);
        net.response(CARRIER, 487);
        assert_eq!(net.snapshot().calls[0].state, CallState::Abandoned, "{dn}");
    }
}

#[test]
fn carrier_variants_of_a_999_are_all_served() {
    let base = invite_999("pv@c", "z9hG4bKpv");
    // (name, text replaced once, replacement).
    #[rustfmt::skip]
    let edits: &[(&str, &str, &str)] = &[
        ("tel ruri", "INVITE sip:999@127.0.0.1:5060;user=phone", "INVITE tel:999"),
        ("tel ruri ctx", "INVITE sip:999@127.0.0.1:5060;user=phone", "INVITE tel:999;phone-context=+44"),
        ("sip ctx", "INVITE sip:999@127.0.0.1:5060;user=phone", "INVITE sip:999;phone-context=+44@127.0.0.1;user=phone"),
        ("sos.police", "INVITE sip:999@127.0.0.1:5060;user=phone", "INVITE urn:service:sos.police"),
        ("ipv6 ruri", "INVITE sip:999@127.0.0.1:5060;user=phone", "INVITE sip:999@[2001:db8::1]:5060;user=phone"),
        ("from tel", "From: <sip:+441632960001@carrier.example;user=phone>", "From: <tel:+441632960001>"),
        ("from no tag", ";tag=c-pv@c", ""),
        ("from anonymous", "From: <sip:+441632960001@carrier.example;user=phone>", "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>"),
        ("to display token", "To: <", "To: Emergency <"),
        ("max-forwards 0", "Max-Forwards: 69", "Max-Forwards: 0"),
        ("no max-forwards", "Max-Forwards: 69\r\n", ""),
        ("no contact", "Contact: <sip:carrier@127.0.0.1:5070>\r\n", ""),
        ("via tcp", "SIP/2.0/UDP 127.0.0.1:5070", "SIP/2.0/TCP 127.0.0.1:5070"),
        ("via hostname", "SIP/2.0/UDP 127.0.0.1:5070", "SIP/2.0/UDP sbc.carrier.example"),
        ("via branch quoted", "branch=z9hG4bKpv", "branch=\"z9hG4bKpv\""),
        ("via ttl", ";rport", ";rport;ttl=16;maddr=224.2.0.1"),
        ("sip/2.0 lower", " SIP/2.0\r\n", " sip/2.0\r\n"),
        ("content-type junk", "Content-Type: application/sdp", "Content-Type: garbage"),
        ("pai junk", "P-Asserted-Identity: <tel:+441632960001>", "P-Asserted-Identity: garbage <<"),
        ("body sdp broken", "v=0", "garbage"),
        ("to tel", "To: <sip:999@127.0.0.1:5060;user=phone>", "To: <tel:999>"),
        ("to urn", "To: <sip:999@127.0.0.1:5060;user=phone>", "To: <urn:service:sos>"),
        ("from sips", "From: <sip:", "From: <sips:"),
        ("from unknown scheme", "From: <sip:+441632960001@carrier.example;user=phone>", "From: <xyz:abc>"),
        ("to unknown scheme", "To: <sip:999@127.0.0.1:5060;user=phone>", "To: <xyz:abc>"),
    ];
    // (name, header lines added after CSeq).
    #[rustfmt::skip]
    let extras: &[(&str, &str)] = &[
        ("require unknown", "Require: foo\r\n"),
        ("proxy-require", "Proxy-Require: foo\r\n"),
        ("content-encoding gzip", "Content-Encoding: gzip\r\n"),
        ("expires junk", "Expires: soon\r\n"),
        ("date junk", "Date: yesterday\r\n"),
        ("geolocation junk", "Geolocation: <<junk\r\n"),
        ("rp junk", "Resource-Priority: ???\r\n"),
        ("record-route junk", "Record-Route: junk<<\r\n"),
        ("route junk", "Route: junk<<\r\n"),
        ("accept junk", "Accept: ,,,\r\n"),
        ("session-expires junk", "Session-Expires: x\r\nSupported: timer\r\n"),
        ("session-expires tiny", "Session-Expires: 10\r\nSupported: timer\r\n"),
        ("require 100rel", "Require: 100rel\r\n"),
        ("require precondition", "Require: precondition\r\n"),
        ("x-header utf8", "X-Name: Zoë\r\n"),
        ("reason hdr", "Reason: Q.850;cause=16\r\n"),
    ];
    let mut cases: Vec<(&str, String)> = edits
        .iter()
        .map(|&(name, from, to)| (name, base.replacen(from, to, 1)))
        .chain(
            extras
                .iter()
                .map(|&(name, lines)| (name, insert_after(&base, "CSeq:", lines))),
        )
        .collect();
    cases.push(("bare LF", base.replace("\r\n", "\n")));
    for (name, text) in cases {
        let mut net = quiet_net();
        net.send(CARRIER, &text);
        assert!(
            net.pending_summary()
                .first()
                .is_some_and(|s| s.starts_with("SIP/2.0 100 Trying")),
            "{name}: {:?}",
            net.pending_summary()
        );
        let snap = net.snapshot();
        assert_eq!(snap.calls.len(), 1, "{name}");
        assert_eq!(snap.calls[0].class, Some(CallClass::Emergency), "{name}");
    }
}
