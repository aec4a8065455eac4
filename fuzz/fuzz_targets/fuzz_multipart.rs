//! Fuzz the multipart splitter (RFC 2046 §5.1) and everything `locate_input` does with
//! the parts: first line = Content-Type value, second line = a Geolocation value, rest =
//! body. Must never panic.
#![no_main]
use answerpoint::location::locate::{locate_input, InviteLocationInput};
use answerpoint::location::multipart::{Multipart, MultipartLimits};
use answerpoint::location::passon::select_for_handler;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let ct = std::str::from_utf8(lines.next().unwrap_or(b"")).unwrap_or("multipart/mixed;boundary=b");
    let geo = std::str::from_utf8(lines.next().unwrap_or(b"")).unwrap_or("<cid:x>");
    let body = lines.next().unwrap_or(b"");
    if let Ok(mp) = Multipart::parse(ct, body, &MultipartLimits::default()) {
        for p in &mp.parts {
            let _ = (p.content_id(), p.media_type(), p.text());
            if let Some(cid) = p.content_id() {
                let _ = mp.part_by_cid(&format!("cid:{cid}"));
            }
        }
    }
    let geolocation = [geo];
    let input = InviteLocationInput {
        geolocation: geolocation.to_vec(),
        call_info: vec![geo],
        p_asserted_identity: vec![geo],
        content_type: Some(ct),
        body,
        ..Default::default()
    };
    let loc = locate_input(&input);
    let _ = loc.summary(None, std::time::SystemTime::UNIX_EPOCH);
    let pass = select_for_handler(&input);
    let _ = pass.body_with_sdp(b"v=0\r\n", "fuzzboundary0123456789");
});
