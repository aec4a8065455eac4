//! Classification and location of whole INVITEs: the SipLib NG9-1-1 INVITE with every
//! RFC 7852 block by value, the IMS carrier traces carrying Geolocation, and 999 INVITEs
//! whose location is broken (truncated PIDF-LO, dangling cid) — which must still be
//! emergency calls with the location error recorded (docs/DESIGN.md §5).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use answerpoint::call::{classify, Action, CallClass, ClassifyConfig, Reason};
use answerpoint::location::additional_data::AdditionalData;
use answerpoint::location::aml::parse_sms_text;
use answerpoint::location::header::GeolocationKind;
use answerpoint::location::locate::{locate, locate_input, InviteLocationInput, LocationError};
use answerpoint::location::multipart::{Multipart, MultipartLimits};
use answerpoint::location::passon::pass_on;
use answerpoint::location::pidf::{PidfError, Pos, Shape};
use answerpoint::location::summary::Source;
use answerpoint::sip::{parse, Message};

fn fixture(rel: &str) -> Vec<u8> {
    let p = format!("{}/fixtures/location/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// LF → CRLF (the SipLib file was stored with LF line ends), then fix Content-Length.
fn crlf_message(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(raw.to_vec())
        .unwrap()
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                l.to_owned()
            }
        })
        .collect();
    format!("{}\r\n\r\n{}", head.join("\r\n"), body).into_bytes()
}

fn siplib_invite() -> Message {
    parse(&crlf_message(&fixture(
        "emergency-invites/siplib-InviteAllAdditionalDataByValue1.sip",
    )))
    .expect("SipLib INVITE parses")
}

#[test]
fn siplib_invite_all_additional_data_by_value() {
    let msg = siplib_invite();
    let c = classify(&msg, &ClassifyConfig::default());
    assert_eq!(c.action, Action::Queue(CallClass::Emergency));
    assert_eq!(
        c.reason,
        Reason::SosServiceUrn {
            urn: "urn:service:sos".into()
        }
    );

    let loc = locate(&msg);
    assert!(loc.errors.is_empty(), "{:?}", loc.errors);
    // The device's civic address and the person's Circle, both by value (cid).
    assert_eq!(loc.locations.len(), 2);
    assert!(loc.locations.iter().all(|l| l.referenced));
    let dev = &loc.locations[0];
    assert_eq!(dev.cid.as_deref(), Some("8185553333@10.1.11.3"));
    let civic = dev.location.civic.as_ref().unwrap();
    assert_eq!(civic.get("country"), Some("US"));
    assert_eq!(civic.get("A1"), Some("CA"));
    assert_eq!(civic.get("A3"), Some("Simi Valley"));
    assert_eq!(civic.get("RD"), Some("Stonebrook"));
    assert_eq!(civic.get("STS"), Some("Street"));
    assert_eq!(civic.get("HNO"), Some("311"));
    assert_eq!(civic.get("PC"), Some("93065"));
    assert_eq!(dev.location.method.as_deref(), Some("802.11"));
    assert_eq!(dev.location.timestamp_ms, Some(1_436_475_449_000));
    // Best: the geodetic Circle (a radius beats civic-only).
    assert_eq!(loc.best, Some(1));
    assert_eq!(
        loc.best_location().unwrap().location.shape,
        Some(Shape::Circle {
            center: Pos {
                lat: 34.247493,
                lon: -118.791885,
                alt_m: None
            },
            radius_m: 50.0
        })
    );

    // The 7 EmergencyCallData Call-Info values each name a part that parses.
    assert_eq!(loc.additional_data.len(), 7);
    assert!(
        loc.additional_data.iter().all(|a| a.data.is_some()),
        "{:?}",
        loc.additional_data
    );
    let by = |purpose: &str| {
        loc.additional_data
            .iter()
            .find(|a| a.purpose == purpose)
            .and_then(|a| a.data.clone())
            .unwrap_or_else(|| panic!("{purpose}"))
    };
    let AdditionalData::ProviderInfo(p) = by("EmergencyCallData.ProviderInfo") else {
        panic!()
    };
    assert_eq!(
        p.data_provider_string.as_deref(),
        Some("Smith Telecom Inc.")
    );
    let AdditionalData::ServiceInfo(s) = by("EmergencyCallData.ServiceInfo") else {
        panic!()
    };
    assert_eq!(s.service_types, vec!["MLTS-hosted".to_string()]);
    assert_eq!(s.service_environment.as_deref(), Some("Business"));
    assert_eq!(s.service_mobility.as_deref(), Some("Fixed"));
    let AdditionalData::DeviceInfo(d) = by("EmergencyCallData.DeviceInfo") else {
        panic!()
    };
    assert_eq!(d.device_model_nr.as_deref(), Some("Lumia 800"));
    let AdditionalData::SubscriberInfo(s) = by("EmergencyCallData.Subscriber") else {
        panic!()
    };
    assert_eq!(s.subscriber[0].full_name.as_deref(), Some("Bill Jones"));
    let AdditionalData::Comment(cm) = by("EmergencyCallData.Comment") else {
        panic!()
    };
    assert_eq!(cm.comments[0].1, "This is an example of a comment.");
    assert!(matches!(
        by("EmergencyCallData.NENA-CallerInfo"),
        AdditionalData::Other { .. }
    ));
    assert!(matches!(
        by("EmergencyCallData.NENA-LocationInfo"),
        AdditionalData::Other { .. }
    ));

    // Non-RFC 7852 Call-Info values are kept.
    let purposes: Vec<_> = loc
        .call_info
        .iter()
        .filter_map(|c| c.purpose.as_deref())
        .collect();
    assert_eq!(purposes, vec!["nena-IncidentId", "nena-CallId"]);
    assert_eq!(
        loc.callback_number, None,
        "no P-Asserted-Identity in this INVITE"
    );

    // JSON summary for the API.
    let now = UNIX_EPOCH + Duration::from_secs(1_436_475_449 + 10);
    let s = loc.summary(None, now).unwrap();
    let j = serde_json::to_value(&s).unwrap();
    assert_eq!(j["source"], "pidf-lo-by-value");
    assert_eq!(j["lat"], 34.247493);
    assert_eq!(j["lon"], -118.791885);
    assert_eq!(j["radius_m"], 50.0);
    assert_eq!(j["shape"], "Circle");
}

