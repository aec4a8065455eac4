//! The router: priority queue + handler registry + routing policy as one sans-IO state
//! machine (docs/DESIGN.md §6, NENA-STA-020 §2.2.2 class order), driven quinn-proto style:
//! [`Router::handle`] for inputs, [`Router::poll_action`] for outputs,
//! [`Router::poll_timeout`] / [`Router::handle_timeout`] for ring-no-answer, wrap-up and
//! emergency-overflow timers. `now` is always passed in; the router never reads a clock.
//!
//! # Data structures (every routing decision is O(G · log n))
//!
//! - Waiting calls: per class, one `BTreeMap<(arrival, seq), CallId>` in FIFO order, and
//!   the same calls grouped by required skill set. A re-offered call is reinserted under
//!   its original `(arrival, seq)` key, so it goes back to its place.
//! - Available handlers: per distinct handler skill set, a `BTreeSet<(idle_since,
//!   handler)>`; its first entry is the longest-idle handler of that group.
//! - G is the number of distinct skill sets (a handful in a control room), not the
//!   number of calls or handlers.
//!
//! # Invariant
//!
//! After every `handle` / `handle_timeout`: no Available handler is eligible for any
//! waiting call. Each input makes at most a few calls newly waiting ("dirty calls") and
//! a few handlers newly available ("dirty handlers"); [`Router::dispatch`] first gives
//! dirty calls (best first) to already-idle handlers, then lets each dirty handler pick
//! the best waiting call: emergency first, then non-emergency (with aged admin calls
//! ranking by arrival), then admin; FIFO within a class. Handing dirty calls to the
//! other idle handlers first means a ring-no-answer call is re-offered to someone else
//! when anyone else is free, and to the same handler only when nobody else is.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::call::CallClass;
use crate::queue::config::{LimitOutcome, QueueConfig, QueueConfigError};
use crate::queue::types::{
    Action, CallId, CallbackId, CallbackItem, CancelReason, Event, HandlerId, HandlerState,
    NewCall, OverflowReason, RequestedState, RouterError,
};
use crate::queue::Skills;

/// Position of a waiting call: arrival time, then the router's arrival sequence number
/// (ties at the same `Instant` keep arrival order).
pub(crate) type QueueKey = (Instant, u64);

/// Reason set on a handler after `max_consecutive_misses` missed offers.
pub const MISSED_CALLS_REASON: &str = "missed calls";

/// Where a live call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// Waiting in its class queue.
    Waiting,
    /// Ringing at a handler.
    Offered(HandlerId),
    /// Answered by a handler.
    Connected(HandlerId),
}

#[derive(Debug)]
pub(crate) struct CallRecord {
    pub(crate) class: CallClass,
    pub(crate) caller: String,
    pub(crate) location: Option<String>,
    pub(crate) required: Skills,
    pub(crate) key: QueueKey,
    /// `Waiting` or `Connected`; a ringing offer lives in `Router::ringing` so that
    /// offering a call does not touch its (cold) record.
    pub(crate) status: CallStatus,
    /// Offers that ended (the current ringing offer is not counted yet).
    pub(crate) offers: u32,
    /// Came back from a failed overflow: no overflow rule applies to it again.
    pub(crate) no_overflow: bool,
}

#[derive(Debug)]
pub(crate) struct HandlerRecord {
    pub(crate) skills: Skills,
    pub(crate) state: HandlerState,
    pub(crate) idle_since: Instant,
    pub(crate) misses: u32,
    pub(crate) pending: Option<RequestedState>,
    /// In the idle index (Available and past dispatch).
    indexed: bool,
    ring_deadline: Option<Instant>,
    /// When a ring-no-answer NotReady ends (`queue.rona_not_ready_s`).
    rona_until: Option<Instant>,
}

/// Waiting calls of one class, grouped by required skill set; each group is FIFO by
/// `(arrival, seq)`. The class head is the smallest group head (G groups).
impl HandlerRecord {
    /// NotReady because of ring-no-answer (not a supervisor's or the handler's choice).
    fn is_rona_not_ready(&self) -> bool {
        matches!(&self.state, HandlerState::NotReady(r) if r == MISSED_CALLS_REASON)
    }
}

#[derive(Debug, Default)]
pub(crate) struct ClassQueue {
    groups: IdMap<Skills, BTreeMap<QueueKey, CallId>>,
    len: usize,
}

