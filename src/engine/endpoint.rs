//! The [`Engine`] state, its public entry points, request dispatch, the transaction
//! table pump and the engine's own timers (RFC 3261 §13.3.1.1 queued-call keepalive,
//! §13.3.1.4 2xx retransmission, RFC 3262 §3 reliable provisional retransmission, RFC 4028
//! session expiry, §10.3 binding expiry).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::calls::{Call, Side};
use super::registrar::HandlerInfo;
use super::types::*;
use super::util::*;
use super::Transport;
use crate::call::ClassifyConfig;
use crate::config::Config;
use crate::queue::{HandlerId, QueueConfig, RequestedState, Router, Skills};
use crate::sharded::ShardedMap;
use crate::sip::digest::DigestServer;
use crate::sip::transaction::{
    ClientEvent, ClientKey, InviteServer, NonInviteServer, Reliability, RequestMatch, ServerEvent,
    ServerKey, ServerTransaction, TimerConfig, TransactionTable, Trying, TxEvent, TxKey,
};
use crate::sip::{self, HeaderName, Message, MessageBuilder, Method};

/// Finished calls kept for the snapshot.
pub const MAX_RECENT_CALLS: usize = 1_000;

/// The engine's own timers (validated by generation numbers when they fire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// Fresh provisional response to a waiting caller (RFC 3261 §13.3.1.1).
    Keepalive(u64, u32),
    /// 2xx retransmission to the carrier until ACK (§13.3.1.4).
    Ok2xx(u64, u32),
    /// Reliable provisional retransmission until PRACK (RFC 3262 §3).
    Rel1xx(u64, u32),
    /// Session expiry without refresh (RFC 4028 §10).
    Session(u64, u32),
    /// Drop a finished call's record (after stray retransmissions die out).
    Purge(u64),
    /// 2xx retransmission for a relayed re-INVITE until ACK (§13.3.1.4).
    ReinviteOk(u64, u32),
    /// Registration binding expiry for a handler (§10.3).
    Registration(u32, u32),
}

