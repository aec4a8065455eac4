//! Fuzz the PIDF-LO parser (RFC 4119/5491/5139) and the RFC 7852 additional-data parser
//! on arbitrary text. Must never panic.
#![no_main]
use answerpoint::location::additional_data::{parse_additional_data, parse_jcard};
use answerpoint::location::pidf::Pidf;
use answerpoint::location::summary::{LocationSummary, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = Pidf::parse(text) {
        for l in &p.locations {
            let _ = LocationSummary::from_pidf(l, Source::PidfLoByValue, std::time::SystemTime::UNIX_EPOCH);
        }
    }
    let _ = parse_additional_data(text);
    let _ = parse_jcard(text);
});
