//! Priority queue, handler registry and routing policy (docs/DESIGN.md §6): a sans-IO state
//! machine, `(now, event) → actions`, owned by one task.
//!
//! Classes are served in strict order emergency > non-emergency > admin (NENA-STA-020
//! §2.2.2), FIFO by arrival time within a class; handlers are chosen longest-idle first
//! among those whose skills cover the call; ring-no-answer re-offers the call at its
//! original place; emergency calls are never rejected (they overflow to a partner only
//! by rule); abandoned calls go to a callback list.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use answerpoint::call::CallClass;
//! use answerpoint::queue::*;
//!
//! let t0 = Instant::now();
//! let mut router = Router::new(QueueConfig::default()).unwrap();
//! let h = HandlerId(1);
//! router.handle(t0, Event::HandlerAdded { handler: h, skills: Skills::EMERGENCY }).unwrap();
//! router.handle(t0, Event::SetHandlerState { handler: h, state: RequestedState::Available }).unwrap();
//! while router.poll_action().is_some() {}
//! router.handle(t0, Event::CallArrived(NewCall {
//!     call: CallId(7), class: CallClass::Emergency, caller: "+441632960001".into(),
//!     location: None, required_skills: Skills::NONE,
//! })).unwrap();
//! assert_eq!(router.poll_action(), Some(Action::Offer { call: CallId(7), handler: h }));
//! // Ring-no-answer timer runs from the offer.
//! assert_eq!(router.poll_timeout(), Some(t0 + Duration::from_millis(12_000)));
//! ```

mod config;
mod router;
mod skills;
mod snapshot;
mod types;

pub use config::{
    Aging, ClassLimit, EmergencyOverflow, LimitOutcome, PerClass, QueueConfig, QueueConfigError,
};
/// [`crate::sharded::ShardedMap`] for engine-assigned integer ids: large tables that must grow
/// without stalling the engine task.
pub(crate) type ShardedIdMap<K, V> =
    crate::sharded::ShardedMap<K, V, std::hash::BuildHasherDefault<router::IdHasher>>;
pub use router::{CallStatus, Router, MISSED_CALLS_REASON};
pub use skills::Skills;
pub use snapshot::{CallbackView, HandlerView, RouterSnapshot, WaitingCall};
pub use types::{
    Action, CallId, CallbackId, CallbackItem, CancelReason, Event, HandlerId, HandlerState,
    NewCall, OverflowReason, RequestedState, RouterError,
};
