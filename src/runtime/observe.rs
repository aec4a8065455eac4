//! The engine task's observer (issue 6; docs/DESIGN.md §2, §8): turns every engine event into
//! answer-time KPIs ([`crate::kpi`]), Prometheus metrics ([`crate::http::metrics`]), journal
//! records ([`crate::store`]; never blocking, drops counted), Server-Sent Events and a
//! `tracing` span per call; publishes the read-only views the HTTP API serves; and answers
//! the API's commands ([`ApiRequest`]) against the engine, including AML correlation.
//!
//! Everything here runs on the engine task between two inputs, so it must be O(1) per event
//! and never wait: the journal takes records through a bounded channel, SSE through a
//! broadcast channel (no receiver is fine), views are published at most every
//! [`PUBLISH_INTERVAL`] when something changed.
//!
//! # Callback-list ids
//! `GET /api/abandoned` lists two kinds of items under one `id` space: calls abandoned in
//! this run (the queue core's callback ids, small numbers) and items the journal holds from
//! earlier runs — calls abandoned before a restart and calls recovered after a crash —
//! listed as [`JOURNAL_ID_BASE`] + their journal id. `POST /api/abandoned/{id}/done` takes
//! either; done items are written to the journal (`CallbackDone…`) and vanish from the list.
//!
//! # Engine latency
//! `answerpoint_engine_latency_seconds` observes, for a call offered to a free handler
//! while its own INVITE is processed, the time from the INVITE's arrival — over UDP the
//! kernel's receive stamp (`rxstamp`), so the time it waited in the socket and in the
//! inbound queue counts; over TCP when the engine task took it off its input queue — to
//! the handler INVITE having been handed to the socket (a call that waits in the queue has
//! no such figure — its wait is answer time). `answerpoint_udp_wait_seconds` gives the
//! wait alone for every UDP datagram.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::call::CallClass;
use crate::engine::{
    AmlLocation, CallEvent, CallEventKind, CallState, CallView, Command, CommandError, EndReason,
    Engine, EngineEvent, ShutdownCall,
};
use crate::http::metrics::{self, Outcome};
use crate::http::{ApiCommand, ApiCommandError, ApiRequest, SharedViews, StreamEvent, Views};
use crate::location::aml_store::AmlStore;
use crate::location::summary::LocationSummary;
use crate::queue::{CallbackId, RouterError};
use crate::store::{CallRecord, CallbackRecord, CallbackRow, Journal, JournalRecord, JournalState};

/// Views are published at most this often (and only when something changed).
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);
/// While the HTTP API is served, the engine task refreshes the views at least this often
/// even when no SIP or API input arrives, so waiting times (`wait_ms`), idle and wrap-up
/// times in `GET /api/queue` and `GET /api/handlers` stay live for supervisors.
pub const LIVE_VIEWS_INTERVAL: Duration = Duration::from_millis(500);
/// When a background publication is still being built, the next try comes this much later.
const PUBLISH_RETRY: Duration = Duration::from_millis(10);
/// Publications are spaced at least this many times the cost of the last engine snapshot
/// apart (so snapshots take at most 0.5 % of the engine task's time).
const PUBLISH_COST_SHARE: u32 = 200;
/// ... and at least this many times the views thread's last build (JSON for up to 1,000
/// recent calls), so the views thread takes at most 5 % of a core: on a 2-core machine it
/// competes with the engine task (it took 14 % of the engine process at 1,000 calls/s).
const BUILD_COST_SHARE: u32 = 20;
/// Journal items from earlier runs are listed with ids from here up (see the module docs).
pub const JOURNAL_ID_BASE: u64 = 1 << 40;
/// How long an AML fix is kept for correlation with a later call of the same caller.
pub const AML_WINDOW: Duration = Duration::from_secs(300);
/// Most callers with an AML fix held.
pub const AML_MAX_CALLERS: usize = 10_000;
/// Handler state names of the `answerpoint_handlers` gauge.
const HANDLER_STATES: [&str; 6] = [
    "logged-out",
    "not-ready",
    "available",
    "ringing",
    "busy",
    "wrap-up",
];

/// What the observer keeps per live call.
struct Live {
    class: Option<CallClass>,
    arrived_ms: u64,
    /// Real time the engine task took the INVITE (for the engine-latency metric).
    taken: Option<Instant>,
    offered: bool,
    outcome_counted: bool,
    span: tracing::Span,
}