impl ClassQueue {
    fn insert(&mut self, key: QueueKey, required: Skills, call: CallId) {
        if self
            .groups
            .entry(required)
            .or_default()
            .insert(key, call)
            .is_none()
        {
            self.len += 1;
        }
    }

    fn remove(&mut self, key: QueueKey, required: Skills) {
        if let Some(group) = self.groups.get_mut(&required) {
            if group.remove(&key).is_some() {
                self.len -= 1;
            }
            if group.is_empty() {
                self.groups.remove(&required);
            }
        }
    }

    /// Oldest waiting call a handler with `skills` is eligible for.
    /// Returns `(key, required skills, call)`.
    fn head_for(&self, skills: Skills) -> Option<(QueueKey, Skills, CallId)> {
        self.groups
            .iter()
            .filter(|(required, _)| skills.covers(**required))
            .filter_map(|(required, group)| {
                group.first_key_value().map(|(k, c)| (*k, *required, *c))
            })
            .min()
    }

    /// Oldest waiting call of the class.
    pub(crate) fn head(&self) -> Option<(QueueKey, CallId)> {
        self.groups
            .values()
            .filter_map(|group| group.first_key_value().map(|(k, c)| (*k, *c)))
            .min()
    }

    /// All waiting calls of the class in FIFO order (a G-way merge of the groups).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (QueueKey, CallId)> + '_ {
        let mut heads: Vec<_> = self
            .groups
            .values()
            .map(|g| g.iter().map(|(k, c)| (*k, *c)).peekable())
            .collect();
        std::iter::from_fn(move || {
            let best = heads
                .iter_mut()
                .enumerate()
                .filter_map(|(i, it)| it.peek().map(|x| (x.0, i)))
                .min()?;
            heads[best.1].next()
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Hasher for the router's internal keys (engine-assigned call and handler ids, skill
/// bits): one multiply, no SipHash. The keys are not chosen by the network, so hash
/// flooding is not a concern here.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(26);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

pub(crate) type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// The routing core. One owner (a task or the simulation) calls it; it holds no locks.
#[derive(Debug)]
pub struct Router {
    config: QueueConfig,
    ring_timeout: Duration,
    pub(crate) calls: IdMap<CallId, CallRecord>,
    pub(crate) queues: [ClassQueue; 3],
    pub(crate) handlers: IdMap<HandlerId, HandlerRecord>,
    /// Available handlers by skill set, longest idle first.
    idle: IdMap<Skills, BTreeSet<(Instant, HandlerId)>>,
    /// Logged-in (not LoggedOut) handlers per skill set.
    logged_in: IdMap<Skills, u32>,
    ring_timers: BTreeSet<(Instant, HandlerId)>,
    wrap_timers: BTreeSet<(Instant, HandlerId)>,
    /// Automatic return from NotReady("missed calls"), by deadline.
    rona_timers: BTreeSet<(Instant, HandlerId)>,
    pub(crate) callbacks: BTreeMap<CallbackId, CallbackItem>,
    /// Calls ringing at a handler (at most one per handler).
    pub(crate) ringing: IdMap<CallId, HandlerId>,
    next_seq: u64,
    next_callback: u64,
    actions: VecDeque<Action>,
    dirty_calls: Vec<CallId>,
    dirty_handlers: Vec<HandlerId>,
}

// === impl Router: public API ===

impl Router {
    /// A router with no handlers and no calls.
    ///
    /// # Errors
    /// The configuration's [`QueueConfigError`].
    pub fn new(config: QueueConfig) -> Result<Router, QueueConfigError> {
        config.validate()?;
        Ok(Router {
            ring_timeout: Duration::from_millis(config.ring_timeout_ms),
            config,
            calls: IdMap::default(),
            queues: Default::default(),
            handlers: IdMap::default(),
            idle: IdMap::default(),
            logged_in: IdMap::default(),
            ring_timers: BTreeSet::new(),
            wrap_timers: BTreeSet::new(),
            rona_timers: BTreeSet::new(),
            callbacks: BTreeMap::new(),
            ringing: IdMap::default(),
            next_seq: 0,
            next_callback: 1,
            actions: VecDeque::new(),
            dirty_calls: Vec::new(),
            dirty_handlers: Vec::new(),
        })
    }

    /// The policy in force.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Applies one input at `now` and routes what became routable. Outputs are queued
    /// for [`Router::poll_action`].
    ///
    /// # Errors
    /// [`RouterError`] if the event does not fit the router's state (unknown or
    /// duplicate id, stale offer); the state is then unchanged and no action is queued.
    pub fn handle(&mut self, now: Instant, event: Event) -> Result<(), RouterError> {
        match event {
            Event::CallArrived(call) => self.on_arrival(now, call)?,
            Event::CallAbandoned { call } => self.on_abandon(now, call)?,
            Event::OfferAccepted { call, handler } => {
                self.check_offer(call, handler)?;
                self.ringing.remove(&call);
                if let Some(rec) = self.calls.get_mut(&call) {
                    rec.status = CallStatus::Connected(handler);
                    rec.offers += 1;
                }
                if let Some(h) = self.handlers.get_mut(&handler) {
                    h.misses = 0;
                }
                self.set_state(handler, HandlerState::Busy(call), now);
            }
            Event::OfferRejected { call, handler, .. } => {
                self.check_offer(call, handler)?;
                self.miss(handler, now);
                self.requeue(call);
            }
            Event::CallEnded { call } => self.on_call_ended(now, call)?,
            Event::HandlerAdded { handler, skills } => {
                if self.handlers.contains_key(&handler) {
                    return Err(RouterError::DuplicateHandler(handler));
                }
                self.handlers.insert(
                    handler,
                    HandlerRecord {
                        skills,
                        state: HandlerState::LoggedOut,
                        idle_since: now,
                        misses: 0,
                        pending: None,
                        indexed: false,
                        ring_deadline: None,
                        rona_until: None,
                    },
                );
                self.actions.push_back(Action::HandlerStateChanged {
                    handler,
                    state: HandlerState::LoggedOut,
                });
            }
            Event::HandlerRemoved { handler } => {
                let state = self.handler(handler)?.state.clone();
                if let HandlerState::Ringing(call) = state {
                    self.withdraw_offer(call, handler, CancelReason::HandlerUnavailable);
                }
                self.set_state(handler, HandlerState::LoggedOut, now);
                self.handlers.remove(&handler);
                self.overflow_unstaffed();
            }
            Event::SetHandlerState { handler, state } => {
                self.on_set_state(now, handler, state)?;
            }
            Event::EndWrapUp { handler } => {
                let h = self.handler(handler)?;
                if !matches!(h.state, HandlerState::WrapUp { .. }) {
                    return Err(RouterError::NotInWrapUp(handler));
                }
                self.release(handler, now);
            }
            Event::CallbackDone { callback } => {
                if self.callbacks.remove(&callback).is_none() {
                    return Err(RouterError::UnknownCallback(callback));
                }
            }
            Event::CallReturned { call, arrived } => {
                if self.calls.contains_key(&call.call) {
                    return Err(RouterError::DuplicateCall(call.call));
                }
                let id = call.call;
                let required = call.required_skills | Skills::for_class(call.class);
                let key = (arrived, self.next_seq);
                self.next_seq += 1;
                let mut rec = record(call, required, key);
                rec.no_overflow = true;
                self.queues[rec.class.index()].insert(key, required, id);
                self.calls.insert(id, rec);
                self.actions.push_back(Action::Queued { call: id });
                self.dirty_calls.push(id);
            }
            Event::HandlerAlive { handler } => {
                if self.handler(handler)?.is_rona_not_ready() {
                    self.return_from_rona(handler, now);
                }
            }
        }
        self.dispatch(now);
        Ok(())
    }

    /// Next output, if any. Call until `None` after every `handle` / `handle_timeout`.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Router::handle_timeout`] must next be called: the earliest ring-no-answer
    /// deadline, wrap-up end, or emergency overflow deadline. `None` if no timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ring = self.ring_timers.first().map(|t| t.0);
        let wrap = self.wrap_timers.first().map(|t| t.0);
        let rona = self.rona_timers.first().map(|t| t.0);
        let overflow = self
            .overflow_wait()
            .and_then(|(_, wait)| self.first_overflowable().map(|key| key.0 + wait));
        [ring, wrap, rona, overflow].into_iter().flatten().min()
    }

    /// Fires every timer due at `now`: ring-no-answer (cancel, count a miss, re-offer),
    /// wrap-up end, automatic return from a ring-no-answer NotReady
    /// (`queue.rona_not_ready_s`), then emergency overflow for calls that waited too long (after local
    /// handlers freed at the same instant had their chance).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(deadline, handler)) = self.ring_timers.first() {
            if deadline > now {
                break;
            }
            self.ring_timers.pop_first();
            let Some(h) = self.handlers.get_mut(&handler) else {
                continue;
            };
            h.ring_deadline = None;
            if let HandlerState::Ringing(call) = h.state {
                self.actions.push_back(Action::CancelOffer {
                    call,
                    handler,
                    reason: CancelReason::RingNoAnswer,
                });
                self.miss(handler, now);
                self.requeue(call);
            }
        }
        while let Some(&(until, handler)) = self.wrap_timers.first() {
            if until > now {
                break;
            }
            self.wrap_timers.pop_first();
            if matches!(self.handlers.get(&handler).map(|h| &h.state), Some(HandlerState::WrapUp { until: u }) if *u == until)
            {
                self.release(handler, now);
            }
        }
        while let Some(&(until, handler)) = self.rona_timers.first() {
            if until > now {
                break;
            }
            self.rona_timers.pop_first();
            let due = self
                .handlers
                .get(&handler)
                .is_some_and(|h| h.is_rona_not_ready() && h.rona_until == Some(until));
            if due {
                self.return_from_rona(handler, now);
            }
        }
        self.dispatch(now);
        if let Some((uri, wait)) = self.overflow_wait() {
            let uri = uri.to_string();
            let queue = CallClass::Emergency.index();
            let due: Vec<CallId> = self.queues[queue]
                .iter()
                .take_while(|(key, _)| key.0 + wait <= now)
                .filter(|(_, call)| self.calls.get(call).is_some_and(|r| !r.no_overflow))
                .map(|(_, call)| call)
                .collect();
            for call in due {
                self.overflow(call, &uri, OverflowReason::WaitedTooLong);
            }
        }
    }

