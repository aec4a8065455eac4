//! The B2BUA call path (RFC 3261 §6 B2BUA, §12 dialogs, §13 INVITE, §15 BYE, §9 CANCEL):
//! carrier INVITE → 100 → classification and location → queue core → 180 (kept fresh
//! every `queued_keepalive_s`, §13.3.1.1) → INVITE to the handler (own Call-ID and tags,
//! SDP passed through, location headers and parts carried) → handler 200 → ACK to the
//! handler and 200 to the carrier (retransmitted until ACK, §13.3.1.4) → BYE from either
//! side relayed. In-dialog re-INVITE / UPDATE / INFO are relayed to the other leg.
//!
//! Extensions: RFC 3262 reliable provisionals (when the carrier *requires* 100rel the 180s
//! carry `Require: 100rel` and `RSeq` and are retransmitted until PRACK), RFC 4028 session
//! timers (Session-Expires honoured in the 200 with `refresher=uac`; refreshing re-INVITE /
//! UPDATE answered; the call is closed if no refresh arrives; never 422 for emergency).
//!
//! The handler's INVITE identifies the call: `From` and `P-Asserted-Identity` carry the
//! callback number, `Priority: emergency` marks emergency calls, and the engine's call id
//! is in `X-Answerpoint-Call-Id` (a decimal number, also in the snapshot).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::endpoint::{Engine, Inbound, TimerKind, MAX_RECENT_CALLS};
use super::types::*;
use super::util::*;
use super::Transport;
use crate::call::{Action as ClassAction, CallClass};
use crate::location::locate::locate;
use crate::location::passon::pass_on;
use crate::location::summary::LocationSummary;
use crate::queue::{Action, CallId, CancelReason, Event, HandlerId, NewCall, RouterError, Skills};
use crate::sip::transaction::{
    ClientKey, ClientTransaction, InviteClient, InviteServer, NonInviteClient, NonInviteServer,
    ServerKey, ServerTransaction, Trying,
};
use crate::sip::{HeaderName, Message, MessageBuilder, Method};

/// Our minimum session interval, s (RFC 4028 §4: at least 90).
pub const MIN_SE_S: u32 = 90;
/// `limits.max_transactions / EMERGENCY_RESERVE_DIVISOR` transactions are kept for
/// emergency INVITEs and calls in progress: non-emergency INVITEs are refused 503 first.
pub const EMERGENCY_RESERVE_DIVISOR: usize = 10;
/// Header carrying the engine's call id to the handler.
pub const CALL_ID_HEADER: &str = "X-Answerpoint-Call-Id";

/// Extra headers and body (content type, bytes) of every handler INVITE of a call.
pub(crate) type OfferTemplate = (Vec<(String, String)>, Option<(String, Vec<u8>)>);

/// Which leg of a call a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The carrier (UAS) leg.
    Carrier,
    /// A handler (UAC) leg, by index in [`Call::legs`].
    Handler(usize),
}

/// What a client transaction is for.
#[derive(Debug, Clone)]
pub(crate) enum Purpose {
    /// The INVITE of a handler leg.
    Offer { call: u64, leg: usize, invite: Pkt },
    /// CANCEL or BYE we sent: the answer needs no action.
    Fire,
    /// A relayed in-dialog request: answer `back` on the originating leg with the result.
    Relay {
        call: u64,
        to: Side,
        back: ServerKey,
        origin: Box<Inbound>,
    },
}

