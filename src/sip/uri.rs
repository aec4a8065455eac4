//! URIs carried in SIP messages: `sip:`/`sips:` (RFC 3261 §19.1, IPv6 references per
//! RFC 5118), `tel:` (RFC 3966), `urn:` including `urn:service:sos` and its sub-services
//! (RFC 5031), and any other absolute URI kept opaque (RFC 3261 §25.1 `absoluteURI`).
//!
//! A [`Uri`] borrows from the message text; parsing validates the syntax once and the
//! parts are then plain slices. %-escapes are kept as received; [`percent_decode`]
//! decodes them on demand (RFC 3261 §19.1.4: comparison is on decoded values).

use std::borrow::Cow;
use std::net::Ipv4Addr;

use super::scan::{find_byte, is_token_char, is_uri_param_char, Params};

/// Why a URI was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// No `scheme:` prefix, or the scheme has characters outside RFC 3986 §3.1.
    #[error("missing or malformed URI scheme")]
    BadScheme,
    /// White space, quotes or angle brackets inside the URI.
    #[error("illegal character in URI")]
    IllegalChar,
    /// `user[:password]@` part malformed.
    #[error("malformed user part")]
    BadUser,
    /// Host missing or malformed (including an IPv6 reference without `[]`, RFC 5118 §4.2).
    #[error("malformed host")]
    BadHost,
    /// Port not 1–5 digits or above 65535.
    #[error("malformed port")]
    BadPort,
    /// `;param` malformed.
    #[error("malformed URI parameter")]
    BadParam,
    /// `?headers` malformed.
    #[error("malformed URI headers")]
    BadHeaders,
    /// tel/urn/opaque part empty or malformed.
    #[error("malformed URI body")]
    BadBody,
}

/// URI scheme of a [`Uri`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `sip:` (RFC 3261 §19.1)
    Sip,
    /// `sips:` (RFC 3261 §19.1)
    Sips,
    /// `tel:` (RFC 3966)
    Tel,
    /// `urn:` (RFC 8141; `urn:service:` RFC 5031)
    Urn,
    /// Any other scheme (e.g. `im:`, `http:`); a request to one gets 416 (RFC 3261 §8.2.2.1).
    Other,
}

/// A parsed URI borrowing from the message. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    raw: &'a str,
    scheme: &'a str,
    body: UriBody<'a>,
}

/// The scheme-specific part of a [`Uri`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriBody<'a> {
    /// `sip:` or `sips:`
    Sip(SipUri<'a>),
    /// `tel:`
    Tel(TelUri<'a>),
    /// `urn:`
    Urn(UrnUri<'a>),
    /// Any other scheme: the text after `scheme:`.
    Other(&'a str),
}

/// `sip:`/`sips:` URI parts (RFC 3261 §19.1.1). User and password are raw (escaped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// True for `sips:`.
    pub secure: bool,
    /// User part, may contain `;` and %-escapes (RFC 4475 §3.1.1.9).
    pub user: Option<&'a str>,
    /// Password part (deprecated but legal).
    pub password: Option<&'a str>,
    /// Host.
    pub host: Host<'a>,
    /// Port, if given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr;user=phone`).
    pub params: Params<'a>,
    /// Raw `?headers` part without the `?`.
    pub headers: Option<&'a str>,
}

/// Host of a SIP URI or Via sent-by (RFC 3261 §25.1 `host`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name.
    Name(&'a str),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 reference: the text between `[` and `]`. Kept as text because RFC 5118
    /// §4.10 asks parsers to tolerate the 3-colon form from RFC 3261's ABNF bug.
    V6(&'a str),
}

impl Host<'_> {
    /// Host as it appears in a URI (IPv6 with brackets).
    pub fn to_uri_string(&self) -> String {
        match self {
            Host::Name(n) => (*n).to_owned(),
            Host::V4(a) => a.to_string(),
            Host::V6(a) => format!("[{a}]"),
        }
    }
}

/// `tel:` URI parts (RFC 3966 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The number, e.g. `+447700900123` or `999`, with any visual separators.
    pub number: &'a str,
    /// Parameters (`;phone-context=…`).
    pub params: Params<'a>,
}

/// `urn:` URI parts (RFC 8141), e.g. `urn:service:sos.police` (RFC 5031).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrnUri<'a> {
    /// Namespace identifier, e.g. `service`.
    pub nid: &'a str,
    /// Namespace-specific string up to any `;`, e.g. `sos.police`.
    pub nss: &'a str,
    /// Parameters some carriers append (`;phone-context=…`), seen in IMS traces.
    pub params: Params<'a>,
}

