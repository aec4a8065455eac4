//! The [`Engine`] state and its input handlers.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::types::*;
use super::Transport;
use crate::config::Config;
use crate::queue::{QueueConfig, Router};
use crate::sip::header::Via;
use crate::sip::{self, HeaderName, Message, MessageBuilder, Method};

/// The warn-agent in `Warning` headers (RFC 3261 §20.43).
pub(crate) const AGENT: &str = "answerpoint";

/// The B2BUA. See the [module docs](super).
pub struct Engine {
    start: Instant,
    last_now: Instant,
    limits: sip::Limits,
    config: Config,
    local_udp: Option<SocketAddr>,
    local_tcp: Option<SocketAddr>,
    router: Router,
    transmits: VecDeque<Transmit>,
    events: VecDeque<EngineEvent>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// A new engine for a validated `config`, created at `now`.
    pub fn new(config: &Config, now: Instant) -> Self {
        let limits = sip::Limits {
            max_message_bytes: config.limits.max_message_bytes,
            max_headers: config.limits.max_headers,
            ..sip::Limits::default()
        };
        let qcfg = queue_config(config);
        let router = match Router::new(qcfg) {
            Ok(r) => r,
            Err(_) => match Router::new(QueueConfig::default()) {
                Ok(r) => r,
                Err(_) => unreachable_router(),
            },
        };
        Engine {
            start: now,
            last_now: now,
            limits,
            config: config.clone(),
            local_udp: None,
            local_tcp: None,
            router,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The addresses the engine advertises in Via/Contact per transport.
    pub fn set_local_address(&mut self, transport: Transport, addr: SocketAddr) {
        match transport {
            Transport::Udp => self.local_udp = Some(addr),
            Transport::Tcp => self.local_tcp = Some(addr),
        }
    }

    /// One message from the network.
    pub fn handle_received(&mut self, now: Instant, msg: Received<'_>) {
        self.last_now = now;
        let parsed = match sip::parse_with(msg.bytes, &self.limits) {
            Ok(m) => m,
            Err(e) => {
                if !sip::is_response_start(msg.bytes) {
                    self.stateless_parse_error(&msg, &e);
                }
                return;
            }
        };
        if parsed.is_request() {
            self.handle_request(now, &msg, parsed);
        }
    }

    /// Fires timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        self.router.handle_timeout(now);
    }

    /// A supervisor command.
    pub fn handle_command(&mut self, now: Instant, cmd: Command) -> Result<(), CommandError> {
        self.last_now = now;
        match cmd {
            Command::SetHandlerState { handler, .. } | Command::EndWrapUp { handler } => {
                Err(CommandError::UnknownHandler(handler))
            }
            Command::CallbackDone { callback } => {
                self.router
                    .handle(now, crate::queue::Event::CallbackDone { callback })?;
                Ok(())
            }
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Earliest instant at which [`Engine::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.router.poll_timeout()
    }

    /// The next call or handler event.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// Read-only snapshot.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            now_ms: self.ms(self.last_now),
            calls: Vec::new(),
            queue: self.router.snapshot(self.last_now, usize::MAX),
            handlers: Vec::new(),
            registrations: Vec::new(),
        }
    }

    fn ms(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX)
    }

    fn handle_request(&mut self, _now: Instant, rx: &Received<'_>, req: Message) {
        if let Err(fault) = sip::validate::validate_request(&req) {
            let warning = format!("399 {AGENT} \"{fault}\"").replace(['\r', '\n'], " ");
            self.reply_stateless(
                rx,
                &req,
                fault.status_code(),
                &fault.reason_phrase(),
                &[("Warning", &warning)],
            );
            return;
        }
        match req.method() {
            Some(Method::Ack) => {}
            Some(Method::Options) => {
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
            }
            _ => self.reply_stateless(rx, &req, 501, "Not Implemented", &[]),
        }
    }

    fn stateless_parse_error(&mut self, rx: &Received<'_>, e: &sip::ParseError) {
        // Without a parsed request there are no Via/From/To to copy (RFC 3261 §8.2.6.2),
        // so nothing can be routed back except over the same stream or to the source.
        let Some(head) = salvage_head(rx.bytes) else {
            self.events.push_back(EngineEvent::Refused {
                source: rx.source,
                status: e.status_code(),
                reason: e.to_string(),
            });
            return;
        };
        let mut b = MessageBuilder::response(e.status_code(), &e.reason_phrase());
        let mut first_via = true;
        for (name, value) in &head {
            if *name == HeaderName::Via && first_via {
                first_via = false;
                b = b.header("Via", &via_with_received(value, rx.source));
            } else {
                b = b.header(name.as_str(), value);
            }
        }
        b = b.header("Warning", &e.warning_value(AGENT));
        let dest = head
            .iter()
            .find(|(n, _)| *n == HeaderName::Via)
            .and_then(|(_, v)| Via::parse(v).ok())
            .map(|v| response_destination(rx.transport, rx.source, &v))
            .unwrap_or(rx.source);
        match b.build() {
            Ok(m) => self.transmits.push_back(Transmit {
                transport: rx.transport,
                destination: dest,
                contents: m.to_bytes(),
            }),
            Err(_) => {}
        }
        self.events.push_back(EngineEvent::Refused {
            source: rx.source,
            status: e.status_code(),
            reason: e.to_string(),
        });
    }

    /// Answers `req` outside any transaction (RFC 3261 §8.2.6).
    fn reply_stateless(
        &mut self,
        rx: &Received<'_>,
        req: &Message,
        status: u16,
        reason: &str,
        extra: &[(&str, &str)],
    ) {
        if let Some(t) = self.response_to(rx, req, status, reason, extra, None) {
            self.transmits.push_back(t);
        }
        if status >= 300 {
            self.events.push_back(EngineEvent::Refused {
                source: rx.source,
                status,
                reason: reason.to_owned(),
            });
        }
    }

    /// Builds a response to `req` with `received`/`rport` on the top Via, addressed per
    /// RFC 3261 §18.2.2.
    fn response_to(
        &self,
        rx: &Received<'_>,
        req: &Message,
        status: u16,
        reason: &str,
        extra: &[(&str, &str)],
        to_tag: Option<&str>,
    ) -> Option<Transmit> {
        let (b, dest) = response_builder(rx.transport, rx.source, req, status, reason)?;
        let mut b = b;
        if let Some(tag) = to_tag {
            b = b.to_tag(tag);
        } else if status != 100 {
            b = b.to_tag(&stateless_tag(req));
        }
        for (n, v) in extra {
            b = b.header(n, v);
        }
        let m = b.build().ok()?;
        Some(Transmit {
            transport: rx.transport,
            destination: dest,
            contents: m.to_bytes(),
        })
    }
}

/// Methods we serve (RFC 3261 §20.5).
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO";
/// Option tags we support (RFC 3262 100rel, RFC 4028 timer).
pub(crate) const SUPPORTED: &str = "100rel, timer";

fn unreachable_router() -> Router {
    // QueueConfig::default() always validates (tested in the queue module); this keeps
    // `new` total without a panic path.
    loop {
        if let Ok(r) = Router::new(QueueConfig::default()) {
            return r;
        }
    }
}

/// The `[queue]` table as a [`QueueConfig`]; the default if absent or invalid.
pub(crate) fn queue_config(config: &Config) -> QueueConfig {
    config
        .queue
        .clone()
        .and_then(|t| toml::Value::Table(t).try_into::<QueueConfig>().ok())
        .filter(|q| q.validate().is_ok())
        .unwrap_or_default()
}

/// A response to `req` (RFC 3261 §8.2.6.2) without To tag, with `received` (and `rport`
/// when asked, RFC 3581 §4) on the top Via, and its destination (§18.2.2).
pub(crate) fn response_builder(
    transport: Transport,
    source: SocketAddr,
    req: &Message,
    status: u16,
    reason: &str,
) -> Option<(MessageBuilder, SocketAddr)> {
    let mut b = MessageBuilder::response(status, reason);
    let mut dest = source;
    for (i, v) in req.values(HeaderName::Via).enumerate() {
        if i == 0 {
            let via = Via::parse(v).ok()?;
            dest = response_destination(transport, source, &via);
            b = b.header("Via", &via_with_received(v, source));
        } else {
            b = b.header("Via", v);
        }
    }
    for f in req.fields() {
        let copy = match f.name {
            HeaderName::From | HeaderName::To | HeaderName::CallId | HeaderName::CSeq => true,
            HeaderName::Timestamp => status == 100,
            HeaderName::RecordRoute => (101..300).contains(&status),
            _ => false,
        };
        if copy {
            b = b.header(f.name.as_str(), f.value);
        }
    }
    Some((b, dest))
}

/// Where a response goes (RFC 3261 §18.2.2, RFC 3581 §4): over a stream, back on the
/// connection (the source); over UDP, to the source address (the `received` address) at
/// the source port if `rport` was asked for, else at the sent-by port (default 5060).
pub(crate) fn response_destination(
    transport: Transport,
    source: SocketAddr,
    via: &Via<'_>,
) -> SocketAddr {
    match transport {
        Transport::Tcp => source,
        Transport::Udp => {
            if via.rport().is_some() {
                source
            } else {
                SocketAddr::new(source.ip(), via.port.unwrap_or(5060))
            }
        }
    }
}

/// The top Via value with `received` (always, RFC 3261 §18.2.1 allows it) and a filled
/// `rport` when the client asked for it (RFC 3581 §4).
pub(crate) fn via_with_received(value: &str, source: SocketAddr) -> String {
    let ip = match source.ip() {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    let mut out = String::with_capacity(value.len() + 40);
    let mut rport_filled = false;
    for (i, part) in value.split(';').enumerate() {
        let name = part.split('=').next().unwrap_or("").trim();
        if i > 0 && name.eq_ignore_ascii_case("received") {
            continue;
        }
        if i > 0 {
            out.push(';');
        }
        if i > 0 && name.eq_ignore_ascii_case("rport") {
            out.push_str(&format!("rport={}", source.port()));
            rport_filled = true;
            continue;
        }
        out.push_str(part.trim_end());
    }
    let _ = rport_filled;
    out.push_str(";received=");
    out.push_str(&ip);
    out
}

/// A To tag for stateless answers: derived from the request so retransmissions get the
/// same tag (RFC 3261 §8.2.6.2 only asks for one; stable is kinder).
pub(crate) fn stateless_tag(req: &Message) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in req
        .call_id()
        .unwrap_or("")
        .bytes()
        .chain(req.get(HeaderName::From).unwrap_or("").bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("sl{h:016x}")
}

/// For a request that does not parse as a whole: the Via, From, To, Call-ID and CSeq
/// lines, if the header section can be read line by line, so a stateless error can still
/// be routed (RFC 3261 §8.2.6.2). `None` when no Via is readable.
fn salvage_head(bytes: &[u8]) -> Option<Vec<(HeaderName, String)>> {
    let cap = bytes.len().min(16 * 1024);
    let text = std::str::from_utf8(bytes.get(..cap)?).ok().or_else(|| {
        // Cut at the last valid UTF-8 boundary.
        let valid = std::str::from_utf8(bytes.get(..cap)?).err()?.valid_up_to();
        std::str::from_utf8(bytes.get(..valid)?).ok()
    })?;
    let mut out = Vec::new();
    for line in text.split("\r\n").skip(1).take(128) {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let id = HeaderName::parse(name.trim());
        if matches!(
            id,
            HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
        ) && !value.contains('\r')
            && !value.contains('\n')
        {
            out.push((id, value.trim().to_owned()));
        }
    }
    let via_ok = out
        .iter()
        .find(|(n, _)| *n == HeaderName::Via)
        .is_some_and(|(_, v)| Via::parse(v).is_ok());
    if via_ok {
        Some(out)
    } else {
        None
    }
}
