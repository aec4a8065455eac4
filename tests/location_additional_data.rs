//! Every additional-data file in fixtures/location/additional-data parses (RFC 7852 §4
//! blocks, PIDF-LO `<provided-by>` by value and by reference, CAP, xCard, jCard).

use answerpoint::location::additional_data::{parse_additional_data, parse_jcard, AdditionalData};
use answerpoint::location::pidf::Pidf;

fn load(name: &str) -> String {
    let p = format!(
        "{}/fixtures/location/additional-data/ng911lib/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn block(name: &str) -> AdditionalData {
    parse_additional_data(&load(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn provider_info() {
    let AdditionalData::ProviderInfo(p) = block("ProvInfo1.xml") else {
        panic!()
    };
    assert_eq!(p.data_provider_reference, "string0987654321@example.org");
    assert_eq!(
        p.data_provider_string.as_deref(),
        Some("Smith Telecom Inc.")
    );
    assert_eq!(p.provider_id.as_deref(), Some("urn:nena:companyid:ID123"));
    assert_eq!(p.provider_id_series.as_deref(), Some("NENA"));
    assert_eq!(p.type_of_provider.as_deref(), Some("Telecom Provider"));
    assert_eq!(p.contact_uri.as_deref(), Some("tel:+1-201-555-0123"));
    assert_eq!(p.languages, vec!["en".to_string()]);
    let c = p.contact.unwrap();
    assert_eq!(c.full_name.as_deref(), Some("John Smith"));
    assert_eq!(c.tel, vec!["tel:+1 800-123-4567".to_string()]);
    assert_eq!(c.email, vec!["John.Smith@SmithTelecom.com".to_string()]);
    assert_eq!(
        c.addresses,
        vec!["123 First St., New York, NY, 12345, USA".to_string()]
    );
}

#[test]
fn service_device_subscriber_comment() {
    let AdditionalData::ServiceInfo(s) = block("ServiceInfo1.xml") else {
        panic!()
    };
    assert_eq!(s.data_provider_reference, "2468.IBOC.MLTS.1359@example.org");
    assert_eq!(s.service_environment.as_deref(), Some("Unknown"));
    assert_eq!(s.service_types, vec!["wireless".to_string()]);
    assert_eq!(s.service_mobility.as_deref(), Some("Mobile"));

    let AdditionalData::DeviceInfo(d) = block("DeviceInfo1.xml") else {
        panic!()
    };
    assert_eq!(d.device_classification.as_deref(), Some("fixed"));
    assert_eq!(d.device_mfgr.as_deref(), Some("Nokia"));
    assert_eq!(d.device_model_nr.as_deref(), Some("Lumia 800"));
    assert_eq!(
        d.unique_device_ids,
        vec![(Some("IMEI".to_string()), "35788104".to_string())]
    );

    let AdditionalData::SubscriberInfo(s) = block("SubInfo1.xml") else {
        panic!()
    };
    assert_eq!(s.data_provider_reference, "FEABFECD901@example.org");
    assert_eq!(s.privacy_requested, Some(false));
    assert_eq!(s.subscriber.len(), 1);
    assert_eq!(s.subscriber[0].full_name.as_deref(), Some("John Smith"));
    assert_eq!(
        s.subscriber[0].tel,
        vec![
            "tel:+1 630 681 5006".to_string(),
            "tel:+1 630 681 0001".to_string()
        ]
    );
    assert_eq!(
        s.subscriber[0].addresses,
        vec!["500 West St., AURORA, IL, 12345, USA".to_string()]
    );

    let AdditionalData::Comment(c) = block("Comment1.xml") else {
        panic!()
    };
    assert_eq!(c.data_provider_reference, "string0987654321@example.org");
    assert_eq!(
        c.comments,
        vec![(
            Some("en".to_string()),
            "This is an example of a comment.".to_string()
        )]
    );
}

#[test]
fn cap_alerts() {
    let AdditionalData::Cap(a) = block("CapExample1.xml") else {
        panic!()
    };
    assert_eq!(a.identifier.as_deref(), Some("43b080713727"));
    assert_eq!(a.sender.as_deref(), Some("hsas@dhs.gov"));
    assert_eq!(a.sent_ms, Some(1_049_312_341_000)); // 2003-04-02T14:39:01-05:00
    assert_eq!(a.status.as_deref(), Some("Actual"));
    assert_eq!(a.msg_type.as_deref(), Some("Alert"));
    assert_eq!(
        a.events,
        vec!["Homeland Security Advisory System Update".to_string()]
    );
    assert_eq!(
        a.headlines,
        vec!["Homeland Security Sets Code ORANGE".to_string()]
    );
    let AdditionalData::Cap(a) = block("CapExample2.xml") else {
        panic!()
    };
    assert_eq!(a.identifier.as_deref(), Some("KSTO1055887203"));
    assert_eq!(a.events, vec!["SEVERE THUNDERSTORM".to_string()]);
    assert!(matches!(block("CapExample3.xml"), AdditionalData::Cap(_)));
}

#[test]
fn xcard_and_jcard() {
    let AdditionalData::VCards(v) = block("XcardType1.xml") else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].full_name.as_deref(), Some("Simon Perreault"));
    let AdditionalData::VCards(v) = block("Xcards1.xml") else {
        panic!()
    };
    assert!(!v.is_empty());
    assert_eq!(v[0].full_name.as_deref(), Some("Simon Perreault"));

    let j = parse_jcard(&load("Rfc7095Jcard1.json")).unwrap();
    assert_eq!(j[0].full_name.as_deref(), Some("John Doe"));
    let j = parse_jcard(&load("Rfc7095Jcard2.json")).unwrap();
    assert_eq!(j[0].full_name.as_deref(), Some("Simon Perreault"));
    assert!(!j[0].tel.is_empty());
}

#[test]
fn provided_by_value_and_reference() {
    let p = Pidf::parse(&load("PidfLoProvidedByByReference.xml")).unwrap();
    let pb = p.locations[0].provided_by.as_ref().unwrap();
    assert_eq!(pb.references.len(), 5);
    assert_eq!(pb.references[0].purpose, "EmergencyCallData.ServiceInfo");
    assert_eq!(pb.references[0].uri, "https://example.com/ref1");
    assert_eq!(pb.references[4].purpose, "EmergencyCallData.DeviceInfo");
    assert_eq!(pb.references[4].uri, "https://example.com/ref5");
    assert_eq!(p.locations.len(), 2);

    let p = Pidf::parse(&load("PidfLoProvidedByByValue.xml")).unwrap();
    let pb = p.locations[0].provided_by.as_ref().unwrap();
    assert!(pb.errors.is_empty(), "{:?}", pb.errors);
    let kinds: Vec<&str> = pb
        .values
        .iter()
        .map(|v| match v {
            AdditionalData::Comment(_) => "Comment",
            AdditionalData::DeviceInfo(_) => "DeviceInfo",
            AdditionalData::ProviderInfo(_) => "ProviderInfo",
            AdditionalData::ServiceInfo(_) => "ServiceInfo",
            AdditionalData::SubscriberInfo(_) => "SubscriberInfo",
            _ => "other",
        })
        .collect();
    assert!(
        kinds.starts_with(&["Comment", "DeviceInfo", "ProviderInfo"]),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"ServiceInfo") && kinds.contains(&"SubscriberInfo"),
        "{kinds:?}"
    );
    assert_eq!(
        p.locations[0].civic.as_ref().unwrap().get("A3"),
        Some("Any City")
    );
}

#[test]
fn every_additional_data_fixture_parses() {
    let dir = format!(
        "{}/fixtures/location/additional-data/ng911lib",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let ok = if name.ends_with(".json") {
            parse_jcard(&text).is_ok()
        } else if name.starts_with("PidfLo") {
            Pidf::parse(&text).is_ok()
        } else {
            parse_additional_data(&text).is_ok()
        };
        assert!(ok, "{name}");
        n += 1;
    }
    assert_eq!(n, 14);
}
