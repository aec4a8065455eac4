//! The printer: writes a [`Message`] back to wire form (RFC 3261 §7): start line, one
//! `Name: value` line per header field in order (names as received, compact forms kept,
//! folded values on one line), an empty line and the body. `parse(print(m)) == m` for
//! every parsed or built message, and printing is idempotent after one round.

use super::message::Message;

impl Message {
    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.head.len() + self.body.len() + 4);
        out.extend_from_slice(self.start_line().as_bytes());
        out.extend_from_slice(b"\r\n");
        for f in self.fields() {
            out.extend_from_slice(f.raw_name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(f.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }

    /// The wire form as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }
}

impl std::fmt::Display for Message {
    /// The wire form; a non-UTF-8 body is shown lossily.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use crate::sip::parse;

    #[test]
    fn round_trip_normalises_then_is_stable() {
        let raw = b"OPTIONS sip:a@b SIP/2.0\r\nTO :\r\n sip:a@b ;tag=1\r\nl:0\r\n\r\n";
        let m = parse(raw).unwrap();
        let p1 = m.to_bytes();
        assert_eq!(
            p1,
            b"OPTIONS sip:a@b SIP/2.0\r\nTO: sip:a@b ;tag=1\r\nl: 0\r\n\r\n".to_vec()
        );
        let m2 = parse(&p1).unwrap();
        assert_eq!(m, m2);
        assert_eq!(m2.to_bytes(), p1);
    }
}
