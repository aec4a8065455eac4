//! Engine cost of one complete call, sans-IO, for instruction counting under callgrind:
//! carrier INVITE → 100/180 → handler INVITE → handler 180, 200 → ACK to the handler and
//! 200 to the carrier → carrier ACK → carrier BYE → 200 and BYE to the handler → handler
//! 200. The fake peers answer with text spliced from the engine's own messages (no SIP
//! parser in the harness, so the count is the engine's).
//!
//! Instructions per call = (Ir with `AP_CALLS=2200`) − (Ir with `AP_CALLS=200`), ÷ 2000:
//! ```text
//! cargo bench --bench engine_call --no-run
//! AP_CALLS=200  valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.200  target/release/deps/engine_call-*
//! AP_CALLS=2200 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.2200 target/release/deps/engine_call-*
//! ```
//! Without valgrind it prints the wall time per call (noisy on a shared machine).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use answerpoint::config::Config;
use answerpoint::engine::{Engine, Received, Transport};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn config() -> Config {
    Config::from_toml_str(
        r#"
[sip]
listen = ["udp:127.0.0.1:5060"]
carriers = ["127.0.0.0/8"]
[queue]
wrap_up_s = { emergency = 0, non-emergency = 0, admin = 0 }
[[seats]]
id = "seat1"
contact = "sip:seat1@127.0.0.1:5080"
skills = ["emergency"]
[[seats]]
id = "seat2"
contact = "sip:seat2@127.0.0.1:5081"
skills = ["emergency"]
"#,
    )
    .expect("bench config")
}

fn invite(i: u64) -> String {
    format!(
        "INVITE sip:999@127.0.0.1:5060;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKcall{i};rport\r\n\
Max-Forwards: 69\r\n\
From: <sip:+441632960001@carrier.example;user=phone>;tag=c{i}\r\n\
To: <sip:999@127.0.0.1:5060;user=phone>\r\n\
Call-ID: call{i}@carrier.example\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:carrier@127.0.0.1:5070>\r\n\
P-Asserted-Identity: <tel:+441632960001>\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

/// The value of header `name` (full name, as the engine writes it).
fn hdr<'a>(msg: &'a str, name: &str) -> &'a str {
    let key = format!("\r\n{name}: ");
    let at = msg.find(&key).expect("header") + key.len();
    let end = msg[at..].find("\r\n").expect("line end") + at;
    &msg[at..end]
}

/// A response to `req` with `status`, adding `to_tag` and optional SDP.
fn respond(req: &str, status: &str, to_tag: Option<&str>, sdp: Option<SocketAddr>) -> String {
    let to = match to_tag {
        Some(t) if !hdr(req, "To").contains(";tag=") => format!("{};tag={t}", hdr(req, "To")),
        _ => hdr(req, "To").to_owned(),
    };
    let body = if sdp.is_some() { SDP } else { "" };
    let ct = match sdp {
        Some(a) => format!("Content-Type: application/sdp\r\nContact: <sip:h@{a}>\r\n"),
        None => String::new(),
    };
    format!(
        "SIP/2.0 {status}\r\nVia: {}\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        hdr(req, "Via"),
        hdr(req, "From"),
        hdr(req, "Call-ID"),
        hdr(req, "CSeq"),
        body.len()
    )
}

struct Net {
    engine: Engine,
    now: Instant,
    out: Vec<(SocketAddr, String)>,
}

impl Net {
    fn feed(&mut self, from: SocketAddr, text: &str) {
        self.engine.handle_received(
            self.now,
            Received {
                transport: Transport::Udp,
                source: from,
                local: "127.0.0.1:5060".parse().expect("addr"),
                bytes: text.as_bytes(),
            },
        );
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(t) = self.engine.poll_transmit() {
            self.out
                .push((t.destination, String::from_utf8(t.contents).expect("utf-8")));
        }
        while self.engine.poll_event().is_some() {}
    }

    fn take(&mut self, to: SocketAddr, start: &str) -> String {
        let i = self
            .out
            .iter()
            .position(|(d, m)| *d == to && m.starts_with(start))
            .unwrap_or_else(|| panic!("no {start} to {to}"));
        self.out.remove(i).1
    }

    fn tick(&mut self, d: Duration) {
        self.now += d;
        while let Some(t) = self.engine.poll_timeout() {
            if t > self.now {
                break;
            }
            self.engine.handle_timeout(self.now);
            self.drain();
        }
        self.out.clear();
    }
}

fn one_call(net: &mut Net, i: u64) {
    let carrier: SocketAddr = "127.0.0.1:5070".parse().expect("addr");
    let seats: [SocketAddr; 2] = [
        "127.0.0.1:5080".parse().expect("addr"),
        "127.0.0.1:5081".parse().expect("addr"),
    ];
    net.feed(carrier, &invite(i));
    let (seat, inv) = seats
        .iter()
        .find_map(|s| {
            let p = net
                .out
                .iter()
                .position(|(d, m)| d == s && m.starts_with("INVITE "))?;
            Some((*s, net.out.remove(p).1))
        })
        .expect("handler INVITE");
    let tag = format!("h{i}");
    net.feed(seat, &respond(&inv, "180 Ringing", Some(&tag), None));
    net.feed(seat, &respond(&inv, "200 OK", Some(&tag), Some(seat)));
    let _ack = net.take(seat, "ACK ");
    let ok = net.take(carrier, "SIP/2.0 200");
    let to = hdr(&ok, "To").to_owned();
    let from = hdr(&ok, "From").to_owned();
    let call_id = hdr(&ok, "Call-ID").to_owned();
    for (method, seq) in [("ACK", 1), ("BYE", 2)] {
        net.feed(
            carrier,
            &format!(
                "{method} sip:answerpoint@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{method}{i};rport\r\n\
Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {seq} {method}\r\nContent-Length: 0\r\n\r\n"
            ),
        );
    }
    let bye = net.take(seat, "BYE ");
    net.feed(seat, &respond(&bye, "200 OK", None, None));
    net.out.clear();
    net.tick(Duration::from_millis(100));
}

fn main() {
    let calls: u64 = std::env::var("AP_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let t0 = Instant::now();
    let mut net = Net {
        engine: Engine::new(&config(), t0),
        now: t0,
        out: Vec::new(),
    };
    net.engine
        .set_local_address(Transport::Udp, "127.0.0.1:5060".parse().expect("addr"));
    net.drain();
    let wall = Instant::now();
    for i in 0..calls {
        one_call(&mut net, i);
    }
    let snap = net.engine.snapshot();
    assert!(snap.calls.iter().all(|c| c.answered_ms.is_some()));
    println!(
        "{calls} calls, {:.1} µs per call (wall, noisy)",
        wall.elapsed().as_secs_f64() * 1e6 / calls as f64
    );
}
