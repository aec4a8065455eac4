//! Engine latency: carrier INVITE in → INVITE to the handler out (parse, validate, classify,
//! locate, queue, build the handler INVITE), compared in the same run with parsing the same
//! INVITE alone (the floor any SIP server pays). Ratio = engine / parse.
//!
//! `cargo bench --bench engine_latency -- --measurement-time 3`

use std::net::SocketAddr;
use std::time::Instant;

use answerpoint::config::Config;
use answerpoint::engine::{Engine, Received, Transport};
use criterion::{criterion_group, criterion_main, Criterion};

const SEATS: usize = 200;

fn config_text() -> String {
    let mut s =
        String::from("[sip]\nlisten = [\"udp:127.0.0.1:5060\"]\ncarriers = [\"127.0.0.0/8\"]\n");
    for i in 0..SEATS {
        s.push_str(&format!(
            "[[seats]]\nid = \"seat{i}\"\ncontact = \"sip:seat{i}@127.0.0.1:{}\"\nskills = [\"emergency\"]\n",
            10_000 + i
        ));
    }
    s
}

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn invite(i: u64) -> Vec<u8> {
    format!(
        "INVITE sip:999@127.0.0.1:5060;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbench{i};rport\r\n\
Max-Forwards: 69\r\n\
From: <sip:+441632960001@carrier.example;user=phone>;tag=c1\r\n\
To: <sip:999@127.0.0.1:5060;user=phone>\r\n\
Call-ID: bench{i}@carrier.example\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:carrier@127.0.0.1:5070>\r\n\
P-Asserted-Identity: <tel:+441632960001>\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let config = Config::from_toml_str(&config_text()).unwrap();
    let bytes = invite(0);
    let source: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let mut g = c.benchmark_group("invite_to_handler");
    g.bench_function("parse_only", |b| {
        b.iter(|| answerpoint::sip::parse(std::hint::black_box(&bytes)).unwrap())
    });
    // A stateless path through the engine for comparison: OPTIONS keepalive → 200.
    let options = b"OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKo1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:c@127.0.0.1>;tag=o1\r\nTo: <sip:127.0.0.1:5060>\r\nCall-ID: o1@c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n".to_vec();
    g.bench_function("engine_options_200", |b| {
        let mut e = Engine::new(&config, Instant::now());
        let t = Instant::now();
        b.iter(|| {
            e.handle_received(
                t,
                Received {
                    transport: Transport::Udp,
                    source,
                    local,
                    bytes: &options,
                },
            );
            e.poll_transmit().unwrap()
        })
    });
    // Steady state: one engine with SEATS available seats takes SEATS calls, each offered
    // at once; a new engine (built outside the timed region) for the next SEATS.
    g.bench_function("engine", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                let mut e = Engine::new(&config, Instant::now());
                let n = (iters - done).min(SEATS as u64);
                let msgs: Vec<Vec<u8>> = (0..n).map(invite).collect();
                let t = Instant::now();
                for m in &msgs {
                    e.handle_received(
                        t,
                        Received {
                            transport: Transport::Udp,
                            source,
                            local,
                            bytes: m,
                        },
                    );
                    while let Some(x) = e.poll_transmit() {
                        std::hint::black_box(x);
                    }
                }
                total += t.elapsed();
                done += n;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
