//! Classification and location of a 2 KB 999 INVITE carrying a Circle PIDF-LO
//! (docs/DESIGN.md §4, §5): `classify` + `locate` on an already-parsed message, against the
//! alternatives in the same run — the SIP parse that precedes it, `Pidf::parse` (hand-
//! written tokenizer) against `Pidf::parse_quick_xml` (the same walk over the previous
//! quick-xml built tree), and a bare roxmltree parse of the same PIDF-LO with no
//! extraction (the DOM build the first, roxmltree-based `Pidf::parse` paid before walking).
//!
//! Run: `cargo bench --bench locate -- --measurement-time 3`

use criterion::{black_box, criterion_group, Criterion};

use answerpoint::call::{classify, ClassifyConfig};
use answerpoint::location::locate::locate;
use answerpoint::sip::parse;

const PIDF: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:con="urn:ietf:params:xml:ns:geopriv:conf" entity="sip:+447700900123@ims.example.net">
<dm:device id="handset">
<gp:geopriv>
<gp:location-info>
<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">
<gml:pos>51.50135 -0.14189</gml:pos>
<gs:radius uom="urn:ogc:def:uom:EPSG::9001">35</gs:radius>
</gs:Circle>
<con:confidence pdf="normal">95</con:confidence>
</gp:location-info>
<gp:usage-rules/>
<gp:method>GPS</gp:method>
</gp:geopriv>
<dm:timestamp>2026-11-29T13:00:00Z</dm:timestamp>
</dm:device>
</presence>"#;

fn invite() -> Vec<u8> {
    let body = format!(
        "--boundary1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=- 2890844526 2890844526 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=sendrecv\r\n\r\n--boundary1\r\nContent-Type: application/pidf+xml\r\nContent-ID: <loc1@ims.example.net>\r\n\r\n{PIDF}\r\n--boundary1--\r\n"
    );
    format!(
        "INVITE sip:999@psap.example.org;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 69\r\n\
From: <sip:+447700900123@ims.example.net;user=phone>;tag=1928301774\r\n\
To: <sip:999@psap.example.org;user=phone>\r\n\
Call-ID: a84b4c76e66710@198.51.100.7\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:+447700900123@198.51.100.7:5060>\r\n\
P-Asserted-Identity: <tel:+447700900123>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE\r\n\
Supported: 100rel, timer, geolocation\r\n\
User-Agent: IMS-Emergency-Gateway/4.2 (BT stage 1 test bed)\r\n\
P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=2341502A1B3C4D5E6\r\n\
P-Charging-Vector: icid-value=ab12cd34ef56-0001;icid-generated-at=198.51.100.7\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Geolocation: <cid:loc1@ims.example.net>\r\n\
Geolocation-Routing: no\r\n\
Resource-Priority: esnet.1\r\n\
Content-Type: multipart/mixed;boundary=boundary1\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let wire = invite();
    eprintln!("INVITE size: {} bytes", wire.len());
    let msg = parse(&wire).expect("bench INVITE parses");
    let cfg = ClassifyConfig::default();
    {
        let cl = classify(&msg, &cfg);
        let loc = locate(&msg);
        assert!(cl.is_emergency() && loc.errors.is_empty() && loc.best.is_some());
    }
    let mut g = c.benchmark_group("classify_locate_999_circle");
    g.bench_function("classify+locate (parsed INVITE)", |b| {
        b.iter(|| {
            let cl = classify(black_box(&msg), &cfg);
            let loc = locate(black_box(&msg));
            black_box((cl, loc))
        })
    });
    g.bench_function("classify only", |b| {
        b.iter(|| black_box(classify(black_box(&msg), &cfg)))
    });
    g.bench_function("PIDF-LO parse only (Pidf::parse)", |b| {
        b.iter(|| black_box(answerpoint::location::pidf::Pidf::parse(black_box(PIDF))))
    });
    let lim = answerpoint::location::xml::XmlLimits::default();
    g.bench_function("alt: PIDF-LO parse, previous quick-xml tree", |b| {
        b.iter(|| {
            black_box(answerpoint::location::pidf::Pidf::parse_quick_xml(
                black_box(PIDF),
                &lim,
            ))
        })
    });
    g.bench_function("alt: roxmltree parse of the PIDF-LO only", |b| {
        b.iter(|| {
            black_box(roxmltree::Document::parse(black_box(PIDF)).map(|d| d.descendants().count()))
        })
    });
    g.bench_function("alt: SIP parse of the INVITE", |b| {
        b.iter(|| black_box(parse(black_box(&wire))))
    });
    g.finish();
}

criterion_group!(benches, bench);

/// `LOCATE_ITERS=N cargo bench --bench locate` runs classify+locate (or, with
/// `LOCATE_WHAT=roxmltree|pidf|pidf_quick_xml|classify|sip`, one component) N times and exits,
/// without criterion: for instruction counts under `valgrind --tool=cachegrind` (load-
/// independent on a shared machine) and for `perf record`.
fn main() {
    if let Some(n) = std::env::var("LOCATE_ITERS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        let wire = invite();
        let msg = parse(&wire).expect("bench INVITE parses");
        let cfg = ClassifyConfig::default();
        let what = std::env::var("LOCATE_WHAT").unwrap_or_default();
        for _ in 0..n {
            match what.as_str() {
                "roxmltree" => {
                    let _ = black_box(
                        roxmltree::Document::parse(black_box(PIDF))
                            .map(|d| d.descendants().count()),
                    );
                }
                "pidf" => {
                    let _ = black_box(answerpoint::location::pidf::Pidf::parse(black_box(PIDF)));
                }
                "pidf_quick_xml" => {
                    let lim = answerpoint::location::xml::XmlLimits::default();
                    let _ = black_box(answerpoint::location::pidf::Pidf::parse_quick_xml(
                        black_box(PIDF),
                        &lim,
                    ));
                }
                "classify" => {
                    black_box(classify(black_box(&msg), &cfg));
                }
                "sip" => {
                    let _ = black_box(parse(black_box(&wire)));
                }
                _ => {
                    black_box((classify(black_box(&msg), &cfg), locate(black_box(&msg))));
                }
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
