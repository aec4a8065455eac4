//! A cheap look at an INVITE before the full parse: its Request-URI (RFC 3261 §7.1, the
//! request line) and the values of the two header fields emergency classification also
//! reads, `Resource-Priority` (RFC 4412 §3.1) and `Priority` (RFC 3261 §20.26).
//!
//! The runtime uses it to take emergency INVITEs first from the datagrams waiting to be
//! handled (`crate::runtime`), so a 999 call does not queue behind other calls' ACKs, BYEs
//! and responses. It builds nothing, allocates nothing, reads each octet of the head at most
//! once, and gives up (`None`) on anything unusual: the datagram is then simply handled in
//! arrival order. It never judges a message — the full parser ([`super::parse_with`]) still
//! does, so a peek can only change *when* a datagram is handled, never *how*.

use super::parse::trim_bytes;

/// Most header lines looked at (RFC 3261 messages from carriers have 10–30). Lines after
/// these are not read: a priority header further down leaves the INVITE in arrival order.
pub const MAX_PEEK_LINES: usize = 64;
/// Most `Resource-Priority` header fields kept (each may hold a comma-separated list).
pub const MAX_PEEK_RESOURCE_PRIORITY: usize = 8;

/// What [`peek_invite`] found in an INVITE's head; every field borrows the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitePeek<'a> {
    /// The Request-URI as written on the request line.
    pub request_uri: &'a str,
    resource_priority: [&'a str; MAX_PEEK_RESOURCE_PRIORITY],
    resource_priority_len: usize,
    /// The first `Priority` header value, trimmed.
    pub priority: Option<&'a str>,
}

impl<'a> InvitePeek<'a> {
    /// The `Resource-Priority` header values seen (at most [`MAX_PEEK_RESOURCE_PRIORITY`]),
    /// trimmed, in order.
    pub fn resource_priority(&self) -> &[&'a str] {
        self.resource_priority
            .get(..self.resource_priority_len)
            .unwrap_or_default()
    }
}

/// Looks at `datagram`: `Some` when it starts (after any CRLFs) with an INVITE request line
/// (`INVITE SP Request-URI SP SIP-Version CRLF`, RFC 3261 §7.1) whose URI is UTF-8;
/// `None` for responses, other methods and anything malformed. Header fields are read
/// up to the empty line, the end of the datagram or [`MAX_PEEK_LINES`] lines; folded
/// continuation lines (RFC 3261 §7.3.1) are skipped, not joined.
pub fn peek_invite(datagram: &[u8]) -> Option<InvitePeek<'_>> {
    // CRLFs before the start line are ignored, as the parser does (RFC 3261 §7.5).
    let start = datagram
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(datagram.len());
    let rest = datagram.get(start..)?.strip_prefix(b"INVITE ")?;
    let (line, mut rest) = split_line(rest);
    let sp = line.iter().position(|&b| b == b' ')?;
    let (uri, version) = line.split_at(sp);
    if uri.is_empty() || !version.get(1..)?.starts_with(b"SIP/") {
        return None;
    }
    let mut peek = InvitePeek {
        request_uri: std::str::from_utf8(uri).ok()?,
        resource_priority: [""; MAX_PEEK_RESOURCE_PRIORITY],
        resource_priority_len: 0,
        priority: None,
    };
    for _ in 0..MAX_PEEK_LINES {
        if rest.is_empty() {
            break;
        }
        let (line, next) = split_line(rest);
        rest = next;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let name = trim_bytes(name);
        let value = || std::str::from_utf8(trim_bytes(value.get(1..).unwrap_or_default())).ok();
        if name.eq_ignore_ascii_case(b"Resource-Priority") {
            if let (Some(v), Some(slot)) = (
                value(),
                peek.resource_priority.get_mut(peek.resource_priority_len),
            ) {
                *slot = v;
                peek.resource_priority_len += 1;
            }
        } else if name.eq_ignore_ascii_case(b"Priority") && peek.priority.is_none() {
            peek.priority = value();
        }
    }
    Some(peek)
}

/// `(line without its CRLF or LF, the rest after it)`.
fn split_line(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b'\n') {
        Some(i) => {
            let line = b.get(..i).unwrap_or_default();
            let rest = b.get(i + 1..).unwrap_or_default();
            (line.strip_suffix(b"\r").unwrap_or(line), rest)
        }
        None => (b, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE urn:service:sos SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
        resource-priority :  esnet.1 , wps.2 \r\n\
        Resource-Priority: dsn.flash\r\n\
        Priority: emergency\r\n\
        Priority: normal\r\n\
        Content-Length: 0\r\n\r\n\
        Priority: not-a-header\r\n";

    #[test]
    fn reads_the_request_uri_and_the_priority_headers_of_an_invite() {
        let p = peek_invite(INVITE.as_bytes()).unwrap();
        assert_eq!(p.request_uri, "urn:service:sos");
        assert_eq!(p.resource_priority(), ["esnet.1 , wps.2", "dsn.flash"]);
        assert_eq!(p.priority, Some("emergency"));
    }

    #[test]
    fn other_methods_responses_and_malformed_request_lines_are_not_peeked() {
        for bad in [
            "ACK sip:a@b SIP/2.0\r\n\r\n",
            "SIP/2.0 200 OK\r\n\r\n",
            "INVITE sip:a@b\r\n\r\n",
            "INVITE  SIP/2.0\r\n\r\n",
            "INVITE sip:a@b HTTP/1.1\r\n\r\n",
            "invite sip:a@b SIP/2.0\r\n\r\n",
            "INVITE",
            "",
        ] {
            assert_eq!(peek_invite(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(peek_invite(b"INVITE sip:\xff@b SIP/2.0\r\n\r\n"), None);
    }

    #[test]
    fn bare_lf_no_headers_and_a_truncated_head_still_give_the_uri() {
        let p = peek_invite(b"INVITE sip:999@x SIP/2.0\nPriority:emergency\n\n").unwrap();
        assert_eq!(
            (p.request_uri, p.priority),
            ("sip:999@x", Some("emergency"))
        );
        let p = peek_invite(b"\r\n\r\nINVITE tel:999 SIP/2.0\r\n\r\n").unwrap();
        assert_eq!(p.request_uri, "tel:999");
        let p = peek_invite(b"INVITE tel:112 SIP/2.0\r\nVia: SIP/2.0/UDP h").unwrap();
        assert_eq!((p.request_uri, p.priority), ("tel:112", None));
        assert!(p.resource_priority().is_empty());
    }

    #[test]
    fn header_lines_beyond_the_caps_are_not_read() {
        let mut m = String::from("INVITE sip:101@x SIP/2.0\r\n");
        for _ in 0..MAX_PEEK_LINES {
            m.push_str("X-Filler: y\r\n");
        }
        m.push_str("Priority: emergency\r\n\r\n");
        assert_eq!(peek_invite(m.as_bytes()).unwrap().priority, None);
        let mut m = String::from("INVITE sip:101@x SIP/2.0\r\n");
        for i in 0..MAX_PEEK_RESOURCE_PRIORITY + 3 {
            m.push_str(&format!("Resource-Priority: q.{i}\r\n"));
        }
        let p = peek_invite(m.as_bytes()).unwrap();
        assert_eq!(p.resource_priority().len(), MAX_PEEK_RESOURCE_PRIORITY);
        assert_eq!(p.resource_priority()[7], "q.7");
    }
}
