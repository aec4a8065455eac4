//! Transport framing (RFC 3261 §18.3). Datagrams are handled by [`super::parse`]: no
//! Content-Length means the body runs to the end, extra octets after Content-Length are
//! ignored, a Content-Length larger than the datagram is an error. Streams (TCP, TLS)
//! need Content-Length; [`frame`] tells "need more bytes" (`Ok(None)`) from "invalid"
//! (`Err`, the connection cannot be resynchronised and should be closed) from "framed
//! but malformed" ([`StreamItem::Invalid`], answer 400 and carry on). Leading CRLFs are
//! keepalives (RFC 5626 §4.4.1: a CRLFCRLF ping is answered with a CRLF pong).

use super::error::ParseError;
use super::limits::Limits;
use super::message::Message;
use super::parse::{finish, scan_head};

/// One item taken off a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// A complete, valid message.
    Message(Message),
    /// A message whose extent is known (Content-Length) but whose content is malformed;
    /// the stream continues after it. Answer requests with the error's status.
    Invalid(ParseError),
    /// CR/LF octets between messages (keepalive). `pong` is true when they contained a
    /// CRLFCRLF ping, which RFC 5626 §4.4.1 answers with CRLF.
    Keepalive {
        /// Octets consumed.
        octets: usize,
        /// True when a CRLFCRLF ping was seen.
        pong: bool,
    },
}

/// Frames the first item at the start of `buf`. Returns `Ok(Some((item, consumed)))`,
/// `Ok(None)` when more bytes are needed, or `Err` when the stream is unusable
/// (no or conflicting Content-Length, malformed header line, limits exceeded).
pub fn frame(buf: &[u8], limits: &Limits) -> Result<Option<(StreamItem, usize)>, ParseError> {
    let crlf = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    if crlf > 0 {
        let lead = buf.get(..crlf).unwrap_or_default();
        let pong = lead.windows(4).any(|w| w == b"\r\n\r\n");
        return Ok(Some((StreamItem::Keepalive { octets: crlf, pong }, crlf)));
    }
    let Some(scan) = scan_head(buf, limits, false)? else {
        return Ok(None);
    };
    if scan.cl_conflict {
        return Err(ParseError::ConflictingContentLength);
    }
    let cl = scan
        .content_length
        .ok_or(ParseError::MissingContentLength)?;
    if cl > limits.max_body_bytes {
        return Err(ParseError::BodyTooLarge {
            len: cl,
            max: limits.max_body_bytes,
        });
    }
    let total = scan.body_start.saturating_add(cl);
    if total > limits.max_message_bytes {
        return Err(ParseError::MessageTooLarge {
            len: total,
            max: limits.max_message_bytes,
        });
    }
    let Some(body) = buf.get(scan.body_start..total) else {
        return Ok(None);
    };
    let item = match finish(buf, scan, body) {
        Ok(m) => StreamItem::Message(m),
        Err(e) => StreamItem::Invalid(e),
    };
    Ok(Some((item, total)))
}

/// A stream decoder owning its receive buffer: [`push`](StreamDecoder::push) what the
/// socket delivered, then call [`next_item`](StreamDecoder::next_item) until it yields
/// `Ok(None)`. Several messages in one read and one message split across reads both
/// work. The buffer is bounded by 2 × `max_message_bytes`.
#[derive(Debug, Clone, Default)]
pub struct StreamDecoder {
    buf: Vec<u8>,
    limits: Limits,
}

impl StreamDecoder {
    /// A decoder with the given limits.
    pub fn new(limits: Limits) -> StreamDecoder {
        StreamDecoder {
            buf: Vec::new(),
            limits,
        }
    }

    /// Appends received octets. Fails with `MessageTooLarge` if the unconsumed buffer
    /// would exceed 2 × `max_message_bytes` (the peer is not reading our framing).
    pub fn push(&mut self, data: &[u8]) -> Result<(), ParseError> {
        let cap = self.limits.max_message_bytes.saturating_mul(2);
        let len = self.buf.len() + data.len();
        if len > cap {
            return Err(ParseError::MessageTooLarge { len, max: cap });
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Takes the next item off the buffer; `Ok(None)` when more bytes are needed.
    /// After an `Err` the connection should be closed.
    pub fn next_item(&mut self) -> Result<Option<StreamItem>, ParseError> {
        match frame(&self.buf, &self.limits)? {
            None => Ok(None),
            Some((item, used)) => {
                self.buf.drain(..used.min(self.buf.len()));
                Ok(Some(item))
            }
        }
    }

    /// Octets buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// True for a datagram made only of CR/LF octets (a keepalive, RFC 5626 §4.4.1), which
/// is ignored rather than parsed.
pub fn is_keepalive(datagram: &[u8]) -> bool {
    !datagram.is_empty() && datagram.iter().all(|&b| b == b'\r' || b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPT: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 3\r\n\r\nabc";

    #[test]
    fn split_and_batched() {
        let mut d = StreamDecoder::default();
        let mut input = b"\r\n\r\n".to_vec();
        input.extend_from_slice(OPT);
        input.extend_from_slice(OPT);
        let (a, b) = input.split_at(30);
        d.push(a).unwrap();
        assert!(matches!(
            d.next_item().unwrap(),
            Some(StreamItem::Keepalive {
                octets: 4,
                pong: true
            })
        ));
        assert_eq!(d.next_item().unwrap(), None);
        d.push(b).unwrap();
        for _ in 0..2 {
            match d.next_item().unwrap() {
                Some(StreamItem::Message(m)) => assert_eq!(m.body(), b"abc"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(d.next_item().unwrap(), None);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn need_more_vs_invalid() {
        let l = Limits::default();
        assert_eq!(frame(&OPT[..OPT.len() - 1], &l).unwrap(), None);
        assert_eq!(
            frame(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n", &l),
            Err(ParseError::MissingContentLength)
        );
        assert!(frame(b"OPTIONS sip:a@b SIP/2.0\r\nno colon\r\n", &l).is_err());
        let bad = b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\nOPTIONS";
        let (item, used) = frame(bad, &l).unwrap().unwrap();
        assert_eq!(item, StreamItem::Invalid(ParseError::CSeqMethodMismatch));
        assert_eq!(used, bad.len() - 7);
        assert!(is_keepalive(b"\r\n\r\n"));
    }
}
