//! Registrar for softphone handlers (RFC 3261 §10.3) with digest authentication (§22.4,
//! RFC 7616, RFC 8760: SHA-256 and MD5 challenges). A user who registers becomes a
//! queue-core handler and is logged in (Available); when the last binding is removed or
//! expires the handler is logged out. Contact values are stored exactly as sent.
//!
//! INVITEs to a registered handler go to the Contact URI as Request-URI, sent to the
//! address the REGISTER came from (the registrar sees the phone's public address; this is
//! what RFC 5626 outbound does for phones behind NAT).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::endpoint::{skills_from, Engine, Inbound, TimerKind};
use super::types::EngineEvent;
use super::util::uri_of;
use super::Transport;
use crate::queue::{HandlerId, RequestedState, Skills};
use crate::sip::digest::{AuthError, Authorization};
use crate::sip::header::Contact;
use crate::sip::transaction::ServerKey;
use crate::sip::HeaderName;

/// Most bindings per user.
pub const MAX_BINDINGS_PER_USER: usize = 8;
/// Default registration lifetime when the phone asks for none, s (RFC 3261 §10.2.1.1).
pub const DEFAULT_EXPIRES_S: u32 = 3600;

/// One registration binding.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    /// The Contact value exactly as sent (display name, URI, every parameter).
    pub(crate) value: String,
    /// Its URI.
    pub(crate) uri: String,
    /// Where the REGISTER came from.
    pub(crate) transport: Transport,
    pub(crate) source: SocketAddr,
    pub(crate) expires_at: Instant,
    pub(crate) refreshed: Instant,
}

/// A handler: a configured seat or a registered user.
#[derive(Debug, Clone)]
pub(crate) struct HandlerInfo {
    pub(crate) name: Arc<str>,
    pub(crate) seat: bool,
    #[allow(dead_code)]
    pub(crate) skills: Skills,
    /// Request-URI for INVITEs.
    pub(crate) contact: Option<Arc<str>>,
    /// Where INVITEs are sent.
    pub(crate) dest: Option<(Transport, SocketAddr)>,
    pub(crate) bindings: Vec<Binding>,
    pub(crate) reg_gen: u32,
    /// Parked NotReady("missed calls") by ring-no-answer (for the log lines).
    pub(crate) rona_parked: bool,
    /// `offer_body = "sdp-only"`: INVITEs carry the caller's SDP alone.
    pub(crate) sdp_only: bool,
}

impl HandlerInfo {
    pub(crate) fn new(name: &str, seat: bool, skills: Skills) -> Self {
        HandlerInfo {
            name: name.into(),
            seat,
            skills,
            contact: None,
            dest: None,
            bindings: Vec::new(),
            reg_gen: 0,
            rona_parked: false,
            sdp_only: false,
        }
    }
}

impl Engine {
    fn now_s(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_secs()
    }

    fn challenge(&mut self, now: Instant, inb: &Inbound, key: ServerKey, stale: bool) {
        let values = self
            .digest
            .challenge(self.now_s(now), self.ids.next(), stale);
        let extra: Vec<(&str, &str)> = values
            .iter()
            .map(|v| ("WWW-Authenticate", v.as_str()))
            .collect();
        self.answer_new(now, inb, key, 401, "Unauthorized", &extra);
    }

