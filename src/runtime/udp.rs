//! SIP over UDP (RFC 3261 §18.1, §18.2): one reader task per bound socket. Each datagram
//! is one message; CRLF-only datagrams are keepalives (RFC 5626 §4.4.1) and are dropped
//! here. The reader never waits on the engine: when the input queue is full the datagram
//! is dropped and counted, and SIP retransmission (Timers A/E/G) recovers.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use super::{Counters, Input, Transport};
use crate::sip::framing::is_keepalive;

/// Largest UDP payload over IPv4/IPv6 (65,535 − 8 UDP − 20 IP header octets, plus slack).
const DATAGRAM_BUFFER_BYTES: usize = 65_536;

/// Reads datagrams from `socket` (bound at `local`) until `stop` turns true or the socket
/// fails; each one goes to `input` with `try_send` (full queue: drop + count).
pub(super) async fn reader(
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    input: mpsc::Sender<Input>,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; DATAGRAM_BUFFER_BYTES];
    loop {
        let (len, source) = tokio::select! {
            _ = stop.changed() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP port unreachable surfaces as ConnectionReset on some platforms;
                    // it concerns an earlier send, not this socket: keep reading.
                    tracing::debug!(%local, error = %e, "udp recv error");
                    counters.udp_recv_errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            },
        };
        let bytes = buf.get(..len).unwrap_or_default();
        if is_keepalive(bytes) {
            continue;
        }
        let msg = Input::Message {
            transport: Transport::Udp,
            source,
            local,
            bytes: bytes.to_vec(),
        };
        match input.try_send(msg) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                let n = counters
                    .udp_dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                // Log the 1st, 2nd, 4th, 8th … drop so a surge does not flood the log.
                if n.is_power_of_two() {
                    tracing::warn!(%local, dropped_total = n, "input queue full: UDP datagram dropped");
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}