    /// Where a live call is; `None` once it ended, was abandoned, rejected or overflowed.
    pub fn call_status(&self, call: CallId) -> Option<CallStatus> {
        let rec = self.calls.get(&call)?;
        Some(match self.ringing.get(&call) {
            Some(h) => CallStatus::Offered(*h),
            None => rec.status,
        })
    }

    /// A handler's state; `None` for an unknown handler.
    pub fn handler_state(&self, handler: HandlerId) -> Option<&HandlerState> {
        self.handlers.get(&handler).map(|h| &h.state)
    }

    /// Number of live calls (waiting, ringing or connected).
    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }
}

// === impl Router: event handling ===

impl Router {
    fn handler(&self, handler: HandlerId) -> Result<&HandlerRecord, RouterError> {
        self.handlers
            .get(&handler)
            .ok_or(RouterError::UnknownHandler(handler))
    }

    fn on_arrival(&mut self, now: Instant, new: NewCall) -> Result<(), RouterError> {
        if self.calls.contains_key(&new.call) {
            return Err(RouterError::DuplicateCall(new.call));
        }
        let required = new.required_skills | Skills::for_class(new.class);
        let key = (now, self.next_seq);
        self.next_seq += 1;
        let call = new.call;
        // By the invariant, an idle eligible handler has nothing better to do.
        if let Some(handler) = self.best_handler(required) {
            self.calls.insert(call, record(new, required, key));
            self.offer(call, handler, now);
            return Ok(());
        }
        let class = new.class;
        let depth = self.queues[class.index()].len();
        if class == CallClass::Emergency {
            let rules = &self.config.emergency_overflow;
            if let Some(uri) = &rules.target_uri {
                let reason =
                    if rules.when_no_handler_logged_in && self.logged_in_covering(required) == 0 {
                        Some(OverflowReason::NoHandlerLoggedIn)
                    } else if rules.when_queue_longer_than.is_some_and(|n| depth >= n) {
                        Some(OverflowReason::QueueTooLong)
                    } else {
                        None
                    };
                if let Some(reason) = reason {
                    self.actions.push_back(Action::Overflow {
                        call,
                        target_uri: uri.clone(),
                        reason,
                    });
                    return Ok(());
                }
            }
        } else if let Some(limit) = self.config.limit(class) {
            if depth >= limit.max_queued {
                let action = match (limit.outcome, &limit.overflow_uri) {
                    (LimitOutcome::Overflow, Some(uri)) => Action::Overflow {
                        call,
                        target_uri: uri.clone(),
                        reason: OverflowReason::ClassLimit,
                    },
                    _ => Action::Reject {
                        call,
                        status: 503,
                        retry_after_s: limit.retry_after_s,
                    },
                };
                self.actions.push_back(action);
                return Ok(());
            }
        }
        self.queues[class.index()].insert(key, required, call);
        self.calls.insert(call, record(new, required, key));
        self.actions.push_back(Action::Queued { call });
        Ok(())
    }

