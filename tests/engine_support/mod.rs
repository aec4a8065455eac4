//! Virtual-time harness for the engine tests: a fake carrier and fake handlers that build
//! SIP text, feed `handle_received`, advance time with `poll_timeout` / `handle_timeout`
//! and read `poll_transmit`. No sockets, no sleeping.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use answerpoint::config::Config;
use answerpoint::engine::{Engine, EngineEvent, Received, Snapshot, Transport};
use answerpoint::sip::{self, HeaderName, Message, MessageBuilder};

pub const ENGINE: &str = "127.0.0.1:5060";
pub const CARRIER: &str = "127.0.0.1:5070";
pub const SEAT1: &str = "127.0.0.1:5080";
pub const SEAT2: &str = "127.0.0.1:5081";
pub const PHONE: &str = "127.0.0.1:5090";
/// The overflow partner control room of [`overflowing_999`].
pub const PARTNER: &str = "127.0.0.1:5099";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
pub const HANDLER_SDP: &str = "v=0\r\no=h 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";

/// Two seats (seat1, seat2 on loopback), one user `alice` / `secret`, keepalive 30 s.
pub fn config(extra: &str) -> Config {
    let text = format!(
        r#"
[sip]
listen = ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]
carriers = ["127.0.0.0/8"]

[[seats]]
id = "seat1"
contact = "sip:seat1@127.0.0.1:5080"
skills = ["emergency", "non-emergency"]

[[seats]]
id = "seat2"
contact = "sip:seat2@127.0.0.1:5081"
skills = ["emergency", "non-emergency"]

[[users]]
name = "alice"
password = "secret"
skills = ["emergency", "non-emergency"]
{extra}
"#
    );
    Config::from_toml_str(&text).unwrap()
}

/// One message the engine sent, parsed.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Instant,
    pub transport: Transport,
    pub to: SocketAddr,
    pub msg: Message,
    /// The Via lines as sent when they do not parse: an error answer echoing a peer's
    /// malformed Via (`msg` is then the answer without its Via lines). Otherwise empty.
    pub unparsed_vias: Vec<String>,
}

impl Sent {
    pub fn status(&self) -> Option<u16> {
        self.msg.status_code()
    }
    pub fn method(&self) -> Option<String> {
        self.msg.method().map(|m| m.as_str().to_owned())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.msg.header(name)
    }
}

pub struct Net {
    pub engine: Engine,
    pub t0: Instant,
    pub now: Instant,
    /// Everything sent so far (never cleared), for timing checks.
    pub log: Vec<Sent>,
    /// Not yet consumed by `take`.
    pub pending: Vec<Sent>,
    pub events: Vec<EngineEvent>,
    seq: u64,
}

impl Net {
    pub fn new(config: &Config) -> Net {
        let t0 = Instant::now();
        let mut engine = Engine::new(config, t0);
        engine.set_local_address(Transport::Udp, addr(ENGINE));
        engine.set_local_address(Transport::Tcp, addr(ENGINE));
        let mut n = Net {
            engine,
            t0,
            now: t0,
            log: Vec::new(),
            pending: Vec::new(),
            events: Vec::new(),
            seq: 0,
        };
        n.collect();
        n
    }

