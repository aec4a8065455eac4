//! Lenient repair of a request datagram's framing, so that an emergency INVITE over UDP
//! is never refused for malformed framing the engine does not need (DESIGN §6: a 999
//! call is never rejected; RFC 3261 §7.5 and RFC 4475 §1 allow a liberal reader).
//!
//! A UDP datagram carries exactly one message (RFC 3261 §18.3), so its framing does not
//! depend on the header section being perfect: without `Content-Length` the body is the
//! rest of the datagram (§18.3), and a line the parser cannot read carries nothing the
//! transaction, dialog or classification layers need. [`repair_request_datagram`] builds
//! a copy of the datagram that the strict parser ([`super::parse_with`]) accepts as far as
//! framing goes:
//!
//! - `Content-Length` fields (§20.14) that are not `1*DIGIT`, overflow 2^32−1, disagree
//!   with another, or repeat it: all dropped when any is bad or they disagree (the body
//!   is then the rest of the datagram, §18.3), only the repeats when they agree;
//! - header lines that are not `field-name HCOLON value` (§7.3.1: no colon, a name that
//!   is not a token, a bare CR, a continuation line with no field before it) and fields
//!   longer than [`Limits::max_line_bytes`]: dropped;
//! - a single-valued field repeated (To, From, Call-ID, CSeq, Max-Forwards, Content-Type;
//!   RFC 3261 §7.3.1 allows a repeat only for comma-list fields, RFC 4475 §3.3.8): the
//!   first kept, the repeats dropped ([`crate::sip::validate::SINGLE_VALUED`]);
//! - a Contact field (§20.10) that does not parse: dropped (a 999 without Contact is
//!   served; the engine answers on the Via);
//! - header fields beyond [`Limits::max_headers`]: dropped, keeping first the fields the
//!   engine needs ([`is_kept_first`]: Via, From, To, Call-ID, CSeq, Contact, Record-Route,
//!   Max-Forwards, Content-Type, Content-Length, Priority, Resource-Priority, Require,
//!   Supported, Geolocation, Geolocation-Routing, P-Asserted-Identity, Call-Info), then
//!   the others, each group in arrival order;
//! - a header section that runs to the end of the datagram without the empty line (§7):
//!   the empty line is added (the body is empty).
//!
//! The start line, the field values, their order and the line endings are copied as
//! received; what the repair cannot fix (a broken request line or topmost Via, octets
//! that are not UTF-8) is left for the parser to report. Sans-IO, bounded and
//! panic-free: the input is capped at [`Limits::max_message_bytes`], one pass over its
//! lines, one output buffer no larger than the input plus 4 octets (and never over the
//! limit).

use std::fmt;

use super::header::HeaderName;
use super::limits::Limits;
use super::parse::trim_bytes;
use super::scan::{is_ws, parse_bounded_u64};
use super::ParseError;

/// What [`repair_request_datagram`] changed, counted (RFC 3261 §7.3.1, §18.3, §20.14).
/// `Display` names each repair, e.g. `framing repaired: 1 Content-Length field dropped
/// (body: the rest of the datagram), empty line added after the header section`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Repairs {
    /// `Content-Length` fields dropped (a value that is not `1*DIGIT`, over 2^32−1,
    /// disagreeing with or repeating another).
    pub content_length_dropped: usize,
    /// Whether every `Content-Length` was dropped, so the body is the rest of the
    /// datagram after the empty line (RFC 3261 §18.3).
    pub body_to_end: bool,
    /// Header lines dropped as malformed: no colon, a name that is not a token, a bare
    /// CR, or a continuation line with nothing to continue (RFC 3261 §7.3.1).
    pub malformed_lines_dropped: usize,
    /// Header fields dropped for being longer than [`Limits::max_line_bytes`], octets.
    pub long_fields_dropped: usize,
    /// Repeats of a single-valued field (To, From, Call-ID, CSeq, Max-Forwards,
    /// Content-Type) dropped; the first of each is kept (RFC 4475 §3.3.8).
    pub repeated_fields_dropped: usize,
    /// Contact fields dropped because they do not parse (RFC 3261 §20.10).
    pub malformed_contacts_dropped: usize,
    /// Header fields dropped because the section held more than `max_headers`.
    pub fields_over_limit_dropped: usize,
    /// The field-count limit that applied ([`Limits::max_headers`]).
    pub max_headers: usize,
    /// The header section ended at the end of the datagram; the empty line was added.
    pub empty_line_added: bool,
}