impl<'a> Uri<'a> {
    /// Parses an absolute URI. `s` must already be trimmed; white space inside is an error
    /// (RFC 4475 §3.1.2.8, §3.1.2.14).
    pub fn parse(s: &'a str) -> Result<Uri<'a>, UriError> {
        // Common `sip:`/`sips:` shape: one pass (see `sip::fast`); debug builds check it
        // gives exactly what the general parser gives.
        if let Some(u) = super::fast::sip_uri(s.as_bytes(), 0).filter(|u| u.end == s.len()) {
            let part = |(a, b): (usize, usize)| s.get(a..b).unwrap_or("");
            let host = part(u.host);
            let host = if host.as_bytes().last().is_some_and(u8::is_ascii_digit) {
                parse_ipv4(host.as_bytes()).map_or(Host::Name(host), Host::V4)
            } else {
                Host::Name(host)
            };
            let uri = Uri {
                raw: s,
                scheme: s.get(..u.scheme_len).unwrap_or(""),
                body: UriBody::Sip(SipUri {
                    secure: u.secure,
                    user: u.user.map(part),
                    password: None,
                    host,
                    port: u.port,
                    params: Params::from_checked(part(u.params)),
                    headers: None,
                }),
            };
            debug_assert_eq!(Ok(uri), Uri::parse_general(s), "fast URI path on {s:?}");
            return Ok(uri);
        }
        Uri::parse_general(s)
    }

    /// The general URI parser behind [`Uri::parse`].
    fn parse_general(s: &'a str) -> Result<Uri<'a>, UriError> {
        let b = s.as_bytes();
        if !b.first().is_some_and(|c| c.is_ascii_alphabetic()) {
            return Err(UriError::BadScheme);
        }
        let mut i = 1;
        loop {
            match b.get(i) {
                Some(b':') => break,
                Some(&c) if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.') => i += 1,
                _ => return Err(UriError::BadScheme),
            }
        }
        let scheme = s.get(..i).ok_or(UriError::BadScheme)?;
        let rest = s.get(i + 1..).unwrap_or("");
        let body = match scheme.len() {
            3 if scheme.eq_ignore_ascii_case("sip") => UriBody::Sip(parse_sip(rest, false)?),
            4 if scheme.eq_ignore_ascii_case("sips") => UriBody::Sip(parse_sip(rest, true)?),
            3 if scheme.eq_ignore_ascii_case("tel") => {
                check_opaque(rest)?;
                let (number, params) = match find_byte(rest.as_bytes(), b';') {
                    Some(k) => (rest.get(..k).unwrap_or(""), rest.get(k + 1..).unwrap_or("")),
                    None => (rest, ""),
                };
                if number.is_empty() {
                    return Err(UriError::BadBody);
                }
                let params = Params::parse_uri(params).map_err(|_| UriError::BadParam)?;
                UriBody::Tel(TelUri { number, params })
            }
            3 if scheme.eq_ignore_ascii_case("urn") => {
                check_opaque(rest)?;
                let (nid, nss_params) = rest.split_once(':').ok_or(UriError::BadBody)?;
                let (nss, params) = nss_params.split_once(';').unwrap_or((nss_params, ""));
                if nid.is_empty() || nss.is_empty() || !nid.bytes().all(is_token_char) {
                    return Err(UriError::BadBody);
                }
                // Liberal: IMS UEs send `urn:service:sos;phone-context=<host>@<host>`.
                let params = Params::parse_uri_lenient(params).map_err(|_| UriError::BadParam)?;
                UriBody::Urn(UrnUri { nid, nss, params })
            }
            _ => {
                check_opaque(rest)?;
                if rest.is_empty() {
                    return Err(UriError::BadBody);
                }
                UriBody::Other(rest)
            }
        };
        Ok(Uri {
            raw: s,
            scheme,
            body,
        })
    }

    /// The URI text as received.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The scheme text as received (e.g. `SIP`, `urn`).
    pub fn scheme_str(&self) -> &'a str {
        self.scheme
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        match self.body {
            UriBody::Sip(s) if s.secure => Scheme::Sips,
            UriBody::Sip(_) => Scheme::Sip,
            UriBody::Tel(_) => Scheme::Tel,
            UriBody::Urn(_) => Scheme::Urn,
            UriBody::Other(_) => Scheme::Other,
        }
    }

    /// The scheme-specific parts.
    pub fn body(&self) -> &UriBody<'a> {
        &self.body
    }

