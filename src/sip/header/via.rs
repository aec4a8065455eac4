//! The Via header (RFC 3261 §20.42, §18.2.1 `received`, RFC 3581 `rport`, RFC 5118 §4.5
//! IPv6 sent-by and `received` with or without brackets).

use crate::sip::scan::{find_byte, is_token_char, is_ws, skip_ws, trim_ws, Params};
use crate::sip::uri::{parse_hostport, Host};

/// One Via value: `SIP / 2.0 / UDP host[:port] *(;param)`; LWS around `/` allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Protocol name, `SIP` (as received).
    pub protocol: &'a str,
    /// Protocol version, `2.0`.
    pub version: &'a str,
    /// Transport token: `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS` or any other token
    /// (RFC 4475 §3.1.1.10).
    pub transport: &'a str,
    /// sent-by host.
    pub host: Host<'a>,
    /// sent-by port, if given.
    pub port: Option<u16>,
    /// Via parameters.
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via element (one comma-separated value).
    pub fn parse(s: &'a str) -> Result<Via<'a>, &'static str> {
        let b = s.as_bytes();
        let mut i = 0;
        let protocol = take_token(s, &mut i).ok_or("missing protocol name")?;
        expect_slash(b, &mut i)?;
        let version = take_token(s, &mut i).ok_or("missing protocol version")?;
        expect_slash(b, &mut i)?;
        let transport = take_token(s, &mut i).ok_or("missing transport")?;
        if !b.get(i).is_some_and(|&c| is_ws(c)) {
            return Err("missing LWS before sent-by");
        }
        skip_ws(b, &mut i);
        let rest = s.get(i..).unwrap_or("");
        let (sent_by, params) = match find_byte(rest.as_bytes(), b';') {
            Some(k) => (trim_ws(rest.get(..k).unwrap_or("")), rest.get(k + 1..)),
            None => (trim_ws(rest), None),
        };
        let (host, port) = parse_hostport(sent_by).map_err(|_| "malformed sent-by")?;
        let params = match params {
            Some(p) => Params::parse(p)?,
            None => Params::default(),
        };
        Ok(Via {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        })
    }

    /// The `branch` parameter (RFC 3261 §8.1.1.7), if present with a value.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.get("branch").flatten()
    }

    /// True when the branch starts with the RFC 3261 magic cookie `z9hG4bK` (§8.1.1.7);
    /// otherwise the sender is RFC 2543-style (§17.2.3 matching rules).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }

    /// The `received` parameter (§18.2.1), with any IPv6 `[]` removed (RFC 5118 §4.5).
    pub fn received(&self) -> Option<&'a str> {
        let r = self.params.get("received").flatten()?;
        Some(
            r.strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .unwrap_or(r),
        )
    }

    /// The `rport` parameter (RFC 3581 §3): `None` absent, `Some(None)` requested
    /// (flag), `Some(Some(port))` filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }
}

fn take_token<'a>(s: &'a str, i: &mut usize) -> Option<&'a str> {
    let b = s.as_bytes();
    skip_ws(b, i);
    let start = *i;
    while b.get(*i).is_some_and(|&c| is_token_char(c)) {
        *i += 1;
    }
    (*i > start).then(|| s.get(start..*i)).flatten()
}

fn expect_slash(b: &[u8], i: &mut usize) -> Result<(), &'static str> {
    skip_ws(b, i);
    if b.get(*i) == Some(&b'/') {
        *i += 1;
        Ok(())
    } else {
        Err("missing / in sent-protocol")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lws_everywhere() {
        let v =
            Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ;   branch  =   z9hG4bK9ikj8")
                .unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host, Host::Name("spindle.example.com"));
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        assert!(v.has_rfc3261_branch());
    }

    #[test]
    fn ipv6_and_received() {
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1]:6050;received=2001:db8::9:255;rport;branch=z9hG4bKas3",
        )
        .unwrap();
        assert_eq!(v.host, Host::V6("2001:db8::9:1"));
        assert_eq!(v.port, Some(6050));
        assert_eq!(v.received(), Some("2001:db8::9:255"));
        assert_eq!(v.rport(), Some(None));
        let w = Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];rport=5061")
            .unwrap();
        assert_eq!(w.received(), Some("2001:db8::9:255"));
        assert_eq!(w.rport(), Some(Some(5061)));
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
    }
}
