//! RFC 3261 §17 transaction state machines (client/server × INVITE/non-INVITE), amended by
//! RFC 6026 (the "Accepted" state for 2xx responses to INVITE), sans-IO.
//!
//! | machine | RFC 3261 | figure |
//! | --- | --- | --- |
//! | [`InviteClient`] | §17.1.1 + RFC 6026 §7.2 | Figure 5 |
//! | [`NonInviteClient`] | §17.1.2 | Figure 6 |
//! | [`InviteServer`] | §17.2.1 + RFC 6026 §7.1 | Figure 7 |
//! | [`NonInviteServer`] | §17.2.2 | Figure 8 |
//!
//! # Shape (quinn-proto / str0m style)
//!
//! Every machine is a plain value that never reads a clock, touches a socket or spawns
//! anything. Time is an input, timers are outputs:
//!
//! - inputs: `handle_*(now, …)` (a received request/response, a response from the TU,
//!   a transport error) and `handle_timeout(now)`;
//! - outputs: `poll_transmit()` (messages to hand to the transport, in order),
//!   `poll_event()` (things the transaction user must know) and `poll_timeout()` (the
//!   earliest instant at which `handle_timeout` must be called).
//!
//! The machines are generic over the message type `M: Clone` and take the few facts they
//! need (method, status code) as typed arguments, so they do not depend on the parser:
//! the B2BUA feeds them parsed messages, the tests feed them strings.
//!
//! Matching an incoming message to its transaction (§17.1.3, §17.2.3) is in [`key`], written
//! against plain strings (branch, sent-by, method). [`TransactionTable`] owns the live
//! transactions of an endpoint: it routes messages by key, runs all timers from one heap and
//! drops terminated transactions.
//!
//! # Reliability (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2)
//!
//! Over a reliable transport (TCP) no retransmission timer (A, E, G) is armed and the
//! "wait for stray retransmissions" timers D, I, J and K are zero: the machine goes straight
//! to Terminated instead of arming a zero timer.

mod invite_client;
mod invite_server;
pub mod key;
mod non_invite_client;
mod non_invite_server;
mod table;
mod timers;

pub use invite_client::{InviteClient, InviteClientState};
pub use invite_server::{InviteServer, InviteServerState, Trying};
pub use key::{ClientKey, KeyError, ServerKey};
pub use non_invite_client::{NonInviteClient, NonInviteClientState};
pub use non_invite_server::{NonInviteServer, NonInviteServerState};
pub use table::{
    ClientTransaction, RequestMatch, ServerTransaction, TableError, TransactionTable, TxEvent,
    TxKey,
};

use std::time::Duration;

use serde::Deserialize;

/// How long an INVITE server transaction waits for the TU's first response before it sends
/// a 100 (Trying) of its own, in ms (RFC 3261 §17.2.1: "unless it knows that the TU will
/// generate a provisional or final response within 200 ms").
pub const TRYING_DELAY_MS: u64 = 200;

/// The RFC 3261 §17 base timer values, in milliseconds (Table 4 of RFC 3261).
///
/// Deserialises from `[sip.timers]` with keys `t1_ms`, `t2_ms`, `t4_ms`; any missing key takes
/// the RFC default. Every other timer is derived from these three (see [`Timer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimerConfig {
    /// T1, the RTT estimate, ms (default 500; RFC 3261 §17.1.1.1).
    pub t1_ms: u64,
    /// T2, the maximum retransmit interval for non-INVITE requests and INVITE responses, ms
    /// (default 4000).
    pub t2_ms: u64,
    /// T4, the maximum time a message remains in the network, ms (default 5000).
    pub t4_ms: u64,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
        }
    }
}

impl TimerConfig {
    /// The values the machines actually use: T1 at least 1 ms (a zero T1 would make the
    /// retransmit timers fire in a loop), T2 at least T1, T4 at least 1 ms. Configuration
    /// validation rejects such values earlier; this keeps the machines total regardless.
    pub fn normalized(self) -> Self {
        let t1_ms = self.t1_ms.max(1);
        TimerConfig {
            t1_ms,
            t2_ms: self.t2_ms.max(t1_ms),
            t4_ms: self.t4_ms.max(1),
        }
    }

    /// T1 as a [`Duration`].
    pub fn t1(&self) -> Duration {
        Duration::from_millis(self.t1_ms)
    }

    /// T2 as a [`Duration`].
    pub fn t2(&self) -> Duration {
        Duration::from_millis(self.t2_ms)
    }

    /// T4 as a [`Duration`].
    pub fn t4(&self) -> Duration {
        Duration::from_millis(self.t4_ms)
    }

