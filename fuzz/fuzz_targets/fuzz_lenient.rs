//! Fuzz the framing repair for emergency INVITEs over UDP (`sip::lenient`): arbitrary
//! octets (limits taken from the first two) must never panic; a repaired copy must stay
//! within the limits (at most 4 octets longer than the input, but for quoted display
//! names), parse without any framing
//! error and with at most one Content-Length, and need no second repair; a datagram the
//! parser already accepts with at most one Content-Length needs no repair.
#![no_main]
use answerpoint::sip::lenient::{is_repairable, repair_request_datagram, RepairError};
use answerpoint::sip::{parse_with, HeaderName, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (Some(&a), Some(&b)) = (data.first(), data.get(1)) else {
        return;
    };
    let limits = Limits {
        max_message_bytes: 8_192,
        max_headers: 2 + usize::from(a % 32),
        max_line_bytes: 16 + usize::from(b) * 4,
        max_body_bytes: 8_192,
    };
    let input = &data[2..];
    let cl_count = |m: &answerpoint::sip::Message| m.get_all(HeaderName::ContentLength).count();
    if let Ok(r) = repair_request_datagram(input, &limits) {
        {
            assert!(!r.repairs.is_empty());
            assert!(r.bytes.len() <= limits.max_message_bytes);
            // + 4: a CRLF after the last header line and the empty line; quoting a From
            // and a To display name adds at most 3 octets and an escape per character.
            let quoted = 2 * (3 + limits.max_line_bytes) * usize::from(r.repairs.display_names_quoted > 0);
            assert!(r.bytes.len() <= input.len() + 4 + quoted);
            match parse_with(&r.bytes, &limits) {
                Ok(m) => assert!(cl_count(&m) <= 1, "{:?}", r.repairs),
                Err(e) => assert!(!is_repairable(&e), "{e} after {:?}", r.repairs),
            }
            assert_eq!(
                repair_request_datagram(&r.bytes, &limits),
                Err(RepairError::NothingToRepair),
                "second repair of {:?}",
                String::from_utf8_lossy(&r.bytes)
            );
        }
    }
    if let Ok(m) = parse_with(input, &limits) {
        if cl_count(&m) <= 1 {
            assert_eq!(
                repair_request_datagram(input, &limits),
                Err(RepairError::NothingToRepair)
            );
        }
    }
});
