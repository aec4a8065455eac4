//! Inputs, outputs and identifiers of the routing core (docs/DESIGN.md §3 and §6): the
//! [`Event`]s the runtime feeds to [`crate::queue::Router::handle`], the [`Action`]s it
//! polls back, handler states (ACD terms: ring-no-answer, wrap-up, not-ready) and the
//! abandoned-call callback item.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::call::CallClass;
use crate::queue::Skills;

/// The engine's call id (one per carrier call, stable across re-offers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub u64);

/// A call handler (one softphone / console position).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HandlerId(pub u32);

/// Id of an entry on the abandoned-call callback list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallbackId(pub u64);

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

impl std::fmt::Display for HandlerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "handler-{}", self.0)
    }
}

/// State of a call handler (docs/DESIGN.md §6).
///
/// ```text
///  LoggedOut ──login──► Available ──offer──► Ringing(call) ──200 OK──► Busy(call)
///      ▲                 ▲    ▲                  │ ring-no-answer / 486 / 603 / 408     │ BYE
///      │ logout          │    └──── (miss < N) ──┤                                      ▼
///      └── NotReady ◄────┼──────── (miss = N) ───┘          Available ◄── WrapUp{until}
///                        └─────────── supervisor "ready" / wrap-up over ─────┘
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerState {
    /// Not logged in: never offered a call.
    LoggedOut,
    /// Logged in but not taking calls, with the reason (break, "missed calls", …).
    NotReady(String),
    /// Waiting for a call.
    Available,
    /// A call is being offered (the handler's phone rings).
    Ringing(CallId),
    /// Talking to a caller.
    Busy(CallId),
    /// After-call work until `until`; then Available (or the state requested meanwhile).
    WrapUp {
        /// End of wrap-up.
        until: Instant,
    },
}

impl HandlerState {
    /// Stable lower-case name for JSON and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            HandlerState::LoggedOut => "logged-out",
            HandlerState::NotReady(_) => "not-ready",
            HandlerState::Available => "available",
            HandlerState::Ringing(_) => "ringing",
            HandlerState::Busy(_) => "busy",
            HandlerState::WrapUp { .. } => "wrap-up",
        }
    }
}

/// A state a supervisor (or the handler's console) asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestedState {
    /// Log in / become ready. In wrap-up this ends wrap-up early; while busy it cancels
    /// an earlier deferred request.
    Available,
    /// Stop taking calls, with a reason. While busy it takes effect after the call and
    /// its wrap-up; while ringing the offer is cancelled and the call re-offered.
    NotReady(String),
    /// Log out. Deferred and cancelling like [`RequestedState::NotReady`].
    LoggedOut,
}

/// A call presented to the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    /// Engine call id; must be unique among live calls.
    pub call: CallId,
    /// Priority class.
    pub class: CallClass,
    /// Callback number (from P-Asserted-Identity / From), kept for the callback list.
    pub caller: String,
    /// Location summary as shown to handlers; opaque to the router.
    pub location: Option<String>,
    /// Skills a handler needs beyond the class skill (language, text); the class skill
    /// ([`Skills::for_class`]) is always added.
    pub required_skills: Skills,
}

/// An input to the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new call was classified and located; queue or offer it.
    CallArrived(NewCall),
    /// The caller hung up (CANCEL) before a handler answered, while waiting or ringing.
    CallAbandoned {
        /// The call.
        call: CallId,
    },
    /// The handler answered the offer (200 OK on the handler leg).
    OfferAccepted {
        /// The call.
        call: CallId,
        /// The handler it was offered to.
        handler: HandlerId,
    },
    /// The handler refused the offer (486 Busy Here, 603 Decline, 408 Request Timeout,
    /// or another final error): a miss; the call is re-offered at its original place.
    OfferRejected {
        /// The call.
        call: CallId,
        /// The handler it was offered to.
        handler: HandlerId,
        /// SIP status the handler leg ended with.
        status: u16,
    },
    /// A connected call ended (BYE from either side); the handler enters wrap-up.
    CallEnded {
        /// The call.
        call: CallId,
    },
    /// A handler position was configured or registered; it starts [`HandlerState::LoggedOut`].
    HandlerAdded {
        /// The handler.
        handler: HandlerId,
        /// Its skills.
        skills: Skills,
    },
    /// A handler position was removed; a ringing offer is cancelled and re-offered.
    HandlerRemoved {
        /// The handler.
        handler: HandlerId,
    },
    /// Login, logout, ready or not-ready, from the handler or a supervisor.
    SetHandlerState {
        /// The handler.
        handler: HandlerId,
        /// Requested state.
        state: RequestedState,
    },
    /// A supervisor (or the handler) cuts wrap-up short.
    EndWrapUp {
        /// The handler.
        handler: HandlerId,
    },
    /// An abandoned call was called back; remove it from the callback list.
    CallbackDone {
        /// The callback entry.
        callback: CallbackId,
    },
    /// A call sent to an overflow partner came back (the partner refused, failed or
    /// could not be reached). It is queued again at its original arrival time, with its
    /// class, and is never overflowed again: local handlers will take it.
    CallReturned {
        /// The call as it first arrived (same id).
        call: NewCall,
        /// Its original arrival time (its place in the queue).
        arrived: Instant,
    },
    /// The handler's device showed it is alive (a REGISTER refresh, an OPTIONS from a
    /// seat). A handler in NotReady("missed calls") after ring-no-answer returns to
    /// Available; any other state is left alone (not an error).
    HandlerAlive {
        /// The handler.
        handler: HandlerId,
    },
}

