//! Issue 4's end-to-end acceptance at engine level, in virtual time: a broken location
//! never blocks a 999 call. A truncated PIDF-LO, and a Geolocation cid naming no part, are
//! still queued, offered, answered, with the error recorded on the call. A good PIDF-LO is
//! summarised in the snapshot and carried to the handler (RFC 6442 §3).

mod engine_support;

use std::time::Duration;

use answerpoint::engine::{CallState, Command};
use answerpoint::queue::RequestedState;
use engine_support::*;

const BOUNDARY: &str = "unique-boundary-1";

fn pidf() -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/location/pidf-lo/dec112/simple-circle__valid-circle.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn multipart(pidf: &str) -> String {
    format!(
        "--{BOUNDARY}\r\nContent-Type: application/sdp\r\n\r\n{SDP}\r\n\
--{BOUNDARY}\r\nContent-Type: application/pidf+xml\r\nContent-ID: <loc1@carrier.example>\r\n\r\n{pidf}\r\n\
--{BOUNDARY}--\r\n"
    )
}

fn invite_with_location(call_id: &str, geolocation_cid: &str, body: &str) -> String {
    invite(
        "sip:999@127.0.0.1:5060;user=phone",
        call_id,
        &format!("z9hG4bK{call_id}"),
        &format!("Geolocation: <cid:{geolocation_cid}>\r\nGeolocation-Routing: no\r\n"),
        &format!("multipart/mixed;boundary={BOUNDARY}"),
        body,
    )
}

/// Queues with no handler, waits 30 s, logs seat1 in, answers; returns the snapshot view.
fn queue_offer_answer(text: &str) -> (answerpoint::engine::CallView, answerpoint::sip::Message) {
    let mut net = Net::new(&config(""));
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
    net.send(CARRIER, text);
    net.response(CARRIER, 100);
    net.response(CARRIER, 180);
    assert_eq!(net.snapshot().calls[0].state, CallState::Queued);
    net.advance(Duration::from_secs(30));
    net.engine
        .handle_command(
            net.now,
            Command::SetHandlerState {
                handler: "seat1".into(),
                state: RequestedState::Available,
            },
        )
        .unwrap();
    net.advance(Duration::ZERO);
    let inv = net.request(SEAT1, "INVITE").msg;
    net.send_msg(
        SEAT1,
        &handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080"),
    );
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.msg.body(), HANDLER_SDP.as_bytes());
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].state, CallState::Connected);
    (answerpoint::engine::CallView::clone(&snap.calls[0]), inv)
}

#[test]
fn truncated_pidf_lo_still_queued_offered_answered_with_error_recorded() {
    let full = pidf();
    let cut = &full[..full.len() / 2];
    let (call, inv) = queue_offer_answer(&invite_with_location(
        "trunc@c",
        "loc1@carrier.example",
        &multipart(cut),
    ));
    assert!(call.location.is_none());
    assert!(!call.location_errors.is_empty());
    assert!(
        call.location_errors.iter().any(|e| e.contains("PIDF-LO")),
        "{:?}",
        call.location_errors
    );
    // The handler still gets the caller's SDP.
    assert!(std::str::from_utf8(inv.body())
        .unwrap()
        .contains("m=audio 4000"));
}

#[test]
fn geolocation_cid_naming_no_part_still_answered_with_error_recorded() {
    let (call, _) = queue_offer_answer(&invite_with_location(
        "nocid@c",
        "missing@carrier.example",
        &multipart(&pidf()),
    ));
    assert!(
        call.location_errors
            .iter()
            .any(|e| e.contains("cid:missing@carrier.example")),
        "{:?}",
        call.location_errors
    );
    // The unreferenced PIDF-LO part is still used.
    let loc = call.location.expect("unreferenced PIDF-LO used");
    assert_eq!(loc.lat, Some(48.123));
    assert_eq!(loc.lon, Some(14.456));
}

