//! SIP over TCP (RFC 3261 §18): the accept loop, one task per connection, stream framing
//! by Content-Length (§18.3, via [`crate::sip::framing::frame`]) and connection reuse
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
//! (RFC 5626 §4.4.1); a stream that cannot be framed (no or conflicting Content-Length,
//! oversize) gets a 400/413/513 when the request head is readable, then is closed.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::{Counters, Input, Transport};
use crate::sip::framing::{frame, StreamItem};
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

/// What every connection task needs.
#[derive(Clone)]
pub(super) struct ConnContext {
    pub input: mpsc::Sender<Input>,
    pub counters: Arc<Counters>,
    pub limits: Limits,
    pub stop: watch::Receiver<bool>,
}

/// Accepts connections on `listener` (bound at `local`) until `stop` turns true. A
/// connection beyond `sip` `limits.max_tcp_connections` is closed at once and counted.
pub(super) async fn acceptor(
    listener: TcpListener,
    local: SocketAddr,
    permits: Arc<Semaphore>,
    ctx: ConnContext,
) {
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
            run_connection(stream, peer, local, id, tx, rx, ctx, permit).await;
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
    run_connection(stream, peer, local, id, tx, rx, ctx, permit).await;
}

/// Reads and frames until EOF, an I/O error, an unframeable stream or shutdown; then
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
) {
    let (mut rd, wr) = stream.into_split();
    let writer = tokio::spawn(write_loop(wr, rx, peer));
    let mut stop = ctx.stop.clone();
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK_BYTES);
    let cap = ctx.limits.max_message_bytes.saturating_mul(2);
    'read: loop {
        buf.reserve(READ_CHUNK_BYTES);
        let n = tokio::select! {
            _ = stop.changed() => break 'read,
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) => break 'read,
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "tcp read error");
                    break 'read;
                }
            },
        };
        tracing::trace!(%peer, n, "tcp read");
        loop {
            match frame(&buf, &ctx.limits) {
                Ok(None) => {
                    if buf.len() > cap {
                        // frame() caps the head and body, so this needs a peer that
                        // never ends its head within the limits; treat as oversize.
                        let e = ParseError::MessageTooLarge {
                            len: buf.len(),
                            max: ctx.limits.max_message_bytes,
                        };
                        reject_stream(&buf, &e, &tx, &ctx, peer);
                        break 'read;
                    }
                    break;
                }
                Ok(Some((StreamItem::Keepalive { pong, .. }, used))) => {
                    if pong {
                        let _ = tx.try_send(b"\r\n".to_vec());
                    }
                    buf.drain(..used.min(buf.len()));
                }
                Ok(Some((StreamItem::Message(_) | StreamItem::Invalid(_), used))) => {
                    let bytes = buf.get(..used).unwrap_or_default().to_vec();
                    buf.drain(..used.min(buf.len()));
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
                Err(e) => {
                    reject_stream(&buf, &e, &tx, &ctx, peer);
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
) {
    ctx.counters.tcp_bad_streams.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(%peer, error = %err, "unframeable SIP stream: closing connection");
    if let Some(resp) = unframeable_response(buf, err, &ctx.limits) {
        let _ = tx.try_send(resp);
    }
}

/// The response to a request whose stream framing failed (RFC 3261 §18.3: Content-Length
/// is mandatory on streams; §21 status codes via [`ParseError::status_code`]), built from
/// the request head with its Content-Length fields set aside. `None` when `buf` does not
/// start with a readable request head, or holds a response or an ACK (never answered).
pub(super) fn unframeable_response(
    buf: &[u8],
    err: &ParseError,
    limits: &Limits,
) -> Option<Vec<u8>> {
    if is_response_start(buf) {
        return None;
    }
    let head_end = memchr::memmem::find(buf, b"\r\n\r\n")?;
    let head = buf.get(..head_end)?;
    let mut cleaned: Vec<u8> = Vec::with_capacity(head.len() + 4);
    for line in head.split(|&b| b == b'\n') {
        let lower = line.to_ascii_lowercase();
        let name = lower.split(|&b| b == b':').next().unwrap_or_default();
        let name = name.trim_ascii();
        if name == b"content-length" || name == b"l" {
            continue;
        }
        cleaned.extend_from_slice(line);
        cleaned.push(b'\n');
    }
    cleaned.extend_from_slice(b"\r\n");
    let req = parse_with(&cleaned, limits).ok()?;
    if !req.is_request() || matches!(req.method(), Some(Method::Ack) | None) {
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

    #[test]
    fn oversize_body_gets_413() {
        let mut req = NO_CL[..NO_CL.len() - 2].to_vec();
        req.extend_from_slice(b"Content-Length: 9999999\r\n\r\n");
        let e = frame(&req, &Limits::default()).unwrap_err();
        let resp = unframeable_response(&req, &e, &Limits::default()).unwrap();
        assert_eq!(crate::sip::parse(&resp).unwrap().status_code(), Some(413));
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