/// The observer (see the module docs). Owned by the engine task; also driven directly by
/// `benches/journal_latency.rs`.
pub struct Observer {
    views: Arc<SharedViews>,
    events: broadcast::Sender<StreamEvent>,
    journal: Option<Journal>,
    /// Open journal callback items from earlier runs, by journal id.
    earlier: Vec<CallbackRow>,
    /// Wall clock at engine start, Unix ms (engine `_ms` times are relative to it).
    start_unix_ms: i64,
    live: HashMap<u64, Live>,
    aml: AmlStore,
    dirty: bool,
    last_publish: Option<Instant>,
    journal_dropped_seen: u64,
    publisher: Publisher,
    /// How long the last engine snapshot for the views took (real time).
    snapshot_cost: Duration,
    /// Calls whose record changed during the current `observe` (journaled once each at its
    /// end), with the time they were abandoned if they went on the callback list.
    touched: Vec<(u64, Option<u64>)>,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("live", &self.live.len())
            .field("journal", &self.journal.is_some())
            .finish_non_exhaustive()
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn i64_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

impl Observer {
    /// An observer publishing into `views` and `events`, journaling into `journal` (`None`:
    /// journal off), showing `earlier` (the journal's [`crate::store::Recovery::open_callbacks`])
    /// on the callback list. `started` is the wall clock at the engine's creation.
    pub fn new(
        views: Arc<SharedViews>,
        events: broadcast::Sender<StreamEvent>,
        journal: Option<Journal>,
        earlier: Vec<CallbackRow>,
        started: SystemTime,
    ) -> Observer {
        let views_for_publisher = views.clone();
        Observer {
            views,
            events,
            journal,
            earlier,
            start_unix_ms: unix_ms(started),
            live: HashMap::new(),
            aml: AmlStore::new(AML_WINDOW, AML_MAX_CALLERS),
            dirty: true,
            last_publish: None,
            journal_dropped_seen: 0,
            publisher: Publisher::new(views_for_publisher),
            snapshot_cost: Duration::ZERO,
            touched: Vec::new(),
        }
    }

    /// The journal, if on.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Takes the journal out (for the final flush at shutdown).
    pub fn take_journal(&mut self) -> Option<Journal> {
        self.journal.take()
    }

    fn wall(&self, ms: u64) -> i64 {
        self.start_unix_ms.saturating_add(i64_ms(ms))
    }

    /// Drains and handles every pending engine event. `taken` is the real time the engine
    /// task took the input that produced them (call after the engine's transmits were sent).
    pub fn observe(&mut self, engine: &mut Engine, taken: Instant) {
        let mut arrived_now: Vec<(u64, String)> = Vec::new();
        while let Some(ev) = engine.poll_event() {
            self.event(engine, &ev, taken, &mut arrived_now);
        }
        // One journal record per call per input, in its state after the input (an
        // arrival that is queued and offered at once is one record, not three).
        let touched = std::mem::take(&mut self.touched);
        if self.journal.is_some() {
            for &(id, abandoned_ms) in &touched {
                if let Some(v) = engine.call_view(id) {
                    self.journal_call(&v);
                    if let Some(at_ms) = abandoned_ms {
                        self.journal_callback(&v, at_ms);
                    }
                }
            }
        }
        self.touched = touched;
        self.touched.clear();
        // A caller whose AML fix came before the INVITE: apply it now.
        for (id, caller) in arrived_now {
            if let Some(loc) = self.aml_location(engine_now(engine), &caller) {
                let _ = engine.handle_command(
                    engine_now(engine),
                    Command::AmlLocation(AmlLocation {
                        caller,
                        location: loc,
                    }),
                );
                if let Some(v) = engine.call_view(id) {
                    self.journal_call(&v);
                }
            }
        }
        if let Some(j) = &self.journal {
            let d = j.dropped();
            if d > self.journal_dropped_seen {
                metrics::journal_dropped(d - self.journal_dropped_seen);
                self.journal_dropped_seen = d;
            }
        }
    }

