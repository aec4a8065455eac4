//! Stateless helpers of the engine: response construction and routing (RFC 3261 §8.2.6,
//! §18.2.1–§18.2.2, RFC 3581 rport), destinations from URIs, SDP extraction from a
//! multipart body (RFC 2046 §5.1), tags and branches, and the packet type the transaction
//! table carries.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::Transport;
use crate::location::multipart::{MediaType, Multipart, MultipartLimits};
use crate::sip::header::Via;
use crate::sip::transaction::{KeyError, ServerKey};
use crate::sip::{HeaderName, Host, Message, Uri};

/// The warn-agent in `Warning` headers (RFC 3261 §20.43).
pub(crate) const AGENT: &str = "answerpoint";

/// A SIP message with where it goes (outgoing) or where it came from (received): the `M`
/// of the transaction table. Cheap to clone (retransmissions share the bytes).
#[derive(Debug, Clone)]
pub(crate) struct Pkt(pub(crate) Arc<PktInner>);

#[derive(Debug)]
pub(crate) struct PktInner {
    pub(crate) transport: Transport,
    /// Destination (outgoing) or source (received).
    pub(crate) peer: SocketAddr,
    /// The parsed message: always for received packets and our requests; `None` for
    /// responses we write directly as bytes (never read back).
    pub(crate) msg: Option<Arc<Message>>,
    /// Serialized message for outgoing packets; empty for received ones.
    pub(crate) bytes: Vec<u8>,
}

impl Pkt {
    /// An outgoing message.
    pub(crate) fn out(transport: Transport, peer: SocketAddr, msg: Message) -> Pkt {
        let bytes = msg.to_bytes();
        Pkt(Arc::new(PktInner {
            transport,
            peer,
            msg: Some(Arc::new(msg)),
            bytes,
        }))
    }

    /// Outgoing bytes written directly (responses).
    pub(crate) fn raw(transport: Transport, peer: SocketAddr, bytes: Vec<u8>) -> Pkt {
        Pkt(Arc::new(PktInner {
            transport,
            peer,
            msg: None,
            bytes,
        }))
    }

    /// A received message.
    pub(crate) fn received(transport: Transport, peer: SocketAddr, msg: Arc<Message>) -> Pkt {
        Pkt(Arc::new(PktInner {
            transport,
            peer,
            msg: Some(msg),
            bytes: Vec::new(),
        }))
    }

    /// The message, if kept.
    pub(crate) fn msg(&self) -> Option<&Message> {
        self.0.msg.as_deref()
    }

    /// The message, parsing the bytes of one we wrote directly (rare paths: CANCEL and
    /// the ACK for a non-2xx need the INVITE's fields).
    pub(crate) fn parsed(&self) -> Option<Arc<Message>> {
        match &self.0.msg {
            Some(m) => Some(m.clone()),
            None => crate::sip::parse(&self.0.bytes).ok().map(Arc::new),
        }
    }
}

