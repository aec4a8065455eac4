//! Read-only views of the router for the HTTP API and wallboard (docs/DESIGN.md §8): queue
//! depth per class, waiting calls with their wait, handler states, the callback list.
//! JSON field names carry units (`wait_ms`).

use std::time::Instant;

use serde::Serialize;

use crate::call::CallClass;
use crate::queue::config::PerClass;
use crate::queue::router::{CallStatus, Router};
use crate::queue::types::{CallId, CallbackId, HandlerId, HandlerState};
use crate::queue::Skills;

/// A waiting call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingCall {
    /// The call.
    pub call: CallId,
    /// Its class.
    pub class: CallClass,
    /// Callback number.
    pub caller: String,
    /// Location summary.
    pub location: Option<String>,
    /// Time since arrival, in ms.
    pub wait_ms: u64,
    /// Offers made so far (re-offers after ring-no-answer count).
    pub offers: u32,
    /// The router's arrival sequence number (its place in line; smaller is earlier).
    pub arrival_seq: u64,
}

/// A handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandlerView {
    /// The handler.
    pub handler: HandlerId,
    /// Skill bits.
    pub skills: Skills,
    /// `logged-out`, `not-ready`, `available`, `ringing`, `busy` or `wrap-up`.
    pub state: &'static str,
    /// Not-ready reason.
    pub reason: Option<String>,
    /// Call ringing or connected.
    pub call: Option<CallId>,
    /// Time available so far (Available only), in ms.
    pub idle_ms: Option<u64>,
    /// Wrap-up left (WrapUp only), in ms.
    pub wrap_up_left_ms: Option<u64>,
    /// Missed offers in a row.
    pub consecutive_misses: u32,
}

/// An entry of the abandoned-call callback list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackView {
    /// Entry id.
    pub id: CallbackId,
    /// The abandoned call.
    pub call: CallId,
    /// Its class.
    pub class: CallClass,
    /// Callback number.
    pub caller: String,
    /// Location summary.
    pub location: Option<String>,
    /// How long the caller waited before hanging up, in ms.
    pub waited_ms: u64,
    /// Time since the caller hung up, in ms.
    pub since_abandoned_ms: u64,
    /// Offers made before the caller hung up.
    pub offers: u32,
}

/// Everything at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterSnapshot {
    /// Waiting calls per class.
    pub depth: PerClass<usize>,
    /// Waiting calls in the order they will be offered (at most the requested number).
    pub waiting: Vec<WaitingCall>,
    /// All handlers by id.
    pub handlers: Vec<HandlerView>,
    /// Callback list, oldest first.
    pub callbacks: Vec<CallbackView>,
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Router {
    /// Waiting calls per class.
    pub fn queue_depth(&self) -> PerClass<usize> {
        PerClass {
            emergency: self.queues[0].len(),
            non_emergency: self.queues[1].len(),
            admin: self.queues[2].len(),
        }
    }

    /// Up to `max` waiting calls: emergency FIFO, then non-emergency, then admin (the
    /// offer order when every handler has every skill and aging is off).
    pub fn waiting_calls(&self, now: Instant, max: usize) -> Vec<WaitingCall> {
        self.queues
            .iter()
            .flat_map(|q| q.iter())
            .filter_map(|(key, call)| {
                let rec = self.calls.get(&call)?;
                (rec.status == CallStatus::Waiting).then(|| WaitingCall {
                    call,
                    class: rec.class,
                    caller: rec.caller.clone(),
                    location: rec.location.clone(),
                    wait_ms: ms(now.saturating_duration_since(key.0)),
                    offers: rec.offers,
                    arrival_seq: key.1,
                })
            })
            .take(max)
            .collect()
    }

    /// All handlers, by id.
    pub fn handler_views(&self, now: Instant) -> Vec<HandlerView> {
        let mut out: Vec<HandlerView> = self
            .handlers
            .iter()
            .map(|(id, h)| {
                let (reason, call, wrap) = match &h.state {
                    HandlerState::NotReady(r) => (Some(r.clone()), None, None),
                    HandlerState::Ringing(c) | HandlerState::Busy(c) => (None, Some(*c), None),
                    HandlerState::WrapUp { until } => {
                        (None, None, Some(ms(until.saturating_duration_since(now))))
                    }
                    _ => (None, None, None),
                };
                HandlerView {
                    handler: *id,
                    skills: h.skills,
                    state: h.state.as_str(),
                    reason,
                    call,
                    idle_ms: (h.state == HandlerState::Available)
                        .then(|| ms(now.saturating_duration_since(h.idle_since))),
                    wrap_up_left_ms: wrap,
                    consecutive_misses: h.misses,
                }
            })
            .collect();
        out.sort_by_key(|v| v.handler);
        out
    }

    /// The callback list, oldest entry first.
    pub fn callback_views(&self, now: Instant) -> Vec<CallbackView> {
        self.callbacks
            .values()
            .map(|c| CallbackView {
                id: c.id,
                call: c.call,
                class: c.class,
                caller: c.caller.clone(),
                location: c.location.clone(),
                waited_ms: ms(c.abandoned_at.saturating_duration_since(c.arrived_at)),
                since_abandoned_ms: ms(now.saturating_duration_since(c.abandoned_at)),
                offers: c.offers,
            })
            .collect()
    }

    /// Depth, up to `max_waiting` waiting calls, handlers and callbacks.
    pub fn snapshot(&self, now: Instant, max_waiting: usize) -> RouterSnapshot {
        RouterSnapshot {
            depth: self.queue_depth(),
            waiting: self.waiting_calls(now, max_waiting),
            handlers: self.handler_views(now),
            callbacks: self.callback_views(now),
        }
    }
}
