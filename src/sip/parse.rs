//! The bounded SIP message parser (RFC 3261 §7, §18.3 framing, §25 grammar).
//!
//! One pass over the octets finds the start line and each header line (memchr on LF),
//! classifies header names, and records byte ranges. The header section is copied once
//! into the [`Message`]; folded lines are joined by overwriting CR/LF with spaces (same
//! length, so ranges stay valid). Then the headers that framing, transactions and
//! dialogs depend on are validated: the topmost Via value, From, To, Call-ID, CSeq,
//! Contact, Content-Length. Others are parsed on access.
//!
//! Liberal acceptance (RFC 3261 §7.5 / RFC 4475 §1 allow it) is used, and noted, for:
//! leading CRLFs before the start line; bare LF line endings; a status line with no
//! reason phrase and no trailing SP; `Date`, `Expires`, `Max-Forwards` values that are
//! out of range (not checked at parse time; their accessors report the error, so a
//! 999 call is never refused for a cosmetic header); the RFC 5118 §4.10 three-colon
//! IPv6 form; Via values below the topmost, which are not validated: responses carry
//! them back as received (RFC 3261 §8.2.6.2) and only the hop that added each one reads
//! it (§16.7, §18.2.2), so a fault in a lower Via is no reason to refuse (a 999) call.
//! Strict where RFC 4475 §3.1.2 lists the message as invalid.

use memchr::memchr2;

use super::error::ParseError;
use super::fast;
use super::header::{CSeq, Contact, HeaderName, NameAddr, Via};
use super::limits::Limits;
use super::message::{Field, Message, Span, Start};
use super::scan::{is_token, is_token_char, is_ws, parse_bounded_u64, CommaSplit};
use super::uri::{Uri, UriBody};

/// Parses one complete message from a datagram (or any buffer holding exactly one
/// message) with the default [`Limits`]. Datagram rules (RFC 3261 §18.3): without
/// Content-Length the body runs to the end; octets after Content-Length are ignored
/// (RFC 4475 §3.1.1.8); a Content-Length larger than what is present is an error.
pub fn parse(input: &[u8]) -> Result<Message, ParseError> {
    parse_with(input, &Limits::default())
}

/// [`parse`] with explicit limits.
pub fn parse_with(input: &[u8], limits: &Limits) -> Result<Message, ParseError> {
    if input.len() > limits.max_message_bytes {
        return Err(ParseError::MessageTooLarge {
            len: input.len(),
            max: limits.max_message_bytes,
        });
    }
    let scan = scan_head(input, limits, true)?.ok_or(ParseError::Unterminated)?;
    let available = input.len().saturating_sub(scan.body_start);
    let body_len = match (scan.content_length, scan.cl_conflict) {
        // Several different Content-Length values: the body length is unknowable; keep
        // the whole datagram and let `validate_request` answer 400 (RFC 4475 §3.3.9).
        (_, true) | (None, _) => available,
        (Some(cl), false) => {
            if cl > available {
                return Err(ParseError::ContentLengthExceedsDatagram {
                    declared: cl,
                    available,
                });
            }
            cl
        }
    };
    if body_len > limits.max_body_bytes {
        return Err(ParseError::BodyTooLarge {
            len: body_len,
            max: limits.max_body_bytes,
        });
    }
    let body = input
        .get(scan.body_start..scan.body_start + body_len)
        .unwrap_or_default();
    finish(input, scan, body)
}

/// Parses the header section at the start of `input` and ignores every octet after it:
/// the returned [`Message`] has an empty body (its `Content-Length` header is kept as
/// received). Used when a request's body has to be set aside but its header section is
/// sound, so that an emergency INVITE is still served (see [`DroppedBody`]). Same
/// limits and errors as [`parse_with`], except that Content-Length is not checked
/// against the octets present.
pub fn parse_head_with(input: &[u8], limits: &Limits) -> Result<Message, ParseError> {
    let scan = scan_head(input, limits, true)?.ok_or(ParseError::Unterminated)?;
    finish(input, scan, &[])
}