    fn on_abandon(&mut self, now: Instant, call: CallId) -> Result<(), RouterError> {
        let rec = self
            .calls
            .get(&call)
            .ok_or(RouterError::UnknownCall(call))?;
        let (class, key, required) = (rec.class, rec.key, rec.required);
        let status = match self.ringing.get(&call) {
            Some(h) => CallStatus::Offered(*h),
            None => rec.status,
        };
        match status {
            CallStatus::Connected(_) => return Err(RouterError::AlreadyAnswered(call)),
            CallStatus::Waiting => self.queues[class.index()].remove(key, required),
            CallStatus::Offered(handler) => {
                self.ringing.remove(&call);
                if let Some(rec) = self.calls.get_mut(&call) {
                    rec.offers += 1;
                }
                self.actions.push_back(Action::CancelOffer {
                    call,
                    handler,
                    reason: CancelReason::CallerAbandoned,
                });
                // Not the handler's fault: back to Available at its old place in line.
                self.set_state(handler, HandlerState::Available, now);
            }
        }
        let Some(rec) = self.calls.remove(&call) else {
            return Ok(());
        };
        let id = CallbackId(self.next_callback);
        self.next_callback += 1;
        let item = CallbackItem {
            id,
            call,
            class: rec.class,
            caller: rec.caller,
            location: rec.location,
            arrived_at: rec.key.0,
            abandoned_at: now,
            offers: rec.offers,
        };
        self.callbacks.insert(id, item.clone());
        self.actions
            .push_back(Action::CallbackAdded(Box::new(item)));
        Ok(())
    }