#[test]
fn siplib_invite_pass_on_to_handler() {
    let msg = siplib_invite();
    let p = pass_on(&msg);
    let names: Vec<_> = p.headers.iter().map(|(n, _)| *n).collect();
    assert_eq!(names.iter().filter(|n| **n == "Geolocation").count(), 1);
    assert_eq!(names.iter().filter(|n| **n == "Call-Info").count(), 9);
    // PIDF-LO + 7 additional-data parts; the caller's SDP is not carried.
    assert_eq!(p.parts.len(), 8);
    assert_eq!(p.parts[0].content_type, "application/pidf+xml");
    assert_eq!(p.parts[0].content_id, Some("<8185553333@10.1.11.3>"));
    assert!(p.parts.iter().all(|x| x.content_type != "application/sdp"));

    // The handler INVITE's body re-parses and locates identically.
    let sdp = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let (ct, body) = p.body_with_sdp(sdp, "ap-7f3a9c2e1b5d4a60");
    assert_eq!(ct, "multipart/mixed;boundary=ap-7f3a9c2e1b5d4a60");
    let mp = Multipart::parse(&ct, &body, &MultipartLimits::default()).unwrap();
    assert_eq!(mp.parts.len(), 9);
    assert_eq!(mp.parts[0].body, sdp.as_slice());
    let mut head = String::from("INVITE sip:handler1@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx1\r\nFrom: <sip:engine@192.0.2.1>;tag=a\r\nTo: <sip:handler1@192.0.2.9>\r\nCall-ID: h1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:engine@192.0.2.1>\r\n");
    for (n, v) in &p.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    let mut wire = head.into_bytes();
    wire.extend_from_slice(&body);
    let handler_invite = parse(&wire).unwrap();
    let again = locate(&handler_invite);
    let orig = locate(&msg);
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert_eq!(again.locations, orig.locations);
    assert_eq!(again.additional_data, orig.additional_data);
}

const IMS_CIRCLE: Shape = Shape::Circle {
    center: Pos {
        lat: 32.924094,
        lon: -97.223639,
        alt_m: None,
    },
    radius_m: 30.0,
};

