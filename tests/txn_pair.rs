//! An INVITE client and an INVITE server talking over a lossy, delayed network in virtual
//! time (quinn-proto style: two endpoints, one clock, no sockets). Checks that lost
//! messages are recovered by the RFC 3261 §17 retransmission timers alone.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use answerpoint::sip::transaction::{
    ClientEvent, InviteClient, InviteClientState, InviteServer, InviteServerState, Reliability,
    ServerEvent, TimerConfig, Trying,
};

const DELAY: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum To {
    Server,
    Client,
}

/// A deterministic lossy link: the n-th message in each direction is dropped if listed.
struct Net {
    in_flight: BTreeMap<(Instant, u64), (To, String)>,
    seq: u64,
    sent: [u32; 2],
    drop_to_server: Vec<u32>,
    drop_to_client: Vec<u32>,
    log: Vec<(u64, To, String, bool)>,
}

impl Net {
    fn send(&mut self, t0: Instant, now: Instant, to: To, msg: String) {
        let i = to as usize;
        self.sent[i] += 1;
        let n = self.sent[i];
        let dropped = match to {
            To::Server => self.drop_to_server.contains(&n),
            To::Client => self.drop_to_client.contains(&n),
        };
        self.log
            .push(((now - t0).as_millis() as u64, to, msg.clone(), dropped));
        if !dropped {
            self.seq += 1;
            self.in_flight.insert((now + DELAY, self.seq), (to, msg));
        }
    }
}

#[test]
fn lost_invites_and_lost_final_response_recovered_by_timers() {
    let t0 = Instant::now();
    let cfg = TimerConfig::default();
    let udp = Reliability::Unreliable;
    let mut net = Net {
        in_flight: BTreeMap::new(),
        seq: 0,
        sent: [0, 0],
        // The first two INVITEs are lost; so is the first copy of the 486.
        drop_to_server: vec![1, 2],
        drop_to_client: vec![2],
        log: Vec::new(),
    };
    let mut client = InviteClient::new(t0, "INVITE".to_owned(), udp, cfg);
    let mut server: Option<InviteServer<String>> = None;
    let mut tu_final_at: Option<Instant> = None;
    let mut client_events = Vec::new();
    let mut server_events = Vec::new();
    let mut now = t0;

    for _ in 0..1_000 {
        // Flush outputs onto the network.
        while let Some(m) = client.poll_transmit() {
            net.send(t0, now, To::Server, m);
        }
        if let Some(s) = server.as_mut() {
            while let Some(m) = s.poll_transmit() {
                net.send(t0, now, To::Client, m);
            }
            server_events.extend(std::iter::from_fn(|| s.poll_event()));
        }
        client_events.extend(std::iter::from_fn(|| client.poll_event()));

        // Next thing to happen.
        let candidates = [
            client.poll_timeout(),
            server.as_ref().and_then(|s| s.poll_timeout()),
            net.in_flight.keys().next().map(|(at, _)| *at),
            tu_final_at,
        ];
        let Some(next) = candidates.into_iter().flatten().min() else {
            break;
        };
        now = next;
        if let Some(key) = net.in_flight.keys().next().copied() {
            if key.0 == now {
                let (to, msg) = net.in_flight.remove(&key).unwrap();
                match to {
                    To::Server => match (&mut server, msg.as_str()) {
                        (None, "INVITE") => {
                            server = Some(InviteServer::new(
                                now,
                                udp,
                                cfg,
                                Trying::Immediate("100".into()),
                            ));
                            tu_final_at = Some(now + Duration::from_secs(2));
                        }
                        (Some(s), "INVITE") => s.handle_invite(now),
                        (Some(s), "ACK") => s.handle_ack(now, msg),
                        other => panic!("unexpected {other:?}"),
                    },
                    To::Client => {
                        let status: u16 = msg.parse().unwrap();
                        client
                            .handle_response(now, status, msg, || "ACK".to_owned())
                            .unwrap();
                    }
                }
                continue;
            }
        }
        if tu_final_at == Some(now) {
            tu_final_at = None;
            if let Some(s) = server.as_mut() {
                s.send_response(now, 486, "486".into()).unwrap();
            }
            continue;
        }
        client.handle_timeout(now);
        if let Some(s) = server.as_mut() {
            s.handle_timeout(now);
        }
    }

    let wire: Vec<(u64, &str, &str, bool)> = net
        .log
        .iter()
        .map(|(t, to, m, d)| {
            (
                *t,
                if *to == To::Server { "->" } else { "<-" },
                m.as_str(),
                *d,
            )
        })
        .collect();
    assert_eq!(
        wire,
        vec![
            (0, "->", "INVITE", true),     // lost
            (500, "->", "INVITE", true),   // Timer A (T1), lost
            (1500, "->", "INVITE", false), // Timer A (2·T1)
            (1510, "<-", "100", false),
            (3510, "<-", "486", true),  // TU's final response, lost
            (4010, "<-", "486", false), // Timer G (T1)
            (4020, "->", "ACK", false),
        ]
    );
    assert_eq!(client.state(), InviteClientState::Terminated);
    assert_eq!(
        server.as_ref().unwrap().state(),
        InviteServerState::Terminated
    );
    assert_eq!(
        client_events,
        vec![
            ClientEvent::Response {
                status: 100,
                response: "100".into()
            },
            ClientEvent::Response {
                status: 486,
                response: "486".into()
            },
            ClientEvent::Terminated
        ]
    );
    assert_eq!(server_events, vec![ServerEvent::Terminated]);
    // Client: Timer D = 32 s after the 486 arrived; server: Timer I = T4 after the ACK.
    assert_eq!(now - t0, Duration::from_millis(4_020 + 32_000));
}