    fn on_call_ended(&mut self, now: Instant, call: CallId) -> Result<(), RouterError> {
        // One lookup on the hot path; the record goes back on the (rare) error path.
        let rec = self
            .calls
            .remove(&call)
            .ok_or(RouterError::UnknownCall(call))?;
        let CallStatus::Connected(handler) = rec.status else {
            self.calls.insert(call, rec);
            return Err(RouterError::NotConnected(call));
        };
        let wrap = u64::from(self.config.wrap_up_s.get(rec.class));
        let busy_with_call = self
            .handlers
            .get(&handler)
            .is_some_and(|h| h.state == HandlerState::Busy(call));
        if busy_with_call {
            if wrap > 0 {
                let until = now + Duration::from_secs(wrap);
                self.set_state(handler, HandlerState::WrapUp { until }, now);
            } else {
                self.release(handler, now);
            }
        }
        Ok(())
    }

    fn on_set_state(
        &mut self,
        now: Instant,
        handler: HandlerId,
        requested: RequestedState,
    ) -> Result<(), RouterError> {
        let current = self.handler(handler)?.state.clone();
        match (requested, current) {
            (RequestedState::Available, HandlerState::LoggedOut | HandlerState::NotReady(_)) => {
                if let Some(h) = self.handlers.get_mut(&handler) {
                    h.idle_since = now;
                    h.misses = 0;
                }
                self.set_state(handler, HandlerState::Available, now);
            }
            (RequestedState::Available, HandlerState::Available | HandlerState::Ringing(_)) => {}
            (RequestedState::Available, HandlerState::Busy(_)) => {
                if let Some(h) = self.handlers.get_mut(&handler) {
                    h.pending = None;
                }
            }
            (RequestedState::Available, HandlerState::WrapUp { .. }) => {
                if let Some(h) = self.handlers.get_mut(&handler) {
                    h.pending = None;
                }
                self.release(handler, now);
            }
            (requested, HandlerState::Busy(_)) => {
                if let Some(h) = self.handlers.get_mut(&handler) {
                    h.pending = Some(requested);
                }
            }
            (requested, current) => {
                if let HandlerState::Ringing(call) = current {
                    self.withdraw_offer(call, handler, CancelReason::HandlerUnavailable);
                }
                let logging_out = requested == RequestedState::LoggedOut;
                self.set_state(handler, requested_to_state(requested), now);
                if logging_out {
                    self.overflow_unstaffed();
                }
            }
        }
        Ok(())
    }