    fn event(
        &mut self,
        engine: &Engine,
        ev: &EngineEvent,
        taken: Instant,
        arrived_now: &mut Vec<(u64, String)>,
    ) {
        self.dirty = true;
        if self.events.receiver_count() > 0 {
            let kind = match ev {
                EngineEvent::Call(_) => "call",
                EngineEvent::HandlerState { .. } => "handler-state",
                EngineEvent::Registered { .. } => "registered",
                EngineEvent::Unregistered { .. } => "unregistered",
                EngineEvent::Refused { .. } => "refused",
                EngineEvent::Notice { .. } => "notice",
            };
            if let Ok(text) = serde_json::to_string(ev) {
                let _ = self.events.send(StreamEvent::new(kind, &text));
            }
        }
        match ev {
            EngineEvent::Call(c) => self.call_event(engine, c, taken, arrived_now),
            EngineEvent::Refused { status, .. } => {
                metrics::call_refused(*status);
                log_event(ev);
            }
            other => log_event(other),
        }
    }

    fn call_event(
        &mut self,
        engine: &Engine,
        c: &CallEvent,
        taken: Instant,
        arrived_now: &mut Vec<(u64, String)>,
    ) {
        if let CallEventKind::Arrived { class, caller, .. } = &c.kind {
            let (carrier, _) = engine.call_leg_ids(c.call).unwrap_or_default();
            let span = tracing::info_span!(
                "call",
                call = c.call,
                carrier_call_id = %carrier,
                handler_call_id = tracing::field::Empty
            );
            if let Some(class) = class {
                metrics::call_arrived(*class);
                self.views.kpi().call_arrived(
                    *class,
                    u64::try_from(self.wall(c.at_ms)).unwrap_or_default(),
                );
            }
            self.live.insert(
                c.call,
                Live {
                    class: *class,
                    arrived_ms: c.at_ms,
                    taken: Some(taken),
                    offered: false,
                    outcome_counted: class.is_none(),
                    span,
                },
            );
            arrived_now.push((c.call, caller.clone()));
        }
        let wall_arrived = self
            .live
            .get(&c.call)
            .map(|l| u64::try_from(self.wall(l.arrived_ms)).unwrap_or_default());
        let Some(live) = self.live.get_mut(&c.call) else {
            tracing::info!(call = c.call, at_ms = c.at_ms, kind = ?c.kind, "call event");
            return;
        };
        {
            let _entered = live.span.enter();
            tracing::info!(at_ms = c.at_ms, kind = ?c.kind, "call event");
        }
        let mut callback = false;
        match &c.kind {
            CallEventKind::Offered { .. } => {
                if !live.offered {
                    live.offered = true;
                    if let Some(t) = live.taken.take() {
                        if live.arrived_ms == c.at_ms {
                            metrics::observe_engine_latency(t.elapsed());
                        }
                    }
                }
                if let Some((_, legs)) = engine.call_leg_ids(c.call) {
                    if let Some(last) = legs.last() {
                        live.span.record("handler_call_id", last.as_str());
                    }
                }
            }
            CallEventKind::Answered { .. } => {
                if let (Some(class), false) = (live.class, live.outcome_counted) {
                    live.outcome_counted = true;
                    let answer_ms = c.at_ms.saturating_sub(live.arrived_ms);
                    metrics::call_outcome(class, Outcome::Answered);
                    metrics::observe_answer_time(class, Duration::from_millis(answer_ms));
                    self.views.kpi().call_answered(
                        class,
                        wall_arrived.unwrap_or_default(),
                        answer_ms,
                    );
                }
            }
            CallEventKind::Abandoned => {
                callback = true;
                if let (Some(class), false) = (live.class, live.outcome_counted) {
                    live.outcome_counted = true;
                    metrics::call_outcome(class, Outcome::Abandoned);
                    self.views
                        .kpi()
                        .call_abandoned(class, wall_arrived.unwrap_or_default());
                }
            }
            CallEventKind::Ended { reason } => {
                if let (Some(class), false) = (live.class, live.outcome_counted) {
                    live.outcome_counted = true;
                    let outcome = match reason {
                        EndReason::Rejected(_) => Outcome::Rejected,
                        EndReason::Abandoned => Outcome::Abandoned,
                        _ => Outcome::Failed,
                    };
                    metrics::call_outcome(class, outcome);
                }
            }
            CallEventKind::Arrived { .. } | CallEventKind::Queued => {}
        }
        let ended = matches!(c.kind, CallEventKind::Ended { .. });
        let abandoned_ms = callback.then_some(c.at_ms);
        match self.touched.iter_mut().find(|(id, _)| *id == c.call) {
            Some(t) => t.1 = t.1.or(abandoned_ms),
            None => self.touched.push((c.call, abandoned_ms)),
        }
        if ended {
            self.live.remove(&c.call);
        }
    }

