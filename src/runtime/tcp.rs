//! SIP over TCP (RFC 3261 §18): the accept loop, one task per connection, stream framing
//! by Content-Length (§18.3, via [`crate::sip::framing::StreamDecoder`]) and connection reuse
//! (§18.2.2: a response goes back over the connection the request came in on; the engine's
//! own requests reuse any open connection to the destination, else one is opened).
//!
//! Each connection has a reader (this task) and a writer task fed by a bounded queue. The
//! engine task owns the table `peer address → writer queue`; connection tasks announce
//! themselves ([`Input::TcpOpened`]) and their end ([`Input::TcpClosed`]) on the same
//! queue as the messages, so the table is never behind the messages it serves.
//!
//! Framing outcomes: "need more bytes" keeps reading; a framed message (valid or not) goes
//! to the engine, which answers malformed requests; CRLFCRLF pings get a CRLF pong
//! (RFC 5626 §4.4.1); a message whose body is over the limits goes to the engine as its
//! header section ([`Input::BodyDropped`]: an emergency INVITE is queued without the body,
//! anything else gets 413) while the decoder discards the body, and the connection carries
//! on; a stream that cannot be framed (no or conflicting Content-Length, header section
//! oversize) gets a 400/513 when the request head is readable, then is closed. A
//! request with too many header fields whose Content-Length is still readable gets 513 +
//! `Warning` (as over UDP) and the connection carries on; otherwise 513, then close.
//!
//! Admission ([`AcceptPolicy`]): beyond `limits.max_tcp_connections` a connection is
//! closed at accept. Who is "allowed" cannot be decided at accept: carriers are known by
//! address (`sip.carriers`), but a registered call handler may connect from anywhere and
//! is only known once its REGISTER authenticates (the engine answers 401/403 to strangers,
//! and 403 to INVITEs from non-carriers). So peers outside `sip.carriers` are admitted but
//! may hold at most [`NON_CARRIER_SHARE_PCT`] % of the connection slots: a flood of
//! strangers can never take the slots carriers need to deliver 999 calls. Every inbound
//! connection must complete its first SIP message within `limits.tcp_idle_timeout_s`
//! (CRLF keepalives, RFC 5626 §4.4.1, count as activity), else it is closed: idle
//! half-open connections cannot hold slots.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::{Counters, Input, Transport};
use crate::config::{Cidr, Config};
use crate::sip::framing::{frame, StreamDecoder, StreamItem};
use crate::sip::{
    is_response_start, parse_with, token_from_entropy, Limits, MessageBuilder, Method, ParseError,
};

/// Octets requested from the socket per read.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Depth of each connection's write queue, messages. A peer that lets it fill is not
/// reading; further messages to it are dropped and counted.
pub(super) const WRITE_QUEUE_DEPTH: usize = 256;
/// How long an outgoing connection attempt may take (RFC 3261 Timer B is 64×T1 = 32 s;
/// a loopback or LAN peer that has not answered in 10 s is not there).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The warn-agent in Warning headers of the 400s sent for unframeable streams.
const WARN_AGENT: &str = "answerpoint";

/// Default `limits.tcp_idle_timeout_s`: time for a new inbound connection to complete its
/// first SIP message.
pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Share of `limits.max_tcp_connections` that peers outside `sip.carriers` may hold, %.
#[cfg_attr(not(test), allow(dead_code))] // used once runtime/mod.rs passes the policy
pub const NON_CARRIER_SHARE_PCT: usize = 75;
/// Header fields accepted when re-framing a message that exceeded `limits.max_headers`, to
/// answer it 513 and skip it without closing the connection.
const RELAXED_MAX_HEADERS: usize = 4_096;

/// Who may hold an inbound connection and for how long without a message (see the
/// [module docs](self)).
#[derive(Debug, Clone)]
pub struct AcceptPolicy {
    /// Close an inbound connection that has not completed a SIP message in this time.
    pub idle_timeout: Duration,
    /// Carrier prefixes (`sip.carriers`); empty: every peer counts as a carrier.
    pub carriers: Vec<Cidr>,
    /// Most inbound connections from peers outside `carriers` at once.
    pub max_non_carrier: usize,
}

