//! The sans-IO B2BUA (back-to-back user agent) of answerpoint: carrier INVITE in, handler
//! INVITE out (RFC 3261 §6 "back-to-back user agent", §8.2 UAS and §8.1 UAC behaviour,
//! §17 transactions, §18.2.2 response routing, §10 registrar with §22.4 digest).
//!
//! `(now, input) → outputs`: the runtime feeds datagrams with [`Engine::handle_received`]
//! and time with [`Engine::handle_timeout`], then drains [`Engine::poll_transmit`] to its
//! sockets and [`Engine::poll_event`] to its logs. The engine never reads a clock and never
//! touches a socket; see `/work/notes/engine-contract.md` for the runtime side.
//!
//! Stateless answers (RFC 3261 §8.2, §21): a request that does not parse gets the sip layer's
//! status (400 with a reason phrase and `Warning` naming the fault, 413, 505, 513); an
//! unparseable response is dropped (§18.1.2). `OPTIONS` outside a dialog is answered 200
//! (carrier keepalive, §11.2).

mod types;

pub use types::{
    CallEvent, CallEventKind, CallState, CallView, Command, CommandError, EndReason, EngineEvent,
    HandlerSnapshot, Received, RegistrationView, Snapshot, Transmit,
};

/// The SIP transport of a datagram or connection (UDP unreliable, TCP reliable).
pub use crate::config::SipTransport as Transport;

mod calls;
mod endpoint;
mod registrar;
mod util;

pub use calls::{CALL_ID_HEADER, MIN_SE_S};
pub use endpoint::{Engine, MAX_RECENT_CALLS};
pub use registrar::{DEFAULT_EXPIRES_S, MAX_BINDINGS_PER_USER};
