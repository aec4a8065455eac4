//! Every way a SIP message can be malformed, and the status code RFC 3261 §21 asks a
//! server to answer a malformed *request* with (400, 413, 505, 513). A malformed
//! *response* is simply discarded (RFC 3261 §18.1.2, RFC 4475 §3.1.2.5, §3.1.2.19);
//! [`is_response_start`] tells the two apart for bytes that did not parse.

use std::borrow::Cow;

use super::header::HeaderName;
use super::uri::UriError;

/// Why bytes are not a SIP message. `status_code()` gives the answer for requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// No start line: input empty or only CRLFs.
    #[error("empty message")]
    Empty,
    /// The header section does not end with an empty line (datagram), so the message
    /// is truncated.
    #[error("header section not terminated by an empty line")]
    Unterminated,
    /// Whole message larger than the limit (RFC 3261 §21.5.14: 513).
    #[error("message of {len} octets exceeds the limit of {max}")]
    MessageTooLarge {
        /// Octets received (so far).
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Body larger than the limit (RFC 3261 §21.4.12: 413).
    #[error("body of {len} octets exceeds the limit of {max}")]
    BodyTooLarge {
        /// Declared or received body length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// More header lines than the limit (513).
    #[error("more than {max} header fields")]
    TooManyHeaders {
        /// Limit.
        max: usize,
    },
    /// A line longer than the limit (513).
    #[error("a line exceeds {max} octets")]
    LineTooLong {
        /// Limit.
        max: usize,
    },
    /// Start line or header section is not UTF-8 (RFC 3261 §7.3.1 TEXT-UTF8).
    #[error("header section is not valid UTF-8")]
    InvalidUtf8,
    /// A bare CR inside a line.
    #[error("bare CR inside a line")]
    BareCr,
    /// Request line not `Method SP Request-URI SP SIP-Version` with single SPs
    /// (RFC 3261 §7.1; RFC 4475 §3.1.2.8–3.1.2.10).
    #[error("malformed request line: {0}")]
    BadRequestLine(&'static str),
    /// Request-URI syntax (RFC 4475 §3.1.2.7, RFC 5118 §4.2).
    #[error("malformed Request-URI: {0}")]
    BadRequestUri(UriError),
    /// `?headers` in a Request-URI (RFC 3261 §19.1.5, RFC 4475 §3.1.2.11).
    #[error("Request-URI carries ?headers")]
    HeadersInRequestUri,
    /// Status line not `SIP-Version SP 3DIGIT SP Reason-Phrase` (RFC 3261 §7.2).
    #[error("malformed status line: {0}")]
    BadStatusLine(&'static str),
    /// A well-formed SIP-Version other than 2.0 (RFC 3261 §21.5.7: 505).
    #[error("SIP version {0} not supported")]
    VersionNotSupported(String),
    /// A header line without `:` or with a name that is not a token (RFC 3261 §7.3.1).
    #[error("malformed header line {line}")]
    BadHeaderLine {
        /// 1-based line number within the message.
        line: usize,
    },
    /// A header whose value does not match its grammar.
    #[error("malformed {name} header: {fault}")]
    BadHeader {
        /// Which header.
        name: HeaderName,
        /// What is wrong.
        fault: &'static str,
    },
    /// CSeq method differs from the request method (RFC 4475 §3.1.2.17, §3.1.2.18).
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// Content-Length larger than the octets in the datagram (RFC 3261 §18.3,
    /// RFC 4475 §3.1.2.2).
    #[error("Content-Length {declared} exceeds the {available} octets received")]
    ContentLengthExceedsDatagram {
        /// Content-Length value.
        declared: usize,
        /// Body octets present.
        available: usize,
    },
    /// Stream transport without Content-Length (RFC 3261 §18.3: mandatory on streams).
    #[error("Content-Length missing on a stream transport")]
    MissingContentLength,
    /// Several different Content-Length values on a stream: framing impossible.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
}

impl ParseError {
    /// SIP status to answer a malformed request with (RFC 3261 §21): 400 for syntax,
    /// 413 body too large, 505 bad version, 513 message / header section too large.
    pub fn status_code(&self) -> u16 {
        match self {
            ParseError::BodyTooLarge { .. } => 413,
            ParseError::VersionNotSupported(_) => 505,
            ParseError::MessageTooLarge { .. }
            | ParseError::TooManyHeaders { .. }
            | ParseError::LineTooLong { .. } => 513,
            _ => 400,
        }
    }

    /// Reason phrase naming the fault, e.g. `Bad Request (malformed Via header)`. Safe
    /// to put on a status line (ASCII, no CR/LF).
    pub fn reason_phrase(&self) -> Cow<'static, str> {
        match self {
            ParseError::BodyTooLarge { .. } => Cow::Borrowed("Request Entity Too Large"),
            ParseError::VersionNotSupported(_) => Cow::Borrowed("Version Not Supported"),
            ParseError::MessageTooLarge { .. }
            | ParseError::TooManyHeaders { .. }
            | ParseError::LineTooLong { .. } => Cow::Borrowed("Message Too Large"),
            ParseError::BadHeader { name, .. } => {
                Cow::Owned(format!("Bad Request (malformed {name} header)"))
            }
            ParseError::BadRequestUri(_) | ParseError::HeadersInRequestUri => {
                Cow::Borrowed("Bad Request (malformed Request-URI)")
            }
            ParseError::BadRequestLine(_) => Cow::Borrowed("Bad Request (malformed request line)"),
            ParseError::CSeqMethodMismatch => {
                Cow::Borrowed("Bad Request (CSeq method does not match request)")
            }
            ParseError::ContentLengthExceedsDatagram { .. }
            | ParseError::MissingContentLength
            | ParseError::ConflictingContentLength => {
                Cow::Borrowed("Bad Request (bad Content-Length)")
            }
            _ => Cow::Borrowed("Bad Request"),
        }
    }

    /// A `Warning` header value (RFC 3261 §20.43, code 399 "miscellaneous") naming the
    /// fault in detail, e.g. `399 answerpoint "malformed Via header: missing transport"`.
    /// `agent` is the warn-agent (host name or pseudonym, a token).
    pub fn warning_value(&self, agent: &str) -> String {
        let text = self.to_string().replace(['"', '\\', '\r', '\n'], " ");
        format!("399 {agent} \"{text}\"")
    }
}

/// True when `bytes` (after any leading CRLFs) start like a status line (`SIP/`), so
/// a parse failure must be discarded rather than answered (RFC 3261 §18.1.2).
pub fn is_response_start(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(bytes.len());
    bytes
        .get(start..start + 4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            ParseError::VersionNotSupported("7.0".into()).status_code(),
            505
        );
        assert_eq!(
            ParseError::BodyTooLarge { len: 9, max: 1 }.status_code(),
            413
        );
        assert_eq!(ParseError::TooManyHeaders { max: 1 }.status_code(), 513);
        let e = ParseError::BadHeader {
            name: HeaderName::Via,
            fault: "missing transport",
        };
        assert_eq!(e.status_code(), 400);
        assert_eq!(e.reason_phrase(), "Bad Request (malformed Via header)");
        assert_eq!(
            e.warning_value("answerpoint"),
            "399 answerpoint \"malformed Via header: missing transport\""
        );
        assert!(is_response_start(b"\r\nSIP/2.0 200 OK"));
        assert!(!is_response_start(b"INVITE sip:a SIP/2.0"));
    }
}