/// Why an offer was withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CancelReason {
    /// Ring-no-answer: the ring timeout passed; the call is re-offered.
    RingNoAnswer,
    /// The caller hung up; the call becomes a callback item.
    CallerAbandoned,
    /// The handler went not-ready, logged out or was removed; the call is re-offered.
    HandlerUnavailable,
}

/// Why a call left for another destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverflowReason {
    /// Non-emergency or admin class limit reached with outcome `overflow`.
    ClassLimit,
    /// Emergency call waited longer than `after_wait_s`.
    WaitedTooLong,
    /// No eligible handler logged in.
    NoHandlerLoggedIn,
    /// Emergency queue longer than `when_queue_longer_than`.
    QueueTooLong,
}

/// An abandoned call awaiting a call back (docs/DESIGN.md §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackItem {
    /// Entry id (for [`Event::CallbackDone`]).
    pub id: CallbackId,
    /// The abandoned call.
    pub call: CallId,
    /// Its class.
    pub class: CallClass,
    /// Callback number.
    pub caller: String,
    /// Location summary, if any.
    pub location: Option<String>,
    /// When the call arrived.
    pub arrived_at: Instant,
    /// When the caller hung up.
    pub abandoned_at: Instant,
    /// How many times it had been offered to a handler.
    pub offers: u32,
}

/// An output of the router, polled with [`crate::queue::Router::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The call waits: send 180 Ringing (or 182 Queued) to the carrier.
    Queued {
        /// The call.
        call: CallId,
    },
    /// Send an INVITE for the call to the handler.
    Offer {
        /// The call.
        call: CallId,
        /// The handler to ring.
        handler: HandlerId,
    },
    /// CANCEL the handler leg of an offer.
    CancelOffer {
        /// The call.
        call: CallId,
        /// The handler that was ringing.
        handler: HandlerId,
        /// Why.
        reason: CancelReason,
    },
    /// Refuse the call: `status` (503) with `Retry-After: retry_after_s`. Never for
    /// emergency calls.
    Reject {
        /// The call.
        call: CallId,
        /// SIP status code (503).
        status: u16,
        /// Retry-After, in s.
        retry_after_s: u32,
    },
    /// Send the call on to `target_uri` (redirect or B2BUA re-INVITE to a partner).
    Overflow {
        /// The call.
        call: CallId,
        /// Destination SIP URI.
        target_uri: String,
        /// Why.
        reason: OverflowReason,
    },
    /// A handler changed state (for consoles, wallboards, the journal).
    HandlerStateChanged {
        /// The handler.
        handler: HandlerId,
        /// Its new state.
        state: HandlerState,
    },
    /// An abandoned call was added to the callback list (boxed: keeps `Action` small).
    CallbackAdded(Box<CallbackItem>),
}

/// An event the router cannot apply; the router's state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    /// `CallArrived` for a call id that is still live (runtime bug).
    #[error("{0} is already known")]
    DuplicateCall(CallId),
    /// Event for a call the router does not hold (already ended, abandoned, overflowed).
    #[error("{0} is not known")]
    UnknownCall(CallId),
    /// Event for a handler that does not exist.
    #[error("{0} is not known")]
    UnknownHandler(HandlerId),
    /// `HandlerAdded` for an existing handler.
    #[error("{0} already exists")]
    DuplicateHandler(HandlerId),
    /// Answer or refusal for an offer that is no longer current (it was cancelled, e.g.
    /// by ring-no-answer; the runtime should BYE/ignore that handler leg).
    #[error("{call} is not being offered to {handler}")]
    StaleOffer {
        /// The call.
        call: CallId,
        /// The handler.
        handler: HandlerId,
    },
    /// `CallEnded` for a call that is not connected.
    #[error("{0} is not connected")]
    NotConnected(CallId),
    /// `CallAbandoned` for a call already answered (use `CallEnded`).
    #[error("{0} was already answered")]
    AlreadyAnswered(CallId),
    /// `EndWrapUp` for a handler not in wrap-up.
    #[error("{0} is not in wrap-up")]
    NotInWrapUp(HandlerId),
    /// `CallbackDone` for an unknown entry.
    #[error("callback {0:?} is not on the list")]
    UnknownCallback(CallbackId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_stays_small() {
        // Actions are moved through a queue on every routing decision.
        assert!(
            std::mem::size_of::<Action>() <= 48,
            "{}",
            std::mem::size_of::<Action>()
        );
    }
}
