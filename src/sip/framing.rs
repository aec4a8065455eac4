//! Transport framing (RFC 3261 §18.3). Datagrams are handled by [`super::parse`]: no
//! Content-Length means the body runs to the end, extra octets after Content-Length are
//! ignored, a Content-Length larger than the datagram is an error. Streams (TCP, TLS)
//! need Content-Length; [`frame`] tells "need more bytes" (`Ok(None)`) from "invalid"
//! (`Err`, the connection cannot be resynchronised and should be closed) from "framed
//! but malformed" ([`StreamItem::Invalid`], answer 400 and carry on). Leading CRLFs are
//! keepalives (RFC 5626 §4.4.1: a CRLFCRLF ping is answered with a CRLF pong).
//!
//! A message whose header section is within the limits but whose Content-Length is not
//! ([`StreamItem::BodyTooLarge`]) does not end the stream: its header section is handed
//! on (an emergency INVITE is still served, DESIGN §5; anything else gets 413) and
//! [`StreamDecoder`] then discards exactly Content-Length octets as they arrive, never
//! buffering them, so the messages after it frame as usual — up to
//! [`MAX_SKIPPED_BODY_BYTES`]: a larger Content-Length is no body anyone sends (a broken
//! or hostile peer), and discarding it would silently swallow every later message on the
//! connection, so it is an error (answer 513 from the head, close; the peer reconnects).

use super::error::ParseError;
use super::limits::Limits;
use super::message::Message;
use super::parse::{finish, scan_head, DroppedBody};

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
    /// A message whose body (Content-Length) exceeds the body room the limits leave
    /// ([`DroppedBody::TooLarge`]). Only the header section is framed and consumed:
    /// `head` holds its octets (start line through the empty line; not yet validated,
    /// see [`super::parse_head_with`]). The `declared` body octets that follow must be
    /// discarded: [`StreamDecoder`] does so itself; a caller of [`frame`] must.
    BodyTooLarge {
        /// The header section as received.
        head: Vec<u8>,
        /// Content-Length and the limit it exceeds.
        dropped: DroppedBody,
    },
}

/// Largest body [`StreamDecoder`] discards to keep a stream going, octets (16 MiB: two
/// orders of magnitude above any SIP body, RFC 7852 additional data included).
pub const MAX_SKIPPED_BODY_BYTES: usize = 16 << 20;

/// Frames the first item at the start of `buf`. Returns `Ok(Some((item, consumed)))`,
/// `Ok(None)` when more bytes are needed, or `Err` when the stream is unusable
/// (no or conflicting Content-Length, malformed header line, header section over the
/// limits). A body over the limits is not an error: [`StreamItem::BodyTooLarge`], with
/// `consumed` covering the header section only — unless its Content-Length exceeds
/// [`MAX_SKIPPED_BODY_BYTES`] ([`ParseError::MessageTooLarge`]).
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
    // The body room: the body limit, and what the message limit leaves after the head.
    let room = limits
        .max_body_bytes
        .min(limits.max_message_bytes.saturating_sub(scan.body_start));
    if cl > MAX_SKIPPED_BODY_BYTES {
        return Err(ParseError::MessageTooLarge {
            len: scan.body_start.saturating_add(cl),
            max: limits.max_message_bytes,
        });
    }
    if cl > room {
        let head = buf.get(..scan.body_start).unwrap_or_default().to_vec();
        let dropped = DroppedBody::TooLarge {
            declared: cl,
            max: room,
        };
        return Ok(Some((
            StreamItem::BodyTooLarge { head, dropped },
            scan.body_start,
        )));
    }
    let total = scan.body_start.saturating_add(cl);
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
/// work. The buffer is bounded by 2 × `max_message_bytes`; the body of a
/// [`StreamItem::BodyTooLarge`] is discarded as it arrives and never counts against it.
#[derive(Debug, Clone, Default)]
pub struct StreamDecoder {
    buf: Vec<u8>,
    limits: Limits,
    /// Body octets of a [`StreamItem::BodyTooLarge`] still to discard.
    skip: usize,
}

impl StreamDecoder {
    /// A decoder with the given limits.
    pub fn new(limits: Limits) -> StreamDecoder {
        StreamDecoder {
            buf: Vec::new(),
            limits,
            skip: 0,
        }
    }

    /// Appends received octets, first discarding any still owed to an oversize body.
    /// Fails with `MessageTooLarge` if the unconsumed buffer would exceed
    /// 2 × `max_message_bytes` (the peer is not reading our framing).
    pub fn push(&mut self, data: &[u8]) -> Result<(), ParseError> {
        let n = self.skip.min(data.len());
        self.skip -= n;
        let data = data.get(n..).unwrap_or_default();
        let cap = self.limits.max_message_bytes.saturating_mul(2);
        let len = self.buf.len() + data.len();
        if len > cap {
            return Err(ParseError::MessageTooLarge { len, max: cap });
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Takes the next item off the buffer; `Ok(None)` when more bytes are needed
    /// (including while an oversize body is still being discarded). After an `Err` the
    /// connection should be closed.
    pub fn next_item(&mut self) -> Result<Option<StreamItem>, ParseError> {
        Ok(self.advance(false)?.map(|(item, _)| item))
    }

    /// [`next_item`](StreamDecoder::next_item), with the octets of a
    /// [`StreamItem::Message`] or [`StreamItem::Invalid`] exactly as received (for a
    /// consumer that parses them itself, like the engine); empty for other items.
    pub fn next_item_with_octets(&mut self) -> Result<Option<(StreamItem, Vec<u8>)>, ParseError> {
        self.advance(true)
    }

    fn advance(&mut self, octets: bool) -> Result<Option<(StreamItem, Vec<u8>)>, ParseError> {
        if self.skip > 0 {
            let n = self.skip.min(self.buf.len());
            self.buf.drain(..n);
            self.skip -= n;
            if self.skip > 0 {
                return Ok(None);
            }
        }
        let Some((item, used)) = frame(&self.buf, &self.limits)? else {
            return Ok(None);
        };
        let used = used.min(self.buf.len());
        let bytes = match &item {
            StreamItem::Message(_) | StreamItem::Invalid(_) if octets => {
                self.buf.get(..used).unwrap_or_default().to_vec()
            }
            _ => Vec::new(),
        };
        self.buf.drain(..used);
        if let StreamItem::BodyTooLarge {
            dropped: DroppedBody::TooLarge { declared, .. },
            ..
        } = &item
        {
            // Whatever of the body is buffered goes now, the rest as it arrives.
            let n = (*declared).min(self.buf.len());
            self.buf.drain(..n);
            self.skip = declared - n;
        }
        Ok(Some((item, bytes)))
    }

    /// Octets buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The octets buffered and not yet framed (to answer a stream that cannot be
    /// framed, e.g. from its request head).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Drops the first `n` buffered octets (at most all of them): a message the caller
    /// framed itself, with other limits, and handled.
    pub fn discard(&mut self, n: usize) {
        self.buf.drain(..n.min(self.buf.len()));
    }

    /// Body octets of an oversize message still to be discarded as they arrive.
    pub fn skipping(&self) -> usize {
        self.skip
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