    pub fn unique(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn collect(&mut self) {
        while let Some(t) = self.engine.poll_transmit() {
            // The engine's own limits: an emergency INVITE's body may use the whole
            // message limit.
            let limits = sip::Limits {
                max_body_bytes: sip::MAX_MESSAGE_BYTES,
                ..sip::Limits::default()
            };
            let (msg, unparsed_vias) = match sip::parse_with(&t.contents, &limits) {
                Ok(m) => (m, Vec::new()),
                Err(e) => {
                    // Only an error answer that echoes a peer's malformed Via may not
                    // parse, and only because of its Via lines.
                    let text = String::from_utf8_lossy(&t.contents);
                    let (vias, rest): (Vec<&str>, Vec<&str>) = text
                        .split_inclusive("\r\n")
                        .partition(|l| l.to_ascii_lowercase().starts_with("via:"));
                    let m = sip::parse_with(rest.concat().as_bytes(), &limits)
                        .unwrap_or_else(|_| panic!("engine sent an unparseable message: {e}"));
                    assert!(
                        m.status_code().is_some_and(|c| c >= 400),
                        "engine sent an unparseable message: {e}"
                    );
                    (m, vias.iter().map(|v| v.trim_end().to_owned()).collect())
                }
            };
            let s = Sent {
                at: self.now,
                transport: t.transport,
                to: t.destination,
                msg,
                unparsed_vias,
            };
            self.log.push(s.clone());
            self.pending.push(s);
        }
        while let Some(e) = self.engine.poll_event() {
            self.events.push(e);
        }
        // After every step of every flow: the live call views the engine keeps up to date
        // as calls change are exactly the views taken afresh from the records.
        assert_eq!(
            self.engine.snapshot(),
            self.engine.snapshot_from_scratch(),
            "kept call views differ from fresh ones"
        );
    }

    pub fn send_from(&mut self, from: &str, transport: Transport, text: &str) {
        self.send_bytes(from, transport, text.as_bytes());
    }

    /// Raw octets (not necessarily UTF-8) as one message from `from`.
    pub fn send_bytes(&mut self, from: &str, transport: Transport, bytes: &[u8]) {
        self.engine.handle_received(
            self.now,
            Received {
                transport,
                source: addr(from),
                local: addr(ENGINE),
                bytes,
            },
        );
        self.collect();
    }

    /// `text` as a stream message whose body the decoder skipped as too large: its
    /// header section goes to `handle_received_body_dropped` over TCP.
    pub fn send_tcp_body_too_large(&mut self, from: &str, text: &str, max: usize) {
        let head_end = text.find("\r\n\r\n").expect("a header section") + 4;
        let declared = text.len() - head_end;
        self.engine.handle_received_body_dropped(
            self.now,
            Received {
                transport: Transport::Tcp,
                source: addr(from),
                local: addr(ENGINE),
                bytes: &text.as_bytes()[..head_end],
            },
            sip::DroppedBody::TooLarge { declared, max },
        );
        self.collect();
    }

    pub fn send(&mut self, from: &str, text: &str) {
        self.send_from(from, Transport::Udp, text);
    }

    pub fn send_msg(&mut self, from: &str, msg: &Message) {
        let bytes = msg.to_bytes();
        self.engine.handle_received(
            self.now,
            Received {
                transport: Transport::Udp,
                source: addr(from),
                local: addr(ENGINE),
                bytes: &bytes,
            },
        );
        self.collect();
    }

    /// Runs every timer up to `now + d`, in order, then sets `now` to that instant.
    /// A supervisor's handler state change (`Command::SetHandlerState`), then what it
    /// sends (a CANCEL, an offer) is delivered. Panics if the engine refuses it.
    pub fn set_state(&mut self, handler: &str, state: answerpoint::queue::RequestedState) {
        let now = self.now;
        self.engine
            .handle_command(
                now,
                answerpoint::engine::Command::SetHandlerState {
                    handler: handler.into(),
                    state,
                },
            )
            .unwrap();
        self.advance(Duration::ZERO);
    }

    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.engine.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.engine.handle_timeout(self.now);
            self.collect();
        }
        self.now = end;
        self.engine.handle_timeout(self.now);
        self.collect();
    }

    /// Removes and returns pending messages to `to` matching `pred`.
    pub fn take(&mut self, to: &str, pred: impl Fn(&Sent) -> bool) -> Vec<Sent> {
        let to = addr(to);
        let (hit, keep): (Vec<Sent>, Vec<Sent>) =
            self.pending.drain(..).partition(|s| s.to == to && pred(s));
        self.pending = keep;
        hit
    }

    /// Removes and returns the single pending response with `status` to `to`.
    pub fn response(&mut self, to: &str, status: u16) -> Sent {
        let mut v = self.take(to, |s| s.status() == Some(status));
        assert!(
            !v.is_empty(),
            "no {status} to {to}; pending: {:?}",
            self.pending_summary()
        );
        v.remove(0)
    }

    /// Removes and returns the first pending request `method` to `to`.
    pub fn request(&mut self, to: &str, method: &str) -> Sent {
        let mut v = self.take(to, |s| s.method().as_deref() == Some(method));
        assert!(
            !v.is_empty(),
            "no {method} to {to}; pending: {:?}",
            self.pending_summary()
        );
        v.remove(0)
    }

    pub fn pending_summary(&self) -> Vec<String> {
        self.pending
            .iter()
            .map(|s| format!("{} -> {}", s.msg.start_line(), s.to))
            .collect()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.engine.snapshot()
    }

    pub fn secs(&self) -> f64 {
        (self.now - self.t0).as_secs_f64()
    }
}

/// A carrier INVITE. `extra` are whole header lines (each ending in CRLF).
pub fn invite(
    ruri: &str,
    call_id: &str,
    branch: &str,
    extra: &str,
    ct: &str,
    body: &str,
) -> String {
    let ctl = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Type: {ct}\r\n")
    };
    format!(
        "INVITE {ruri} SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\n\
Max-Forwards: 69\r\n\
From: <sip:+441632960001@carrier.example;user=phone>;tag=c-{call_id}\r\n\
To: <{ruri}>\r\n\
Call-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:carrier@127.0.0.1:5070>\r\n\
P-Asserted-Identity: <tel:+441632960001>\r\n\
{extra}{ctl}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A REGISTER from user alice at 127.0.0.1:5090 (RFC 3261 §10.2) with `contact`, `expires`
/// and, when answering a challenge, an `Authorization` header value.
pub fn register(seq: u32, branch: &str, contact: &str, expires: u32, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5090;branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@127.0.0.1>;tag=r1\r\n\
To: <sip:alice@127.0.0.1>\r\n\
Call-ID: reg-alice@phone\r\n\
CSeq: {seq} REGISTER\r\n\
Contact: {contact}\r\n\
Expires: {expires}\r\n\
{auth}Content-Length: 0\r\n\r\n"
    )
}