impl Default for AcceptPolicy {
    /// 30 s idle timeout, no carrier distinction.
    fn default() -> Self {
        AcceptPolicy {
            idle_timeout: DEFAULT_TCP_IDLE_TIMEOUT,
            carriers: Vec::new(),
            max_non_carrier: usize::MAX,
        }
    }
}

impl AcceptPolicy {
    /// From `limits.tcp_idle_timeout_s`, `sip.carriers` and
    /// [`NON_CARRIER_SHARE_PCT`] of `limits.max_tcp_connections` (at least 1).
    #[cfg_attr(not(test), allow(dead_code))] // used once runtime/mod.rs passes the policy
    pub fn from_config(config: &Config) -> AcceptPolicy {
        AcceptPolicy {
            idle_timeout: Duration::from_secs(config.limits.tcp_idle_timeout_s.max(1)),
            carriers: config.sip.carriers.clone(),
            max_non_carrier: (config.limits.max_tcp_connections * NON_CARRIER_SHARE_PCT / 100)
                .max(1),
        }
    }

    fn is_carrier(&self, ip: std::net::IpAddr) -> bool {
        self.carriers.is_empty() || self.carriers.iter().any(|c| c.contains(ip))
    }
}

/// What every connection task needs.
#[derive(Clone)]
pub(super) struct ConnContext {
    pub input: mpsc::Sender<Input>,
    pub counters: Arc<Counters>,
    pub limits: Limits,
    pub stop: watch::Receiver<bool>,
}

/// Accepts connections on `listener` (bound at `local`) until `stop` turns true. A
/// connection beyond `limits.max_tcp_connections`, or from outside `sip.carriers` beyond
/// the policy's non-carrier share, is closed at once and counted (`tcp_rejected_limit`).
pub(super) async fn acceptor_with_policy(
    listener: TcpListener,
    local: SocketAddr,
    permits: Arc<Semaphore>,
    ctx: ConnContext,
    policy: AcceptPolicy,
) {
    let strangers = Arc::new(Semaphore::new(
        policy.max_non_carrier.min(Semaphore::MAX_PERMITS),
    ));
    let mut stop = ctx.stop.clone();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(%local, error = %e, "tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            ctx.counters
                .tcp_rejected_limit
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, "tcp connection limit reached: connection refused");
            drop(stream);
            continue;
        };
        let stranger = if policy.is_carrier(peer.ip()) {
            None
        } else {
            match strangers.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    ctx.counters
                        .tcp_rejected_limit
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        %peer,
                        "tcp: non-carrier share of connections full: connection refused"
                    );
                    drop(stream);
                    continue;
                }
            }
        };
        let idle = policy.idle_timeout;
        let _ = stream.set_nodelay(true);
        let id = ctx.counters.next_conn_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(WRITE_QUEUE_DEPTH);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            // Register before the first message so responses find the connection.
            let opened = Input::TcpOpened {
                peer,
                id,
                writer: tx.clone(),
            };
            if ctx.input.send(opened).await.is_err() {
                return;
            }
            tracing::debug!(%peer, %local, id, "tcp connection accepted");
            run_connection(stream, peer, local, id, tx, rx, ctx, permit, Some(idle)).await;
            drop(stranger);
        });
    }
}

/// Opens a connection to `peer` for the engine's outgoing messages, queued meanwhile in
/// `rx`; the engine task has already entered `tx` in its table under `id`. On failure the
/// queued messages are dropped and [`Input::TcpClosed`] removes the entry.
#[allow(clippy::too_many_arguments)]
pub(super) async fn connect(
    peer: SocketAddr,
    id: u64,
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
    ctx: ConnContext,
    permit: OwnedSemaphorePermit,
) {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(%peer, error = %e, "tcp connect failed");
            ctx.counters
                .tcp_connect_failures
                .fetch_add(1, Ordering::Relaxed);
            let _ = ctx.input.send(Input::TcpClosed { peer, id }).await;
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "tcp connect timed out");
            ctx.counters
                .tcp_connect_failures
                .fetch_add(1, Ordering::Relaxed);
            let _ = ctx.input.send(Input::TcpClosed { peer, id }).await;
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let local = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    tracing::debug!(%peer, %local, id, "tcp connection opened");
    run_connection(stream, peer, local, id, tx, rx, ctx, permit, None).await;
}