#[test]
fn carrier_traces_with_geolocation() {
    for f in [
        "carrier-traces/11_INVITE-urn-service-sos-phone-context-ims.sip",
        "carrier-traces/12_INVITE-urn-service-sos-phone-context-ims.sip",
    ] {
        let msg = parse(&fixture(f)).unwrap_or_else(|e| panic!("{f}: {e:?}"));
        let c = classify(&msg, &ClassifyConfig::default());
        assert!(c.is_emergency(), "{f}");
        let loc = locate(&msg);
        // The boundary parameter does not match the body, and the Geolocation cid names no
        // part (+351… vs the part's sip:+40…): both recorded; the unreferenced PIDF-LO
        // part is still used.
        assert_eq!(
            loc.errors,
            vec![
                LocationError::BoundaryMismatch,
                LocationError::CidNotFound {
                    uri: "cid:+351964901332@ims.mnc006.mcc268.3gppnetwork.org".into()
                }
            ],
            "{f}"
        );
        assert_eq!(loc.locations.len(), 1);
        let best = loc.best_location().unwrap();
        assert!(!best.referenced);
        assert_eq!(best.location.shape, Some(IMS_CIRCLE));
        assert_eq!(best.location.confidence_pct, Some(95.0));
        assert_eq!(
            best.location.method.as_deref(),
            Some("Device-Assisted_EOTD")
        );
        assert_eq!(
            best.location.civic.as_ref().unwrap().get("country"),
            Some("RO")
        );
        assert_eq!(
            best.entity.as_deref(),
            Some("sip:+40744668733@ims.mnc010.mcc226.3gppnetwork.org")
        );
        assert_eq!(loc.callback_number.as_deref(), Some("+9073990000002"));
        let s = loc.summary(None, SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            (s.lat, s.lon, s.radius_m, s.confidence_pct),
            (Some(32.924094), Some(-97.223639), Some(30.0), Some(95.0))
        );
        assert_eq!(s.source, Source::PidfLoByValue);
    }
}

#[test]
fn carrier_trace_07_is_refused_by_the_sip_parser_and_its_body_still_locates() {
    // 07 is a log export with `\"` inside header values: the SIP parser refuses it (400),
    // so it never reaches locate() on the wire. Its location data, taken as text, gives
    // recorded errors and no panic.
    let raw = fixture("carrier-traces/07_INVITE-urn-service-sos-phone-context-ims.sip");
    assert!(parse(&raw).is_err());
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let header = |name: &str| {
        head.split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect::<Vec<_>>()
    };
    let input = InviteLocationInput {
        geolocation: header("Geolocation"),
        p_asserted_identity: header("P-Asserted-Identity"),
        content_type: header("Content-Type").first().copied(),
        body: body.as_bytes(),
        ..Default::default()
    };
    let loc = locate_input(&input);
    assert!(
        loc.errors.contains(&LocationError::BoundaryMismatch),
        "{:?}",
        loc.errors
    );
    assert!(
        loc.errors.iter().any(|e| matches!(
            e,
            LocationError::Pidf {
                error: PidfError::Xml(_),
                ..
            }
        )),
        "{:?}",
        loc.errors
    );
    assert!(loc.locations.is_empty());
    assert_eq!(loc.callback_number.as_deref(), Some("+9073990000002"));
}

const CIRCLE_PIDF: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:con="urn:ietf:params:xml:ns:geopriv:conf" entity="sip:+447700900123@ims.example.net">
<dm:device id="handset"><gp:geopriv><gp:location-info>
<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>51.50135 -0.14189</gml:pos><gs:radius uom="urn:ogc:def:uom:EPSG::9001">35</gs:radius></gs:Circle>
<con:confidence pdf="normal">95</con:confidence>
</gp:location-info><gp:usage-rules/><gp:method>GPS</gp:method></gp:geopriv><dm:timestamp>2026-11-29T13:00:00Z</dm:timestamp></dm:device></presence>"#;