impl Purpose {
    pub(crate) fn invite(&self) -> Option<&Pkt> {
        match self {
            Purpose::Offer { invite, .. } => Some(invite),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegState {
    Calling,
    Early,
    Cancelled,
    Answered,
    Ended,
}

/// A handler (or overflow partner) leg: our UAC dialog.
#[derive(Debug, Clone)]
pub(crate) struct HandlerLeg {
    pub(crate) handler: Option<HandlerId>,
    pub(crate) label: Arc<str>,
    pub(crate) call_id: String,
    pub(crate) from_hdr: String,
    pub(crate) to_hdr: String,
    pub(crate) remote_tag: Option<String>,
    pub(crate) transport: Transport,
    pub(crate) dest: SocketAddr,
    pub(crate) invite: Pkt,
    pub(crate) target: String,
    pub(crate) local_cseq: u32,
    pub(crate) remote_target: Option<String>,
    pub(crate) route_set: Vec<String>,
    pub(crate) state: LegState,
    pub(crate) ack: Option<Pkt>,
}

/// The carrier leg: our UAS dialog.
#[derive(Debug, Clone)]
pub(crate) struct CarrierLeg {
    pub(crate) inb: Inbound,
    pub(crate) key: ServerKey,
    /// Shared with the call's views (`CallView::carrier_call_id`).
    pub(crate) call_id: Arc<str>,
    pub(crate) local_tag: String,
    pub(crate) remote_target: String,
    pub(crate) route_set: Vec<String>,
    pub(crate) local_cseq: u32,
    /// The carrier requires 100rel (RFC 3262 §3).
    pub(crate) reliable: bool,
    pub(crate) rseq: u32,
    pub(crate) rel_pending: Option<(Pkt, u32, Duration, Instant)>,
    pub(crate) rel_gen: u32,
    pub(crate) ringing_sent: bool,
    pub(crate) final_sent: bool,
    pub(crate) ok: Option<Pkt>,
    pub(crate) acked: bool,
    pub(crate) ok_gen: u32,
    pub(crate) ok_interval: Duration,
    pub(crate) ok_giveup: Instant,
    /// Negotiated session interval, s (RFC 4028).
    pub(crate) session_expires_s: Option<u32>,
    pub(crate) timer_supported: bool,
    pub(crate) se_gen: u32,
}

/// A 2xx we sent to a re-INVITE, awaiting the ACK (RFC 3261 §13.3.1.4).
#[derive(Debug, Clone)]
pub(crate) struct ReinviteOk {
    /// The leg the re-INVITE came from (where the ACK comes from).
    pub(crate) side: Side,
    /// The re-INVITE's CSeq number (the ACK carries the same).
    pub(crate) seq: u32,
    pub(crate) pkt: Pkt,
    pub(crate) interval: Duration,
    pub(crate) giveup: Instant,
}

/// One call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) id: u64,
    pub(crate) class: Option<CallClass>,
    pub(crate) emergency: bool,
    pub(crate) classification: Arc<str>,
    pub(crate) caller: Arc<str>,
    pub(crate) callback_number: Option<Arc<str>>,
    pub(crate) caller_uri: String,
    pub(crate) location: Option<Arc<LocationSummary>>,
    pub(crate) location_errors: Arc<[String]>,
    /// Geolocation URIs by reference (RFC 6442 §4.1: `https:`, `sip:`…), not dereferenced.
    pub(crate) location_references: Arc<[String]>,
    pub(crate) state: CallState,
    pub(crate) handler: Option<HandlerId>,
    pub(crate) handler_label: Option<Arc<str>>,
    pub(crate) offers: u32,
    pub(crate) arrived: Instant,
    pub(crate) queued: Option<Instant>,
    pub(crate) offered: Option<Instant>,
    pub(crate) answered: Option<Instant>,
    pub(crate) ended: Option<Instant>,
    pub(crate) end_reason: Option<EndReason>,
    pub(crate) in_router: bool,
    pub(crate) carrier: CarrierLeg,
    pub(crate) legs: Vec<HandlerLeg>,
    pub(crate) answered_leg: Option<usize>,
    pub(crate) ka_gen: u32,
    /// Our 2xx to a relayed re-INVITE, retransmitted until its ACK (RFC 3261 §13.3.1.4).
    pub(crate) reinvite_ok: Option<ReinviteOk>,
    pub(crate) reok_gen: u32,
    /// Headers and body for handler INVITEs, built once at the first offer.
    pub(crate) template: Option<OfferTemplate>,
}

impl Call {
    pub(crate) fn view(&self, e: &Engine) -> CallView {
        CallView {
            id: self.id,
            class: self.class,
            classification: self.classification.clone(),
            caller: self.caller.clone(),
            callback_number: self.callback_number.clone(),
            location: self.location.clone(),
            location_errors: self.location_errors.clone(),
            location_references: self.location_references.clone(),
            state: self.state,
            handler: self.handler_label.clone(),
            offers: self.offers,
            arrived_ms: e.ms(self.arrived),
            queued_ms: self.queued.map(|t| e.ms(t)),
            offered_ms: self.offered.map(|t| e.ms(t)),
            answered_ms: self.answered.map(|t| e.ms(t)),
            ended_ms: self.ended.map(|t| e.ms(t)),
            end_reason: self.end_reason.clone(),
            carrier_call_id: Arc::clone(&self.carrier.call_id),
        }
    }

    fn is_live_unanswered(&self) -> bool {
        !self.carrier.final_sent && matches!(self.state, CallState::Queued | CallState::Offered)
    }
}

impl Engine {
    fn call_event(&mut self, now: Instant, call: u64, kind: CallEventKind) {
        let at_ms = self.ms(now);
        self.events
            .push_back(EngineEvent::Call(CallEvent { call, at_ms, kind }));
    }

    // === carrier INVITE ===

    /// A new INVITE (no To tag): admission checks, then a call.
    pub(crate) fn on_invite(&mut self, now: Instant, inb: Inbound, key: ServerKey) {
        let req = &inb.req;
        // Only configured carriers may deliver calls (issue 5; DESIGN §8).
        if !self.config.is_carrier(inb.source.ip()) {
            self.refuse(&inb, 403, "Forbidden (not a configured carrier)", &[]);
            return;
        }
        let classification = self.classify_request(req);
        let emergency = classification.is_emergency();
        if !emergency {
            if crate::sip::validate::hops_exhausted(req) {
                self.refuse(&inb, 483, "Too Many Hops", &[]);
                return;
            }
            let unsupported =
                crate::sip::validate::unsupported_requires(req, SUPPORTED_TAGS).join(", ");
            if !unsupported.is_empty() {
                self.refuse(&inb, 420, "Bad Extension", &[("Unsupported", &unsupported)]);
                return;
            }
            if !body_type_ok(req.get(HeaderName::ContentType), req.body()) {
                self.refuse(
                    &inb,
                    415,
                    "Unsupported Media Type",
                    &[("Accept", "application/sdp, multipart/mixed")],
                );
                return;
            }
        } else {
            let unsupported =
                crate::sip::validate::unsupported_requires(req, SUPPORTED_TAGS).join(", ");
            if !unsupported.is_empty() {
                self.notice(format!(
                    "emergency INVITE requires unsupported option tags [{unsupported}]; served anyway"
                ));
            }
        }
        let call_id = req.call_id().unwrap_or("").to_owned();
        if self.dialogs.contains_key(&call_id) {
            // Same Call-ID, new branch, no To tag: a merged or forked copy (§8.2.2.2).
            self.refuse(&inb, 482, "Loop Detected", &[]);
            return;
        }
        let (se, timer_supported) = session_request(req);
        if let Some(s) = se {
            if s < MIN_SE_S && !emergency {
                let m = MIN_SE_S.to_string();
                self.refuse(&inb, 422, "Session Interval Too Small", &[("Min-SE", &m)]);
                return;
            }
        }
        match classification.action {
            ClassAction::Reject => {
                self.refuse(&inb, 404, "Not Found", &[]);
                return;
            }
            ClassAction::AnswerTest | ClassAction::Queue(_) => {}
        }

        // Transaction headroom (DESIGN §6: 999 is never busied): non-emergency INVITEs are
        // shed at 90 % of `limits.max_transactions`; the last 10 % is for emergency calls
        // and the transactions of calls already in progress.
        let max = self.config.limits.max_transactions;
        if !emergency && self.txns.len() >= max - max / EMERGENCY_RESERVE_DIVISOR {
            self.refuse(&inb, 503, "Service Unavailable", &[("Retry-After", "5")]);
            return;
        }
        // The call: an INVITE server transaction with an immediate 100 (§8.2.6.1).
        let rel = Self::reliability(inb.transport);
        let tx = ServerTransaction::Invite(InviteServer::new(now, rel, self.timers, Trying::ByTu));
        if let Err(e) = self.txns.insert_server(key.clone(), tx) {
            self.refuse(&inb, 503, "Service Unavailable", &[("Retry-After", "5")]);
            self.notice(format!("INVITE not served: {e}"));
            return;
        }
        // What this INVITE makes the engine send starts here (the 100 reaches `transmits`
        // when the transaction table is drained, at the first `settle`).
        let batch_start = self.transmits.len();
        let mut carrier_dest = None;
        if let Some(p) = self.build_response(&inb, 100, "Trying", None, &[], None) {
            carrier_dest = Some(p.0.peer);
            let _ = self.txns.send_response(now, &key, 100, p);
        }

        // Location and caller (never fatal, DESIGN §5).
        let mut loc = locate(req);
        if let Some(dropped) = inb.body_dropped {
            use crate::location::locate::LocationError;
            // No body: the reason comes first; that the empty body does not split into
            // parts says nothing more. Unresolved `cid:` references stay listed.
            loc.errors
                .retain(|e| !matches!(e, LocationError::Multipart(_)));
            loc.errors.insert(0, LocationError::BodyDropped(dropped));
        }
        if let Some(repairs) = inb.framing_repaired {
            // What was changed to serve the call comes first: with Content-Length
            // dropped, the body (and any location in it) is the rest of the datagram.
            loc.errors.insert(
                0,
                crate::location::locate::LocationError::FramingRepaired(repairs),
            );
        }
        let mut summary = loc.summary(None, UNIX_EPOCH);
        if let Some(s) = summary.as_mut() {
            s.age_s = None;
        }
        let from = req.from();
        let caller_uri = from
            .as_ref()
            .map(|f| f.uri.as_str().to_owned())
            .unwrap_or_default();
        let from_user = from.as_ref().and_then(|f| f.uri.user().map(str::to_owned));
        let caller = loc
            .callback_number
            .clone()
            .or(from_user)
            .unwrap_or_else(|| caller_uri.clone());
        let record_route: Vec<String> = req
            .values(HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect();
        let remote_target = req
            .contacts()
            .next()
            .and_then(|c| c.addr().map(|a| a.uri.as_str().to_owned()))
            .unwrap_or_else(|| caller_uri.clone());
        let reliable = req
            .values(HeaderName::Require)
            .any(|t| t.eq_ignore_ascii_case("100rel"));

        let id = self.next_call;
        self.next_call += 1;
        let class = classification.class();
        let reason = classification.reason.to_string();
        let call = Call {
            id,
            class,
            emergency,
            classification: reason.as_str().into(),
            caller: caller.as_str().into(),
            callback_number: loc.callback_number.as_deref().map(Arc::from),
            caller_uri,
            location: summary.clone().map(Arc::new),
            location_errors: loc.errors.iter().map(ToString::to_string).collect(),
            location_references: loc.references.iter().map(|g| g.uri.clone()).collect(),
            state: CallState::Queued,
            handler: None,
            handler_label: None,
            offers: 0,
            arrived: now,
            queued: None,
            offered: None,
            answered: None,
            ended: None,
            end_reason: None,
            in_router: false,
            carrier: CarrierLeg {
                inb: inb.clone(),
                key: key.clone(),
                call_id: call_id.as_str().into(),
                local_tag: self.ids.tag(),
                remote_target,
                route_set: record_route,
                local_cseq: 0,
                reliable,
                rseq: 0,
                rel_pending: None,
                rel_gen: 0,
                ringing_sent: false,
                final_sent: false,
                ok: None,
                acked: false,
                ok_gen: 0,
                ok_interval: self.timers.t1(),
                ok_giveup: now,
                session_expires_s: se.map(|s| s.max(MIN_SE_S)),
                timer_supported,
                se_gen: 0,
            },
            legs: Vec::new(),
            answered_leg: None,
            ka_gen: 0,
            reinvite_ok: None,
            reok_gen: 0,
            template: None,
        };
        self.calls.insert(id, Box::new(call));
        self.live.insert(id);
        self.dialogs.insert(call_id, (id, Side::Carrier));
        self.invites.insert(key, id);
        self.call_event(
            now,
            id,
            CallEventKind::Arrived {
                class,
                caller: caller.clone(),
                reason,
            },
        );
        let Some(class) = class else {
            // A test call (urn:service:test.sos): answered at once, never queued.
            self.answer_carrier(now, id, None);
            self.finish(now, id, EndReason::TestCall);
            return;
        };
        if let Some(c) = self.calls.get_mut(&id) {
            c.in_router = true;
        }
        let result = self.router.handle(
            now,
            Event::CallArrived(NewCall {
                call: CallId(id),
                class,
                caller,
                location: summary.as_ref().map(location_text),
                required_skills: Skills::NONE,
            }),
        );
        if let Err(e) = result {
            self.notice(format!("queue refused call {id}: {e}"));
        }
        self.settle(now);
        if let Some(carrier) = carrier_dest {
            self.handlers_first(batch_start, carrier);
        }
    }

    /// Reorders what one new INVITE made the engine send (`transmits[batch_start..]`) so
    /// that packets to other destinations — the handler's INVITE — leave before those to
    /// the carrier (its 100 and 180): the handler's phone starts ringing one or two
    /// `sendto` calls sooner (engine latency is INVITE in → handler INVITE out). Packets
    /// to one destination keep their order, so no peer sees a change: the carrier still
    /// gets 100 before 180 within microseconds (RFC 3261 §8.2.6.1 asks for the 100 within
    /// 200 ms).
    fn handlers_first(&mut self, batch_start: usize, carrier: SocketAddr) {
        if self.transmits.len() <= batch_start + 1 {
            return;
        }
        let batch: Vec<Transmit> = self.transmits.drain(batch_start..).collect();
        let (to_carrier, others): (Vec<Transmit>, Vec<Transmit>) =
            batch.into_iter().partition(|t| t.destination == carrier);
        self.transmits.extend(others);
        self.transmits.extend(to_carrier);
    }

    /// Stateless refusal of an INVITE before any call exists.
    fn refuse(&mut self, inb: &Inbound, status: u16, reason: &str, extra: &[(&str, &str)]) {
        let tag = stateless_tag(&inb.req);
        if let Some(p) = self.build_response(inb, status, reason, Some(&tag), extra, None) {
            self.transmits.push_back(Transmit {
                transport: p.0.transport,
                destination: p.0.peer,
                contents: p.0.bytes.clone(),
            });
        }
        self.events.push_back(EngineEvent::Refused {
            source: inb.source,
            status,
            reason: reason.to_owned(),
        });
    }

    // === queue core actions ===

    /// Applies every pending queue-core action; `true` if there was any.
    pub(crate) fn pump_router(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Some(action) = self.router.poll_action() {
            any = true;
            match action {
                Action::Queued { call } => {
                    let id = call.0;
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.state = CallState::Queued;
                        c.queued.get_or_insert(now);
                    }
                    self.call_event(now, id, CallEventKind::Queued);
                    self.send_ringing(now, id);
                }
                Action::Offer { call, handler } => self.offer(now, call.0, Some(handler), None),
                Action::CancelOffer {
                    call,
                    handler,
                    reason,
                } => self.cancel_offer(now, call.0, handler, reason),
                Action::Reject {
                    call,
                    status,
                    retry_after_s,
                } => {
                    let ra = retry_after_s.to_string();
                    if let Some(c) = self.calls.get_mut(&call.0) {
                        c.in_router = false;
                    }
                    self.final_to_carrier(
                        now,
                        call.0,
                        status,
                        "Service Unavailable",
                        &[("Retry-After", &ra)],
                    );
                    self.finish(now, call.0, EndReason::Rejected(status));
                }
                Action::Overflow {
                    call, target_uri, ..
                } => {
                    if let Some(c) = self.calls.get_mut(&call.0) {
                        c.in_router = false;
                    }
                    self.offer(now, call.0, None, Some(target_uri));
                }
                Action::HandlerStateChanged { handler, state } => {
                    let name = self.handler_name(handler);
                    self.rona_notice(handler, &name, &state);
                    let at_ms = self.ms(now);
                    self.events.push_back(EngineEvent::HandlerState {
                        handler: name.to_string(),
                        state: state.as_str().to_owned(),
                        at_ms,
                    });
                }
                Action::CallbackAdded(_) => {}
            }
        }
        any
    }

    /// Logs loudly when ring-no-answer parks a handler NotReady and when it comes back
    /// (DESIGN §6: the control room must never silently lose its seats).
    fn rona_notice(&mut self, handler: HandlerId, name: &str, state: &crate::queue::HandlerState) {
        use crate::queue::HandlerState;
        let parked =
            matches!(state, HandlerState::NotReady(r) if r == crate::queue::MISSED_CALLS_REASON);
        let Some(info) = self.handlers.get_mut(handler.0 as usize) else {
            return;
        };
        let was_parked = std::mem::replace(&mut info.rona_parked, parked);
        if parked && !was_parked {
            let cfg = self.router.config();
            let back = match cfg.rona_not_ready_s {
                0 => "stays not-ready until set available (queue.rona_not_ready_s = 0)".to_owned(),
                s => format!("returns to available automatically in {s} s"),
            };
            let text = format!(
                "WARNING handler {name} set NOT READY after {} missed calls (ring-no-answer); {back}",
                cfg.max_consecutive_misses
            );
            self.notice(text);
        } else if was_parked && *state == HandlerState::Available {
            self.notice(format!(
                "handler {name} back to available after a ring-no-answer not-ready"
            ));
        }
    }

    /// 180 Ringing to the carrier (reliable when it requires 100rel), and the keepalive
    /// timer that repeats it while the call waits (RFC 3261 §13.3.1.1).
    fn send_ringing(&mut self, now: Instant, id: u64) {
        let keepalive = Duration::from_secs(u64::from(self.config.sip.queued_keepalive_s.max(1)));
        let refused_at_shutdown = self.shutdown_first_new.is_some_and(|first| id >= first);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.carrier.final_sent || (refused_at_shutdown && !c.emergency) {
            // A non-emergency call that arrived during a shutdown is about to get its 503
            // (shutdown.rs): no ringback first.
            return;
        }
        c.ka_gen = c.ka_gen.wrapping_add(1);
        let gen = c.ka_gen;
        let reliable = c.carrier.reliable;
        if reliable && c.carrier.rel_pending.is_some() {
            // RFC 3262 §3: one unacknowledged reliable provisional at a time; its
            // retransmissions keep the transaction alive meanwhile.
            self.arm(now + keepalive, TimerKind::Keepalive(id, gen));
            return;
        }
        let mut extra: Vec<(String, String)> = vec![("Contact".into(), String::new())];
        let rseq = if reliable {
            c.carrier.rseq = c.carrier.rseq.wrapping_add(1).max(1);
            Some(c.carrier.rseq)
        } else {
            None
        };
        c.carrier.ringing_sent = true;
        let inb = c.carrier.inb.clone();
        let key = c.carrier.key.clone();
        let tag = c.carrier.local_tag.clone();
        extra[0].1 = self.contact_uri(inb.transport);
        if let Some(r) = rseq {
            extra.push(("Require".into(), "100rel".into()));
            extra.push(("RSeq".into(), r.to_string()));
        }
        let extra_ref: Vec<(&str, &str)> = extra
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let Some(p) = self.build_response(&inb, 180, "Ringing", Some(&tag), &extra_ref, None)
        else {
            return;
        };
        if self.txns.send_response(now, &key, 180, p.clone()).is_err() {
            return;
        }
        if let Some(r) = rseq {
            let t1 = self.timers.t1();
            let giveup = now + self.timers.t1_x64();
            if let Some(c) = self.calls.get_mut(&id) {
                c.carrier.rel_gen = c.carrier.rel_gen.wrapping_add(1);
                let rg = c.carrier.rel_gen;
                c.carrier.rel_pending = Some((p, r, t1, giveup));
                if inb.transport == Transport::Udp {
                    self.arm(now + t1, TimerKind::Rel1xx(id, rg));
                }
            }
        }
        self.arm(now + keepalive, TimerKind::Keepalive(id, gen));
    }

    pub(crate) fn on_keepalive(&mut self, now: Instant, id: u64, gen: u32) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if c.ka_gen != gen || !c.is_live_unanswered() {
            return;
        }
        self.send_ringing(now, id);
    }

    pub(crate) fn on_rel_timer(&mut self, now: Instant, id: u64, gen: u32) {
        let t2 = self.timers.t2();
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.carrier.rel_gen != gen || c.carrier.final_sent {
            return;
        }
        let Some((p, r, interval, giveup)) = c.carrier.rel_pending.clone() else {
            return;
        };
        if now >= giveup {
            // RFC 3262 §3: no PRACK in 64·T1 — we stop retransmitting; an emergency call is
            // never dropped for it, the next keepalive tries again.
            c.carrier.rel_pending = None;
            return;
        }
        let next = (interval * 2).min(t2);
        c.carrier.rel_pending = Some((p.clone(), r, next, giveup));
        self.transmits.push_back(Transmit {
            transport: p.0.transport,
            destination: p.0.peer,
            contents: p.0.bytes.clone(),
        });
        self.arm(now + interval * 2, TimerKind::Rel1xx(id, gen));
        let _ = next;
    }

    /// Sends the call's INVITE to a handler (`handler`) or to an overflow partner
    /// (`target`). Failure to build or route it counts as a refusal (503).
    fn offer(&mut self, now: Instant, id: u64, handler: Option<HandlerId>, target: Option<String>) {
        let (uri, dest, label, sdp_only) = match (handler, &target) {
            (Some(h), _) => {
                let info = self.handlers.get(h.0 as usize);
                (
                    info.and_then(|i| i.contact.clone()),
                    info.and_then(|i| i.dest),
                    self.handler_name(h),
                    info.is_some_and(|i| i.sdp_only),
                )
            }
            (None, Some(t)) => (
                Some(Arc::from(t.as_str())),
                uri_destination(t),
                Arc::from(t.as_str()),
                false,
            ),
            (None, None) => return,
        };
        let built = match (uri, dest) {
            (Some(uri), Some((transport, dest))) => {
                self.build_offer(now, id, &uri, transport, dest, sdp_only)
            }
            _ => None,
        };
        let Some((pkt, key, leg)) = built else {
            self.notice(format!("call {id}: cannot send INVITE to {label}"));
            match handler {
                Some(h) => {
                    let _ = self.router.handle(
                        now,
                        Event::OfferRejected {
                            call: CallId(id),
                            handler: h,
                            status: 503,
                        },
                    );
                }
                None => self.overflow_failed(now, id, 503),
            }
            return;
        };
        let rel = Self::reliability(leg.transport);
        let tx = ClientTransaction::Invite(InviteClient::new(now, pkt.clone(), rel, self.timers));
        if self.txns.insert_client(key.clone(), tx).is_err() {
            if let Some(h) = handler {
                let _ = self.router.handle(
                    now,
                    Event::OfferRejected {
                        call: CallId(id),
                        handler: h,
                        status: 503,
                    },
                );
            }
            return;
        }
        let leg_call_id = leg.call_id.clone();
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let idx = c.legs.len();
        let mut leg = leg;
        leg.handler = handler;
        leg.label = label.clone();
        c.legs.push(leg);
        c.state = CallState::Offered;
        c.handler = handler;
        c.handler_label = Some(label.clone());
        c.offers += 1;
        c.offered = Some(now);
        let ringing_sent = c.carrier.ringing_sent;
        self.dialogs.insert(leg_call_id, (id, Side::Handler(idx)));
        self.purposes.insert(
            key,
            Purpose::Offer {
                call: id,
                leg: idx,
                invite: pkt,
            },
        );
        self.call_event(
            now,
            id,
            CallEventKind::Offered {
                handler: label.to_string(),
            },
        );
        if !ringing_sent {
            self.send_ringing(now, id);
        }
    }

    /// Builds the handler INVITE: own Call-ID, From/P-Asserted-Identity with the callback
    /// number, Priority for emergency calls, our call id, Resource-Priority as received,
    /// location headers and parts, the caller's SDP. With `sdp_only` (the handler's
    /// `offer_body = "sdp-only"`) the body is the caller's SDP alone; the location
    /// headers are still sent.
    fn build_offer(
        &mut self,
        _now: Instant,
        id: u64,
        uri: &str,
        transport: Transport,
        dest: SocketAddr,
        sdp_only: bool,
    ) -> Option<(Pkt, ClientKey, HandlerLeg)> {
        let fallback = self.calls.get(&id)?.carrier.inb.source;
        let local = self.local_addr(transport, fallback);
        if self.calls.get(&id)?.template.is_none() {
            let t = self.offer_template(id)?;
            self.calls.get_mut(&id)?.template = Some(t);
        }
        let branch = self.ids.branch();
        let tag = self.ids.tag();
        let call_id = format!(
            "{:016x}{:08x}@{}",
            self.ids.next(),
            self.ids.next() as u32,
            local.ip()
        );
        let contact = self.contact_uri(transport);
        let c = self.calls.get(&id)?;
        let from_hdr = format!("{};tag={tag}", caller_name_addr(c));
        let to_hdr = format!("<{uri}>");
        // Written directly (the hot path: one parse per call, RFC 3261 §8.1.1 headers).
        // Every value is from the parsed carrier INVITE, the validated config or the
        // engine, so none holds CR/LF; `clean` enforces it anyway.
        let (headers, full_body) = c.template.as_ref()?;
        let sdp_body: Option<(String, Vec<u8>)>;
        let body = if sdp_only {
            let req = &c.carrier.inb.req;
            sdp_body = extract_sdp(req.get(HeaderName::ContentType), req.body())
                .map(|s| ("application/sdp".to_owned(), s.to_vec()));
            &sdp_body
        } else {
            full_body
        };
        let mut out = Vec::with_capacity(768 + body.as_ref().map_or(0, |(_, b)| b.len()));
        let mut put = |n: &str, v: &str| {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend(
                v.bytes()
                    .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
            out.extend_from_slice(b"\r\n");
        };
        put(
            "Via",
            &format!(
                "SIP/2.0/{} {};branch={branch};rport",
                via_transport(transport),
                hostport(local)
            ),
        );
        put("Max-Forwards", "70");
        put("From", &from_hdr);
        put("To", &to_hdr);
        put("Call-ID", &call_id);
        put("CSeq", "1 INVITE");
        put("Contact", &contact);
        for (n, v) in headers {
            put(n, v);
        }
        if let Some((ct, _)) = body {
            put("Content-Type", ct);
        }
        put(
            "Content-Length",
            &body.as_ref().map_or(0, |(_, b)| b.len()).to_string(),
        );
        let mut bytes = Vec::with_capacity(out.len() + 64);
        bytes.extend_from_slice(b"INVITE ");
        bytes.extend(uri.bytes().filter(|b| !b.is_ascii_whitespace()));
        bytes.extend_from_slice(b" SIP/2.0\r\n");
        bytes.extend_from_slice(&out);
        bytes.extend_from_slice(b"\r\n");
        if let Some((_, b)) = body {
            bytes.extend_from_slice(b);
        }
        let pkt = Pkt::raw(transport, dest, bytes);
        let key = ClientKey::new(&branch, "INVITE").ok()?;
        let leg = HandlerLeg {
            handler: None,
            label: Arc::from(""),
            call_id,
            from_hdr,
            to_hdr,
            remote_tag: None,
            transport,
            dest,
            invite: pkt.clone(),
            target: uri.to_owned(),
            local_cseq: 1,
            remote_target: None,
            route_set: Vec::new(),
            state: LegState::Calling,
            ack: None,
        };
        Some((pkt, key, leg))
    }

    /// Headers and body every handler INVITE of this call carries.
    #[allow(clippy::type_complexity)]
    fn offer_template(
        &self,
        id: u64,
    ) -> Option<(Vec<(String, String)>, Option<(String, Vec<u8>)>)> {
        let c = self.calls.get(&id)?;
        let req = &c.carrier.inb.req;
        let mut h: Vec<(String, String)> = Vec::new();
        h.push(("P-Asserted-Identity".into(), pai_value(c)));
        if c.emergency {
            h.push(("Priority".into(), "emergency".into()));
        }
        h.push((CALL_ID_HEADER.into(), c.id.to_string()));
        for v in req.get_all(HeaderName::ResourcePriority) {
            h.push(("Resource-Priority".into(), v.to_owned()));
        }
        h.push(("Allow".into(), ALLOW.into()));
        h.push(("Supported".into(), "timer".into()));
        let pass = pass_on(req);
        for (n, v) in &pass.headers {
            h.push(((*n).to_owned(), (*v).to_owned()));
        }
        let sdp = extract_sdp(req.get(HeaderName::ContentType), req.body());
        let body = match sdp {
            Some(s) => {
                let boundary = format!(
                    "ap-boundary-{:016x}",
                    c.id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                );
                let (ct, b) = pass.body_with_sdp(s, &boundary);
                Some((ct, b))
            }
            None if !pass.parts.is_empty() => {
                let boundary = format!(
                    "ap-boundary-{:016x}",
                    c.id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                );
                let (ct, b) = pass.body_with_sdp(b"", &boundary);
                Some((ct, b))
            }
            None => None,
        };
        Some((h, body))
    }

    /// Withdraws an offer: CANCEL on the handler leg (RFC 3261 §9.1).
    fn cancel_offer(&mut self, now: Instant, id: u64, handler: HandlerId, reason: CancelReason) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(idx) = c.legs.iter().rposition(|l| {
            l.handler == Some(handler) && matches!(l.state, LegState::Calling | LegState::Early)
        }) else {
            return;
        };
        let leg = &mut c.legs[idx];
        leg.state = LegState::Cancelled;
        let invite = leg.invite.clone();
        if reason != CancelReason::CallerAbandoned && c.is_live_unanswered() {
            c.state = CallState::Queued;
            c.handler = None;
            c.handler_label = None;
        }
        self.send_cancel(now, &invite);
    }

    /// CANCELs (RFC 3261 §9.1) every leg of call `id` still ringing at the overflow
    /// partner (a leg with no handler): the queue core does not know those legs, so the
    /// engine withdraws them itself when the carrier leg ends unanswered.
    pub(crate) fn cancel_overflow_legs(&mut self, now: Instant, id: u64) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        let ringing: Vec<Pkt> = c
            .legs
            .iter()
            .filter(|l| {
                l.handler.is_none() && matches!(l.state, LegState::Calling | LegState::Early)
            })
            .map(|l| l.invite.clone())
            .collect();
        for inv in ringing {
            self.send_cancel(now, &inv);
        }
    }