/// Length, octets, of the header section at the start of `input` as the parser reads it
/// (leading CRLFs, start line, header fields and the empty line that ends them, RFC 3261
/// §7; bare LF accepted), without building a message or checking UTF-8: where the body
/// starts.
///
/// # Errors
/// As [`parse_head_with`] for the header section: [`ParseError::Unterminated`] without an
/// empty line, [`ParseError::MessageTooLarge`] when the section alone exceeds
/// `limits.max_message_bytes`, line and field errors.
pub fn header_section_len(input: &[u8], limits: &Limits) -> Result<usize, ParseError> {
    Ok(scan_head(input, limits, true)?
        .ok_or(ParseError::Unterminated)?
        .body_start)
}

/// Why a request's body was set aside while its header section was kept (RFC 3261
/// §18.3). A non-emergency request in this state is refused with
/// [`DroppedBody::parse_error`]'s status; an emergency INVITE is served without its
/// body and the reason is recorded as a location error (DESIGN §5: a 999 call is never
/// refused for its body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DroppedBody {
    /// A datagram holding fewer body octets than its Content-Length: the message was
    /// truncated in transit (RFC 3261 §18.3 would discard it or answer 400).
    #[error(
        "body truncated (Content-Length {declared}, {received} octets received): body dropped"
    )]
    Truncated {
        /// Content-Length value, octets.
        declared: usize,
        /// Body octets present in the datagram.
        received: usize,
    },
    /// A stream message whose Content-Length exceeds the body room the limits leave
    /// ([`Limits::max_body_bytes`], and `max_message_bytes` minus the header section):
    /// the stream decoder skipped its body octets (RFC 3261 §21.4.12 would answer 413).
    #[error("body dropped: too large (Content-Length {declared}, at most {max} octets accepted)")]
    TooLarge {
        /// Content-Length value, octets.
        declared: usize,
        /// Largest body the limits allow for this message, octets.
        max: usize,
    },
}

impl DroppedBody {
    /// The error a non-emergency request in this state is refused with: 400 for a
    /// truncated datagram ([`ParseError::ContentLengthExceedsDatagram`]), 413 for an
    /// oversize body ([`ParseError::BodyTooLarge`]).
    pub fn parse_error(&self) -> ParseError {
        match *self {
            DroppedBody::Truncated { declared, received } => {
                ParseError::ContentLengthExceedsDatagram {
                    declared,
                    available: received,
                }
            }
            DroppedBody::TooLarge { declared, max } => {
                ParseError::BodyTooLarge { len: declared, max }
            }
        }
    }

    /// The [`DroppedBody`] for a parse error that leaves the header section usable:
    /// `Some` only for [`ParseError::ContentLengthExceedsDatagram`].
    pub fn from_parse_error(e: &ParseError) -> Option<DroppedBody> {
        match *e {
            ParseError::ContentLengthExceedsDatagram {
                declared,
                available,
            } => Some(DroppedBody::Truncated {
                declared,
                received: available,
            }),
            _ => None,
        }
    }
}

/// Result of scanning a header section.
pub(crate) struct Scan {
    /// Offset of the start line (after leading CRLFs).
    pub(crate) base: usize,
    /// Offset just past the last header line's line ending.
    pub(crate) head_end: usize,
    /// Offset of the first body octet.
    pub(crate) body_start: usize,
    start_line: (usize, usize),
    /// Fields with spans relative to `base`; value spans not yet trimmed.
    fields: Vec<Field>,
    folded: bool,
    /// First Content-Length value, if any.
    pub(crate) content_length: Option<usize>,
    /// True when several Content-Length fields disagree.
    pub(crate) cl_conflict: bool,
}