    fn check_offer(&self, call: CallId, handler: HandlerId) -> Result<(), RouterError> {
        if !self.calls.contains_key(&call) {
            return Err(RouterError::UnknownCall(call));
        }
        let ringing = self
            .handlers
            .get(&handler)
            .is_some_and(|h| h.state == HandlerState::Ringing(call));
        if self.ringing.get(&call) == Some(&handler) && ringing {
            Ok(())
        } else {
            Err(RouterError::StaleOffer { call, handler })
        }
    }
}

// === impl Router: state transitions ===

impl Router {
    /// Moves a handler to `new`, keeping the idle index, logged-in counts and timers in
    /// step, and reports the change. An Available handler becomes a dirty handler.
    fn set_state(&mut self, handler: HandlerId, new: HandlerState, now: Instant) {
        let Some(h) = self.handlers.get_mut(&handler) else {
            return;
        };
        let old = std::mem::replace(&mut h.state, new.clone());
        match old {
            HandlerState::Available if h.indexed => {
                if let Some(set) = self.idle.get_mut(&h.skills) {
                    set.remove(&(h.idle_since, handler));
                }
                h.indexed = false;
            }
            HandlerState::Ringing(_) => {
                if let Some(d) = h.ring_deadline.take() {
                    self.ring_timers.remove(&(d, handler));
                }
            }
            HandlerState::WrapUp { until } => {
                self.wrap_timers.remove(&(until, handler));
            }
            HandlerState::NotReady(_) => {
                if let Some(u) = h.rona_until.take() {
                    self.rona_timers.remove(&(u, handler));
                }
            }
            _ => {}
        }
        let was_in = old != HandlerState::LoggedOut;
        let is_in = new != HandlerState::LoggedOut;
        if was_in != is_in {
            let n = self.logged_in.entry(h.skills).or_default();
            if is_in {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
        }
        match &new {
            HandlerState::Available => self.dirty_handlers.push(handler),
            HandlerState::Ringing(_) => {
                let d = now + self.ring_timeout;
                h.ring_deadline = Some(d);
                self.ring_timers.insert((d, handler));
            }
            HandlerState::WrapUp { until } => {
                self.wrap_timers.insert((*until, handler));
            }
            _ => {}
        }
        self.actions.push_back(Action::HandlerStateChanged {
            handler,
            state: new,
        });
    }

    /// End of a call's wrap-up (or of the call when wrap-up is 0): the deferred
    /// supervisor request if any, else Available at the back of the idle line.
    fn release(&mut self, handler: HandlerId, now: Instant) {
        let Some(h) = self.handlers.get_mut(&handler) else {
            return;
        };
        match h.pending.take() {
            Some(requested) => {
                let logging_out = requested == RequestedState::LoggedOut;
                if requested == RequestedState::Available {
                    h.idle_since = now;
                }
                self.set_state(handler, requested_to_state(requested), now);
                if logging_out {
                    self.overflow_unstaffed();
                }
            }
            None => {
                h.idle_since = now;
                self.set_state(handler, HandlerState::Available, now);
            }
        }
    }

    /// A missed offer (ring-no-answer or refusal): NotReady after N in a row, else
    /// Available at the back of the idle line.
    fn miss(&mut self, handler: HandlerId, now: Instant) {
        let max = self.config.max_consecutive_misses;
        let Some(h) = self.handlers.get_mut(&handler) else {
            return;
        };
        h.misses += 1;
        if max > 0 && h.misses >= max {
            h.misses = 0;
            self.set_state(
                handler,
                HandlerState::NotReady(MISSED_CALLS_REASON.to_string()),
                now,
            );
            let s = self.config.rona_not_ready_s;
            if s > 0 {
                let until = now + Duration::from_secs(u64::from(s));
                if let Some(h) = self.handlers.get_mut(&handler) {
                    h.rona_until = Some(until);
                    self.rona_timers.insert((until, handler));
                }
            }
        } else {
            h.idle_since = now;
            self.set_state(handler, HandlerState::Available, now);
        }
    }

    /// Ends a ring-no-answer NotReady: Available at the back of the idle line, misses
    /// forgotten.
    fn return_from_rona(&mut self, handler: HandlerId, now: Instant) {
        if let Some(h) = self.handlers.get_mut(&handler) {
            h.idle_since = now;
            h.misses = 0;
        }
        self.set_state(handler, HandlerState::Available, now);
    }

    /// Cancels a ringing offer that is nobody's fault and puts the call back in place.
    fn withdraw_offer(&mut self, call: CallId, handler: HandlerId, reason: CancelReason) {
        self.actions.push_back(Action::CancelOffer {
            call,
            handler,
            reason,
        });
        self.requeue(call);
    }

    /// Puts a call back in its class queue under its original key (its place).
    fn requeue(&mut self, call: CallId) {
        self.ringing.remove(&call);
        if let Some(rec) = self.calls.get_mut(&call) {
            rec.status = CallStatus::Waiting;
            rec.offers += 1;
            self.queues[rec.class.index()].insert(rec.key, rec.required, call);
            self.dirty_calls.push(call);
        }
    }

    fn offer(&mut self, call: CallId, handler: HandlerId, now: Instant) {
        // No access to the call's record here: it was written at arrival, possibly
        // 100,000 calls ago, and is cold in cache. The ringing map is small and hot.
        self.ringing.insert(call, handler);
        self.actions.push_back(Action::Offer { call, handler });
        self.set_state(handler, HandlerState::Ringing(call), now);
    }

    /// Removes a waiting call and sends it to `uri`.
    fn overflow(&mut self, call: CallId, uri: &str, reason: OverflowReason) {
        if let Some(rec) = self.calls.remove(&call) {
            if rec.status == CallStatus::Waiting {
                self.queues[rec.class.index()].remove(rec.key, rec.required);
            }
            self.actions.push_back(Action::Overflow {
                call,
                target_uri: uri.to_string(),
                reason,
            });
        }
    }

    /// The "no handler logged in" emergency rule, for calls already waiting when the
    /// last eligible handler logs out or is removed.
    fn overflow_unstaffed(&mut self) {
        let rules = &self.config.emergency_overflow;
        let Some(uri) = rules.target_uri.clone() else {
            return;
        };
        if !rules.when_no_handler_logged_in {
            return;
        }
        let queue = &self.queues[CallClass::Emergency.index()];
        let stranded: Vec<CallId> = queue
            .groups
            .iter()
            .filter(|(required, _)| self.logged_in_covering(**required) == 0)
            .flat_map(|(_, group)| group.values().copied())
            .filter(|c| self.calls.get(c).is_some_and(|r| !r.no_overflow))
            .collect();
        for call in stranded {
            self.overflow(call, &uri, OverflowReason::NoHandlerLoggedIn);
        }
    }

    /// Queue key of the oldest waiting emergency call an overflow rule may still move
    /// (calls back from a failed overflow are skipped).
    fn first_overflowable(&self) -> Option<QueueKey> {
        let queue = &self.queues[CallClass::Emergency.index()];
        let (key, call) = queue.head()?;
        if self.calls.get(&call).is_some_and(|r| !r.no_overflow) {
            return Some(key);
        }
        queue
            .iter()
            .find(|(_, c)| self.calls.get(c).is_some_and(|r| !r.no_overflow))
            .map(|(k, _)| k)
    }

    fn overflow_wait(&self) -> Option<(&str, Duration)> {
        let rules = &self.config.emergency_overflow;
        match (&rules.target_uri, rules.after_wait_s) {
            (Some(uri), Some(s)) => Some((uri.as_str(), Duration::from_secs(u64::from(s)))),
            _ => None,
        }
    }

    fn logged_in_covering(&self, required: Skills) -> u32 {
        self.logged_in
            .iter()
            .filter(|(skills, _)| skills.covers(required))
            .map(|(_, n)| *n)
            .sum()
    }
}

// === impl Router: dispatch ===

impl Router {
    /// Restores the invariant (no Available handler eligible for a waiting call) after
    /// an input: dirty calls, best first, to the longest-idle already-idle handler; then
    /// each dirty handler takes the best waiting call or joins the idle index.
    fn dispatch(&mut self, now: Instant) {
        let mut calls = std::mem::take(&mut self.dirty_calls);
        if calls.len() > 1 {
            calls.sort_by_key(|c| self.calls.get(c).map(|r| (self.rank(r, now), r.key)));
        }
        for &call in &calls {
            let Some(rec) = self.calls.get(&call) else {
                continue;
            };
            if rec.status != CallStatus::Waiting || self.ringing.contains_key(&call) {
                continue;
            }
            if let Some(handler) = self.best_handler(rec.required) {
                self.queues[rec.class.index()].remove(rec.key, rec.required);
                self.offer(call, handler, now);
            }
        }
        calls.clear();
        self.dirty_calls = calls;

        let mut handlers = std::mem::take(&mut self.dirty_handlers);
        for &handler in &handlers {
            let Some(h) = self.handlers.get(&handler) else {
                continue;
            };
            if h.state != HandlerState::Available || h.indexed {
                continue;
            }
            let skills = h.skills;
            if let Some((class, key, required, call)) = self.best_call(skills, now) {
                self.queues[class.index()].remove(key, required);
                self.offer(call, handler, now);
            } else if let Some(h) = self.handlers.get_mut(&handler) {
                h.indexed = true;
                self.idle
                    .entry(h.skills)
                    .or_default()
                    .insert((h.idle_since, handler));
            }
        }
        handlers.clear();
        self.dirty_handlers = handlers;
    }