impl Repairs {
    /// True when nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.content_length_dropped == 0
            && self.malformed_lines_dropped == 0
            && self.long_fields_dropped == 0
            && self.repeated_fields_dropped == 0
            && self.malformed_contacts_dropped == 0
            && self.fields_over_limit_dropped == 0
            && !self.empty_line_added
    }
}

impl fmt::Display for Repairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let mut parts: Vec<String> = Vec::new();
        if self.content_length_dropped > 0 {
            let n = self.content_length_dropped;
            parts.push(format!(
                "{n} Content-Length field{} dropped{}",
                plural(n),
                if self.body_to_end {
                    " (body: the rest of the datagram)"
                } else {
                    " (a repeated value)"
                }
            ));
        }
        if self.malformed_lines_dropped > 0 {
            let n = self.malformed_lines_dropped;
            parts.push(format!("{n} malformed header line{} dropped", plural(n)));
        }
        if self.long_fields_dropped > 0 {
            let n = self.long_fields_dropped;
            parts.push(format!(
                "{n} header field{} over the line limit dropped",
                plural(n)
            ));
        }
        if self.repeated_fields_dropped > 0 {
            let n = self.repeated_fields_dropped;
            parts.push(format!(
                "{n} repeated single-valued header field{} dropped (first kept)",
                plural(n)
            ));
        }
        if self.malformed_contacts_dropped > 0 {
            let n = self.malformed_contacts_dropped;
            parts.push(format!("{n} malformed Contact field{} dropped", plural(n)));
        }
        if self.fields_over_limit_dropped > 0 {
            let n = self.fields_over_limit_dropped;
            parts.push(format!(
                "{n} header field{} beyond the limit of {} dropped",
                plural(n),
                self.max_headers
            ));
        }
        if self.empty_line_added {
            parts.push("empty line added after the header section".to_owned());
        }
        if parts.is_empty() {
            return f.write_str("framing repaired: nothing changed");
        }
        write!(f, "framing repaired: {}", parts.join(", "))
    }
}

/// The repaired copy of a datagram and what was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairedDatagram {
    /// The datagram to parse instead, at most `limits.max_message_bytes` octets.
    pub bytes: Vec<u8>,
    /// What was changed (never empty).
    pub repairs: Repairs,
}

/// Why [`repair_request_datagram`] made no copy; the original parse error stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RepairError {
    /// The datagram (or its repaired copy) exceeds `limits.max_message_bytes`.
    #[error("datagram of {len} octets exceeds the limit of {max}")]
    TooLarge {
        /// Octets.
        len: usize,
        /// Limit, octets.
        max: usize,
    },
    /// No start line: empty or only CRLFs.
    #[error("no start line")]
    Empty,
    /// The start line is longer than `limits.max_line_bytes` or holds a bare CR.
    #[error("start line cannot be repaired")]
    BadStartLine,
    /// The framing has nothing this repair fixes.
    #[error("nothing to repair in the framing")]
    NothingToRepair,
}

/// Whether `e` is a framing fault that [`repair_request_datagram`] may fix: a header
/// section without its empty line, too many fields, a malformed or over-long line, a
/// bare CR, or an unreadable `Content-Length` (RFC 3261 §7, §7.3.1, §20.14); or a
/// malformed single-valued field (To, From, Call-ID, CSeq, Max-Forwards, Content-Type) or
/// a CSeq naming another method, which the repair fixes when the fault is in a repeat it
/// drops (the first is kept; a fault in the first stays); or a malformed Contact.
pub fn is_repairable(e: &ParseError) -> bool {
    is_field_fault(e)
        || matches!(
            e,
            ParseError::Unterminated
                | ParseError::TooManyHeaders { .. }
                | ParseError::BadHeaderLine { .. }
                | ParseError::LineTooLong { .. }
                | ParseError::BareCr
                | ParseError::BadHeader {
                    name: HeaderName::ContentLength,
                    ..
                }
        )
}