    fn journal_call(&mut self, v: &CallView) {
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        let state = match v.state {
            CallState::Queued if v.queued_ms.is_none() => JournalState::Arrived,
            CallState::Queued => JournalState::Queued,
            CallState::Offered => JournalState::Offered,
            CallState::Connected => JournalState::Connected,
            CallState::Ended => JournalState::Ended,
            CallState::Abandoned => JournalState::Abandoned,
        };
        let start = self.start_unix_ms;
        let wall = |ms: u64| start.saturating_add(i64_ms(ms));
        let record = CallRecord {
            call_id: v.id,
            class: v.class,
            reason: v.classification.to_string(),
            caller: v.caller.to_string(),
            callback_number: v.callback_number.as_deref().map(str::to_owned),
            location_json: v
                .location
                .as_ref()
                .and_then(|l| serde_json::to_string(l).ok()),
            state,
            handler: v.handler.as_deref().map(str::to_owned),
            outcome: v.end_reason.as_ref().map(outcome_name),
            carrier_call_id: v.carrier_call_id.to_string(),
            offers: v.offers,
            arrived_unix_ms: wall(v.arrived_ms),
            queued_unix_ms: v.queued_ms.map(wall),
            offered_unix_ms: v.offered_ms.map(wall),
            answered_unix_ms: v.answered_ms.map(wall),
            ended_unix_ms: v.ended_ms.map(wall),
        };
        let _ = journal.record(JournalRecord::Call(record));
    }

    fn journal_callback(&mut self, v: &CallView, at_ms: u64) {
        let start = self.start_unix_ms;
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        let _ = journal.record(JournalRecord::Callback(CallbackRecord {
            call_id: v.id,
            class: v.class,
            caller: v.caller.to_string(),
            callback_number: v.callback_number.as_deref().map(str::to_owned),
            location_json: v
                .location
                .as_ref()
                .and_then(|l| serde_json::to_string(l).ok()),
            arrived_unix_ms: start.saturating_add(i64_ms(v.arrived_ms)),
            abandoned_unix_ms: start.saturating_add(i64_ms(at_ms)),
            offers: v.offers,
        }));
    }

    /// Journals what a shutdown did to each call (its events already did; this re-records
    /// the final state) and logs one line per call.
    pub fn shutdown_calls(&mut self, engine: &Engine, calls: &[ShutdownCall], at_end: bool) {
        for c in calls {
            let location = c
                .location
                .as_ref()
                .and_then(|l| serde_json::to_string(l).ok())
                .unwrap_or_else(|| "none".into());
            tracing::warn!(
                call = c.call,
                class = c.class.map_or("none", CallClass::as_str),
                caller = %c.caller,
                callback_number = c.callback_number.as_deref().unwrap_or(""),
                location = %location,
                status = c.status,
                waited_ms = c.waited_ms,
                carrier_call_id = %c.carrier_call_id,
                on_callback_list = c.on_callback_list,
                "{}",
                if at_end {
                    "shutdown: call not answered in the grace period: 503 sent, on the callback list"
                } else {
                    "shutdown: new non-emergency call refused with 503"
                }
            );
            if let Some(v) = engine.call_view(c.call) {
                self.journal_call(&v);
            }
        }
    }

    /// Publishes the views when something changed and [`PUBLISH_INTERVAL`] has passed
    /// since the last publication (or `force`); also sets the queue and handler gauges.
    /// Returns when the next publication is due, if one is pending.
    ///
    /// Only the engine snapshot is taken here; turning it into the API's JSON views (the
    /// costly part: ~1,400 calls and handlers as `serde_json::Value`) happens on the
    /// `answerpoint-views` thread, so the engine task is not held up by it. A forced
    /// publication is built here, synchronously (startup, shutdown); an older background
    /// one finishing later never replaces a newer one.
    /// Marks the views stale although no event changed them (time passed: waits and idle
    /// times grew), so the next [`Observer::maybe_publish`] republishes them.
    pub fn mark_stale(&mut self) {
        self.dirty = true;
    }