    /// REGISTER (RFC 3261 §10.3): authenticate, then add, refresh, remove or list
    /// bindings.
    pub(crate) fn on_register(&mut self, now: Instant, inb: Inbound, key: ServerKey) {
        let Some(auth_value) = inb.req.get(HeaderName::Authorization).map(str::to_owned) else {
            self.challenge(now, &inb, key, false);
            return;
        };
        let auth = match Authorization::parse(&auth_value) {
            Ok(a) => a,
            Err(e) => {
                let reason = format!("Bad Request (Authorization: {e})").replace(['\r', '\n'], " ");
                self.answer_new(now, &inb, key, 400, &reason, &[]);
                return;
            }
        };
        let ruri = inb.req.request_uri_str().unwrap_or("").to_owned();
        let user =
            match self
                .digest
                .verify(self.now_s(now), "REGISTER", &ruri, &auth, &self.passwords)
            {
                Ok(a) => a.username,
                Err(AuthError::Stale) => {
                    self.challenge(now, &inb, key, true);
                    return;
                }
                Err(e) => {
                    self.answer_new(now, &inb, key, 403, "Forbidden", &[]);
                    self.notice(format!("REGISTER from {} refused: {e}", inb.source));
                    return;
                }
            };
        // The address-of-record must be the authenticated user's (RFC 3261 §10.3 step 6).
        let to_user = inb
            .req
            .to()
            .and_then(|t| t.uri.user().map(str::to_owned))
            .unwrap_or_default();
        if to_user != user {
            self.answer_new(
                now,
                &inb,
                key,
                403,
                "Forbidden (To is not the authenticated user)",
                &[],
            );
            return;
        }
        let header_expires = inb.req.expires_s().ok().flatten();
        let min = self.config.sip.min_register_expires_s;
        let max = self.config.sip.max_register_expires_s;
        // Collect the requested changes first (§10.3 step 6–7: all or nothing).
        let mut changes: Vec<(String, String, u32)> = Vec::new();
        let mut wildcard = false;
        for v in inb.req.values(HeaderName::Contact) {
            match Contact::parse(v) {
                Ok(Contact::Wildcard) => wildcard = true,
                Ok(c @ Contact::Addr(_)) => {
                    let e = c
                        .expires_s()
                        .or(header_expires)
                        .unwrap_or(DEFAULT_EXPIRES_S);
                    if e != 0 && e < min {
                        let m = min.to_string();
                        self.answer_new(
                            now,
                            &inb,
                            key,
                            423,
                            "Interval Too Brief",
                            &[("Min-Expires", &m)],
                        );
                        return;
                    }
                    changes.push((v.trim().to_owned(), uri_of(v).to_owned(), e.min(max)));
                }
                Err(_) => {
                    self.answer_new(now, &inb, key, 400, "Bad Request (malformed Contact)", &[]);
                    return;
                }
            }
        }
        if wildcard && (!changes.is_empty() || header_expires != Some(0)) {
            self.answer_new(
                now,
                &inb,
                key,
                400,
                "Bad Request (Contact: * needs Expires: 0)",
                &[],
            );
            return;
        }
        let id = match self.handler_by_name.get(&user) {
            Some(&id) => id,
            None => {
                if self.handlers.len()
                    >= self.config.limits.max_registrations + self.config.seats.len()
                {
                    self.answer_new(
                        now,
                        &inb,
                        key,
                        503,
                        "Service Unavailable (registrations full)",
                        &[],
                    );
                    return;
                }
                let cfg = self.config.users.iter().find(|u| u.name == user);
                let skills = cfg
                    .map(|u| skills_from(&u.skills))
                    .unwrap_or_else(|| skills_from(&[]));
                let sdp_only =
                    cfg.is_some_and(|u| u.offer_body == crate::config::OfferBody::SdpOnly);
                let id = self.add_handler(now, &user, false, skills);
                if let Some(h) = self.handlers.get_mut(id.0 as usize) {
                    h.sdp_only = sdp_only;
                }
                id
            }
        };
        let (had, has, contacts) = {
            let Some(h) = self.handlers.get_mut(id.0 as usize) else {
                return;
            };
            let had = !h.bindings.is_empty();
            if wildcard {
                h.bindings.clear();
            }
            for (value, uri, e) in changes {
                h.bindings.retain(|b| b.uri != uri);
                if e > 0 {
                    h.bindings.push(Binding {
                        value,
                        uri,
                        transport: inb.transport,
                        source: inb.source,
                        expires_at: now + Duration::from_secs(u64::from(e)),
                        refreshed: now,
                    });
                }
            }
            while h.bindings.len() > MAX_BINDINGS_PER_USER {
                h.bindings.remove(0);
            }
            // INVITEs go to the most recently refreshed binding.
            match h.bindings.iter().max_by_key(|b| b.refreshed) {
                Some(b) => {
                    h.contact = Some(b.uri.as_str().into());
                    h.dest = Some((b.transport, b.source));
                }
                None => {
                    h.contact = None;
                    h.dest = None;
                }
            }
            let contacts: Vec<String> = h
                .bindings
                .iter()
                .map(|b| {
                    let left = b.expires_at.saturating_duration_since(now).as_secs();
                    if has_expires_param(&b.value) {
                        b.value.clone()
                    } else {
                        format!("{};expires={left}", b.value)
                    }
                })
                .collect();
            (had, !h.bindings.is_empty(), contacts)
        };
        let extra: Vec<(&str, &str)> = contacts.iter().map(|c| ("Contact", c.as_str())).collect();
        self.answer_new(now, &inb, key, 200, "OK", &extra);
        if let Some(h) = self.handlers.get(id.0 as usize) {
            for b in &h.bindings {
                if b.refreshed == now {
                    self.events.push_back(EngineEvent::Registered {
                        user: user.clone(),
                        contact: b.value.clone(),
                        expires_s: u32::try_from(
                            b.expires_at.saturating_duration_since(now).as_secs(),
                        )
                        .unwrap_or(u32::MAX),
                    });
                }
            }
        }
        self.after_binding_change(now, id, had, has);
    }

