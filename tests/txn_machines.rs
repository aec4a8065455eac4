//! RFC 3261 §17 transaction machines (plus RFC 6026 Accepted) driven in virtual time: a fixed
//! `Instant` base plus `Duration`s, no sleeps. Messages are plain strings.

use std::time::{Duration, Instant};

use answerpoint::sip::transaction::{
    ClientEvent, InviteClient, InviteClientState, InviteServer, InviteServerState, NonInviteClient,
    NonInviteClientState, NonInviteServer, NonInviteServerState, Reliability, ServerEvent,
    ServerKey, Timer, TimerConfig, TransactionError, Trying,
};

const UDP: Reliability = Reliability::Unreliable;
const TCP: Reliability = Reliability::Reliable;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The operations every machine shares, so one driver can run any of them.
trait Machine {
    type Event;
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self) -> Option<String>;
    fn poll_event(&mut self) -> Option<Self::Event>;
}

macro_rules! machine {
    ($t:ty, $e:ty) => {
        impl Machine for $t {
            type Event = $e;
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_transmit(&mut self) -> Option<String> {
                <$t>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<$e> {
                <$t>::poll_event(self)
            }
        }
    };
}
machine!(InviteClient<String>, ClientEvent<String>);
machine!(NonInviteClient<String>, ClientEvent<String>);
machine!(InviteServer<String>, ServerEvent<String>);
machine!(NonInviteServer<String>, ServerEvent<String>);

/// What happened while time ran: transmissions and events, each at its offset from `t0`.
#[derive(Debug, Default)]
struct Log<E> {
    sent: Vec<(Duration, String)>,
    events: Vec<(Duration, E)>,
}

fn drain<T: Machine>(m: &mut T, t0: Instant, now: Instant, log: &mut Log<T::Event>) {
    while let Some(msg) = m.poll_transmit() {
        log.sent.push((now - t0, msg));
    }
    while let Some(ev) = m.poll_event() {
        log.events.push((now - t0, ev));
    }
}

/// Jumps from timer to timer until `t0 + until` (inclusive), as a runtime would.
fn run<T: Machine>(m: &mut T, t0: Instant, until: Duration) -> Log<T::Event> {
    let mut log = Log {
        sent: Vec::new(),
        events: Vec::new(),
    };
    drain(m, t0, t0, &mut log);
    while let Some(at) = m.poll_timeout() {
        if at > t0 + until {
            break;
        }
        m.handle_timeout(at);
        drain(m, t0, at, &mut log);
    }
    log
}

fn offsets(sent: &[(Duration, String)]) -> Vec<u64> {
    sent.iter().map(|(d, _)| d.as_millis() as u64).collect()
}

fn no_ack() -> String {
    panic!("the ACK for a 2xx belongs to the TU, not the transaction")
}

// === INVITE client (Figure 5, RFC 6026) ===

#[test]
fn invite_client_lost_invite_retransmits_doubling_then_timer_b() {
    let t0 = Instant::now();
    let mut c = InviteClient::new(t0, "INVITE".to_owned(), UDP, TimerConfig::default());
    assert_eq!(c.timer(Timer::A), Some(t0 + ms(500)));
    assert_eq!(c.timer(Timer::B), Some(t0 + ms(32_000)));
    let log = run(&mut c, t0, ms(60_000));
    // original + Timer A at T1, 2T1, 4T1, 8T1, 16T1, 32T1 after the previous one (no cap).
    assert_eq!(
        offsets(&log.sent),
        vec![0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]
    );
    assert!(log.sent.iter().all(|(_, m)| m == "INVITE"));
    assert_eq!(
        log.events,
        vec![
            (ms(32_000), ClientEvent::Timeout),
            (ms(32_000), ClientEvent::Terminated)
        ]
    );
    assert_eq!(c.retransmissions(), 6);
    assert_eq!(c.state(), InviteClientState::Terminated);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn invite_client_reliable_has_no_timer_a_but_timer_b() {
    let t0 = Instant::now();
    let mut c = InviteClient::new(t0, "INVITE".to_owned(), TCP, TimerConfig::default());
    assert_eq!(c.timer(Timer::A), None);
    let log = run(&mut c, t0, ms(60_000));
    assert_eq!(offsets(&log.sent), vec![0]);
    assert_eq!(log.events[0], (ms(32_000), ClientEvent::Timeout));
}

#[test]
fn invite_client_timer_values_follow_t1() {
    let t0 = Instant::now();
    let cfg = TimerConfig {
        t1_ms: 100,
        t2_ms: 400,
        t4_ms: 1000,
    };
    let mut c = InviteClient::new(t0, "INVITE".to_owned(), UDP, cfg);
    let log = run(&mut c, t0, ms(10_000));
    assert_eq!(
        offsets(&log.sent),
        vec![0, 100, 300, 700, 1_500, 3_100, 6_300]
    );
    assert_eq!(log.events[0], (ms(6_400), ClientEvent::Timeout));
}

#[test]
fn invite_client_late_timeout_call_keeps_schedule() {
    let t0 = Instant::now();
    let mut c = InviteClient::new(t0, "INVITE".to_owned(), UDP, TimerConfig::default());
    assert_eq!(c.poll_transmit().as_deref(), Some("INVITE"));
    // The runtime wakes late, at 2 s: both due retransmissions (0.5 s, 1.5 s) go out and
    // the next one is still at 3.5 s.
    c.handle_timeout(t0 + ms(2_000));
    assert_eq!(c.retransmissions(), 2);
    assert_eq!(c.poll_timeout(), Some(t0 + ms(3_500)));
}

#[test]
fn invite_client_provisional_stops_retransmission_and_timer_b() {
    let t0 = Instant::now();
    let mut c = InviteClient::new(t0, "INVITE".to_owned(), UDP, TimerConfig::default());
    let log = run(&mut c, t0, ms(1_000));
    assert_eq!(offsets(&log.sent), vec![0, 500]);
    c.handle_response(t0 + ms(1_000), 100, "100".into(), no_ack)
        .unwrap();
    c.handle_response(t0 + ms(1_200), 180, "180".into(), no_ack)
        .unwrap();
    assert_eq!(c.state(), InviteClientState::Proceeding);
    assert_eq!(c.poll_timeout(), None, "no Timer A/B in Proceeding");
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Response {
            status: 100,
            response: "100".into()
        })
    );
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Response {
            status: 180,
            response: "180".into()
        })
    );
    assert_eq!(c.poll_transmit(), None);
}

