//! Public inputs, outputs, events and snapshot of the [`Engine`](super::Engine) (the
//! engine ↔ runtime contract, `/work/notes/engine-contract.md`). Times in events and
//! snapshots are milliseconds since the engine was created (`_ms`).

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;

use super::Transport;
use crate::call::CallClass;
use crate::location::summary::LocationSummary;
use crate::queue::{CallbackId, RequestedState, RouterError, RouterSnapshot};

/// One datagram / one framed stream message handed in by the runtime.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// UDP or TCP.
    pub transport: Transport,
    /// Peer address as seen by the socket.
    pub source: SocketAddr,
    /// Our listening address that received it.
    pub local: SocketAddr,
    /// Exactly one SIP message (the runtime did stream framing for TCP).
    pub bytes: &'a [u8],
}

/// Bytes the runtime must send. For TCP: reuse an existing connection to `destination` if
/// one exists (including inbound connections the peer opened, RFC 3261 §18.2.2), else
/// connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// UDP or TCP.
    pub transport: Transport,
    /// Where to send: for responses computed from the top Via per RFC 3261 §18.2.2 and
    /// RFC 3581 (`received`, `rport`); for requests the peer's address.
    pub destination: SocketAddr,
    /// One complete SIP message.
    pub contents: Vec<u8>,
}

/// A supervisor command (HTTP API later). Handlers are named by seat id or user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Log a handler in / out, or set ready / not ready.
    SetHandlerState {
        /// Seat id or registered user name.
        handler: String,
        /// Requested state.
        state: RequestedState,
    },
    /// Cut a handler's wrap-up short.
    EndWrapUp {
        /// Seat id or registered user name.
        handler: String,
    },
    /// An abandoned call was called back; remove it from the callback list.
    CallbackDone {
        /// The callback entry.
        callback: CallbackId,
    },
    /// An AML fix for a caller (ETSI TS 103 625): becomes the location of that caller's
    /// live and recent calls when it ranks better (`engine/observe.rs`). Never refused.
    AmlLocation(super::observe::AmlLocation),
}

/// Why a [`Command`] was refused; the engine's state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No seat or registered user with this name.
    #[error("unknown handler {0}")]
    UnknownHandler(String),
    /// The queue core refused it.
    #[error(transparent)]
    Router(#[from] RouterError),
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason", content = "detail")]
pub enum EndReason {
    /// The caller sent BYE after the answer.
    CallerHangup,
    /// The handler sent BYE.
    HandlerHangup,
    /// The caller cancelled before the answer (an abandoned call, kept for callback).
    Abandoned,
    /// The call was refused with this status (503 admission limit, 404 unknown number).
    Rejected(u16),
    /// The call left for a partner control room that refused it or did not answer.
    OverflowFailed(u16),
    /// A test call (`urn:service:test.sos`) answered automatically and closed.
    TestCall,
    /// The carrier never acknowledged our 200 OK (RFC 3261 §13.3.1.4, 64·T1).
    NoAck,
    /// Session timer expired without a refresh (RFC 4028 §10).
    SessionExpired,
}

/// What happened to a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum CallEventKind {
    /// The INVITE arrived and was classified.
    Arrived {
        /// Queue class (`None` for test calls and rejected numbers).
        class: Option<CallClass>,
        /// Callback number.
        caller: String,
        /// Classification reason, as text.
        reason: String,
    },
    /// The call waits in the queue (180 sent).
    Queued,
    /// An INVITE went to a handler (or the overflow partner, named `overflow`).
    Offered {
        /// Seat id, user name, or the overflow target URI.
        handler: String,
    },
    /// The handler answered; the caller got 200 OK.
    Answered {
        /// Seat id or user name.
        handler: String,
    },
    /// The caller cancelled before the answer; the call is on the callback list.
    Abandoned,
    /// The call ended.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

/// One call event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallEvent {
    /// Engine call id.
    pub call: u64,
    /// When, ms since engine start.
    pub at_ms: u64,
    /// What.
    pub kind: CallEventKind,
}

