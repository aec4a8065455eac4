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
//! (carrier keepalive, §11.2). 416 unknown URI scheme, 400 missing headers, 483
//! Max-Forwards 0, 420 unknown Require tag (with `Unsupported`), 415 body type and 422
//! small Session-Expires are answered for non-emergency INVITEs; an emergency INVITE is
//! never refused for these (it is served and the fault logged as a
//! [`EngineEvent::Notice`]). INVITEs from outside `sip.carriers` get 403.
//!
//! Responses are addressed per RFC 3261 §18.2.2 and RFC 3581: `received` (and `rport` when
//! asked) are added to the top Via; over UDP the destination is the source IP at the
//! `rport` port (if asked) or the sent-by port; over TCP it is the connection's peer.
//! In-dialog requests to a peer go to the first Route / remote target when it is an IP
//! literal, else to the address the peer's messages come from (no DNS in the core).
//!
//! Choices the integrator must know:
//! - Seats (`[[seats]]`) are logged in (Available) at start; a supervisor logs them out
//!   with [`Command::SetHandlerState`]. Seats or users with no skills get every class skill.
//! - A handler parked NotReady("missed calls") by ring-no-answer returns to Available
//!   after `queue.rona_not_ready_s` (default 60 s; 0 = stays), or at once when its device
//!   shows it is alive: a successful REGISTER refresh (softphones) or an OPTIONS from the
//!   seat's contact address (seats). Both transitions are logged as `WARNING` notices.
//! - The engine call id reaches the handler as `X-Answerpoint-Call-Id` ([`CALL_ID_HEADER`]).
//! - A registered softphone is reached at its Contact URI (Request-URI, all parameters
//!   kept) sent to the address its REGISTER came from; one handler per user, INVITEs to the
//!   most recently refreshed binding.
//! - Times in events and snapshots are ms since [`Engine::new`]; the location summary's
//!   `age_s` is not filled (no wall clock in the core).

mod types;

pub use types::{
    CallEvent, CallEventKind, CallState, CallView, Command, CommandError, EndReason, EngineEvent,
    HandlerSnapshot, Received, RegistrationView, Snapshot, Transmit,
};

/// The SIP transport of a datagram or connection (UDP unreliable, TCP reliable).
pub use crate::config::SipTransport as Transport;

mod call_table;
mod calls;
mod endpoint;
mod observe;
mod registrar;
mod shutdown;
mod util;

pub use observe::AmlLocation;
pub use shutdown::{Shutdown, ShutdownCall, SHUTDOWN_RETRY_AFTER_S};

pub use calls::{CALL_ID_HEADER, MIN_SE_S};
pub use endpoint::{Engine, MAX_RECENT_CALLS};
pub use registrar::{DEFAULT_EXPIRES_S, MAX_BINDINGS_PER_USER};