    /// SIP/SIPS parts, if this is a SIP URI.
    pub fn sip(&self) -> Option<&SipUri<'a>> {
        match &self.body {
            UriBody::Sip(s) => Some(s),
            _ => None,
        }
    }

    /// tel parts, if this is a tel URI.
    pub fn tel(&self) -> Option<&TelUri<'a>> {
        match &self.body {
            UriBody::Tel(t) => Some(t),
            _ => None,
        }
    }

    /// urn parts, if this is a URN.
    pub fn urn(&self) -> Option<&UrnUri<'a>> {
        match &self.body {
            UriBody::Urn(u) => Some(u),
            _ => None,
        }
    }

    /// The dialled identity: the SIP user part or the tel number (raw, escaped).
    pub fn user(&self) -> Option<&'a str> {
        match &self.body {
            UriBody::Sip(s) => s.user,
            UriBody::Tel(t) => Some(t.number),
            _ => None,
        }
    }

    /// The parameters of a sip, tel or urn URI.
    pub fn params(&self) -> Params<'a> {
        match &self.body {
            UriBody::Sip(s) => s.params,
            UriBody::Tel(t) => t.params,
            UriBody::Urn(u) => u.params,
            UriBody::Other(_) => Params::default(),
        }
    }

    /// For `urn:service:X`, the service `X` (e.g. `sos`, `sos.police`; RFC 5031 §4).
    pub fn service(&self) -> Option<&'a str> {
        match &self.body {
            UriBody::Urn(u) if u.nid.eq_ignore_ascii_case("service") => Some(u.nss),
            _ => None,
        }
    }

    /// True for `urn:service:sos` and every `urn:service:sos.*` sub-service (RFC 5031 §4.2).
    pub fn is_sos_service(&self) -> bool {
        self.service().is_some_and(|s| {
            s.eq_ignore_ascii_case("sos")
                || s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("sos."))
        })
    }
}

impl std::fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.raw)
    }
}

/// Octets [`parse_sip`] must look at: controls, SP, DEL, `"`, `@`, `<`, `>`.
const SIP_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b <= b' ' || b == 0x7f || matches!(b, b'"' | b'@' | b'<' | b'>');
        i += 1;
    }
    t
};

/// Host-name octets (RFC 3261 §25.1 `hostname`, plus `_` seen in the wild).
pub(crate) const HOST_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
        i += 1;
    }
    t
};

/// Parses dotted-quad IPv4 (RFC 3261 §25.1 `IPv4address`), `None` otherwise.
fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0usize;
    let mut cur: u16 = 0;
    let mut digits = 0;
    for &c in s {
        if c == b'.' {
            if digits == 0 || n >= 3 {
                return None;
            }
            *octets.get_mut(n)? = u8::try_from(cur).ok()?;
            n += 1;
            cur = 0;
            digits = 0;
        } else if c.is_ascii_digit() && digits < 3 {
            cur = cur * 10 + u16::from(c - b'0');
            digits += 1;
        } else {
            return None;
        }
    }
    if digits == 0 || n != 3 {
        return None;
    }
    *octets.get_mut(3)? = u8::try_from(cur).ok()?;
    Some(Ipv4Addr::from(octets))
}

/// Rejects white space, controls, quotes and angle brackets in a non-SIP URI body.
fn check_opaque(rest: &str) -> Result<(), UriError> {
    if rest
        .bytes()
        .any(|c| c <= b' ' || c == 0x7f || matches!(c, b'"' | b'<' | b'>'))
    {
        return Err(UriError::IllegalChar);
    }
    Ok(())
}