    /// 64·T1: Timers B, F, H, J (unreliable), L and M.
    pub fn t1_x64(&self) -> Duration {
        self.t1().saturating_mul(64)
    }

    /// Timer D for unreliable transports: "at least 32 seconds" (RFC 3261 §17.1.1.2); we use
    /// max(32 s, 64·T1) so a raised T1 never shortens it below the other timers.
    pub fn timer_d_unreliable(&self) -> Duration {
        Duration::from_secs(32).max(self.t1_x64())
    }
}

/// Whether the transport under a transaction retransmits for us (RFC 3261 §17.1.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliability {
    /// UDP: the transaction retransmits (Timers A, E, G) and waits out stray copies.
    Unreliable,
    /// TCP, TLS, WebSocket: no retransmission timers; D, I, J, K are zero.
    Reliable,
}

impl Reliability {
    /// `true` for [`Reliability::Reliable`].
    pub fn is_reliable(self) -> bool {
        matches!(self, Reliability::Reliable)
    }
}

/// The named timers of RFC 3261 §17 (Table 4) and RFC 6026 (L, M), plus the 200 ms
/// 100-Trying timer of §17.2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE request retransmit interval, starts at T1, doubles (unreliable only).
    A,
    /// INVITE client transaction timeout, 64·T1.
    B,
    /// Wait for response retransmissions in INVITE client Completed: ≥ 32 s, 0 on reliable.
    D,
    /// Non-INVITE request retransmit interval, T1 doubling up to T2 (unreliable only).
    E,
    /// Non-INVITE client transaction timeout, 64·T1.
    F,
    /// INVITE final-response retransmit interval, T1 doubling up to T2 (unreliable only).
    G,
    /// Wait for ACK receipt, 64·T1.
    H,
    /// Wait for ACK retransmissions, T4 (0 on reliable).
    I,
    /// Wait for non-INVITE request retransmissions, 64·T1 (0 on reliable).
    J,
    /// Wait for non-INVITE response retransmissions, T4 (0 on reliable).
    K,
    /// RFC 6026: INVITE server Accepted state lifetime, 64·T1.
    L,
    /// RFC 6026: INVITE client Accepted state lifetime, 64·T1.
    M,
    /// RFC 3261 §17.2.1: send 100 (Trying) if the TU has not responded within 200 ms.
    Trying,
}

/// Something a client transaction tells its transaction user (RFC 3261 §17.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent<M> {
    /// A response to pass up: every 1xx, the first final response, and (INVITE, RFC 6026
    /// Accepted state) every 2xx including retransmissions and 2xx from other forks.
    Response {
        /// The status code, 100–699.
        status: u16,
        /// The response as received.
        response: M,
    },
    /// Timer B (INVITE) or Timer F (non-INVITE) fired with no final response: the TU
    /// treats it as a 408 (RFC 3261 §8.1.3.1).
    Timeout,
    /// The transport reported a failure sending the request (RFC 3261 §17.1.4).
    TransportError,
    /// The transaction reached Terminated and can be dropped.
    Terminated,
}

/// Something a server transaction tells its transaction user (RFC 3261 §17.2).
///
/// The request that created the transaction is passed to the TU by whoever created the
/// transaction; retransmitted requests are absorbed and never appear here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent<M> {
    /// RFC 6026 §7.1: an ACK received in the Accepted state (the ACK for a 2xx) is passed
    /// to the TU, which owns it; the dialog layer stops its 2xx retransmissions.
    Ack(M),
    /// Timer H fired in Completed: no ACK for a non-2xx final response (RFC 3261 §17.2.1).
    Timeout,
    /// The transport reported a failure sending a response (RFC 3261 §17.2.4).
    TransportError,
    /// The transaction reached Terminated and can be dropped.
    Terminated,
}

/// Errors from feeding a transaction something that is not allowed in its state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The status code is outside 100–699 (RFC 3261 §21).
    #[error("status code {0} is outside 100-699")]
    InvalidStatus(u16),
    /// The TU tried to send a response the state does not allow, e.g. a second final
    /// response, or a provisional response after a final one.
    #[error("cannot send a {status} response in state {state}")]
    ResponseNotAllowed {
        /// The status the TU tried to send.
        status: u16,
        /// The transaction's state at the time, by name.
        state: &'static str,
    },
}

pub(crate) fn check_status(status: u16) -> Result<(), TransactionError> {
    if (100..=699).contains(&status) {
        Ok(())
    } else {
        Err(TransactionError::InvalidStatus(status))
    }
}