#[test]
fn good_location_summarised_and_carried_to_handler() {
    let (call, inv) = queue_offer_answer(&invite_with_location(
        "good@c",
        "loc1@carrier.example",
        &multipart(&pidf()),
    ));
    assert!(
        call.location_errors.is_empty(),
        "{:?}",
        call.location_errors
    );
    let loc = call.location.unwrap();
    assert_eq!(loc.lat, Some(48.123));
    assert_eq!(loc.radius_m, Some(24.0));
    assert_eq!(
        inv.header("Geolocation"),
        Some("<cid:loc1@carrier.example>")
    );
    assert_eq!(inv.header("Geolocation-Routing"), Some("no"));
    let ct = inv.header("Content-Type").unwrap();
    assert!(ct.starts_with("multipart/mixed"), "{ct}");
    let body = std::str::from_utf8(inv.body()).unwrap();
    assert!(body.contains("Content-Type: application/sdp"));
    assert!(body.contains("Content-ID: <loc1@carrier.example>"));
    assert!(body.contains("<gml:pos>48.123 14.456</gml:pos>"));
    assert_eq!(call.callback_number.as_deref(), Some("+441632960001"));
}

#[test]
fn location_by_reference_only_is_listed_for_the_handler() {
    // No PIDF-LO in the body, only a LIS URI: the call has no location of its own, but the
    // console must show the reference (RFC 6442 §4.1) rather than nothing at all.
    let uri = "https://lis.example.net/held/loc?id=3f9a";
    let text = invite(
        "sip:999@127.0.0.1:5060;user=phone",
        "byref@c",
        "z9hG4bKbyref",
        &format!("Geolocation: <{uri}>, <sip:lis@lis.example.net>\r\nGeolocation-Routing: yes\r\n"),
        "application/sdp",
        SDP,
    );
    let (call, inv) = queue_offer_answer(&text);
    assert_eq!(call.location, None);
    assert!(
        call.location_errors.is_empty(),
        "{:?}",
        call.location_errors
    );
    assert_eq!(
        &call.location_references[..],
        [uri.to_owned(), "sip:lis@lis.example.net".to_owned()]
    );
    // And the handler's INVITE still carries the header (passed on, not dereferenced).
    assert!(inv.header("Geolocation").is_some_and(|g| g.contains(uri)));
}

#[test]
fn big_999_body_within_the_message_limit_is_queued_not_413() {
    // 61 KB of body (a PIDF-LO padded with an XML comment) in a datagram under the default
    // limits.max_message_bytes (65,535): queued and located, never "413 Request Entity Too
    // Large" for an emergency call.
    let padded = pidf().replace(
        "</presence>",
        &format!("<!--{}--></presence>", "x".repeat(61_000)),
    );
    let text = invite_with_location("big@c", "loc1@carrier.example", &multipart(&padded));
    assert!(text.len() > 61_000 && text.len() < 65_535, "{}", text.len());
    let (call, _) = queue_offer_answer(&text);
    let loc = call.location.expect("located");
    assert_eq!(loc.lat, Some(48.123));
}

/// `text` with its last `cut` octets lost in transit: the Content-Length is now larger
/// than the body the datagram holds (RFC 3261 §18.3).
fn truncated(text: &str, cut: usize) -> String {
    text[..text.len() - cut].to_owned()
}

#[test]
fn truncated_999_datagram_is_queued_offered_answered_without_its_body() {
    // RFC 3261 §18.3 would discard this datagram or answer 400: for a 999 that is a
    // rejection. It is served without its body, the reason recorded as the location error.
    let full = invite_with_location("cut@c", "loc1@carrier.example", &multipart(&pidf()));
    let (call, inv) = queue_offer_answer(&truncated(&full, 300));
    assert_eq!(call.location, None);
    let first = call.location_errors.first().expect("a location error");
    assert!(first.starts_with("body truncated"), "{first}");
    assert!(first.contains("body dropped"), "{first}");
    assert_eq!(
        call.location_errors[1..],
        ["cid:loc1@carrier.example names no body part".to_owned()],
        "{:?}",
        call.location_errors
    );
    // The handler's INVITE carries no half body (no offer: the handler makes one).
    assert!(inv.body().is_empty(), "{:?}", inv.body().len());
    assert_eq!(call.callback_number.as_deref(), Some("+441632960001"));
}

