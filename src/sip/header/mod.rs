//! SIP header names and typed header values (RFC 3261 §7.3, §20, and the extension
//! RFCs named on each type). Names are case-insensitive and the compact forms of
//! RFC 3261 §7.3.3 and later RFCs map to the same [`HeaderName`].

mod name_addr;
mod values;
mod via;

pub use name_addr::{Contact, DisplayName, NameAddr};
pub use values::{CSeq, ContentType, GeolocationRouting, Priority, ResourcePriority, MAX_CSEQ};
pub use via::Via;

macro_rules! header_names {
    ($( $(#[$doc:meta])* $var:ident = $canon:literal, $lower:literal, $compact:expr, $list:expr; )*) => {
        /// A header name. Known headers get their own variant (matched case-insensitively,
        /// compact forms included); anything else is [`HeaderName::Other`], compared by
        /// its text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $(#[$doc])* $var, )*
            /// Any header not listed above.
            Other,
        }

        impl HeaderName {
            /// Canonical spelling, e.g. `Call-ID`. `Other` yields `""`.
            pub fn as_str(self) -> &'static str {
                match self { $( HeaderName::$var => $canon, )* HeaderName::Other => "" }
            }

            /// The single-letter compact form (RFC 3261 §7.3.3), if any.
            pub fn compact(self) -> Option<char> {
                match self { $( HeaderName::$var => $compact, )* HeaderName::Other => None }
            }

            /// True for headers whose grammar is a comma-separated list
            /// (RFC 3261 §7.3.1), so one line may carry several values.
            pub fn is_list(self) -> bool {
                match self { $( HeaderName::$var => $list, )* HeaderName::Other => false }
            }

            /// Lower-case spellings, for tests.
            #[cfg(test)]
            fn all() -> &'static [(&'static [u8], HeaderName)] {
                &[ $( ($lower, HeaderName::$var), )* ]
            }
        }
    };
}