/// Whether `e` is a repairable fault that leaves the message's framing alone: a malformed
/// To, From, Call-ID, CSeq, Max-Forwards, Content-Type or Contact field, or a CSeq naming
/// another method. Over a stream, where `Content-Length` framed the message (RFC 3261
/// §18.3), these are the only faults [`repair_request_datagram`] may fix.
pub fn is_field_fault(e: &ParseError) -> bool {
    match e {
        ParseError::CSeqMethodMismatch => true,
        ParseError::BadHeader { name, .. } => {
            *name == HeaderName::Contact
                || (*name != HeaderName::ContentLength
                    && crate::sip::validate::SINGLE_VALUED.contains(name))
        }
        _ => false,
    }
}

/// Header fields kept ahead of others when a section holds more than `max_headers`:
/// those the transaction and dialog layers (RFC 3261 §8.1.1, §12.1.1), body framing
/// (§20.14, §20.15), emergency classification (§20.26, RFC 4412) and location (RFC 6442,
/// RFC 7852, RFC 3325) read.
pub fn is_kept_first(name: HeaderName) -> bool {
    matches!(
        name,
        HeaderName::Via
            | HeaderName::From
            | HeaderName::To
            | HeaderName::CallId
            | HeaderName::CSeq
            | HeaderName::Contact
            | HeaderName::RecordRoute
            | HeaderName::MaxForwards
            | HeaderName::ContentType
            | HeaderName::ContentLength
            | HeaderName::Priority
            | HeaderName::ResourcePriority
            | HeaderName::Require
            | HeaderName::Supported
            | HeaderName::Geolocation
            | HeaderName::GeolocationRouting
            | HeaderName::PAssertedIdentity
            | HeaderName::CallInfo
    )
}

/// A header field as found: offsets into the input.
struct Field {
    name: HeaderName,
    /// First octet of its first line.
    start: usize,
    /// First octet of its value on the first line (after HCOLON and LWS).
    value_start: usize,
    /// End of its last line's content (before the line ending).
    content_end: usize,
    /// Past its last line's line ending.
    end: usize,
    /// Whether its last line has a line ending (not the end of the datagram).
    eol: bool,
    /// More than one line (RFC 3261 §7.3.1 folding).
    folded: bool,
    keep: bool,
}

/// One line of `input` from `pos`: `(content end, next line start, has a line ending)`.
/// The line ends at LF; a CR just before it belongs to the line ending.
fn line_at(input: &[u8], pos: usize) -> (usize, usize, bool) {
    let rest = input.get(pos..).unwrap_or_default();
    match memchr::memchr(b'\n', rest) {
        Some(i) => {
            let lf = pos + i;
            let end = if i > 0 && input.get(lf - 1) == Some(&b'\r') {
                lf - 1
            } else {
                lf
            };
            (end, lf + 1, true)
        }
        None => {
            let end = if rest.last() == Some(&b'\r') {
                input.len() - 1
            } else {
                input.len()
            };
            (end, input.len(), false)
        }
    }
}

/// A `Content-Length` value the parser accepts (`1*DIGIT`, at most 2^32−1, LWS trimmed).
fn content_length_value(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(trim_bytes(v))
        .ok()
        .and_then(|s| parse_bounded_u64(s, u64::from(u32::MAX)))
}