/// Reads and frames until EOF, an I/O error, an unframeable stream, shutdown, or (with
/// `idle`) no complete message or keepalive within `idle` before the first message; then
/// announces [`Input::TcpClosed`]. The writer task ends when every sender of its queue
/// is gone (the engine drops its copy on `TcpClosed`), after writing what was queued.
#[allow(clippy::too_many_arguments)]
async fn run_connection(
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    id: u64,
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
    ctx: ConnContext,
    permit: OwnedSemaphorePermit,
    idle: Option<Duration>,
) {
    let (mut rd, wr) = stream.into_split();
    // Until the first complete message: the read-idle deadline (None afterwards).
    let mut deadline = idle.map(|d| tokio::time::Instant::now() + d);
    let writer = tokio::spawn(write_loop(wr, rx, peer));
    let mut stop = ctx.stop.clone();
    // At most one message limit per read: what stays buffered between reads is less than
    // one message, so `push` meets its cap (2 × max_message_bytes) only when the peer
    // sends an unframeable stream.
    let mut chunk = vec![0u8; READ_CHUNK_BYTES.min(ctx.limits.max_message_bytes.max(1))];
    let mut decoder = StreamDecoder::new(ctx.limits);
    'read: loop {
        let idle_wait = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        let n = tokio::select! {
            _ = stop.changed() => break 'read,
            _ = idle_wait => {
                tracing::info!(%peer, "tcp: no SIP message within the idle timeout: closing");
                break 'read;
            }
            r = rd.read(&mut chunk) => match r {
                Ok(0) => break 'read,
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "tcp read error");
                    break 'read;
                }
            },
        };
        tracing::trace!(%peer, n, "tcp read");
        if let Err(e) = decoder.push(chunk.get(..n).unwrap_or_default()) {
            // The buffer cap (2 × max_message_bytes) needs a peer that never ends its
            // head within the limits; frame() caps head and body otherwise.
            reject_stream(decoder.pending(), &e, &tx, &ctx, peer, &ctx.limits);
            break 'read;
        }
        loop {
            match decoder.next_item_with_octets() {
                Ok(None) => break,
                Ok(Some((StreamItem::Keepalive { pong, .. }, _))) => {
                    if pong {
                        let _ = tx.try_send(b"\r\n".to_vec());
                    }
                    // RFC 5626 keepalives are activity: the idle deadline starts again.
                    if let (Some(d), Some(i)) = (deadline.as_mut(), idle) {
                        *d = tokio::time::Instant::now() + i;
                    }
                }
                Ok(Some((StreamItem::BodyTooLarge { head, dropped }, _))) => {
                    // The decoder discards the body; the engine decides on the head.
                    deadline = None;
                    ctx.counters
                        .tcp_bodies_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, %dropped, "tcp: body over the limits skipped");
                    let msg = Input::BodyDropped {
                        transport: Transport::Tcp,
                        source: peer,
                        local,
                        head,
                        dropped,
                    };
                    if ctx.input.send(msg).await.is_err() {
                        break 'read;
                    }
                }
                Ok(Some((StreamItem::Message(_) | StreamItem::Invalid(_), bytes))) => {
                    deadline = None;
                    let msg = Input::Message {
                        transport: Transport::Tcp,
                        source: peer,
                        local,
                        bytes,
                    };
                    // Waiting here slows only this peer (TCP flow control), never the
                    // engine or other connections.
                    if ctx.input.send(msg).await.is_err() {
                        break 'read;
                    }
                }
                Err(e @ ParseError::TooManyHeaders { .. }) => {
                    // Answer 513 like UDP does; skip the message and carry on when its
                    // Content-Length is still readable (§18.3 framing intact).
                    let relaxed = Limits {
                        max_headers: RELAXED_MAX_HEADERS,
                        ..ctx.limits
                    };
                    match frame(decoder.pending(), &relaxed) {
                        Ok(Some((_, used))) => {
                            let head = decoder.pending().get(..used).unwrap_or_default();
                            if let Some(resp) = unframeable_response(head, &e, &relaxed) {
                                let _ = tx.try_send(resp);
                            }
                            tracing::warn!(%peer, error = %e, "tcp: request refused 513");
                            decoder.discard(used);
                            deadline = None;
                        }
                        Ok(None) => break,
                        _ => {
                            reject_stream(decoder.pending(), &e, &tx, &ctx, peer, &relaxed);
                            break 'read;
                        }
                    }
                }
                Err(e) => {
                    reject_stream(decoder.pending(), &e, &tx, &ctx, peer, &ctx.limits);
                    break 'read;
                }
            }
        }
    }
    drop(tx);
    let _ = ctx.input.send(Input::TcpClosed { peer, id }).await;
    // Let queued responses (including a 400 for a bad stream) reach the peer.
    let _ = writer.await;
    drop(permit);
    tracing::debug!(%peer, id, "tcp connection closed");
}