    pub fn maybe_publish(&mut self, engine: &Engine, force: bool) -> Option<Instant> {
        let now = Instant::now();
        if !self.dirty && !force {
            return None;
        }
        // The snapshot is taken on the engine task; keep it under 1/PUBLISH_COST_SHARE of
        // the engine's time by spacing publications out when snapshots get costly.
        let interval = PUBLISH_INTERVAL
            .max(self.snapshot_cost * PUBLISH_COST_SHARE)
            .max(self.publisher.last_build() * BUILD_COST_SHARE);
        if let Some(last) = self.last_publish {
            if !force && now.duration_since(last) < interval {
                return Some(last + interval);
            }
        }
        if !force && !self.publisher.idle() {
            // The previous one is still being built: try again shortly.
            return Some(now + PUBLISH_RETRY);
        }
        let job = self.publish_job(engine);
        self.snapshot_cost = now.elapsed();
        if force {
            self.publisher.publish_now(job);
        } else {
            self.publisher.offer(job);
        }
        self.last_publish = Some(now);
        self.dirty = false;
        None
    }

    fn publish_job(&self, engine: &Engine) -> PublishJob {
        PublishJob {
            seq: 0,
            snap: engine.snapshot(),
            earlier: self.earlier.clone(),
            start_unix_ms: self.start_unix_ms,
            run: self.journal.as_ref().map(Journal::run),
        }
    }

    /// Answers one API request against the engine.
    pub fn api(&mut self, engine: &mut Engine, now: Instant, req: ApiRequest) {
        let result = self.api_command(engine, now, req.command);
        self.dirty = true;
        let _ = req.reply.send(result);
    }

    fn api_command(
        &mut self,
        engine: &mut Engine,
        now: Instant,
        cmd: ApiCommand,
    ) -> Result<(), ApiCommandError> {
        match cmd {
            ApiCommand::SetHandlerState { handler, state } => engine
                .handle_command(now, Command::SetHandlerState { handler, state })
                .map_err(api_error),
            ApiCommand::CallbackDone { id } if id >= JOURNAL_ID_BASE => {
                let jid = i64::try_from(id - JOURNAL_ID_BASE)
                    .map_err(|_| ApiCommandError::UnknownCallback(id))?;
                let pos = self
                    .earlier
                    .iter()
                    .position(|r| r.id == jid)
                    .ok_or(ApiCommandError::UnknownCallback(id))?;
                self.earlier.remove(pos);
                let done_unix_ms = unix_ms(SystemTime::now());
                if let Some(j) = self.journal.as_mut() {
                    j.record(JournalRecord::CallbackDoneById {
                        id: jid,
                        done_unix_ms,
                    })
                    .map_err(|e| ApiCommandError::Refused(e.to_string()))?;
                }
                Ok(())
            }
            ApiCommand::CallbackDone { id } => {
                let call = engine
                    .snapshot()
                    .queue
                    .callbacks
                    .iter()
                    .find(|c| c.id.0 == id)
                    .map(|c| c.call.0)
                    .ok_or(ApiCommandError::UnknownCallback(id))?;
                engine
                    .handle_command(
                        now,
                        Command::CallbackDone {
                            callback: CallbackId(id),
                        },
                    )
                    .map_err(api_error)?;
                let done_unix_ms = unix_ms(SystemTime::now());
                if let Some(j) = self.journal.as_mut() {
                    let _ = j.record(JournalRecord::CallbackDone {
                        call_id: call,
                        done_unix_ms,
                    });
                }
                Ok(())
            }
            ApiCommand::AmlReport { caller, fix } => {
                self.aml.ingest(now, &caller, *fix);
                if let Some(location) = self.aml_location(now, &caller) {
                    engine
                        .handle_command(now, Command::AmlLocation(AmlLocation { caller, location }))
                        .map_err(api_error)?;
                    self.journal_live_calls(engine);
                }
                Ok(())
            }
        }
    }

    /// Re-journals every live call (after an AML fix may have changed locations).
    fn journal_live_calls(&mut self, engine: &Engine) {
        if self.journal.is_none() {
            return;
        }
        let ids: Vec<u64> = self.live.keys().copied().collect();
        for id in ids {
            if let Some(v) = engine.call_view(id) {
                self.journal_call(&v);
            }
        }
    }

    fn aml_location(&self, now: Instant, caller: &str) -> Option<LocationSummary> {
        let fix = self.aml.best(now, caller)?;
        let mut loc = LocationSummary::from_aml(fix, SystemTime::now())?;
        loc.age_s = None;
        Some(loc)
    }

