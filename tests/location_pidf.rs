//! Every PIDF-LO file in fixtures/location/pidf-lo parses to the values in the file
//! (RFC 5491 shapes, RFC 5139/6848 civic, RFC 7459 confidence); the invalid ones give
//! typed errors.

use answerpoint::location::pidf::{Holder, Pidf, PidfError, Pos, Shape};
use answerpoint::location::xml::XmlError;

fn load(rel: &str) -> String {
    let p = format!(
        "{}/fixtures/location/pidf-lo/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn parse(rel: &str) -> Pidf {
    Pidf::parse(&load(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn pos(p: &Pos, lat: f64, lon: f64, alt: Option<f64>) {
    assert!(
        close(p.lat, lat) && close(p.lon, lon),
        "{p:?} vs {lat},{lon}"
    );
    assert_eq!(p.alt_m, alt);
}

fn only_shape(rel: &str) -> (Shape, Pidf) {
    let p = parse(rel);
    assert_eq!(p.locations.len(), 1, "{rel}");
    assert!(p.errors.is_empty(), "{rel}: {:?}", p.errors);
    (p.locations[0].shape.clone().expect("shape"), p)
}

#[test]
fn rfc5491_point_gml30_coordinates() {
    let (s, p) = only_shape("ng911lib/RFC5491TuplePointLocation.xml");
    // 37:46:30N 122:25:10W
    match s {
        Shape::Point { pos: c } => pos(
            &c,
            37.0 + 46.0 / 60.0 + 30.0 / 3600.0,
            -(122.0 + 25.0 / 60.0 + 10.0 / 3600.0),
            None,
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(p.entity.as_deref(), Some("pres:geotarget@example.com"));
    assert_eq!(p.locations[0].holder, Holder::Tuple);
    assert_eq!(p.locations[0].holder_id.as_deref(), Some("sg89ae"));
    assert_eq!(p.locations[0].retransmission_allowed, Some(false));
    assert_eq!(p.locations[0].timestamp_ms, Some(1_056_315_449_000)); // 2003-06-22T20:57:29Z
}

#[test]
fn rfc5491_circle() {
    let (s, p) = only_shape("ng911lib/RFC5491TupleCircleLocation.xml");
    assert_eq!(
        s,
        Shape::Circle {
            center: Pos {
                lat: 42.5463,
                lon: -73.2512,
                alt_m: None
            },
            radius_m: 850.24
        }
    );
    assert_eq!(p.locations[0].method.as_deref(), Some("OTDOA"));
}

#[test]
fn rfc5491_ellipse() {
    let (s, p) = only_shape("ng911lib/RFC5491TupleEllipseLocation.xml");
    assert_eq!(
        s,
        Shape::Ellipse {
            center: Pos {
                lat: 42.5463,
                lon: -73.2512,
                alt_m: None
            },
            semi_major_m: 1275.0,
            semi_minor_m: 670.0,
            orientation_deg: 43.2
        }
    );
    assert_eq!(
        p.locations[0].method.as_deref(),
        Some("Device-Assisted_A-GPS")
    );
    assert_eq!(p.locations[0].timestamp_ms, Some(1_182_545_849_000));
}

#[test]
fn rfc5491_arcband() {
    let (s, _) = only_shape("ng911lib/RFC5491TupleArcBandLocation.xml");
    assert_eq!(
        s,
        Shape::ArcBand {
            center: Pos {
                lat: -43.5723,
                lon: 153.21760,
                alt_m: None
            },
            inner_radius_m: 3594.0,
            outer_radius_m: 4148.0,
            start_angle_deg: 20.0,
            opening_angle_deg: 20.0
        }
    );
}

const HEXAGON: [(f64, f64); 7] = [
    (43.311, -73.422),
    (43.111, -73.322),
    (43.111, -73.222),
    (43.311, -73.122),
    (43.411, -73.222),
    (43.411, -73.322),
    (43.311, -73.422),
];

#[test]
fn rfc5491_polygon_pos_and_poslist_agree() {
    for f in [
        "ng911lib/RFC5491TuplePolygonLocation.xml",
        "ng911lib/RFC5491TuplePolygonCompactLocation.xml",
    ] {
        let (s, _) = only_shape(f);
        match &s {
            Shape::Polygon { exterior } => {
                assert_eq!(exterior.len(), 7, "{f}");
                for (p, (lat, lon)) in exterior.iter().zip(HEXAGON) {
                    pos(p, lat, lon, None);
                }
            }
            other => panic!("{other:?}"),
        }
        let (c, r) = s.center_and_radius();
        assert!(close(
            c.lat,
            (43.311 + 43.111 * 2.0 + 43.311 + 43.411 * 2.0) / 6.0
        ));
        assert!(close(c.lon, -73.272));
        assert!(r.unwrap() > 10_000.0 && r.unwrap() < 20_000.0);
    }
}

#[test]
fn rfc5491_sphere_ellipsoid_prism_3d() {
    let (s, _) = only_shape("ng911lib/RFC5491TupleSphereLocation.xml");
    assert_eq!(
        s,
        Shape::Sphere {
            center: Pos {
                lat: 42.5463,
                lon: -73.2512,
                alt_m: Some(26.3)
            },
            radius_m: 850.24
        }
    );
    let (s, _) = only_shape("ng911lib/RFC5491TupleEllipsoidLocation.xml");
    assert_eq!(
        s,
        Shape::Ellipsoid {
            center: Pos {
                lat: 42.5463,
                lon: -73.2512,
                alt_m: Some(26.3)
            },
            semi_major_m: 7.7156,
            semi_minor_m: 3.31,
            vertical_axis_m: 28.7,
            orientation_deg: 90.0
        }
    );
    let (s, _) = only_shape("ng911lib/RFC5491TuplePrismLocation.xml");
    match s {
        Shape::Prism { base, height_m } => {
            assert_eq!(height_m, 2.4);
            let want = [
                (42.556844, -73.248157),
                (42.656844, -73.248157),
                (42.656844, -73.348157),
                (42.556844, -73.348157),
                (42.556844, -73.248157),
            ];
            assert_eq!(base.len(), 5);
            for (p, (lat, lon)) in base.iter().zip(want) {
                pos(p, lat, lon, Some(36.6));
            }
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc5491_civic_tuple() {
    let p = parse("ng911lib/RFC5491TupleCivicLocation.xml");
    let c = p.locations[0].civic.as_ref().unwrap();
    assert_eq!(c.get("country"), Some("US"));
    assert_eq!(c.get("A1"), Some("New York"));
    assert_eq!(c.get("A6"), Some("Broadway"));
    assert_eq!(c.get("HNO"), Some("123"));
    assert_eq!(c.get("LOC"), Some("Suite 75"));
    assert_eq!(c.get("PC"), Some("10027-0401"));
    assert!(p.locations[0].shape.is_none());
}

#[test]
fn rfc6848_extensions() {
    let p = parse("ng911lib/RFC6848Figure7Example.xml");
    let c = p.locations[0].civic.as_ref().unwrap();
    assert_eq!(c.lang.as_deref(), Some("en-US"));
    assert_eq!(c.get("RD"), Some("I5"));
    let mp = c.fields.iter().find(|f| f.name == "MP").unwrap();
    assert_eq!(mp.value, "248");
    assert_eq!(
        mp.extension_ns.as_deref(),
        Some("urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr:ext")
    );
    assert_eq!(
        c.get("MP"),
        None,
        "extension fields are not RFC 5139 fields"
    );

    let c = parse("ng911lib/RFC6848Figure8Example.xml").locations[0]
        .civic
        .clone()
        .unwrap();
    assert_eq!(c.get("HNO"), Some("223"));
    assert!(c
        .fields
        .iter()
        .any(|f| f.name == "STP" && f.value == "Boulevard"));
    assert!(c.fields.iter().any(|f| f.name == "HNP" && f.value == "A"));

    let c = parse("ng911lib/RFC6848Section3.4Example.xml").locations[0]
        .civic
        .clone()
        .unwrap();
    assert!(c.fields.iter().any(|f| f.name == "gate"
        && f.value == "36B"
        && f.extension_ns.as_deref() == Some("http://example.com/airport/5.0")));
    assert!(c
        .fields
        .iter()
        .any(|f| f.name == "pylon" && f.value == "AQ-374-4(c)"));

    let c = parse("ng911lib/RFC6848CivicExtendedExample1.xml").locations[0]
        .civic
        .clone()
        .unwrap();
    assert_eq!(c.lang.as_deref(), Some("en-GB"));
    assert_eq!(c.get("country"), Some("UK"));
    assert_eq!(c.get("A3"), Some("Monkokehampton"));
    assert!(c
        .fields
        .iter()
        .any(|f| f.name == "bridge" && f.value == "21451338"));
}

#[test]
fn device_and_person_locations() {
    let p = parse("ng911lib/DeviceAndPerson.xml");
    assert_eq!(p.locations.len(), 2);
    let dev = &p.locations[0];
    assert_eq!(dev.holder, Holder::Device);
    assert_eq!(dev.civic.as_ref().unwrap().get("A3"), Some("Simi Valley"));
    assert_eq!(dev.civic.as_ref().unwrap().get("HNO"), Some("311"));
    assert_eq!(dev.timestamp_ms, Some(1_436_475_449_000)); // 2015-07-09T20:57:29Z
    assert_eq!(dev.method.as_deref(), Some("802.11"));
    assert_eq!(dev.retransmission_allowed, Some(true));
    let per = &p.locations[1];
    assert_eq!(per.holder, Holder::Person);
    assert_eq!(per.holder_id.as_deref(), Some("12345"));
    assert_eq!(
        per.shape,
        Some(Shape::Circle {
            center: Pos {
                lat: 34.247493,
                lon: -118.791885,
                alt_m: None
            },
            radius_m: 50.0
        })
    );

    let p = parse("ng911lib/PersonDeviceCivicCircleLocation.xml");
    assert_eq!(p.locations.len(), 2);
    assert_eq!(
        p.locations[0].civic.as_ref().unwrap().get("RD"),
        Some("Kay")
    );
    match &p.locations[1].shape {
        Some(Shape::Circle { center, radius_m }) => {
            pos(center, 34.268544, -118.666519, None);
            assert_eq!(*radius_m, 50.0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn device_circles_points_confidence() {
    let (s, p) = only_shape("ng911lib/DeviceCircleLocation.xml");
    assert_eq!(
        s,
        Shape::Circle {
            center: Pos {
                lat: 41.760537,
                lon: -88.261914,
                alt_m: None
            },
            radius_m: 50.0
        }
    );
    assert_eq!(p.locations[0].confidence_pct, None);
    let (_, p) = only_shape("ng911lib/DeviceCircleWithConfidence.xml");
    assert_eq!(p.locations[0].confidence_pct, Some(95.0));
    let (s, _) = only_shape("ng911lib/DevicePointLocation.xml");
    assert_eq!(
        s,
        Shape::Point {
            pos: Pos {
                lat: 41.772035,
                lon: -88.473291,
                alt_m: None
            }
        }
    );
    // BOM, unqualified <method>/<timestamp>, a Dynamic element next to the Circle.
    let (s, p) = only_shape("ng911lib/DeviceCircleDynamic1.xml");
    assert_eq!(
        s,
        Shape::Circle {
            center: Pos {
                lat: 42.5463,
                lon: -73.2512,
                alt_m: None
            },
            radius_m: 100.0
        }
    );
    assert_eq!(p.locations[0].method.as_deref(), Some("gps"));
    assert_eq!(p.locations[0].timestamp_ms, Some(1_245_704_249_000)); // 2009-06-22T20:57:29Z
    let p = parse("ng911lib/DeviceCivicLocation.xml");
    let c = p.locations[0].civic.as_ref().unwrap();
    assert_eq!(
        (c.get("A2"), c.get("PRD"), c.get("HNO"), c.get("PCN")),
        (Some("KANE"), Some("E"), Some("2106"), Some("AURORA"))
    );
}

#[test]
fn dynamic_only_has_no_shape_but_parses() {
    let p = parse("ng911lib/DeviceDynamicOnly1.xml");
    assert_eq!(p.locations.len(), 1);
    assert!(p.locations[0].shape.is_none() && p.locations[0].civic.is_none());
    assert_eq!(p.locations[0].method.as_deref(), Some("gps"));
}

#[test]
fn dec112_valid_files() {
    let (s, p) = only_shape("dec112/simple-circle__valid-circle.xml");
    assert_eq!(
        s,
        Shape::Circle {
            center: Pos {
                lat: 48.123,
                lon: 14.456,
                alt_m: None
            },
            radius_m: 24.0
        }
    );
    assert_eq!(p.locations[0].method.as_deref(), Some("GPS"));
    let (s, _) = only_shape("dec112/simple-circle-with-altitude__valid-circle.xml");
    assert_eq!(
        s,
        Shape::Circle {
            center: Pos {
                lat: 48.123,
                lon: 14.456,
                alt_m: Some(20.7)
            },
            radius_m: 24.0
        }
    );
    let (s, _) = only_shape("dec112/simple-point__valid-point.xml");
    assert_eq!(
        s,
        Shape::Point {
            pos: Pos {
                lat: 12.345,
                lon: 67.89,
                alt_m: Some(36.7)
            }
        }
    );
    let (s, p) = only_shape("dec112/rfc5491__point-example.xml");
    assert_eq!(
        s,
        Shape::Point {
            pos: Pos {
                lat: -34.407,
                lon: 150.883,
                alt_m: None
            }
        }
    );
    assert_eq!(p.locations[0].timestamp_ms, Some(1_182_545_849_000));
    let (s, p) = only_shape("dec112/wifi-location__location.xml");
    assert_eq!(
        s,
        Shape::Circle {
            center: Pos {
                lat: 48.197457,
                lon: 14.482596,
                alt_m: None
            },
            radius_m: 270.0
        }
    );
    assert_eq!(p.locations[0].confidence_pct, Some(85.0));
    assert_eq!(p.entity.as_deref(), Some("sip:+43123456789@ims.mno.at"));
    // dm:tuple: wrong namespace, accepted for compatibility (as dec112 does).
    let (s, _) = only_shape("dec112/simple-circle__invalid-tuple.xml");
    assert_eq!(
        s,
        Shape::Circle {
            center: Pos {
                lat: 48.123,
                lon: 14.456,
                alt_m: None
            },
            radius_m: 24.0
        }
    );

    let p = parse("dec112/simple-civic__valid-civic-address.xml");
    let c = p.locations[0].civic.as_ref().unwrap();
    assert_eq!(
        (c.get("A4"), c.get("FLR"), c.get("NAM")),
        (Some("Schärding"), Some("5"), Some("Hospital"))
    );

    let p = parse("dec112/civic-circle__location.xml");
    assert_eq!(p.locations.len(), 1);
    assert_eq!(
        p.locations[0].civic.as_ref().unwrap().get("HNO"),
        Some("51A")
    );
    assert!(
        matches!(p.locations[0].shape, Some(Shape::Circle { radius_m, .. }) if radius_m == 24.0)
    );

    let p = parse("dec112/multiple-locations__valid.xml");
    assert_eq!(p.locations.len(), 2);
    assert_eq!(
        p.locations[0].shape,
        Some(Shape::Point {
            pos: Pos {
                lat: 12.345,
                lon: 67.89,
                alt_m: Some(36.7)
            }
        })
    );
    assert_eq!(
        p.locations[1].shape,
        Some(Shape::Circle {
            center: Pos {
                lat: 48.123,
                lon: 14.456,
                alt_m: None
            },
            radius_m: 24.0
        })
    );
}

#[test]
fn dec112_invalid_files_give_typed_errors() {
    assert_eq!(
        Pidf::parse(&load("dec112/invalid-pidf-lo__invalid-full-1.xml")).unwrap_err(),
        PidfError::MissingElement {
            shape: "Circle",
            element: "pos"
        }
    );
    assert!(matches!(
        Pidf::parse(&load("dec112/invalid-pidf-lo__invalid-full-2.xml")).unwrap_err(),
        PidfError::Xml(XmlError::Malformed(_))
    ));
    for f in [
        "dec112/invalid-pidf-lo__invalid-part-1.xml",
        "dec112/invalid-pidf-lo__invalid-part-2.xml",
    ] {
        assert_eq!(
            Pidf::parse(&load(f)).unwrap_err(),
            PidfError::BadNumber {
                element: "pos",
                text: "0 0 xxxxxxx".into()
            },
            "{f}"
        );
    }
}

#[test]
fn every_pidf_fixture_is_covered() {
    // Every file in the directory either parses or is one of the known-invalid ones.
    let dir = format!("{}/fixtures/location/pidf-lo", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for sub in ["ng911lib", "dec112"] {
        for e in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let r = Pidf::parse(&std::fs::read_to_string(&path).unwrap());
            assert_eq!(r.is_err(), name.starts_with("invalid-"), "{name}: {r:?}");
            n += 1;
        }
    }
    assert_eq!(n, 35);
}

#[test]
fn real_circle_with_insane_radius_keeps_its_centre_as_a_point() {
    // The RFC 5491 Circle example with its radius replaced by what broken senders put
    // there: the centre stays (a Point, uncertainty unknown) and the cause is recorded.
    let doc = load("ng911lib/RFC5491TupleCircleLocation.xml");
    let metres = r#"<gs:radius uom="urn:ogc:def:uom:EPSG::9001">
850.24
</gs:radius>"#;
    assert!(doc.contains(metres));
    for (radius, cause) in [
        (
            r#"<gs:radius uom="urn:ogc:def:uom:EPSG::9001">1e308</gs:radius>"#,
            PidfError::MeasureOverCap { element: "radius" },
        ),
        (
            r#"<gs:radius uom="urn:ogc:def:uom:EPSG::9001">-850.24</gs:radius>"#,
            PidfError::BadMeasure { element: "radius" },
        ),
        (
            r#"<gs:radius uom="urn:ogc:def:uom:EPSG::9101">0.0001</gs:radius>"#,
            PidfError::UnsupportedUom {
                element: "radius",
                uom: "urn:ogc:def:uom:EPSG::9101".into(),
            },
        ),
    ] {
        let p = Pidf::parse(&doc.replace(metres, radius)).unwrap();
        assert_eq!(p.locations.len(), 1, "{radius}");
        match &p.locations[0].shape {
            Some(Shape::Point { pos: c }) => pos(c, 42.5463, -73.2512, None),
            other => panic!("{radius}: {other:?}"),
        }
        assert_eq!(p.locations[0].method.as_deref(), Some("OTDOA"));
        assert_eq!(
            p.errors,
            vec![PidfError::ReducedToPoint {
                shape: "Circle",
                cause: Box::new(cause)
            }]
        );
    }
}

#[test]
fn real_circle_under_3d_crs_with_2d_centre_is_noted() {
    let doc = load("ng911lib/RFC5491TupleCircleLocation.xml").replace("EPSG::4326", "EPSG::4979");
    let p = Pidf::parse(&doc).unwrap();
    assert_eq!(
        p.errors,
        vec![PidfError::MissingAltitude { element: "pos" }]
    );
    assert!(matches!(
        p.locations[0].shape,
        Some(Shape::Circle { radius_m, .. }) if radius_m == 850.24
    ));
}
