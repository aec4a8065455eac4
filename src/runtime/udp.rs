//! SIP over UDP (RFC 3261 §18.1, §18.2): the engine task reads its UDP sockets itself, so a
//! datagram goes from the socket to the engine with no task hop, no channel and no copy
//! (the engine parses it straight out of one reused buffer). Each datagram is one message;
//! CRLF-only datagrams are keepalives (RFC 5626 §4.4.1) and are dropped here.
//!
//! Datagrams read but not yet handled wait in an [`Inbound`] queue from which emergency
//! INVITEs are taken first (the engine judges them from the request line and priority
//! headers, `Engine::is_emergency_datagram`): the answer-time target is for 999 calls, so
//! a 999 INVITE must not wait behind other calls' in-dialog traffic.
//!
//! While the engine task is busy, datagrams wait in the socket's kernel receive buffer,
//! which is enlarged to [`RECV_BUFFER_BYTES`] at bind (as far as `net.core.rmem_max`
//! allows); when even that is full the kernel drops them and SIP retransmission
//! (Timers A/E/G) recovers.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::sip::framing::is_keepalive;

/// Largest UDP payload over IPv4/IPv6 (65,535 − 8 UDP − 20 IP header octets, plus slack).
pub(super) const DATAGRAM_BUFFER_BYTES: usize = 65_536;
/// Socket receive buffer asked for at bind, octets (about 2,000 queued SIP datagrams at
/// the kernel's ~2 KiB accounting per small datagram).
pub(crate) const RECV_BUFFER_BYTES: usize = 4 << 20;
/// Most datagrams read from one socket before the engine task looks at its other inputs
/// (timers, TCP, API) again; also the most datagrams waiting in an [`Inbound`] queue.
pub(super) const READ_BATCH: usize = 64;
/// While datagrams wait in the [`Inbound`] queue, the socket is read again once this much
/// time has passed since the last read (and always when the queue runs empty): often
/// enough that a 999 INVITE arriving meanwhile overtakes the queue after at most one
/// engine step plus this, rarely enough that an empty read (one `recvfrom` returning
/// `EAGAIN`) does not follow every ~10 µs ACK.
pub(super) const REFILL_AFTER: Duration = Duration::from_micros(50);

/// Enlarges the receive buffer of `socket` to [`RECV_BUFFER_BYTES`] (the kernel caps it at
/// `net.core.rmem_max`). A refusal is logged, not fatal.
pub(crate) fn enlarge_recv_buffer(socket: &UdpSocket) {
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
    /// A SIP message (not a keepalive) from `source`, queued on the socket by the kernel at
    /// `received` (`None`: no receive timestamp).
    Datagram {
        source: SocketAddr,
        bytes: &'a [u8],
        received: Option<std::time::Instant>,
    },
    /// A keepalive, ignored.
    Keepalive,
    /// Nothing more to read now.
    Empty,
    /// A receive error (e.g. ICMP unreachable about an earlier send); keep reading.
    Error(io::Error),
}