    /// Ids of the callback items from earlier runs still open (for tests).
    pub fn earlier_open(&self) -> HashSet<i64> {
        self.earlier.iter().map(|r| r.id).collect()
    }
}

/// The engine's notion of its last input time (the AML store is keyed on it).
fn engine_now(engine: &Engine) -> Instant {
    // The engine has no clock; its last input time is the freshest "now" it knows.
    engine.last_input()
}

fn api_error(e: CommandError) -> ApiCommandError {
    match e {
        CommandError::UnknownHandler(h) => ApiCommandError::UnknownHandler(h),
        CommandError::Router(RouterError::UnknownCallback(id)) => {
            ApiCommandError::UnknownCallback(id.0)
        }
        other => ApiCommandError::Refused(other.to_string()),
    }
}

fn outcome_name(r: &EndReason) -> String {
    match r {
        EndReason::CallerHangup => "completed-caller-hangup".into(),
        EndReason::HandlerHangup => "completed-handler-hangup".into(),
        EndReason::Abandoned => "abandoned".into(),
        EndReason::Rejected(s) => format!("rejected-{s}"),
        EndReason::OverflowFailed(s) => format!("overflow-failed-{s}"),
        EndReason::TestCall => "test-call".into(),
        EndReason::NoAck => "no-ack".into(),
        EndReason::SessionExpired => "session-expired".into(),
    }
}

/// Writes a non-call engine event to the log.
pub(crate) fn log_event(ev: &EngineEvent) {
    match ev {
        EngineEvent::Call(c) => {
            let span = tracing::info_span!("call", call = c.call);
            let _entered = span.enter();
            tracing::info!(at_ms = c.at_ms, kind = ?c.kind, "call event");
        }
        EngineEvent::HandlerState {
            handler,
            state,
            at_ms,
        } => tracing::info!(%handler, %state, at_ms, "handler state"),
        EngineEvent::Registered {
            user,
            contact,
            expires_s,
        } => tracing::info!(%user, %contact, expires_s, "registered"),
        EngineEvent::Unregistered { user } => tracing::info!(%user, "unregistered"),
        EngineEvent::Refused {
            source,
            status,
            reason,
        } => tracing::info!(%source, status, %reason, "request refused"),
        EngineEvent::Notice { text } => tracing::warn!(%text, "engine notice"),
    }
}

fn build_views(job: PublishJob) -> Views {
    let PublishJob {
        snap,
        earlier,
        start_unix_ms,
        run,
        ..
    } = job;
    let wall = |ms: u64| start_unix_ms.saturating_add(i64_ms(ms));
    for class in CallClass::ALL {
        metrics::set_queue_depth(class, snap.queue.depth.get(class));
    }
    for state in HANDLER_STATES {
        let n = snap.handlers.iter().filter(|h| h.state == state).count();
        metrics::set_handlers(state, n);
    }
    let queue = json!({
        "now_ms": snap.now_ms,
        "depth": snap.queue.depth,
        "waiting": snap.queue.waiting,
    });
    let handlers: Vec<Value> = snap
        .handlers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let q = snap.queue.handlers.get(i);
            json!({
                "id": h.id,
                "seat": h.seat,
                "contact": h.contact,
                "state": h.state,
                "reason": q.and_then(|q| q.reason.clone()),
                "call": q.and_then(|q| q.call.map(|c| c.0)),
                "idle_ms": q.and_then(|q| q.idle_ms),
                "wrap_up_left_ms": q.and_then(|q| q.wrap_up_left_ms),
                "consecutive_misses": q.map(|q| q.consecutive_misses),
            })
        })
        .collect();
    let calls = json!({
        "now_ms": snap.now_ms,
        "started_unix_ms": start_unix_ms,
        "calls": snap.calls,
    });
    let mut abandoned: Vec<Value> = earlier
        .iter()
        .map(|r| {
            let location: Value = r
                .location_json
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(Value::Null);
            json!({
                "id": JOURNAL_ID_BASE + u64::try_from(r.id).unwrap_or_default(),
                "origin": r.origin,
                "run": r.run,
                "call": r.call_id,
                "class": r.class,
                "caller": r.caller,
                "callback_number": r.callback_number,
                "location": location,
                "arrived_unix_ms": r.arrived_unix_ms,
                "abandoned_unix_ms": r.abandoned_unix_ms,
                "offers": r.offers,
            })
        })
        .collect();
    for cb in &snap.queue.callbacks {
        let view = snap.calls.iter().find(|c| c.id == cb.call.0);
        let location = view
            .and_then(|v| v.location.as_ref())
            .and_then(|l| serde_json::to_value(l).ok())
            .unwrap_or(Value::Null);
        abandoned.push(json!({
            "id": cb.id.0,
            "origin": "abandoned",
            "run": run,
            "call": cb.call.0,
            "class": cb.class,
            "caller": cb.caller,
            "callback_number": view.and_then(|v| v.callback_number.clone()),
            "location": location,
            "arrived_unix_ms": view.map(|v| wall(v.arrived_ms)),
            "abandoned_unix_ms": view.and_then(|v| v.ended_ms).map(wall),
            "waited_ms": cb.waited_ms,
            "offers": cb.offers,
        }));
    }
    Views {
        queue,
        handlers: Value::Array(handlers),
        calls,
        abandoned: Value::Array(abandoned),
    }
}