/// Builds a copy of the request datagram `input` whose framing the strict parser accepts
/// (see the [module docs](self) for each repair and RFC 3261 §7, §7.3.1, §18.3, §20.14),
/// with what was changed. Leading CRLFs are dropped (§7.5); everything else that is kept
/// is copied as received, line endings included; a last header line without a line
/// ending gets CRLF.
///
/// # Errors
/// [`RepairError::TooLarge`] when `input` (or the copy) exceeds
/// `limits.max_message_bytes`; [`RepairError::Empty`] without a start line;
/// [`RepairError::BadStartLine`] when the start line itself is over-long or holds a bare
/// CR; [`RepairError::NothingToRepair`] when the framing needs no repair (the parse error,
/// if any, is elsewhere).
pub fn repair_request_datagram(
    input: &[u8],
    limits: &Limits,
) -> Result<RepairedDatagram, RepairError> {
    if input.len() > limits.max_message_bytes {
        return Err(RepairError::TooLarge {
            len: input.len(),
            max: limits.max_message_bytes,
        });
    }
    let base = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(RepairError::Empty)?;
    let (start_end, first_field, start_eol) = line_at(input, base);
    let mut pos = first_field;
    let start_line = input.get(base..start_end).unwrap_or_default();
    if start_line.len() > limits.max_line_bytes || start_line.contains(&b'\r') {
        return Err(RepairError::BadStartLine);
    }
    let mut repairs = Repairs {
        max_headers: limits.max_headers,
        ..Repairs::default()
    };
    let mut fields: Vec<Field> = Vec::with_capacity(32);
    // Whether the previous line was dropped, so its continuation lines go too.
    let mut previous_dropped = false;
    let mut body_start = None;
    while start_eol && pos < input.len() {
        let (end, next, eol) = line_at(input, pos);
        let line = input.get(pos..end).unwrap_or_default();
        if line.is_empty() {
            body_start = Some(next);
            break;
        }
        let bare_cr = line.contains(&b'\r');
        if line.first().is_some_and(|&b| is_ws(b)) {
            // A continuation line (§7.3.1 folding) joins the field above it.
            match fields.last_mut() {
                Some(f) if !previous_dropped && !bare_cr => {
                    f.content_end = end;
                    f.end = next;
                    f.eol = eol;
                    f.folded = true;
                }
                _ => {
                    repairs.malformed_lines_dropped += 1;
                    previous_dropped = true;
                }
            }
            pos = next;
            continue;
        }
        // header-name = token, then *(SP / HTAB) ":" (RFC 3261 §7.3.1 HCOLON), as the
        // parser reads it.
        let (name, _, colon) = super::parse::split_header_name(line);
        let Some(k) = colon.filter(|_| !bare_cr) else {
            repairs.malformed_lines_dropped += 1;
            previous_dropped = true;
            pos = next;
            continue;
        };
        previous_dropped = false;
        fields.push(Field {
            name,
            start: pos,
            value_start: pos + k + 1,
            content_end: end,
            end: next,
            eol,
            folded: false,
            keep: true,
        });
        pos = next;
    }
    // Over-long fields (one line, or lines joined by folding) as the parser measures them.
    for f in fields.iter_mut() {
        if f.content_end - f.start > limits.max_line_bytes {
            f.keep = false;
            repairs.long_fields_dropped += 1;
        }
    }
    repair_content_length(input, &mut fields, &mut repairs);
    drop_repeated_single_values(&mut fields, &mut repairs);
    drop_malformed_contacts(input, &mut fields, &mut repairs);
    limit_field_count(&mut fields, limits.max_headers, &mut repairs);
    if body_start.is_none() {
        repairs.empty_line_added = true;
    }
    if repairs.is_empty() {
        return Err(RepairError::NothingToRepair);
    }

    let mut out = Vec::with_capacity(input.len() + 4);
    // Lines are copied with their own line endings; a line the datagram ended in gets CRLF.
    let mut copy = |start: usize, content_end: usize, end: usize, eol: bool| {
        if eol {
            out.extend_from_slice(input.get(start..end).unwrap_or_default());
        } else {
            out.extend_from_slice(input.get(start..content_end).unwrap_or_default());
            out.extend_from_slice(b"\r\n");
        }
    };
    copy(base, start_end, first_field, start_eol);
    for f in fields.iter().filter(|f| f.keep) {
        copy(f.start, f.content_end, f.end, f.eol);
    }
    out.extend_from_slice(b"\r\n");
    if let Some(b) = body_start {
        out.extend_from_slice(input.get(b..).unwrap_or_default());
    }
    if out.len() > limits.max_message_bytes {
        return Err(RepairError::TooLarge {
            len: out.len(),
            max: limits.max_message_bytes,
        });
    }
    Ok(RepairedDatagram {
        bytes: out,
        repairs,
    })
}

