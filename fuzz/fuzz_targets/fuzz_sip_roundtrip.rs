//! Fuzz target: whatever parses must print to bytes that parse to an equal message,
//! and printing must then be stable (RFC 3261 §7 printer/parser agreement).
#![no_main]

use answerpoint::sip::{parse, MessageBuilder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = parse(data) else { return };
    let printed = m.to_bytes();
    let again = match parse(&printed) {
        Ok(a) => a,
        Err(e) => panic!("printed message does not parse: {e:?}\n{}", String::from_utf8_lossy(&printed)),
    };
    assert_eq!(m, again, "print -> parse changed the message");
    assert_eq!(again.to_bytes(), printed, "printing is not stable");
    // Responses built from a parsed request must parse too.
    if m.is_request() && m.cseq().is_some() {
        if let Ok(r) = MessageBuilder::response_to(&m, 180, "Ringing").to_tag("t1").build() {
            assert_eq!(r.status_code(), Some(180));
        }
    }
});