fn parse_sip(rest: &str, secure: bool) -> Result<SipUri<'_>, UriError> {
    // One pass: reject white space / controls / quotes, find the first `@` (userinfo may
    // contain `?`, RFC 4475 §3.1.1.2, but never `@`; nor may host, params or headers),
    // and note the first `<`/`>`, allowed only inside `?headers` (liberal: an IMS core
    // puts an unescaped `<tel:…>` there).
    let b = rest.as_bytes();
    let mut at = None;
    let mut angle = None;
    for (k, &c) in b.iter().enumerate() {
        // Fast path: ordinary URI characters need no attention.
        if !SIP_SPECIAL[c as usize] {
            continue;
        }
        if c <= b' ' || c == 0x7f || c == b'"' {
            return Err(UriError::IllegalChar);
        }
        if c == b'@' && at.is_none() {
            at = Some(k);
        } else if (c == b'<' || c == b'>') && angle.is_none() {
            angle = Some(k);
        }
    }
    let host_start = at.map_or(0, |k| k + 1);
    let q = b
        .get(host_start..)
        .and_then(|h| find_byte(h, b'?'))
        .map(|k| k + host_start);
    if angle.is_some_and(|a| q.is_none_or(|q| a < q)) {
        return Err(UriError::IllegalChar);
    }
    let headers = match q {
        Some(q) => {
            let h = rest.get(q + 1..).unwrap_or("");
            if h.is_empty()
                || !h.bytes().all(|c| {
                    is_uri_param_char(c)
                        || matches!(c, b'=' | b'?' | b'@' | b',' | b'<' | b'>' | b';')
                })
            {
                return Err(UriError::BadHeaders);
            }
            Some(h)
        }
        None => None,
    };
    let (user, password) = match at {
        None => (None, None),
        Some(k) => {
            let u = rest.get(..k).unwrap_or("");
            let (user, pw) = match find_byte(u.as_bytes(), b':') {
                Some(c) => (u.get(..c).unwrap_or(""), u.get(c + 1..)),
                None => (u, None),
            };
            if user.is_empty() || !user.bytes().all(is_user_char) {
                return Err(UriError::BadUser);
            }
            if pw.is_some_and(|p| !p.bytes().all(is_user_char)) {
                return Err(UriError::BadUser);
            }
            (Some(user), pw)
        }
    };
    let hostpart = rest.get(host_start..q.unwrap_or(b.len())).unwrap_or("");
    let (hostport, params) = match find_byte(hostpart.as_bytes(), b';') {
        Some(k) => (
            hostpart.get(..k).unwrap_or(""),
            hostpart.get(k + 1..).unwrap_or(""),
        ),
        None => (hostpart, ""),
    };
    let (host, port) = parse_hostport(hostport)?;
    let params = Params::parse_uri(params).map_err(|_| UriError::BadParam)?;
    Ok(SipUri {
        secure,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

/// RFC 3261 §25.1 `user` / `password` characters plus `%` escapes.
pub(crate) const USER_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'!'
                    | b'~'
                    | b'*'
                    | b'\''
                    | b'('
                    | b')'
                    | b'%'
                    | b'&'
                    | b'='
                    | b'+'
                    | b'$'
                    | b','
                    | b';'
                    | b'?'
                    | b'/'
            );
        i += 1;
    }
    t
};

#[inline]
fn is_user_char(b: u8) -> bool {
    USER_CHAR[b as usize]
}