/// Drops `Content-Length` fields the parser would refuse or that conflict: all of them
/// when any is unreadable or they disagree (the body is then the rest of the datagram,
/// RFC 3261 §18.3), the repeats when they agree (one value, §20.14).
fn repair_content_length(input: &[u8], fields: &mut [Field], repairs: &mut Repairs) {
    let mut first: Option<u64> = None;
    let mut count = 0usize;
    let mut unusable = false;
    for f in fields
        .iter()
        .filter(|f| f.keep && f.name == HeaderName::ContentLength)
    {
        count += 1;
        let v = if f.folded {
            None
        } else {
            content_length_value(input.get(f.value_start..f.content_end).unwrap_or_default())
        };
        match (v, first) {
            (None, _) => unusable = true,
            (Some(n), None) => first = Some(n),
            (Some(n), Some(m)) if n != m => unusable = true,
            (Some(_), Some(_)) => {}
        }
    }
    if count == 0 || (count == 1 && !unusable) {
        return;
    }
    let mut seen_first = false;
    for f in fields
        .iter_mut()
        .filter(|f| f.keep && f.name == HeaderName::ContentLength)
    {
        if !unusable && !seen_first {
            seen_first = true;
            continue;
        }
        f.keep = false;
        repairs.content_length_dropped += 1;
    }
    repairs.body_to_end = unusable;
}

/// Keeps the first of each single-valued field (To, From, Call-ID, CSeq, Max-Forwards,
/// Content-Type; Content-Length is [`repair_content_length`]'s) and drops its repeats
/// (RFC 3261 §7.3.1, RFC 4475 §3.3.8).
fn drop_repeated_single_values(fields: &mut [Field], repairs: &mut Repairs) {
    for name in super::validate::SINGLE_VALUED {
        if name == HeaderName::ContentLength {
            continue; // repair_content_length's
        }
        let mut seen = false;
        for f in fields.iter_mut().filter(|f| f.keep && f.name == name) {
            if seen {
                f.keep = false;
                repairs.repeated_fields_dropped += 1;
            }
            seen = true;
        }
    }
}

/// Drops the one-line Contact fields the parser refuses (RFC 3261 §20.10); a folded one is
/// left for the parser to judge.
fn drop_malformed_contacts(input: &[u8], fields: &mut [Field], repairs: &mut Repairs) {
    for f in fields
        .iter_mut()
        .filter(|f| f.keep && !f.folded && f.name == HeaderName::Contact)
    {
        let value = trim_bytes(input.get(f.value_start..f.content_end).unwrap_or_default());
        let ok =
            std::str::from_utf8(value).map_or(true, |v| super::parse::check_contact(v).is_ok());
        if !ok {
            f.keep = false;
            repairs.malformed_contacts_dropped += 1;
        }
    }
}

