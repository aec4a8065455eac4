//! Single-pass fast-path checks for the common shapes of the core header values the
//! parser validates eagerly (RFC 3261 §20.20 From, §20.39 To, §20.10 Contact, §20.42
//! Via, §19.1.1 SIP URI as Request-URI or inside `<>`).
//!
//! Each check walks the octets once, builds nothing, and answers `true` only for values
//! that are a strict subset of what the full typed parsers ([`NameAddr::parse`],
//! [`Via::parse`], [`Uri::parse`]) accept: plain `sip:`/`sips:` URIs without password,
//! IPv6 reference or `?headers`; `SIP/2.0/<transport>` Via with a host name or IPv4
//! sent-by. `false` means "not the common shape", never "invalid": the caller then
//! runs the full parser, which gives the RFC 4475 verdict. So verdicts are unchanged by
//! construction; debug builds (tests, fuzzing) re-check every fast acceptance against
//! the full parser.
//!
//! [`NameAddr::parse`]: super::header::NameAddr::parse
//! [`Via::parse`]: super::header::Via::parse
//! [`Uri::parse`]: super::uri::Uri::parse

use super::scan::{is_token_char, is_ws, quoted_end, Params, URI_PARAM};
use super::uri::{HOST_CHAR, USER_CHAR};

/// `b[i..]` starts with `lower` (lower-case ASCII), letters compared
/// case-insensitively and every other octet exactly.
#[inline]
fn starts_fold(b: &[u8], i: usize, lower: &[u8]) -> bool {
    b.get(i..i + lower.len()).is_some_and(|p| {
        p.iter().zip(lower).all(|(&a, &l)| {
            if l.is_ascii_lowercase() {
                a | 0x20 == l
            } else {
                a == l
            }
        })
    })
}

/// Offset of the first octet at or after `i` that fails `ok` (or `b.len()`).
#[inline(always)]
pub(crate) fn skip(b: &[u8], i: usize, ok: impl Fn(u8) -> bool) -> usize {
    match b.get(i..) {
        Some(r) => i + r.iter().take_while(|&&c| ok(c)).count(),
        None => i,
    }
}

/// Where the parts of a common-shape SIP URI lie (octet offsets into the checked text).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SipShape {
    /// Offset just past the URI.
    pub(crate) end: usize,
    /// `sips:`.
    pub(crate) secure: bool,
    /// Length of the scheme name (3 or 4).
    pub(crate) scheme_len: usize,
    /// User part, if any.
    pub(crate) user: Option<(usize, usize)>,
    /// Host.
    pub(crate) host: (usize, usize),
    /// Port, if given.
    pub(crate) port: Option<u16>,
    /// Parameters after the first `;` (empty range when none).
    pub(crate) params: (usize, usize),
}

/// Checks a `sip:`/`sips:` URI starting at `b[i]` and ending at the first octet that
/// cannot belong to it; returns its parts when the URI is of the common shape
/// `scheme ":" [user "@"] host [":" port] *(";" uri-param)` (no password, IPv6
/// reference or `?headers`).
pub(crate) fn sip_uri(b: &[u8], i: usize) -> Option<SipShape> {
    let (secure, scheme_len) = if starts_fold(b, i, b"sip:") {
        (false, 3)
    } else if starts_fold(b, i, b"sips:") {
        (true, 4)
    } else {
        return None;
    };
    let mut i = i + scheme_len + 1;
    // user: USER_CHAR excludes `@`, `:`, `<`, `>`, `"`, LWS and controls, so the scan
    // stops at the first `@` if there is a user part.
    let start = i;
    i = skip(b, i, |c| USER_CHAR[c as usize]);
    let user = if b.get(i) == Some(&b'@') && i > start {
        i += 1;
        Some((start, i - 1))
    } else {
        i = start;
        None
    };
    // host: host name or IPv4 (both within HOST_CHAR; a malformed dotted quad is a
    // host name to the full parser too).
    let h = i;
    i = skip(b, i, |c| HOST_CHAR[c as usize]);
    if i == h {
        return None;
    }
    let host = (h, i);
    let mut port = None;
    if b.get(i) == Some(&b':') {
        i += 1;
        let p = i;
        let mut n: u32 = 0;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            n = n * 10 + u32::from(c - b'0');
            i += 1;
            if i - p > 5 {
                return None;
            }
        }
        if i == p {
            return None;
        }
        port = Some(u16::try_from(n).ok()?);
    }
    // uri-parameters: `;name[=value]`, both parts non-empty, paramchar octets.
    let params_start = i + 1;
    while b.get(i) == Some(&b';') {
        i += 1;
        let n = i;
        i = skip(b, i, |c| URI_PARAM[c as usize]);
        if i == n {
            return None;
        }
        if b.get(i) == Some(&b'=') {
            i += 1;
            let v = i;
            i = skip(b, i, |c| URI_PARAM[c as usize]);
            if i == v {
                return None;
            }
        }
    }
    let params = if i >= params_start {
        (params_start, i)
    } else {
        (i, i)
    };
    // `@` after the host, `?headers`, `[`: leave to the full parser.
    match b.get(i) {
        Some(b'@' | b'?' | b'[' | b']') => None,
        _ => Some(SipShape {
            end: i,
            secure,
            scheme_len,
            user,
            host,
            port,
            params,
        }),
    }
}