#[test]
fn truncated_999_retransmission_is_absorbed_and_truncated_101_gets_400() {
    let mut net = Net::new(&config(""));
    for s in ["seat1", "seat2"] {
        net.set_state(s, RequestedState::LoggedOut);
    }
    let full = invite_with_location("cut2@c", "loc1@carrier.example", &multipart(&pidf()));
    // Cut inside the header-body boundary's neighbourhood too: only 1 body octet left.
    let body_start = full.find("\r\n\r\n").unwrap() + 4;
    let text = truncated(&full, full.len() - body_start - 1);
    net.send(CARRIER, &text);
    net.response(CARRIER, 100);
    net.response(CARRIER, 180);
    // The same datagram again (a retransmission, same branch): no second call.
    net.send(CARRIER, &text);
    assert!(net.take(CARRIER, |s| s.status() == Some(400)).is_empty());
    let snap = net.snapshot();
    assert_eq!(snap.calls.len(), 1);
    assert_eq!(snap.calls[0].state, CallState::Queued);
    assert_eq!(
        snap.calls[0].class,
        Some(answerpoint::call::CallClass::Emergency)
    );

    // A non-emergency request keeps the RFC behaviour: 400 naming Content-Length.
    let n101 = invite_101("cut101@c", "z9hG4bKcut101");
    net.send(CARRIER, &truncated(&n101, 10));
    let r = net.response(CARRIER, 400);
    assert_eq!(r.msg.call_id(), Some("cut101@c"));
    assert!(r.header("Warning").unwrap().contains("Content-Length"));
    // So does a truncated 999 that is not an INVITE (here an OPTIONS with a body).
    let opt = "OPTIONS sip:999@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKcutopt\r\n\
Max-Forwards: 70\r\nFrom: <sip:c@127.0.0.1>;tag=o\r\nTo: <sip:999@127.0.0.1>\r\n\
Call-ID: cutopt@c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 50\r\n\r\nabc";
    net.send(CARRIER, opt);
    net.response(CARRIER, 400);
    assert_eq!(net.snapshot().calls.len(), 1);
}

#[test]
fn radius_of_1e308_places_the_999_at_the_centre_with_uncertainty_unknown() {
    let huge = pidf().replace(
        r#"<gs:radius uom="urn:ogc:def:uom:EPSG::9001">24</gs:radius>"#,
        r#"<gs:radius uom="urn:ogc:def:uom:EPSG::9001">1e308</gs:radius>"#,
    );
    assert!(huge.contains("1e308"));
    let (call, _) = queue_offer_answer(&invite_with_location(
        "huge@c",
        "loc1@carrier.example",
        &multipart(&huge),
    ));
    let loc = call.location.expect("the centre is kept");
    assert_eq!((loc.lat, loc.lon), (Some(48.123), Some(14.456)));
    assert_eq!(loc.radius_m, None);
    assert_eq!(loc.shape, Some("Point"));
    assert!(
        call.location_errors
            .iter()
            .any(|e| e.contains("Circle kept as its centre Point") && e.contains("radius")),
        "{:?}",
        call.location_errors
    );
}