/// Parses `host [":" port]` (RFC 3261 §25.1 `hostport`, RFC 5118 IPv6 references).
pub(crate) fn parse_hostport(s: &str) -> Result<(Host<'_>, Option<u16>), UriError> {
    let b = s.as_bytes();
    let (host, port) = if b.first() == Some(&b'[') {
        let close = find_byte(b, b']').ok_or(UriError::BadHost)?;
        let v6 = s.get(1..close).unwrap_or("");
        if v6.is_empty()
            || find_byte(v6.as_bytes(), b':').is_none()
            || !v6
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
        {
            return Err(UriError::BadHost);
        }
        let port = match s.get(close + 1..).unwrap_or("") {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(UriError::BadPort)?),
        };
        (Host::V6(v6), port)
    } else {
        let k = b
            .iter()
            .position(|&c| !HOST_CHAR[c as usize])
            .unwrap_or(b.len());
        if k < b.len() && b.get(k) != Some(&b':') {
            return Err(UriError::BadHost);
        }
        let h = s.get(..k).unwrap_or("");
        if h.is_empty() {
            return Err(UriError::BadHost);
        }
        // A domain's top label starts with a letter, so only a digit at the end can
        // make an IPv4 address.
        let host = if h.as_bytes().last().is_some_and(u8::is_ascii_digit) {
            parse_ipv4(h.as_bytes()).map_or(Host::Name(h), Host::V4)
        } else {
            Host::Name(h)
        };
        (host, s.get(k + 1..).filter(|_| k < b.len()))
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(UriError::BadPort);
            }
            Some(p.parse::<u16>().map_err(|_| UriError::BadPort)?)
        }
    };
    Ok((host, port))
}

/// Decodes `%HH` escapes (RFC 3261 §19.1.2, §25.1 `escaped`). A `%` not followed by two
/// hex digits is kept literally (RFC 4475 §3.1.1.5). May yield any octet, `%00` included.
pub fn percent_decode(s: &str) -> Cow<'_, [u8]> {
    if !s.contains('%') {
        return Cow::Borrowed(s.as_bytes());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|x| hex_val(*x)),
                b.get(i + 2).and_then(|x| hex_val(*x)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    Cow::Owned(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let u =
            Uri::parse("sip:user;par=u%40example.net@example.com:5070;lr;transport=tcp").unwrap();
        let s = u.sip().unwrap();
        assert_eq!(s.user, Some("user;par=u%40example.net"));
        assert_eq!(s.host, Host::Name("example.com"));
        assert_eq!(s.port, Some(5070));
        assert_eq!(s.params.get("transport"), Some(Some("tcp")));
        assert!(s.params.contains("lr"));
    }

    #[test]
    fn ipv6_references() {
        let u = Uri::parse("sip:[2001:db8::10]:5070").unwrap();
        assert_eq!(u.sip().unwrap().host, Host::V6("2001:db8::10"));
        assert_eq!(u.sip().unwrap().port, Some(5070));
        let amb = Uri::parse("sip:[2001:db8::10:5070]").unwrap();
        assert_eq!(amb.sip().unwrap().host, Host::V6("2001:db8::10:5070"));
        assert_eq!(amb.sip().unwrap().port, None);
        assert_eq!(Uri::parse("sip:2001:db8::10"), Err(UriError::BadPort));
        assert!(Uri::parse("sip:user@[2001:db8:::192.0.2.1]").is_ok());
    }

    #[test]
    fn tel_urn_other() {
        let t = Uri::parse("tel:+447700900123;phone-context=+44").unwrap();
        assert_eq!(t.user(), Some("+447700900123"));
        let s = Uri::parse("urn:service:sos.police").unwrap();
        assert_eq!(s.service(), Some("sos.police"));
        assert!(s.is_sos_service());
        assert!(!Uri::parse("urn:service:sosx").unwrap().is_sos_service());
        let o = Uri::parse("nobodyknowsthisscheme:totallyopaquecontent").unwrap();
        assert_eq!(o.scheme(), Scheme::Other);
        assert_eq!(Uri::parse("<sip:a@b>"), Err(UriError::BadScheme));
        assert_eq!(Uri::parse("sip:a@b ;lr"), Err(UriError::IllegalChar));
    }

    #[test]
    fn ipv4() {
        assert_eq!(parse_ipv4(b"192.0.2.1"), Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(parse_ipv4(b"255.255.255.255"), Some(Ipv4Addr::BROADCAST));
        for bad in [
            &b"256.1.1.1"[..],
            b"1.2.3",
            b"1.2.3.4.5",
            b"1..2.3",
            b"1234.1.1.1",
            b"",
        ] {
            assert_eq!(parse_ipv4(bad), None);
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(&*percent_decode("null-%00-null"), b"null-\0-null");
        assert_eq!(
            &*percent_decode("sips%3Auser%40example.com"),
            b"sips:user@example.com"
        );
        assert_eq!(&*percent_decode("%Z%45"), b"%ZE");
    }
}