/// Scans start line and header lines. `Ok(None)` means the header section is not
/// complete yet (only when `complete` is false, i.e. on a stream).
pub(crate) fn scan_head(
    input: &[u8],
    limits: &Limits,
    complete: bool,
) -> Result<Option<Scan>, ParseError> {
    let base = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(input.len());
    if base == input.len() {
        return if complete {
            Err(ParseError::Empty)
        } else {
            Ok(None)
        };
    }
    let incomplete = |len: usize| {
        if len - base > limits.max_message_bytes {
            Err(ParseError::MessageTooLarge {
                len: len - base,
                max: limits.max_message_bytes,
            })
        } else if complete {
            Err(ParseError::Unterminated)
        } else {
            Ok(None)
        }
    };
    let mut pos = base;
    let mut start_line = None;
    let mut fields: Vec<Field> = Vec::with_capacity(32);
    let mut folded = false;
    let mut line_no = 0usize;
    let mut content_length: Option<usize> = None;
    let mut cl_conflict = false;
    loop {
        let rest = input.get(pos..).unwrap_or_default();
        // One search per line for CR or LF; CR must be followed by LF (bare LF is
        // accepted, liberal).
        let Some(off) = memchr2(b'\r', b'\n', rest) else {
            if rest.len() > limits.max_line_bytes {
                return Err(ParseError::LineTooLong {
                    max: limits.max_line_bytes,
                });
            }
            return incomplete(input.len());
        };
        let line_end = pos + off;
        let next = if rest.get(off) == Some(&b'\r') {
            match rest.get(off + 1) {
                Some(b'\n') => line_end + 2,
                Some(_) => return Err(ParseError::BareCr),
                None => return incomplete(input.len()),
            }
        } else {
            line_end + 1
        };
        let line = rest.get(..off).unwrap_or_default();
        line_no += 1;
        if off > limits.max_line_bytes {
            return Err(ParseError::LineTooLong {
                max: limits.max_line_bytes,
            });
        }
        if next - base > limits.max_message_bytes {
            return Err(ParseError::MessageTooLarge {
                len: next - base,
                max: limits.max_message_bytes,
            });
        }
        if line.is_empty() {
            // End of the header section (RFC 3261 §7: CRLF before the body).
            let (s0, s1) = start_line.ok_or(ParseError::Empty)?;
            // Content-Length values are needed for framing before `finish`.
            for f in fields
                .iter()
                .filter(|f| f.name == HeaderName::ContentLength)
            {
                let v = input
                    .get(base + f.value_span.start as usize..base + f.value_span.end as usize)
                    .unwrap_or_default();
                let v = trim_bytes(v);
                let n = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| parse_bounded_u64(s, u64::from(u32::MAX)))
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or(ParseError::BadHeader {
                        name: HeaderName::ContentLength,
                        // 1*DIGIT (RFC 3261 §20.14), bounded like CSeq (§8.1.1.5).
                        fault: if !v.is_empty() && v.iter().all(u8::is_ascii_digit) {
                            "value overflows (over 2^32-1)"
                        } else {
                            "not 1*DIGIT"
                        },
                    })?;
                match content_length {
                    None => content_length = Some(n),
                    Some(c) if c != n => cl_conflict = true,
                    Some(_) => {}
                }
            }
            return Ok(Some(Scan {
                base,
                head_end: pos,
                body_start: next,
                start_line: (s0, s1),
                fields,
                folded,
                content_length,
                cl_conflict,
            }));
        }
        if start_line.is_none() {
            start_line = Some((pos, line_end));
        } else if line.first().is_some_and(|&b| is_ws(b)) {
            // Continuation line (RFC 3261 §7.3.1 folding).
            let last = fields
                .last_mut()
                .ok_or(ParseError::BadHeaderLine { line: line_no })?;
            last.value_span.end = u32::try_from(line_end - base).unwrap_or(u32::MAX);
            if (last.value_span.end - last.name_span.start) as usize > limits.max_line_bytes {
                return Err(ParseError::LineTooLong {
                    max: limits.max_line_bytes,
                });
            }
            folded = true;
        } else {
            let (name, name_len, colon) = split_header_name(line);
            let Some(mut k) = colon else {
                return Err(ParseError::BadHeaderLine { line: line_no });
            };
            if fields.len() >= limits.max_headers {
                return Err(ParseError::TooManyHeaders {
                    max: limits.max_headers,
                });
            }
            let rel = pos - base;
            k += 1;
            while line.get(k).is_some_and(|&b| is_ws(b)) {
                k += 1;
            }
            // Trailing LWS is trimmed here; a folded value is re-trimmed in `finish`.
            let mut e = off;
            while e > k && line.get(e - 1).is_some_and(|&b| is_ws(b)) {
                e -= 1;
            }
            fields.push(Field {
                name,
                name_span: Span::new(rel, rel + name_len),
                value_span: Span::new(rel + k, rel + e),
            });
        }
        pos = next;
    }
}