    fn send_cancel(&mut self, now: Instant, invite: &Pkt) {
        let Some(m) = invite.parsed() else {
            return;
        };
        let Some(cancel) = MessageBuilder::cancel_for(&m)
            .ok()
            .and_then(|b| b.build().ok())
        else {
            return;
        };
        let Some(key) = cancel
            .top_via()
            .and_then(|v| v.branch().map(str::to_owned))
            .and_then(|b| ClientKey::new(&b, "CANCEL").ok())
        else {
            return;
        };
        let pkt = Pkt::out(invite.0.transport, invite.0.peer, cancel);
        let rel = Self::reliability(invite.0.transport);
        let tx = ClientTransaction::NonInvite(NonInviteClient::new(now, pkt, rel, self.timers));
        if self.txns.insert_client(key.clone(), tx).is_ok() {
            self.purposes.insert(key, Purpose::Fire);
        }
    }

    // === responses from handler legs ===

    pub(crate) fn on_client_response(
        &mut self,
        now: Instant,
        key: &ClientKey,
        status: u16,
        resp: Option<Pkt>,
    ) {
        let Some(purpose) = self.purposes.get(key).cloned() else {
            return;
        };
        match purpose {
            Purpose::Fire => {}
            Purpose::Offer { call, leg, .. } => {
                self.on_offer_response(now, call, leg, status, resp)
            }
            Purpose::Relay {
                call,
                to,
                back,
                origin,
            } => {
                if status < 200 {
                    return;
                }
                self.relay_back(now, call, to, &back, &origin, status, resp.as_ref());
            }
        }
    }