fn invite_999(geolocation: &str, pidf: &str) -> Vec<u8> {
    let body = format!(
        "--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8 0\r\n\r\n--b1\r\nContent-Type: application/pidf+xml\r\nContent-ID: <loc1@ims.example.net>\r\n\r\n{pidf}\r\n--b1--\r\n"
    );
    format!(
        "INVITE sip:999@psap.example.org;user=phone SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\nFrom: <sip:+447700900123@ims.example.net>;tag=1928301774\r\nTo: <sip:999@psap.example.org;user=phone>\r\nCall-ID: a84b4c76e66710@198.51.100.7\r\nCSeq: 314159 INVITE\r\nContact: <sip:+447700900123@198.51.100.7>\r\nP-Asserted-Identity: \"Caller\" <sip:+447700900123@ims.example.net;user=phone>, <tel:+447700900123>\r\nHistory-Info: <sip:999@bt.example.com>;index=1\r\nHistory-Info: <sip:999@psap.example.org;user=phone>;index=1.1\r\nGeolocation: {geolocation}\r\nGeolocation-Routing: no\r\nContent-Type: multipart/mixed;boundary=b1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn good_999_with_circle() {
    let msg = parse(&invite_999("<cid:loc1@ims.example.net>", CIRCLE_PIDF)).unwrap();
    let c = classify(&msg, &ClassifyConfig::default());
    assert_eq!(
        c.reason,
        Reason::EmergencyNumber {
            number: "999".into()
        }
    );
    let loc = locate(&msg);
    assert!(loc.errors.is_empty(), "{:?}", loc.errors);
    assert_eq!(loc.routing_allowed, Some(false));
    assert_eq!(loc.callback_number.as_deref(), Some("+447700900123"));
    assert_eq!(
        loc.history_info,
        vec![
            "<sip:999@bt.example.com>;index=1".to_string(),
            "<sip:999@psap.example.org;user=phone>;index=1.1".to_string()
        ]
    );
    let now = UNIX_EPOCH + Duration::from_secs(1_795_957_200 + 90); // 2026-11-29T13:01:30Z
    let s = loc.summary(None, now).unwrap();
    assert_eq!(
        (s.lat, s.lon, s.radius_m),
        (Some(51.50135), Some(-0.14189), Some(35.0))
    );
    assert_eq!(s.age_s, Some(90.0));
    // A later AML fix with a smaller radius wins; a worse one does not.
    let aml =
        parse_sms_text("A\"ML=1;lt=51.50140;lg=-0.14190;rd=8;top=20261129130020;lc=68;pm=G;ml=1")
            .unwrap();
    let s = loc.summary(Some(&aml), now).unwrap();
    assert_eq!(
        (s.source, s.radius_m, s.age_s),
        (Source::Aml, Some(8.0), Some(70.0))
    );
    let worse =
        parse_sms_text("A\"ML=1;lt=51.5;lg=-0.14;rd=500;top=20261129130020;lc=68;pm=C;ml=1")
            .unwrap();
    assert_eq!(
        loc.summary(Some(&worse), now).unwrap().source,
        Source::PidfLoByValue
    );
}

#[test]
fn truncated_pidf_999_is_still_emergency_with_error_recorded() {
    let truncated = &CIRCLE_PIDF[..CIRCLE_PIDF.len() / 2];
    let msg = parse(&invite_999("<cid:loc1@ims.example.net>", truncated)).unwrap();
    let c = classify(&msg, &ClassifyConfig::default());
    assert_eq!(c.action, Action::Queue(CallClass::Emergency));
    let loc = locate(&msg);
    assert!(loc.locations.is_empty());
    assert!(loc.best.is_none());
    assert!(
        matches!(
            loc.errors.as_slice(),
            [LocationError::Pidf { cid: Some(c), error: PidfError::Xml(_) }] if c == "loc1@ims.example.net"
        ),
        "{:?}",
        loc.errors
    );
    assert_eq!(loc.callback_number.as_deref(), Some("+447700900123"));
    assert!(loc.summary(None, SystemTime::UNIX_EPOCH).is_none());
    // The error is in the JSON the API serves.
    let j = serde_json::to_value(&loc).unwrap();
    let msg = j["errors"][0].as_str().unwrap();
    assert!(
        msg.starts_with("PIDF-LO part <loc1@ims.example.net>: "),
        "{msg}"
    );
    assert!(!msg.contains("Some("), "{msg}");
    assert_eq!(
        LocationError::NotUtf8 { cid: None }.to_string(),
        "part without Content-ID is not UTF-8"
    );
}

#[test]
fn body_cut_mid_part_999_is_still_emergency() {
    let mut wire = invite_999("<cid:loc1@ims.example.net>", CIRCLE_PIDF);
    // The carrier's Content-Length covers only part of the body (truncated datagram).
    let cut = wire.len() - 300;
    wire.truncate(cut);
    let text = String::from_utf8(wire).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let head = head.replace(
        &format!("Content-Length: {}", body.len() + 300),
        &format!("Content-Length: {}", body.len()),
    );
    let msg = parse(format!("{head}\r\n\r\n{body}").as_bytes()).unwrap();
    assert!(classify(&msg, &ClassifyConfig::default()).is_emergency());
    let loc = locate(&msg);
    assert!(
        loc.errors.contains(&LocationError::TruncatedBody),
        "{:?}",
        loc.errors
    );
    assert!(
        loc.errors
            .iter()
            .any(|e| matches!(e, LocationError::Pidf { .. })),
        "{:?}",
        loc.errors
    );
}

#[test]
fn dangling_cid_999_is_still_emergency_with_error_recorded() {
    let msg = parse(&invite_999(
        "<cid:nothing-here@ims.example.net>",
        CIRCLE_PIDF,
    ))
    .unwrap();
    assert!(classify(&msg, &ClassifyConfig::default()).is_emergency());
    let loc = locate(&msg);
    assert_eq!(
        loc.errors,
        vec![LocationError::CidNotFound {
            uri: "cid:nothing-here@ims.example.net".into()
        }]
    );
    // The PIDF-LO part is there, unreferenced: still shown to the handler.
    assert_eq!(
        loc.best_location()
            .unwrap()
            .location
            .shape
            .as_ref()
            .map(Shape::name),
        Some("Circle")
    );
}

#[test]
fn geolocation_by_reference_is_kept_for_dereference() {
    let msg = parse(&invite_999(
        "<https://lis.example.net/held/loc?id=3f9a>, <cid:loc1@ims.example.net>",
        CIRCLE_PIDF,
    ))
    .unwrap();
    let loc = locate(&msg);
    assert!(loc.errors.is_empty(), "{:?}", loc.errors);
    assert_eq!(loc.references.len(), 1);
    assert_eq!(
        loc.references[0].uri,
        "https://lis.example.net/held/loc?id=3f9a"
    );
    assert_eq!(loc.references[0].kind, GeolocationKind::ByReference);
    assert!(loc.best_location().unwrap().referenced);
}

/// A 999 body of `n` parts: SDP, then the PIDF-LO named `loc@x` as part 2 (or as the
/// last part when `pidf_last`), then text/plain filler parts.
fn many_part_body(n: usize, pidf_last: bool) -> String {
    let sdp = "--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n";
    let pidf = format!(
        "--b1\r\nContent-Type: application/pidf+xml\r\nContent-ID: <loc@x>\r\n\r\n{CIRCLE_PIDF}\r\n"
    );
    let filler = |i: usize| format!("--b1\r\nContent-Type: text/plain\r\n\r\nfiller {i}\r\n");
    let mut body = String::from(sdp);
    if !pidf_last {
        body.push_str(&pidf);
    }
    for i in 0..n - 2 {
        body.push_str(&filler(i));
    }
    if pidf_last {
        body.push_str(&pidf);
    }
    body.push_str("--b1--\r\n");
    body
}

fn locate_body(body: &str) -> answerpoint::location::locate::CallLocation {
    locate_input(&InviteLocationInput {
        geolocation: vec!["<cid:loc@x>"],
        content_type: Some("multipart/mixed;boundary=b1"),
        body: body.as_bytes(),
        ..Default::default()
    })
}

#[test]
fn more_than_32_parts_keeps_the_location_in_the_first_32() {
    for n in [33, 40, 1_000] {
        let body = many_part_body(n, false);
        let mp = Multipart::parse(
            "multipart/mixed;boundary=b1",
            body.as_bytes(),
            &MultipartLimits::default(),
        )
        .unwrap();
        assert_eq!(mp.parts.len(), 32, "{n} parts");
        assert!(mp.parts_ignored);
        let loc = locate_body(&body);
        assert_eq!(
            loc.errors,
            vec![LocationError::PartsIgnored { limit: 32 }],
            "{n} parts"
        );
        let best = loc.best_location().expect("location kept");
        assert_eq!(best.cid.as_deref(), Some("loc@x"));
        assert!(best.referenced);
        let j = serde_json::to_value(&loc).unwrap();
        assert_eq!(
            j["errors"],
            serde_json::json!(["body has more than 32 parts; parts after the 32nd ignored"])
        );
    }
    // Exactly 32 parts: nothing ignored, no error.
    let loc = locate_body(&many_part_body(32, false));
    assert!(loc.errors.is_empty(), "{:?}", loc.errors);
    assert!(loc.best_location().is_some());
}

#[test]
fn cid_beyond_the_32nd_part_is_not_claimed_missing() {
    let loc = locate_body(&many_part_body(40, true));
    assert_eq!(
        loc.errors,
        vec![
            LocationError::PartsIgnored { limit: 32 },
            LocationError::CidNotExamined {
                uri: "cid:loc@x".into(),
                limit: 32
            }
        ]
    );
    assert!(loc.locations.is_empty());
    let msgs: Vec<String> = loc.errors.iter().map(ToString::to_string).collect();
    assert!(
        !msgs.iter().any(|m| m.contains("names no body part")),
        "{msgs:?}"
    );
}
