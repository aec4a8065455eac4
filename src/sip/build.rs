//! Building new messages: requests, responses to a received request (RFC 3261
//! §8.2.6), CANCEL (§9.1) and the ACK for a non-2xx final response (§17.1.1.3).
//!
//! A [`MessageBuilder`] collects the start line, header fields and body as text, checks
//! that no name or value can inject a line (names must be tokens, values must not hold
//! CR or LF), sets Content-Length to the body length, then prints and parses the result,
//! so a built [`Message`] satisfies exactly the same invariants as a received one.

use super::error::ParseError;
use super::header::HeaderName;
use super::message::{Message, Method};
use super::parse::parse;
use super::scan::{is_token, Params};

/// Why a message could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A header name that is not an RFC 3261 token.
    #[error("header name {0:?} is not a token")]
    InvalidName(String),
    /// A start-line part or header value holding CR or LF (would inject a line).
    #[error("value for {0} contains CR or LF")]
    InvalidValue(String),
    /// The assembled message does not parse (e.g. a malformed Via value).
    #[error("built message is malformed: {0}")]
    Malformed(#[from] ParseError),
    /// The source message lacks something the construction needs (e.g. CANCEL of a
    /// response, or a request without CSeq).
    #[error("source message lacks {0}")]
    Missing(&'static str),
}

/// Builder for a new owned [`Message`]. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBuilder {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl MessageBuilder {
    /// A request: `METHOD uri SIP/2.0`. The caller adds Via, Max-Forwards, From, To,
    /// Call-ID, CSeq and Contact (RFC 3261 §8.1.1).
    pub fn request(method: Method<'_>, uri: &str) -> MessageBuilder {
        MessageBuilder {
            start: format!("{} {} SIP/2.0", method.as_str(), uri),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response with no header fields: `SIP/2.0 code reason`.
    pub fn response(code: u16, reason: &str) -> MessageBuilder {
        MessageBuilder {
            start: format!("SIP/2.0 {code} {reason}"),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response to `req` per RFC 3261 §8.2.6.2: copies every Via (same order), From,
    /// To, Call-ID and CSeq; Timestamp for 100 (§8.2.6.1); Record-Route for 101–299
    /// (§12.1.1). Add a To tag with [`MessageBuilder::to_tag`] for anything but 100.
    pub fn response_to(req: &Message, code: u16, reason: &str) -> MessageBuilder {
        let mut b = MessageBuilder::response(code, reason);
        for f in req.fields() {
            let copy = match f.name {
                HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq => true,
                HeaderName::Timestamp => code == 100,
                HeaderName::RecordRoute => (101..300).contains(&code),
                _ => false,
            };
            if copy {
                b.headers
                    .push((f.name.as_str().to_owned(), f.value.to_owned()));
            }
        }
        b
    }

    /// A copy of `msg` (start line, every header, body) to modify, e.g. to forward it.
    pub fn from_message(msg: &Message) -> MessageBuilder {
        MessageBuilder {
            start: msg.start_line().to_owned(),
            headers: msg
                .fields()
                .filter(|f| f.name != HeaderName::ContentLength)
                .map(|f| (f.raw_name.to_owned(), f.value.to_owned()))
                .collect(),
            body: msg.body().to_vec(),
        }
    }

    /// CANCEL for a client INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, To, From,
    /// CSeq number with method CANCEL, only the top Via, the Route set, Max-Forwards 70.
    pub fn cancel_for(invite: &Message) -> Result<MessageBuilder, BuildError> {
        let uri = invite
            .request_uri_str()
            .ok_or(BuildError::Missing("Request-URI"))?;
        let cseq = invite.cseq().ok_or(BuildError::Missing("CSeq"))?;
        let via = invite
            .values(HeaderName::Via)
            .next()
            .ok_or(BuildError::Missing("Via"))?;
        let mut b = MessageBuilder::request(Method::Cancel, uri).header("Via", via);
        for name in [HeaderName::Route] {
            for v in invite.get_all(name) {
                b = b.header(name.as_str(), v);
            }
        }
        b = b.header("Max-Forwards", "70");
        for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
            let v = invite.get(name).ok_or(BuildError::Missing(name.as_str()))?;
            b = b.header(name.as_str(), v);
        }
        Ok(b.header("CSeq", &format!("{} CANCEL", cseq.seq)))
    }

    /// ACK for a non-2xx final response to a client INVITE (RFC 3261 §17.1.1.3): the
    /// INVITE's Request-URI, Call-ID, From, top Via and Route set, the response's To
    /// (with its tag), CSeq number with method ACK.
    pub fn ack_for_non2xx(
        invite: &Message,
        response: &Message,
    ) -> Result<MessageBuilder, BuildError> {
        let uri = invite
            .request_uri_str()
            .ok_or(BuildError::Missing("Request-URI"))?;
        let cseq = invite.cseq().ok_or(BuildError::Missing("CSeq"))?;
        let via = invite
            .values(HeaderName::Via)
            .next()
            .ok_or(BuildError::Missing("Via"))?;
        let mut b = MessageBuilder::request(Method::Ack, uri).header("Via", via);
        for v in invite.get_all(HeaderName::Route) {
            b = b.header("Route", v);
        }
        b = b.header("Max-Forwards", "70");
        let from = invite
            .get(HeaderName::From)
            .ok_or(BuildError::Missing("From"))?;
        let to = response
            .get(HeaderName::To)
            .ok_or(BuildError::Missing("To"))?;
        let call_id = invite.call_id().ok_or(BuildError::Missing("Call-ID"))?;
        Ok(b.header("From", from)
            .header("To", to)
            .header("Call-ID", call_id)
            .header("CSeq", &format!("{} ACK", cseq.seq)))
    }

    /// Appends a header field.
    pub fn header(mut self, name: &str, value: &str) -> MessageBuilder {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Inserts a header field before all others (e.g. a new top Via, RFC 3261 §16.6).
    pub fn header_first(mut self, name: &str, value: &str) -> MessageBuilder {
        self.headers.insert(0, (name.to_owned(), value.to_owned()));
        self
    }

    /// Removes every field with this name (compact forms included).
    pub fn remove(mut self, name: &str) -> MessageBuilder {
        let id = HeaderName::parse(name);
        self.headers.retain(|(n, _)| {
            let nid = HeaderName::parse(n);
            !(nid == id && (id != HeaderName::Other || n.eq_ignore_ascii_case(name)))
        });
        self
    }

    /// Replaces every field with this name by one field (at the first one's position,
    /// or appended).
    pub fn set(mut self, name: &str, value: &str) -> MessageBuilder {
        let id = HeaderName::parse(name);
        let matches = |n: &str| {
            HeaderName::parse(n) == id && (id != HeaderName::Other || n.eq_ignore_ascii_case(name))
        };
        match self.headers.iter().position(|(n, _)| matches(n)) {
            Some(i) => {
                if let Some(slot) = self.headers.get_mut(i) {
                    *slot = (name.to_owned(), value.to_owned());
                }
                let mut idx = 0;
                self.headers.retain(|(n, _)| {
                    idx += 1;
                    idx - 1 == i || !matches(n)
                });
                self
            }
            None => self.header(name, value),
        }
    }

    /// Adds `;tag=<tag>` to the To field unless it already has a tag (RFC 3261
    /// §8.2.6.2: a UAS response carries a To tag).
    pub fn to_tag(mut self, tag: &str) -> MessageBuilder {
        for (n, v) in self.headers.iter_mut() {
            if HeaderName::parse(n) == HeaderName::To {
                let has_tag = super::header::NameAddr::parse(v)
                    .map(|a| a.tag().is_some())
                    .unwrap_or(false);
                if !has_tag {
                    v.push_str(";tag=");
                    v.push_str(tag);
                }
            }
        }
        self
    }

    /// Sets the body and its Content-Type (replacing any earlier one).
    pub fn body(self, content_type: &str, body: impl Into<Vec<u8>>) -> MessageBuilder {
        let mut b = self.set("Content-Type", content_type);
        b.body = body.into();
        b
    }

    /// Checks names and values, sets `Content-Length` to the body length, prints, and
    /// parses the result into a [`Message`].
    pub fn build(self) -> Result<Message, BuildError> {
        Ok(parse(&self.build_bytes()?)?)
    }

    /// As [`MessageBuilder::build`] without the final parse: the octets as printed. For
    /// a response that must echo a peer's header verbatim although it does not parse
    /// (a stateless answer to a request whose topmost Via is malformed, RFC 3261
    /// §8.2.6.2). Names must still be tokens and values free of CR and LF.
    ///
    /// # Errors
    /// [`BuildError::InvalidName`] / [`BuildError::InvalidValue`] as for `build`.
    pub fn build_bytes(self) -> Result<Vec<u8>, BuildError> {
        let no_crlf = |s: &str| !s.bytes().any(|b| b == b'\r' || b == b'\n');
        if !no_crlf(&self.start) {
            return Err(BuildError::InvalidValue("start line".to_owned()));
        }
        let mut out =
            Vec::with_capacity(self.start.len() + 64 * self.headers.len() + self.body.len());
        out.extend_from_slice(self.start.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (n, v) in &self.headers {
            if !is_token(n) {
                return Err(BuildError::InvalidName(n.clone()));
            }
            if HeaderName::parse(n) == HeaderName::ContentLength {
                continue;
            }
            if !no_crlf(v) {
                return Err(BuildError::InvalidValue(n.clone()));
            }
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        Ok(out)
    }
}

/// A fresh random token suitable for a tag (RFC 3261 §19.3) or, prefixed with
/// `z9hG4bK`, a branch (§8.1.1.7). `entropy` comes from the caller (sans-IO: no RNG
/// here), e.g. `rand::random::<u64>()`; it is rendered as 16 hex digits.
pub fn token_from_entropy(entropy: u64) -> String {
    format!("{entropy:016x}")
}

/// True when `tag` would be accepted in `;tag=` (a non-empty token).
pub fn is_valid_tag(tag: &str) -> bool {
    is_token(tag) && Params::parse(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse;

    const INVITE: &[u8] = b"INVITE urn:service:sos SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;received=192.0.2.9\r\n\
Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKb\r\n\
Record-Route: <sip:p1.example;lr>\r\n\
Max-Forwards: 69\r\n\
To: <urn:service:sos>\r\n\
From: <sip:+447700900123@carrier.example>;tag=f1\r\n\
Call-ID: c1@carrier\r\n\
CSeq: 7 INVITE\r\n\
Timestamp: 54\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn response_copies_per_8_2_6() {
        let req = parse(INVITE).unwrap();
        let trying = MessageBuilder::response_to(&req, 100, "Trying")
            .build()
            .unwrap();
        assert_eq!(trying.status_code(), Some(100));
        assert_eq!(trying.vias().count(), 2);
        assert_eq!(trying.top_via().unwrap().branch(), Some("z9hG4bKa"));
        assert_eq!(trying.header("Timestamp"), Some("54"));
        assert!(trying.get(HeaderName::RecordRoute).is_none());
        assert_eq!(trying.to().unwrap().tag(), None);
        let ringing = MessageBuilder::response_to(&req, 180, "Ringing")
            .to_tag("t99")
            .build()
            .unwrap();
        assert_eq!(ringing.to().unwrap().tag(), Some("t99"));
        assert_eq!(ringing.from().unwrap().tag(), Some("f1"));
        assert_eq!(ringing.cseq().unwrap().method, "INVITE");
        assert_eq!(ringing.call_id(), Some("c1@carrier"));
        assert_eq!(ringing.header("Record-Route"), Some("<sip:p1.example;lr>"));
        assert_eq!(ringing.content_length(), Some(0));
        let ok = MessageBuilder::response_to(&req, 200, "OK")
            .to_tag("t99")
            .header("Contact", "<sip:engine@192.0.2.50>")
            .body("application/sdp", &b"v=0\r\n"[..])
            .build()
            .unwrap();
        assert_eq!(ok.body(), b"v=0\r\n");
        assert_eq!(ok.content_length(), Some(5));
        assert!(ok.content_type().unwrap().unwrap().is("application/sdp"));
    }

    #[test]
    fn cancel_and_ack() {
        let req = parse(INVITE).unwrap();
        let c = MessageBuilder::cancel_for(&req).unwrap().build().unwrap();
        assert_eq!(c.method(), Some(Method::Cancel));
        assert_eq!(c.vias().count(), 1);
        assert_eq!(c.cseq().unwrap().seq, 7);
        assert_eq!(c.cseq().unwrap().method, "CANCEL");
        let resp = MessageBuilder::response_to(&req, 486, "Busy Here")
            .to_tag("x1")
            .build()
            .unwrap();
        let a = MessageBuilder::ack_for_non2xx(&req, &resp)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(a.to().unwrap().tag(), Some("x1"));
        assert_eq!(a.cseq().unwrap().method, "ACK");
    }

    #[test]
    fn rejects_injection() {
        let r = MessageBuilder::request(Method::Options, "sip:a@b")
            .header("Subject", "x\r\nVia: evil")
            .build();
        assert!(matches!(r, Err(BuildError::InvalidValue(_))));
        let r = MessageBuilder::request(Method::Options, "sip:a@b")
            .header("Bad Name", "x")
            .build();
        assert!(matches!(r, Err(BuildError::InvalidName(_))));
        let m = MessageBuilder::request(Method::Options, "sip:a@b")
            .header("Via", "SIP/2.0/UDP h;branch=z9hG4bK1")
            .header("X-A", "1")
            .header("x-a", "2")
            .set("X-A", "3")
            .build()
            .unwrap();
        assert_eq!(m.header_all("x-a").collect::<Vec<_>>(), vec!["3"]);
        assert!(is_valid_tag(&token_from_entropy(42)));
    }
}