    fn on_offer_response(
        &mut self,
        now: Instant,
        id: u64,
        idx: usize,
        status: u16,
        resp: Option<Pkt>,
    ) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(leg) = c.legs.get_mut(idx) else {
            return;
        };
        let to_tag = resp.as_ref().and_then(|r| {
            r.msg()
                .and_then(|m| m.to())
                .and_then(|t| t.tag().map(str::to_owned))
        });
        if status < 200 {
            if leg.state == LegState::Calling {
                leg.state = LegState::Early;
            }
            if leg.remote_tag.is_none() {
                leg.remote_tag = to_tag;
            }
            return;
        }
        if status < 300 {
            let Some(resp) = resp else {
                return;
            };
            if leg.state == LegState::Answered {
                // A 2xx retransmission: ACK again (RFC 3261 §13.2.2.4).
                if let Some(a) = leg.ack.clone() {
                    self.push_pkt(&a);
                }
                return;
            }
            let Some(r) = resp.msg() else {
                return;
            };
            leg.remote_tag = to_tag;
            leg.remote_target = r
                .contacts()
                .next()
                .and_then(|c| c.addr().map(|a| a.uri.as_str().to_owned()));
            let mut rr: Vec<String> = r
                .values(HeaderName::RecordRoute)
                .map(str::to_owned)
                .collect();
            rr.reverse();
            leg.route_set = rr;
            let was_cancelled = leg.state == LegState::Cancelled;
            leg.state = LegState::Answered;
            let handler = leg.handler;
            let label = leg.label.clone();
            let ack = self.build_dialog_request(id, Side::Handler(idx), Method::Ack, 1, &[], None);
            if let Some((a, _)) = &ack {
                self.push_pkt(a);
                if let Some(l) = self.calls.get_mut(&id).and_then(|c| c.legs.get_mut(idx)) {
                    l.ack = Some(a.clone());
                }
            }
            let live = self.calls.get(&id).is_some_and(|c| c.is_live_unanswered());
            let accepted = if was_cancelled || !live {
                false
            } else if let Some(h) = handler {
                match self.router.handle(
                    now,
                    Event::OfferAccepted {
                        call: CallId(id),
                        handler: h,
                    },
                ) {
                    Ok(()) => true,
                    Err(RouterError::StaleOffer { .. }) | Err(_) => false,
                }
            } else {
                true
            };
            if !accepted {
                // Answered too late (cancelled, abandoned, or offered elsewhere): hang up.
                self.send_bye(now, id, Side::Handler(idx));
                if let Some(l) = self.calls.get_mut(&id).and_then(|c| c.legs.get_mut(idx)) {
                    l.state = LegState::Ended;
                }
                return;
            }
            if let Some(c) = self.calls.get_mut(&id) {
                c.state = CallState::Connected;
                c.answered = Some(now);
                c.answered_leg = Some(idx);
                c.handler = handler;
                c.handler_label = Some(label.clone());
            }
            let body = r
                .get(HeaderName::ContentType)
                .map(|ct| (ct.to_owned(), r.body().to_vec()));
            self.answer_carrier(now, id, body);
            self.call_event(
                now,
                id,
                CallEventKind::Answered {
                    handler: label.to_string(),
                },
            );
            return;
        }
        // Final failure (3xx–6xx, or 408 timeout / 503 transport error).
        let was_cancelled = leg.state == LegState::Cancelled;
        leg.state = LegState::Ended;
        let handler = leg.handler;
        if was_cancelled {
            return;
        }
        match handler {
            Some(h) => {
                if c.is_live_unanswered() {
                    c.state = CallState::Queued;
                    c.handler = None;
                    c.handler_label = None;
                }
                let _ = self.router.handle(
                    now,
                    Event::OfferRejected {
                        call: CallId(id),
                        handler: h,
                        status,
                    },
                );
            }
            None => self.overflow_failed(now, id, status),
        }
    }

    /// The overflow partner refused or failed (`status`): the call goes back to the queue
    /// at its original arrival time and class, never to overflow again (DESIGN §6: a 999
    /// is never dropped; local handlers will take it).
    fn overflow_failed(&mut self, now: Instant, id: u64, status: u16) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if !c.is_live_unanswered() || c.in_router {
            return;
        }
        let Some(class) = c.class else {
            return;
        };
        c.state = CallState::Queued;
        c.handler = None;
        c.handler_label = None;
        c.in_router = true;
        let call = NewCall {
            call: CallId(id),
            class,
            caller: c.caller.to_string(),
            location: c.location.as_deref().map(location_text),
            required_skills: Skills::NONE,
        };
        let arrived = c.arrived;
        self.notice(format!(
            "WARNING call {id}: overflow partner failed ({status}); call re-queued at its original place"
        ));
        if let Err(e) = self
            .router
            .handle(now, Event::CallReturned { call, arrived })
        {
            self.notice(format!("queue refused returned call {id}: {e}"));
        }
    }

    /// A 2xx whose INVITE transaction is gone: re-ACK if it belongs to one of our legs.
    pub(crate) fn on_stray_2xx(&mut self, _now: Instant, resp: &Message) {
        let Some(&(id, Side::Handler(idx))) = resp.call_id().and_then(|c| self.dialogs.get(c))
        else {
            return;
        };
        if let Some(a) = self
            .calls
            .get(&id)
            .and_then(|c| c.legs.get(idx))
            .and_then(|l| l.ack.clone())
        {
            self.push_pkt(&a);
        }
    }

    pub(crate) fn push_pkt(&mut self, p: &Pkt) {
        self.transmits.push_back(Transmit {
            transport: p.0.transport,
            destination: p.0.peer,
            contents: p.0.bytes.clone(),
        });
    }

    // === answering the carrier ===

    /// 200 OK to the carrier INVITE with `body` (the handler's SDP), retransmitted until
    /// the ACK (RFC 3261 §13.3.1.4), with Session-Expires when negotiated (RFC 4028 §9).
    pub(crate) fn answer_carrier(
        &mut self,
        now: Instant,
        id: u64,
        body: Option<(String, Vec<u8>)>,
    ) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if c.carrier.final_sent {
            return;
        }
        let inb = c.carrier.inb.clone();
        let key = c.carrier.key.clone();
        let tag = c.carrier.local_tag.clone();
        let mut extra: Vec<(String, String)> = vec![
            ("Contact".into(), self.contact_uri(inb.transport)),
            ("Allow".into(), ALLOW.into()),
            ("Supported".into(), SUPPORTED.into()),
        ];
        if let Some(se) = c.carrier.session_expires_s {
            extra.push(("Session-Expires".into(), format!("{se};refresher=uac")));
            if c.carrier.timer_supported {
                extra.push(("Require".into(), "timer".into()));
            }
        }
        let se = c.carrier.session_expires_s;
        let extra_ref: Vec<(&str, &str)> = extra
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let body_ref = body.as_ref().map(|(ct, b)| (ct.as_str(), b.as_slice()));
        let Some(p) = self.build_response(&inb, 200, "OK", Some(&tag), &extra_ref, body_ref) else {
            return;
        };
        let _ = self.txns.send_response(now, &key, 200, p.clone());
        let t1 = self.timers.t1();
        let giveup = now + self.timers.t1_x64();
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        c.carrier.final_sent = true;
        c.carrier.ok = Some(p);
        c.carrier.ok_interval = t1;
        c.carrier.ok_giveup = giveup;
        c.carrier.ok_gen = c.carrier.ok_gen.wrapping_add(1);
        let gen = c.carrier.ok_gen;
        c.carrier.rel_pending = None;
        let first = if inb.transport == Transport::Udp {
            now + t1
        } else {
            giveup
        };
        self.arm(first, TimerKind::Ok2xx(id, gen));
        if let Some(se) = se {
            self.arm_session(now, id, se);
        }
    }

    fn arm_session(&mut self, now: Instant, id: u64, se: u32) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        c.carrier.se_gen = c.carrier.se_gen.wrapping_add(1);
        let gen = c.carrier.se_gen;
        // RFC 4028 §10: the non-refresher acts at SE − min(32, SE/3).
        let se = u64::from(se);
        let at = now + Duration::from_secs(se - (se / 3).min(32));
        self.arm(at, TimerKind::Session(id, gen));
    }

    pub(crate) fn on_ok_timer(&mut self, now: Instant, id: u64, gen: u32) {
        let t2 = self.timers.t2();
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.carrier.ok_gen != gen || c.carrier.acked {
            return;
        }
        if now >= c.carrier.ok_giveup {
            // §13.3.1.4: no ACK in 64·T1 — confirm and immediately terminate the dialog.
            c.carrier.acked = true;
            self.send_bye(now, id, Side::Carrier);
            self.hangup_handler_leg(now, id);
            self.end_connected(now, id, EndReason::NoAck);
            return;
        }
        let Some(p) = c.carrier.ok.clone() else {
            return;
        };
        let interval = c.carrier.ok_interval;
        c.carrier.ok_interval = (interval * 2).min(t2);
        let next = (now + c.carrier.ok_interval).min(c.carrier.ok_giveup);
        self.push_pkt(&p);
        self.arm(next, TimerKind::Ok2xx(id, gen));
    }

    pub(crate) fn on_session_timer(&mut self, now: Instant, id: u64, gen: u32) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if c.carrier.se_gen != gen || c.state != CallState::Connected {
            return;
        }
        self.send_bye(now, id, Side::Carrier);
        self.hangup_handler_leg(now, id);
        self.end_connected(now, id, EndReason::SessionExpired);
    }

    /// A final non-2xx response on the carrier INVITE.
    pub(crate) fn final_to_carrier(
        &mut self,
        now: Instant,
        id: u64,
        status: u16,
        reason: &str,
        extra: &[(&str, &str)],
    ) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.carrier.final_sent {
            return;
        }
        c.carrier.final_sent = true;
        c.carrier.rel_pending = None;
        let inb = c.carrier.inb.clone();
        let key = c.carrier.key.clone();
        let tag = c.carrier.local_tag.clone();
        if let Some(p) = self.build_response(&inb, status, reason, Some(&tag), extra, None) {
            let _ = self.txns.send_response(now, &key, status, p);
        }
    }

    /// Marks the call finished, puts its view on the recent list and schedules the removal
    /// of its record.
    pub(crate) fn finish(&mut self, now: Instant, id: u64, reason: EndReason) {
        let linger = self.linger();
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.ended.is_some() {
            return;
        }
        c.ended = Some(now);
        c.state = if reason == EndReason::Abandoned {
            CallState::Abandoned
        } else {
            CallState::Ended
        };
        c.end_reason = Some(reason.clone());
        c.ka_gen = c.ka_gen.wrapping_add(1);
        self.call_event(now, id, CallEventKind::Ended { reason });
        self.live.remove(&id);
        self.live_views.remove(&id);
        if let Some(c) = self.calls.get(&id) {
            self.recent.push_back(std::sync::Arc::new(c.view(self)));
            while self.recent.len() > MAX_RECENT_CALLS {
                self.recent.pop_front();
            }
        }
        self.arm(now + linger, TimerKind::Purge(id));
    }

    /// Ends a connected call: queue core told (wrap-up), record finished.
    fn end_connected(&mut self, now: Instant, id: u64, reason: EndReason) {
        let in_router = self
            .calls
            .get(&id)
            .is_some_and(|c| c.in_router && c.ended.is_none());
        if in_router {
            let _ = self
                .router
                .handle(now, Event::CallEnded { call: CallId(id) });
        }
        self.finish(now, id, reason);
    }

    fn hangup_handler_leg(&mut self, now: Instant, id: u64) {
        let Some(idx) = self.calls.get(&id).and_then(|c| c.answered_leg) else {
            return;
        };
        self.send_bye(now, id, Side::Handler(idx));
        if let Some(l) = self.calls.get_mut(&id).and_then(|c| c.legs.get_mut(idx)) {
            l.state = LegState::Ended;
        }
    }

    // === in-dialog requests ===

    /// Builds an in-dialog request on `side` (RFC 3261 §12.2.1.1). For ACK `cseq` is the
    /// INVITE's; otherwise the leg's next local CSeq is used.
    pub(crate) fn build_dialog_request(
        &mut self,
        id: u64,
        side: Side,
        method: Method,
        cseq: u32,
        extra: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Option<(Pkt, String)> {
        let branch = self.ids.branch();
        let c = self.calls.get_mut(&id)?;
        let (uri, routes, from, to, call_id, transport, fallback, seq) = match side {
            Side::Carrier => {
                let leg = &mut c.carrier;
                let seq = if method == Method::Ack {
                    cseq
                } else {
                    leg.local_cseq += 1;
                    leg.local_cseq
                };
                let req = &leg.inb.req;
                let from = format!(
                    "{};tag={}",
                    req.get(HeaderName::To).unwrap_or("").trim(),
                    leg.local_tag
                );
                let to = req.get(HeaderName::From).unwrap_or("").to_owned();
                (
                    leg.remote_target.clone(),
                    leg.route_set.clone(),
                    from,
                    to,
                    leg.call_id.to_string(),
                    leg.inb.transport,
                    leg.inb.source,
                    seq,
                )
            }
            Side::Handler(i) => {
                let leg = c.legs.get_mut(i)?;
                let seq = if method == Method::Ack {
                    cseq
                } else {
                    leg.local_cseq += 1;
                    leg.local_cseq
                };
                let to = match &leg.remote_tag {
                    Some(t) => format!("{};tag={t}", leg.to_hdr),
                    None => leg.to_hdr.clone(),
                };
                (
                    leg.remote_target
                        .clone()
                        .unwrap_or_else(|| leg.target.clone()),
                    leg.route_set.clone(),
                    leg.from_hdr.clone(),
                    to,
                    leg.call_id.clone(),
                    leg.transport,
                    leg.dest,
                    seq,
                )
            }
        };
        // Next hop: the first loose route, else the remote target, when it is an IP
        // literal; otherwise where the peer's messages come from (no DNS in the core).
        let hop = routes
            .first()
            .map(|r| uri_of(r).to_owned())
            .unwrap_or_else(|| uri.clone());
        let dest = match uri_destination(&hop) {
            Some((_, a)) => a,
            None => fallback,
        };
        let local = self.local_addr(transport, fallback);
        // Written directly as bytes (hot path: ACK and BYE of every call; no parse of our
        // own output). Values come from parsed messages, the config or the engine; CR/LF
        // are replaced anyway so no value can break the header block (RFC 3261 §7.3).
        let contact =
            matches!(method, Method::Invite | Method::Update).then(|| self.contact_uri(transport));
        let body_len = body.map_or(0, |(_, b)| b.len());
        let mut out = Vec::with_capacity(512 + body_len);
        let m = method.as_str();
        out.extend_from_slice(m.as_bytes());
        out.push(b' ');
        out.extend(uri.bytes().filter(|b| !b.is_ascii_whitespace()));
        out.extend_from_slice(b" SIP/2.0\r\n");
        let mut put = |n: &str, parts: &[&str]| {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            for v in parts {
                out.extend(
                    v.bytes()
                        .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
                );
            }
            out.extend_from_slice(b"\r\n");
        };
        let hp = hostport(local);
        put(
            "Via",
            &[
                "SIP/2.0/",
                via_transport(transport),
                " ",
                &hp,
                ";branch=",
                &branch,
                ";rport",
            ],
        );
        for r in &routes {
            put("Route", &[r]);
        }
        put("Max-Forwards", &["70"]);
        put("From", &[&from]);
        put("To", &[&to]);
        put("Call-ID", &[&call_id]);
        let seq_text = seq.to_string();
        put("CSeq", &[&seq_text, " ", m]);
        if let Some(c) = &contact {
            put("Contact", &[c]);
        }
        for (n, v) in extra {
            put(n, &[v]);
        }
        if let Some((ct, _)) = body {
            put("Content-Type", &[ct]);
        }
        let len_text = body_len.to_string();
        put("Content-Length", &[&len_text]);
        out.extend_from_slice(b"\r\n");
        if let Some((_, b)) = body {
            out.extend_from_slice(b);
        }
        Some((Pkt::raw(transport, dest, out), branch))
    }

    /// BYE on a leg, as a non-INVITE client transaction.
    pub(crate) fn send_bye(&mut self, now: Instant, id: u64, side: Side) {
        let Some((pkt, branch)) = self.build_dialog_request(id, side, Method::Bye, 0, &[], None)
        else {
            return;
        };
        let Ok(key) = ClientKey::new(&branch, "BYE") else {
            return;
        };
        let rel = Self::reliability(pkt.0.transport);
        let tx = ClientTransaction::NonInvite(NonInviteClient::new(now, pkt, rel, self.timers));
        if self.txns.insert_client(key.clone(), tx).is_ok() {
            self.purposes.insert(key, Purpose::Fire);
        }
    }

    /// ACK outside a transaction: the carrier's ACK for our 2xx (§13.3.1.4), or the ACK
    /// for a relayed re-INVITE (we ACKed the far side ourselves).
    pub(crate) fn on_dialog_ack(&mut self, _now: Instant, req: &Message) {
        let Some(&(id, side)) = req.call_id().and_then(|c| self.dialogs.get(c)) else {
            return;
        };
        let seq = req.cseq().map(|c| c.seq);
        if let Some(c) = self.calls.get_mut(&id) {
            if side == Side::Carrier {
                c.carrier.acked = true;
            }
            if c.reinvite_ok
                .as_ref()
                .is_some_and(|o| o.side == side && Some(o.seq) == seq)
            {
                c.reinvite_ok = None;
            }
        }
    }

    /// CANCEL (RFC 3261 §9.2): 200 to the CANCEL; 487 to the INVITE if it is still
    /// unanswered; the call is abandoned and goes to the callback list.
    pub(crate) fn on_cancel(&mut self, now: Instant, inb: Inbound, key: ServerKey) {
        let target = key.cancel_target();
        let Some(&id) = self.invites.get(&target) else {
            self.answer_new(now, &inb, key, 481, "Call/Transaction Does Not Exist", &[]);
            return;
        };
        let tag = self.calls.get(&id).map(|c| c.carrier.local_tag.clone());
        let Some(p) = self.build_response(&inb, 200, "OK", tag.as_deref(), &[], None) else {
            return;
        };
        let rel = Self::reliability(inb.transport);
        let tx = ServerTransaction::NonInvite(NonInviteServer::new(now, rel, self.timers));
        if self.txns.insert_server(key.clone(), tx).is_ok() {
            let _ = self.txns.send_response(now, &key, 200, p);
        } else {
            self.push_pkt(&p);
        }
        self.abandon(now, id);
    }

    /// The caller gave up before an answer.
    fn abandon(&mut self, now: Instant, id: u64) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if !c.is_live_unanswered() {
            return;
        }
        let in_router = c.in_router;
        self.final_to_carrier(now, id, 487, "Request Terminated", &[]);
        if in_router {
            // The queue core withdraws a ringing offer (CancelOffer → CANCEL) and adds
            // the call to the callback list.
            let _ = self
                .router
                .handle(now, Event::CallAbandoned { call: CallId(id) });
            self.settle(now);
        }
        self.cancel_overflow_legs(now, id);
        if let Some(c) = self.calls.get_mut(&id) {
            c.in_router = false;
        }
        self.call_event(now, id, CallEventKind::Abandoned);
        self.finish(now, id, EndReason::Abandoned);
    }

    /// A request inside a dialog (To tag present, RFC 3261 §12.2.2).
    pub(crate) fn on_in_dialog(&mut self, now: Instant, inb: Inbound, key: ServerKey) {
        let method = inb
            .req
            .method()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        let Some(&(id, side)) = inb.req.call_id().and_then(|c| self.dialogs.get(c)) else {
            self.answer_new(now, &inb, key, 481, "Call/Transaction Does Not Exist", &[]);
            return;
        };
        match method.as_str() {
            "BYE" => {
                self.answer_new(now, &inb, key, 200, "OK", &[]);
                self.on_bye(now, id, side);
            }
            "PRACK" => {
                // RFC 3262 §3: RAck = RSeq CSeq method of the reliable provisional.
                let rack_rseq = inb
                    .req
                    .get(HeaderName::RAck)
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|n| n.parse::<u32>().ok());
                let matched = match self.calls.get_mut(&id) {
                    Some(c) if side == Side::Carrier => {
                        let pending = c.carrier.rel_pending.as_ref().map(|p| p.1);
                        if pending.is_some() && pending == rack_rseq {
                            c.carrier.rel_pending = None;
                            true
                        } else {
                            false
                        }
                    }
                    _ => false,
                };
                if matched {
                    self.answer_new(now, &inb, key, 200, "OK", &[]);
                } else {
                    self.answer_new(now, &inb, key, 481, "Call/Transaction Does Not Exist", &[]);
                }
            }
            "OPTIONS" => {
                self.answer_new(now, &inb, key, 200, "OK", &[("Allow", ALLOW)]);
            }
            "INVITE" | "UPDATE" | "INFO" => self.relay(now, id, side, inb, key),
            _ => {
                self.answer_new(
                    now,
                    &inb,
                    key,
                    405,
                    "Method Not Allowed",
                    &[("Allow", ALLOW)],
                );
            }
        }
    }

    fn on_bye(&mut self, now: Instant, id: u64, side: Side) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if c.ended.is_some() {
            return;
        }
        match side {
            Side::Carrier => {
                if c.state == CallState::Connected {
                    self.hangup_handler_leg(now, id);
                    self.end_connected(now, id, EndReason::CallerHangup);
                } else {
                    self.abandon(now, id);
                }
            }
            Side::Handler(idx) => {
                if c.answered_leg == Some(idx) && c.state == CallState::Connected {
                    if let Some(l) = self.calls.get_mut(&id).and_then(|c| c.legs.get_mut(idx)) {
                        l.state = LegState::Ended;
                    }
                    self.send_bye(now, id, Side::Carrier);
                    self.end_connected(now, id, EndReason::HandlerHangup);
                }
            }
        }
    }

    /// Relays re-INVITE / UPDATE / INFO to the other leg; a session refresh from the
    /// carrier re-arms the session timer; a refresh UPDATE without a body is answered here.
    fn relay(&mut self, now: Instant, id: u64, side: Side, inb: Inbound, key: ServerKey) {
        let is_invite = inb.req.method() == Some(Method::Invite);
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        let other = match side {
            Side::Carrier => c.answered_leg.map(Side::Handler),
            Side::Handler(i) if c.answered_leg == Some(i) => Some(Side::Carrier),
            Side::Handler(_) => None,
        };
        let refresh = side == Side::Carrier
            && c.state == CallState::Connected
            && c.carrier.session_expires_s.is_some();
        if refresh {
            let (se, _) = session_request(&inb.req);
            let se = se
                .or(c.carrier.session_expires_s)
                .unwrap_or(MIN_SE_S)
                .max(MIN_SE_S);
            if let Some(c) = self.calls.get_mut(&id) {
                c.carrier.session_expires_s = Some(se);
            }
            self.arm_session(now, id, se);
        }
        let no_body = inb.req.body().is_empty();
        if side == Side::Carrier
            && !is_invite
            && no_body
            && inb.req.method() == Some(Method::Update)
        {
            let se = self
                .calls
                .get(&id)
                .and_then(|c| c.carrier.session_expires_s)
                .map(|s| format!("{s};refresher=uac"));
            let contact = self.contact_uri(inb.transport);
            let mut extra = vec![("Contact", contact.as_str())];
            if let Some(se) = se.as_deref() {
                extra.push(("Session-Expires", se));
                extra.push(("Require", "timer"));
            }
            self.answer_new(now, &inb, key, 200, "OK", &extra);
            return;
        }
        let Some(other) = other else {
            self.answer_new(now, &inb, key, 491, "Request Pending", &[]);
            return;
        };
        let ct = inb.req.get(HeaderName::ContentType).map(str::to_owned);
        let body = ct.as_deref().map(|ct| (ct, inb.req.body()));
        let method = match inb.req.method() {
            Some(m) => m,
            None => return,
        };
        let Some((pkt, branch)) = self.build_dialog_request(id, other, method, 0, &[], body) else {
            self.answer_new(now, &inb, key, 500, "Server Internal Error", &[]);
            return;
        };
        let rel = Self::reliability(inb.transport);
        let stx = if is_invite {
            ServerTransaction::Invite(InviteServer::new(now, rel, self.timers, Trying::ByTu))
        } else {
            ServerTransaction::NonInvite(NonInviteServer::new(now, rel, self.timers))
        };
        if self.txns.insert_server(key.clone(), stx).is_err() {
            return;
        }
        let Ok(ckey) = ClientKey::new(&branch, method.as_str()) else {
            return;
        };
        let crel = Self::reliability(pkt.0.transport);
        let ctx = if is_invite {
            ClientTransaction::Invite(InviteClient::new(now, pkt, crel, self.timers))
        } else {
            ClientTransaction::NonInvite(NonInviteClient::new(now, pkt, crel, self.timers))
        };
        if self.txns.insert_client(ckey.clone(), ctx).is_ok() {
            self.purposes.insert(
                ckey,
                Purpose::Relay {
                    call: id,
                    to: other,
                    back: key,
                    origin: Box::new(inb),
                },
            );
        }
    }

    /// Answers a relayed request with the far leg's final response.
    #[allow(clippy::too_many_arguments)]
    fn relay_back(
        &mut self,
        now: Instant,
        id: u64,
        to: Side,
        back: &ServerKey,
        origin: &Inbound,
        status: u16,
        resp: Option<&Pkt>,
    ) {
        let is_invite = origin.req.method() == Some(Method::Invite);
        if is_invite && (200..300).contains(&status) {
            let cseq = resp
                .and_then(|r| r.msg().and_then(|m| m.cseq()).map(|c| c.seq))
                .unwrap_or(1);
            if let Some((ack, _)) = self.build_dialog_request(id, to, Method::Ack, cseq, &[], None)
            {
                self.push_pkt(&ack);
            }
        }
        let reason = resp
            .and_then(|r| r.msg().and_then(|m| m.reason_phrase()).map(str::to_owned))
            .unwrap_or_else(|| "Request Timeout".to_owned());
        let contact = self.contact_uri(origin.transport);
        let mut extra: Vec<(&str, &str)> = Vec::new();
        if (200..300).contains(&status) && is_invite {
            extra.push(("Contact", contact.as_str()));
        }
        let se = if origin.req.get(HeaderName::SessionExpires).is_some()
            && (200..300).contains(&status)
        {
            self.calls
                .get(&id)
                .and_then(|c| c.carrier.session_expires_s)
                .map(|s| format!("{s};refresher=uac"))
        } else {
            None
        };
        if let Some(se) = se.as_deref() {
            extra.push(("Session-Expires", se));
            extra.push(("Require", "timer"));
        }
        let body = resp.and_then(|r| {
            let m = r.msg()?;
            m.get(HeaderName::ContentType)
                .map(|ct| (ct.to_owned(), m.body().to_vec()))
        });
        let body_ref = body.as_ref().map(|(c, b)| (c.as_str(), b.as_slice()));
        let tag = origin.req.to().and_then(|t| t.tag().map(str::to_owned));
        if let Some(p) =
            self.build_response(origin, status, &reason, tag.as_deref(), &extra, body_ref)
        {
            let _ = self.txns.send_response(now, back, status, p.clone());
            if is_invite && (200..300).contains(&status) {
                self.await_reinvite_ack(now, id, to, origin, p);
            }
        }
    }

    /// Keeps our 2xx to a re-INVITE and retransmits it until the ACK: T1, doubling to
    /// T2, for 64·T1 over UDP (RFC 3261 §13.3.1.4; the INVITE server transaction ends
    /// with the 2xx, so the TU does this). Over TCP the transport is reliable.
    fn await_reinvite_ack(&mut self, now: Instant, id: u64, to: Side, origin: &Inbound, p: Pkt) {
        let t1 = self.timers.t1();
        let giveup = now + self.timers.t1_x64();
        let seq = origin.req.cseq().map(|c| c.seq).unwrap_or(0);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let side = match to {
            Side::Carrier => match c.answered_leg {
                Some(i) => Side::Handler(i),
                None => return,
            },
            Side::Handler(_) => Side::Carrier,
        };
        c.reok_gen = c.reok_gen.wrapping_add(1);
        let gen = c.reok_gen;
        c.reinvite_ok = Some(ReinviteOk {
            side,
            seq,
            pkt: p,
            interval: t1,
            giveup,
        });
        if origin.transport == Transport::Udp {
            self.arm(now + t1, TimerKind::ReinviteOk(id, gen));
        }
    }

    /// Retransmits the re-INVITE 2xx (see [`Engine::await_reinvite_ack`]).
    pub(crate) fn on_reinvite_ok_timer(&mut self, now: Instant, id: u64, gen: u32) {
        let t2 = self.timers.t2();
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.reok_gen != gen || c.ended.is_some() {
            return;
        }
        let Some(ok) = c.reinvite_ok.as_mut() else {
            return;
        };
        if now >= ok.giveup {
            c.reinvite_ok = None;
            return;
        }
        ok.interval = (ok.interval * 2).min(t2);
        let next = (now + ok.interval).min(ok.giveup);
        let p = ok.pkt.clone();
        self.push_pkt(&p);
        self.arm(next, TimerKind::ReinviteOk(id, gen));
    }
}