#[test]
fn tcp_999_with_body_over_the_limit_is_queued_101_gets_413_ack_is_ignored() {
    // The stream decoder skipped the body (over limits.max_message_bytes) and hands on the
    // header section: a 999 is queued with the reason as its location error, anything
    // else gets 413, an ACK nothing.
    let mut net = Net::new(&config(""));
    for s in ["seat1", "seat2"] {
        net.set_state(s, RequestedState::LoggedOut);
    }
    let padded = pidf().replace(
        "</presence>",
        &format!("<!--{}--></presence>", "x".repeat(70_000)),
    );
    let big999 = invite_with_location("tcpbig@c", "loc1@carrier.example", &multipart(&padded))
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    net.send_tcp_body_too_large(CARRIER, &big999, 65_000);
    let trying = net.response(CARRIER, 100);
    assert_eq!(trying.transport, answerpoint::engine::Transport::Tcp);
    net.response(CARRIER, 180);
    let snap = net.snapshot();
    assert_eq!(snap.calls.len(), 1);
    let call = &snap.calls[0];
    assert_eq!(call.state, CallState::Queued);
    assert_eq!(call.location, None);
    assert!(
        call.location_errors[0].starts_with("body dropped: too large"),
        "{:?}",
        call.location_errors
    );

    let big101 = invite(
        "sip:101@127.0.0.1:5060;user=phone",
        "tcp101@c",
        "z9hG4bKtcp101",
        "",
        "application/sdp",
        &"x".repeat(70_000),
    )
    .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    net.send_tcp_body_too_large(CARRIER, &big101, 65_000);
    let r = net.response(CARRIER, 413);
    assert_eq!(r.msg.call_id(), Some("tcp101@c"));
    assert!(r.header("Warning").unwrap().contains("70000"));

    let ack = "ACK sip:999@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKtcpack\r\n\
Max-Forwards: 70\r\nFrom: <sip:c@127.0.0.1>;tag=a\r\nTo: <sip:999@127.0.0.1>;tag=b\r\n\
Call-ID: tcpack@c\r\nCSeq: 1 ACK\r\nContent-Length: 70000\r\n\r\n";
    net.send_tcp_body_too_large(CARRIER, ack, 65_000);
    assert!(
        net.take(CARRIER, |_| true).is_empty(),
        "{:?}",
        net.pending_summary()
    );
    assert_eq!(net.snapshot().calls.len(), 1);
}

