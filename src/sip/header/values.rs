//! Small typed header values: CSeq (RFC 3261 §20.16), Content-Type (§20.15, RFC 2046
//! boundary), Priority (§20.26), Resource-Priority (RFC 4412 §3.1, RFC 7135 `esnet`),
//! Geolocation-Routing (RFC 6442 §4.2).

use std::borrow::Cow;

use crate::sip::scan::{is_token, is_ws, parse_bounded_u64, trim_ws, unquote, Params};

/// Largest CSeq sequence number accepted: 2^32-1 (RFC 3261 §8.1.1.5 sends < 2^31;
/// RFC 4475 §3.1.2.4 rejects > 2^32-1).
pub const MAX_CSEQ: u32 = u32::MAX;

/// `CSeq: <number> <method>` (RFC 3261 §20.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// Sequence number (leading zeros allowed on input).
    pub seq: u32,
    /// Method token, case-sensitive (RFC 3261 §7.1).
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    /// Parses a CSeq value; LWS between the parts may be any run of SP/HTAB.
    pub fn parse(s: &'a str) -> Result<CSeq<'a>, &'static str> {
        let s = trim_ws(s);
        let n = s.bytes().position(is_ws).ok_or("missing method")?;
        let (num, method) = s.split_at(n);
        let seq = parse_bounded_u64(num, u64::from(MAX_CSEQ))
            .ok_or("sequence number not 1*DIGIT <= 2^32-1")?;
        let method = trim_ws(method);
        if !is_token(method) {
            return Err("method is not a token");
        }
        Ok(CSeq {
            seq: u32::try_from(seq).map_err(|_| "sequence number too large")?,
            method,
        })
    }
}

/// `Content-Type: type/subtype *(;param)` (RFC 3261 §20.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType<'a> {
    /// Top-level type as received, e.g. `multipart`.
    pub mtype: &'a str,
    /// Subtype as received, e.g. `mixed`, `pidf+xml`.
    pub subtype: &'a str,
    /// Parameters (`boundary`, `charset`, …).
    pub params: Params<'a>,
}

impl<'a> ContentType<'a> {
    /// Parses a media type with LWS allowed around `/` and `;`.
    pub fn parse(s: &'a str) -> Result<ContentType<'a>, &'static str> {
        let (essence, params) = match s.split_once(';') {
            Some((e, p)) => (e, Some(p)),
            None => (s, None),
        };
        let (t, st) = essence.split_once('/').ok_or("missing /")?;
        let (mtype, subtype) = (trim_ws(t), trim_ws(st));
        if !is_token(mtype) || !is_token(subtype) {
            return Err("type or subtype is not a token");
        }
        let params = match params {
            Some(p) => Params::parse(p)?,
            None => Params::default(),
        };
        Ok(ContentType {
            mtype,
            subtype,
            params,
        })
    }

    /// True when `type/subtype` equals `essence` case-insensitively
    /// (e.g. `"application/sdp"`).
    pub fn is(&self, essence: &str) -> bool {
        essence.split_once('/').is_some_and(|(t, s)| {
            self.mtype.eq_ignore_ascii_case(t) && self.subtype.eq_ignore_ascii_case(s)
        })
    }

    /// The multipart `boundary` parameter, quotes removed (RFC 2046 §5.1.1).
    pub fn boundary(&self) -> Option<Cow<'a, str>> {
        self.params.get("boundary").flatten().map(unquote)
    }
}

/// `Priority` (RFC 3261 §20.26). `emergency` marks an emergency call (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority<'a> {
    /// `emergency`
    Emergency,
    /// `urgent`
    Urgent,
    /// `normal`
    Normal,
    /// `non-urgent`
    NonUrgent,
    /// Any other token.
    Other(&'a str),
}

impl<'a> Priority<'a> {
    /// Parses the token, case-insensitively.
    pub fn parse(s: &'a str) -> Result<Priority<'a>, &'static str> {
        let t = trim_ws(s);
        if !is_token(t) {
            return Err("priority is not a token");
        }
        Ok(if t.eq_ignore_ascii_case("emergency") {
            Priority::Emergency
        } else if t.eq_ignore_ascii_case("urgent") {
            Priority::Urgent
        } else if t.eq_ignore_ascii_case("normal") {
            Priority::Normal
        } else if t.eq_ignore_ascii_case("non-urgent") {
            Priority::NonUrgent
        } else {
            Priority::Other(t)
        })
    }
}

/// One Resource-Priority value `namespace.priority` (RFC 4412 §3.1), e.g. `esnet.0`
/// (RFC 7135 emergency namespace) or `wps.3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourcePriority<'a> {
    /// Namespace, e.g. `esnet`.
    pub namespace: &'a str,
    /// Priority value within the namespace, e.g. `0`.
    pub priority: &'a str,
}

impl<'a> ResourcePriority<'a> {
    /// Parses `token "." token`.
    pub fn parse(s: &'a str) -> Result<ResourcePriority<'a>, &'static str> {
        let t = trim_ws(s);
        let (namespace, priority) = t.split_once('.').ok_or("missing . in r-value")?;
        if !is_token(namespace) || !is_token(priority) {
            return Err("namespace or priority is not a token");
        }
        Ok(ResourcePriority {
            namespace,
            priority,
        })
    }

    /// True for the RFC 7135 `esnet` namespace (emergency-services networks).
    pub fn is_esnet(&self) -> bool {
        self.namespace.eq_ignore_ascii_case("esnet")
    }
}

/// `Geolocation-Routing` (RFC 6442 §4.2): may proxies route on the location?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeolocationRouting<'a> {
    /// `yes`
    Yes,
    /// `no` (the RFC 6442 default when absent)
    No,
    /// A future token.
    Other(&'a str),
}

impl<'a> GeolocationRouting<'a> {
    /// Parses the token, case-insensitively; parameters are ignored.
    pub fn parse(s: &'a str) -> Result<GeolocationRouting<'a>, &'static str> {
        let t = trim_ws(s.split(';').next().unwrap_or(""));
        if !is_token(t) {
            return Err("not a token");
        }
        Ok(if t.eq_ignore_ascii_case("yes") {
            GeolocationRouting::Yes
        } else if t.eq_ignore_ascii_case("no") {
            GeolocationRouting::No
        } else {
            GeolocationRouting::Other(t)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq() {
        let c = CSeq::parse("0009    INVITE").unwrap();
        assert_eq!((c.seq, c.method), (9, "INVITE"));
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("-1 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
    }

    #[test]
    fn content_type_and_friends() {
        let ct = ContentType::parse(r#"multipart/mixed; boundary="boundary1""#).unwrap();
        assert!(ct.is("Multipart/Mixed"));
        assert_eq!(ct.boundary().unwrap(), "boundary1");
        assert_eq!(Priority::parse(" Emergency ").unwrap(), Priority::Emergency);
        let rp = ResourcePriority::parse("esnet.0").unwrap();
        assert!(rp.is_esnet());
        assert_eq!(rp.priority, "0");
        assert_eq!(
            GeolocationRouting::parse("no").unwrap(),
            GeolocationRouting::No
        );
    }
}