/// An event for logs now, journal / metrics / SSE later.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum EngineEvent {
    /// A call event.
    Call(CallEvent),
    /// A handler changed state (queue core).
    HandlerState {
        /// Seat id or user name.
        handler: String,
        /// New state name (`available`, `ringing`, …).
        state: String,
        /// When, ms since engine start.
        at_ms: u64,
    },
    /// A softphone registered or refreshed (RFC 3261 §10.3).
    Registered {
        /// Digest user name.
        user: String,
        /// Contact, exactly as sent.
        contact: String,
        /// Granted expiry, s.
        expires_s: u32,
    },
    /// A registration ended (REGISTER with expiry 0, or expired).
    Unregistered {
        /// Digest user name.
        user: String,
    },
    /// A request was refused without a dialog (stateless answer, 403, 401…).
    Refused {
        /// Who sent it.
        source: SocketAddr,
        /// The status sent.
        status: u16,
        /// Why, in words.
        reason: String,
    },
    /// Something worth a log line (dropped response, unresolvable contact, option tag
    /// served despite Require on an emergency call…).
    Notice {
        /// What.
        text: String,
    },
}

/// State of a call in a [`CallView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallState {
    /// Waiting in the queue.
    Queued,
    /// An INVITE is ringing at a handler (or the overflow partner).
    Offered,
    /// Answered, in conversation.
    Connected,
    /// Finished normally or refused.
    Ended,
    /// The caller hung up before an answer.
    Abandoned,
}

/// One call in the [`Snapshot`]. Text that does not change during a call is shared
/// (`Arc`) with the engine's own record, so taking a view allocates once, not per field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallView {
    /// Engine call id (also sent to the handler as `X-Answerpoint-Call-Id`).
    pub id: u64,
    /// Queue class, if queued.
    pub class: Option<CallClass>,
    /// Classification reason, as text.
    pub classification: Arc<str>,
    /// Caller (From / P-Asserted-Identity) user or number.
    pub caller: Arc<str>,
    /// Callback number (P-Asserted-Identity tel or user=phone), if any.
    pub callback_number: Option<Arc<str>>,
    /// Location summary of the best location in the INVITE, if any (`age_s` is not
    /// computed: the engine has no wall clock).
    pub location: Option<Arc<LocationSummary>>,
    /// Location problems recorded at arrival (never fatal).
    pub location_errors: Arc<[String]>,
    /// Location URIs the INVITE gave by reference (Geolocation `https:`/`sip:` values, RFC
    /// 6442 §4.1), in header order: the engine passes them on to the handler but does not
    /// dereference them, so a console shows them for the handler to look up.
    pub location_references: Arc<[String]>,
    /// State.
    pub state: CallState,
    /// The handler ringing or connected (seat id / user name), if any.
    pub handler: Option<Arc<str>>,
    /// Offers made so far.
    pub offers: u32,
    /// Arrival, ms since engine start.
    pub arrived_ms: u64,
    /// First queued, ms.
    pub queued_ms: Option<u64>,
    /// Last offered, ms.
    pub offered_ms: Option<u64>,
    /// Answered, ms.
    pub answered_ms: Option<u64>,
    /// Ended or abandoned, ms.
    pub ended_ms: Option<u64>,
    /// Why it ended.
    pub end_reason: Option<EndReason>,
    /// The carrier's Call-ID.
    pub carrier_call_id: Arc<str>,
}

/// One handler in the [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandlerSnapshot {
    /// Seat id or user name.
    pub id: Arc<str>,
    /// `true` for a configured seat, `false` for a REGISTERed softphone.
    pub seat: bool,
    /// Where INVITEs go (seat contact or registered Contact), if known.
    pub contact: Option<Arc<str>>,
    /// Queue-core state name (`logged-out`, `available`, `ringing`, `busy`, `wrap-up`…).
    pub state: &'static str,
}

/// One registration binding (RFC 3261 §10.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrationView {
    /// Digest user name.
    pub user: String,
    /// Contact header value exactly as sent (parameters preserved).
    pub contact: String,
    /// Seconds left.
    pub expires_in_s: u64,
}

/// Read-only picture of the engine for tests and the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Engine time of the last input, ms since start.
    pub now_ms: u64,
    /// Live calls and the last [`MAX_RECENT_CALLS`](super::MAX_RECENT_CALLS) finished ones,
    /// by id. Every view is shared with the engine: a finished call's was taken once, when
    /// it finished; a live call's is retaken whenever the call changes, at the end of the
    /// engine step that changed it. Taking a snapshot clones pointers, not calls.
    pub calls: Vec<Arc<CallView>>,
    /// The queue core's view: depth per class, waiting calls, handlers, callback list.
    pub queue: RouterSnapshot,
    /// Handlers with names.
    pub handlers: Vec<HandlerSnapshot>,
    /// Registration bindings.
    pub registrations: Vec<RegistrationView>,
}
