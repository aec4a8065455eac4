//! Every AML file in fixtures/location/aml parses to its latitude, longitude, radius and
//! time (ETSI TS 103 625 forms: SMS text v1/v2, 7-bit data SMS, HTTPS form with HMAC).

use answerpoint::location::aml::{
    parse_https_form, parse_sms_data_hex, parse_sms_text, AmlError, AmlFix, AmlTransport,
    PositioningMethod,
};

fn load(name: &str) -> String {
    let p = format!(
        "{}/fixtures/location/aml/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn pos(f: &AmlFix) -> (f64, f64, Option<f64>) {
    let p = f.position.expect("position");
    (p.lat, p.lon, p.radius_m)
}

#[test]
fn aml_lib_v1_text() {
    let f = parse_sms_text(&load("aml-lib-v1-text-sms.txt")).unwrap();
    assert_eq!(pos(&f), (48.82639, -2.36619, Some(52.0)));
    assert_eq!(f.time_of_positioning_ms, Some(1_573_558_168_000)); // 2019-11-12 11:29:28 UTC
    assert_eq!(f.confidence_pct, Some(68.0));
    assert_eq!(f.method, PositioningMethod::Gnss);
    assert_eq!(f.imsi.as_deref(), Some("208201771948415"));
    assert_eq!(f.imei.as_deref(), Some("353472104343540"));
    assert_eq!(
        (f.mcc.as_deref(), f.mnc.as_deref()),
        (Some("208"), Some("20"))
    );
    assert!(!f.length_mismatch, "ml=126 and the text is 126 bytes");
    assert_eq!(f.version, 1);
}

#[test]
fn aml_lib_v2_els_beta() {
    let f = parse_sms_text(&load("aml-lib-v2-els-beta-text-sms.txt")).unwrap();
    assert_eq!(pos(&f), (-37.42175, -122.08461, Some(2000.1)));
    assert_eq!(f.version, 2);
    assert_eq!(f.emergency_number.as_deref(), Some("+15555555555"));
    assert_eq!(f.call_start_ms, Some(1_593_187_189_000));
    // lt is the fix time relative to et, in seconds.
    assert_eq!(
        f.time_of_positioning_ms,
        Some((1_593_187_189 - 9_999) * 1000)
    );
    assert_eq!(f.altitude_m, Some(-100.1));
    assert_eq!(f.method, PositioningMethod::Gnss);
    assert_eq!(
        (f.mcc.as_deref(), f.mnc.as_deref()),
        (Some("310"), Some("260"))
    );
}

#[test]
fn data_sms_7bit_packed_matches_decoded_text() {
    let f = parse_sms_data_hex(&load("aml-lib-data-sms-7bit-packed.hex")).unwrap();
    assert_eq!(f.transport, AmlTransport::SmsData);
    assert_eq!(pos(&f), (37.42175, -122.08461, Some(20.0)));
    assert_eq!(f.time_of_positioning_ms, Some(1_434_157_788_000)); // 2015-06-13 01:09:48 UTC
    assert_eq!(f.imsi.as_deref(), Some("987654231"));
    assert_eq!(f.imei.as_deref(), Some("358239059042542"));
    assert!(!f.length_mismatch);
    let text = parse_sms_text(&load("aml-lib-data-sms-decoded.txt")).unwrap();
    assert_eq!(f.position, text.position);
    assert_eq!(f.time_of_positioning_ms, text.time_of_positioning_ms);
    assert_eq!(f.imei, text.imei);
}

#[test]
fn https_form_full() {
    let f = parse_https_form(load("aml-lib-https-v1-full.form").as_bytes(), None).unwrap();
    assert_eq!(pos(&f), (55.85732, -4.26325, Some(10.4)));
    assert_eq!(f.time_of_positioning_ms, Some(1_476_189_444_435));
    assert_eq!(f.confidence_pct, Some(83.0));
    assert_eq!(f.method, PositioningMethod::Gnss);
    assert_eq!(f.device_number.as_deref(), Some("+447477593102"));
    assert_eq!(f.floor.as_deref(), Some("5"));
    assert_eq!(f.altitude_m, Some(0.0));
    assert_eq!(f.imei.as_deref(), Some("354773072099116"));
    assert_eq!(f.imsi.as_deref(), Some("234159176307582"));
    assert_eq!(
        (f.mcc.as_deref(), f.mnc.as_deref()),
        (Some("234"), Some("15"))
    );
    assert!(!f.authenticated);
}

#[test]
fn https_form_hmac() {
    let body = load("aml-lib-https-v1-hmac.form");
    let f = parse_https_form(body.as_bytes(), Some(b"AML")).unwrap();
    assert!(f.authenticated);
    assert_eq!(pos(&f), (0.85732, -4.26325, Some(10.4)));
    assert_eq!(f.time_of_positioning_ms, Some(1_604_912_121_000));
    assert_eq!(f.device_number.as_deref(), Some("+33611223344"));
    assert_eq!(
        parse_https_form(body.as_bytes(), Some(b"wrong")),
        Err(AmlError::HmacMismatch)
    );
    let tampered = body.replace("0.85732", "0.85733");
    assert_eq!(
        parse_https_form(tampered.as_bytes(), Some(b"AML")),
        Err(AmlError::HmacMismatch)
    );
    // Without a configured key the form is still read, unauthenticated.
    assert!(
        !parse_https_form(body.as_bytes(), None)
            .unwrap()
            .authenticated
    );
}

#[test]
fn brief_example_tolerates_wrong_ml() {
    let f = parse_sms_text(&load("brief-example-v1-wifi.txt")).unwrap();
    assert_eq!(pos(&f), (55.74317, -4.26881, Some(50.0)));
    assert_eq!(f.time_of_positioning_ms, Some(1_374_070_775_000)); // 2013-07-17 14:19:35 UTC
    assert_eq!(f.confidence_pct, Some(90.0));
    assert_eq!(f.method, PositioningMethod::Wifi);
    assert!(f.length_mismatch, "ml=128, real length 127");
}

#[test]
fn google_els_examples() {
    let f = parse_sms_text(&load("google-els-v1-location-computed.txt")).unwrap();
    assert_eq!(pos(&f), (51.53321, -0.12601, Some(14.0)));
    assert_eq!(f.time_of_positioning_ms, Some(1_643_649_468_000)); // 2022-01-31 17:17:48 UTC
    assert_eq!(f.method, PositioningMethod::Wifi);
    assert!(f.length_mismatch, "ml=126, real length 127");

    let f = parse_sms_text(&load("google-els-v1-no-location.txt")).unwrap();
    assert_eq!(f.method, PositioningMethod::None);
    assert_eq!(f.position, None);
    assert_eq!(f.time_of_positioning_ms, Some(1_643_650_654_000)); // 2022-01-31 17:37:34 UTC
    assert_eq!(f.confidence_pct, Some(0.0));
    assert!(!f.length_mismatch);
}

#[test]
fn every_aml_fixture_parses() {
    let dir = format!("{}/fixtures/location/aml", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let r = if name.ends_with(".hex") {
            parse_sms_data_hex(&text)
        } else if name.ends_with(".form") {
            parse_https_form(text.as_bytes(), None)
        } else {
            parse_sms_text(&text)
        };
        assert!(r.is_ok(), "{name}: {r:?}");
        n += 1;
    }
    assert_eq!(n, 9);
}
