//! The pre-parse look at INVITEs (`sip::peek`, `Engine::is_emergency_datagram`) that lets
//! the runtime take emergency INVITEs first: it must agree with the engine's full
//! classification (`call::classify` on the parsed message) wherever it answers, on real
//! traffic, torture messages and generated INVITEs — a disagreement would put a 999 call
//! behind other traffic (or a 101 call ahead of it).

use std::time::Instant;

use answerpoint::call::{classify, ClassifyConfig};
use answerpoint::config::Config;
use answerpoint::engine::Engine;
use answerpoint::sip::peek::peek_invite;
use answerpoint::sip::{parse, Method};
use proptest::prelude::*;

fn corpus(sub: &str) -> Vec<(String, Vec<u8>)> {
    let d = format!("{}/fixtures/sip/{sub}", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

fn engine() -> Engine {
    Engine::new(&Config::default(), Instant::now())
}

/// Full parse + classification, as the engine does it for a received INVITE.
fn full_verdict(bytes: &[u8]) -> Option<bool> {
    let m = parse(bytes).ok()?;
    (m.method() == Some(Method::Invite))
        .then(|| classify(&m, &ClassifyConfig::default()).is_emergency())
}

#[test]
fn peek_agrees_with_the_full_classification_on_every_corpus_invite() {
    let e = engine();
    let (mut invites, mut emergency, mut unpeeked) = (0, 0, Vec::new());
    for sub in [
        "rfc4475",
        "rfc5118",
        "real-captures",
        "carrier-traces",
        "emergency-invites",
        "bench",
    ] {
        for (name, bytes) in corpus(sub) {
            let peeked = e.is_emergency_datagram(&bytes);
            match full_verdict(&bytes) {
                Some(full) => {
                    invites += 1;
                    emergency += usize::from(full);
                    if peek_invite(&bytes).is_none() {
                        unpeeked.push(name.clone());
                    }
                    assert_eq!(peeked, full, "{name}");
                }
                // Not an INVITE, or refused by the parser: never put first.
                None => {
                    let is_invite = parse(&bytes).is_ok_and(|m| m.method() == Some(Method::Invite));
                    assert!(!peeked || !is_invite, "{name}");
                }
            }
        }
    }
    // 30 parseable INVITEs, 4 of them emergency (carrier traces and the additional-data
    // INVITE); the peek reads every one's request line.
    assert_eq!((invites, emergency), (30, 4));
    assert_eq!(unpeeked, Vec::<String>::new());
}

fn case(s: &str, upper: bool) -> String {
    if upper {
        s.to_ascii_uppercase()
    } else {
        s.to_ascii_lowercase()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Generated INVITEs: every combination of target, `Resource-Priority` and `Priority`
    /// (names in any case, any order, among filler headers) gets the same verdict from the
    /// peek as from the full classification.
    #[test]
    fn peek_agrees_with_the_full_classification_on_generated_invites(
        uri in prop::sample::select(vec![
            "urn:service:sos", "urn:service:sos.police", "URN:Service:SOS", "urn:service:test.sos",
            "sip:999@carrier.example", "sip:112@10.0.0.1;user=phone", "tel:999", "tel:112",
            "sip:101@carrier.example", "tel:+441632960000", "sip:alice@example.com",
            "sip:9%399@x",
        ]),
        rp in prop::collection::vec(prop::sample::select(vec![
            "esnet.0", "esnet.4", "ESNET.1", "wps.2", "dsn.flash, esnet.3", "esnet.5", "q735.0",
        ]), 0..3),
        prio in prop::option::of(prop::sample::select(vec!["emergency", "Emergency", "normal", "urgent"])),
        upper in any::<bool>(),
        fillers in 0usize..6,
        prio_first in any::<bool>(),
    ) {
        let mut head = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:+441632960001@10.0.0.1>;tag=f1\r\nTo: <{uri}>\r\n\
             Call-ID: peek@10.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:c@10.0.0.1>\r\n"
        );
        let mut prio_lines = Vec::new();
        for v in &rp {
            prio_lines.push(format!("{}: {v}\r\n", case("Resource-Priority", upper)));
        }
        if let Some(p) = prio {
            prio_lines.push(format!("{}:{p} \r\n", case("Priority", !upper)));
        }
        let fill: String = (0..fillers).map(|i| format!("X-Filler-{i}: y\r\n")).collect();
        if prio_first {
            head.extend(prio_lines);
            head.push_str(&fill);
        } else {
            head.push_str(&fill);
            head.extend(prio_lines);
        }
        head.push_str("Content-Length: 0\r\n\r\n");
        let bytes = head.into_bytes();
        let full = full_verdict(&bytes);
        prop_assume!(full.is_some());
        prop_assert_eq!(Some(engine().is_emergency_datagram(&bytes)), full);
    }
}
