//! Checks a UAS makes on a syntactically valid request before processing it
//! (RFC 3261 §8.2.1–§8.2.2, §8.1.1; RFC 4475 §3.3): unsupported Request-URI scheme
//! (416), missing mandatory headers (400), several values where one is allowed (400),
//! disagreeing Content-Length values (400), Require option tags not supported (420),
//! Max-Forwards exhausted (483 at a proxy). They sit above the parser so the parser can
//! hand the layer above every well-formed message.

use super::header::HeaderName;
use super::message::Message;
use super::uri::Scheme;

/// A request the UAS must refuse, with the status RFC 3261 assigns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestFault {
    /// Request-URI scheme not served (RFC 3261 §8.2.2.1: 416). We serve sip, sips, tel
    /// and urn (urn:service:sos).
    #[error("unsupported URI scheme {0}")]
    UnsupportedUriScheme(String),
    /// A mandatory header is absent (RFC 3261 §8.1.1: To, From, CSeq, Call-ID, Via).
    #[error("missing {0} header")]
    MissingHeader(HeaderName),
    /// A single-valued header appears more than once (RFC 4475 §3.3.8).
    #[error("several {0} values")]
    MultipleValues(HeaderName),
    /// Content-Length values disagree (RFC 4475 §3.3.9).
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// Option tags in Require that we do not support (RFC 3261 §8.2.2.3: 420 with an
    /// Unsupported header listing them).
    #[error("unsupported option tags {0:?}")]
    BadExtension(Vec<String>),
}

impl RequestFault {
    /// The status to answer with.
    pub fn status_code(&self) -> u16 {
        match self {
            RequestFault::UnsupportedUriScheme(_) => 416,
            RequestFault::BadExtension(_) => 420,
            _ => 400,
        }
    }

    /// Reason phrase naming the fault.
    pub fn reason_phrase(&self) -> String {
        match self {
            RequestFault::UnsupportedUriScheme(_) => "Unsupported URI Scheme".to_owned(),
            RequestFault::BadExtension(_) => "Bad Extension".to_owned(),
            RequestFault::MissingHeader(h) => format!("Bad Request (missing {h})"),
            RequestFault::MultipleValues(h) => format!("Bad Request (several {h} values)"),
            RequestFault::ConflictingContentLength => {
                "Bad Request (conflicting Content-Length)".to_owned()
            }
        }
    }
}

/// Checks scheme, mandatory and single-valued headers of a request (responses pass).
/// Max-Forwards is not mandatory here so RFC 2543 peers still work (RFC 4475 §3.4.1).
pub fn validate_request(msg: &Message) -> Result<(), RequestFault> {
    let Some(uri) = msg.request_uri() else {
        return Ok(());
    };
    if uri.scheme() == Scheme::Other {
        return Err(RequestFault::UnsupportedUriScheme(
            uri.scheme_str().to_owned(),
        ));
    }
    for h in [
        HeaderName::To,
        HeaderName::From,
        HeaderName::CSeq,
        HeaderName::CallId,
        HeaderName::Via,
    ] {
        if msg.get(h).is_none() {
            return Err(RequestFault::MissingHeader(h));
        }
    }
    let mut cl = msg.get_all(HeaderName::ContentLength);
    if let Some(first) = cl.next() {
        if cl.any(|v| v != first) {
            return Err(RequestFault::ConflictingContentLength);
        }
    }
    if let Some(h) = repeated_single_value(msg) {
        return Err(RequestFault::MultipleValues(h));
    }
    Ok(())
}

/// Header fields a request may carry once only (RFC 3261 §7.3.1: only comma-list fields
/// may repeat; RFC 4475 §3.3.8 tests To, From, Call-ID, CSeq, Max-Forwards, Content-Type and
/// Content-Length), checked in this order.
pub const SINGLE_VALUED: [HeaderName; 7] = [
    HeaderName::To,
    HeaderName::From,
    HeaderName::CSeq,
    HeaderName::CallId,
    HeaderName::MaxForwards,
    HeaderName::ContentType,
    HeaderName::ContentLength,
];

/// The first of [`SINGLE_VALUED`] that `msg` carries more than once, if any.
pub fn repeated_single_value(msg: &Message) -> Option<HeaderName> {
    SINGLE_VALUED
        .into_iter()
        .find(|&h| msg.get_all(h).nth(1).is_some())
}

/// Require option tags not in `supported` (RFC 3261 §8.2.2.3), for the 420 answer's
/// Unsupported header. Empty for ACK and CANCEL, which are never rejected this way.
/// Unparseable tags are returned too.
pub fn unsupported_requires<'m>(msg: &'m Message, supported: &[&str]) -> Vec<&'m str> {
    if matches!(
        msg.method(),
        Some(super::Method::Ack) | Some(super::Method::Cancel)
    ) {
        return Vec::new();
    }
    msg.values(HeaderName::Require)
        .filter(|t| !supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .collect()
}

/// True when a proxy must answer 483 Too Many Hops (RFC 3261 §16.3 item 2):
/// Max-Forwards is 0. A UAS may still answer OPTIONS (RFC 4475 §3.3.11).
pub fn hops_exhausted(msg: &Message) -> bool {
    matches!(msg.max_forwards(), Ok(Some(0)))
}