/// A plain 999 INVITE with SDP.
pub fn invite_999(call_id: &str, branch: &str) -> String {
    invite(
        "sip:999@127.0.0.1:5060;user=phone",
        call_id,
        branch,
        "",
        "application/sdp",
        SDP,
    )
}

/// A plain 101 INVITE with SDP.
pub fn invite_101(call_id: &str, branch: &str) -> String {
    invite(
        "sip:101@127.0.0.1:5060;user=phone",
        call_id,
        branch,
        "",
        "application/sdp",
        SDP,
    )
}

/// The carrier's ACK for a 2xx (new branch, To with the engine's tag, §13.2.2.4).
pub fn ack_for(ok: &Message, branch: &str) -> String {
    let to = ok.get(HeaderName::To).unwrap();
    let from = ok.get(HeaderName::From).unwrap();
    let call_id = ok.call_id().unwrap();
    let seq = ok.cseq().unwrap().seq;
    format!(
        "ACK sip:answerpoint@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {seq} ACK\r\nContent-Length: 0\r\n\r\n"
    )
}

/// CANCEL for a carrier INVITE text (same branch, §9.1).
pub fn cancel_for(call_id: &str, branch: &str, ruri: &str) -> String {
    format!(
        "CANCEL {ruri} SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:+441632960001@carrier.example;user=phone>;tag=c-{call_id}\r\n\
To: <{ruri}>\r\nCall-ID: {call_id}\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
    )
}

/// An in-dialog request from the carrier (after the 200 `ok`).
pub fn carrier_in_dialog(ok: &Message, method: &str, seq: u32, branch: &str) -> String {
    let to = ok.get(HeaderName::To).unwrap();
    let from = ok.get(HeaderName::From).unwrap();
    let call_id = ok.call_id().unwrap();
    format!(
        "{method} sip:answerpoint@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\n\
Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {seq} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A handler's response to an INVITE (or any request) it received.
pub fn handler_response(
    req: &Message,
    status: u16,
    reason: &str,
    tag: &str,
    contact: &str,
) -> Message {
    let mut b = MessageBuilder::response_to(req, status, reason).to_tag(tag);
    if (200..300).contains(&status) && req.method().map(|m| m.as_str()) == Some("INVITE") {
        b = b
            .header("Contact", &format!("<{contact}>"))
            .body("application/sdp", HANDLER_SDP.as_bytes().to_vec());
    }
    b.build().unwrap()
}

/// A plain response (no tag change) to a request the fake endpoint received.
pub fn plain_response(req: &Message, status: u16, reason: &str) -> Message {
    MessageBuilder::response_to(req, status, reason)
        .build()
        .unwrap()
}

/// A BYE from the handler in the dialog created by `invite` (received) and its 200 `ok`
/// (sent by the handler with `tag`).
pub fn handler_bye(invite: &Message, tag: &str, contact: &str) -> String {
    let from = invite.get(HeaderName::From).unwrap();
    let to = invite.get(HeaderName::To).unwrap();
    let call_id = invite.call_id().unwrap();
    format!(
        "BYE sip:answerpoint@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {contact};branch=z9hG4bKhbye{call_id}\r\n\
Max-Forwards: 70\r\nFrom: {to};tag={tag}\r\nTo: {from}\r\nCall-ID: {call_id}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
    )
}

/// An engine whose `[queue.emergency_overflow]` sends to `sip:partner@` [`PARTNER`] when
/// no handler is logged in, both seats logged out, and one 999 (`call_id`, `branch`)
/// already overflowed: returns the engine and the INVITE the partner received.
#[allow(dead_code)]
pub fn overflowing_999(call_id: &str, branch: &str) -> (Net, Message) {
    let mut net = Net::new(&config(
        "[queue.emergency_overflow]\ntarget_uri = \"sip:partner@127.0.0.1:5099\"\nwhen_no_handler_logged_in = true\n",
    ));
    net.set_state("seat1", answerpoint::queue::RequestedState::LoggedOut);
    net.set_state("seat2", answerpoint::queue::RequestedState::LoggedOut);
    net.send(CARRIER, &invite_999(call_id, branch));
    let inv = net.request(PARTNER, "INVITE").msg;
    (net, inv)
}

/// A carrier re-INVITE (CSeq `seq`) in the dialog of the 200 `ok`, with an SDP offer.
#[allow(dead_code)]
pub fn carrier_reinvite_with_sdp(ok: &Message, seq: u32, branch: &str) -> String {
    carrier_in_dialog(ok, "INVITE", seq, branch).replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
            SDP.len()
        ),
    )
}
