//! Ring-no-answer never silently empties the control room (DESIGN §6): handlers parked
//! NotReady("missed calls") after `queue.max_consecutive_misses` come back on their own
//! after `queue.rona_not_ready_s`, or when their device shows it is alive (an OPTIONS
//! keepalive from a seat, a REGISTER refresh from a softphone), and a waiting 999 is then
//! answered. Virtual time.

mod engine_support;

use std::time::Duration;

use answerpoint::engine::{Command, EngineEvent};
use answerpoint::queue::RequestedState;
use answerpoint::sip::digest::authorization_for;
use engine_support::*;

/// Every pending INVITE at the seats is refused with 486 (a miss); returns how many.
fn refuse_all(net: &mut Net) -> usize {
    let mut n = 0;
    for seat in [SEAT1, SEAT2] {
        for inv in net.take(seat, |s| s.method().as_deref() == Some("INVITE")) {
            net.send_msg(seat, &handler_response(&inv.msg, 486, "Busy Here", "x", ""));
            n += 1;
        }
    }
    n
}

fn state_of(net: &Net, id: &str) -> String {
    net.snapshot()
        .handlers
        .iter()
        .find(|h| &*h.id == id)
        .map(|h| h.state.to_owned())
        .unwrap()
}

fn notices(net: &Net) -> Vec<String> {
    net.events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Notice { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// All seats miss until both are parked; returns how many offers were refused.
fn park_both_seats(net: &mut Net) -> usize {
    let mut refused = 0;
    for _ in 0..10 {
        let n = refuse_all(net);
        if n == 0 {
            break;
        }
        refused += n;
    }
    assert_eq!(state_of(net, "seat1"), "not-ready");
    assert_eq!(state_of(net, "seat2"), "not-ready");
    refused
}

#[test]
fn all_seats_miss_999_waits_then_seats_return_automatically_and_answer() {
    let mut net = Net::new(&config("[queue]\nmax_consecutive_misses = 2\n"));
    net.send(CARRIER, &invite_999("rona-all@c", "z9hG4bKronaall"));
    // seat1, seat2, seat1, seat2: two misses each.
    assert_eq!(park_both_seats(&mut net), 4);
    let warnings: Vec<String> = notices(&net)
        .into_iter()
        .filter(|t| t.starts_with("WARNING handler") && t.contains("NOT READY"))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("returns to available automatically in 60 s"));

    // The 999 waits with fresh 180s; no seat is offered it for the 60 s default.
    net.advance(Duration::from_millis(59_900));
    assert!(net
        .take(SEAT1, |s| s.method().as_deref() == Some("INVITE"))
        .is_empty());
    assert!(net
        .take(SEAT2, |s| s.method().as_deref() == Some("INVITE"))
        .is_empty());
    assert_eq!(net.snapshot().queue.waiting.len(), 1);

    // Both seats return at 60 s; the 999 goes to the first one back and is answered.
    net.advance(Duration::from_millis(200));
    assert!(notices(&net)
        .iter()
        .any(|t| t.contains("back to available after a ring-no-answer")));
    let inv = net.request(SEAT1, "INVITE").msg;
    let ok = handler_response(&inv, 200, "OK", "h1", &format!("sip:h@{SEAT1}"));
    net.send_msg(SEAT1, &ok);
    let ok = net.response(CARRIER, 200);
    assert_eq!(ok.msg.call_id(), Some("rona-all@c"));
    assert_eq!(state_of(&net, "seat1"), "busy");
    assert_eq!(state_of(&net, "seat2"), "available");
    let snap = net.snapshot();
    assert_eq!(snap.calls[0].handler.as_deref(), Some("seat1"));
    assert_eq!(snap.calls[0].offers, 5);
}

#[test]
fn with_auto_return_off_an_options_keepalive_from_the_seat_returns_it() {
    let mut net = Net::new(&config(
        "[queue]\nmax_consecutive_misses = 1\nrona_not_ready_s = 0\n",
    ));
    net.send(CARRIER, &invite_999("rona-opt@c", "z9hG4bKronaopt"));
    assert_eq!(park_both_seats(&mut net), 2);
    assert!(notices(&net)
        .iter()
        .any(|t| t.contains("stays not-ready until set available")));
    // Nobody comes back by time alone.
    net.advance(Duration::from_secs(600));
    assert_eq!(state_of(&net, "seat2"), "not-ready");
    assert!(net
        .take(SEAT2, |s| s.method().as_deref() == Some("INVITE"))
        .is_empty());

    // seat2's phone sends its OPTIONS keepalive: it is back and gets the 999.
    net.send(
        SEAT2,
        "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5081;branch=z9hG4bKseat2opt\r\n\
Max-Forwards: 70\r\nFrom: <sip:seat2@127.0.0.1>;tag=o1\r\nTo: <sip:127.0.0.1:5060>\r\n\
Call-ID: opt-seat2@s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    let _ = net.response(SEAT2, 200);
    let inv = net.request(SEAT2, "INVITE").msg;
    net.send_msg(
        SEAT2,
        &handler_response(&inv, 200, "OK", "h2", &format!("sip:h@{SEAT2}")),
    );
    assert_eq!(net.response(CARRIER, 200).msg.call_id(), Some("rona-opt@c"));
    // seat1 sent nothing: still parked. A supervisor's NotReady is not undone by OPTIONS.
    assert_eq!(state_of(&net, "seat1"), "not-ready");
}

const ALICE_CONTACT: &str = "<sip:alice@127.0.0.1:5090>";

fn register_alice(net: &mut Net) {
    let n = net.unique() as u32;
    net.send(
        PHONE,
        &register(n * 2, &format!("z9hG4bKra{n}"), ALICE_CONTACT, 600, None),
    );
    let ch = net.response(PHONE, 401);
    let challenge = ch.msg.header_all("WWW-Authenticate").next().unwrap();
    let auth = authorization_for(
        challenge,
        "alice",
        "secret",
        "REGISTER",
        "sip:127.0.0.1:5060",
        "0a4f113b",
        1,
    )
    .unwrap();
    net.send(
        PHONE,
        &register(
            n * 2 + 1,
            &format!("z9hG4bKrb{n}"),
            ALICE_CONTACT,
            600,
            Some(&auth),
        ),
    );
    let _ = net.response(PHONE, 200);
}

#[test]
fn register_refresh_returns_a_parked_softphone_but_not_a_supervisor_not_ready() {
    let mut net = Net::new(&config(
        "[queue]\nmax_consecutive_misses = 1\nrona_not_ready_s = 0\n",
    ));
    for s in ["seat1", "seat2"] {
        net.engine
            .handle_command(
                net.now,
                Command::SetHandlerState {
                    handler: s.into(),
                    state: RequestedState::NotReady("break".into()),
                },
            )
            .unwrap();
    }
    register_alice(&mut net);
    net.send(CARRIER, &invite_999("rona-reg@c", "z9hG4bKronareg"));
    let inv = net.request(PHONE, "INVITE").msg;
    net.send_msg(PHONE, &handler_response(&inv, 486, "Busy Here", "a", ""));
    assert_eq!(state_of(&net, "alice"), "not-ready");
    net.advance(Duration::from_secs(120));
    assert_eq!(state_of(&net, "alice"), "not-ready");

    // The phone refreshes its registration: back, and the 999 rings it again.
    register_alice(&mut net);
    assert!(notices(&net)
        .iter()
        .any(|t| t.contains("alice: REGISTER refresh while not-ready")));
    let inv = net.request(PHONE, "INVITE").msg;
    net.send_msg(
        PHONE,
        &handler_response(&inv, 200, "OK", "a2", &format!("sip:alice@{PHONE}")),
    );
    assert_eq!(net.response(CARRIER, 200).msg.call_id(), Some("rona-reg@c"));
    // The seats' "break" is the supervisor's choice: untouched.
    assert_eq!(state_of(&net, "seat1"), "not-ready");
}