/// `b` without leading and trailing SP / HTAB.
pub(crate) fn trim_bytes(b: &[u8]) -> &[u8] {
    let s = b.iter().position(|&c| !is_ws(c)).unwrap_or(b.len());
    let b = b.get(s..).unwrap_or_default();
    let e = b.iter().rposition(|&c| !is_ws(c)).map_or(0, |i| i + 1);
    b.get(..e).unwrap_or_default()
}

/// Copies the head, joins folded lines, parses the start line, validates the core
/// headers and assembles the [`Message`].
pub(crate) fn finish(input: &[u8], scan: Scan, body: &[u8]) -> Result<Message, ParseError> {
    let base = scan.base;
    let mut head = input.get(base..scan.head_end).unwrap_or_default().to_vec();
    if scan.folded {
        for f in &scan.fields {
            let span = f.value_span.start as usize..f.value_span.end as usize;
            if let Some(v) = head.get_mut(span) {
                for b in v.iter_mut().filter(|b| **b == b'\r' || **b == b'\n') {
                    *b = b' ';
                }
            }
        }
    }
    let head = String::from_utf8(head).map_err(|_| ParseError::InvalidUtf8)?;
    let hb = head.as_bytes();
    let mut fields = scan.fields;
    // Unfolded values were trimmed by `scan_head`; joined continuation lines may add
    // LWS at either end.
    for f in fields.iter_mut().filter(|_| scan.folded) {
        let (mut vs, mut ve) = (f.value_span.start as usize, f.value_span.end as usize);
        while vs < ve && hb.get(vs).is_some_and(|&b| is_ws(b)) {
            vs += 1;
        }
        while ve > vs && hb.get(ve - 1).is_some_and(|&b| is_ws(b)) {
            ve -= 1;
        }
        f.value_span = Span::new(vs, ve);
    }
    let (s0, s1) = (scan.start_line.0 - base, scan.start_line.1 - base);
    let line = head.get(s0..s1).unwrap_or("");
    let start = parse_start_line(line, s0)?;
    let msg = Message {
        head: head.into_boxed_str(),
        start,
        fields,
        body: body.to_vec(),
    };
    validate_core(&msg)?;
    Ok(msg)
}

fn check_version(v: &str, request: bool) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    let num = v
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("SIP/"))
        .and_then(|_| v.get(4..));
    match num {
        Some(n)
            if n.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            }) =>
        {
            Err(ParseError::VersionNotSupported(n.to_owned()))
        }
        _ if request => Err(ParseError::BadRequestLine("malformed SIP-Version")),
        _ => Err(ParseError::BadStatusLine("malformed SIP-Version")),
    }
}

fn parse_start_line(line: &str, off: usize) -> Result<Start, ParseError> {
    let is_response = line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"));
    if is_response {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2)
        let (version, rest) = line
            .split_once(' ')
            .ok_or(ParseError::BadStatusLine("missing status code"))?;
        check_version(version, false)?;
        let (code, reason) = match rest.split_once(' ') {
            Some((c, r)) => (c, Some(r)),
            None => (rest, None), // liberal: "SIP/2.0 100" without SP
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::BadStatusLine("status code is not 3 digits"));
        }
        let code: u16 = code
            .parse()
            .map_err(|_| ParseError::BadStatusLine("status code is not 3 digits"))?;
        if !(100..=699).contains(&code) {
            return Err(ParseError::BadStatusLine("status code outside 100-699"));
        }
        let reason_start = version.len() + 1 + 3 + usize::from(reason.is_some());
        Ok(Start::Response {
            version: Span::new(off, off + version.len()),
            code,
            reason: Span::new(off + reason_start.min(line.len()), off + line.len()),
        })
    } else {
        // Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §7.1)
        let first = line
            .find(' ')
            .ok_or(ParseError::BadRequestLine("missing SP"))?;
        let last = line
            .rfind(' ')
            .ok_or(ParseError::BadRequestLine("missing SP"))?;
        if first == last {
            return Err(ParseError::BadRequestLine(
                "missing Request-URI or SIP-Version",
            ));
        }
        let method = line.get(..first).unwrap_or("");
        let uri = line.get(first + 1..last).unwrap_or("");
        let version = line.get(last + 1..).unwrap_or("");
        if !is_token(method) {
            return Err(ParseError::BadRequestLine("method is not a token"));
        }
        if version.is_empty() {
            return Err(ParseError::BadRequestLine("trailing SP after SIP-Version"));
        }
        check_version(version, true)?;
        if uri.is_empty() || uri.bytes().any(|b| b == b' ' || b == b'\t') {
            return Err(ParseError::BadRequestLine("extra SP in request line"));
        }
        // Common shape: one pass, nothing built; anything else gets the full parser.
        if !fast::request_uri(uri) {
            let parsed = Uri::parse(uri).map_err(ParseError::BadRequestUri)?;
            if let UriBody::Sip(s) = parsed.body() {
                if s.headers.is_some() {
                    return Err(ParseError::HeadersInRequestUri);
                }
            }
        } else {
            debug_assert!(
                Uri::parse(uri).is_ok_and(|u| u.sip().is_some_and(|s| s.headers.is_none()))
            );
        }
        Ok(Start::Request {
            method: Span::new(off, off + first),
            uri: Span::new(off + first + 1, off + last),
            version: Span::new(off + last + 1, off + line.len()),
        })
    }
}

