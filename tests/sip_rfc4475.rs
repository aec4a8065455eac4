//! RFC 4475 §3 torture messages (fixtures/sip/rfc4475, see SOURCES): every message is a
//! case. Valid ones parse to the values the RFC describes; invalid ones give the error
//! and status the RFC expects; §3.3 cases parse and expose what the layer above needs.

use answerpoint::sip::validate::{
    hops_exhausted, unsupported_requires, validate_request, RequestFault,
};
use answerpoint::sip::{
    is_response_start, parse, uri::percent_decode, HeaderName, Host, Message, Method, ParseError,
    Scheme,
};

fn raw(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/sip/rfc4475/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ok(name: &str) -> Message {
    parse(&raw(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn err(name: &str) -> ParseError {
    match parse(&raw(name)) {
        Ok(m) => panic!("{name} parsed but must fail: {}", m.start_line()),
        Err(e) => e,
    }
}

/// Every message must also survive print → parse unchanged.
fn round_trips(m: &Message) {
    let again = parse(&m.to_bytes()).unwrap();
    assert_eq!(&again, m);
}

// === §3.1.1 valid messages ===

#[test]
fn wsinv_3_1_1_1() {
    let m = ok("wsinv.dat");
    assert_eq!(m.method(), Some(Method::Invite));
    let uri = m.request_uri().unwrap();
    assert!(uri.sip().unwrap().params.contains("unknownparam"));
    let to = m.to().unwrap();
    assert_eq!(to.uri.as_str(), "sip:vivekg@chair-dnrc.example.com");
    assert_eq!(to.tag(), Some("1918181833n"));
    let from = m.from().unwrap();
    assert_eq!(from.display_text().unwrap(), r#"J Rosenberg \""#);
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards().unwrap(), Some(68));
    assert_eq!(m.cseq().unwrap().seq, 9);
    assert_eq!(m.cseq().unwrap().method, "INVITE");
    assert_eq!(m.content_length(), Some(150));
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].transport, "UDP");
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(vias[1].transport, "TCP");
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].host, Host::V4("192.168.255.111".parse().unwrap()));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(m.header("s"), Some(""));
    assert_eq!(
        m.header("newfangledheader"),
        Some("newfangled value   continued newfangled value")
    );
    assert_eq!(m.header("UnknownHeaderWithUnusualValue"), Some(";;,,;;,;"));
    let route = m.routes().next().unwrap().unwrap();
    assert!(route.uri.sip().unwrap().params.contains("unknown-no-value"));
    let contact = m.contacts().next().unwrap();
    let c = contact.addr().unwrap();
    assert_eq!(c.display_text().unwrap(), r#"Quoted string """#);
    assert_eq!(c.param("newparam").unwrap(), "newvalue");
    assert_eq!(c.param("q").unwrap(), "0.33");
    assert!(c.params.contains("secondparam"));
    assert_eq!(m.body().len(), 150);
    round_trips(&m);
}

#[test]
fn intmeth_3_1_1_2() {
    let m = ok("intmeth.dat");
    let method = m.method().unwrap();
    assert_eq!(
        method,
        Method::Extension("!interesting-Method0123456789_*+`.%indeed'~")
    );
    assert_eq!(m.cseq().unwrap().method, method.as_str());
    let sip = *m.request_uri().unwrap().sip().unwrap();
    assert_eq!(
        sip.user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        sip.password,
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(sip.host, Host::Name("example.com"));
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK-.!%66*_+`'~"));
    // quoted-pairs escape BEL, NUL and DEL octets in the display name
    assert_eq!(
        m.to().unwrap().display_text().unwrap(),
        "BEL:\u{7} NUL:\0 DEL:\u{7f}"
    );
    let from = m.from().unwrap();
    assert_eq!(
        from.display_text().unwrap(),
        "token1~` token2'+_ token3*%!.-"
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(from.param("fromParam''~+*_!.-%").unwrap(), "работающий");
    assert_eq!(
        m.call_id(),
        Some(r#"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#)
    );
    assert_eq!(m.max_forwards().unwrap(), Some(255));
    assert_eq!(
        m.header("extensionHeader-!.%*+_`'~"),
        Some("\u{feff}大停電")
    );
    round_trips(&m);
}

#[test]
fn esc01_3_1_1_3() {
    let m = ok("esc01.dat");
    let uri = m.request_uri().unwrap();
    assert_eq!(
        &*percent_decode(uri.user().unwrap()),
        b"sips:user@example.com"
    );
    assert_eq!(uri.sip().unwrap().host, Host::Name("example.net"));
    assert_eq!(
        &*percent_decode(m.to().unwrap().uri.user().unwrap()),
        b"user"
    );
    assert_eq!(
        &*percent_decode(m.from().unwrap().uri.user().unwrap()),
        b"I have spaces"
    );
    assert_eq!(m.call_id(), Some("esc01.239409asdfakjkn23onasd0-3234"));
    assert!(m.content_type().unwrap().unwrap().is("application/sdp"));
    let c = m.contacts().next().unwrap();
    let curi = c.addr().unwrap().uri;
    assert_eq!(&*percent_decode(curi.user().unwrap()), b"caller");
    let p: Vec<_> = curi.params().iter().collect();
    assert_eq!(&*percent_decode(p[0].name), b"lr");
    assert_eq!(&*percent_decode(p[1].name), b"name");
    assert_eq!(&*percent_decode(p[1].value.unwrap()), b"value%41");
}

#[test]
fn escnull_3_1_1_4() {
    let m = ok("escnull.dat");
    assert_eq!(
        &*percent_decode(m.to().unwrap().uri.user().unwrap()),
        b"null-\0-null"
    );
    let users: Vec<Vec<u8>> = m
        .contacts()
        .map(|c| percent_decode(c.addr().unwrap().uri.user().unwrap()).into_owned())
        .collect();
    assert_eq!(users, vec![b"\0".to_vec(), b"\0\0".to_vec()]);
}

#[test]
fn esc02_3_1_1_5() {
    let m = ok("esc02.dat");
    assert_eq!(m.method(), Some(Method::Extension("RE%47IST%45R")));
    assert_eq!(m.cseq().unwrap().method, "RE%47IST%45R");
    assert_eq!(m.to().unwrap().display_text().unwrap(), "%Z%45");
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK209%fzsnel234"));
    // C%6Fntact is an unknown header, not a Contact: two Contacts.
    assert_eq!(m.contacts().count(), 2);
    assert_eq!(
        m.header("C%6Fntact"),
        Some("<sip:alias2@host2.example.com>")
    );
}

#[test]
fn lwsdisp_3_1_1_6() {
    let m = ok("lwsdisp.dat");
    let f = m.from().unwrap();
    assert_eq!(f.display_text().unwrap(), "caller");
    assert_eq!(f.uri.as_str(), "sip:caller@example.com");
    assert_eq!(f.tag(), Some("323"));
}

#[test]
fn longreq_3_1_1_7() {
    let m = ok("longreq.dat");
    let to = m.to().unwrap();
    assert!(to
        .display_text()
        .unwrap()
        .starts_with("I have a user name of extremeextreme"));
    assert!(to.uri.sip().unwrap().params.contains("verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongParameterNameWithNoValue"));
    assert_eq!(to.uri.sip().unwrap().port, Some(6000));
    assert_eq!(m.vias().count(), 34);
    assert!(m.call_id().unwrap().len() > 100);
    assert_eq!(m.body().len(), 150);
    round_trips(&m);
}

#[test]
fn dblreq_3_1_1_8_trailing_octets_ignored() {
    let raw = raw("dblreq.dat");
    let m = parse(&raw).unwrap();
    assert_eq!(m.method(), Some(Method::Register));
    assert_eq!(m.content_length(), Some(0));
    assert!(m.body().is_empty());
    assert!(
        raw.len() > m.to_bytes().len() + 100,
        "the second message is ignored"
    );
}

#[test]
fn semiuri_3_1_1_9() {
    let m = ok("semiuri.dat");
    let sip = *m.request_uri().unwrap().sip().unwrap();
    assert_eq!(sip.user, Some("user;par=u%40example.net"));
    assert_eq!(sip.host, Host::Name("example.com"));
    assert!(sip.params.is_empty());
    assert_eq!(m.values(HeaderName::Accept).count(), 6);
}

#[test]
fn transports_3_1_1_10() {
    let m = ok("transports.dat");
    let t: Vec<_> = m.vias().map(|v| v.transport).collect();
    assert_eq!(t, vec!["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
}

#[test]
fn mpart01_3_1_1_11() {
    let m = ok("mpart01.dat");
    let ct = m.content_type().unwrap().unwrap();
    assert!(ct.is("multipart/mixed"));
    assert_eq!(ct.boundary().unwrap(), "7a9cbec02ceef655");
    assert_eq!(m.body().len(), 553);
    round_trips(&m);
}

#[test]
fn unreason_3_1_1_12() {
    let m = ok("unreason.dat");
    assert_eq!(m.status_code(), Some(200));
    assert!(m
        .reason_phrase()
        .unwrap()
        .starts_with("= 2**3 * 5**2 но сто девяносто девять"));
}

#[test]
fn noreason_3_1_1_13() {
    let m = ok("noreason.dat");
    assert_eq!(m.status_code(), Some(100));
    assert_eq!(m.reason_phrase(), Some(""));
    round_trips(&m);
}

// === §3.1.2 invalid messages ===

fn bad_request(name: &str) -> ParseError {
    let e = err(name);
    assert_eq!(e.status_code(), 400, "{name}: {e:?}");
    assert!(!is_response_start(&raw(name)));
    e
}

#[test]
fn badinv01_3_1_2_1() {
    assert!(matches!(
        bad_request("badinv01.dat"),
        ParseError::BadHeader {
            name: HeaderName::Via,
            ..
        }
    ));
}

#[test]
fn clerr_3_1_2_2() {
    assert_eq!(
        bad_request("clerr.dat"),
        ParseError::ContentLengthExceedsDatagram {
            declared: 9999,
            available: 154
        }
    );
}

#[test]
fn ncl_3_1_2_3() {
    assert!(matches!(
        bad_request("ncl.dat"),
        ParseError::BadHeader {
            name: HeaderName::ContentLength,
            ..
        }
    ));
}

#[test]
fn scalar02_3_1_2_4() {
    assert!(matches!(
        bad_request("scalar02.dat"),
        ParseError::BadHeader {
            name: HeaderName::CSeq,
            ..
        }
    ));
}

#[test]
fn scalarlg_3_1_2_5_response_discarded() {
    let e = err("scalarlg.dat");
    assert!(matches!(
        e,
        ParseError::BadHeader {
            name: HeaderName::CSeq,
            ..
        }
    ));
    assert!(is_response_start(&raw("scalarlg.dat")));
}

#[test]
fn quotbal_3_1_2_6() {
    assert!(matches!(
        bad_request("quotbal.dat"),
        ParseError::BadHeader {
            name: HeaderName::To,
            ..
        }
    ));
}

#[test]
fn ltgtruri_3_1_2_7() {
    assert!(matches!(
        bad_request("ltgtruri.dat"),
        ParseError::BadRequestUri(_)
    ));
}

#[test]
fn lwsruri_3_1_2_8() {
    assert!(matches!(
        bad_request("lwsruri.dat"),
        ParseError::BadRequestLine(_)
    ));
}

/// RFC 4475 allows liberal acceptance of §3.1.2.9/10/11; we reject: the request line
/// grammar is exact, and a carrier that sends these needs telling (400 with the fault).
#[test]
fn lwsstart_trws_escruri_3_1_2_9_to_11() {
    assert!(matches!(
        bad_request("lwsstart.dat"),
        ParseError::BadRequestLine(_)
    ));
    assert!(matches!(
        bad_request("trws.dat"),
        ParseError::BadRequestLine(_)
    ));
    assert_eq!(bad_request("escruri.dat"), ParseError::HeadersInRequestUri);
}

/// §3.1.2.12 lets an element ignore a bad Date instead of rejecting: we do (liberal), as
/// Date is informational and a 999 INVITE must not fail on it.
#[test]
fn baddate_3_1_2_12_liberal() {
    let m = ok("baddate.dat");
    assert_eq!(
        m.get(HeaderName::Date),
        Some("Fri, 01 Jan 2010 16:00:00 EST")
    );
    assert_eq!(m.method(), Some(Method::Invite));
}

#[test]
fn regbadct_3_1_2_13() {
    assert!(matches!(
        bad_request("regbadct.dat"),
        ParseError::BadHeader {
            name: HeaderName::Contact,
            ..
        }
    ));
}

#[test]
fn badaspec_3_1_2_14() {
    assert!(matches!(
        bad_request("badaspec.dat"),
        ParseError::BadHeader {
            name: HeaderName::To,
            ..
        }
    ));
}

#[test]
fn baddn_3_1_2_15() {
    // Liberal: RFC 4475 calls a 400 "reasonable", not required. Unquoted caller names
    // with non-token characters arrive from real PBXs, and every request of a dialog
    // repeats the From, so they are read as the text before `<` (`NameAddr::parse`).
    let m = parse(&raw("baddn.dat")).unwrap();
    assert_eq!(
        m.from().unwrap().display_text().as_deref(),
        Some("Bell, Alexander")
    );
    assert_eq!(m.from().unwrap().tag(), Some("43"));
    assert_eq!(
        m.to().unwrap().display_text().as_deref(),
        Some("Watson, Thomas")
    );
}

#[test]
fn badvers_3_1_2_16() {
    let e = err("badvers.dat");
    assert_eq!(e, ParseError::VersionNotSupported("7.0".into()));
    assert_eq!(e.status_code(), 505);
}

#[test]
fn mismatch_3_1_2_17_18() {
    assert_eq!(
        bad_request("mismatch01.dat"),
        ParseError::CSeqMethodMismatch
    );
    assert_eq!(
        bad_request("mismatch02.dat"),
        ParseError::CSeqMethodMismatch
    );
}

#[test]
fn bigcode_3_1_2_19_response_discarded() {
    assert!(matches!(err("bigcode.dat"), ParseError::BadStatusLine(_)));
    assert!(is_response_start(&raw("bigcode.dat")));
}

// === §3.2 transaction layer ===

#[test]
fn badbranch_3_2_1() {
    let m = ok("badbranch.dat");
    let v = m.top_via().unwrap();
    assert_eq!(v.branch(), Some("z9hG4bK"));
    assert!(
        v.has_rfc3261_branch(),
        "well-formed; the transaction layer decides"
    );
}

// === §3.3 application layer: parse, expose what the layer above rejects on ===

#[test]
fn insuf_3_3_1() {
    let m = ok("insuf.dat");
    let f = validate_request(&m).unwrap_err();
    assert!(matches!(f, RequestFault::MissingHeader(_)));
    assert_eq!(f.status_code(), 400);
}

#[test]
fn unkscm_novelsc_3_3_2_3() {
    for name in ["unkscm.dat", "novelsc.dat"] {
        let m = ok(name);
        assert_eq!(m.request_uri().unwrap().scheme(), Scheme::Other);
        let f = validate_request(&m).unwrap_err();
        assert_eq!(f.status_code(), 416, "{name}");
    }
    assert_eq!(
        ok("novelsc.dat").request_uri().unwrap().scheme_str(),
        "soap.beep"
    );
}

#[test]
fn unksm2_3_3_4() {
    let m = ok("unksm2.dat");
    assert_eq!(m.to().unwrap().uri.scheme_str(), "isbn");
    assert_eq!(m.from().unwrap().uri.as_str(), "http://www.example.com");
    assert_eq!(
        m.contacts()
            .next()
            .unwrap()
            .addr()
            .unwrap()
            .uri
            .scheme_str(),
        "name"
    );
    assert_eq!(validate_request(&m), Ok(()));
}

#[test]
fn bext01_3_3_5() {
    let m = ok("bext01.dat");
    assert_eq!(
        unsupported_requires(&m, &["100rel", "timer"]),
        vec!["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    let pr: Vec<_> = m.proxy_require().map(Result::unwrap).collect();
    assert_eq!(
        pr,
        vec!["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );
    assert_eq!(m.top_via().unwrap().transport, "TLS");
}

#[test]
fn invut_3_3_6() {
    let m = ok("invut.dat");
    let ct = m.content_type().unwrap().unwrap();
    assert_eq!((ct.mtype, ct.subtype), ("application", "unknownformat"));
    assert_eq!(m.body().len(), 40);
}

#[test]
fn regaut01_3_3_7() {
    let m = ok("regaut01.dat");
    assert_eq!(
        m.get(HeaderName::Authorization),
        Some("NoOneKnowsThisScheme opaque-data=here")
    );
    assert_eq!(m.content_length(), Some(0));
}

#[test]
fn multi01_3_3_8() {
    let m = ok("multi01.dat");
    assert_eq!(m.get_all(HeaderName::CSeq).count(), 2);
    let f = validate_request(&m).unwrap_err();
    assert!(matches!(f, RequestFault::MultipleValues(_)));
    assert_eq!(f.status_code(), 400);
}

#[test]
fn mcl01_3_3_9() {
    let m = ok("mcl01.dat");
    assert_eq!(
        validate_request(&m),
        Err(RequestFault::ConflictingContentLength)
    );
}

#[test]
fn bcast_3_3_10() {
    let m = ok("bcast.dat");
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(vias[1].host, Host::V4(std::net::Ipv4Addr::BROADCAST));
}

#[test]
fn zeromf_3_3_11() {
    let m = ok("zeromf.dat");
    assert_eq!(m.max_forwards().unwrap(), Some(0));
    assert!(hops_exhausted(&m));
}

#[test]
fn cparam_3_3_12_13() {
    let a = ok("cparam01.dat");
    let c = a.contacts().next().unwrap();
    let c = c.addr().unwrap();
    assert!(!c.angle);
    assert!(
        c.params.contains("unknownparam"),
        "header param in addr-spec form"
    );
    assert!(c.uri.params().is_empty());
    let b = ok("cparam02.dat");
    let c = b.contacts().next().unwrap();
    let c = c.addr().unwrap();
    assert!(
        c.uri.params().contains("unknownparam"),
        "URI param inside <>"
    );
    assert!(c.params.is_empty());
}

#[test]
fn regescrt_3_3_14() {
    let m = ok("regescrt.dat");
    let c = m.contacts().next().unwrap();
    let sip = *c.addr().unwrap().uri.sip().unwrap();
    assert_eq!(sip.headers, Some("Route=%3Csip:sip.example.com%3E"));
    assert_eq!(m.content_length(), Some(0));
}

#[test]
fn sdp01_3_3_15() {
    let m = ok("sdp01.dat");
    assert_eq!(
        m.values(HeaderName::Accept).collect::<Vec<_>>(),
        vec!["text/nobodyKnowsThis"]
    );
    assert!(m.content_type().unwrap().unwrap().is("application/sdp"));
}

// === §3.4 backward compatibility ===

#[test]
fn inv2543_3_4_1() {
    let m = ok("inv2543.dat");
    let v = m.top_via().unwrap();
    assert_eq!(v.branch(), None);
    assert!(!v.has_rfc3261_branch());
    assert_eq!(m.max_forwards().unwrap(), None);
    assert_eq!(validate_request(&m), Ok(()));
    assert_eq!(
        m.body().len(),
        m.to_bytes().len()
            - m.to_bytes()
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap()
            - 4
    );
}

#[test]
fn test_dat_is_invalid() {
    assert!(matches!(
        bad_request("test.dat"),
        ParseError::BadHeaderLine { .. }
    ));
}

/// The MANIFEST lists every file; each has a test above, and its verdict matches.
#[test]
fn manifest_verdicts() {
    let manifest = String::from_utf8(raw("MANIFEST.tsv")).unwrap();
    let mut n = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<_> = line.split('\t').collect();
        let (file, verdict) = (cols[0], cols[3]);
        let res = parse(&raw(file));
        match verdict {
            // Liberal, see above.
            "invalid" if file == "baddate.dat" || file == "baddn.dat" => assert!(res.is_ok()),
            "invalid" => assert!(res.is_err(), "{file}"),
            _ => assert!(res.is_ok(), "{file}: {res:?}"),
        }
        n += 1;
    }
    assert_eq!(n, 50);
}
