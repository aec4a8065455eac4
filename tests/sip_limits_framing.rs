//! Limits (each with its typed error and SIP status) and stream framing: need-more vs
//! invalid, keepalives, several messages per read, one message split at every offset.

use answerpoint::sip::framing::{frame, StreamDecoder, StreamItem};
use answerpoint::sip::{parse, parse_with, Limits, ParseError};

const OPTIONS: &str = "OPTIONS sip:user@example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP client.example.com;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
To: <sip:user@example.com>\r\n\
From: <sip:caller@example.net>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@example.net\r\n\
CSeq: 63104 OPTIONS\r\n\
Content-Type: text/plain\r\n\
Content-Length: 5\r\n\
\r\n\
hello";

#[test]
fn each_limit_has_its_error_and_status() {
    let raw = OPTIONS.as_bytes();
    let small = |f: fn(&mut Limits)| {
        let mut l = Limits::default();
        f(&mut l);
        parse_with(raw, &l).unwrap_err()
    };
    let e = small(|l| l.max_message_bytes = 100);
    assert!(matches!(e, ParseError::MessageTooLarge { max: 100, .. }));
    assert_eq!(e.status_code(), 513);
    let e = small(|l| l.max_headers = 3);
    assert_eq!(e, ParseError::TooManyHeaders { max: 3 });
    assert_eq!(e.status_code(), 513);
    let e = small(|l| l.max_line_bytes = 40);
    assert_eq!(e, ParseError::LineTooLong { max: 40 });
    assert_eq!(e.status_code(), 513);
    let e = small(|l| l.max_body_bytes = 4);
    assert_eq!(e, ParseError::BodyTooLarge { len: 5, max: 4 });
    assert_eq!(e.status_code(), 413);
    assert_eq!(e.reason_phrase(), "Request Entity Too Large");
    assert!(parse(raw).is_ok());
}

#[test]
fn datagram_rules() {
    // No Content-Length on UDP: the body runs to the end of the datagram.
    let no_cl = OPTIONS.replace("Content-Length: 5\r\n", "");
    assert_eq!(parse(no_cl.as_bytes()).unwrap().body(), b"hello");
    // Extra octets after Content-Length are ignored.
    let extra = format!("{OPTIONS}garbage");
    assert_eq!(parse(extra.as_bytes()).unwrap().body(), b"hello");
    // Content-Length larger than the datagram is an error (400).
    let short = &OPTIONS.as_bytes()[..OPTIONS.len() - 1];
    let e = parse(short).unwrap_err();
    assert_eq!(
        e,
        ParseError::ContentLengthExceedsDatagram {
            declared: 5,
            available: 4
        }
    );
    assert_eq!(e.status_code(), 400);
}

#[test]
fn stream_split_at_every_offset() {
    let raw = OPTIONS.as_bytes();
    for cut in 0..raw.len() {
        let mut d = StreamDecoder::default();
        d.push(&raw[..cut]).unwrap();
        assert_eq!(d.next_item().unwrap(), None, "cut {cut}");
        d.push(&raw[cut..]).unwrap();
        match d.next_item().unwrap() {
            Some(StreamItem::Message(m)) => assert_eq!(m.body(), b"hello"),
            other => panic!("cut {cut}: {other:?}"),
        }
        assert_eq!(d.buffered(), 0);
    }
}

#[test]
fn stream_several_messages_and_keepalives_in_one_read() {
    let mut input = Vec::new();
    for _ in 0..3 {
        input.extend_from_slice(b"\r\n\r\n");
        input.extend_from_slice(OPTIONS.as_bytes());
    }
    let mut d = StreamDecoder::default();
    d.push(&input).unwrap();
    let (mut msgs, mut pings) = (0, 0);
    while let Some(item) = d.next_item().unwrap() {
        match item {
            StreamItem::Message(m) => {
                assert_eq!(m.cseq().unwrap().seq, 63104);
                msgs += 1;
            }
            StreamItem::Keepalive { pong, .. } => pings += usize::from(pong),
            StreamItem::Invalid(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((msgs, pings), (3, 3));
}

#[test]
fn stream_invalid_vs_need_more() {
    let l = Limits::default();
    // Content-Length is mandatory on streams.
    let no_cl = OPTIONS.replace("Content-Length: 5\r\n", "");
    assert_eq!(
        frame(no_cl.as_bytes(), &l),
        Err(ParseError::MissingContentLength)
    );
    // Disagreeing Content-Lengths make framing impossible.
    let two = OPTIONS.replace("Content-Length: 5\r\n", "Content-Length: 5\r\nl: 6\r\n");
    assert_eq!(
        frame(two.as_bytes(), &l),
        Err(ParseError::ConflictingContentLength)
    );
    // A declared body over the limit fails before the body arrives.
    let big = OPTIONS.replace("Content-Length: 5", "Content-Length: 999999");
    assert!(matches!(
        frame(big.as_bytes(), &l),
        Err(ParseError::BodyTooLarge { .. })
    ));
    // A header section that never ends fails once it passes the message limit.
    let mut endless = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
    let tiny = Limits {
        max_message_bytes: 512,
        ..Limits::default()
    };
    while endless.len() < 600 {
        endless.extend_from_slice(b"X-Filler: 0123456789\r\n");
    }
    assert!(matches!(
        frame(&endless, &tiny),
        Err(ParseError::MessageTooLarge { .. })
    ));
    assert_eq!(frame(&endless[..300], &tiny), Ok(None));
    // Framed but malformed: reported, consumed, and the stream continues.
    let bad = OPTIONS.replace("CSeq: 63104 OPTIONS", "CSeq: 63104 INVITE");
    let mut d = StreamDecoder::default();
    d.push(bad.as_bytes()).unwrap();
    d.push(OPTIONS.as_bytes()).unwrap();
    assert_eq!(
        d.next_item().unwrap(),
        Some(StreamItem::Invalid(ParseError::CSeqMethodMismatch))
    );
    assert!(matches!(
        d.next_item().unwrap(),
        Some(StreamItem::Message(_))
    ));
}
