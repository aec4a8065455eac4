//! Fuzz target: arbitrary octets through the datagram parser, the stream framer and
//! every typed accessor. Must never panic (RFC 3261 parser robustness, DESIGN §2).
#![no_main]

use answerpoint::sip::framing::{StreamDecoder, StreamItem};
use answerpoint::sip::validate::{unsupported_requires, validate_request};
use answerpoint::sip::{parse, HeaderName, Message};
use libfuzzer_sys::fuzz_target;

fn touch(m: &Message) {
    let _ = m.request_uri().map(|u| (u.user(), u.service(), u.is_sos_service(), u.params().iter().count()));
    let _ = m.status_code();
    for v in m.vias() {
        let _ = (v.branch(), v.received(), v.rport(), v.host.to_uri_string());
    }
    let _ = m.from().map(|a| (a.tag(), a.display_text()));
    let _ = m.to().map(|a| (a.tag(), a.display_text()));
    let _ = (m.call_id(), m.cseq(), m.content_length(), m.max_forwards(), m.expires_s());
    let _ = m.content_type().map(|c| c.map(|c| c.boundary()));
    for c in m.contacts() {
        let _ = c.expires_s();
        let _ = c.addr().map(|a| a.param("+sip.instance"));
    }
    let _ = m.routes().count() + m.record_routes().count() + m.p_asserted_identities().count();
    let _ = m.call_infos().filter_map(Result::ok).map(|a| a.param("purpose")).count();
    let _ = m.history_infos().count() + m.geolocations().count() + m.resource_priorities().count();
    let _ = (m.priority(), m.geolocation_routing());
    let _ = m.require().count() + m.supported().count() + m.proxy_require().count();
    let _ = m.values(HeaderName::Accept).count();
    let _ = validate_request(m);
    let _ = unsupported_requires(m, &["100rel"]);
    let _ = m.to_bytes();
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = parse(data) {
        touch(&m);
    } else if let Err(e) = parse(data) {
        let _ = (e.status_code(), e.reason_phrase(), e.warning_value("fuzz"));
    }
    // Same bytes as a stream, split in two reads.
    let mut d = StreamDecoder::default();
    let cut = data.len() / 2;
    for chunk in [&data[..cut], &data[cut..]] {
        if d.push(chunk).is_err() {
            return;
        }
        loop {
            match d.next_item() {
                Ok(Some(StreamItem::Message(m))) => touch(&m),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
});