/// `Session-Expires` delta (RFC 4028 §4) and whether the UAC supports `timer`.
fn session_request(req: &Message) -> (Option<u32>, bool) {
    let se = req
        .get(HeaderName::SessionExpires)
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.trim().parse::<u32>().ok());
    let supported = req
        .values(HeaderName::Supported)
        .chain(req.values(HeaderName::Require))
        .any(|t| t.eq_ignore_ascii_case("timer"));
    (se, supported)
}

/// From for the handler INVITE: the callback number as a tel URI when known, else the
/// carrier's From URI.
fn caller_name_addr(c: &Call) -> String {
    match &c.callback_number {
        Some(n) if is_dialable(n) => format!("\"{n}\" <tel:{n}>"),
        _ => {
            let display: String = c
                .caller
                .chars()
                .filter(|ch| *ch != '"' && *ch != '\\')
                .collect();
            format!("\"{display}\" <{}>", c.caller_uri)
        }
    }
}

fn pai_value(c: &Call) -> String {
    match &c.callback_number {
        Some(n) if is_dialable(n) => format!("<tel:{n}>"),
        _ => format!("<{}>", c.caller_uri),
    }
}

fn is_dialable(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 32
        && n.strip_prefix('+')
            .unwrap_or(n)
            .bytes()
            .all(|b| b.is_ascii_digit())
}

/// One-line location text for the queue core and wallboards, e.g.
/// `51.50140,-0.14190 ±50 m` or `10 Downing St, London`.
fn location_text(s: &LocationSummary) -> String {
    match (s.lat, s.lon) {
        (Some(lat), Some(lon)) => match s.radius_m {
            Some(r) => format!("{lat:.5},{lon:.5} ±{r:.0} m"),
            None => format!("{lat:.5},{lon:.5}"),
        },
        _ => {
            let get = |k: &str| s.civic.get(k).cloned().unwrap_or_default();
            let street = [get("HNO"), get("RD")].join(" ").trim().to_owned();
            [street, get("A3"), get("PC")]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}