/// The B2BUA. See the [module docs](super).
pub struct Engine {
    pub(crate) start: Instant,
    pub(crate) last_now: Instant,
    pub(crate) limits: sip::Limits,
    pub(crate) config: Config,
    pub(crate) timers: TimerConfig,
    pub(crate) classify: ClassifyConfig,
    pub(crate) local_udp: Option<SocketAddr>,
    pub(crate) local_tcp: Option<SocketAddr>,
    pub(crate) router: Router,
    pub(crate) txns: TransactionTable<Pkt>,
    pub(crate) digest: DigestServer,
    pub(crate) passwords: HashMap<String, String>,
    pub(crate) handlers: Vec<HandlerInfo>,
    pub(crate) handler_by_name: HashMap<String, HandlerId>,
    /// Engine call ids are ours, not the network's: a one-multiply hash. Sharded (as the
    /// three maps below): finished calls linger 64·T1, so at 1,000 calls/s these hold tens
    /// of thousands of entries and must grow without stalling (see crate::sharded).
    /// Boxed: a call record is ~1 KB, and a shard resize moves only the pointers. The
    /// table notes which records change, for `live_views`.
    pub(crate) calls: super::call_table::CallTable,
    pub(crate) next_call: u64,
    /// Carrier INVITE server transaction → call (CANCEL matching, §9.2).
    pub(crate) invites: ShardedMap<ServerKey, u64>,
    /// Call-ID (carrier's, or our own per handler leg) → call and side.
    pub(crate) dialogs: ShardedMap<String, (u64, Side)>,
    /// What each client transaction is for.
    pub(crate) purposes: ShardedMap<ClientKey, super::calls::Purpose>,
    pub(crate) heap: BinaryHeap<Reverse<(Instant, TimerKind)>>,
    /// Calls not finished yet (in `calls`), by id: what a snapshot lists in full.
    pub(crate) live: BTreeSet<u64>,
    /// The view of every live call as of the last `settle`: brought up to date there for
    /// the calls that changed (while their records are still in cache), so a snapshot
    /// only clones these (see `call_table`).
    pub(crate) live_views: BTreeMap<u64, Arc<CallView>>,
    /// Views of the last [`MAX_RECENT_CALLS`] finished calls, oldest first, taken when each
    /// finished (a finished call stays in `calls` 64·T1 longer for stray requests: ~32,000
    /// of them at 1,000 calls/s, which a snapshot must not walk). Shared with snapshots.
    pub(crate) recent: VecDeque<Arc<CallView>>,
    /// Set by `begin_shutdown`: the first call id that arrived during the shutdown.
    pub(crate) shutdown_first_new: Option<u64>,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<EngineEvent>,
    pub(crate) ids: Ids,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("calls", &self.calls.len())
            .field("handlers", &self.handlers.len())
            .field("transactions", &self.txns.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A new engine for a validated `config`, created at `now`. Seats from `[[seats]]`
    /// become queue-core handlers and are logged in (Available) at once: a configured seat
    /// is a staffed position; a supervisor can log it out with [`Command::SetHandlerState`].
    /// Seats with no skills listed take every class skill.
    pub fn new(config: &Config, now: Instant) -> Self {
        let limits = sip::Limits {
            max_message_bytes: config.limits.max_message_bytes,
            max_headers: config.limits.max_headers,
            // The body may use all of `limits.max_message_bytes`: a 999 INVITE that fits
            // the configured message limit is never refused (413) for its body's size.
            max_body_bytes: config.limits.max_message_bytes,
            ..sip::Limits::default()
        };
        let qcfg = config.queue.clone();
        // `Config` has validated `[queue]` (Config::from_toml_str), so this succeeds.
        let router = Router::new(qcfg.clone()).unwrap_or_else(|_| fallback_router());
        let classify = config.classification.clone();
        let seed: u64 = rand::random();
        let secret: [u8; 32] = rand::random();
        let mut engine = Engine {
            start: now,
            last_now: now,
            limits,
            config: config.clone(),
            timers: config.sip.timers.normalized(),
            classify,
            local_udp: None,
            local_tcp: None,
            router,
            txns: TransactionTable::new(config.limits.max_transactions),
            digest: DigestServer::new(&config.sip.realm, &secret, config.sip.nonce_lifetime_s)
                .with_algorithms(&config.sip.digest_algorithms),
            passwords: config
                .users
                .iter()
                .map(|u| (u.name.clone(), u.password.clone()))
                .collect(),
            handlers: Vec::new(),
            handler_by_name: HashMap::new(),
            calls: super::call_table::CallTable::default(),
            next_call: 1,
            invites: ShardedMap::new(),
            dialogs: ShardedMap::new(),
            purposes: ShardedMap::new(),
            heap: BinaryHeap::new(),
            live: BTreeSet::new(),
            live_views: BTreeMap::new(),
            shutdown_first_new: None,
            recent: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            ids: Ids::new(seed),
        };
        for seat in &config.seats {
            let skills = skills_from(&seat.skills);
            let dest = uri_destination(&seat.contact);
            if dest.is_none() {
                engine.events.push_back(EngineEvent::Notice {
                    text: format!(
                        "seat {}: contact {} has no IP-literal host; calls to it fail with 503",
                        seat.id, seat.contact
                    ),
                });
            }
            let id = engine.add_handler(now, &seat.id, true, skills);
            if let Some(h) = engine.handlers.get_mut(id.0 as usize) {
                h.contact = Some(seat.contact.as_str().into());
                h.dest = dest;
                h.sdp_only = seat.offer_body == crate::config::OfferBody::SdpOnly;
            }
            engine.set_router_state(now, id, RequestedState::Available);
        }
        engine.settle(now);
        engine
    }

    /// The addresses the engine advertises in Via/Contact per transport.
    pub fn set_local_address(&mut self, transport: Transport, addr: SocketAddr) {
        match transport {
            Transport::Udp => self.local_udp = Some(addr),
            Transport::Tcp => self.local_tcp = Some(addr),
        }
    }

    /// One message from the network. Never panics; a bad message gets its stateless
    /// answer (requests) or is dropped (responses) and touches no other call.
    ///
    /// An emergency INVITE (judged by [`Engine::is_emergency_datagram`]) is not refused
    /// for what can be repaired (DESIGN §6: a 999 call is never refused); each repair is
    /// made at most once, named in a notice, and the repaired copy served:
    /// - a header section that is not valid UTF-8 — a Latin-1 display name from a legacy
    ///   PBX, say: the offending octets are replaced with U+FFFD (the body is left as it
    ///   is); any other message is read the same way, without a notice (the ACK, BYE and
    ///   CANCEL of that call repeat the name);
    /// - over UDP, malformed framing a datagram does not need (RFC 3261 §18.3):
    ///   unreadable, overflowing, disagreeing or repeated `Content-Length` fields, repeats
    ///   of a single-valued field (To, From, Call-ID, CSeq, Max-Forwards, Content-Type:
    ///   the first is kept), Contact fields that do not parse, header lines without a
    ///   colon, fields beyond `limits.max_headers`, a missing empty line
    ///   ([`sip::lenient::repair_request_datagram`]); the repair is also recorded as the
    ///   call's first location error. Over TCP `Content-Length` frames the stream, so
    ///   only the repeats (other than Content-Length) and a malformed Contact are
    ///   repaired there.
    ///
    /// Anything else keeps its answer (400, 513).
    pub fn handle_received(&mut self, now: Instant, msg: Received<'_>) {
        self.receive(now, msg, Repaired::default());
    }

    /// [`Engine::handle_received`]; `repaired`: the repairs already made to `msg.bytes`.
    fn receive(&mut self, now: Instant, msg: Received<'_>, repaired: Repaired) {
        self.last_now = now;
        let parsed = match sip::parse_with(msg.bytes, &self.limits) {
            Ok(m) => {
                // Repeated single-valued fields (Content-Length, To, From, Call-ID, CSeq,
                // Max-Forwards, Content-Type) parse but `validate_request` refuses them
                // with 400: a 999 keeps the first of each. Over TCP, where Content-Length
                // framed the message, only when that is not among them.
                if repaired.framing.is_none()
                    && m.method() == Some(Method::Invite)
                    && sip::validate::repeated_single_value(&m).is_some()
                    && (msg.transport == Transport::Udp
                        || m.get_all(HeaderName::ContentLength).nth(1).is_none())
                    && self.is_emergency_invite(&m)
                    && self.repair_framing(now, msg, repaired)
                {
                    return;
                }
                m
            }
            // Octets that are not UTF-8 in the header section (a Latin-1 caller name, say):
            // read with U+FFFD in their place (RFC 3261 §7.5), in every message — the ACK,
            // BYE and CANCEL of that call repeat the name in their From, and dialogs and
            // transactions match on tags, Call-ID and branch, which such names do not
            // touch (refusing them tore down an answered 999 after 32 s). Only an
            // emergency INVITE's repair is announced.
            Err(sip::ParseError::InvalidUtf8) if !repaired.utf8 => {
                let fixed = utf8_lossy_head(msg.bytes, &self.limits);
                let repaired = Repaired {
                    utf8: true,
                    ..repaired
                };
                if self.is_emergency_datagram(msg.bytes) {
                    self.receive_repaired(
                        now,
                        msg,
                        &fixed,
                        repaired,
                        "with octets that are not UTF-8 in its header section: replaced \
                         with U+FFFD and served",
                    );
                } else {
                    self.receive(
                        now,
                        Received {
                            bytes: &fixed,
                            ..msg
                        },
                        repaired,
                    );
                }
                return;
            }
            // A datagram over `limits.max_message_bytes` (configured below the UDP
            // maximum): an emergency INVITE whose header section fits is served without
            // its body, as over TCP; anything else gets 513.
            Err(e @ sip::ParseError::MessageTooLarge { .. })
                if msg.transport == Transport::Udp && self.is_emergency_datagram(msg.bytes) =>
            {
                // The header section must fit the limit on its own.
                match sip::header_section_len(msg.bytes, &self.limits) {
                    Ok(h) => self.received_body_dropped(
                        now,
                        msg,
                        sip::DroppedBody::TooLarge {
                            declared: msg.bytes.len().saturating_sub(h),
                            max: self.limits.max_message_bytes.saturating_sub(h),
                        },
                        repaired.framing,
                    ),
                    Err(_) => self.stateless_parse_error(&msg, &e),
                }
                return;
            }
            Err(e) => {
                // A datagram shorter than its Content-Length may also repeat it (which
                // `validate_request` would refuse once the head is served).
                // Over TCP, where Content-Length framed the stream, only field faults.
                if repaired.framing.is_none()
                    && (msg.transport == Transport::Udp || sip::lenient::is_field_fault(&e))
                    && (sip::lenient::is_repairable(&e)
                        || sip::DroppedBody::from_parse_error(&e).is_some())
                    && self.is_emergency_datagram(msg.bytes)
                    && self.repair_framing(now, msg, repaired)
                {
                    return;
                }
                // A datagram shorter than its Content-Length (RFC 3261 §18.3): 400, except
                // for an emergency INVITE, served without its body.
                if let Some(dropped) = sip::DroppedBody::from_parse_error(&e) {
                    self.received_body_dropped(now, msg, dropped, repaired.framing);
                } else if !sip::is_response_start(msg.bytes) {
                    self.stateless_parse_error(&msg, &e);
                }
                return;
            }
        };
        if parsed.is_request() {
            self.on_request(now, &msg, parsed, None, repaired.framing);
        } else {
            self.on_response(now, &msg, parsed);
        }
        self.settle(now);
    }

    /// Repairs the framing of the emergency INVITE `msg` (a UDP datagram, or a TCP message
    /// whose repeated single-valued fields or malformed Contact are all the repair will find,
    /// [`sip::lenient::repair_request_datagram`]) and handles the repaired copy, with a
    /// notice naming the repairs. `false` (nothing done) when there is nothing to repair:
    /// the caller then answers as it would have.
    fn repair_framing(&mut self, now: Instant, msg: Received<'_>, repaired: Repaired) -> bool {
        let Ok(fixed) = sip::lenient::repair_request_datagram(msg.bytes, &self.limits) else {
            return false;
        };
        let what = format!(
            "over {} with malformed framing ({}): the repaired copy is handled",
            msg.transport.as_str().to_ascii_uppercase(),
            fixed.repairs
        );
        self.receive_repaired(
            now,
            msg,
            &fixed.bytes,
            Repaired {
                framing: Some(fixed.repairs),
                ..repaired
            },
            &what,
        );
        true
    }

    /// Handles `bytes`, a repaired copy of the emergency INVITE `msg`, after a notice
    /// "emergency INVITE to <Request-URI> <what>"; `repaired` says which repairs are made,
    /// so none is tried twice.
    fn receive_repaired(
        &mut self,
        now: Instant,
        msg: Received<'_>,
        bytes: &[u8],
        repaired: Repaired,
        what: &str,
    ) {
        let uri = sip::peek::peek_invite(msg.bytes).map_or("", |p| p.request_uri);
        self.notice(format!("emergency INVITE to {uri} {what}"));
        self.receive(now, Received { bytes, ..msg }, repaired);
    }

    /// A message whose body was set aside: `msg.bytes` holds its header section (any
    /// octets after it are ignored) and `dropped` says why the body is missing (a
    /// truncated datagram, or a stream message whose body was too large to keep). An emergency INVITE (DESIGN §4) is
    /// served like any other, without a body: queued, with `dropped` as its first
    /// location error (DESIGN §5, a 999 call is never refused). Any other request gets
    /// the stateless answer of [`sip::DroppedBody::parse_error`] (400 truncated, 413 too
    /// large; RFC 3261 §18.3, §21.4.12); an ACK or a response is discarded (§17.2.1,
    /// §18.1.2). The TCP runtime calls this for [`sip::framing::StreamItem::BodyTooLarge`].
    pub fn handle_received_body_dropped(
        &mut self,
        now: Instant,
        msg: Received<'_>,
        dropped: sip::DroppedBody,
    ) {
        self.received_body_dropped(now, msg, dropped, None);
    }

    /// [`Engine::handle_received_body_dropped`]; `framing`: the repairs already made to
    /// `msg.bytes` ([`Engine::repair_framing`]).
    fn received_body_dropped(
        &mut self,
        now: Instant,
        msg: Received<'_>,
        dropped: sip::DroppedBody,
        framing: Option<sip::lenient::Repairs>,
    ) {
        self.last_now = now;
        let refused = dropped.parse_error();
        let head = match sip::parse_head_with(msg.bytes, &self.limits) {
            // An ACK is never answered (RFC 3261 §17.2.1), a response only discarded.
            Ok(m) if m.is_request() && m.method() != Some(Method::Ack) => m,
            Ok(_) => return,
            Err(e) => {
                if !sip::is_response_start(msg.bytes) {
                    self.stateless_parse_error(&msg, &e);
                }
                return;
            }
        };
        if !self.is_emergency_invite(&head) {
            self.stateless_parse_error(&msg, &refused);
            return;
        }
        self.notice(format!(
            "emergency INVITE {}: {dropped}; served without its body",
            head.call_id().unwrap_or("")
        ));
        self.on_request(now, &msg, head, Some(dropped), framing);
        self.settle(now);
    }

    /// Fires every timer due at `now`: transactions, the queue core (ring-no-answer,
    /// wrap-up) and the engine's own.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        self.txns.handle_timeout(now);
        self.settle(now);
        self.router.handle_timeout(now);
        self.settle(now);
        while let Some(&Reverse((at, kind))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            self.fire(now, kind);
            self.settle(now);
        }
    }