#[test]
fn invite_client_non_2xx_is_acked_and_retransmissions_reacked_until_timer_d() {
    let t0 = Instant::now();
    let mut c = InviteClient::new(t0, "INVITE".to_owned(), UDP, TimerConfig::default());
    c.poll_transmit();
    c.handle_response(t0 + ms(100), 180, "180".into(), no_ack)
        .unwrap();
    let mut built = 0;
    c.handle_response(t0 + ms(5_000), 486, "486".into(), || {
        built += 1;
        "ACK".to_owned()
    })
    .unwrap();
    assert_eq!(c.state(), InviteClientState::Completed);
    assert_eq!(c.poll_transmit().as_deref(), Some("ACK"));
    assert_eq!(c.timer(Timer::D), Some(t0 + ms(37_000)));
    // The 486 is retransmitted (our ACK was lost): the same ACK again, the TU hears nothing.
    c.handle_response(t0 + ms(5_500), 486, "486".into(), || {
        built += 1;
        "ACK2".to_owned()
    })
    .unwrap();
    assert_eq!(built, 1, "ACK built once, re-sent from store");
    assert_eq!(c.poll_transmit().as_deref(), Some("ACK"));
    let evs: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(
        evs,
        vec![
            ClientEvent::Response {
                status: 180,
                response: "180".into()
            },
            ClientEvent::Response {
                status: 486,
                response: "486".into()
            }
        ]
    );
    let log = run(&mut c, t0, ms(100_000));
    assert_eq!(log.events, vec![(ms(37_000), ClientEvent::Terminated)]);
}