/// Reads one datagram from `socket` into `buf` without waiting.
pub(super) fn try_read<'a>(socket: &UdpSocket, buf: &'a mut [u8]) -> Read<'a> {
    match super::rxstamp::try_recv(socket, buf) {
        Ok((len, source, received)) => {
            let bytes = buf.get(..len).unwrap_or_default();
            if is_keepalive(bytes) {
                Read::Keepalive
            } else {
                Read::Datagram {
                    source,
                    bytes,
                    received,
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Read::Empty,
        Err(e) => Read::Error(e),
    }
}

/// A datagram read from a UDP socket, waiting in an [`Inbound`] queue.
pub(super) struct Waiting {
    buf: Vec<u8>,
    len: usize,
    /// Where it came from.
    pub(super) source: SocketAddr,
    /// Whether the engine judged it an emergency INVITE when it was read.
    emergency: bool,
    /// The kernel's receive timestamp, if any.
    pub(super) received: Option<std::time::Instant>,
}

impl Waiting {
    /// The datagram's octets.
    pub(super) fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Datagrams read from one UDP socket and not yet handed to the engine, at most
/// [`READ_BATCH`], with their receive buffers (reused: no allocation per datagram once
/// [`READ_BATCH`] buffers exist). [`Inbound::next`] takes the oldest emergency INVITE
/// first, then the oldest datagram: arrival order is kept within each of the two kinds.
#[derive(Default)]
pub(super) struct Inbound {
    waiting: VecDeque<Waiting>,
    spare: Vec<Vec<u8>>,
}

impl Inbound {
    /// No datagram waiting.
    pub(super) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Reads from `socket` without waiting until it is empty or [`READ_BATCH`] datagrams
    /// wait (keepalives are dropped), marking each with `is_emergency`. Returns how many
    /// receive errors (e.g. ICMP port unreachable about an earlier send) were skipped.
    pub(super) fn fill(&mut self, socket: &UdpSocket, is_emergency: impl Fn(&[u8]) -> bool) -> u64 {
        let mut errors = 0;
        for _ in 0..READ_BATCH {
            if self.waiting.len() >= READ_BATCH {
                break;
            }
            let mut buf = self
                .spare
                .pop()
                .unwrap_or_else(|| vec![0u8; DATAGRAM_BUFFER_BYTES]);
            let read = match try_read(socket, &mut buf) {
                Read::Datagram {
                    source,
                    bytes,
                    received,
                } => Some((source, bytes.len(), is_emergency(bytes), received)),
                Read::Keepalive => None,
                Read::Empty => {
                    self.spare.push(buf);
                    break;
                }
                Read::Error(e) => {
                    tracing::debug!(error = %e, "udp recv error");
                    errors += 1;
                    None
                }
            };
            match read {
                Some((source, len, emergency, received)) => self.waiting.push_back(Waiting {
                    buf,
                    len,
                    source,
                    emergency,
                    received,
                }),
                None => self.spare.push(buf),
            }
        }
        errors
    }

    /// The oldest waiting emergency INVITE, else the oldest datagram.
    pub(super) fn next(&mut self) -> Option<Waiting> {
        let i = self.waiting.iter().position(|w| w.emergency).unwrap_or(0);
        self.waiting.remove(i)
    }

    /// Gives a handled datagram's buffer back for the next read.
    pub(super) fn recycle(&mut self, w: Waiting) {
        self.spare.push(w.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `datagrams` to a fresh socket and returns it once readable.
    async fn loaded(datagrams: &[&[u8]]) -> UdpSocket {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for d in datagrams {
            tx.send_to(d, rx.local_addr().unwrap()).unwrap();
        }
        rx.readable().await.unwrap();
        rx
    }

    fn drain(q: &mut Inbound) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(w) = q.next() {
            out.push(String::from_utf8_lossy(w.bytes()).into_owned());
            q.recycle(w);
        }
        out
    }

    #[tokio::test]
    async fn emergency_invites_are_taken_first_and_each_kind_keeps_its_order() {
        let rx = loaded(&[
            b"ACK a",
            b"INVITE 101 b",
            b"E1",
            b"SIP/2.0 200 c",
            b"\r\n\r\n",
            b"E2",
            b"BYE d",
        ])
        .await;
        let mut q = Inbound::default();
        assert_eq!(q.fill(&rx, |d| d.starts_with(b"E")), 0);
        // The keepalive is dropped; 999s first, both kinds in arrival order.
        assert_eq!(
            drain(&mut q),
            [
                "E1",
                "E2",
                "ACK a",
                "INVITE 101 b",
                "SIP/2.0 200 c",
                "BYE d"
            ]
        );
        assert!(q.is_empty());
        // The socket is empty now: a fill reads nothing.
        assert_eq!(q.fill(&rx, |_| true), 0);
        assert!(q.next().is_none());
    }

    #[tokio::test]
    async fn at_most_a_batch_waits_and_the_rest_stays_in_the_socket() {
        let names: Vec<String> = (0..READ_BATCH + 6).map(|i| format!("m{i}")).collect();
        let bytes: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
        let rx = loaded(&bytes).await;
        let mut q = Inbound::default();
        q.fill(&rx, |_| false);
        let first = drain(&mut q);
        assert_eq!(first.len(), READ_BATCH);
        assert_eq!(first.first().map(String::as_str), Some("m0"));
        q.fill(&rx, |_| false);
        let rest = drain(&mut q);
        assert_eq!(rest, names[READ_BATCH..]);
        // Buffers are reused: no more than one batch of them was ever made.
        assert!(q.spare.len() <= READ_BATCH);
    }
}
