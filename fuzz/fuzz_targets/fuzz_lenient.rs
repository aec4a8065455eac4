//! Fuzz the framing repair for emergency INVITEs over UDP (`sip::lenient`): arbitrary
//! octets (limits taken from the first two) must never panic; a repaired copy must stay
//! within the limits (at most 4 octets longer than the input), parse without any framing
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
            assert!(r.bytes.len() <= input.len() + 4);
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