/// Validates the headers the transport, transaction and dialog layers rely on.
fn validate_core(msg: &Message) -> Result<(), ParseError> {
    let bad = |name, fault| ParseError::BadHeader { name, fault };
    let method = msg.method();
    // Only the topmost Via value is read by this end (RFC 3261 §18.2.2); see module docs.
    let mut top_via = true;
    for f in &msg.fields {
        let value = msg.span(f.value_span);
        match f.name {
            HeaderName::Via => {
                for v in CommaSplit::new(value) {
                    if !std::mem::take(&mut top_via) {
                        break;
                    }
                    if v.is_empty() {
                        return Err(bad(HeaderName::Via, "empty value"));
                    }
                    if fast::via(v) {
                        debug_assert!(Via::parse(v).is_ok(), "fast Via accepted {v:?}");
                    } else {
                        Via::parse(v).map_err(|e| bad(HeaderName::Via, e))?;
                    }
                }
            }
            HeaderName::From | HeaderName::To => {
                if fast::name_addr(value) {
                    debug_assert!(NameAddr::parse(value).is_ok(), "fast accepted {value:?}");
                } else {
                    NameAddr::parse(value).map_err(|e| bad(f.name, e))?;
                }
            }
            HeaderName::Contact => check_contact(value)?,
            HeaderName::CallId if value.is_empty() || value.bytes().any(is_ws) => {
                return Err(bad(HeaderName::CallId, "empty or contains LWS"));
            }
            HeaderName::CSeq => {
                let c = CSeq::parse(value).map_err(|e| bad(HeaderName::CSeq, e))?;
                if let Some(m) = method {
                    if c.method != m.as_str() {
                        return Err(ParseError::CSeqMethodMismatch);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a Contact field value (RFC 3261 §20.10: `*` or a comma list of name-addr /
/// addr-spec with parameters) as the parser does.
///
/// # Errors
/// [`ParseError::BadHeader`] naming Contact: an empty list element or one that does not
/// parse.
pub(crate) fn check_contact(value: &str) -> Result<(), ParseError> {
    let bad = |fault| ParseError::BadHeader {
        name: HeaderName::Contact,
        fault,
    };
    for v in CommaSplit::new(value) {
        if v.is_empty() {
            return Err(bad("empty value"));
        }
        if fast::name_addr(v) {
            debug_assert!(Contact::parse(v).is_ok(), "fast Contact accepted {v:?}");
        } else {
            Contact::parse(v).map_err(bad)?;
        }
    }
    Ok(())
}

/// Splits a header line at its HCOLON (RFC 3261 §7.3.1: header-name = token, then
/// *(SP / HTAB) ":"): the name, the name's length in octets, and the colon's index —
/// `None` when the line starts with no token or no colon follows it. Known names are
/// recognised without a per-octet token scan. Shared by the parser and
/// [`crate::sip::lenient`], so the repair drops exactly the lines the parser refuses.
#[inline]
pub(crate) fn split_header_name(line: &[u8]) -> (HeaderName, usize, Option<usize>) {
    let (name, name_len) = match HeaderName::classify_line(line) {
        Some(known) => known,
        None => {
            let n = line
                .iter()
                .position(|&b| !is_token_char(b))
                .unwrap_or(line.len());
            (HeaderName::from_token(line.get(..n).unwrap_or_default()), n)
        }
    };
    let mut k = name_len;
    while line.get(k).is_some_and(|&b| is_ws(b)) {
        k += 1;
    }
    let colon = (name_len > 0 && line.get(k) == Some(&b':')).then_some(k);
    (name, name_len, colon)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:999@example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:999@example.net>\r\n\
From: \"Caller\" <sip:+447700900123@carrier.example>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:caller@192.0.2.1>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    #[test]
    fn parses_request() {
        let m = parse(INVITE).unwrap();
        assert_eq!(m.method(), Some(super::super::Method::Invite));
        assert_eq!(m.request_uri().unwrap().user(), Some("999"));
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(m.from().unwrap().tag(), Some("1928301774"));
        assert_eq!(m.to().unwrap().tag(), None);
        assert_eq!(m.cseq().unwrap().seq, 314159);
        assert_eq!(m.call_id(), Some("a84b4c76e66710@pc33.example"));
        assert_eq!(m.max_forwards().unwrap(), Some(70));
        assert_eq!(m.header("l"), Some("4"));
        assert_eq!(m.header("content-length"), Some("4"));
        assert_eq!(m.body(), b"v=0\n");
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b"\r\n\r\n"), Err(ParseError::Empty));
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"),
            Err(ParseError::Unterminated)
        );
        assert!(matches!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc"),
            Err(ParseError::ContentLengthExceedsDatagram {
                declared: 10,
                available: 3
            })
        ));
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/7.0\r\n\r\n"),
            Err(ParseError::VersionNotSupported("7.0".into()))
        );
        assert!(parse(b"SIP/2.0 4294967301 x\r\n\r\n").is_err());
        assert!(parse(b" X: y\r\n\r\n").is_err());
        let e =
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed Content-Length header: value overflows (over 2^32-1)"
        );
        let e = parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: 1a\r\n\r\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed Content-Length header: not 1*DIGIT"
        );
        assert!(parse(b"OPTIONS sip:a@b SIP/2.0\r\n y\r\n\r\n").is_err());
    }

    #[test]
    fn folding_and_liberal_lf() {
        let m = parse(b"OPTIONS sip:a@b SIP/2.0\nSubject: one\n two\n\n").unwrap();
        assert_eq!(m.header("s"), Some("one  two"));
        let r = parse(b"SIP/2.0 100\r\n\r\n").unwrap();
        assert_eq!((r.status_code(), r.reason_phrase()), (Some(100), Some("")));
    }

    #[test]
    fn head_only_parse_keeps_headers_and_drops_the_body() {
        let short = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 10\r\n\r\nabc";
        let e = parse(short).unwrap_err();
        let d = DroppedBody::from_parse_error(&e).expect("truncated datagram");
        assert_eq!(
            d,
            DroppedBody::Truncated {
                declared: 10,
                received: 3
            }
        );
        assert_eq!(d.parse_error(), e);
        assert_eq!(d.parse_error().status_code(), 400);
        let m = parse_head_with(short, &Limits::default()).unwrap();
        assert_eq!(m.body(), b"");
        assert_eq!(m.content_length(), Some(10));
        // The head alone (what a stream decoder hands over) parses the same way.
        let head = &short[..short.len() - 3];
        assert_eq!(parse_head_with(head, &Limits::default()).unwrap(), m);
        // A broken head is still an error, and other errors are not "dropped bodies".
        assert!(parse_head_with(
            b"OPTIONS sip:a@b SIP/2.0\r\nno colon\r\n\r\n",
            &Limits::default()
        )
        .is_err());
        assert_eq!(DroppedBody::from_parse_error(&ParseError::Empty), None);
        let big = DroppedBody::TooLarge {
            declared: 70_000,
            max: 65_000,
        };
        assert_eq!(big.parse_error().status_code(), 413);
        assert!(big.to_string().starts_with("body dropped: too large"));
    }
}
