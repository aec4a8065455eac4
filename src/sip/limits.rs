//! Size and count limits applied while parsing (DESIGN §2 "nothing unbounded").
//! Exceeding one yields a typed [`ParseError`](super::ParseError) that maps to the SIP
//! status RFC 3261 §21 asks for (413 for the body, 513 for the message).

/// Default largest message, start line + headers + body, in octets. A UDP datagram is
/// at most 65,507 octets; stream messages are bounded the same way.
pub const MAX_MESSAGE_BYTES: usize = 65_535;
/// Default largest number of header lines (a 999 INVITE with full RFC 7852 data has ~40).
pub const MAX_HEADERS: usize = 128;
/// Default longest single line (start line or one unfolded header field) in octets.
/// Generous because real LRF `300 Multiple Choices` responses to `urn:service:sos`
/// carry a whole PIDF-LO escaped into one 17 KB Contact URI (carrier trace 06).
pub const MAX_LINE_BYTES: usize = 32_768;
/// Default largest body in octets (multipart SDP + PIDF-LO + additional data fits).
pub const MAX_BODY_BYTES: usize = 60_000;

/// Parser limits. `Limits::default()` uses the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole message in octets ([`MAX_MESSAGE_BYTES`]); over it → 513.
    pub max_message_bytes: usize,
    /// Most header lines ([`MAX_HEADERS`]); over it → 513.
    pub max_headers: usize,
    /// Longest line in octets ([`MAX_LINE_BYTES`]); over it → 513.
    pub max_line_bytes: usize,
    /// Largest body in octets ([`MAX_BODY_BYTES`]); over it → 413.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: MAX_MESSAGE_BYTES,
            max_headers: MAX_HEADERS,
            max_line_bytes: MAX_LINE_BYTES,
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}