    /// Longest-idle indexed handler whose skills cover `required`.
    fn best_handler(&self, required: Skills) -> Option<HandlerId> {
        self.idle
            .iter()
            .filter(|(skills, _)| skills.covers(required))
            .filter_map(|(_, set)| set.first())
            .min()
            .map(|&(_, handler)| handler)
    }

    /// Best waiting call for a handler with `skills`: emergency first, then the
    /// non-emergency head unless an aged admin call arrived earlier, then admin.
    fn best_call(
        &self,
        skills: Skills,
        now: Instant,
    ) -> Option<(CallClass, QueueKey, Skills, CallId)> {
        let with = |class: CallClass| {
            self.queues[class.index()]
                .head_for(skills)
                .map(|(k, r, c)| (class, k, r, c))
        };
        if self.config.test_broken_serve_non_emergency_first {
            if let Some(found) = with(CallClass::NonEmergency) {
                return Some(found);
            }
        }
        if let Some(found) = with(CallClass::Emergency) {
            return Some(found);
        }
        match (with(CallClass::NonEmergency), with(CallClass::Admin)) {
            (Some(ne), Some(admin)) => {
                if self.aged(admin.1, now) && admin.1 < ne.1 {
                    Some(admin)
                } else {
                    Some(ne)
                }
            }
            (ne, admin) => ne.or(admin),
        }
    }