header_names! {
    /// `Via` / `v` (RFC 3261 §20.42)
    Via = "Via", b"via", Some('v'), true;
    /// `From` / `f` (§20.20)
    From = "From", b"from", Some('f'), false;
    /// `To` / `t` (§20.39)
    To = "To", b"to", Some('t'), false;
    /// `Call-ID` / `i` (§20.8)
    CallId = "Call-ID", b"call-id", Some('i'), false;
    /// `CSeq` (§20.16)
    CSeq = "CSeq", b"cseq", None, false;
    /// `Max-Forwards` (§20.22)
    MaxForwards = "Max-Forwards", b"max-forwards", None, false;
    /// `Contact` / `m` (§20.10)
    Contact = "Contact", b"contact", Some('m'), true;
    /// `Route` (§20.34)
    Route = "Route", b"route", None, true;
    /// `Record-Route` (§20.30)
    RecordRoute = "Record-Route", b"record-route", None, true;
    /// `Content-Length` / `l` (§20.14)
    ContentLength = "Content-Length", b"content-length", Some('l'), false;
    /// `Content-Type` / `c` (§20.15)
    ContentType = "Content-Type", b"content-type", Some('c'), false;
    /// `Content-Encoding` / `e` (§20.12)
    ContentEncoding = "Content-Encoding", b"content-encoding", Some('e'), true;
    /// `Content-Disposition` (§20.11)
    ContentDisposition = "Content-Disposition", b"content-disposition", None, false;
    /// `Expires` (§20.19)
    Expires = "Expires", b"expires", None, false;
    /// `Require` (§20.32)
    Require = "Require", b"require", None, true;
    /// `Proxy-Require` (§20.29)
    ProxyRequire = "Proxy-Require", b"proxy-require", None, true;
    /// `Supported` / `k` (§20.37)
    Supported = "Supported", b"supported", Some('k'), true;
    /// `Unsupported` (§20.40)
    Unsupported = "Unsupported", b"unsupported", None, true;
    /// `Allow` (§20.5)
    Allow = "Allow", b"allow", None, true;
    /// `Accept` (§20.1)
    Accept = "Accept", b"accept", None, true;
    /// `Subject` / `s` (§20.36)
    Subject = "Subject", b"subject", Some('s'), false;
    /// `Date` (§20.17)
    Date = "Date", b"date", None, false;
    /// `Timestamp` (§20.38)
    Timestamp = "Timestamp", b"timestamp", None, false;
    /// `User-Agent` (§20.41)
    UserAgent = "User-Agent", b"user-agent", None, false;
    /// `Server` (§20.35)
    Server = "Server", b"server", None, false;
    /// `Warning` (§20.43)
    Warning = "Warning", b"warning", None, true;
    /// `Retry-After` (§20.33)
    RetryAfter = "Retry-After", b"retry-after", None, false;
    /// `Min-Expires` (§20.23)
    MinExpires = "Min-Expires", b"min-expires", None, false;
    /// `Authorization` (§20.7)
    Authorization = "Authorization", b"authorization", None, false;
    /// `WWW-Authenticate` (§20.44)
    WwwAuthenticate = "WWW-Authenticate", b"www-authenticate", None, false;
    /// `Proxy-Authenticate` (§20.27)
    ProxyAuthenticate = "Proxy-Authenticate", b"proxy-authenticate", None, false;
    /// `Proxy-Authorization` (§20.28)
    ProxyAuthorization = "Proxy-Authorization", b"proxy-authorization", None, false;
    /// `Priority` (§20.26)
    Priority = "Priority", b"priority", None, false;
    /// `Resource-Priority` (RFC 4412 §3.1)
    ResourcePriority = "Resource-Priority", b"resource-priority", None, true;
    /// `Geolocation` (RFC 6442 §4.1)
    Geolocation = "Geolocation", b"geolocation", None, true;
    /// `Geolocation-Routing` (RFC 6442 §4.2)
    GeolocationRouting = "Geolocation-Routing", b"geolocation-routing", None, false;
    /// `Geolocation-Error` (RFC 6442 §4.3)
    GeolocationError = "Geolocation-Error", b"geolocation-error", None, false;
    /// `P-Asserted-Identity` (RFC 3325 §9.1)
    PAssertedIdentity = "P-Asserted-Identity", b"p-asserted-identity", None, true;
    /// `P-Preferred-Identity` (RFC 3325 §9.2)
    PPreferredIdentity = "P-Preferred-Identity", b"p-preferred-identity", None, true;
    /// `Call-Info` (§20.9; RFC 7852 additional data)
    CallInfo = "Call-Info", b"call-info", None, true;
    /// `History-Info` (RFC 7044 §4.1)
    HistoryInfo = "History-Info", b"history-info", None, true;
    /// `RSeq` (RFC 3262 §7.1)
    RSeq = "RSeq", b"rseq", None, false;
    /// `RAck` (RFC 3262 §7.2)
    RAck = "RAck", b"rack", None, false;
    /// `Session-Expires` / `x` (RFC 4028 §4)
    SessionExpires = "Session-Expires", b"session-expires", Some('x'), false;
    /// `Min-SE` (RFC 4028 §5)
    MinSe = "Min-SE", b"min-se", None, false;
    /// `Event` / `o` (RFC 6665 §8.2.1)
    Event = "Event", b"event", Some('o'), false;
    /// `Allow-Events` / `u` (RFC 6665 §8.2.2)
    AllowEvents = "Allow-Events", b"allow-events", Some('u'), true;
    /// `Subscription-State` (RFC 6665 §8.2.3)
    SubscriptionState = "Subscription-State", b"subscription-state", None, false;
    /// `Refer-To` / `r` (RFC 3515 §2.1)
    ReferTo = "Refer-To", b"refer-to", Some('r'), false;
    /// `Referred-By` / `b` (RFC 3892 §3)
    ReferredBy = "Referred-By", b"referred-by", Some('b'), false;
    /// `Accept-Contact` / `a` (RFC 3841 §9.2)
    AcceptContact = "Accept-Contact", b"accept-contact", Some('a'), true;
    /// `Reject-Contact` / `j` (RFC 3841 §9.2)
    RejectContact = "Reject-Contact", b"reject-contact", Some('j'), true;
    /// `Request-Disposition` / `d` (RFC 3841 §9.1)
    RequestDisposition = "Request-Disposition", b"request-disposition", Some('d'), true;
    /// `Identity` / `y` (RFC 8224 §4)
    Identity = "Identity", b"identity", Some('y'), false;
    /// `Reason` (RFC 3326 §2)
    Reason = "Reason", b"reason", None, true;
    /// `Path` (RFC 3327 §4)
    Path = "Path", b"path", None, true;
}

