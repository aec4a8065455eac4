//! The runtime's transports on real sockets, driven byte by byte (RFC 3261 §18): UDP
//! responses go back from the listening socket to the source port (§18.2.2 with `rport`,
//! RFC 3581); TCP stream framing with split and batched messages, CRLF keepalives
//! (RFC 5626 §4.4.1), an unframeable stream answered with 400 and closed (§18.3), and a
//! body over the message limit skipped with the connection kept (999 queued, 101 413).
//! No external tools needed.

mod e2e_support;

use std::time::Duration;

use answerpoint::sip::parse;
use e2e_support::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const WITHIN: Duration = Duration::from_secs(5);

const CONFIG: &str = r#"
[sip]
listen = ["udp:127.0.0.1:0"]
carriers = ["127.0.0.0/8"]
"#;

fn options(transport: &str, branch: &str, call_id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:answerpoint@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:9;rport;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@127.0.0.1>;tag=p1\r\n\
         To: <sip:answerpoint@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Reads from `stream` until `buf` holds `count` complete SIP messages; returns them.
async fn read_messages(stream: &mut TcpStream, count: usize) -> Vec<answerpoint::sip::Message> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let limits = answerpoint::sip::Limits::default();
    while out.len() < count {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WITHIN, stream.read(&mut chunk))
            .await
            .expect("response in time")
            .expect("read");
        assert!(n > 0, "connection closed after {} messages", out.len());
        buf.extend_from_slice(&chunk[..n]);
        while let Some((item, used)) =
            answerpoint::sip::framing::frame(&buf, &limits).expect("framed")
        {
            buf.drain(..used);
            if let answerpoint::sip::framing::StreamItem::Message(m) = item {
                out.push(m);
            }
        }
    }
    out
}

#[tokio::test]
async fn udp_options_answered_from_the_listening_socket_to_the_source_port() {
    let engine = Engine::start(CONFIG).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&options("UDP", "u1", "udp-1"), engine.udp)
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let (n, from) = tokio::time::timeout(WITHIN, sock.recv_from(&mut buf))
        .await
        .expect("response in time")
        .unwrap();
    assert_eq!(from, engine.udp, "response comes from the listening socket");
    let resp = parse(&buf[..n]).unwrap();
    assert_eq!(resp.status_code(), Some(200));
    assert_eq!(resp.call_id(), Some("udp-1"));
    let via = resp.top_via().expect("Via");
    let local = sock.local_addr().unwrap();
    // RFC 3581 §4: the response carries rport = the source port it was sent to.
    assert_eq!(via.rport(), Some(Some(local.port())));
    engine.stop().await;
}

#[tokio::test]
async fn tcp_split_and_batched_messages_and_crlf_keepalive_on_one_connection() {
    let engine = Engine::start(CONFIG).await;
    let mut conn = TcpStream::connect(engine.tcp).await.unwrap();

    // One message split across two writes: nothing comes back for the first half.
    conn.set_nodelay(true).unwrap();
    let first = options("TCP", "t1", "tcp-1");
    let (a, b) = first.split_at(40);
    conn.write_all(a).await.unwrap();
    let mut none = [0u8; 16];
    let early = tokio::time::timeout(Duration::from_millis(200), conn.read(&mut none)).await;
    assert!(early.is_err(), "no response to half a message");
    conn.write_all(b).await.unwrap();
    let got = read_messages(&mut conn, 1).await;
    assert_eq!(got[0].status_code(), Some(200));
    assert_eq!(got[0].call_id(), Some("tcp-1"));

    // Two messages in one write: two responses, in order, on the same connection.
    let mut two = options("TCP", "t2", "tcp-2");
    two.extend_from_slice(&options("TCP", "t3", "tcp-3"));
    conn.write_all(&two).await.unwrap();
    let got = read_messages(&mut conn, 2).await;
    let ids: Vec<_> = got
        .iter()
        .map(|m| m.call_id().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["tcp-2", "tcp-3"]);

    // CRLFCRLF ping, CRLF pong (RFC 5626 §4.4.1).
    conn.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(WITHIN, conn.read_exact(&mut pong))
        .await
        .expect("pong in time")
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    engine.stop().await;
}