    fn after_binding_change(&mut self, now: Instant, id: HandlerId, had: bool, has: bool) {
        let logged_out = matches!(
            self.router.handler_state(id),
            Some(crate::queue::HandlerState::LoggedOut) | None
        );
        if has && logged_out {
            self.set_router_state(now, id, RequestedState::Available);
        } else if has {
            // A successful REGISTER refresh shows the phone is alive: a handler parked
            // NotReady by ring-no-answer comes back (queue.rona_not_ready_s is the other
            // way back); any other state is left alone.
            self.handler_alive(now, id, "REGISTER refresh");
        } else if !has && (had || !logged_out) {
            self.set_router_state(now, id, RequestedState::LoggedOut);
            let name = self.handler_name(id);
            self.events.push_back(EngineEvent::Unregistered {
                user: name.to_string(),
            });
        }
        // Re-arm the expiry timer at the earliest binding expiry.
        if let Some(h) = self.handlers.get_mut(id.0 as usize) {
            h.reg_gen = h.reg_gen.wrapping_add(1);
            let gen = h.reg_gen;
            if let Some(at) = h.bindings.iter().map(|b| b.expires_at).min() {
                self.arm(at, TimerKind::Registration(id.0, gen));
            }
        }
    }

    pub(crate) fn on_registration_timer(&mut self, now: Instant, id: HandlerId, gen: u32) {
        let (had, has) = {
            let Some(h) = self.handlers.get_mut(id.0 as usize) else {
                return;
            };
            if h.reg_gen != gen {
                return;
            }
            let had = !h.bindings.is_empty();
            h.bindings.retain(|b| b.expires_at > now);
            match h.bindings.iter().max_by_key(|b| b.refreshed) {
                Some(b) => {
                    h.contact = Some(b.uri.as_str().into());
                    h.dest = Some((b.transport, b.source));
                }
                None => {
                    h.contact = None;
                    h.dest = None;
                }
            }
            (had, !h.bindings.is_empty())
        };
        self.after_binding_change(now, id, had, has);
    }
}

fn has_expires_param(contact: &str) -> bool {
    Contact::parse(contact)
        .ok()
        .and_then(|c| c.addr().map(|a| a.params.contains("expires")))
        .unwrap_or(false)
}
