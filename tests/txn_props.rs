//! Property tests for the RFC 3261 §17 machines: arbitrary input sequences in virtual time
//! never panic, `Terminated` is reported exactly once and last, and a terminated machine
//! has no timer armed and sends nothing more.

use std::time::{Duration, Instant};

use answerpoint::sip::transaction::{
    ClientEvent, InviteClient, InviteServer, NonInviteClient, NonInviteServer, Reliability,
    ServerEvent, TimerConfig, Trying,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Advance(u32),
    Timeout,
    Message(u16),
    Request,
    Ack,
    TransportError,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u32..40_000).prop_map(Op::Advance),
        Just(Op::Timeout),
        (90u16..710).prop_map(Op::Message),
        Just(Op::Request),
        Just(Op::Ack),
        Just(Op::TransportError),
    ]
}

fn reliability(reliable: bool) -> Reliability {
    if reliable {
        Reliability::Reliable
    } else {
        Reliability::Unreliable
    }
}

/// Checks the shared invariants on the event log of one run.
fn check_terminated<E: PartialEq + std::fmt::Debug>(events: &[E], terminated: &E, is_term: bool) {
    let n = events.iter().filter(|e| *e == terminated).count();
    assert_eq!(n, usize::from(is_term), "events: {events:?}");
    if is_term {
        assert_eq!(events.last(), Some(terminated));
    }
}

proptest! {
    #[test]
    fn invite_client_invariants(ops in prop::collection::vec(op(), 0..60), reliable: bool) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut c = InviteClient::new(t0, "INVITE".to_owned(), reliability(reliable), TimerConfig::default());
        let mut events = Vec::new();
        for op in ops {
            match op {
                Op::Advance(d) => now += Duration::from_millis(u64::from(d)),
                Op::Timeout => { if let Some(at) = c.poll_timeout() { now = now.max(at); c.handle_timeout(now); } }
                Op::Message(s) => { let _ = c.handle_response(now, s, s.to_string(), || "ACK".to_owned()); }
                Op::TransportError => c.handle_transport_error(now),
                Op::Request | Op::Ack => c.handle_timeout(now),
            }
            while c.poll_transmit().is_some() {}
            events.extend(std::iter::from_fn(|| c.poll_event()));
            if c.is_terminated() { prop_assert_eq!(c.poll_timeout(), None); }
        }
        check_terminated(&events, &ClientEvent::Terminated, c.is_terminated());
    }

    #[test]
    fn non_invite_client_invariants(ops in prop::collection::vec(op(), 0..60), reliable: bool) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut c = NonInviteClient::new(t0, "BYE".to_owned(), reliability(reliable), TimerConfig::default());
        let mut events = Vec::new();
        for op in ops {
            match op {
                Op::Advance(d) => now += Duration::from_millis(u64::from(d)),
                Op::Timeout => { if let Some(at) = c.poll_timeout() { now = now.max(at); c.handle_timeout(now); } }
                Op::Message(s) => { let _ = c.handle_response(now, s, s.to_string()); }
                Op::TransportError => c.handle_transport_error(now),
                Op::Request | Op::Ack => c.handle_timeout(now),
            }
            while c.poll_transmit().is_some() {}
            events.extend(std::iter::from_fn(|| c.poll_event()));
            if c.is_terminated() { prop_assert_eq!(c.poll_timeout(), None); }
        }
        check_terminated(&events, &ClientEvent::Terminated, c.is_terminated());
    }

    #[test]
    fn invite_server_invariants(ops in prop::collection::vec(op(), 0..60), reliable: bool) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut s = InviteServer::new(t0, reliability(reliable), TimerConfig::default(), Trying::Delayed("100".to_owned()));
        let mut events = Vec::new();
        let mut finals = 0;
        for op in ops {
            let was_terminated = s.is_terminated();
            match op {
                Op::Advance(d) => now += Duration::from_millis(u64::from(d)),
                Op::Timeout => { if let Some(at) = s.poll_timeout() { now = now.max(at); s.handle_timeout(now); } }
                Op::Message(code) => {
                    if s.send_response(now, code, code.to_string()).is_ok() && code >= 300 { finals += 1; }
                }
                Op::Request => s.handle_invite(now),
                Op::Ack => s.handle_ack(now, "ACK".to_owned()),
                Op::TransportError => s.handle_transport_error(now),
            }
            let sent: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
            if was_terminated { prop_assert!(sent.is_empty()); }
            events.extend(std::iter::from_fn(|| s.poll_event()));
            if s.is_terminated() { prop_assert_eq!(s.poll_timeout(), None); }
        }
        prop_assert!(finals <= 1, "at most one non-2xx final response accepted");
        check_terminated(&events, &ServerEvent::Terminated, s.is_terminated());
    }

    #[test]
    fn non_invite_server_invariants(ops in prop::collection::vec(op(), 0..60), reliable: bool) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut s = NonInviteServer::new(t0, reliability(reliable), TimerConfig::default());
        let mut events = Vec::new();
        let mut finals = 0;
        for op in ops {
            match op {
                Op::Advance(d) => now += Duration::from_millis(u64::from(d)),
                Op::Timeout => { if let Some(at) = s.poll_timeout() { now = now.max(at); s.handle_timeout(now); } }
                Op::Message(code) => {
                    if s.send_response(now, code, code.to_string()).is_ok() && code >= 200 { finals += 1; }
                }
                Op::Request | Op::Ack => s.handle_request(now),
                Op::TransportError => s.handle_transport_error(now),
            }
            while s.poll_transmit().is_some() {}
            events.extend(std::iter::from_fn(|| s.poll_event()));
            if s.is_terminated() { prop_assert_eq!(s.poll_timeout(), None); }
        }
        prop_assert!(finals <= 1);
        check_terminated(&events, &ServerEvent::Terminated, s.is_terminated());
    }
}
