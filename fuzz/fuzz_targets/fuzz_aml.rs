//! Fuzz the AML parsers (ETSI TS 103 625: SMS text v1/v2, 7-bit data SMS, HTTPS form
//! with HMAC), the correlation store, and the location header-value parsers and
//! classification rules on the same text. Must never panic.
#![no_main]
use answerpoint::call::{classify_input, ClassifyConfig, ClassifyInput};
use answerpoint::location::aml::{parse_https_form, parse_sms_data, parse_sms_data_hex, parse_sms_text};
use answerpoint::location::aml_store::AmlStore;
use answerpoint::location::header::{callback_number, parse_call_info, parse_geolocation, parse_geolocation_routing};
use answerpoint::location::summary::LocationSummary;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant, SystemTime};

fuzz_target!(|data: &[u8]| {
    let _ = parse_sms_data(data);
    let _ = parse_https_form(data, Some(b"AML"));
    let _ = parse_https_form(data, None);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_sms_data_hex(text);
    if let Ok(fix) = parse_sms_text(text) {
        let _ = LocationSummary::from_aml(&fix, SystemTime::UNIX_EPOCH);
        let t0 = Instant::now();
        let mut s = AmlStore::new(Duration::from_secs(60), 4);
        s.ingest(t0, text, fix.clone());
        s.ingest(t0 + Duration::from_secs(1), text, fix);
        let _ = s.best(t0, text);
        s.expire(t0 + Duration::from_secs(120));
    }
    let _ = parse_geolocation(text);
    let _ = parse_call_info(text);
    let _ = parse_geolocation_routing(text);
    let _ = callback_number(text);
    let rp = [text];
    let _ = classify_input(
        &ClassifyInput { request_uri: text, resource_priority: &rp, priority: Some(text) },
        &ClassifyConfig::default(),
    );
});
