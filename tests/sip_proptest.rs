//! Property tests: generated SIP messages (random headers, LWS, folding, compact forms,
//! bodies) parse, and print → parse gives an equal message whose printing is stable;
//! arbitrary octets never panic the parser or the stream framer.

use answerpoint::sip::framing::StreamDecoder;
use answerpoint::sip::{parse, Message};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,11}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){1,2}",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        (1u16..0xffff, 1u16..0xffff).prop_map(|(a, b)| format!("[2001:db8::{a:x}:{b:x}]")),
    ]
}

fn port() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        (1u16..=65535).prop_map(|p| format!(":{p}"))
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("sip"), Just("sips")],
        proptest::option::of("[a-z0-9+%._-]{1,12}"),
        host(),
        port(),
        proptest::collection::vec(
            (
                "[a-z][a-z0-9-]{0,8}",
                proptest::option::of("[a-z0-9.:-]{1,8}"),
            ),
            0..3,
        ),
    )
        .prop_map(|(scheme, user, host, port, params)| {
            let mut s = format!("{scheme}:");
            if let Some(u) = user {
                s.push_str(&u);
                s.push('@');
            }
            s.push_str(&host);
            s.push_str(&port);
            for (n, v) in params {
                s.push(';');
                s.push_str(&n);
                if let Some(v) = v {
                    s.push('=');
                    s.push_str(&v);
                }
            }
            s
        })
}

fn uri() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => sip_uri(),
        1 => "\\+?[0-9]{3,12}".prop_map(|n| format!("tel:{n}")),
        1 => prop_oneof![Just("urn:service:sos"), Just("urn:service:sos.police"), Just("urn:service:sos.ambulance")].prop_map(String::from),
    ]
}

fn lws() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(""),
        Just(" "),
        Just("  "),
        Just("\t"),
        Just("\r\n "),
        Just(" \r\n\t")
    ]
}

fn name_addr() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just(String::new()),
            "[A-Za-z]{1,8}( [A-Za-z.]{1,8})?".prop_map(|d| format!("{d} ")),
            "[A-Za-z ,<>@:]{0,12}".prop_map(|d| format!("\"{d}\" ")),
            Just("\"\" ".to_owned()),
        ],
        uri(),
        proptest::option::of(token()),
        lws(),
    )
        .prop_map(|(dn, uri, tag, w)| {
            let mut s = format!("{dn}<{uri}>");
            if let Some(t) = tag {
                s.push_str(&format!("{w};{w}tag{w}={w}{t}"));
            }
            s
        })
}

fn via() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("UDP"),
            Just("TCP"),
            Just("TLS"),
            Just("WSS"),
            Just("SCTP")
        ],
        host(),
        port(),
        token(),
        lws(),
        any::<bool>(),
    )
        .prop_map(|(t, h, p, b, w, rport)| {
            format!(
                "SIP{w}/{w}2.0{w}/{w}{t} {h}{p}{w};branch=z9hG4bK{b}{}",
                if rport { ";rport" } else { "" }
            )
        })
}

fn extra_header() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        (proptest::collection::vec(via(), 1..3)).prop_map(|v| ("v".to_owned(), v.join(" , "))),
        name_addr().prop_map(|a| ("Contact".to_owned(), a)),
        name_addr().prop_map(|a| ("m".to_owned(), a)),
        name_addr().prop_map(|a| ("Route".to_owned(), a)),
        name_addr().prop_map(|a| ("P-Asserted-Identity".to_owned(), a)),
        (0u8..=255).prop_map(|n| ("Max-Forwards".to_owned(), n.to_string())),
        Just(("Priority".to_owned(), "emergency".to_owned())),
        Just(("Resource-Priority".to_owned(), "esnet.1".to_owned())),
        (token(), "[ -~]{0,30}").prop_map(|(n, v)| (format!("X-{n}"), v)),
        "[ -~]{0,20}".prop_map(|v| ("s".to_owned(), v)),
    ]
}

prop_compose! {
    fn message()(
        is_request in any::<bool>(),
        method in prop_oneof![Just("INVITE".to_owned()), Just("OPTIONS".to_owned()), token()],
        ruri in uri(),
        code in 100u16..=699,
        reason in "[ -~]{0,20}",
        top_via in via(),
        from in name_addr(),
        to in name_addr(),
        call_id in "[A-Za-z0-9.@-]{1,30}",
        seq in 0u32..=u32::MAX,
        extras in proptest::collection::vec(extra_header(), 0..8),
        colon_ws in prop_oneof![Just(""), Just(" "), Just("\t")],
        body in proptest::collection::vec(any::<u8>(), 0..200),
        with_cl in any::<bool>(),
    ) -> Vec<u8> {
        let mut s = if is_request {
            format!("{method} {ruri} SIP/2.0\r\n")
        } else {
            format!("SIP/2.0 {code} {}\r\n", reason.trim_end())
        };
        s.push_str(&format!("Via{colon_ws}: {top_via}\r\n"));
        s.push_str(&format!("From:{from}\r\nt: {to}\r\ni: {call_id}\r\n"));
        s.push_str(&format!("CSeq: {seq} {method}\r\n"));
        for (n, v) in extras {
            s.push_str(&format!("{n}:{v}\r\n"));
        }
        if with_cl {
            s.push_str(&format!("l: {}\r\n", body.len()));
        }
        s.push_str("\r\n");
        let mut out = s.into_bytes();
        out.extend_from_slice(&body);
        out
    }
}

fn check_round_trip(m: &Message) {
    let printed = m.to_bytes();
    let again = parse(&printed).expect("printed message parses");
    assert_eq!(&again, m);
    assert_eq!(again.to_bytes(), printed);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_messages_round_trip(raw in message()) {
        let m = parse(&raw).map_err(|e| TestCaseError::fail(format!("{e:?}\n{}", String::from_utf8_lossy(&raw))))?;
        prop_assert!(m.top_via().unwrap().branch().unwrap().starts_with("z9hG4bK"));
        prop_assert!(m.cseq().is_some());
        check_round_trip(&m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = parse(&raw) {
            check_round_trip(&m);
        }
        let mut d = StreamDecoder::default();
        d.push(&raw).unwrap();
        while let Ok(Some(_)) = d.next_item() {}
    }

    #[test]
    fn mutated_messages_never_panic(raw in message(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut raw = raw;
        let i = at.index(raw.len());
        raw[i] = byte;
        if let Ok(m) = parse(&raw) {
            check_round_trip(&m);
        }
    }
}
