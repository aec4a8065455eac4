//! What the INVITE to the handler must carry from the caller's INVITE (docs/DESIGN.md §3, §5;
//! RFC 6442 §3: a B2BUA passing location on keeps the `Geolocation` header and the body
//! part it references; RFC 7852 §4.1 likewise for `Call-Info` and its parts).
//!
//! [`select_for_handler`] picks the header values (`Geolocation`, `Geolocation-Routing`,
//! `Call-Info`) and the body parts (every `application/pidf+xml` and
//! `application/EmergencyCallData.*` part, and any other part a `cid:` in those headers
//! names; never the caller's SDP), borrowing the original bytes. [`PassOn::body_with_sdp`]
//! then frames them after the B2BUA's own SDP as a `multipart/mixed` body.

use super::header::{parse_call_info, parse_geolocation};
use super::locate::InviteLocationInput;
use super::multipart::{cid_of, MediaType, Multipart, MultipartLimits, Part};
use crate::sip::Message;

/// A body part to carry, borrowing the original message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassOnPart<'a> {
    /// Content-Type value.
    pub content_type: &'a str,
    /// Content-ID value as sent (with angle brackets), if any.
    pub content_id: Option<&'a str>,
    /// Content-Disposition value, if any.
    pub content_disposition: Option<&'a str>,
    /// The part's content, unchanged.
    pub body: &'a [u8],
}

/// Headers and body parts to copy into the handler's INVITE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PassOn<'a> {
    /// `(header name, value)` pairs to add, in order.
    pub headers: Vec<(&'static str, &'a str)>,
    /// Body parts to add after the SDP.
    pub parts: Vec<PassOnPart<'a>>,
}

impl PassOn<'_> {
    /// `true` when there is nothing to carry.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.parts.is_empty()
    }

    /// The handler INVITE's body: `sdp` alone (`application/sdp`) when no part is carried,
    /// otherwise `multipart/mixed;boundary=<boundary>` with the SDP first and the carried
    /// parts after it (RFC 2046 §5.1.1; RFC 5621). Returns `(Content-Type value, body)`.
    /// `boundary` must not occur in any part (use a random token of ≥ 16 characters).
    pub fn body_with_sdp(&self, sdp: &[u8], boundary: &str) -> (String, Vec<u8>) {
        if self.parts.is_empty() {
            return ("application/sdp".to_owned(), sdp.to_vec());
        }
        let mut b = Vec::with_capacity(
            sdp.len() + 256 + self.parts.iter().map(|p| p.body.len() + 128).sum::<usize>(),
        );
        let delim = |b: &mut Vec<u8>| {
            b.extend_from_slice(b"--");
            b.extend_from_slice(boundary.as_bytes());
            b.extend_from_slice(b"\r\n");
        };
        delim(&mut b);
        b.extend_from_slice(b"Content-Type: application/sdp\r\n\r\n");
        b.extend_from_slice(sdp);
        b.extend_from_slice(b"\r\n");
        for p in &self.parts {
            delim(&mut b);
            b.extend_from_slice(b"Content-Type: ");
            b.extend_from_slice(p.content_type.as_bytes());
            b.extend_from_slice(b"\r\n");
            if let Some(cid) = p.content_id {
                b.extend_from_slice(b"Content-ID: ");
                b.extend_from_slice(cid.as_bytes());
                b.extend_from_slice(b"\r\n");
            }
            if let Some(cd) = p.content_disposition {
                b.extend_from_slice(b"Content-Disposition: ");
                b.extend_from_slice(cd.as_bytes());
                b.extend_from_slice(b"\r\n");
            }
            b.extend_from_slice(b"\r\n");
            b.extend_from_slice(p.body);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"--");
        b.extend_from_slice(boundary.as_bytes());
        b.extend_from_slice(b"--\r\n");
        (format!("multipart/mixed;boundary={boundary}"), b)
    }
}

/// Selects what the handler's INVITE carries from the caller's INVITE `input`. Parts are
/// taken only from a body that splits; a body that does not is not carried (the error is
/// already on the call's [`CallLocation`](super::locate::CallLocation)).
pub fn select_for_handler<'a>(input: &InviteLocationInput<'a>) -> PassOn<'a> {
    let mut out = PassOn::default();
    for &v in &input.geolocation {
        out.headers.push(("Geolocation", v));
    }
    if let Some(r) = input.geolocation_routing {
        out.headers.push(("Geolocation-Routing", r));
    }
    for &v in &input.call_info {
        out.headers.push(("Call-Info", v));
    }

    let Some(ct) = input.content_type else {
        return out;
    };
    let Some(mt) = MediaType::parse(ct) else {
        return out;
    };
    if mt.is("application", "pidf+xml") {
        out.parts.push(PassOnPart {
            content_type: ct,
            content_id: input.content_id,
            content_disposition: None,
            body: input.body,
        });
        return out;
    }
    if !mt.is_type("multipart") {
        return out;
    }
    let Ok(mp) = Multipart::parse(ct, input.body, &MultipartLimits::default()) else {
        return out;
    };
    // Content-IDs named by the carried headers.
    let mut named: Vec<String> = Vec::new();
    for v in &input.geolocation {
        for g in parse_geolocation(v).unwrap_or_default() {
            named.extend(cid_of(&g.uri).map(std::borrow::Cow::into_owned));
        }
    }
    for v in &input.call_info {
        for c in parse_call_info(v).unwrap_or_default() {
            named.extend(cid_of(&c.uri).map(std::borrow::Cow::into_owned));
        }
    }
    for p in &mp.parts {
        if carry(p, &named) {
            out.parts.push(PassOnPart {
                content_type: p.content_type(),
                content_id: p.header("Content-ID"),
                content_disposition: p.header("Content-Disposition"),
                body: p.body,
            });
        }
    }
    out
}

/// [`select_for_handler`] for a parsed SIP message.
pub fn pass_on(msg: &Message) -> PassOn<'_> {
    select_for_handler(&InviteLocationInput::from_message(msg))
}

fn carry(p: &Part<'_>, named: &[String]) -> bool {
    let Some(mt) = p.media_type() else {
        return false;
    };
    if mt.is("application", "sdp") {
        return false;
    }
    mt.is("application", "pidf+xml")
        || mt.is_emergency_call_data()
        || p.content_id().is_some_and(|c| named.iter().any(|n| n == c))
}
