//! Fuzzes the digest `Authorization` parser (RFC 7616 §3.4) and verification: arbitrary
//! header values never panic; whatever parses is verified without panicking.
#![no_main]

use std::collections::HashMap;

use answerpoint::sip::digest::{Authorization, DigestServer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(auth) = Authorization::parse(text) {
        let server = DigestServer::new("answerpoint", b"fuzz-secret", 300);
        let users = HashMap::from([("handler1".to_owned(), "change-me".to_owned())]);
        let _ = server.verify(1_000, "REGISTER", &auth.uri.clone(), &auth, &users);
    }
});