/// Keeps at most `max` fields: those [`is_kept_first`] names first, then the others,
/// each group in arrival order; the rest are dropped and counted.
fn limit_field_count(fields: &mut [Field], max: usize, repairs: &mut Repairs) {
    let kept = fields.iter().filter(|f| f.keep).count();
    if kept <= max {
        return;
    }
    let mut room = max;
    for first_pass in [true, false] {
        for f in fields
            .iter_mut()
            .filter(|f| f.keep && is_kept_first(f.name) == first_pass)
        {
            if room > 0 {
                room -= 1;
            } else {
                f.keep = false;
                repairs.fields_over_limit_dropped += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{parse_with, Message};

    const HEAD: &str = "INVITE sip:999@example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
From: <sip:c@example.net>;tag=1\r\n\
To: <sip:999@example.net>\r\n\
Call-ID: x@y\r\n\
CSeq: 1 INVITE\r\n";

    fn repaired(text: &[u8], limits: &Limits) -> (Message, Repairs) {
        let r = repair_request_datagram(text, limits).unwrap();
        let m = parse_with(&r.bytes, limits)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&r.bytes)));
        (m, r.repairs)
    }

    #[test]
    fn bad_content_length_is_dropped_and_the_body_runs_to_the_end() {
        for cl in ["abc", "99999999999999999999999", "4294967296", "-1", ""] {
            let text = format!("{HEAD}Content-Length: {cl}\r\n\r\nv=0\r\n");
            let (m, r) = repaired(text.as_bytes(), &Limits::default());
            assert_eq!(m.body(), b"v=0\r\n", "{cl}");
            assert_eq!(m.content_length(), None);
            assert_eq!((r.content_length_dropped, r.body_to_end), (1, true));
            assert_eq!(
                r.to_string(),
                "framing repaired: 1 Content-Length field dropped (body: the rest of the datagram)"
            );
        }
    }

    #[test]
    fn repeated_single_valued_fields_keep_the_first() {
        // Compact forms count as the same field (RFC 3261 §7.3.3); Via may repeat.
        let text = format!(
            "{HEAD}t: <sip:other@example.net>\r\ni: second@y\r\nCSeq: 2 INVITE\r\n\
             Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK9\r\nMax-Forwards: 70\r\n\
             Max-Forwards: 5\r\nContent-Length: 0\r\n\r\n"
        );
        let (m, r) = repaired(text.as_bytes(), &Limits::default());
        assert_eq!(r.repeated_fields_dropped, 4);
        assert_eq!(crate::sip::validate::validate_request(&m), Ok(()));
        assert_eq!(m.call_id(), Some("x@y"));
        assert_eq!(m.get(HeaderName::To), Some("<sip:999@example.net>"));
        assert_eq!(m.get(HeaderName::CSeq), Some("1 INVITE"));
        assert_eq!(m.max_forwards(), Ok(Some(70)));
        assert_eq!(m.get_all(HeaderName::Via).count(), 2);
        assert_eq!(
            r.to_string(),
            "framing repaired: 4 repeated single-valued header fields dropped (first kept)"
        );
    }

    #[test]
    fn malformed_contact_is_dropped_and_a_good_one_kept() {
        let text = format!(
            "{HEAD}Contact: <sip:c@192.0.2.1>\r\nContact: <<<\r\nContent-Length: 0\r\n\r\n"
        );
        let (m, r) = repaired(text.as_bytes(), &Limits::default());
        assert_eq!(r.malformed_contacts_dropped, 1);
        assert_eq!(m.get_all(HeaderName::Contact).count(), 1);
        assert_eq!(
            r.to_string(),
            "framing repaired: 1 malformed Contact field dropped"
        );
        // Contact: * and a good list are left alone.
        let text = format!("{HEAD}Contact: *\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            repair_request_datagram(text.as_bytes(), &Limits::default()),
            Err(RepairError::NothingToRepair)
        );
    }

    #[test]
    fn duplicated_content_length_keeps_one_value_or_none() {
        let text = format!("{HEAD}Content-Length: 5\r\nl: 5\r\n\r\nv=0\r\n");
        let (m, r) = repaired(text.as_bytes(), &Limits::default());
        assert_eq!(m.content_length(), Some(5));
        assert_eq!(m.body(), b"v=0\r\n");
        assert_eq!((r.content_length_dropped, r.body_to_end), (1, false));
        let text = format!("{HEAD}Content-Length: 2\r\nContent-Length: 5\r\n\r\nv=0\r\n");
        let (m, r) = repaired(text.as_bytes(), &Limits::default());
        assert_eq!(m.content_length(), None);
        assert_eq!(m.body(), b"v=0\r\n");
        assert_eq!((r.content_length_dropped, r.body_to_end), (2, true));
        // One good value alone needs no repair.
        let text = format!("{HEAD}Content-Length: 5\r\n\r\nv=0\r\n");
        assert_eq!(
            repair_request_datagram(text.as_bytes(), &Limits::default()),
            Err(RepairError::NothingToRepair)
        );
    }

    #[test]
    fn lines_without_colon_and_their_continuations_are_dropped() {
        let text = format!(
            "{HEAD}Garbage line\r\n  continued\r\n: no name\r\nSubject: a\r\n b\r\n\tc\r\nMax-Forwards: 70\r\nbare\rcr: x\r\nContent-Length: 0\r\n\r\n"
        );
        let (m, r) = repaired(text.as_bytes(), &Limits::default());
        assert_eq!(r.malformed_lines_dropped, 4);
        assert_eq!(m.header("Subject"), Some("a   b  \tc"));
        assert_eq!(m.max_forwards(), Ok(Some(70)));
        assert_eq!(m.call_id(), Some("x@y"));
        assert_eq!(
            r.to_string(),
            "framing repaired: 4 malformed header lines dropped"
        );
        // A continuation right after the start line has nothing to continue.
        let text = "INVITE sip:999@x SIP/2.0\r\n folded\r\nCall-ID: a\r\n\r\n";
        let (m, r) = repaired(text.as_bytes(), &Limits::default());
        assert_eq!((r.malformed_lines_dropped, m.call_id()), (1, Some("a")));
    }

    #[test]
    fn a_missing_empty_line_is_added() {
        for text in [
            format!("{HEAD}Content-Length: 0\r\n"),
            format!("{HEAD}Content-Length: 0"),
            format!("{HEAD}Content-Length: 0\r"),
            HEAD.replace("\r\n", "\n"),
        ] {
            let (m, r) = repaired(text.as_bytes(), &Limits::default());
            assert!(r.empty_line_added, "{text:?}");
            assert_eq!(m.body(), b"");
            assert_eq!(m.cseq().map(|c| c.seq), Some(1));
        }
    }

    #[test]
    fn fields_over_the_limit_keep_the_ones_the_engine_needs() {
        let limits = Limits {
            max_headers: 8,
            ..Limits::default()
        };
        let mut text = String::from("INVITE sip:101@example.net SIP/2.0\r\n");
        for i in 0..10 {
            text.push_str(&format!("X-Filler-{i}: y\r\n"));
        }
        text.push_str(&HEAD[HEAD.find('\n').unwrap() + 1..]);
        text.push_str("Priority: emergency\r\nContent-Length: 3\r\n\r\nabc");
        let (m, r) = repaired(text.as_bytes(), &limits);
        assert_eq!(r.fields_over_limit_dropped, 9);
        assert_eq!(m.header("Priority"), Some("emergency"));
        assert_eq!(m.header("X-Filler-0"), Some("y"));
        assert_eq!(m.header("X-Filler-1"), None);
        assert_eq!(m.body(), b"abc");
        assert_eq!(
            r.to_string(),
            "framing repaired: 9 header fields beyond the limit of 8 dropped"
        );
    }

    #[test]
    fn over_long_fields_are_dropped_but_not_the_start_line() {
        let limits = Limits {
            max_line_bytes: 100,
            ..Limits::default()
        };
        let text = format!(
            "{HEAD}X-Long: {}\r\nContent-Length: 0\r\n\r\n",
            "a".repeat(200)
        );
        let (m, r) = repaired(text.as_bytes(), &limits);
        assert_eq!((r.long_fields_dropped, m.header("X-Long")), (1, None));
        let text = format!("INVITE sip:{}@x SIP/2.0\r\n\r\n", "9".repeat(200));
        assert_eq!(
            repair_request_datagram(text.as_bytes(), &limits),
            Err(RepairError::BadStartLine)
        );
    }

    #[test]
    fn caps_and_degenerate_input() {
        let limits = Limits {
            max_message_bytes: 64,
            ..Limits::default()
        };
        assert!(matches!(
            repair_request_datagram(&[b'a'; 65], &limits),
            Err(RepairError::TooLarge { len: 65, max: 64 })
        ));
        assert_eq!(
            repair_request_datagram(b"\r\n\r\n", &limits),
            Err(RepairError::Empty)
        );
        // The empty line cannot be added past the limit.
        let text = format!("INVITE sip:999@x SIP/2.0\r\nX: {}\r\n", "y".repeat(33));
        assert_eq!(text.len(), 64);
        assert!(matches!(
            repair_request_datagram(text.as_bytes(), &limits),
            Err(RepairError::TooLarge { len: 66, max: 64 })
        ));
        for bad in [
            &b"x"[..],
            b"\n",
            b"\r",
            b"a\r\r\n\n",
            b"a\n \n\n",
            b"a\nb\n",
        ] {
            let _ = repair_request_datagram(bad, &Limits::default());
        }
    }

    #[test]
    fn repairable_errors() {
        assert!(is_repairable(&ParseError::Unterminated));
        assert!(is_repairable(&ParseError::BadHeader {
            name: HeaderName::ContentLength,
            fault: "x"
        }));
        assert!(!is_repairable(&ParseError::BadHeader {
            name: HeaderName::Via,
            fault: "x"
        }));
        assert!(!is_repairable(&ParseError::InvalidUtf8));
        assert!(is_repairable(&ParseError::CSeqMethodMismatch));
        assert!(is_repairable(&ParseError::BadHeader {
            name: HeaderName::To,
            fault: "x"
        }));
    }
}