    /// A supervisor command.
    ///
    /// Errors: [`CommandError::UnknownHandler`], [`CommandError::Router`].
    pub fn handle_command(&mut self, now: Instant, cmd: Command) -> Result<(), CommandError> {
        self.last_now = now;
        let result = match cmd {
            Command::SetHandlerState { handler, state } => {
                let id = *self
                    .handler_by_name
                    .get(&handler)
                    .ok_or(CommandError::UnknownHandler(handler))?;
                self.router.handle(
                    now,
                    crate::queue::Event::SetHandlerState { handler: id, state },
                )
            }
            Command::EndWrapUp { handler } => {
                let id = *self
                    .handler_by_name
                    .get(&handler)
                    .ok_or(CommandError::UnknownHandler(handler))?;
                self.router
                    .handle(now, crate::queue::Event::EndWrapUp { handler: id })
            }
            Command::CallbackDone { callback } => self
                .router
                .handle(now, crate::queue::Event::CallbackDone { callback }),
            Command::AmlLocation(aml) => {
                self.apply_aml_location(aml);
                Ok(())
            }
        };
        self.settle(now);
        result.map_err(CommandError::from)
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Earliest instant at which [`Engine::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = self.heap.peek().map(|Reverse((at, _))| *at);
        [self.txns.poll_timeout(), self.router.poll_timeout(), own]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next call or handler event.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// Read-only snapshot: live calls and the last [`MAX_RECENT_CALLS`] finished ones (by
    /// id), the queue core's view, handlers and registrations, as of the last input.
    ///
    /// Its cost grows with the live calls only, not with the finished calls still lingering
    /// for stray retransmissions (tens of thousands at 1,000 calls/s): the engine task takes
    /// it, so it must stay well under the 1 ms latency budget. Live calls' views are kept up
    /// to date as calls change (`call_table`), so for them it clones one pointer each;
    /// only calls changed since the last engine step (a caller between steps) are viewed
    /// afresh.
    pub fn snapshot(&self) -> Snapshot {
        let mut calls: Vec<Arc<CallView>> = Vec::with_capacity(self.recent.len() + self.live.len());
        calls.extend(self.recent.iter().cloned());
        let pending = self.calls.touched();
        if pending.is_empty() {
            calls.extend(self.live_views.values().cloned());
        } else {
            // Changed since the last `settle` (a caller between two engine steps): those
            // calls' views are taken now.
            let pending: BTreeSet<u64> = pending.iter().copied().collect();
            calls.extend(
                self.live
                    .iter()
                    .filter_map(|id| match self.live_views.get(id) {
                        Some(v) if !pending.contains(id) => Some(Arc::clone(v)),
                        _ => self.calls.get(id).map(|c| Arc::new(c.view(self))),
                    }),
            );
        }
        calls.sort_by_key(|c| c.id);
        self.snapshot_with(calls)
    }

    /// [`Engine::snapshot`] with every live call's view taken afresh from its record,
    /// bypassing the views kept up to date as calls change. Slower; for tests that check
    /// the two agree.
    #[doc(hidden)]
    pub fn snapshot_from_scratch(&self) -> Snapshot {
        let mut calls: Vec<Arc<CallView>> = Vec::with_capacity(self.recent.len() + self.live.len());
        calls.extend(self.recent.iter().cloned());
        calls.extend(self.live_calls().map(|c| Arc::new(c.view(self))));
        calls.sort_by_key(|c| c.id);
        self.snapshot_with(calls)
    }

    fn snapshot_with(&self, calls: Vec<Arc<CallView>>) -> Snapshot {
        let now = self.last_now;
        Snapshot {
            now_ms: self.ms(now),
            calls,
            queue: self.router.snapshot(now, usize::MAX),
            handlers: self
                .handlers
                .iter()
                .enumerate()
                .map(|(i, h)| HandlerSnapshot {
                    id: h.name.clone(),
                    seat: h.seat,
                    contact: h.contact.clone(),
                    state: self
                        .router
                        .handler_state(HandlerId(i as u32))
                        .map_or("", |s| s.as_str()),
                })
                .collect(),
            registrations: self
                .handlers
                .iter()
                .flat_map(|h| {
                    h.bindings.iter().map(|b| RegistrationView {
                        user: h.name.to_string(),
                        contact: b.value.clone(),
                        expires_in_s: b.expires_at.saturating_duration_since(now).as_secs(),
                    })
                })
                .collect(),
        }
    }

    // === internals ===

    pub(crate) fn ms(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn arm(&mut self, at: Instant, kind: TimerKind) {
        self.heap.push(Reverse((at, kind)));
    }

    pub(crate) fn reliability(t: Transport) -> Reliability {
        match t {
            Transport::Udp => Reliability::Unreliable,
            Transport::Tcp => Reliability::Reliable,
        }
    }

    /// Our address for `transport` (as set by the runtime, else the configured listen
    /// address, else `fallback`).
    pub(crate) fn local_addr(&self, transport: Transport, fallback: SocketAddr) -> SocketAddr {
        let set = match transport {
            Transport::Udp => self.local_udp,
            Transport::Tcp => self.local_tcp,
        };
        set.or_else(|| {
            self.config
                .sip
                .listen
                .iter()
                .find(|l| l.transport == transport)
                .map(|l| l.addr)
        })
        .unwrap_or(fallback)
    }

    /// Our Contact URI for `transport`.
    pub(crate) fn contact_uri(&self, transport: Transport) -> String {
        let local = self.local_addr(transport, SocketAddr::from(([127, 0, 0, 1], 5060)));
        match transport {
            Transport::Udp => format!("<sip:answerpoint@{}>", hostport(local)),
            Transport::Tcp => format!("<sip:answerpoint@{};transport=tcp>", hostport(local)),
        }
    }

    pub(crate) fn add_handler(
        &mut self,
        now: Instant,
        name: &str,
        seat: bool,
        skills: Skills,
    ) -> HandlerId {
        let id = HandlerId(self.handlers.len() as u32);
        self.handlers.push(HandlerInfo::new(name, seat, skills));
        self.handler_by_name.insert(name.to_owned(), id);
        // A fresh id cannot be a duplicate; an error here would be a bug, reported.
        if let Err(e) = self.router.handle(
            now,
            crate::queue::Event::HandlerAdded {
                handler: id,
                skills,
            },
        ) {
            self.notice(format!("queue refused handler {name}: {e}"));
        }
        id
    }

    pub(crate) fn set_router_state(&mut self, now: Instant, id: HandlerId, state: RequestedState) {
        if let Err(e) = self.router.handle(
            now,
            crate::queue::Event::SetHandlerState { handler: id, state },
        ) {
            self.notice(format!("queue refused state change: {e}"));
        }
    }

    /// A liveness signal from a handler's device (REGISTER refresh, OPTIONS from a seat):
    /// returns a handler parked NotReady("missed calls") by ring-no-answer to Available.
    pub(crate) fn handler_alive(&mut self, now: Instant, id: HandlerId, why: &str) {
        let parked = matches!(
            self.router.handler_state(id),
            Some(crate::queue::HandlerState::NotReady(r)) if r == crate::queue::MISSED_CALLS_REASON
        );
        if !parked {
            return;
        }
        let name = self.handler_name(id);
        self.notice(format!(
            "handler {name}: {why} while not-ready after missed calls; returning it to available"
        ));
        if let Err(e) = self
            .router
            .handle(now, crate::queue::Event::HandlerAlive { handler: id })
        {
            self.notice(format!("queue refused liveness of {name}: {e}"));
        }
    }

    pub(crate) fn handler_name(&self, id: HandlerId) -> Arc<str> {
        self.handlers
            .get(id.0 as usize)
            .map(|h| Arc::clone(&h.name))
            .unwrap_or_else(|| format!("handler-{}", id.0).into())
    }

    pub(crate) fn notice(&mut self, text: String) {
        self.events.push_back(EngineEvent::Notice { text });
    }

    /// Runs the transaction table and the queue core until neither has output left.
    pub(crate) fn settle(&mut self, now: Instant) {
        loop {
            self.drain_txns(now);
            if !self.pump_router(now) {
                break;
            }
        }
        self.refresh_live_views();
    }

    /// Brings `live_views` up to date for the calls changed since the last refresh: a
    /// fresh view for each that is still live, none for the others.
    fn refresh_live_views(&mut self) {
        if self.calls.touched().is_empty() {
            return;
        }
        for id in self.calls.take_touched() {
            let view = self
                .calls
                .get(&id)
                .filter(|_| self.live.contains(&id))
                .map(|c| Arc::new(c.view(self)));
            match view {
                Some(v) => {
                    self.live_views.insert(id, v);
                }
                None => {
                    self.live_views.remove(&id);
                }
            }
        }
    }

    /// Moves transaction-table outputs to the runtime and events to their handlers.
    pub(crate) fn drain_txns(&mut self, now: Instant) {
        loop {
            while let Some((_, pkt)) = self.txns.poll_transmit() {
                if !pkt.0.bytes.is_empty() {
                    self.transmits.push_back(Transmit {
                        transport: pkt.0.transport,
                        destination: pkt.0.peer,
                        contents: pkt.0.bytes.clone(),
                    });
                }
            }
            let Some((key, ev)) = self.txns.poll_event() else {
                break;
            };
            match (key, ev) {
                (TxKey::Client(k), TxEvent::Client(ClientEvent::Response { status, response })) => {
                    self.on_client_response(now, &k, status, Some(response));
                }
                (TxKey::Client(k), TxEvent::Client(ClientEvent::Timeout)) => {
                    self.on_client_response(now, &k, 408, None);
                }
                (TxKey::Client(k), TxEvent::Client(ClientEvent::TransportError)) => {
                    self.on_client_response(now, &k, 503, None);
                }
                (TxKey::Client(k), TxEvent::Client(ClientEvent::Terminated)) => {
                    self.purposes.remove(&k);
                }
                (TxKey::Server(_), TxEvent::Server(ServerEvent::Ack(pkt))) => {
                    if let Some(m) = pkt.msg() {
                        self.on_dialog_ack(now, m);
                    }
                }
                (TxKey::Server(k), TxEvent::Server(ServerEvent::Terminated)) => {
                    self.invites.remove(&k);
                }
                _ => {}
            }
        }
    }

    /// Routes a parsed request (RFC 3261 §8.2, §17.2.3, §12.2.2). `body_dropped` is set
    /// for an emergency INVITE served without its body, `framing_repaired` for one whose
    /// datagram's framing was repaired.
    fn on_request(
        &mut self,
        now: Instant,
        rx: &Received<'_>,
        req: Message,
        body_dropped: Option<sip::DroppedBody>,
        framing_repaired: Option<sip::lenient::Repairs>,
    ) {
        if let Err(fault) = sip::validate::validate_request(&req) {
            // An ACK is never answered (RFC 3261 §17), and an answer without a Via could
            // not be routed or matched (§8.2.6.2, §18.2.2), whatever else is wrong.
            if req.method() == Some(Method::Ack) || req.get(HeaderName::Via).is_none() {
                self.events.push_back(EngineEvent::Refused {
                    source: rx.source,
                    status: fault.status_code(),
                    reason: fault.to_string(),
                });
                return;
            }
            let warning = format!("399 {AGENT} \"{fault}\"").replace(['\r', '\n', '\\'], " ");
            self.reply_stateless(
                rx,
                &req,
                fault.status_code(),
                &fault.reason_phrase(),
                &[("Warning", &warning)],
            );
            return;
        }
        // 413 (RFC 3261 §21.4.11) for a body over MAX_BODY_BYTES — except an emergency
        // INVITE, whose body may use the whole configured message limit: a 999 is never
        // refused for the size of its location and additional data.
        if req.body().len() > sip::MAX_BODY_BYTES && !self.is_emergency_invite(&req) {
            let e = sip::ParseError::BodyTooLarge {
                len: req.body().len(),
                max: sip::MAX_BODY_BYTES,
            };
            self.stateless_parse_error(rx, &e);
            return;
        }
        let Some(method_name) = req.method().map(|m| m.as_str().to_owned()) else {
            return;
        };
        let is_options = req.method() == Some(Method::Options);
        let is_ack = req.method() == Some(Method::Ack);
        let to_tag = req.to().and_then(|t| t.tag().map(str::to_owned));
        // Carrier keepalive: answered without any state (RFC 3261 §11.2).
        if is_options && to_tag.is_none() {
            // A seat phone's own OPTIONS keepalive shows the seat is alive.
            if let Some(i) = self.handlers.iter().position(|h| {
                h.seat
                    && h.dest
                        .is_some_and(|(t, a)| t == rx.transport && a == rx.source)
            }) {
                self.handler_alive(now, HandlerId(i as u32), "OPTIONS from the seat");
                self.settle(now);
            }
            // RFC 3261 §8.2.2.3: an option tag we do not support in Require gets 420.
            let unsupported =
                crate::sip::validate::unsupported_requires(&req, SUPPORTED_TAGS).join(", ");
            if !unsupported.is_empty() {
                self.reply_stateless(
                    rx,
                    &req,
                    420,
                    "Bad Extension",
                    &[("Unsupported", &unsupported)],
                );
                return;
            }
            self.reply_stateless(
                rx,
                &req,
                200,
                "OK",
                &[
                    ("Allow", ALLOW),
                    ("Supported", SUPPORTED),
                    ("Accept", "application/sdp, multipart/mixed"),
                ],
            );
            return;
        }
        let key = match server_key(&req, &method_name) {
            Some(k) => k,
            None => {
                if !is_ack {
                    self.reply_stateless(rx, &req, 400, "Bad Request (unusable Via)", &[]);
                }
                return;
            }
        };
        let req = Arc::new(req);
        let pkt = Pkt::received(rx.transport, rx.source, req.clone());
        match self.txns.handle_request(now, &key, &method_name, pkt) {
            RequestMatch::Absorbed => return,
            RequestMatch::New => {}
        }
        let inb = Inbound {
            transport: rx.transport,
            source: rx.source,
            req: req.clone(),
            body_dropped,
            framing_repaired,
        };
        let req: &Message = &req;
        let Some(method) = req.method() else {
            return;
        };
        match method {
            Method::Ack => self.on_dialog_ack(now, req),
            Method::Cancel => self.on_cancel(now, inb, key),
            _ if to_tag.is_some() => self.on_in_dialog(now, inb, key),
            Method::Invite => self.on_invite(now, inb, key),
            Method::Register => self.on_register(now, inb, key),
            Method::Bye | Method::Prack | Method::Update | Method::Info => {
                self.answer_new(now, &inb, key, 481, "Call/Transaction Does Not Exist", &[]);
            }
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

    /// Routes a parsed response to its client transaction (RFC 3261 §17.1.3); 2xx
    /// retransmissions for a finished INVITE transaction go to the dialog (re-ACK).
    fn on_response(&mut self, now: Instant, rx: &Received<'_>, resp: Message) {
        let Some(status) = resp.status_code() else {
            return;
        };
        let Some(key) = resp.top_via().and_then(|v| {
            let branch = v.branch()?;
            let cseq = resp.cseq()?;
            ClientKey::new(branch, cseq.method).ok()
        }) else {
            return;
        };
        let is_invite = key.method() == "INVITE";
        let ack = if is_invite && status >= 300 {
            self.non2xx_ack(&key, &resp)
        } else {
            None
        };
        let pkt = Pkt::received(rx.transport, rx.source, Arc::new(resp));
        let fallback = pkt.clone();
        let matched = self
            .txns
            .handle_response(now, &key, status, pkt.clone(), move || {
                ack.unwrap_or(Pkt(std::sync::Arc::new(PktInner {
                    transport: fallback.0.transport,
                    peer: fallback.0.peer,
                    msg: fallback.0.msg.clone(),
                    bytes: Vec::new(),
                })))
            })
            .unwrap_or(false);
        if !matched && is_invite && (200..300).contains(&status) {
            if let Some(m) = pkt.msg() {
                self.on_stray_2xx(now, m);
            }
        }
    }

    /// The ACK for a non-2xx final response to one of our INVITEs (RFC 3261 §17.1.1.3).
    fn non2xx_ack(&self, key: &ClientKey, resp: &Message) -> Option<Pkt> {
        let invite = self.purposes.get(key).and_then(|p| p.invite())?;
        let inv = invite.parsed()?;
        let ack = MessageBuilder::ack_for_non2xx(&inv, resp)
            .ok()?
            .build()
            .ok()?;
        Some(Pkt::out(invite.0.transport, invite.0.peer, ack))
    }

    /// Creates a server transaction for `inb` and answers it at once with a final
    /// response (REGISTER, in-dialog refusals, CANCEL).
    pub(crate) fn answer_new(
        &mut self,
        now: Instant,
        inb: &Inbound,
        key: ServerKey,
        status: u16,
        reason: &str,
        extra: &[(&str, &str)],
    ) {
        let tag = stateless_tag(&inb.req);
        let Some(pkt) = self.build_response(inb, status, reason, Some(&tag), extra, None) else {
            return;
        };
        let rel = Self::reliability(inb.transport);
        let tx = if key.method() == "INVITE" {
            ServerTransaction::Invite(InviteServer::new(now, rel, self.timers, Trying::ByTu))
        } else {
            ServerTransaction::NonInvite(NonInviteServer::new(now, rel, self.timers))
        };
        match self.txns.insert_server(key.clone(), tx) {
            Ok(()) => {
                let _ = self.txns.send_response(now, &key, status, pkt);
            }
            Err(_) => self.transmits.push_back(Transmit {
                transport: pkt.0.transport,
                destination: pkt.0.peer,
                contents: pkt.0.bytes.clone(),
            }),
        }
        if status >= 400 {
            self.events.push_back(EngineEvent::Refused {
                source: inb.source,
                status,
                reason: reason.to_owned(),
            });
        }
    }

    /// A response to `inb.req` as an outgoing packet (RFC 3261 §8.2.6, §18.2.2).
    pub(crate) fn build_response(
        &self,
        inb: &Inbound,
        status: u16,
        reason: &str,
        to_tag: Option<&str>,
        extra: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Option<Pkt> {
        let (bytes, dest) = write_response(
            inb.transport,
            inb.source,
            &inb.req,
            status,
            reason,
            to_tag,
            extra,
            body,
        )?;
        Some(Pkt::raw(inb.transport, dest, bytes))
    }

    /// Answers a request without any transaction (RFC 3261 §8.2.6: stateless UAS).
    pub(crate) fn reply_stateless(
        &mut self,
        rx: &Received<'_>,
        req: &Message,
        status: u16,
        reason: &str,
        extra: &[(&str, &str)],
    ) {
        let tag = stateless_tag(req);
        let tag = (status != 100).then_some(tag.as_str());
        if let Some((bytes, dest)) = write_response(
            rx.transport,
            rx.source,
            req,
            status,
            reason,
            tag,
            extra,
            None,
        ) {
            self.transmits.push_back(Transmit {
                transport: rx.transport,
                destination: dest,
                contents: bytes,
            });
        }
        if status >= 300 {
            self.events.push_back(EngineEvent::Refused {
                source: rx.source,
                status,
                reason: reason.to_owned(),
            });
        }
    }

    /// Classifies a request (DESIGN §4): Request-URI, Resource-Priority, Priority.
    pub(crate) fn classify_request(&self, req: &Message) -> crate::call::Classification {
        let rp: Vec<&str> = req.values(HeaderName::ResourcePriority).collect();
        crate::call::classify_input(
            &crate::call::ClassifyInput {
                request_uri: req.request_uri_str().unwrap_or(""),
                resource_priority: &rp,
                priority: req.get(HeaderName::Priority),
            },
            &self.classify,
        )
    }

    /// Whether `datagram` is an INVITE that classifies as emergency, judged from its
    /// request line and `Resource-Priority` / `Priority` headers alone
    /// ([`sip::peek::peek_invite`]: no parse, no allocation unless it is an INVITE), with
    /// the same rules and configuration as the engine's own classification. The runtime
    /// uses it to hand emergency INVITEs to [`Engine::handle_received`] before other
    /// waiting datagrams; `false` only means "arrival order", never "not an emergency".
    pub fn is_emergency_datagram(&self, datagram: &[u8]) -> bool {
        let Some(p) = sip::peek::peek_invite(datagram) else {
            return false;
        };
        crate::call::classify_input(
            &crate::call::ClassifyInput {
                request_uri: p.request_uri,
                resource_priority: p.resource_priority(),
                priority: p.priority,
            },
            &self.classify,
        )
        .is_emergency()
    }

    /// Whether `req` is an INVITE that classifies as emergency.
    fn is_emergency_invite(&self, req: &Message) -> bool {
        req.method() == Some(Method::Invite) && self.classify_request(req).is_emergency()
    }

    fn stateless_parse_error(&mut self, rx: &Received<'_>, e: &sip::ParseError) {
        self.events.push_back(EngineEvent::Refused {
            source: rx.source,
            status: e.status_code(),
            reason: e.to_string(),
        });
        // An ACK is never answered (RFC 3261 §17.1.1.3, §17.2.1), however malformed.
        let start = rx.bytes.trim_ascii_start();
        if start.starts_with(b"ACK ") || start.starts_with(b"ACK\t") {
            return;
        }
        // Without a parsed request, salvage Via/From/To/Call-ID/CSeq line by line so the
        // answer can still be routed and matched (RFC 3261 §8.2.6.2).
        let Some(head) = salvage_head(rx.bytes) else {
            return;
        };
        let mut b = MessageBuilder::response(e.status_code(), &e.reason_phrase());
        let mut dest = rx.source;
        let mut first_via = true;
        for (name, value) in &head {
            if *name == HeaderName::Via && first_via {
                first_via = false;
                let (line, to) = answer_via(rx.transport, rx.source, value);
                dest = to;
                b = b.header("Via", &line);
            } else {
                b = b.header(name.as_str(), value);
            }
        }
        b = b.header("Warning", &e.warning_value(AGENT));
        // Printed, not re-parsed: the Vias are echoed as received even when they do not
        // parse (the sender knows its own Via; silence would leave it retransmitting).
        if let Ok(contents) = b.build_bytes() {
            self.transmits.push_back(Transmit {
                transport: rx.transport,
                destination: dest,
                contents,
            });
        }
    }

    fn fire(&mut self, now: Instant, kind: TimerKind) {
        match kind {
            TimerKind::Keepalive(call, gen) => self.on_keepalive(now, call, gen),
            TimerKind::Ok2xx(call, gen) => self.on_ok_timer(now, call, gen),
            TimerKind::Rel1xx(call, gen) => self.on_rel_timer(now, call, gen),
            TimerKind::Session(call, gen) => self.on_session_timer(now, call, gen),
            TimerKind::Purge(call) => self.purge(call),
            TimerKind::ReinviteOk(call, gen) => self.on_reinvite_ok_timer(now, call, gen),
            TimerKind::Registration(h, gen) => self.on_registration_timer(now, HandlerId(h), gen),
        }
    }

    /// Calls not finished yet, by ascending id (not the finished records lingering 64·T1).
    pub(crate) fn live_calls(&self) -> impl Iterator<Item = &Call> {
        self.live.iter().filter_map(|id| self.calls.get(id))
    }

    /// Drops a finished call's record (its view is already on the recent list).
    fn purge(&mut self, call: u64) {
        if let Some(c) = self.calls.remove(&call) {
            self.live.remove(&call);
            self.live_views.remove(&call);
            self.dialogs.remove(&*c.carrier.call_id);
            for leg in &c.legs {
                self.dialogs.remove(&leg.call_id);
            }
            self.invites.remove(&c.carrier.key);
        }
    }

    /// How long a finished call's record stays live for stray messages (64·T1).
    pub(crate) fn linger(&self) -> Duration {
        self.timers.t1_x64()
    }
}

/// A request as received, kept to answer it later.
#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    pub(crate) transport: Transport,
    pub(crate) source: SocketAddr,
    pub(crate) req: Arc<Message>,
    /// Why the body is missing, for an emergency INVITE served without it.
    pub(crate) body_dropped: Option<sip::DroppedBody>,
    /// What was repaired in the datagram's framing, for an emergency INVITE over UDP.
    pub(crate) framing_repaired: Option<sip::lenient::Repairs>,
}

/// The repairs [`Engine::handle_received`] already made to a message (each at most once).
#[derive(Debug, Clone, Copy, Default)]
struct Repaired {
    /// The header section was made valid UTF-8.
    utf8: bool,
    /// The datagram's framing was repaired.
    framing: Option<sip::lenient::Repairs>,
}

/// Skills from config names; none listed → every class skill.
pub(crate) fn skills_from(names: &[String]) -> Skills {
    let mut s = Skills::NONE;
    for n in names {
        if let Some(k) = Skills::from_name(n, &[]) {
            s = s | k;
        }
    }
    if s == Skills::NONE {
        Skills::EMERGENCY | Skills::NON_EMERGENCY | Skills::ADMIN
    } else {
        s
    }
}

fn fallback_router() -> Router {
    // QueueConfig::default() validates (queue module tests); this only keeps `new` total.
    let mut cfg = QueueConfig::default();
    cfg.ring_timeout_ms = cfg.ring_timeout_ms.max(1);
    match Router::new(cfg) {
        Ok(r) => r,
        Err(_) => fallback_router(),
    }
}

/// `datagram` with its header section ([`sip::header_section_len`], or all of it when the
/// parser finds none) made valid UTF-8 by replacing every invalid sequence with U+FFFD;
/// the body after it is copied unchanged, so Content-Length still holds.
fn utf8_lossy_head(datagram: &[u8], limits: &sip::Limits) -> Vec<u8> {
    let end = sip::header_section_len(datagram, limits).unwrap_or(datagram.len());
    let (head, body) = datagram.split_at(end.min(datagram.len()));
    let mut out = String::from_utf8_lossy(head).into_owned().into_bytes();
    out.extend_from_slice(body);
    out
}