#[tokio::test]
async fn tcp_stream_without_content_length_gets_400_then_is_closed() {
    let engine = Engine::start(CONFIG).await;
    let mut conn = TcpStream::connect(engine.tcp).await.unwrap();
    let mut bad = options("TCP", "b1", "tcp-bad");
    let cut = bad.len() - b"Content-Length: 0\r\n\r\n".len();
    bad.truncate(cut);
    bad.extend_from_slice(b"\r\n");
    conn.write_all(&bad).await.unwrap();

    let mut all = Vec::new();
    tokio::time::timeout(WITHIN, conn.read_to_end(&mut all))
        .await
        .expect("closed in time")
        .unwrap();
    let resp = parse(&all).expect("one response, then EOF");
    assert_eq!(resp.status_code(), Some(400));
    assert_eq!(resp.call_id(), Some("tcp-bad"));
    assert!(resp.header("Warning").unwrap().contains("Content-Length"));
    assert_eq!(engine.handle.stats().tcp_bad_streams, 1);
    engine.stop().await;
}

#[tokio::test]
async fn graceful_stop_closes_open_tcp_connections() {
    let engine = Engine::start(CONFIG).await;
    let mut conn = TcpStream::connect(engine.tcp).await.unwrap();
    conn.write_all(&options("TCP", "s1", "tcp-s"))
        .await
        .unwrap();
    read_messages(&mut conn, 1).await;
    let stats = engine.stop().await;
    assert_eq!(stats, answerpoint::runtime::RuntimeStats::default());
    let mut rest = Vec::new();
    let n = tokio::time::timeout(WITHIN, conn.read_to_end(&mut rest))
        .await
        .expect("closed by shutdown")
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn tcp_connections_beyond_the_limit_are_refused_and_counted() {
    let engine = Engine::start(&format!("{CONFIG}\n[limits]\nmax_tcp_connections = 1\n")).await;
    let mut first = TcpStream::connect(engine.tcp).await.unwrap();
    first
        .write_all(&options("TCP", "l1", "lim-1"))
        .await
        .unwrap();
    assert_eq!(
        read_messages(&mut first, 1).await[0].status_code(),
        Some(200)
    );

    // The second connection is accepted by the kernel, then closed by the runtime.
    let mut second = TcpStream::connect(engine.tcp).await.unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(WITHIN, second.read_to_end(&mut rest))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert_eq!(engine.handle.stats().tcp_rejected_limit, 1);

    // The first one still works.
    first
        .write_all(&options("TCP", "l2", "lim-2"))
        .await
        .unwrap();
    assert_eq!(
        read_messages(&mut first, 1).await[0].call_id(),
        Some("lim-2")
    );
    engine.stop().await;
}

/// The runtime reads the clock through tokio, so paused tokio time is virtual time: a 999
/// waiting with no handler gets its periodic provisional response (RFC 3261 §13.3.1.1,
/// `sip.queued_keepalive_s`) without the test waiting in real time.
#[tokio::test(start_paused = true)]
async fn queued_call_keepalive_provisionals_run_in_virtual_time() {
    let engine = Engine::start(&CONFIG.replace(
        "carriers = [\"127.0.0.0/8\"]",
        "carriers = [\"127.0.0.0/8\"]\nqueued_keepalive_s = 20",
    ))
    .await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = sock.local_addr().unwrap();
    let sdp = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let invite = format!(
        "INVITE sip:999@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};rport;branch=z9hG4bKvt1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+447700900123@127.0.0.1>;tag=c1\r\n\
         To: <sip:999@127.0.0.1>\r\n\
         Call-ID: virtual-time-1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:+447700900123@{local}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let start = tokio::time::Instant::now();
    sock.send_to(invite.as_bytes(), engine.udp).await.unwrap();
    let mut provisional_at = Vec::new();
    let mut buf = [0u8; 8192];
    while provisional_at.len() < 3 {
        let (n, _) = tokio::time::timeout(Duration::from_secs(60), sock.recv_from(&mut buf))
            .await
            .expect("a provisional response within 60 s of virtual time")
            .unwrap();
        let resp = parse(&buf[..n]).unwrap();
        let code = resp.status_code().unwrap();
        assert!(
            (100..200).contains(&code),
            "only provisionals while queued: {code}"
        );
        if code > 100 {
            provisional_at.push(start.elapsed());
        }
    }
    // First ringing at once, then one every 20 s (virtual), never later than asked.
    assert!(provisional_at[0] < Duration::from_secs(1));
    for pair in provisional_at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_secs(19) && gap <= Duration::from_secs(21),
            "keepalive gap {gap:?}"
        );
    }
    let snap = engine.snapshot().await;
    assert_eq!(snap.calls.len(), 1);
    assert_eq!(snap.calls[0].state, answerpoint::engine::CallState::Queued);
    engine.stop().await;
}