impl HeaderName {
    /// Classifies a header name as received: case-insensitive, compact forms included
    /// (RFC 3261 §7.3.3). Anything that is not a known name (or not a token) is `Other`.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        if !name.iter().all(|&b| crate::sip::scan::is_token_char(b)) {
            return HeaderName::Other;
        }
        HeaderName::from_token(name)
    }

    /// [`HeaderName::from_bytes`] for octets already known to be token characters.
    pub(crate) fn from_token(name: &[u8]) -> HeaderName {
        if name.len() == 1 {
            return match name.first().map(u8::to_ascii_lowercase) {
                Some(b'v') => HeaderName::Via,
                Some(b'f') => HeaderName::From,
                Some(b't') => HeaderName::To,
                Some(b'i') => HeaderName::CallId,
                Some(b'm') => HeaderName::Contact,
                Some(b'l') => HeaderName::ContentLength,
                Some(b'c') => HeaderName::ContentType,
                Some(b'e') => HeaderName::ContentEncoding,
                Some(b'k') => HeaderName::Supported,
                Some(b's') => HeaderName::Subject,
                Some(b'x') => HeaderName::SessionExpires,
                Some(b'o') => HeaderName::Event,
                Some(b'u') => HeaderName::AllowEvents,
                Some(b'r') => HeaderName::ReferTo,
                Some(b'b') => HeaderName::ReferredBy,
                Some(b'a') => HeaderName::AcceptContact,
                Some(b'j') => HeaderName::RejectContact,
                Some(b'd') => HeaderName::RequestDisposition,
                Some(b'y') => HeaderName::Identity,
                _ => HeaderName::Other,
            };
        }
        // ASCII letters differ from lower case only in bit 0x20, and on token
        // characters `| 0x20` folds case without creating false matches.
        let first = name.first().map_or(0, |b| b | 0x20);
        match name.len() {
            2 => match first {
                b't' if fold_eq(name, b"to") => HeaderName::To,
                _ => HeaderName::Other,
            },
            3 => match first {
                b'v' if fold_eq(name, b"via") => HeaderName::Via,
                _ => HeaderName::Other,
            },
            4 => match first {
                b'f' if fold_eq(name, b"from") => HeaderName::From,
                b'c' if fold_eq(name, b"cseq") => HeaderName::CSeq,
                b'd' if fold_eq(name, b"date") => HeaderName::Date,
                b'r' if fold_eq(name, b"rseq") => HeaderName::RSeq,
                b'r' if fold_eq(name, b"rack") => HeaderName::RAck,
                b'p' if fold_eq(name, b"path") => HeaderName::Path,
                _ => HeaderName::Other,
            },
            5 => match first {
                b'r' if fold_eq(name, b"route") => HeaderName::Route,
                b'a' if fold_eq(name, b"allow") => HeaderName::Allow,
                b'e' if fold_eq(name, b"event") => HeaderName::Event,
                _ => HeaderName::Other,
            },
            6 => match first {
                b'a' if fold_eq(name, b"accept") => HeaderName::Accept,
                b's' if fold_eq(name, b"server") => HeaderName::Server,
                b'm' if fold_eq(name, b"min-se") => HeaderName::MinSe,
                b'r' if fold_eq(name, b"reason") => HeaderName::Reason,
                _ => HeaderName::Other,
            },
            7 => match first {
                b'c' if fold_eq(name, b"call-id") => HeaderName::CallId,
                b'c' if fold_eq(name, b"contact") => HeaderName::Contact,
                b'e' if fold_eq(name, b"expires") => HeaderName::Expires,
                b'r' if fold_eq(name, b"require") => HeaderName::Require,
                b's' if fold_eq(name, b"subject") => HeaderName::Subject,
                b'w' if fold_eq(name, b"warning") => HeaderName::Warning,
                _ => HeaderName::Other,
            },
            8 => match first {
                b'p' if fold_eq(name, b"priority") => HeaderName::Priority,
                b'r' if fold_eq(name, b"refer-to") => HeaderName::ReferTo,
                b'i' if fold_eq(name, b"identity") => HeaderName::Identity,
                _ => HeaderName::Other,
            },
            9 => match first {
                b's' if fold_eq(name, b"supported") => HeaderName::Supported,
                b't' if fold_eq(name, b"timestamp") => HeaderName::Timestamp,
                b'c' if fold_eq(name, b"call-info") => HeaderName::CallInfo,
                _ => HeaderName::Other,
            },
            10 => match first {
                b'u' if fold_eq(name, b"user-agent") => HeaderName::UserAgent,
                _ => HeaderName::Other,
            },
            11 => match first {
                b'u' if fold_eq(name, b"unsupported") => HeaderName::Unsupported,
                b'r' if fold_eq(name, b"retry-after") => HeaderName::RetryAfter,
                b'm' if fold_eq(name, b"min-expires") => HeaderName::MinExpires,
                b'g' if fold_eq(name, b"geolocation") => HeaderName::Geolocation,
                b'r' if fold_eq(name, b"referred-by") => HeaderName::ReferredBy,
                _ => HeaderName::Other,
            },
            12 => match first {
                b'm' if fold_eq(name, b"max-forwards") => HeaderName::MaxForwards,
                b'r' if fold_eq(name, b"record-route") => HeaderName::RecordRoute,
                b'c' if fold_eq(name, b"content-type") => HeaderName::ContentType,
                b'h' if fold_eq(name, b"history-info") => HeaderName::HistoryInfo,
                b'a' if fold_eq(name, b"allow-events") => HeaderName::AllowEvents,
                _ => HeaderName::Other,
            },
            13 => match first {
                b'p' if fold_eq(name, b"proxy-require") => HeaderName::ProxyRequire,
                b'a' if fold_eq(name, b"authorization") => HeaderName::Authorization,
                _ => HeaderName::Other,
            },
            14 => match first {
                b'c' if fold_eq(name, b"content-length") => HeaderName::ContentLength,
                b'a' if fold_eq(name, b"accept-contact") => HeaderName::AcceptContact,
                b'r' if fold_eq(name, b"reject-contact") => HeaderName::RejectContact,
                _ => HeaderName::Other,
            },
            15 => match first {
                b's' if fold_eq(name, b"session-expires") => HeaderName::SessionExpires,
                _ => HeaderName::Other,
            },
            16 => match first {
                b'c' if fold_eq(name, b"content-encoding") => HeaderName::ContentEncoding,
                b'w' if fold_eq(name, b"www-authenticate") => HeaderName::WwwAuthenticate,
                _ => HeaderName::Other,
            },
            17 => match first {
                b'r' if fold_eq(name, b"resource-priority") => HeaderName::ResourcePriority,
                b'g' if fold_eq(name, b"geolocation-error") => HeaderName::GeolocationError,
                _ => HeaderName::Other,
            },
            18 => match first {
                b'p' if fold_eq(name, b"proxy-authenticate") => HeaderName::ProxyAuthenticate,
                b's' if fold_eq(name, b"subscription-state") => HeaderName::SubscriptionState,
                _ => HeaderName::Other,
            },
            19 => match first {
                b'c' if fold_eq(name, b"content-disposition") => HeaderName::ContentDisposition,
                b'p' if fold_eq(name, b"proxy-authorization") => HeaderName::ProxyAuthorization,
                b'g' if fold_eq(name, b"geolocation-routing") => HeaderName::GeolocationRouting,
                b'p' if fold_eq(name, b"p-asserted-identity") => HeaderName::PAssertedIdentity,
                b'r' if fold_eq(name, b"request-disposition") => HeaderName::RequestDisposition,
                _ => HeaderName::Other,
            },
            20 => match first {
                b'p' if fold_eq(name, b"p-preferred-identity") => HeaderName::PPreferredIdentity,
                _ => HeaderName::Other,
            },
            _ => HeaderName::Other,
        }
    }

    /// Classifies the header name at the start of a header line without scanning it
    /// octet by octet: dispatch on the first octet, then compare the known names that
    /// start with it (8 octets at a time, case-folded) and check that the name ends
    /// there (`:` or LWS, RFC 3261 §7.3.1 HCOLON). Returns the name and its length, or
    /// `None` for an extension header (the caller then scans the token).
    ///
    /// A match implies every octet is a token character: `| 0x20` maps only letters to
    /// lower-case letters, and `-` only from `-` or CR, which a line cannot contain.
    #[inline]
    pub(crate) fn classify_line(line: &[u8]) -> Option<(HeaderName, usize)> {
        let first = line.first()? | 0x20;
        if line
            .get(1)
            .is_some_and(|&b| b == b':' || b == b' ' || b == b'\t')
        {
            let h = match first {
                b'a' => HeaderName::AcceptContact,
                b'b' => HeaderName::ReferredBy,
                b'c' => HeaderName::ContentType,
                b'd' => HeaderName::RequestDisposition,
                b'e' => HeaderName::ContentEncoding,
                b'f' => HeaderName::From,
                b'i' => HeaderName::CallId,
                b'j' => HeaderName::RejectContact,
                b'k' => HeaderName::Supported,
                b'l' => HeaderName::ContentLength,
                b'm' => HeaderName::Contact,
                b'o' => HeaderName::Event,
                b'r' => HeaderName::ReferTo,
                b's' => HeaderName::Subject,
                b't' => HeaderName::To,
                b'u' => HeaderName::AllowEvents,
                b'v' => HeaderName::Via,
                b'x' => HeaderName::SessionExpires,
                b'y' => HeaderName::Identity,
                _ => return None,
            };
            return Some((h, 1));
        }
        let candidates: &[(&[u8], HeaderName)] = match first {
            b'a' => &[
                (b"allow", HeaderName::Allow),
                (b"accept", HeaderName::Accept),
                (b"allow-events", HeaderName::AllowEvents),
                (b"authorization", HeaderName::Authorization),
                (b"accept-contact", HeaderName::AcceptContact),
            ],
            b'c' => &[
                (b"cseq", HeaderName::CSeq),
                (b"call-id", HeaderName::CallId),
                (b"contact", HeaderName::Contact),
                (b"call-info", HeaderName::CallInfo),
                (b"content-type", HeaderName::ContentType),
                (b"content-length", HeaderName::ContentLength),
                (b"content-encoding", HeaderName::ContentEncoding),
                (b"content-disposition", HeaderName::ContentDisposition),
            ],
            b'd' => &[(b"date", HeaderName::Date)],
            b'e' => &[
                (b"event", HeaderName::Event),
                (b"expires", HeaderName::Expires),
            ],
            b'f' => &[(b"from", HeaderName::From)],
            b'g' => &[
                (b"geolocation", HeaderName::Geolocation),
                (b"geolocation-error", HeaderName::GeolocationError),
                (b"geolocation-routing", HeaderName::GeolocationRouting),
            ],
            b'h' => &[(b"history-info", HeaderName::HistoryInfo)],
            b'i' => &[(b"identity", HeaderName::Identity)],
            b'm' => &[
                (b"min-se", HeaderName::MinSe),
                (b"min-expires", HeaderName::MinExpires),
                (b"max-forwards", HeaderName::MaxForwards),
            ],
            b'p' => &[
                (b"path", HeaderName::Path),
                (b"priority", HeaderName::Priority),
                (b"proxy-require", HeaderName::ProxyRequire),
                (b"proxy-authenticate", HeaderName::ProxyAuthenticate),
                (b"proxy-authorization", HeaderName::ProxyAuthorization),
                (b"p-asserted-identity", HeaderName::PAssertedIdentity),
                (b"p-preferred-identity", HeaderName::PPreferredIdentity),
            ],
            b'r' => &[
                (b"rseq", HeaderName::RSeq),
                (b"rack", HeaderName::RAck),
                (b"route", HeaderName::Route),
                (b"reason", HeaderName::Reason),
                (b"require", HeaderName::Require),
                (b"refer-to", HeaderName::ReferTo),
                (b"retry-after", HeaderName::RetryAfter),
                (b"referred-by", HeaderName::ReferredBy),
                (b"record-route", HeaderName::RecordRoute),
                (b"reject-contact", HeaderName::RejectContact),
                (b"resource-priority", HeaderName::ResourcePriority),
                (b"request-disposition", HeaderName::RequestDisposition),
            ],
            b's' => &[
                (b"server", HeaderName::Server),
                (b"subject", HeaderName::Subject),
                (b"supported", HeaderName::Supported),
                (b"session-expires", HeaderName::SessionExpires),
                (b"subscription-state", HeaderName::SubscriptionState),
            ],
            b't' => &[
                (b"to", HeaderName::To),
                (b"timestamp", HeaderName::Timestamp),
            ],
            b'u' => &[
                (b"user-agent", HeaderName::UserAgent),
                (b"unsupported", HeaderName::Unsupported),
            ],
            b'v' => &[(b"via", HeaderName::Via)],
            b'w' => &[
                (b"warning", HeaderName::Warning),
                (b"www-authenticate", HeaderName::WwwAuthenticate),
            ],
            _ => return None,
        };
        for &(lower, h) in candidates {
            let n = lower.len();
            if line
                .get(n)
                .is_some_and(|&b| b == b':' || b == b' ' || b == b'\t')
                && line.get(..n).is_some_and(|p| fold_eq(p, lower))
            {
                return Some((h, n));
            }
        }
        None
    }

    /// [`HeaderName::from_bytes`] for a `&str`.
    pub fn parse(name: &str) -> HeaderName {
        HeaderName::from_bytes(name.as_bytes())
    }
}