/// Writes queued messages in order; ends when the queue is closed or a write fails, then
/// shuts the write half down (FIN).
async fn write_loop(
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    peer: SocketAddr,
) {
    while let Some(bytes) = rx.recv().await {
        if let Err(e) = wr.write_all(&bytes).await {
            tracing::debug!(%peer, error = %e, "tcp write error");
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// Queues the response for an unframeable stream (if there is one) and counts it.
fn reject_stream(
    buf: &[u8],
    err: &ParseError,
    tx: &mpsc::Sender<Vec<u8>>,
    ctx: &ConnContext,
    peer: SocketAddr,
    limits: &Limits,
) {
    ctx.counters.tcp_bad_streams.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(%peer, error = %err, "unframeable SIP stream: closing connection");
    if let Some(resp) = unframeable_response(buf, err, limits) {
        let _ = tx.try_send(resp);
    }
}

/// The response to a request whose stream framing failed (RFC 3261 §18.3: Content-Length
/// is mandatory on streams; §21 status codes via [`ParseError::status_code`]), built from
/// what a response needs of the request head (RFC 3261 §8.2.6.2: Via, From, To, Call-ID,
/// CSeq) — so a head too large to parse (a 40 KB header line, a header section over the
/// message limit) still gets its 513 before the connection closes. Uses the head up to its
/// empty line, or every complete line buffered when it never ended; skips lines over
/// [`crate::sip::MAX_LINE_BYTES`]. `None` when `buf` does not start with a readable
/// request line, or holds a response or an ACK (never answered).
pub(super) fn unframeable_response(
    buf: &[u8],
    err: &ParseError,
    limits: &Limits,
) -> Option<Vec<u8>> {
    if is_response_start(buf) {
        return None;
    }
    let head = match memchr::memmem::find(buf, b"\r\n\r\n") {
        Some(end) => buf.get(..end + 2)?,
        None => buf.get(..buf.iter().rposition(|&b| b == b'\n')? + 1)?,
    };
    let mut cleaned: Vec<u8> = Vec::with_capacity(2048);
    let mut kept = false;
    // From, To, Call-ID, CSeq: the first of each only (a malformed repeat would make the
    // cleaned head unparseable, and the stream would close with no answer at all).
    let mut seen = [false; 4];
    for (i, line) in head.split_inclusive(|&b| b == b'\n').enumerate() {
        if line.len() > crate::sip::MAX_LINE_BYTES {
            if i == 0 {
                return None;
            }
            kept = false;
            continue;
        }
        if i > 0 && matches!(line.first(), Some(b' ' | b'\t')) {
            // A folded continuation of the previous header line.
            if kept {
                cleaned.extend_from_slice(line);
            }
            continue;
        }
        let lower = line.to_ascii_lowercase();
        let name = lower.split(|&b| b == b':').next().unwrap_or_default();
        let single = match name.trim_ascii() {
            b"from" | b"f" => Some(0),
            b"to" | b"t" => Some(1),
            b"call-id" | b"i" => Some(2),
            b"cseq" => Some(3),
            _ => None,
        };
        kept = i == 0
            || matches!(name.trim_ascii(), b"via" | b"v")
            || single
                .and_then(|k| seen.get_mut(k))
                .is_some_and(|s| !std::mem::replace(s, true));
        if kept {
            cleaned.extend_from_slice(line);
        }
    }
    cleaned.extend_from_slice(b"\r\n");
    let req = parse_with(&cleaned, limits).ok()?;
    // No answer to an ACK, nor one without a Via to route and match it by (RFC 3261
    // §17, §8.2.6.2).
    if !req.is_request()
        || matches!(req.method(), Some(Method::Ack) | None)
        || req.get(crate::sip::HeaderName::Via).is_none()
    {
        return None;
    }
    let resp = MessageBuilder::response_to(&req, err.status_code(), &err.reason_phrase())
        .to_tag(&token_from_entropy(rand::random()))
        .header("Warning", &err.warning_value(WARN_AGENT))
        .build()
        .ok()?;
    Some(resp.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An acceptor with `policy` on a loopback port; returns its address, the framed
    /// messages it passed on, the counters and the stop switch. Like the engine task,
    /// a forwarder drops each connection's writer at once, so a closed connection's
    /// writer ends and the socket closes.
    async fn start(
        policy: AcceptPolicy,
        max: usize,
    ) -> (
        SocketAddr,
        mpsc::Receiver<Vec<u8>>,
        Arc<Counters>,
        watch::Sender<bool>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let (input, mut rx) = mpsc::channel(64);
        let (msg_tx, msg_rx) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Some(i) = rx.recv().await {
                // A message whose body was skipped comes through as its header section.
                if let Input::Message { bytes, .. } | Input::BodyDropped { head: bytes, .. } = i {
                    let _ = msg_tx.send(bytes).await;
                }
            }
        });
        let (stop_tx, stop) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let ctx = ConnContext {
            input,
            counters: counters.clone(),
            limits: Limits::default(),
            stop,
        };
        let permits = Arc::new(Semaphore::new(max));
        tokio::spawn(acceptor_with_policy(listener, local, permits, ctx, policy));
        (local, msg_rx, counters, stop_tx)
    }

    /// Reads until EOF; returns what came and whether EOF was seen within `within`.
    async fn read_until_eof(s: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
        let mut all = Vec::new();
        let r = tokio::time::timeout(within, s.read_to_end(&mut all)).await;
        (all, matches!(r, Ok(Ok(_))))
    }

    fn policy(idle_s: u64, carriers: &[&str], max_non_carrier: usize) -> AcceptPolicy {
        AcceptPolicy {
            idle_timeout: Duration::from_secs(idle_s),
            carriers: carriers.iter().map(|c| c.parse().unwrap()).collect(),
            max_non_carrier,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn silent_connection_is_closed_after_the_idle_timeout() {
        let (addr, _rx, _c, _stop) = start(policy(30, &[], usize::MAX), 8).await;
        let t0 = tokio::time::Instant::now();
        let mut s = TcpStream::connect(addr).await.unwrap();
        let (got, eof) = read_until_eof(&mut s, Duration::from_secs(120)).await;
        assert!(eof, "still open after 120 s");
        assert!(got.is_empty());
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn keepalives_restart_the_idle_timer_and_a_message_ends_it() {
        let (addr, mut rx, _c, _stop) = start(policy(30, &[], usize::MAX), 8).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(20)).await;
            s.write_all(b"\r\n\r\n").await.unwrap();
            let mut pong = [0u8; 2];
            tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut pong))
                .await
                .expect("pong")
                .unwrap();
            assert_eq!(&pong, b"\r\n");
        }
        // 60 s after connecting, still open thanks to the keepalives; now a message.
        let mut msg = NO_CL[..NO_CL.len() - 2].to_vec();
        msg.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        s.write_all(&msg).await.unwrap();
        let bytes = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("message passed on")
            .unwrap();
        assert!(bytes.starts_with(b"OPTIONS "));
        // After a complete message the connection is a working SIP connection: no timer.
        let (_, eof) = read_until_eof(&mut s, Duration::from_secs(300)).await;
        assert!(!eof, "closed although it had sent a message");
    }

    #[tokio::test(start_paused = true)]
    async fn non_carriers_hold_at_most_their_share_carriers_are_unaffected() {
        // 127.0.0.1 is not a carrier here: one stranger slot.
        let (addr, _rx, counters, _stop) = start(policy(30, &["10.0.0.0/8"], 1), 8).await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        let mut second = TcpStream::connect(addr).await.unwrap();
        let (_, eof) = read_until_eof(&mut second, Duration::from_secs(1)).await;
        assert!(eof, "second stranger connection should be closed at accept");
        assert_eq!(counters.tcp_rejected_limit.load(Ordering::Relaxed), 1);
        let (_, eof) = read_until_eof(&mut first, Duration::from_secs(1)).await;
        assert!(!eof, "the first stranger keeps its slot");

        // The same peer as a carrier, with no stranger slots at all: admitted.
        let (addr, _rx, counters, _stop) = start(policy(30, &["127.0.0.0/8"], 0), 8).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        let (_, eof) = read_until_eof(&mut c, Duration::from_secs(1)).await;
        assert!(!eof);
        assert_eq!(counters.tcp_rejected_limit.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn policy_from_config_takes_the_keys() {
        let c = Config::from_toml_str(
            "[sip]\ncarriers = [\"192.0.2.0/24\"]\n[limits]\nmax_tcp_connections = 100\ntcp_idle_timeout_s = 7\n",
        )
        .unwrap();
        let p = AcceptPolicy::from_config(&c);
        assert_eq!(p.idle_timeout, Duration::from_secs(7));
        assert_eq!(p.max_non_carrier, 75);
        assert!(p.is_carrier("192.0.2.9".parse().unwrap()));
        assert!(!p.is_carrier("127.0.0.1".parse().unwrap()));
        assert!(Config::from_toml_str("[limits]\ntcp_idle_timeout_s = 0\n").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn too_many_headers_gets_513_and_the_connection_carries_on() {
        let (addr, mut rx, _c, _stop) = start(policy(30, &[], usize::MAX), 8).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut req = NO_CL[..NO_CL.len() - 2].to_vec();
        for i in 0..200 {
            req.extend_from_slice(format!("X-Pad-{i}: {i}\r\n").as_bytes());
        }
        req.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        s.write_all(&req).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        let m = crate::sip::parse(&buf[..n]).unwrap();
        assert_eq!(m.status_code(), Some(513));
        assert_eq!(m.call_id(), Some("x1"));
        assert!(m.header("Warning").is_some());
        // Same connection, a normal request: it reaches the engine.
        let mut ok = NO_CL[..NO_CL.len() - 2].to_vec();
        ok.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        s.write_all(&ok).await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), ok);
    }

    const NO_CL: &[u8] = b"OPTIONS sip:ap@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK77\r\nFrom: <sip:c@127.0.0.1>;tag=1\r\nTo: <sip:ap@127.0.0.1>\r\nCall-ID: x1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n";

    #[test]
    fn missing_content_length_gets_400_naming_it() {
        let e = frame(NO_CL, &Limits::default()).unwrap_err();
        assert_eq!(e, ParseError::MissingContentLength);
        let resp = unframeable_response(NO_CL, &e, &Limits::default()).unwrap();
        let m = crate::sip::parse(&resp).unwrap();
        assert_eq!(m.status_code(), Some(400));
        assert_eq!(m.call_id(), Some("x1"));
        assert!(m.to().unwrap().tag().is_some());
        assert!(m.header("Warning").unwrap().contains("Content-Length"));
    }

    #[test]
    fn conflicting_content_length_gets_400_and_responses_are_not_answered() {
        let mut req = NO_CL[..NO_CL.len() - 2].to_vec();
        req.extend_from_slice(b"Content-Length: 0\r\nl: 5\r\n\r\n");
        let e = frame(&req, &Limits::default()).unwrap_err();
        assert_eq!(e, ParseError::ConflictingContentLength);
        let resp = unframeable_response(&req, &e, &Limits::default()).unwrap();
        let m = crate::sip::parse(&resp).unwrap();
        assert_eq!(m.status_code(), Some(400));

        let response =
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let e = frame(response, &Limits::default()).unwrap_err();
        assert_eq!(unframeable_response(response, &e, &Limits::default()), None);
    }

    #[tokio::test(start_paused = true)]
    async fn oversize_body_is_skipped_and_the_connection_carries_on() {
        // 200 KB of body against the 65,535-octet message limit, written in pieces: the
        // header section goes on, the body is discarded, the next message frames, and
        // the connection stays open (the engine answers the head: 413 or a queued 999).
        let (addr, mut rx, counters, _stop) = start(policy(30, &[], usize::MAX), 8).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut head = NO_CL[..NO_CL.len() - 2].to_vec();
        head.extend_from_slice(b"Content-Length: 200000\r\n\r\n");
        s.write_all(&head).await.unwrap();
        for _ in 0..20 {
            s.write_all(&[b'x'; 10_000]).await.unwrap();
        }
        let mut ok = NO_CL[..NO_CL.len() - 2].to_vec();
        ok.extend_from_slice(b"Content-Length: 3\r\n\r\nabc");
        s.write_all(&ok).await.unwrap();
        let within = Duration::from_secs(5);
        let first = tokio::time::timeout(within, rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first, head);
        let second = tokio::time::timeout(within, rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second, ok);
        assert_eq!(counters.tcp_bodies_dropped.load(Ordering::Relaxed), 1);
        assert_eq!(counters.tcp_bad_streams.load(Ordering::Relaxed), 0);
        let (_, eof) = read_until_eof(&mut s, Duration::from_secs(1)).await;
        assert!(!eof, "closed after an oversize body");
    }

    #[test]
    fn oversize_head_still_gets_513() {
        // A header section beyond the message limit cannot be framed: 513, then close.
        let tiny = Limits {
            max_message_bytes: 200,
            ..Limits::default()
        };
        let mut req = NO_CL[..NO_CL.len() - 2].to_vec();
        req.extend_from_slice(b"X-Pad: 0123456789\r\nContent-Length: 0\r\n\r\n");
        let e = frame(&req, &tiny).unwrap_err();
        assert!(matches!(e, ParseError::MessageTooLarge { .. }), "{e:?}");
        let resp = unframeable_response(&req, &e, &Limits::default()).unwrap();
        assert_eq!(crate::sip::parse(&resp).unwrap().status_code(), Some(513));
    }

    #[test]
    fn a_head_too_large_to_parse_still_gets_its_513() {
        // One 40,000-octet header line (over MAX_LINE_BYTES) in a 999 INVITE, and a head
        // that never ends within the buffer: the answer is built from Via/From/To/Call-ID/
        // CSeq, with the limits the connection uses.
        let invite = |pad: &str, end: &str| {
            format!(
                "INVITE urn:service:sos SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK9\r\n\
                 From: <sip:c@127.0.0.1>;tag=1\r\nTo: <urn:service:sos>\r\nX-Junk: {pad}\r\n\
                 Call-ID: big\r\nCSeq: 1 INVITE\r\n{end}"
            )
        };
        let long = invite(&"j".repeat(40_000), "Content-Length: 0\r\n\r\n");
        let e = frame(long.as_bytes(), &Limits::default()).unwrap_err();
        let resp = unframeable_response(long.as_bytes(), &e, &Limits::default()).unwrap();
        let m = crate::sip::parse(&resp).unwrap();
        assert_eq!(m.status_code(), Some(e.status_code()));
        assert_eq!(
            (m.call_id(), m.cseq().map(|c| c.seq)),
            (Some("big"), Some(1))
        );
        // Never-ending head: the complete lines so far are enough.
        let open = invite("x", "X-More: ");
        let resp = unframeable_response(open.as_bytes(), &e, &Limits::default()).unwrap();
        assert_eq!(crate::sip::parse(&resp).unwrap().call_id(), Some("big"));
    }

    /// A malformed repeat of To / CSeq / From (found by the new-user check) in an
    /// unframeable head: the answer is built from the first of each, not withheld.
    #[test]
    fn unframeable_head_with_a_bad_repeat_still_gets_its_400() {
        for repeat in ["To: <<<\r\n", "CSeq: 1 BYE\r\n", "f: <<<\r\n", "i: \r\n"] {
            let req = format!(
                "INVITE urn:service:sos SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK7\r\n\
                 From: <sip:c@127.0.0.1>;tag=1\r\nTo: <urn:service:sos>\r\nCall-ID: rep\r\n\
                 CSeq: 1 INVITE\r\n{repeat}garbage line\r\n\r\n"
            );
            let e = frame(req.as_bytes(), &Limits::default()).unwrap_err();
            let resp = unframeable_response(req.as_bytes(), &e, &Limits::default())
                .unwrap_or_else(|| panic!("no answer with {repeat:?}"));
            let m = crate::sip::parse(&resp).unwrap();
            assert_eq!(m.status_code(), Some(400), "{repeat:?}");
            assert_eq!(m.call_id(), Some("rep"));
            assert_eq!(
                m.cseq().map(|c| c.method.to_string()),
                Some("INVITE".into())
            );
        }
    }

    #[test]
    fn garbage_gets_no_response() {
        let e = ParseError::MissingContentLength;
        assert_eq!(
            unframeable_response(b"\x00\x01 garbage\r\n\r\n", &e, &Limits::default()),
            None
        );
        assert_eq!(
            unframeable_response(b"no head end", &e, &Limits::default()),
            None
        );
    }
}