/// A carrier INVITE over TCP to `user` (999 / 101) with an SDP body padded with an SDP
/// `a=` line to `body_len` octets.
fn tcp_invite(user: &str, call_id: &str, branch: &str, body_len: usize) -> Vec<u8> {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let pad = body_len - sdp.len() - "a=x:\r\n".len();
    let body = format!("{sdp}a=x:{}\r\n", "p".repeat(pad));
    assert_eq!(body.len(), body_len);
    format!(
        "INVITE sip:{user}@127.0.0.1;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/TCP 127.0.0.1:9;rport;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+441632960001@127.0.0.1;user=phone>;tag=c1\r\n\
         To: <sip:{user}@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:carrier@127.0.0.1:9;transport=tcp>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {body_len}\r\n\r\n{body}"
    )
    .into_bytes()
}

/// Reads responses off `conn` (framing kept across calls in `decoder`) until one with
/// `status` for `call_id` arrives; returns it.
async fn read_until(
    conn: &mut TcpStream,
    decoder: &mut answerpoint::sip::framing::StreamDecoder,
    status: u16,
    call_id: &str,
) -> answerpoint::sip::Message {
    loop {
        while let Some(item) = decoder.next_item().expect("framed") {
            if let answerpoint::sip::framing::StreamItem::Message(m) = item {
                if m.status_code() == Some(status) && m.call_id() == Some(call_id) {
                    return m;
                }
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WITHIN, conn.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("no {status} for {call_id} in time"))
            .expect("read");
        assert!(
            n > 0,
            "connection closed while waiting for {status} {call_id}"
        );
        decoder.push(&chunk[..n]).unwrap();
    }
}

#[tokio::test]
async fn tcp_body_over_the_message_limit_999_queued_101_gets_413_connection_kept() {
    // Over limits.max_message_bytes (65,535): the decoder skips the body (exactly
    // Content-Length octets), the 999 is queued with "body dropped: too large", the 101
    // is answered 413, and the connection keeps working for the next message.
    let engine = Engine::start(&format!("shutdown_grace_s = 0\n{CONFIG}")).await;
    let mut conn = TcpStream::connect(engine.tcp).await.unwrap();
    let mut decoder = answerpoint::sip::framing::StreamDecoder::default();

    conn.write_all(&tcp_invite("101", "tcp-big-101", "b101", 70_000))
        .await
        .unwrap();
    let r = read_until(&mut conn, &mut decoder, 413, "tcp-big-101").await;
    assert!(r.header("Warning").unwrap().contains("70000"));

    conn.write_all(&tcp_invite("999", "tcp-big-999", "b999", 100_000))
        .await
        .unwrap();
    read_until(&mut conn, &mut decoder, 100, "tcp-big-999").await;
    let snap = engine
        .wait_for("the 999 queued", WITHIN, |s| {
            s.calls.iter().any(|c| &*c.carrier_call_id == "tcp-big-999")
        })
        .await;
    let call = snap
        .calls
        .iter()
        .find(|c| &*c.carrier_call_id == "tcp-big-999")
        .unwrap();
    assert_eq!(call.class, Some(answerpoint::call::CallClass::Emergency));
    assert!(
        call.location_errors[0].starts_with("body dropped: too large"),
        "{:?}",
        call.location_errors
    );
    assert_eq!(snap.calls.len(), 1);

    // Same connection: framing intact after 170,000 skipped octets.
    conn.write_all(&options("TCP", "after", "tcp-after"))
        .await
        .unwrap();
    read_until(&mut conn, &mut decoder, 200, "tcp-after").await;
    let stats = engine.stop().await;
    assert_eq!(stats.tcp_bodies_dropped, 2);
    assert_eq!(stats.tcp_bad_streams, 0);
}
