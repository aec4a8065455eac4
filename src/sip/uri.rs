//! URIs carried in SIP messages: `sip:`/`sips:` (RFC 3261 §19.1, IPv6 references per
//! RFC 5118), `tel:` (RFC 3966), `urn:` including `urn:service:sos` and its sub-services
//! (RFC 5031), and any other absolute URI kept opaque (RFC 3261 §25.1 `absoluteURI`).
//!
//! A [`Uri`] borrows from the message text; parsing validates the syntax once and the
//! parts are then plain slices. %-escapes are kept as received; [`percent_decode`]
//! decodes them on demand (RFC 3261 §19.1.4: comparison is on decoded values).

use std::borrow::Cow;
use std::net::Ipv4Addr;

use super::scan::{is_token_char, Params};

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
        if s.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'"') {
            return Err(UriError::IllegalChar);
        }
        // `<` and `>` may appear only inside the `?headers` of a SIP URI, where some IMS
        // cores put an unescaped `<tel:…>` (liberal; seen in a Portugal Telecom trace).
        let angle_ok_from = s.find('?').unwrap_or(s.len());
        if s.get(..angle_ok_from)
            .is_some_and(|p| p.bytes().any(|b| b == b'<' || b == b'>'))
        {
            return Err(UriError::IllegalChar);
        }
        let (scheme, rest) = s.split_once(':').ok_or(UriError::BadScheme)?;
        let mut sb = scheme.bytes();
        if !sb.next().is_some_and(|b| b.is_ascii_alphabetic())
            || !sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return Err(UriError::BadScheme);
        }
        let body = if scheme.eq_ignore_ascii_case("sip") {
            UriBody::Sip(parse_sip(rest, false)?)
        } else if scheme.eq_ignore_ascii_case("sips") {
            UriBody::Sip(parse_sip(rest, true)?)
        } else if scheme.eq_ignore_ascii_case("tel") {
            let (number, params) = rest.split_once(';').unwrap_or((rest, ""));
            if number.is_empty() {
                return Err(UriError::BadBody);
            }
            let params = Params::parse_uri(params).map_err(|_| UriError::BadParam)?;
            UriBody::Tel(TelUri { number, params })
        } else if scheme.eq_ignore_ascii_case("urn") {
            let (nid, nss_params) = rest.split_once(':').ok_or(UriError::BadBody)?;
            let (nss, params) = nss_params.split_once(';').unwrap_or((nss_params, ""));
            if nid.is_empty() || nss.is_empty() || !nid.bytes().all(is_token_char) {
                return Err(UriError::BadBody);
            }
            // Liberal: IMS UEs send `urn:service:sos;phone-context=<host>@<host>`.
            let params = Params::parse_uri_lenient(params).map_err(|_| UriError::BadParam)?;
            UriBody::Urn(UrnUri { nid, nss, params })
        } else {
            if rest.is_empty() || rest.bytes().any(|b| b == b'<' || b == b'>') {
                return Err(UriError::BadBody);
            }
            UriBody::Other(rest)
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

fn parse_sip(rest: &str, secure: bool) -> Result<SipUri<'_>, UriError> {
    // userinfo may contain `?` (RFC 4475 §3.1.1.2) but never `@`, and neither may the
    // host, parameters or headers: the first `@` ends the userinfo.
    let (userinfo, after_user) = match rest.split_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (hostpart, headers) = match after_user.split_once('?') {
        Some((b, h)) => (b, Some(h)),
        None => (after_user, None),
    };
    if let Some(h) = headers {
        if h.is_empty()
            || !h.bytes().all(|b| {
                super::scan::is_uri_param_char(b)
                    || matches!(b, b'=' | b'?' | b'@' | b',' | b'<' | b'>' | b';')
            })
        {
            return Err(UriError::BadHeaders);
        }
    }
    let (user, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (user, pw) = match u.split_once(':') {
                Some((a, b)) => (a, Some(b)),
                None => (u, None),
            };
            if user.is_empty() || !user.bytes().all(is_user_char) {
                return Err(UriError::BadUser);
            }
            if let Some(p) = pw {
                if !p.bytes().all(is_user_char) {
                    return Err(UriError::BadUser);
                }
            }
            (Some(user), pw)
        }
    };
    let (hostport, params) = hostpart.split_once(';').unwrap_or((hostpart, ""));
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
fn is_user_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
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
        )
}

/// Parses `host [":" port]` (RFC 3261 §25.1 `hostport`, RFC 5118 IPv6 references).
pub(crate) fn parse_hostport(s: &str) -> Result<(Host<'_>, Option<u16>), UriError> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let (v6, after) = inner.split_once(']').ok_or(UriError::BadHost)?;
        if v6.is_empty()
            || !v6.contains(':')
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(UriError::BadHost);
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(UriError::BadPort)?),
        };
        (Host::V6(v6), port)
    } else {
        let (h, p) = match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        if h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(UriError::BadHost);
        }
        let host = match h.parse::<Ipv4Addr>() {
            Ok(a) => Host::V4(a),
            Err(_) => Host::Name(h),
        };
        (host, p)
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
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
        assert_eq!(Uri::parse("<sip:a@b>"), Err(UriError::IllegalChar));
        assert_eq!(Uri::parse("sip:a@b ;lr"), Err(UriError::IllegalChar));
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
