//! `offer_body = "sdp-only"` per seat / user: a softphone that refuses multipart offers
//! (baresip 1.0 answers SDP + PIDF-LO with 500) gets the caller's SDP alone, with the
//! Geolocation / Call-Info headers kept; other handlers still get the full multipart body
//! (RFC 6442 §3). The location stays in the snapshot either way. Virtual time.

mod engine_support;

use answerpoint::config::{Config, OfferBody};
use engine_support::*;

const BOUNDARY: &str = "ob-boundary-1";

fn pidf() -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/location/pidf-lo/dec112/simple-circle__valid-circle.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn invite_with_location(call_id: &str) -> String {
    let body = format!(
        "--{BOUNDARY}\r\nContent-Type: application/sdp\r\n\r\n{SDP}\r\n\
--{BOUNDARY}\r\nContent-Type: application/pidf+xml\r\nContent-ID: <loc1@carrier.example>\r\n\r\n{}\r\n\
--{BOUNDARY}--\r\n",
        pidf()
    );
    invite(
        "sip:999@127.0.0.1:5060;user=phone",
        call_id,
        &format!("z9hG4bK{call_id}"),
        "Geolocation: <cid:loc1@carrier.example>\r\nGeolocation-Routing: no\r\n",
        &format!("multipart/mixed;boundary={BOUNDARY}"),
        &body,
    )
}

fn config_with(seat1_body: &str) -> Config {
    Config::from_toml_str(&format!(
        r#"
[sip]
listen = ["udp:127.0.0.1:5060"]
carriers = ["127.0.0.0/8"]

[[seats]]
id = "seat1"
contact = "sip:seat1@127.0.0.1:5080"
offer_body = "{seat1_body}"

[[seats]]
id = "seat2"
contact = "sip:seat2@127.0.0.1:5081"
"#
    ))
    .unwrap()
}

#[test]
fn sdp_only_seat_gets_the_sdp_alone_with_location_headers() {
    let config = config_with("sdp-only");
    assert_eq!(config.seats[0].offer_body, OfferBody::SdpOnly);
    assert_eq!(config.seats[1].offer_body, OfferBody::Multipart);
    let mut net = Net::new(&config);
    net.send(CARRIER, &invite_with_location("ob1@c"));
    let inv = net.request(SEAT1, "INVITE").msg;
    assert_eq!(inv.header("Content-Type"), Some("application/sdp"));
    assert_eq!(inv.body(), SDP.as_bytes());
    assert_eq!(
        inv.header("Geolocation"),
        Some("<cid:loc1@carrier.example>")
    );
    assert_eq!(inv.header("Priority"), Some("emergency"));
    // The location is still the call's, for the API.
    let loc = net.snapshot().calls[0].location.clone().expect("location");
    assert!(loc.lat.is_some());

    // seat1 refuses: seat2 (default) gets the full multipart offer.
    net.send_msg(SEAT1, &handler_response(&inv, 486, "Busy Here", "s1", ""));
    let inv2 = net.request(SEAT2, "INVITE").msg;
    let ct = inv2.header("Content-Type").unwrap();
    assert!(ct.starts_with("multipart/mixed"), "{ct}");
    let body = String::from_utf8_lossy(inv2.body()).to_string();
    assert!(body.contains("application/pidf+xml"));
    assert!(body.contains("application/sdp"));
}

#[test]
fn unknown_offer_body_value_is_a_config_error() {
    let err = Config::from_toml_str(
        "[[seats]]\nid = \"s\"\ncontact = \"sip:s@127.0.0.1:5080\"\noffer_body = \"sdp\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("offer_body") || err.contains("sdp-only"),
        "{err}"
    );
}