/// `name` equals the lower-case `lower` when folded with `| 0x20` (token octets only).
#[inline]
fn fold_eq(name: &[u8], lower: &[u8]) -> bool {
    if name.len() != lower.len() {
        return false;
    }
    // Eight octets per comparison, then the tail.
    let mut a = name.chunks_exact(8);
    let mut b = lower.chunks_exact(8);
    for (x, y) in (&mut a).zip(&mut b) {
        let (Ok(x), Ok(y)) = (<[u8; 8]>::try_from(x), <[u8; 8]>::try_from(y)) else {
            return false;
        };
        if u64::from_le_bytes(x) | 0x2020_2020_2020_2020 != u64::from_le_bytes(y) {
            return false;
        }
    }
    a.remainder()
        .iter()
        .zip(b.remainder())
        .all(|(x, y)| (x | 0x20) == *y)
}

impl std::fmt::Display for HeaderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeaderName::Other => "(extension header)",
            n => n.as_str(),
        })
    }
}

/// Why a typed header value could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed {name} header: {fault}")]
pub struct HeaderError {
    /// Which header.
    pub name: HeaderName,
    /// What is wrong, e.g. `"unterminated quoted string"`.
    pub fault: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_compact_forms() {
        assert_eq!(HeaderName::parse("MaX-fOrWaRdS"), HeaderName::MaxForwards);
        assert_eq!(HeaderName::parse("v"), HeaderName::Via);
        assert_eq!(HeaderName::parse("L"), HeaderName::ContentLength);
        assert_eq!(HeaderName::parse("call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::parse("C%6Fntact"), HeaderName::Other);
        assert_eq!(
            HeaderName::parse("x-very-long-extension-header-name"),
            HeaderName::Other
        );
        for (lower, h) in HeaderName::all() {
            assert_eq!(HeaderName::from_bytes(lower), *h);
            assert_eq!(HeaderName::parse(h.as_str()), *h);
            assert_eq!(HeaderName::parse(&h.as_str().to_ascii_uppercase()), *h);
        }
        assert_eq!(HeaderName::parse("Call\rID"), HeaderName::Other);
        for (lower, h) in HeaderName::all() {
            let mut line = lower.to_ascii_uppercase();
            line.extend_from_slice(b" : x");
            assert_eq!(HeaderName::classify_line(&line), Some((*h, lower.len())));
            line.truncate(lower.len());
            line.extend_from_slice(b":x");
            assert_eq!(HeaderName::classify_line(&line), Some((*h, lower.len())));
            line.truncate(lower.len());
            line.extend_from_slice(b"-x: y");
            assert_eq!(HeaderName::classify_line(&line), None);
        }
        assert_eq!(
            HeaderName::classify_line(b"v: x"),
            Some((HeaderName::Via, 1))
        );
        assert_eq!(HeaderName::classify_line(b"q: x"), None);
        assert_eq!(HeaderName::classify_line(b"Vi\x01: x"), None);
        assert_eq!(HeaderName::classify_line(b"X-Foo: x"), None);
        for c in "imelcfsktvorubajdxy".chars() {
            let h = HeaderName::parse(&c.to_string());
            assert_ne!(h, HeaderName::Other, "{c}");
            assert_eq!(h.compact(), Some(c));
        }
    }
}
