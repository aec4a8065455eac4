//! End-to-end engine latency (issue 7, docs/DESIGN.md §7 "engine's own share"): the real
//! runtime ([`answerpoint::runtime::Server`], tokio, loopback UDP) with one static seat;
//! each iteration is one whole emergency call (INVITE urn:service:sos with a PIDF-LO
//! body, RFC 3261 §13 / RFC 6442) and the timed part is carrier INVITE sent → the
//! engine's INVITE received at the handler socket. The answer, ACKs and BYE that follow
//! are untimed, so the seat is free again for the next iteration (wrap-up 0).
//!
//! Alternative in the same run: a plain tokio UDP relay that forwards each datagram
//! unchanged to the handler socket — the floor set by two loopback hops and the tokio
//! reactor. The ratio engine / relay is what the engine itself adds.
//!
//! Run: `cargo bench --bench e2e_latency -- --measurement-time 3`

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

use answerpoint::config::Config;
use answerpoint::runtime::Server;
use answerpoint::sip::{parse, Message, MessageBuilder, Method};

const PIDF: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" \
xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\" xmlns:gml=\"http://www.opengis.net/gml\" \
xmlns:gs=\"http://www.opengis.net/pidflo/1.0\" entity=\"pres:caller@carrier.example\">\r\n\
<dm:device id=\"d\"><gp:geopriv><gp:location-info><gs:Circle srsName=\"urn:ogc:def:crs:EPSG::4326\">\
<gml:pos>51.501364 -0.141890</gml:pos><gs:radius uom=\"urn:ogc:def:uom:EPSG::9001\">35</gs:radius>\
</gs:Circle></gp:location-info><gp:usage-rules/><gp:method>Cell</gp:method></gp:geopriv></dm:device></presence>\r\n";

fn invite(n: u64, carrier: SocketAddr) -> Vec<u8> {
    let sdp = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let body = format!(
        "--b1\r\nContent-Type: application/sdp\r\n\r\n{sdp}\r\n--b1\r\nContent-Type: application/pidf+xml\r\n\
         Content-ID: <loc{n}@carrier.example>\r\n\r\n{PIDF}\r\n--b1--\r\n"
    );
    MessageBuilder::request(Method::Invite, "urn:service:sos")
        .header(
            "Via",
            &format!("SIP/2.0/UDP {carrier};branch=z9hG4bKe2e{n};rport"),
        )
        .header("Max-Forwards", "70")
        .header("From", &format!("<sip:+447700900{n}@{carrier}>;tag=c{n}"))
        .header("To", "<urn:service:sos>")
        .header("Call-ID", &format!("e2e-{n}@bench"))
        .header("CSeq", "1 INVITE")
        .header("Contact", &format!("<sip:c@{carrier}>"))
        .header("P-Asserted-Identity", &format!("<tel:+447700900{n}>"))
        .header("Geolocation", &format!("<cid:loc{n}@carrier.example>"))
        .body("multipart/mixed;boundary=b1", body.into_bytes())
        .build()
        .unwrap()
        .to_bytes()
}

/// Receives until `pred` accepts a message (others are skipped).
fn recv_until(
    sock: &UdpSocket,
    buf: &mut [u8],
    pred: impl Fn(&Message) -> bool,
) -> (Message, SocketAddr) {
    loop {
        let (n, from) = sock
            .recv_from(buf)
            .expect("a datagram within the read timeout");
        if let Ok(m) = parse(&buf[..n]) {
            if pred(&m) {
                return (m, from);
            }
        }
    }
}

fn is_req(m: &Message, method: Method<'_>, cid: &str) -> bool {
    m.method() == Some(method) && m.call_id() == Some(cid)
}

fn is_resp(m: &Message, code: u16, method: &str, cid: &str) -> bool {
    m.status_code() == Some(code)
        && m.call_id() == Some(cid)
        && m.cseq().is_some_and(|c| c.method == method)
}

struct Engine {
    _rt: tokio::runtime::Runtime,
    addr: SocketAddr,
}

fn start_engine(handler: SocketAddr) -> Engine {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let toml = format!(
        "[sip]\nlisten = [\"udp:127.0.0.1:0\"]\ncarriers = [\"127.0.0.0/8\"]\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\
         [queue]\nmax_consecutive_misses = 0\nwrap_up_s = {{ emergency = 0, non-emergency = 0, admin = 0 }}\n\
         [[seats]]\nid = \"s1\"\ncontact = \"sip:s1@{handler}\"\nskills = [\"emergency\"]\n"
    );
    let config = Config::from_toml_str(&toml).unwrap();
    let server = rt.block_on(Server::bind(config)).unwrap();
    let addr = server.local_addrs()[0].addr;
    rt.spawn(server.run(std::future::pending::<()>()));
    Engine { _rt: rt, addr }
}

