//! Engine under arbitrary network input: the input is split on 0xFF into messages fed
//! alternately from a carrier and a seat address (UDP, or TCP when the chunk's first byte
//! is odd), with virtual time advancing between them and every due timer run. Checks that
//! nothing panics and that every transmitted message parses.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use answerpoint::config::Config;
use answerpoint::engine::{Engine, Received, Transport};
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"
[sip]
listen = ["udp:127.0.0.1:5060"]
carriers = ["127.0.0.0/8"]

[[seats]]
id = "seat1"
contact = "sip:seat1@127.0.0.1:5080"

[[users]]
name = "alice"
password = "secret"
"#;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = Config::from_toml_str(CONFIG) else {
        return;
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut e = Engine::new(&config, t0);
    let carrier: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    let seat: SocketAddr = "127.0.0.1:5080".parse().unwrap();
    let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    for (i, chunk) in data.split(|&b| b == 0xFF).take(32).enumerate() {
        let step = chunk.first().copied().unwrap_or(0);
        now += Duration::from_millis(u64::from(step) * 100);
        while let Some(t) = e.poll_timeout() {
            if t > now {
                break;
            }
            e.handle_timeout(t.max(t0));
        }
        let transport = if step % 2 == 1 { Transport::Tcp } else { Transport::Udp };
        e.handle_received(
            now,
            Received {
                transport,
                source: if i % 2 == 0 { carrier } else { seat },
                local,
                bytes: chunk.get(1..).unwrap_or(&[]),
            },
        );
        while let Some(t) = e.poll_transmit() {
            assert!(parses_but_for_echoed_vias(&t.contents), "engine sent an unparseable message");
        }
        while e.poll_event().is_some() {}
        let _ = e.snapshot();
    }
});

/// The engine sends only messages that parse, except an error answer echoing a peer's
/// malformed Via lines: without those it must parse, as a response ≥ 400.
fn parses_but_for_echoed_vias(bytes: &[u8]) -> bool {
    if answerpoint::sip::parse(bytes).is_ok() {
        return true;
    }
    let text = String::from_utf8_lossy(bytes);
    let rest: String = text
        .split_inclusive("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("via:"))
        .collect();
    answerpoint::sip::parse(rest.as_bytes())
        .is_ok_and(|m| m.status_code().is_some_and(|c| c >= 400))
}
