//! SIP over UDP (RFC 3261 §18.1, §18.2): the engine task reads its UDP sockets itself, so a
//! datagram goes from the socket to the engine with no task hop, no channel and no copy
//! (the engine parses it straight out of one reused buffer). Each datagram is one message;
//! CRLF-only datagrams are keepalives (RFC 5626 §4.4.1) and are dropped here.
//!
//! While the engine task is busy, datagrams wait in the socket's kernel receive buffer,
//! which is enlarged to [`RECV_BUFFER_BYTES`] at bind (as far as `net.core.rmem_max`
//! allows); when even that is full the kernel drops them and SIP retransmission
//! (Timers A/E/G) recovers.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;

use tokio::net::UdpSocket;

use crate::sip::framing::is_keepalive;

/// Largest UDP payload over IPv4/IPv6 (65,535 − 8 UDP − 20 IP header octets, plus slack).
pub(super) const DATAGRAM_BUFFER_BYTES: usize = 65_536;
/// Socket receive buffer asked for at bind, octets (about 2,000 queued SIP datagrams at
/// the kernel's ~2 KiB accounting per small datagram).
pub(super) const RECV_BUFFER_BYTES: usize = 4 << 20;
/// Most datagrams read from one socket before the engine task looks at its other inputs
/// (timers, TCP, API) again.
pub(super) const READ_BATCH: usize = 64;

/// Enlarges the receive buffer of `socket` to [`RECV_BUFFER_BYTES`] (the kernel caps it at
/// `net.core.rmem_max`). A refusal is logged, not fatal.
pub(super) fn enlarge_recv_buffer(socket: &UdpSocket) {
    let s = socket2::SockRef::from(socket);
    if let Err(e) = s.set_recv_buffer_size(RECV_BUFFER_BYTES) {
        tracing::debug!(error = %e, "cannot enlarge the UDP receive buffer");
    }
}

/// Completes with the index of a socket of `sockets` that has a datagram to read (or an
/// error to report). Never completes for an empty list.
pub(super) async fn readable(sockets: &[Arc<UdpSocket>]) -> usize {
    poll_fn(|cx| {
        for (i, s) in sockets.iter().enumerate() {
            if s.poll_recv_ready(cx).is_ready() {
                return Poll::Ready(i);
            }
        }
        Poll::Pending
    })
    .await
}

/// One read from a socket without waiting.
pub(super) enum Read<'a> {
    /// A SIP message (not a keepalive) from `source`.
    Datagram { source: SocketAddr, bytes: &'a [u8] },
    /// A keepalive, ignored.
    Keepalive,
    /// Nothing more to read now.
    Empty,
    /// A receive error (e.g. ICMP unreachable about an earlier send); keep reading.
    Error(io::Error),
}

/// Reads one datagram from `socket` into `buf` without waiting.
pub(super) fn try_read<'a>(socket: &UdpSocket, buf: &'a mut [u8]) -> Read<'a> {
    match socket.try_recv_from(buf) {
        Ok((len, source)) => {
            let bytes = buf.get(..len).unwrap_or_default();
            if is_keepalive(bytes) {
                Read::Keepalive
            } else {
                Read::Datagram { source, bytes }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Read::Empty,
        Err(e) => Read::Error(e),
    }
}
