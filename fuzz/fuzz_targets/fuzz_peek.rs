//! Fuzz the pre-parse INVITE peek (`sip::peek`, used to take emergency INVITEs first):
//! arbitrary octets must never panic, and whenever the full parser accepts the datagram as
//! an INVITE, the peek's emergency verdict must equal the full classification's (unless a
//! priority header sits beyond the peek's line cap or is folded, which only changes order).
#![no_main]
use answerpoint::call::{classify, classify_input, ClassifyConfig, ClassifyInput};
use answerpoint::sip::peek::{peek_invite, MAX_PEEK_LINES};
use answerpoint::sip::{parse, Method};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = ClassifyConfig::default();
    let Some(p) = peek_invite(data) else { return };
    let peeked = classify_input(
        &ClassifyInput {
            request_uri: p.request_uri,
            resource_priority: p.resource_priority(),
            priority: p.priority,
        },
        &cfg,
    )
    .is_emergency();
    let Ok(m) = parse(data) else { return };
    if m.method() != Some(Method::Invite) || m.request_uri_str() != Some(p.request_uri) {
        return;
    }
    // Only compare where the peek read the whole head in the same shape as the parser.
    let head_end = data.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(data.len());
    let head = &data[..head_end];
    let lines = head.split(|&b| b == b'\n').count();
    let folded = head.windows(2).any(|w| w[0] == b'\n' && (w[1] == b' ' || w[1] == b'\t'));
    let bare_lf = head.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r');
    if lines <= MAX_PEEK_LINES && !folded && !bare_lf && m.resource_priorities().count() <= 8 {
        assert_eq!(peeked, classify(&m, &cfg).is_emergency());
    }
});