/// A Request-URI (already split out of the request line) of the common SIP shape.
pub(crate) fn request_uri(s: &str) -> bool {
    let b = s.as_bytes();
    sip_uri(b, 0).is_some_and(|u| u.end == b.len())
}

/// A From / To / Contact element (trimmed) of the shape
/// `[quoted-string / *token-or-LWS] "<" sip-uri ">" [LWS ";" generic-params]`.
pub(crate) fn name_addr(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'"') {
        match quoted_end(b) {
            Some(n) => i = n,
            None => return false,
        }
        i = skip(b, i, is_ws);
    } else {
        i = skip(b, i, |c| is_token_char(c) || is_ws(c));
    }
    if b.get(i) != Some(&b'<') {
        return false;
    }
    let Some(end) = sip_uri(b, i + 1).map(|u| u.end) else {
        return false;
    };
    if b.get(end) != Some(&b'>') {
        return false;
    }
    let mut i = end + 1;
    i = skip(b, i, is_ws);
    match b.get(i) {
        None => true,
        Some(b';') => s.get(i + 1..).is_some_and(|p| Params::parse(p).is_ok()),
        Some(_) => false,
    }
}

/// One Via element (trimmed) of the shape `SIP/2.0/<token> LWS host [":" port]
/// [LWS] [";" via-params]`.
pub(crate) fn via(s: &str) -> bool {
    let b = s.as_bytes();
    if !starts_fold(b, 0, b"sip/2.0/") {
        return false;
    }
    let mut i = 8;
    let t = i;
    i = skip(b, i, is_token_char);
    if i == t || !b.get(i).is_some_and(|&c| is_ws(c)) {
        return false;
    }
    i = skip(b, i, is_ws);
    let h = i;
    i = skip(b, i, |c| HOST_CHAR[c as usize]);
    if i == h {
        return false;
    }
    if b.get(i) == Some(&b':') {
        i += 1;
        let p = i;
        let mut port: u32 = 0;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            port = port * 10 + u32::from(c - b'0');
            i += 1;
            if i - p > 5 {
                return false;
            }
        }
        if i == p || port > 65535 {
            return false;
        }
    }
    i = skip(b, i, is_ws);
    match b.get(i) {
        None => true,
        Some(b';') => s.get(i + 1..).is_some_and(|p| Params::parse(p).is_ok()),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::header::{NameAddr, Via};
    use super::super::uri::Uri;
    use super::*;

    #[test]
    fn common_shapes_take_the_fast_path() {
        assert!(request_uri("sip:999@answerpoint.example;user=phone"));
        assert!(request_uri("SIPS:bob@192.0.2.4:5061"));
        assert!(name_addr(
            r#""Caller" <sip:+447700900123@carrier.example;user=phone>;tag=as7d8f9a"#
        ));
        assert!(name_addr("<sip:999@answerpoint.example;user=phone>"));
        assert!(name_addr("Bob <sip:bob@b.example> ; tag = 1"));
        assert!(via(
            "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---a7c3e3b1;rport"
        ));
    }

    #[test]
    fn other_shapes_fall_back() {
        // Not errors, just not the fast shape: the full parser decides.
        for v in [
            "sip:user:pw@host",
            "sip:[2001:db8::1]",
            "sip:a@b?Subject=x",
            "tel:+447700900123",
            "urn:service:sos",
            "sip:a@b:99999",
            "sip:a@b;;",
            "sip\x1ahost",
        ] {
            assert!(!request_uri(v), "{v}");
        }
        assert!(!name_addr("sip:a@b;tag=1"));
        assert!(!name_addr("<sip:a@b> junk"));
        assert!(!name_addr(r#""unterminated <sip:a@b>"#));
        assert!(!via("SIP / 2.0 / UDP host"));
        assert!(!via("SIP/2.0/UDP [2001:db8::1]:5060"));
        assert!(!via("SIP/2.0/UDP host;;"));
        assert!(!via("SIP\x0f2.0/UDP host"));
    }

    #[test]
    fn fast_acceptance_implies_full_acceptance() {
        let uris = [
            "sip:999@answerpoint.example;user=phone",
            "sip:host:5060;lr",
            "sip:a.b-c_d@1.2.3.999",
            "sips:x@y:0;transport=tls;maddr=192.0.2.1",
            // RFC 4475 §3.1.1.9: `;` and `=` belong to the user part before `@`.
            "sip:host;x=a@b",
        ];
        for u in uris {
            assert!(request_uri(u), "{u}");
            assert!(Uri::parse(u).is_ok(), "{u}");
        }
        let nas = [
            r#""J \"R\"" <sip:j@example.com>;tag=98"#,
            "A B C <sip:a@b>",
            r#"<sip:a@b>;+sip.instance="<urn:uuid:1>";expires=60"#,
        ];
        for n in nas {
            assert!(name_addr(n), "{n}");
            assert!(NameAddr::parse(n).is_ok(), "{n}");
        }
        let vias = [
            "SIP/2.0/TCP h;branch=z9hG4bK1",
            "sip/2.0/udp 10.0.0.1:1 ;rport",
        ];
        for v in vias {
            assert!(via(v), "{v}");
            assert!(Via::parse(v).is_ok(), "{v}");
        }
    }
}