#[test]
fn latin1_display_name_refuses_no_call_nor_any_request_of_its_dialog() {
    // A legacy PBX writes the caller's name in Latin-1: "José Müller" with 0xE9 and 0xFC,
    // which are not UTF-8. The 999 is served (name with U+FFFD, a notice), the 101 too;
    // the ACK and BYE of the answered call and the CANCEL of a queued one carry the same
    // octets and are read the same way.
    let latin1 = |text: String| -> Vec<u8> {
        let from = text.find("From: ").unwrap() + "From: ".len();
        let mut b = text.into_bytes();
        let name = b"\"Jos\xe9 M\xfcller\" ";
        b.splice(from..from, name.iter().copied());
        assert!(std::str::from_utf8(&b).is_err());
        b
    };
    let mut net = Net::new(&config(""));
    for s in ["seat1", "seat2"] {
        net.set_state(s, RequestedState::LoggedOut);
    }
    net.send_bytes(
        CARRIER,
        answerpoint::engine::Transport::Udp,
        &latin1(invite_999("latin999@c", "z9hG4bKlatin999")),
    );
    net.response(CARRIER, 100);
    net.response(CARRIER, 180);
    let snap = net.snapshot();
    assert_eq!(snap.calls.len(), 1);
    assert_eq!(snap.calls[0].state, CallState::Queued);
    assert!(net.events.iter().any(|e| matches!(
        e,
        answerpoint::engine::EngineEvent::Notice { text } if text.contains("U+FFFD")
    )));
    // The same INVITE again (a retransmission) is absorbed by the same transaction.
    net.send_bytes(
        CARRIER,
        answerpoint::engine::Transport::Udp,
        &latin1(invite_999("latin999@c", "z9hG4bKlatin999")),
    );
    assert!(net.take(CARRIER, |s| s.status() == Some(400)).is_empty());
    assert_eq!(net.snapshot().calls.len(), 1);

    net.send_bytes(
        CARRIER,
        answerpoint::engine::Transport::Udp,
        &latin1(invite_101("latin101@c", "z9hG4bKlatin101")),
    );
    net.response(CARRIER, 100);
    assert_eq!(net.snapshot().calls.len(), 2);
    // The caller hangs up while queued: the CANCEL (same From) ends the 999.
    let cancel = latin1(cancel_for(
        "latin999@c",
        "z9hG4bKlatin999",
        "sip:999@127.0.0.1:5060;user=phone",
    ));
    net.send_bytes(CARRIER, answerpoint::engine::Transport::Udp, &cancel);
    net.response(CARRIER, 487);
    assert_eq!(net.snapshot().calls[0].state, CallState::Abandoned);

    // Answered: the ACK stops the 200, the call stays up, the BYE is relayed.
    let mut net = Net::new(&config(""));
    net.send_bytes(
        CARRIER,
        answerpoint::engine::Transport::Udp,
        &latin1(invite_999("latin2@c", "z9hG4bKlatin2")),
    );
    let inv = net.request(SEAT1, "INVITE").msg;
    net.send_msg(
        SEAT1,
        &handler_response(&inv, 200, "OK", "h1", "sip:h@127.0.0.1:5080"),
    );
    let cok = net.response(CARRIER, 200);
    let ack = ack_for(&cok.msg, "z9hG4bKlatin2ack").replacen(
        "From: \"Jos\u{FFFD} M\u{FFFD}ller\" ",
        "From: ",
        1,
    );
    assert!(ack.contains("From: <sip:"), "{ack}");
    net.send_bytes(CARRIER, answerpoint::engine::Transport::Udp, &latin1(ack));
    net.request(SEAT1, "ACK");
    net.pending.clear();
    net.advance(std::time::Duration::from_secs(40));
    assert!(net.take(CARRIER, |s| s.status() == Some(200)).is_empty());
    assert_eq!(net.snapshot().calls[0].state, CallState::Connected);
    let bye = carrier_in_dialog(&cok.msg, "BYE", 2, "z9hG4bKlatin2bye").replacen(
        "From: \"Jos\u{FFFD} M\u{FFFD}ller\" ",
        "From: ",
        1,
    );
    assert!(bye.contains("From: <sip:"), "{bye}");
    net.send_bytes(CARRIER, answerpoint::engine::Transport::Udp, &latin1(bye));
    let hbye = net.request(SEAT1, "BYE").msg;
    net.send_msg(SEAT1, &handler_response(&hbye, 200, "OK", "h1", ""));
    assert_eq!(net.response(CARRIER, 200).msg.cseq().unwrap().method, "BYE");
}

#[test]
fn udp_999_over_a_lowered_message_limit_is_queued_without_its_body_101_gets_513() {
    // max_message_bytes may be configured as low as 1,024; a 999 INVITE datagram above it
    // whose header section fits is served without its body (as over TCP), not 513.
    let mut net = Net::new(&config("[limits]\nmax_message_bytes = 1100\n"));
    for s in ["seat1", "seat2"] {
        net.set_state(s, RequestedState::LoggedOut);
    }
    let big = invite_with_location("big999@c", "loc1@carrier.example", &multipart(&pidf()));
    let head_len = big.find("\r\n\r\n").unwrap() + 4;
    assert!(
        big.len() > 1100 && head_len < 1100,
        "{} {head_len}",
        big.len()
    );
    net.send(CARRIER, &big);
    net.response(CARRIER, 100);
    net.response(CARRIER, 180);
    let snap = net.snapshot();
    assert_eq!(snap.calls.len(), 1);
    assert_eq!(snap.calls[0].state, CallState::Queued);
    assert!(
        snap.calls[0].location_errors[0].starts_with("body dropped: too large"),
        "{:?}",
        snap.calls[0].location_errors
    );
    let mut n101 = invite_101("big101@c", "z9hG4bKbig101");
    n101.push_str(&"v".repeat(1200));
    net.send(CARRIER, &n101);
    net.response(CARRIER, 513);
    assert_eq!(net.snapshot().calls.len(), 1);
}
