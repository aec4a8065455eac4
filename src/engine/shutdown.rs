//! Graceful shutdown of the engine (issue 6; docs/DESIGN.md §6: an emergency call is never
//! dropped silently), sans-IO. The runtime drives it on SIGINT/SIGTERM:
//!
//! 1. [`Engine::begin_shutdown`] starts a grace period (`shutdown_grace_s`).
//! 2. While it runs, the engine keeps serving: queued and ringing calls may still be
//!    answered. After every input the runtime calls [`Engine::shutdown_refuse_new`], which
//!    answers each **non-emergency** call that arrived after step 1 with `503 Service
//!    Unavailable` + `Retry-After` (RFC 3261 §21.5.4, §20.33) and withdraws it from the
//!    queue. New emergency calls are still queued and offered.
//! 3. When no call is left waiting or ringing ([`Engine::shutdown_unanswered`] is 0) or
//!    the grace period is over, [`Engine::finish_shutdown`] answers **every** remaining
//!    queued or ringing call with `503 Service Unavailable` + `Retry-After`, withdraws its
//!    ringing offers (CANCEL to the handler) and puts it on the callback list (a
//!    [`CallEventKind::Abandoned`] event, so the journal keeps it with its number and
//!    location for the next start). It returns one [`ShutdownCall`] per call for the log.
//! 4. The runtime keeps feeding input until the carrier has acknowledged those final
//!    responses ([`Engine::shutdown_awaiting_ack`] is 0; RFC 3261 §17.2.1: the INVITE
//!    server transaction retransmits a non-2xx final until the ACK) or a short linger ends.
//!
//! # Why 503 for every call, emergency included
//! RFC 3261 §21.5.4: 503 means the *server* is temporarily unable to process the request
//! (overload or maintenance), and "a client (proxy or UAC) receiving a 503 SHOULD attempt
//! to forward the request to an alternate server"; RFC 3263 §4.3 likewise makes 503 the
//! trigger for trying the next server. That is exactly what a carrier must do with a 999
//! call while this control room restarts: send it to the fallback PSAP. 480 Temporarily
//! Unavailable (§21.4.18) says the *callee* is unavailable, which carriers treat as the
//! answer for that destination rather than a reason to fail over. `Retry-After`
//! ([`SHUTDOWN_RETRY_AFTER_S`]) tells the carrier how long to keep this server out of its
//! rotation.
//!
//! A call ringing at the overflow partner (a leg with no handler) gets its 503 towards the
//! carrier and a CANCEL on the partner leg.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::endpoint::Engine;
use super::types::{CallEvent, CallEventKind, CallState, EndReason, EngineEvent};
use crate::call::CallClass;
use crate::location::summary::LocationSummary;
use crate::queue::{CallId, Event};
use crate::sip::transaction::InviteServerState;
use crate::sip::transaction::{ServerKey, ServerTransaction};

/// `Retry-After` on the 503 answers of a shutdown, s (RFC 3261 §20.33): how long the
/// carrier should route around this engine.
pub const SHUTDOWN_RETRY_AFTER_S: u32 = 60;

/// Status sent to the carrier for calls answered by a shutdown (RFC 3261 §21.5.4).
const SHUTDOWN_STATUS: u16 = 503;

/// A graceful shutdown in progress, returned by [`Engine::begin_shutdown`]; pass it back to
/// the other `shutdown_*` methods.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// When the shutdown began.
    pub began: Instant,
    /// End of the grace period: [`Engine::finish_shutdown`] is due then at the latest.
    pub deadline: Instant,
    /// Calls with this id or higher arrived during the shutdown.
    first_new_call: u64,
    /// Carrier INVITE transactions answered by the shutdown (for the ACK wait).
    answered: Vec<ServerKey>,
    /// `finish_shutdown` has run.
    finished: bool,
}

impl Shutdown {
    /// `true` once [`Engine::finish_shutdown`] has run.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

/// One call a shutdown answered with a final response: what the log line and the callback
/// list need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShutdownCall {
    /// Engine call id.
    pub call: u64,
    /// Queue class.
    pub class: Option<CallClass>,
    /// Caller (P-Asserted-Identity / From).
    pub caller: String,
    /// Callback number, if known.
    pub callback_number: Option<String>,
    /// Location summary, if any.
    pub location: Option<LocationSummary>,
    /// Status sent to the carrier (503).
    pub status: u16,
    /// `true` when it was waiting or ringing at the shutdown (it goes on the callback
    /// list); `false` for a new non-emergency call refused during the grace period.
    pub on_callback_list: bool,
    /// Time since its INVITE arrived, ms.
    pub waited_ms: u64,
    /// The carrier's Call-ID.
    pub carrier_call_id: String,
}

impl Engine {
    /// Begins a graceful shutdown at `now` with a grace period of `grace` (see the module
    /// docs). Logs a notice event; changes no call.
    pub fn begin_shutdown(&mut self, now: Instant, grace: Duration) -> Shutdown {
        self.last_now = now;
        let waiting = self.shutdown_unanswered();
        self.notice(format!(
            "shutdown: {waiting} call(s) waiting or ringing get up to {} s to be answered; \
             new non-emergency calls are refused with 503",
            grace.as_secs()
        ));
        self.shutdown_first_new = Some(self.next_call);
        Shutdown {
            began: now,
            deadline: now + grace,
            first_new_call: self.next_call,
            answered: Vec::new(),
            finished: false,
        }
    }