/// Writes a response to `req` directly as bytes (RFC 3261 §8.2.6.2): every Via (the top
/// one with `received`/`rport`, §18.2.1, RFC 3581), From, To (with `to_tag` added if it has
/// none), Call-ID, CSeq, Timestamp for 100, Record-Route for 101–299, then `extra` and the
/// body. Values come from the parsed request (no CR/LF) or from the engine; any CR/LF is
/// replaced by a space regardless. Returns the bytes and the destination (§18.2.2).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_response(
    transport: Transport,
    source: SocketAddr,
    req: &Message,
    status: u16,
    reason: &str,
    to_tag: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Option<(Vec<u8>, SocketAddr)> {
    fn put(out: &mut Vec<u8>, name: &str, value: &str) {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        for b in value.bytes() {
            out.push(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        out.extend_from_slice(b"\r\n");
    }
    let body_len = body.map(|(_, b)| b.len()).unwrap_or(0);
    let mut out = Vec::with_capacity(512 + body_len);
    out.extend_from_slice(b"SIP/2.0 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    for b in reason.bytes() {
        out.push(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.extend_from_slice(b"\r\n");
    let mut dest = source;
    for (i, v) in req.values(HeaderName::Via).enumerate() {
        if i == 0 {
            let via = Via::parse(v).ok()?;
            dest = response_destination(transport, source, &via);
            put(&mut out, "Via", &via_with_received(v, source));
        } else {
            put(&mut out, "Via", v);
        }
    }
    for f in req.fields() {
        match f.name {
            HeaderName::To => match to_tag {
                Some(tag)
                    if !crate::sip::header::NameAddr::parse(f.value)
                        .map(|a| a.tag().is_some())
                        .unwrap_or(false) =>
                {
                    put(&mut out, "To", &format!("{};tag={tag}", f.value.trim_end()));
                }
                _ => put(&mut out, "To", f.value),
            },
            HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                put(&mut out, f.name.as_str(), f.value)
            }
            HeaderName::Timestamp if status == 100 => put(&mut out, "Timestamp", f.value),
            HeaderName::RecordRoute if (101..300).contains(&status) => {
                put(&mut out, "Record-Route", f.value)
            }
            _ => {}
        }
    }
    for (n, v) in extra {
        if crate::sip::scan::is_token(n) {
            put(&mut out, n, v);
        }
    }
    if let Some((ct, _)) = body {
        put(&mut out, "Content-Type", ct);
    }
    put(&mut out, "Content-Length", &body_len.to_string());
    out.extend_from_slice(b"\r\n");
    if let Some((_, b)) = body {
        out.extend_from_slice(b);
    }
    Some((out, dest))
}

/// A socket address from a SIP URI whose host is an IP literal (no DNS in the core, RFC
/// 3263 resolution is not done): port defaults to 5060, `transport=tcp` selects TCP.
pub(crate) fn uri_destination(uri: &str) -> Option<(Transport, SocketAddr)> {
    let u = Uri::parse(uri.trim()).ok()?;
    let sip = u.sip()?;
    let ip: IpAddr = match sip.host {
        Host::V4(a) => IpAddr::V4(a),
        Host::V6(t) => t.parse().ok()?,
        Host::Name(n) => n.parse().ok()?,
    };
    let transport = match sip.params.get("transport").flatten() {
        Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
        _ => Transport::Udp,
    };
    Some((transport, SocketAddr::new(ip, sip.port.unwrap_or(5060))))
}

/// `(content type, bytes)` of the SDP in an INVITE body: the body itself when it is
/// `application/sdp`, the first `application/sdp` part of a `multipart/mixed` body.
pub(crate) fn extract_sdp<'a>(content_type: Option<&'a str>, body: &'a [u8]) -> Option<&'a [u8]> {
    let ct = content_type?;
    let mt = MediaType::parse(ct)?;
    if mt.is("application", "sdp") {
        return Some(body);
    }
    if mt.type_ == "multipart" {
        let mp = Multipart::parse(ct, body, &MultipartLimits::default()).ok()?;
        return mp
            .parts
            .iter()
            .find(|p| p.media_type().is_some_and(|m| m.is("application", "sdp")))
            .map(|p| p.body);
    }
    None
}

/// `true` when an INVITE body of this type can be served: none, `application/sdp` or
/// `multipart/mixed` (RFC 3261 §8.2.3: otherwise 415).
pub(crate) fn body_type_ok(content_type: Option<&str>, body: &[u8]) -> bool {
    if body.is_empty() {
        return true;
    }
    match content_type.and_then(MediaType::parse) {
        Some(mt) => mt.is("application", "sdp") || mt.is("multipart", "mixed"),
        None => false,
    }
}

/// A small fast generator for tags, branches and Call-IDs (splitmix64; seeded once from
/// the OS at engine creation). Not for secrets.
#[derive(Debug, Clone)]
pub(crate) struct Ids(u64);

impl Ids {
    pub(crate) fn new(seed: u64) -> Ids {
        Ids(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A From/To tag (RFC 3261 §19.3: at least 32 bits of randomness).
    pub(crate) fn tag(&mut self) -> String {
        format!("{:016x}", self.next())
    }

    /// A branch with the RFC 3261 magic cookie (§8.1.1.7).
    pub(crate) fn branch(&mut self) -> String {
        format!("z9hG4bK{:016x}{:08x}", self.next(), self.next() as u32)
    }
}

/// The transport token for a Via (`UDP`, `TCP`).
pub(crate) fn via_transport(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    }
}

/// `host:port` text of an address for Via / Contact (IPv6 in brackets).
pub(crate) fn hostport(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v) => format!("{}:{}", v.ip(), v.port()),
        SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
    }
}

/// `host[:port]` of a Via sent-by as text, for transaction keys (RFC 3261 §17.2.3).
pub(crate) fn sent_by(via: &Via<'_>) -> String {
    match via.port {
        Some(p) => format!("{}:{}", via.host.to_uri_string(), p),
        None => via.host.to_uri_string(),
    }
}

/// The URI inside a name-addr or addr-spec header value (`"A" <sip:a@b>;tag=1` → `sip:a@b`).
pub(crate) fn uri_of(value: &str) -> &str {
    let v = value.trim();
    if let Some(start) = v.find('<') {
        if let Some(len) = v.get(start + 1..).and_then(|r| r.find('>')) {
            return v.get(start + 1..start + 1 + len).unwrap_or(v);
        }
    }
    v.split(';').next().unwrap_or(v).trim()
}

/// Methods we serve (RFC 3261 §20.5).
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO";
/// Option tags we support (RFC 3262 100rel, RFC 4028 timer).
pub(crate) const SUPPORTED: &str = "100rel, timer";
/// The option tags of [`SUPPORTED`], for `Require` checks (RFC 3261 §8.2.2.3).
pub(crate) const SUPPORTED_TAGS: &[&str] = &["100rel", "timer"];

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
        // An empty parameter (`…:5060;`, which the parser tolerates) is not echoed: the
        // answer's Via must parse (RFC 3261 §20.42 via-params are tokens).
        if i > 0 && (name.is_empty() || name.eq_ignore_ascii_case("received")) {
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

/// The server transaction key of a received request (RFC 3261 §17.2.3): from the top
/// Via's branch and sent-by, or, for an RFC 2543 peer (no branch, or one without the
/// magic cookie), from the fields that peer's requests are matched on
/// ([`ServerKey::rfc2543`]). `None` when neither can be built (no Via, a sent-by or
/// branch over its length limit, no CSeq).
pub(crate) fn server_key(req: &Message, method: &str) -> Option<ServerKey> {
    let via = req.top_via()?;
    let sent_by = sent_by(&via);
    match via.branch().map(|b| ServerKey::new(b, &sent_by, method)) {
        Some(Ok(key)) => Some(key),
        Some(Err(KeyError::Rfc2543Branch(_) | KeyError::MissingBranch)) | None => {
            ServerKey::rfc2543(
                req.request_uri_str()?,
                req.from().and_then(|f| f.tag()).unwrap_or(""),
                req.call_id()?,
                req.cseq()?.seq,
                req.values(HeaderName::Via).next()?,
                &sent_by,
                method,
            )
            .ok()
        }
        Some(Err(_)) => None,
    }
}

/// For a request that does not parse as a whole: the Via, From, To, Call-ID and CSeq
/// lines, if the header section can be read line by line, so a stateless error can still
/// be routed (RFC 3261 §8.2.6.2). Via lines are kept as received, whether or not they
/// parse (the answer echoes them; [`answer_via`] reads the topmost value); the others
/// only when well-formed. `None` without any Via line.
pub(crate) fn salvage_head(bytes: &[u8]) -> Option<Vec<(HeaderName, String)>> {
    let cap = bytes.len().min(16 * 1024);
    let text = std::str::from_utf8(bytes.get(..cap)?).ok().or_else(|| {
        // Cut at the last valid UTF-8 boundary.
        let valid = std::str::from_utf8(bytes.get(..cap)?).err()?.valid_up_to();
        std::str::from_utf8(bytes.get(..valid)?).ok()
    })?;
    let mut out = Vec::new();
    // Lines end in CRLF, or a bare LF (RFC 3261 §7.5 liberal reading, as the parser).
    for line in text.split('\n').skip(1).take(128) {
        let line = line.strip_suffix('\r').unwrap_or(line);
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
            && header_value_ok(id, value.trim())
        {
            out.push((id, value.trim().to_owned()));
        }
    }
    out.iter()
        .any(|(n, _)| *n == HeaderName::Via)
        .then_some(out)
}

/// The topmost Via line of a stateless answer and where the answer goes: when the line's
/// first value parses, `received`/`rport` are added to it (RFC 3261 §18.2.1, RFC 3581)
/// and the answer is routed by it (§18.2.2); when it does not, the line is echoed as
/// received and the answer goes back to `source`, where the request came from (the only
/// address known; RFC 3581 §4). The rest of the line (lower values) is kept as received.
pub(crate) fn answer_via(
    transport: Transport,
    source: SocketAddr,
    line: &str,
) -> (String, SocketAddr) {
    let first = crate::sip::scan::CommaSplit::new(line).next().unwrap_or("");
    match Via::parse(first) {
        Ok(via) if !first.is_empty() => {
            let rest = line
                .find(first)
                .and_then(|at| line.get(at + first.len()..))
                .unwrap_or("");
            (
                format!("{}{rest}", via_with_received(first, source)),
                response_destination(transport, source, &via),
            )
        }
        _ => (line.to_owned(), source),
    }
}

/// `true` when a salvaged header value is well-formed, so the answer built from it parses.
fn header_value_ok(name: HeaderName, value: &str) -> bool {
    use crate::sip::header::{CSeq, NameAddr};
    match name {
        // Kept even when empty: echoed, so the sender sees its own (empty) Via.
        HeaderName::Via => true,
        HeaderName::From | HeaderName::To => NameAddr::parse(value).is_ok(),
        HeaderName::CSeq => CSeq::parse(value).is_ok(),
        HeaderName::CallId => !value.is_empty() && !value.contains(char::is_whitespace),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_via_reads_the_first_value_and_echoes_what_it_cannot_read() {
        let src: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let two = "SIP/2.0/UDP 192.0.2.7:5099;branch=z9hG4bKa , SIP/2.0/TCP up;branch=z9hG4bKb";
        // The whole line is no single Via (why salvaging by line once found none).
        assert!(Via::parse(two).is_err());
        let (line, to) = answer_via(Transport::Udp, src, two);
        assert_eq!(
            line,
            "SIP/2.0/UDP 192.0.2.7:5099;branch=z9hG4bKa;received=127.0.0.1 , SIP/2.0/TCP up;branch=z9hG4bKb"
        );
        assert_eq!(to, "127.0.0.1:5099".parse().unwrap());
        for bad in [
            "garbage!!",
            "SIP/2.0 host, SIP/2.0/UDP ok;branch=z9hG4bKc",
            "",
        ] {
            assert_eq!(answer_via(Transport::Udp, src, bad), (bad.to_owned(), src));
        }
    }

    #[test]
    fn via_with_received_drops_empty_parameters_so_the_answer_parses() {
        let src: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let v = via_with_received("SIP/2.0/UDP 192.0.2.10:5060;", src);
        assert_eq!(v, "SIP/2.0/UDP 192.0.2.10:5060;received=127.0.0.1");
        let v = via_with_received("SIP/2.0/UDP h;branch=z9hG4bK1;;rport; ;received=x", src);
        assert_eq!(
            v,
            "SIP/2.0/UDP h;branch=z9hG4bK1;rport=5070;received=127.0.0.1"
        );
        assert!(crate::sip::header::Via::parse(&v).is_ok());
    }
}
