//! REGISTER with digest (RFC 3261 §10.3, §22.4; RFC 8760 SHA-256 and MD5): challenge,
//! refusal, success creating a handler that then receives a call, Contact preserved
//! exactly, expiry logging the handler out.

mod engine_support;

use std::time::Duration;

use answerpoint::engine::{Command, EngineEvent};
use answerpoint::queue::RequestedState;
use answerpoint::sip::digest::authorization_for;
use engine_support::*;

const CONTACT: &str = "\"Alice\" <sip:alice@127.0.0.1:5090;transport=udp;rinstance=a1b2c3;ob>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1";

/// Challenge, then answer with `algorithm` and `password`; returns the final response.
fn register_with(
    net: &mut Net,
    algorithm: &str,
    password: &str,
    expires: u32,
) -> engine_support::Sent {
    let n = net.unique();
    net.send(
        PHONE,
        &register(
            n as u32 * 2,
            &format!("z9hG4bKr{n}a"),
            CONTACT,
            expires,
            None,
        ),
    );
    let ch = net.response(PHONE, 401);
    let challenges: Vec<&str> = ch.msg.header_all("WWW-Authenticate").collect();
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(challenges[0].contains("algorithm=SHA-256"));
    assert!(challenges[1].contains("algorithm=MD5"));
    let chosen = challenges
        .iter()
        .find(|c| c.contains(&format!("algorithm={algorithm}")))
        .unwrap();
    let auth = authorization_for(
        chosen,
        "alice",
        password,
        "REGISTER",
        "sip:127.0.0.1:5060",
        "0a4f113b",
        1,
    )
    .unwrap();
    net.send(
        PHONE,
        &register(
            n as u32 * 2 + 1,
            &format!("z9hG4bKr{n}b"),
            CONTACT,
            expires,
            Some(&auth),
        ),
    );
    let mut v = net.take(PHONE, |s| s.status().is_some());
    assert_eq!(v.len(), 1, "{:?}", net.pending_summary());
    v.remove(0)
}

fn log_out_seats(net: &mut Net) {
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

#[test]
fn register_without_credentials_is_challenged_and_wrong_password_refused() {
    let mut net = Net::new(&config(""));
    let r = register_with(&mut net, "SHA-256", "wrong", 600);
    assert_eq!(r.status(), Some(403));
    assert!(net.snapshot().registrations.is_empty());
    assert!(net.snapshot().handlers.iter().all(|h| &*h.id != "alice"));
}

#[test]
fn md5_registration_creates_handler_that_receives_a_call() {
    let mut net = Net::new(&config(""));
    log_out_seats(&mut net);
    let r = register_with(&mut net, "MD5", "secret", 600);
    assert_eq!(r.status(), Some(200));
    let snap = net.snapshot();
    // Contact params preserved exactly in the binding.
    assert_eq!(snap.registrations.len(), 1);
    assert_eq!(snap.registrations[0].contact, CONTACT);
    assert_eq!(snap.registrations[0].expires_in_s, 600);
    let alice = snap.handlers.iter().find(|h| &*h.id == "alice").unwrap();
    assert_eq!(alice.state, "available");
    assert!(!alice.seat);
    assert!(r.header("Contact").unwrap().starts_with(CONTACT));
    assert!(net.events.iter().any(
        |e| matches!(e, EngineEvent::Registered { user, contact, expires_s: 600 }
        if user == "alice" && contact == CONTACT)
    ));

    net.send(CARRIER, &invite_999("toalice@c", "z9hG4bKta"));
    let inv = net.request(PHONE, "INVITE").msg;
    // Request-URI is the registered Contact URI with all its parameters.
    assert_eq!(
        inv.request_uri_str(),
        Some("sip:alice@127.0.0.1:5090;transport=udp;rinstance=a1b2c3;ob")
    );
    let ok = handler_response(&inv, 200, "OK", "ph1", "sip:alice@127.0.0.1:5090");
    net.send_msg(PHONE, &ok);
    net.response(CARRIER, 200);
    assert_eq!(net.snapshot().calls[0].handler.as_deref(), Some("alice"));
}

#[test]
fn sha256_registration_then_expiry_logs_out() {
    let mut net = Net::new(&config(""));
    let r = register_with(&mut net, "SHA-256", "secret", 120);
    assert_eq!(r.status(), Some(200));
    let alice = |net: &Net| {
        net.snapshot()
            .handlers
            .into_iter()
            .find(|h| &*h.id == "alice")
            .unwrap()
            .state
    };
    assert_eq!(alice(&net), "available");
    net.advance(Duration::from_secs(119));
    assert_eq!(alice(&net), "available");
    net.advance(Duration::from_secs(2));
    assert_eq!(alice(&net), "logged-out");
    assert!(net.snapshot().registrations.is_empty());
    assert!(net
        .events
        .iter()
        .any(|e| matches!(e, EngineEvent::Unregistered { user } if user == "alice")));
}

#[test]
fn unregister_with_expires_zero_and_too_brief_interval() {
    let mut net = Net::new(&config(""));
    assert_eq!(
        register_with(&mut net, "MD5", "secret", 600).status(),
        Some(200)
    );
    let r = register_with(&mut net, "MD5", "secret", 0);
    assert_eq!(r.status(), Some(200));
    assert!(net.snapshot().registrations.is_empty());
    let alice = net
        .snapshot()
        .handlers
        .into_iter()
        .find(|h| &*h.id == "alice")
        .unwrap();
    assert_eq!(alice.state, "logged-out");
    let r = register_with(&mut net, "MD5", "secret", 10);
    assert_eq!(r.status(), Some(423));
    assert_eq!(r.header("Min-Expires"), Some("60"));
}