/// One whole call through the engine; returns INVITE sent → handler INVITE received.
fn call(
    n: u64,
    engine: SocketAddr,
    carrier: &UdpSocket,
    handler: &UdpSocket,
    buf: &mut [u8],
) -> Duration {
    let caddr = carrier.local_addr().unwrap();
    let haddr = handler.local_addr().unwrap();
    let cid = format!("e2e-{n}@bench");
    let inv = invite(n, caddr);
    let t0 = Instant::now();
    carrier.send_to(&inv, engine).unwrap();
    let (hinv, from) = recv_until(handler, buf, |m| m.method() == Some(Method::Invite));
    let took = t0.elapsed();
    // Untimed: answer, ACKs, BYE from the handler.
    let hcid = hinv.call_id().unwrap().to_owned();
    let ok = MessageBuilder::response_to(&hinv, 200, "OK")
        .to_tag("h1")
        .header("Contact", &format!("<sip:s1@{haddr}>"))
        .body("application/sdp", b"v=0\r\no=h 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n".to_vec())
        .build()
        .unwrap();
    handler.send_to(&ok.to_bytes(), from).unwrap();
    recv_until(handler, buf, |m| is_req(m, Method::Ack, &hcid));
    let (c200, _) = recv_until(carrier, buf, |m| is_resp(m, 200, "INVITE", &cid));
    let target = c200
        .contacts()
        .find_map(|c| c.addr().map(|a| a.uri.as_str().to_owned()))
        .unwrap();
    let ack = MessageBuilder::request(Method::Ack, &target)
        .header("Via", &format!("SIP/2.0/UDP {caddr};branch=z9hG4bKe2ea{n}"))
        .header("Max-Forwards", "70")
        .header("From", &format!("<sip:+447700900{n}@{caddr}>;tag=c{n}"))
        .header("To", c200.header("To").unwrap())
        .header("Call-ID", &cid)
        .header("CSeq", "1 ACK")
        .build()
        .unwrap();
    carrier.send_to(&ack.to_bytes(), engine).unwrap();
    let bye_target = hinv
        .contacts()
        .find_map(|c| c.addr().map(|a| a.uri.as_str().to_owned()))
        .unwrap();
    let bye = MessageBuilder::request(Method::Bye, &bye_target)
        .header("Via", &format!("SIP/2.0/UDP {haddr};branch=z9hG4bKe2eb{n}"))
        .header("Max-Forwards", "70")
        .header("From", &format!("{};tag=h1", hinv.header("To").unwrap()))
        .header("To", hinv.header("From").unwrap())
        .header("Call-ID", &hcid)
        .header("CSeq", "1 BYE")
        .build()
        .unwrap();
    handler.send_to(&bye.to_bytes(), from).unwrap();
    recv_until(handler, buf, |m| is_resp(m, 200, "BYE", &hcid));
    let (cbye, bfrom) = recv_until(carrier, buf, |m| is_req(m, Method::Bye, &cid));
    let r = MessageBuilder::response_to(&cbye, 200, "OK")
        .build()
        .unwrap();
    carrier.send_to(&r.to_bytes(), bfrom).unwrap();
    took
}

fn bench(c: &mut Criterion) {
    let carrier = UdpSocket::bind("127.0.0.1:0").unwrap();
    let handler = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&carrier, &handler] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let engine = start_engine(handler.local_addr().unwrap());
    let mut buf = vec![0u8; 65_536];
    let mut n = 0u64;
    // Warm up: the first call pays for lazy initialisation.
    for _ in 0..20 {
        n += 1;
        call(n, engine.addr, &carrier, &handler, &mut buf);
    }

    // The alternative: a plain UDP relay on the same kind of runtime.
    let relay_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let haddr = handler.local_addr().unwrap();
    let relay = relay_rt
        .block_on(tokio::net::UdpSocket::bind("127.0.0.1:0"))
        .unwrap();
    let relay_addr = relay.local_addr().unwrap();
    relay_rt.spawn(async move {
        let mut b = vec![0u8; 65_536];
        while let Ok((len, _)) = relay.recv_from(&mut b).await {
            let _ = relay.send_to(&b[..len], haddr).await;
        }
    });

    let mut g = c.benchmark_group("e2e_invite_to_handler_invite");
    g.bench_function("engine", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                total += call(n, engine.addr, &carrier, &handler, &mut buf);
            }
            total
        })
    });
    g.bench_function("udp_relay", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut rbuf = vec![0u8; 65_536];
            for i in 0..iters {
                let inv = invite(1_000_000 + i, carrier.local_addr().unwrap());
                let t0 = Instant::now();
                carrier.send_to(&inv, relay_addr).unwrap();
                handler.recv_from(&mut rbuf).unwrap();
                total += t0.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