#[test]
fn invite_client_reliable_non_2xx_terminates_at_once() {
    let t0 = Instant::now();
    let mut c = InviteClient::new(t0, "INVITE".to_owned(), TCP, TimerConfig::default());
    c.poll_transmit();
    c.handle_response(t0 + ms(10), 503, "503".into(), || "ACK".into())
        .unwrap();
    assert_eq!(c.poll_transmit().as_deref(), Some("ACK"));
    assert_eq!(c.state(), InviteClientState::Terminated);
    assert_eq!(c.timer(Timer::D), None);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn invite_client_2xx_enters_accepted_and_passes_every_2xx_until_timer_m() {
    let t0 = Instant::now();
    let mut c = InviteClient::new(t0, "INVITE".to_owned(), UDP, TimerConfig::default());
    c.poll_transmit();
    c.handle_response(t0 + ms(300), 200, "200a".into(), no_ack)
        .unwrap();
    assert_eq!(c.state(), InviteClientState::Accepted);
    assert_eq!(c.timer(Timer::A), None);
    assert_eq!(c.timer(Timer::M), Some(t0 + ms(300 + 32_000)));
    // A 2xx retransmission and a 2xx from another fork both reach the TU (RFC 6026 §7.2).
    c.handle_response(t0 + ms(800), 200, "200a".into(), no_ack)
        .unwrap();
    c.handle_response(t0 + ms(900), 200, "200b".into(), no_ack)
        .unwrap();
    // A late non-2xx is absorbed.
    c.handle_response(t0 + ms(950), 486, "486".into(), no_ack)
        .unwrap();
    assert_eq!(c.poll_transmit(), None, "the 2xx ACK is the TU's");
    let log = run(&mut c, t0, ms(100_000));
    let statuses: Vec<_> = log
        .events
        .iter()
        .map(|(at, e)| match e {
            ClientEvent::Response { response, .. } => (at.as_millis(), response.clone()),
            other => (at.as_millis(), format!("{other:?}")),
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (0, "200a".to_owned()),
            (0, "200a".to_owned()),
            (0, "200b".to_owned()),
            (32_300, "Terminated".to_owned())
        ]
    );
}

#[test]
fn invite_client_transport_error_informs_tu() {
    let t0 = Instant::now();
    let mut c = InviteClient::new(t0, "INVITE".to_owned(), TCP, TimerConfig::default());
    c.handle_transport_error(t0);
    assert_eq!(c.state(), InviteClientState::Terminated);
    let evs: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(
        evs,
        vec![ClientEvent::TransportError, ClientEvent::Terminated]
    );
}

#[test]
fn invalid_status_is_a_typed_error() {
    let t0 = Instant::now();
    let mut c = InviteClient::new(t0, "INVITE".to_owned(), UDP, TimerConfig::default());
    assert_eq!(
        c.handle_response(t0, 99, "x".into(), no_ack),
        Err(TransactionError::InvalidStatus(99))
    );
    let mut s = NonInviteServer::<String>::new(t0, UDP, TimerConfig::default());
    assert_eq!(
        s.send_response(t0, 700, "x".into()),
        Err(TransactionError::InvalidStatus(700))
    );
    assert_eq!(c.state(), InviteClientState::Calling);
}

// === non-INVITE client (Figure 6) ===

#[test]
fn non_invite_client_timer_e_doubles_capped_at_t2_then_timer_f() {
    let t0 = Instant::now();
    let mut c = NonInviteClient::new(t0, "BYE".to_owned(), UDP, TimerConfig::default());
    let log = run(&mut c, t0, ms(60_000));
    assert_eq!(
        offsets(&log.sent),
        vec![0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(
        log.events,
        vec![
            (ms(32_000), ClientEvent::Timeout),
            (ms(32_000), ClientEvent::Terminated)
        ]
    );
    assert_eq!(c.retransmissions(), 10);
}

#[test]
fn non_invite_client_proceeding_retransmits_every_t2_and_still_times_out() {
    let t0 = Instant::now();
    let mut c = NonInviteClient::new(t0, "REGISTER".to_owned(), UDP, TimerConfig::default());
    let mut log = run(&mut c, t0, ms(600));
    c.handle_response(t0 + ms(600), 100, "100".into()).unwrap();
    assert_eq!(c.state(), NonInviteClientState::Proceeding);
    let rest = run(&mut c, t0, ms(60_000));
    log.sent.extend(rest.sent);
    // E at 0.5 s (Trying); then at 1.5 s the pending E fires in Proceeding and is reset to T2.
    assert_eq!(
        offsets(&log.sent),
        vec![0, 500, 1_500, 5_500, 9_500, 13_500, 17_500, 21_500, 25_500, 29_500]
    );
    assert_eq!(
        rest.events,
        vec![
            (
                ms(0),
                ClientEvent::Response {
                    status: 100,
                    response: "100".into()
                }
            ),
            (ms(32_000), ClientEvent::Timeout),
            (ms(32_000), ClientEvent::Terminated)
        ]
    );
}

#[test]
fn non_invite_client_final_response_then_timer_k() {
    let t0 = Instant::now();
    let mut c = NonInviteClient::new(t0, "OPTIONS".to_owned(), UDP, TimerConfig::default());
    c.poll_transmit();
    c.handle_response(t0 + ms(200), 200, "200".into()).unwrap();
    assert_eq!(c.state(), NonInviteClientState::Completed);
    assert_eq!(c.timer(Timer::E), None);
    assert_eq!(c.timer(Timer::F), None);
    assert_eq!(c.timer(Timer::K), Some(t0 + ms(5_200)));
    c.handle_response(t0 + ms(700), 200, "200".into()).unwrap(); // retransmission absorbed
    let log = run(&mut c, t0, ms(60_000));
    assert_eq!(
        log.events,
        vec![
            (
                ms(0),
                ClientEvent::Response {
                    status: 200,
                    response: "200".into()
                }
            ),
            (ms(5_200), ClientEvent::Terminated)
        ]
    );
    assert!(log.sent.is_empty());
}

#[test]
fn non_invite_client_reliable_no_timer_e_and_k_is_zero() {
    let t0 = Instant::now();
    let mut c = NonInviteClient::new(t0, "BYE".to_owned(), TCP, TimerConfig::default());
    assert_eq!(c.timer(Timer::E), None);
    assert_eq!(c.timer(Timer::F), Some(t0 + ms(32_000)));
    c.handle_response(t0 + ms(50), 200, "200".into()).unwrap();
    assert_eq!(c.state(), NonInviteClientState::Terminated);
    assert_eq!(c.poll_timeout(), None);
}

// === INVITE server (Figure 7, RFC 6026) ===

#[test]
fn invite_server_sends_100_after_200ms_if_tu_is_silent() {
    let t0 = Instant::now();
    let mut s = InviteServer::new(
        t0,
        UDP,
        TimerConfig::default(),
        Trying::Delayed("100".to_owned()),
    );
    let log = run(&mut s, t0, ms(1_000));
    assert_eq!(log.sent, vec![(ms(200), "100".to_owned())]);
    assert_eq!(s.state(), InviteServerState::Proceeding);
}

#[test]
fn invite_server_no_100_when_tu_responds_within_200ms() {
    let t0 = Instant::now();
    let mut s = InviteServer::new(
        t0,
        UDP,
        TimerConfig::default(),
        Trying::Delayed("100".to_owned()),
    );
    s.send_response(t0 + ms(150), 180, "180".into()).unwrap();
    let log = run(&mut s, t0, ms(10_000));
    assert_eq!(log.sent, vec![(ms(0), "180".to_owned())]);
    assert_eq!(s.timer(Timer::Trying), None);
}

#[test]
fn invite_server_immediate_100_and_retransmission_before_delay() {
    let t0 = Instant::now();
    let mut s = InviteServer::new(
        t0,
        UDP,
        TimerConfig::default(),
        Trying::Immediate("100".to_owned()),
    );
    assert_eq!(s.poll_transmit().as_deref(), Some("100"));
    assert_eq!(s.poll_timeout(), None);

    // Delayed, but the INVITE is retransmitted at 100 ms: the pending 100 goes out now.
    let mut d = InviteServer::new(
        t0,
        UDP,
        TimerConfig::default(),
        Trying::Delayed("100".to_owned()),
    );
    d.handle_invite(t0 + ms(100));
    assert_eq!(d.poll_transmit().as_deref(), Some("100"));
    assert_eq!(d.poll_timeout(), None);
    d.handle_invite(t0 + ms(600));
    assert_eq!(d.poll_transmit().as_deref(), Some("100"));
    assert_eq!(d.poll_transmit(), None);

    // ByTu: nothing from the transaction itself.
    let mut b = InviteServer::<String>::new(t0, UDP, TimerConfig::default(), Trying::ByTu);
    assert_eq!(b.poll_transmit(), None);
    assert_eq!(b.poll_timeout(), None);
}

#[test]
fn invite_server_absorbs_retransmitted_invites_with_latest_provisional() {
    let t0 = Instant::now();
    let mut s = InviteServer::new(
        t0,
        UDP,
        TimerConfig::default(),
        Trying::Immediate("100".to_owned()),
    );
    s.poll_transmit();
    s.send_response(t0 + ms(10), 180, "180".into()).unwrap();
    s.poll_transmit();
    // A call queued for minutes: the carrier retransmits the INVITE (T1, 2T1, …).
    for at in [500, 1_500, 3_500, 7_500, 15_500, 31_500] {
        s.handle_invite(t0 + ms(at));
        assert_eq!(s.poll_transmit().as_deref(), Some("180"));
    }
    s.send_response(t0 + ms(60_000), 182, "182".into()).unwrap();
    s.poll_transmit();
    s.handle_invite(t0 + ms(60_100));
    assert_eq!(s.poll_transmit().as_deref(), Some("182"));
    assert_eq!(s.absorbed(), 7);
    assert_eq!(s.response_retransmissions(), 7);
    assert_eq!(s.poll_event(), None, "retransmissions never reach the TU");
    assert_eq!(s.state(), InviteServerState::Proceeding);
}

#[test]
fn invite_server_final_non_2xx_timer_g_doubles_capped_then_timer_h() {
    let t0 = Instant::now();
    let mut s = InviteServer::<String>::new(t0, UDP, TimerConfig::default(), Trying::ByTu);
    s.send_response(t0, 486, "486".into()).unwrap();
    assert_eq!(s.state(), InviteServerState::Completed);
    let log = run(&mut s, t0, ms(60_000));
    assert_eq!(
        offsets(&log.sent),
        vec![0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(
        log.events,
        vec![
            (ms(32_000), ServerEvent::Timeout),
            (ms(32_000), ServerEvent::Terminated)
        ]
    );
}

#[test]
fn invite_server_ack_stops_timer_g_then_timer_i() {
    let t0 = Instant::now();
    let mut s = InviteServer::<String>::new(t0, UDP, TimerConfig::default(), Trying::ByTu);
    s.send_response(t0, 404, "404".into()).unwrap();
    let mut log = run(&mut s, t0, ms(2_000));
    // The INVITE is retransmitted in Completed: the final goes out again.
    s.handle_invite(t0 + ms(2_000));
    assert_eq!(s.poll_transmit().as_deref(), Some("404"));
    s.handle_ack(t0 + ms(2_100), "ACK".into());
    assert_eq!(s.state(), InviteServerState::Confirmed);
    assert_eq!(s.timer(Timer::G), None);
    assert_eq!(s.timer(Timer::H), None);
    assert_eq!(s.timer(Timer::I), Some(t0 + ms(7_100)));
    s.handle_ack(t0 + ms(2_200), "ACK".into()); // ACK retransmission absorbed
    let rest = run(&mut s, t0, ms(60_000));
    log.sent.extend(rest.sent.iter().cloned());
    assert_eq!(offsets(&log.sent), vec![0, 500, 1_500]);
    assert_eq!(rest.events, vec![(ms(7_100), ServerEvent::Terminated)]);
}

#[test]
fn invite_server_reliable_no_timer_g_and_i_is_zero() {
    let t0 = Instant::now();
    let mut s = InviteServer::<String>::new(t0, TCP, TimerConfig::default(), Trying::ByTu);
    s.send_response(t0, 480, "480".into()).unwrap();
    assert_eq!(s.timer(Timer::G), None);
    assert_eq!(s.timer(Timer::H), Some(t0 + ms(32_000)));
    s.handle_ack(t0 + ms(40), "ACK".into());
    assert_eq!(s.state(), InviteServerState::Terminated);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn invite_server_2xx_accepted_state_rfc6026() {
    let t0 = Instant::now();
    let mut s = InviteServer::new(
        t0,
        UDP,
        TimerConfig::default(),
        Trying::Immediate("100".to_owned()),
    );
    s.send_response(t0 + ms(8_000), 200, "200".into()).unwrap();
    assert_eq!(s.state(), InviteServerState::Accepted);
    assert_eq!(s.timer(Timer::L), Some(t0 + ms(40_000)));
    assert_eq!(
        s.timer(Timer::G),
        None,
        "2xx retransmission is the TU's job"
    );
    assert_eq!(s.poll_transmit().as_deref(), Some("100"));
    assert_eq!(s.poll_transmit().as_deref(), Some("200"));
    // A retransmitted INVITE is absorbed silently: nothing sent, nothing to the TU.
    s.handle_invite(t0 + ms(8_300));
    assert_eq!(s.poll_transmit(), None);
    // The TU retransmits its 2xx through the transaction.
    s.send_response(t0 + ms(8_500), 200, "200".into()).unwrap();
    assert_eq!(s.poll_transmit().as_deref(), Some("200"));
    // The ACK for the 2xx goes to the TU.
    s.handle_ack(t0 + ms(8_600), "ACK".into());
    assert_eq!(s.poll_event(), Some(ServerEvent::Ack("ACK".into())));
    // No second kind of final response.
    assert_eq!(
        s.send_response(t0 + ms(9_000), 486, "486".into()),
        Err(TransactionError::ResponseNotAllowed {
            status: 486,
            state: "Accepted"
        })
    );
    let log = run(&mut s, t0, ms(100_000));
    assert_eq!(log.events, vec![(ms(40_000), ServerEvent::Terminated)]);
}

#[test]
fn cancel_while_queued_gives_487_then_ack_confirms() {
    // A 999 call waits in the queue; the caller hangs up (CANCEL). RFC 3261 §9.2.
    let t0 = Instant::now();
    let cfg = TimerConfig::default();
    let invite_key = ServerKey::new("z9hG4bK74bf9", "carrier.example:5060", "INVITE").unwrap();
    let mut invite = InviteServer::new(t0, UDP, cfg, Trying::Immediate("100".to_owned()));
    invite.send_response(t0 + ms(5), 180, "180".into()).unwrap();

    let cancel_key = ServerKey::new("z9hG4bK74bf9", "carrier.example:5060", "CANCEL").unwrap();
    assert_ne!(
        cancel_key, invite_key,
        "CANCEL has its own server transaction"
    );
    assert_eq!(cancel_key.cancel_target(), invite_key);
    let mut cancel = NonInviteServer::new(t0 + ms(20_000), UDP, cfg);
    assert!(invite.is_cancellable());
    cancel
        .send_response(t0 + ms(20_000), 200, "200-CANCEL".into())
        .unwrap();
    invite
        .send_response(t0 + ms(20_000), 487, "487".into())
        .unwrap();
    assert!(!invite.is_cancellable());
    assert_eq!(cancel.poll_transmit().as_deref(), Some("200-CANCEL"));
    let sent: Vec<_> = std::iter::from_fn(|| invite.poll_transmit()).collect();
    assert_eq!(sent, vec!["100", "180", "487"]);

    // The carrier's ACK for the 487 matches the INVITE transaction.
    let ack_key = ServerKey::new("z9hG4bK74bf9", "carrier.example:5060", "ACK").unwrap();
    assert_eq!(ack_key, invite_key);
    invite.handle_ack(t0 + ms(20_050), "ACK".into());
    assert_eq!(invite.state(), InviteServerState::Confirmed);
    // A CANCEL retransmission is answered again with its 200.
    cancel.handle_request(t0 + ms(20_500));
    assert_eq!(cancel.poll_transmit().as_deref(), Some("200-CANCEL"));

    let inv_log = run(&mut invite, t0, ms(100_000));
    assert_eq!(inv_log.events, vec![(ms(25_050), ServerEvent::Terminated)]);
    let can_log = run(&mut cancel, t0, ms(100_000));
    assert_eq!(can_log.events, vec![(ms(52_000), ServerEvent::Terminated)]);
}

#[test]
fn invite_server_transport_error() {
    let t0 = Instant::now();
    let mut s = InviteServer::new(
        t0,
        TCP,
        TimerConfig::default(),
        Trying::Immediate("100".to_owned()),
    );
    s.handle_transport_error(t0 + ms(1));
    assert_eq!(s.state(), InviteServerState::Terminated);
    assert_eq!(s.poll_event(), Some(ServerEvent::TransportError));
    assert_eq!(s.poll_event(), Some(ServerEvent::Terminated));
    assert_eq!(s.poll_event(), None);
}

// === non-INVITE server (Figure 8) ===

#[test]
fn non_invite_server_absorbs_retransmissions_in_every_state() {
    let t0 = Instant::now();
    let mut s = NonInviteServer::new(t0, UDP, TimerConfig::default());
    s.handle_request(t0 + ms(500)); // Trying: discarded
    assert_eq!(s.poll_transmit(), None);
    s.send_response(t0 + ms(600), 100, "100".into()).unwrap();
    assert_eq!(s.state(), NonInviteServerState::Proceeding);
    s.handle_request(t0 + ms(1_500));
    s.send_response(t0 + ms(2_000), 200, "200".into()).unwrap();
    assert_eq!(s.state(), NonInviteServerState::Completed);
    assert_eq!(s.timer(Timer::J), Some(t0 + ms(34_000)));
    s.handle_request(t0 + ms(3_500));
    let sent: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(sent, vec!["100", "100", "200", "200"]);
    assert_eq!(s.absorbed(), 3);
    assert_eq!(
        s.send_response(t0 + ms(4_000), 500, "500".into()),
        Err(TransactionError::ResponseNotAllowed {
            status: 500,
            state: "Completed"
        })
    );
    let log = run(&mut s, t0, ms(100_000));
    assert_eq!(log.events, vec![(ms(34_000), ServerEvent::Terminated)]);
}

#[test]
fn non_invite_server_reliable_j_is_zero() {
    let t0 = Instant::now();
    let mut s = NonInviteServer::<String>::new(t0, TCP, TimerConfig::default());
    s.send_response(t0, 200, "200".into()).unwrap();
    assert_eq!(s.state(), NonInviteServerState::Terminated);
    assert_eq!(s.poll_transmit().as_deref(), Some("200"));
    assert_eq!(s.poll_timeout(), None);
}