    fn aged(&self, key: QueueKey, now: Instant) -> bool {
        self.config.aging.admin_promote_after_s.is_some_and(|s| {
            now.saturating_duration_since(key.0) >= Duration::from_secs(u64::from(s))
        })
    }

    /// Effective class rank for ordering dirty calls (aged admin ranks as non-emergency).
    fn rank(&self, rec: &CallRecord, now: Instant) -> usize {
        if self.config.test_broken_serve_non_emergency_first {
            match rec.class {
                CallClass::NonEmergency => return 0,
                CallClass::Emergency => return 1,
                CallClass::Admin => {}
            }
        }
        if rec.class == CallClass::Admin && self.aged(rec.key, now) {
            CallClass::NonEmergency.index()
        } else {
            rec.class.index()
        }
    }
}

fn record(new: NewCall, required: Skills, key: QueueKey) -> CallRecord {
    CallRecord {
        class: new.class,
        caller: new.caller,
        location: new.location,
        required,
        key,
        status: CallStatus::Waiting,
        offers: 0,
        no_overflow: false,
    }
}

fn requested_to_state(requested: RequestedState) -> HandlerState {
    match requested {
        RequestedState::Available => HandlerState::Available,
        RequestedState::NotReady(reason) => HandlerState::NotReady(reason),
        RequestedState::LoggedOut => HandlerState::LoggedOut,
    }
}