    /// Calls waiting in the queue or ringing at a handler, not yet given a final response.
    pub fn shutdown_unanswered(&self) -> usize {
        self.live_calls()
            .filter(|c| {
                !c.carrier.final_sent && matches!(c.state, CallState::Queued | CallState::Offered)
            })
            .count()
    }

    /// Refuses every non-emergency call that arrived since [`Engine::begin_shutdown`] and
    /// has no final response yet: 503 + `Retry-After`, ringing offers cancelled, the call
    /// ended as rejected (not on the callback list: the carrier retries it elsewhere).
    /// Returns the calls refused.
    pub fn shutdown_refuse_new(&mut self, now: Instant, sd: &mut Shutdown) -> Vec<ShutdownCall> {
        self.last_now = now;
        let ids: Vec<u64> = self
            .live_calls()
            .filter(|c| {
                c.id >= sd.first_new_call
                    && !c.emergency
                    && c.class.is_some()
                    && !c.carrier.final_sent
                    && c.ended.is_none()
            })
            .map(|c| c.id)
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(done) = self.shutdown_answer(now, sd, id, false) {
                out.push(done);
            }
        }
        out
    }

    /// Answers every call still waiting or ringing with 503 + `Retry-After`, cancels its
    /// ringing offers and puts it on the callback list (see the module docs). Returns one
    /// [`ShutdownCall`] per call, oldest first. Idempotent.
    pub fn finish_shutdown(&mut self, now: Instant, sd: &mut Shutdown) -> Vec<ShutdownCall> {
        self.last_now = now;
        sd.finished = true;
        let ids: Vec<u64> = self
            .live_calls()
            .filter(|c| {
                !c.carrier.final_sent && matches!(c.state, CallState::Queued | CallState::Offered)
            })
            .map(|c| c.id)
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let keep =
                !(id >= sd.first_new_call && self.calls.get(&id).is_some_and(|c| !c.emergency));
            if let Some(done) = self.shutdown_answer(now, sd, id, keep) {
                out.push(done);
            }
        }
        out
    }

    /// Carrier INVITE transactions the shutdown answered whose ACK has not arrived yet
    /// (RFC 3261 §17.2.1 Completed state: the 503 is being retransmitted).
    pub fn shutdown_awaiting_ack(&self, sd: &Shutdown) -> usize {
        sd.answered
            .iter()
            .filter(|k| {
                matches!(
                    self.txns.server(k),
                    Some(ServerTransaction::Invite(s)) if s.state() == InviteServerState::Completed
                )
            })
            .count()
    }

    /// Final 503 for call `id`; `callback`: put it on the callback list (abandoned).
    fn shutdown_answer(
        &mut self,
        now: Instant,
        sd: &mut Shutdown,
        id: u64,
        callback: bool,
    ) -> Option<ShutdownCall> {
        let c = self.calls.get(&id)?;
        let in_router = c.in_router;
        let done = ShutdownCall {
            call: id,
            class: c.class,
            caller: c.caller.to_string(),
            callback_number: c.callback_number.as_deref().map(str::to_owned),
            location: c.location.as_deref().cloned(),
            status: SHUTDOWN_STATUS,
            on_callback_list: callback,
            waited_ms: u64::try_from(now.saturating_duration_since(c.arrived).as_millis())
                .unwrap_or(u64::MAX),
            carrier_call_id: c.carrier.call_id.to_string(),
        };
        let key = c.carrier.key.clone();
        if in_router {
            // The queue core withdraws a ringing offer (CancelOffer → CANCEL to the
            // handler) and adds the call to its callback list.
            let _ = self
                .router
                .handle(now, Event::CallAbandoned { call: CallId(id) });
            if !callback {
                // A refused new call is not a callback item: the carrier retries it.
                let item = self
                    .router
                    .snapshot(now, 0)
                    .callbacks
                    .iter()
                    .find(|cb| cb.call == CallId(id))
                    .map(|cb| cb.id);
                if let Some(callback) = item {
                    let _ = self.router.handle(now, Event::CallbackDone { callback });
                }
            }
            if let Some(c) = self.calls.get_mut(&id) {
                c.in_router = false;
            }
            self.settle(now);
        }
        let retry = SHUTDOWN_RETRY_AFTER_S.to_string();
        self.final_to_carrier(
            now,
            id,
            SHUTDOWN_STATUS,
            "Service Unavailable",
            &[("Retry-After", &retry)],
        );
        // The carrier now sends this call elsewhere: a leg still ringing at the overflow
        // partner must stop, or the partner could answer a caller who is gone.
        self.cancel_overflow_legs(now, id);
        sd.answered.push(key);
        if callback {
            let at_ms = self.ms(now);
            self.events.push_back(EngineEvent::Call(CallEvent {
                call: id,
                at_ms,
                kind: CallEventKind::Abandoned,
            }));
        }
        self.finish(now, id, EndReason::Rejected(SHUTDOWN_STATUS));
        self.settle(now);
        Some(done)
    }
}