/// One publication: an engine snapshot plus what the observer adds to it.
struct PublishJob {
    /// Order of the publication (set by [`Publisher`]); an older one never replaces a newer.
    seq: u64,
    snap: crate::engine::Snapshot,
    earlier: Vec<CallbackRow>,
    start_unix_ms: i64,
    run: Option<i64>,
}

/// Builds and publishes views off the engine task (see [`Observer::maybe_publish`]): one
/// `answerpoint-views` thread fed through a channel of depth 1, so at most one snapshot
/// waits while another is being built. The thread ends when the observer is dropped.
struct Publisher {
    views: Arc<SharedViews>,
    tx: Option<crossbeam_channel::Sender<PublishJob>>,
    /// Sequence number of the views last published.
    published: Arc<parking_lot::Mutex<u64>>,
    /// True while the views thread waits for work.
    idle: Arc<std::sync::atomic::AtomicBool>,
    /// How long the views thread's last build took, ns.
    build_ns: Arc<std::sync::atomic::AtomicU64>,
    next_seq: u64,
}

impl Publisher {
    fn new(views: Arc<SharedViews>) -> Publisher {
        let published = Arc::new(parking_lot::Mutex::new(0));
        let (tx, rx) = crossbeam_channel::bounded::<PublishJob>(1);
        let idle = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let build_ns = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (v, p, i, b) = (
            views.clone(),
            published.clone(),
            idle.clone(),
            build_ns.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("answerpoint-views".into())
            .spawn(move || {
                for job in rx {
                    let t = Instant::now();
                    publish_ordered(&v, &p, job);
                    let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    b.store(ns, std::sync::atomic::Ordering::Relaxed);
                    i.store(true, std::sync::atomic::Ordering::Release);
                }
            });
        let tx = match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!(error = %e, "no views thread: views are built on the engine task");
                None
            }
        };
        Publisher {
            views,
            tx,
            published,
            idle,
            build_ns,
            next_seq: 0,
        }
    }

    /// How long the views thread's last build took (zero before the first).
    fn last_build(&self) -> Duration {
        Duration::from_nanos(self.build_ns.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Whether the views thread has finished the previous publication.
    fn idle(&self) -> bool {
        self.idle.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Hands `job` to the views thread (builds it here when there is none, or when the
    /// thread is still busy, which [`Publisher::idle`] avoids).
    fn offer(&mut self, mut job: PublishJob) {
        self.next_seq += 1;
        job.seq = self.next_seq;
        let job = match &self.tx {
            Some(tx) => {
                self.idle.store(false, std::sync::atomic::Ordering::Release);
                match tx.try_send(job) {
                    Ok(()) => return,
                    Err(crossbeam_channel::TrySendError::Full(j))
                    | Err(crossbeam_channel::TrySendError::Disconnected(j)) => {
                        self.idle.store(true, std::sync::atomic::Ordering::Release);
                        j
                    }
                }
            }
            None => job,
        };
        publish_ordered(&self.views, &self.published, job);
    }

    /// Builds and publishes `job` on the calling thread.
    fn publish_now(&mut self, mut job: PublishJob) {
        self.next_seq += 1;
        job.seq = self.next_seq;
        publish_ordered(&self.views, &self.published, job);
    }
}

/// Builds the views of `job` and publishes them unless newer ones are already out; sets
/// the queue and handler gauges.
fn publish_ordered(views: &SharedViews, published: &parking_lot::Mutex<u64>, job: PublishJob) {
    let seq = job.seq;
    if *published.lock() >= seq {
        return;
    }
    let built = build_views(job);
    let mut last = published.lock();
    if *last < seq {
        *last = seq;
        views.publish(built);
    }
}
