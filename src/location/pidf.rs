//! PIDF-LO location objects (RFC 4119; RFC 5491 for the geodetic shapes and the
//! tuple/device/person rules; RFC 5139 + RFC 6848 for civic addresses; RFC 7459 for
//! confidence; RFC 7852 §5 for `<provided-by>`).
//!
//! A document may carry several locations: each `<gp:location-info>` under a `<tuple>`,
//! `<dm:device>` or `<dm:person>` (RFC 5491 §3.4) gives one [`Location`] per shape, with
//! the civic address, method, confidence and timestamp of its holder. Shapes are
//! RFC 5491 §5.2's eight: Point, Circle, Ellipse, ArcBand, Polygon (`gml:pos` list or
//! `gml:posList`), Sphere, Ellipsoid, Prism, plus RFC 4119's GML 3.0 `gml:location` /
//! `gml:coordinates` point. Distances are normalised to metres, angles to degrees
//! (from `urn:ogc:def:uom:EPSG::9001` metres, `::9102` degrees, `::9101` radians).
//!
//! Parsing is bounded (see [`XmlLimits`]) and never expands entities. A malformed shape
//! is a typed [`PidfError`]: it is recorded in [`Pidf::errors`] and the document's other
//! locations are kept; the document is an error only when nothing usable remains.
//!
//! Sanity rules a control room relies on (beyond the RFC 5491 §5.2 grammar):
//! - Every distance is finite, not negative and at most [`MAX_UNCERTAINTY_M`] (100 km);
//!   a Circle or Sphere radius and an Ellipse/Ellipsoid semi-major axis are also at
//!   least [`MIN_UNCERTAINTY_M`] (1 cm; RFC 5491 §5.2.3–§5.2.7 describe an area of
//!   uncertainty around the centre; 0 m is no measurement).
//! - A Circle, Sphere, Ellipse or Ellipsoid whose size is unusable (missing, zero,
//!   over the cap, not finite, or in a unit that is not a length, e.g. radians) keeps
//!   its valid centre as a **Point** (uncertainty unknown) and records
//!   [`PidfError::ReducedToPoint`]: the centre is still the best estimate of the caller.
//!   An ArcBand is not reduced: its centre is the antenna, not the caller.
//! - A `gml:pos` under `srsName` EPSG::4979 (3D, RFC 5491 §3) with only two coordinates
//!   is used as a 2D position and records [`PidfError::MissingAltitude`]: latitude and
//!   longitude are intact, only the altitude is missing. Likewise an altitude that is
//!   infinite or NaN, or more than [`MAX_UNCERTAINTY_M`] (100 km) above or below the
//!   ellipsoid, is dropped with a note ([`PidfError::BadNumber`] /
//!   [`PidfError::MeasureOverCap`] for `altitude`) and the position kept as 2D.
//! - A Polygon's (or Prism's) centre is averaged with longitudes taken relative to its
//!   first corner, so a polygon across the antimeridian (Fiji, Chukotka) is centred there
//!   and not on the other side of the planet. Its covering radius (centre to farthest
//!   corner) obeys the same bounds as a Circle's: a ring whose corners coincide (under
//!   [`MIN_UNCERTAINTY_M`]) or that reaches beyond [`MAX_UNCERTAINTY_M`] keeps its centre
//!   as a Point with [`PidfError::ReducedToPoint`]. A self-crossing ring is not checked:
//!   its corners still bound the area, so centre and radius still cover it.

use std::cell::OnceCell;

use serde::Serialize;

use super::additional_data::ProvidedBy;
use super::time::parse_rfc3339_ms;
use super::xml::{parse_bounded, XmlError, XmlLimits};
use super::xmltree::{child, text_of, Node, Tree};

/// RFC 3863 PIDF namespace.
pub const NS_PIDF: &str = "urn:ietf:params:xml:ns:pidf";
/// RFC 5139 civic address namespace.
pub const NS_CIVIC: &str = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr";

/// Most locations taken from one document.
pub const MAX_LOCATIONS: usize = 16;
/// Most points in one Polygon or Prism base.
pub const MAX_POLYGON_POINTS: usize = 256;
/// Most civic fields kept from one civic address.
pub const MAX_CIVIC_FIELDS: usize = 64;
/// Largest distance accepted in a shape (radius, semi-axis, ArcBand radius, Prism
/// height), m. A cell-sector fix covers a few km, the largest GSM timing-advance cell
/// 35 km; an area of uncertainty wider than 100 km places nobody for dispatch and is a
/// units or encoding error (RFC 5491 §5.2 gives no upper bound: this cap is ours).
pub const MAX_UNCERTAINTY_M: f64 = 100_000.0;
/// Smallest uncertainty radius (Circle/Sphere radius, Ellipse/Ellipsoid semi-major axis,
/// a Polygon's covering radius, an AML accuracy), m. Handset fixes are metres, survey
/// RTK a centimetre; anything tighter (0, 1e-300 m, a Polygon whose corners coincide)
/// is no measurement. Read as exact it would outrank every real fix of the call (the
/// best location is the smallest radius), so the size is treated as unusable.
pub const MIN_UNCERTAINTY_M: f64 = 0.01;

/// Errors in a PIDF-LO document or one of its locations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PidfError {
    /// The XML was refused (size, depth, node count, DTD, syntax, empty document).
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root element is not `presence` (RFC 3863 §4.1).
    #[error("root element {0:?} is not a PIDF presence")]
    NotPidf(String),
    /// No `location-info` anywhere in the document.
    #[error("no location-info in the document")]
    NoLocation,
    /// A shape lacks a required child (e.g. a Circle without `gml:pos`).
    #[error("{shape} has no {element}")]
    MissingElement {
        /// RFC 5491 shape name.
        shape: &'static str,
        /// Missing element's local name.
        element: &'static str,
    },
    /// A required child appears twice (e.g. two `gs:radius`).
    #[error("{shape} has more than one {element}")]
    DuplicateElement {
        /// RFC 5491 shape name.
        shape: &'static str,
        /// Repeated element's local name.
        element: &'static str,
    },
    /// Text where a number (or a list of 2–3 numbers) was required.
    #[error("{element} is not a valid number list: {text:?}")]
    BadNumber {
        /// Element local name.
        element: &'static str,
        /// The offending text (first 64 characters).
        text: String,
    },
    /// A measure without the `uom` attribute RFC 5491 §5.2 requires.
    #[error("{element} has no uom attribute")]
    MissingUom {
        /// Element local name.
        element: &'static str,
    },
    /// A unit other than metres (distances) or degrees/radians (angles).
    #[error("{element} has unsupported uom {uom:?}")]
    UnsupportedUom {
        /// Element local name.
        element: &'static str,
        /// The uom as sent.
        uom: String,
    },
    /// A coordinate reference system other than WGS 84 (EPSG 4326 / 4979).
    #[error("unsupported srsName {0:?}")]
    UnsupportedCrs(String),
    /// Latitude outside ±90° or longitude outside ±180°.
    #[error("coordinate out of range")]
    CoordinateOutOfRange,
    /// A negative distance, a radius or semi-major axis under [`MIN_UNCERTAINTY_M`], a
    /// Polygon whose corners lie within it of their centre, or inner radius above outer
    /// radius (non-finite numbers are [`PidfError::BadNumber`]).
    #[error("{element} has an invalid value")]
    BadMeasure {
        /// Element local name.
        element: &'static str,
    },
    /// A distance above [`MAX_UNCERTAINTY_M`].
    #[error("{element} exceeds {MAX_UNCERTAINTY_M} m")]
    MeasureOverCap {
        /// Element local name.
        element: &'static str,
    },
    /// A Circle, Sphere, Ellipse, Ellipsoid, Polygon or Prism with a valid centre but an
    /// unusable size: the location is kept as a Point at the centre, its uncertainty
    /// unknown.
    #[error("{shape} kept as its centre Point, uncertainty unknown: {cause}")]
    ReducedToPoint {
        /// RFC 5491 shape name as sent.
        shape: &'static str,
        /// Why the size was unusable.
        cause: Box<PidfError>,
    },
    /// A `gml:pos` with two coordinates under `srsName` EPSG::4979, which is 3D
    /// (RFC 5491 §3): used as a 2D position, altitude unknown.
    #[error("{element} has 2 coordinates under 3D EPSG::4979: used as 2D, altitude unknown")]
    MissingAltitude {
        /// Element local name (`pos`).
        element: &'static str,
    },
    /// A Polygon ring with fewer than 4 positions (3 corners + closing point) or more
    /// than [`MAX_POLYGON_POINTS`].
    #[error("polygon has {0} positions (needs 4..={MAX_POLYGON_POINTS})")]
    BadPolygon(usize),
    /// A geometry element in `location-info` that is not an RFC 5491 shape.
    #[error("unknown shape {0:?}")]
    UnknownShape(String),
    /// A `timestamp` that is not an RFC 3339 date-time.
    #[error("timestamp {0:?} is not RFC 3339")]
    BadTimestamp(String),
    /// A `confidence` outside 0–100 % (RFC 7459 §5.1).
    #[error("confidence {0:?} is not a percentage")]
    BadConfidence(String),
}

/// A WGS 84 position (RFC 5491 §5.1): latitude then longitude in degrees, optional
/// altitude in metres (EPSG 4979).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pos {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
    /// Altitude above the WGS 84 ellipsoid, metres.
    pub alt_m: Option<f64>,
}

/// The RFC 5491 §5.2 geodetic shapes; distances in metres, angles in degrees.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "shape")]
pub enum Shape {
    /// §5.2.1 Point.
    Point {
        /// The position.
        pos: Pos,
    },
    /// §5.2.3 Circle (and 2D Sphere).
    Circle {
        /// Centre.
        center: Pos,
        /// Radius, m.
        radius_m: f64,
    },
    /// §5.2.4 Ellipse.
    Ellipse {
        /// Centre.
        center: Pos,
        /// Semi-major axis, m.
        semi_major_m: f64,
        /// Semi-minor axis, m.
        semi_minor_m: f64,
        /// Orientation of the semi-major axis, degrees clockwise from north.
        orientation_deg: f64,
    },
    /// §5.2.5 ArcBand.
    ArcBand {
        /// Centre.
        center: Pos,
        /// Inner radius, m.
        inner_radius_m: f64,
        /// Outer radius, m.
        outer_radius_m: f64,
        /// Start angle, degrees clockwise from north.
        start_angle_deg: f64,
        /// Opening angle, degrees.
        opening_angle_deg: f64,
    },
    /// §5.2.2 Polygon: the exterior ring, closed (first position repeated last).
    Polygon {
        /// Ring positions.
        exterior: Vec<Pos>,
    },
    /// §5.2.6 Sphere.
    Sphere {
        /// Centre (3D).
        center: Pos,
        /// Radius, m.
        radius_m: f64,
    },
    /// §5.2.7 Ellipsoid.
    Ellipsoid {
        /// Centre (3D).
        center: Pos,
        /// Semi-major axis, m.
        semi_major_m: f64,
        /// Semi-minor axis, m.
        semi_minor_m: f64,
        /// Vertical semi-axis, m.
        vertical_axis_m: f64,
        /// Orientation of the semi-major axis, degrees clockwise from north.
        orientation_deg: f64,
    },
    /// §5.2.8 Prism: a 3D polygon base extruded by a height.
    Prism {
        /// Base ring positions (3D), closed.
        base: Vec<Pos>,
        /// Height, m.
        height_m: f64,
    },
}

impl Shape {
    /// The shape's name as in RFC 5491.
    pub fn name(&self) -> &'static str {
        match self {
            Shape::Point { .. } => "Point",
            Shape::Circle { .. } => "Circle",
            Shape::Ellipse { .. } => "Ellipse",
            Shape::ArcBand { .. } => "ArcBand",
            Shape::Polygon { .. } => "Polygon",
            Shape::Sphere { .. } => "Sphere",
            Shape::Ellipsoid { .. } => "Ellipsoid",
            Shape::Prism { .. } => "Prism",
        }
    }

    /// A representative point and an uncertainty radius covering the shape, for a map
    /// pin and for ranking fixes: Point → the point, no radius; Circle/Sphere → centre and
    /// radius; Ellipse/Ellipsoid → centre and semi-major axis; ArcBand → centre and outer
    /// radius (a covering circle); Polygon/Prism → vertex centroid and the largest
    /// centroid-to-vertex distance.
    pub fn center_and_radius(&self) -> (Pos, Option<f64>) {
        match self {
            Shape::Point { pos } => (*pos, None),
            Shape::Circle { center, radius_m } | Shape::Sphere { center, radius_m } => {
                (*center, Some(*radius_m))
            }
            Shape::Ellipse {
                center,
                semi_major_m,
                ..
            }
            | Shape::Ellipsoid {
                center,
                semi_major_m,
                ..
            } => (*center, Some(*semi_major_m)),
            Shape::ArcBand {
                center,
                outer_radius_m,
                ..
            } => (*center, Some(*outer_radius_m)),
            Shape::Polygon { exterior: ring } | Shape::Prism { base: ring, .. } => {
                let c = centroid(ring);
                let r = ring
                    .iter()
                    .map(|p| haversine_m(&c, p))
                    .fold(0.0f64, f64::max);
                (c, Some(r))
            }
        }
    }
}

/// A Polygon or Prism whose covering radius is usable, or its centre as a Point with a
/// [`PidfError::ReducedToPoint`] note (see the module docs).
fn covering(name: &'static str, shape: Shape, notes: &mut Vec<PidfError>) -> Shape {
    let (center, radius) = shape.center_and_radius();
    let cause = match radius {
        Some(r) if r < MIN_UNCERTAINTY_M => PidfError::BadMeasure {
            element: "exterior",
        },
        Some(r) if r > MAX_UNCERTAINTY_M => PidfError::MeasureOverCap {
            element: "exterior",
        },
        _ => return shape,
    };
    notes.push(PidfError::ReducedToPoint {
        shape: name,
        cause: Box::new(cause),
    });
    Shape::Point { pos: center }
}

/// Vertex centroid of a ring, without the closing duplicate.
fn centroid(ring: &[Pos]) -> Pos {
    let pts = match ring {
        [first, rest @ .., last] if first.lat == last.lat && first.lon == last.lon => {
            ring.get(..rest.len() + 1).unwrap_or(ring)
        }
        _ => ring,
    };
    let n = pts.len().max(1) as f64;
    let alts: Vec<f64> = pts.iter().filter_map(|p| p.alt_m).collect();
    // Longitudes relative to the first corner, each within ±180° of it, so a ring across
    // the antimeridian averages there (179.999 and -179.999 → 180, not 0).
    let lon0 = pts.first().map_or(0.0, |p| p.lon);
    let rel = |lon: f64| (lon - lon0 + 180.0).rem_euclid(360.0) - 180.0;
    let mean_lon = lon0 + pts.iter().map(|p| rel(p.lon)).sum::<f64>() / n;
    Pos {
        lat: pts.iter().map(|p| p.lat).sum::<f64>() / n,
        lon: (mean_lon + 180.0).rem_euclid(360.0) - 180.0,
        alt_m: (!alts.is_empty()).then(|| alts.iter().sum::<f64>() / alts.len() as f64),
    }
}

/// Great-circle distance in metres (mean Earth radius 6,371,008.8 m).
pub fn haversine_m(a: &Pos, b: &Pos) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().min(1.0).asin()
}

/// One civic address element (RFC 5139 §3.1, or an RFC 6848 extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CivicField {
    /// Element local name (`country`, `A1`…`A6`, `RD`, `HNO`, `PC`, or an extension's).
    pub name: String,
    /// Trimmed text.
    pub value: String,
    /// Namespace of an RFC 6848 extension element; `None` for RFC 5139 elements.
    pub extension_ns: Option<String>,
}

/// An RFC 5139 civic address with RFC 6848 extensions, in document order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CivicAddress {
    /// `xml:lang`, if given.
    pub lang: Option<String>,
    /// The elements, in order.
    pub fields: Vec<CivicField>,
}

impl CivicAddress {
    /// Value of the RFC 5139 element `name` (e.g. `"A3"`, `"HNO"`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.extension_ns.is_none() && f.name == name)
            .map(|f| f.value.as_str())
    }
}

/// Which PIDF element holds a location (RFC 5491 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Holder {
    /// `<tuple>` (RFC 3863), including a `tuple` in a wrong namespace.
    Tuple,
    /// `<dm:device>` (RFC 4479).
    Device,
    /// `<dm:person>` (RFC 4479).
    Person,
}

/// One location from a PIDF-LO.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    /// The element holding it.
    pub holder: Holder,
    /// The holder's `id` attribute.
    pub holder_id: Option<String>,
    /// Geodetic shape, if any.
    pub shape: Option<Shape>,
    /// Civic address, if any.
    pub civic: Option<CivicAddress>,
    /// RFC 7459 confidence, %.
    pub confidence_pct: Option<f64>,
    /// `gp:method` (RFC 4119 §2.2.3), e.g. `GPS`, `Wiremap`, `802.11`.
    pub method: Option<String>,
    /// The holder's `timestamp`, Unix ms.
    pub timestamp_ms: Option<i64>,
    /// `gbp:retransmission-allowed` (RFC 4119 §2.2.2).
    pub retransmission_allowed: Option<bool>,
    /// RFC 7852 §5 `<provided-by>`, if present.
    pub provided_by: Option<ProvidedBy>,
}

/// A parsed PIDF-LO document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pidf {
    /// The presentity (`entity` attribute of `presence`).
    pub entity: Option<String>,
    /// Usable locations, in document order.
    pub locations: Vec<Location>,
    /// Problems with individual locations that were dropped or partly read.
    #[serde(skip)]
    pub errors: Vec<PidfError>,
}

impl Pidf {
    /// Parses a PIDF-LO document under the default [`XmlLimits`].
    ///
    /// # Errors
    /// A document-level [`PidfError`], or — when no usable location remains — the first
    /// error that made a location unusable (a shape error before a timestamp error).
    pub fn parse(xml: &str) -> Result<Pidf, PidfError> {
        Self::parse_with_limits(xml, &XmlLimits::default())
    }

    /// [`Pidf::parse`] with explicit limits.
    ///
    /// # Errors
    /// As [`Pidf::parse`].
    pub fn parse_with_limits(xml: &str, limits: &XmlLimits) -> Result<Pidf, PidfError> {
        let doc = Tree::parse(xml, limits)?;
        Self::from_tree(&doc, xml, limits)
    }

    /// [`Pidf::parse_with_limits`] with the tree built by the previous, quick-xml based
    /// builder ([`Tree::parse_quick_xml`]); the walk is the same. Kept as the reference
    /// for the differential tests (tests/location_xml_diff.rs) and benches/locate.rs.
    ///
    /// # Errors
    /// As [`Pidf::parse`].
    pub fn parse_quick_xml(xml: &str, limits: &XmlLimits) -> Result<Pidf, PidfError> {
        let doc = Tree::parse_quick_xml(xml, limits)?;
        Self::from_tree(&doc, xml, limits)
    }

    fn from_tree(doc: &Tree<'_>, xml: &str, limits: &XmlLimits) -> Result<Pidf, PidfError> {
        let root = doc.root_element();
        if root.name() != "presence" {
            return Err(PidfError::NotPidf(root.name().chars().take(64).collect()));
        }
        let mut pidf = Pidf {
            entity: root.attribute("entity").map(str::to_owned),
            locations: Vec::new(),
            errors: Vec::new(),
        };
        let mut saw_location_info = false;
        let ctx = Ctx {
            text: xml.strip_prefix('\u{feff}').unwrap_or(xml),
            limits,
            dom: OnceCell::new(),
        };
        for holder in root.children().filter(Node::is_element) {
            let kind = match holder.name() {
                "tuple" => Holder::Tuple,
                "device" => Holder::Device,
                "person" => Holder::Person,
                _ => continue,
            };
            read_holder(&ctx, holder, kind, &mut pidf, &mut saw_location_info);
        }
        if !pidf.locations.is_empty() {
            return Ok(pidf);
        }
        // Report what made the locations unusable (a shape error) before side issues.
        let fatal = pidf
            .errors
            .iter()
            .find(|e| !matches!(e, PidfError::BadTimestamp(_) | PidfError::BadConfidence(_)))
            .or(pidf.errors.first());
        match fatal {
            Some(e) => Err(e.clone()),
            None if saw_location_info => Ok(pidf),
            None => Err(PidfError::NoLocation),
        }
    }
}

/// What the walk needs besides the tree: the text and a roxmltree DOM of it, built only
/// when a `<provided-by>` (RFC 7852 §5: whole additional-data blocks, read by
/// [`ProvidedBy::from_node`]) is present — never for a plain location.
struct Ctx<'a, 'l> {
    text: &'a str,
    limits: &'l XmlLimits,
    dom: OnceCell<Option<roxmltree::Document<'a>>>,
}

impl Ctx<'_, '_> {
    /// The `<provided-by>` whose start tag is at byte `pos`, read from the DOM.
    fn provided_by_at(&self, pos: usize) -> ProvidedBy {
        let dom = self
            .dom
            .get_or_init(|| parse_bounded(self.text, self.limits).ok());
        dom.as_ref()
            .and_then(|d| {
                d.descendants()
                    .find(|n| n.is_element() && n.range().start == pos)
            })
            .map(ProvidedBy::from_node)
            .unwrap_or_default()
    }
}

fn read_holder(
    ctx: &Ctx<'_, '_>,
    holder: Node<'_, '_>,
    kind: Holder,
    pidf: &mut Pidf,
    saw: &mut bool,
) {
    let mut timestamp_ms = None;
    if let Some(ts) = child(holder, "timestamp") {
        let t = ts.text().unwrap_or("").trim();
        match parse_rfc3339_ms(t) {
            Some(ms) => timestamp_ms = Some(ms),
            None => pidf
                .errors
                .push(PidfError::BadTimestamp(t.chars().take(64).collect())),
        }
    }
    // geopriv sits under <status> for a tuple (RFC 4119) and directly under device/person
    // (RFC 5491 §3.4); some senders put a <status> under device too.
    let geoprivs = holder.children().filter(Node::is_element).flat_map(|c| {
        let direct = (c.name() == "geopriv").then_some(c);
        let nested = (c.name() == "status")
            .then(|| {
                c.children()
                    .filter(|g| g.is_element() && g.name() == "geopriv")
            })
            .into_iter()
            .flatten();
        direct.into_iter().chain(nested)
    });
    for gp in geoprivs.take(MAX_LOCATIONS) {
        let method = child(gp, "method").and_then(text_of);
        let retransmission_allowed = child(gp, "usage-rules")
            .and_then(|u| child(u, "retransmission-allowed"))
            .and_then(text_of)
            .and_then(|t| match t.to_ascii_lowercase().as_str() {
                "yes" | "true" | "1" => Some(true),
                "no" | "false" | "0" => Some(false),
                _ => None,
            });
        let provided_by = child(gp, "provided-by").map(|pb| ctx.provided_by_at(pb.pos()));
        let base = Base {
            holder: kind,
            holder_id: holder.attribute("id"),
            method,
            timestamp_ms,
            retransmission_allowed,
            provided_by,
        };
        for li in gp
            .children()
            .filter(|c| c.is_element() && c.name() == "location-info")
            .take(MAX_LOCATIONS)
        {
            *saw = true;
            read_location_info(li, &base, pidf);
        }
    }
}

/// What every location of one `<geopriv>` shares, borrowed from the tree until a
/// [`Location`] is made (so nothing is copied twice).
struct Base<'t> {
    holder: Holder,
    holder_id: Option<&'t str>,
    method: Option<&'t str>,
    timestamp_ms: Option<i64>,
    retransmission_allowed: Option<bool>,
    provided_by: Option<ProvidedBy>,
}

fn read_location_info(li: Node<'_, '_>, base: &Base<'_>, pidf: &mut Pidf) {
    // The usual single shape stays out of the `Vec` (no allocation).
    let mut first_shape: Option<Shape> = None;
    let mut shapes = Vec::new();
    let mut civic = None;
    let mut confidence = None;
    let mut failed = false;
    let elements = li.children().filter(Node::is_element).flat_map(|c| {
        // RFC 4119 GML 3.0 wraps the geometry in <gml:location>.
        let wrapper = c.name() == "location";
        let direct = (!wrapper).then_some(c);
        let nested = wrapper
            .then(|| c.children().filter(Node::is_element).take(8))
            .into_iter()
            .flatten();
        direct.into_iter().chain(nested)
    });
    for el in elements.take(64) {
        let name = el.name();
        match name {
            "civicAddress" => civic = Some(read_civic(el)),
            "confidence" => {
                let t = el.text().unwrap_or("").trim();
                match t.parse::<f64>() {
                    Ok(v) if (0.0..=100.0).contains(&v) => confidence = Some(v),
                    _ => {
                        pidf.errors
                            .push(PidfError::BadConfidence(t.chars().take(64).collect()));
                    }
                }
            }
            "Point" | "Circle" | "Ellipse" | "ArcBand" | "Polygon" | "Sphere" | "Ellipsoid"
            | "Prism" => match read_shape(el, None, &mut pidf.errors) {
                Ok(s) if first_shape.is_none() => first_shape = Some(s),
                Ok(s) => shapes.push(s),
                Err(e) => {
                    failed = true;
                    pidf.errors.push(e);
                }
            },
            _ if is_geometry_ns(el.namespace()) => {
                failed = true;
                pidf.errors
                    .push(PidfError::UnknownShape(name.chars().take(64).collect()));
            }
            // Dynamic (RFC 5962), extensions: not needed to place the caller.
            _ => {}
        }
    }
    if first_shape.is_none() && civic.is_none() && failed {
        return; // the only content was a broken shape: nothing usable
    }
    let push = |shape: Option<Shape>, civic: Option<CivicAddress>, pidf: &mut Pidf| {
        if pidf.locations.len() < MAX_LOCATIONS {
            if pidf.locations.capacity() == 0 {
                // Most documents carry one or two locations; sized up front (the
                // growth path of `push` costs more than the allocation).
                pidf.locations = Vec::with_capacity(2);
            }
            pidf.locations.push(Location {
                holder: base.holder,
                holder_id: base.holder_id.map(str::to_owned),
                shape,
                civic,
                confidence_pct: confidence,
                method: base.method.map(str::to_owned),
                timestamp_ms: base.timestamp_ms,
                retransmission_allowed: base.retransmission_allowed,
                provided_by: base.provided_by.clone(),
            });
        }
    };
    let Some(first_shape) = first_shape else {
        push(None, civic, pidf);
        return;
    };
    // The civic address goes with the first shape only.
    push(Some(first_shape), civic, pidf);
    for s in shapes {
        push(Some(s), None, pidf);
    }
}

fn is_geometry_ns(ns: Option<&str>) -> bool {
    matches!(
        ns,
        Some("http://www.opengis.net/gml")
            | Some("http://www.opengis.net/pidflo/1.0")
            | Some("urn:opengis:specification:gml:schema-xsd:feature:v3.0")
    )
}

fn read_civic(el: Node<'_, '_>) -> CivicAddress {
    let lang = el.attr_by_qname("xml:lang").map(str::to_owned);
    let fields = el
        .children()
        .filter(Node::is_element)
        .take(MAX_CIVIC_FIELDS)
        .filter_map(|f| {
            let value = text_of(f)?.to_owned();
            let ns = f.namespace();
            Some(CivicField {
                name: f.name().to_owned(),
                value,
                extension_ns: if ns == Some(NS_CIVIC) || ns.is_none() {
                    None
                } else {
                    ns.map(str::to_owned)
                },
            })
        })
        .collect();
    CivicAddress { lang, fields }
}

/// Dimension implied by an `srsName` (RFC 5491 §3: EPSG 4326 is 2D, 4979 is 3D).
fn srs_dims(el: Node<'_, '_>, inherited: Option<usize>) -> Result<Option<usize>, PidfError> {
    match el.attribute("srsName") {
        None => Ok(inherited),
        Some(s) => {
            // The codes are digits: a case-insensitive suffix test needs no lowercasing.
            if s.ends_with(":4326") {
                Ok(Some(2))
            } else if s.ends_with(":4979") {
                Ok(Some(3))
            } else {
                Err(PidfError::UnsupportedCrs(s.chars().take(64).collect()))
            }
        }
    }
}

/// Exactly one child named `name`.
fn one<'a, 'i>(
    el: Node<'a, 'i>,
    shape: &'static str,
    name: &'static str,
) -> Result<Node<'a, 'i>, PidfError> {
    let mut it = el.children().filter(|c| c.is_element() && c.name() == name);
    let first = it.next().ok_or(PidfError::MissingElement {
        shape,
        element: name,
    })?;
    if it.next().is_some() {
        return Err(PidfError::DuplicateElement {
            shape,
            element: name,
        });
    }
    Ok(first)
}

fn bad_number(element: &'static str, t: &str) -> PidfError {
    PidfError::BadNumber {
        element,
        text: t.chars().take(64).collect(),
    }
}

fn number(t: &str, element: &'static str) -> Result<f64, PidfError> {
    match t.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(bad_number(element, t)),
    }
}

fn make_pos(lat: f64, lon: f64, alt_m: Option<f64>) -> Result<Pos, PidfError> {
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(PidfError::CoordinateOutOfRange);
    }
    Ok(Pos { lat, lon, alt_m })
}

/// `gml:pos`: "lat lon" or "lat lon alt". With `dims` = 3 (EPSG::4979) two numbers are
/// still a position; [`PidfError::MissingAltitude`] goes to `notes`.
fn read_pos(
    el: Node<'_, '_>,
    dims: Option<usize>,
    notes: &mut Vec<PidfError>,
) -> Result<Pos, PidfError> {
    let t = el.text().unwrap_or("");
    let mut toks = t.split_ascii_whitespace();
    let (Some(lat), Some(lon), alt, None) = (toks.next(), toks.next(), toks.next(), toks.next())
    else {
        return Err(bad_number("pos", t.trim()));
    };
    let lat = number(lat, "pos").map_err(|_| bad_number("pos", t.trim()))?;
    let lon = number(lon, "pos").map_err(|_| bad_number("pos", t.trim()))?;
    let Some(alt) = alt else {
        let p = make_pos(lat, lon, None)?;
        if dims == Some(3) {
            notes.push(PidfError::MissingAltitude { element: "pos" });
        }
        return Ok(p);
    };
    // An unusable altitude (a number, but infinite, NaN or beyond the cap) does not cost
    // the caller's latitude and longitude; a third token that is no number at all is a
    // malformed position.
    let alt_m = match alt.parse::<f64>() {
        Ok(a) if a.abs() <= MAX_UNCERTAINTY_M => Some(a),
        Ok(a) if a.is_finite() => {
            notes.push(PidfError::MeasureOverCap {
                element: "altitude",
            });
            None
        }
        Ok(_) => {
            notes.push(bad_number("altitude", alt));
            None
        }
        Err(_) => return Err(bad_number("pos", t.trim())),
    };
    make_pos(lat, lon, alt_m)
}

/// A measure child with its uom converted: `Length` → metres (0 to
/// [`MAX_UNCERTAINTY_M`]), `Angle` → degrees.
#[derive(Clone, Copy)]
enum Unit {
    Length,
    Angle,
}

/// A length that defines an area of uncertainty (Circle/Sphere radius, semi-major axis):
/// as [`measure`], and above 0.
fn extent(el: Node<'_, '_>, shape: &'static str, name: &'static str) -> Result<f64, PidfError> {
    let v = measure(el, shape, name, Unit::Length)?;
    if v >= MIN_UNCERTAINTY_M {
        Ok(v)
    } else {
        Err(PidfError::BadMeasure { element: name })
    }
}

fn measure(
    el: Node<'_, '_>,
    shape: &'static str,
    name: &'static str,
    unit: Unit,
) -> Result<f64, PidfError> {
    let m = one(el, shape, name)?;
    let v = number(m.text().unwrap_or(""), name)?;
    let uom = m
        .attribute("uom")
        .ok_or(PidfError::MissingUom { element: name })?;
    let code = uom.rsplit(':').next().unwrap_or("");
    let value = match (unit, code) {
        (Unit::Length, "9001") => {
            if v < 0.0 {
                return Err(PidfError::BadMeasure { element: name });
            }
            if v > MAX_UNCERTAINTY_M {
                return Err(PidfError::MeasureOverCap { element: name });
            }
            v
        }
        (Unit::Angle, "9102") => v,
        (Unit::Angle, "9101") => v.to_degrees(),
        _ => {
            return Err(PidfError::UnsupportedUom {
                element: name,
                uom: uom.chars().take(64).collect(),
            })
        }
    };
    Ok(value)
}

/// Positions of a `gml:Polygon`'s exterior `LinearRing`: either `gml:pos` children or
/// one `gml:posList` (RFC 5491 §5.2.2).
fn read_ring(
    poly: Node<'_, '_>,
    dims: Option<usize>,
    notes: &mut Vec<PidfError>,
) -> Result<Vec<Pos>, PidfError> {
    let dims = srs_dims(poly, dims)?;
    let ring = one(one(poly, "Polygon", "exterior")?, "Polygon", "LinearRing")?;
    let mut pts = Vec::new();
    if let Some(list) = ring
        .children()
        .find(|c| c.is_element() && c.name() == "posList")
    {
        // Text may be split by comments: concatenate all text descendants.
        let mut nums = Vec::new();
        for t in list.children().filter(Node::is_text) {
            for tok in t.text().unwrap_or("").split_ascii_whitespace() {
                if nums.len() > 3 * MAX_POLYGON_POINTS {
                    return Err(PidfError::BadPolygon(nums.len() / 2));
                }
                nums.push(number(tok, "posList")?);
            }
        }
        let d = dims.unwrap_or(2);
        if nums.len() % d != 0 {
            return Err(bad_number("posList", &format!("{} numbers", nums.len())));
        }
        for c in nums.chunks(d) {
            let alt = if d == 3 { c.get(2).copied() } else { None };
            if let [lat, lon, ..] = *c {
                pts.push(make_pos(lat, lon, alt)?);
            }
        }
    } else {
        for p in ring
            .children()
            .filter(|c| c.is_element() && c.name() == "pos")
        {
            if pts.len() == MAX_POLYGON_POINTS {
                return Err(PidfError::BadPolygon(pts.len() + 1));
            }
            pts.push(read_pos(p, dims, notes)?);
        }
    }
    if pts.len() < 4 || pts.len() > MAX_POLYGON_POINTS {
        return Err(PidfError::BadPolygon(pts.len()));
    }
    Ok(pts)
}

/// RFC 4119 GML 3.0 `gml:coordinates`: "37:46:30N 122:25:10W" (d:m:s + hemisphere) or
/// decimal degrees separated by space or comma.
fn read_coordinates(el: Node<'_, '_>) -> Result<Pos, PidfError> {
    let t = el.text().unwrap_or("");
    let toks: Vec<&str> = t
        .split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .take(4)
        .collect();
    let parse = |tok: &str| -> Result<f64, PidfError> {
        let (body, sign) = if let Some(b) = tok.strip_suffix(['N', 'n', 'E', 'e']) {
            (b, 1.0)
        } else if let Some(b) = tok.strip_suffix(['S', 's', 'W', 'w']) {
            (b, -1.0)
        } else {
            (tok, 1.0)
        };
        let mut deg = 0.0;
        let mut scale = 1.0;
        let mut parts = 0;
        for p in body.split(':') {
            parts += 1;
            if parts > 3 {
                return Err(bad_number("coordinates", t));
            }
            deg += number(p, "coordinates")? / scale;
            scale *= 60.0;
        }
        Ok(sign * deg)
    };
    match toks.as_slice() {
        [a, b] => make_pos(parse(a)?, parse(b)?, None),
        [a, b, c] => make_pos(parse(a)?, parse(b)?, Some(number(c, "coordinates")?)),
        _ => Err(bad_number("coordinates", t)),
    }
}

/// One RFC 5491 §5.2 shape. Notes that do not cost the shape (a reduced size, a missing
/// altitude) go to `notes`; see the [module docs](self) for the sanity rules.
fn read_shape(
    el: Node<'_, '_>,
    inherited_dims: Option<usize>,
    notes: &mut Vec<PidfError>,
) -> Result<Shape, PidfError> {
    let dims = srs_dims(el, inherited_dims)?;
    let name = el.name();
    // A shape around a centre: the centre must be valid; an unusable size keeps the
    // centre as a Point (uncertainty unknown) with the cause noted.
    let centred = |shape: &'static str,
                   notes: &mut Vec<PidfError>,
                   size: &dyn Fn(Pos) -> Result<Shape, PidfError>|
     -> Result<Shape, PidfError> {
        let center = read_pos(one(el, shape, "pos")?, dims, notes)?;
        Ok(size(center).unwrap_or_else(|cause| {
            notes.push(PidfError::ReducedToPoint {
                shape,
                cause: Box::new(cause),
            });
            Shape::Point { pos: center }
        }))
    };
    Ok(match name {
        "Point" => {
            let pos = match el
                .children()
                .find(|c| c.is_element() && c.name() == "coordinates")
            {
                Some(c) => read_coordinates(c)?,
                None => read_pos(one(el, "Point", "pos")?, dims, notes)?,
            };
            Shape::Point { pos }
        }
        "Circle" => centred("Circle", notes, &|center| {
            Ok(Shape::Circle {
                center,
                radius_m: extent(el, "Circle", "radius")?,
            })
        })?,
        "Sphere" => centred("Sphere", notes, &|center| {
            Ok(Shape::Sphere {
                center,
                radius_m: extent(el, "Sphere", "radius")?,
            })
        })?,
        "Ellipse" => centred("Ellipse", notes, &|center| {
            Ok(Shape::Ellipse {
                center,
                semi_major_m: extent(el, "Ellipse", "semiMajorAxis")?,
                semi_minor_m: measure(el, "Ellipse", "semiMinorAxis", Unit::Length)?,
                orientation_deg: measure(el, "Ellipse", "orientation", Unit::Angle)?,
            })
        })?,
        "Ellipsoid" => centred("Ellipsoid", notes, &|center| {
            Ok(Shape::Ellipsoid {
                center,
                semi_major_m: extent(el, "Ellipsoid", "semiMajorAxis")?,
                semi_minor_m: measure(el, "Ellipsoid", "semiMinorAxis", Unit::Length)?,
                vertical_axis_m: measure(el, "Ellipsoid", "verticalAxis", Unit::Length)?,
                orientation_deg: measure(el, "Ellipsoid", "orientation", Unit::Angle)?,
            })
        })?,
        "ArcBand" => {
            // Not reduced to its centre: that is the antenna, not the caller.
            let inner = measure(el, "ArcBand", "innerRadius", Unit::Length)?;
            let outer = measure(el, "ArcBand", "outerRadius", Unit::Length)?;
            if inner > outer {
                return Err(PidfError::BadMeasure {
                    element: "innerRadius",
                });
            }
            Shape::ArcBand {
                center: read_pos(one(el, "ArcBand", "pos")?, dims, notes)?,
                inner_radius_m: inner,
                outer_radius_m: outer,
                start_angle_deg: measure(el, "ArcBand", "startAngle", Unit::Angle)?,
                opening_angle_deg: measure(el, "ArcBand", "openingAngle", Unit::Angle)?,
            }
        }
        "Polygon" => covering(
            "Polygon",
            Shape::Polygon {
                exterior: read_ring(el, dims, notes)?,
            },
            notes,
        ),
        "Prism" => {
            let base = one(el, "Prism", "base")?;
            let poly = one(base, "Prism", "Polygon")?;
            covering(
                "Prism",
                Shape::Prism {
                    base: read_ring(poly, dims.or(Some(3)), notes)?,
                    height_m: measure(el, "Prism", "height", Unit::Length)?,
                },
                notes,
            )
        }
        other => return Err(PidfError::UnknownShape(other.chars().take(64).collect())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(shape: &str) -> String {
        format!(
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0" entity="pres:a@example.com"><tuple id="t"><status><gp:geopriv><gp:location-info>{shape}</gp:location-info><gp:usage-rules/></gp:geopriv></status></tuple></presence>"#
        )
    }

    #[test]
    fn radians_are_converted() {
        let p = Pidf::parse(&wrap(r#"<gs:Ellipse srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>1 2</gml:pos><gs:semiMajorAxis uom="urn:ogc:def:uom:EPSG::9001">10</gs:semiMajorAxis><gs:semiMinorAxis uom="urn:ogc:def:uom:EPSG::9001">5</gs:semiMinorAxis><gs:orientation uom="urn:ogc:def:uom:EPSG::9101">3.141592653589793</gs:orientation></gs:Ellipse>"#)).unwrap();
        match &p.locations[0].shape {
            Some(Shape::Ellipse {
                orientation_deg, ..
            }) => {
                assert!((orientation_deg - 180.0).abs() < 1e-9)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn typed_shape_errors() {
        let cases: Vec<(&str, PidfError)> = vec![
            // An ArcBand is never reduced to its centre (the antenna): its errors stand.
            (
                r#"<gs:ArcBand srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>1 2</gml:pos><gs:innerRadius>5</gs:innerRadius><gs:outerRadius uom="urn:ogc:def:uom:EPSG::9001">9</gs:outerRadius><gs:startAngle uom="urn:ogc:def:uom:EPSG::9102">0</gs:startAngle><gs:openingAngle uom="urn:ogc:def:uom:EPSG::9102">90</gs:openingAngle></gs:ArcBand>"#,
                PidfError::MissingUom {
                    element: "innerRadius",
                },
            ),
            (
                r#"<gs:ArcBand srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>1 2</gml:pos><gs:innerRadius uom="urn:ogc:def:uom:EPSG::9001">5</gs:innerRadius><gs:outerRadius uom="urn:ogc:def:uom:EPSG::9002">9</gs:outerRadius><gs:startAngle uom="urn:ogc:def:uom:EPSG::9102">0</gs:startAngle><gs:openingAngle uom="urn:ogc:def:uom:EPSG::9102">90</gs:openingAngle></gs:ArcBand>"#,
                PidfError::UnsupportedUom {
                    element: "outerRadius",
                    uom: "urn:ogc:def:uom:EPSG::9002".into(),
                },
            ),
            (
                r#"<gs:ArcBand srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>1 2</gml:pos><gs:innerRadius uom="urn:ogc:def:uom:EPSG::9001">5</gs:innerRadius><gs:outerRadius uom="urn:ogc:def:uom:EPSG::9001">1e308</gs:outerRadius><gs:startAngle uom="urn:ogc:def:uom:EPSG::9102">0</gs:startAngle><gs:openingAngle uom="urn:ogc:def:uom:EPSG::9102">90</gs:openingAngle></gs:ArcBand>"#,
                PidfError::MeasureOverCap {
                    element: "outerRadius",
                },
            ),
            // A Circle whose centre is broken has nothing to keep.
            (
                r#"<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>91 2</gml:pos><gs:radius uom="urn:ogc:def:uom:EPSG::9001">5</gs:radius></gs:Circle>"#,
                PidfError::CoordinateOutOfRange,
            ),
            (
                r#"<gml:Point srsName="urn:ogc:def:crs:EPSG::27700"><gml:pos>1 2</gml:pos></gml:Point>"#,
                PidfError::UnsupportedCrs("urn:ogc:def:crs:EPSG::27700".into()),
            ),
            (
                r#"<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>91 2</gml:pos></gml:Point>"#,
                PidfError::CoordinateOutOfRange,
            ),
            (
                r#"<gml:Polygon srsName="urn:ogc:def:crs:EPSG::4326"><gml:exterior><gml:LinearRing><gml:posList>1 2 3 4 1 2</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"#,
                PidfError::BadPolygon(3),
            ),
            (
                r#"<gml:LineString><gml:pos>1 2</gml:pos></gml:LineString>"#,
                PidfError::UnknownShape("LineString".into()),
            ),
        ];
        for (xml, want) in cases {
            assert_eq!(Pidf::parse(&wrap(xml)).unwrap_err(), want, "{xml}");
        }
    }

    const M: &str = "urn:ogc:def:uom:EPSG::9001";

    /// A Circle centred on 51.5 -0.1 with `radius` as given (`uom` attribute included
    /// when `Some`).
    fn circle(radius: &str, uom: Option<&str>) -> String {
        let uom = uom.map(|u| format!(" uom=\"{u}\"")).unwrap_or_default();
        wrap(&format!(
            r#"<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>51.5 -0.1</gml:pos><gs:radius{uom}>{radius}</gs:radius></gs:Circle>"#
        ))
    }

    #[test]
    fn unusable_circle_radius_keeps_the_centre_as_a_point() {
        let centre = Pos {
            lat: 51.5,
            lon: -0.1,
            alt_m: None,
        };
        let over = PidfError::MeasureOverCap { element: "radius" };
        let bad = PidfError::BadMeasure { element: "radius" };
        let cases: Vec<(String, PidfError)> = vec![
            (circle("1e308", Some(M)), over.clone()),
            (circle("100000.001", Some(M)), over),
            (circle("-5", Some(M)), bad.clone()),
            (circle("0", Some(M)), bad.clone()),
            (circle("1e-300", Some(M)), bad.clone()),
            (circle("0.0099", Some(M)), bad),
            (
                circle("NaN", Some(M)),
                PidfError::BadNumber {
                    element: "radius",
                    text: "NaN".into(),
                },
            ),
            (
                circle("inf", Some(M)),
                PidfError::BadNumber {
                    element: "radius",
                    text: "inf".into(),
                },
            ),
            // A radius in radians (an angle, not a length) or feet.
            (
                circle("0.001", Some("urn:ogc:def:uom:EPSG::9101")),
                PidfError::UnsupportedUom {
                    element: "radius",
                    uom: "urn:ogc:def:uom:EPSG::9101".into(),
                },
            ),
            (
                circle("5", Some("urn:ogc:def:uom:EPSG::9002")),
                PidfError::UnsupportedUom {
                    element: "radius",
                    uom: "urn:ogc:def:uom:EPSG::9002".into(),
                },
            ),
            (
                circle("5", None),
                PidfError::MissingUom { element: "radius" },
            ),
            (
                wrap(
                    r#"<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>51.5 -0.1</gml:pos></gs:Circle>"#,
                ),
                PidfError::MissingElement {
                    shape: "Circle",
                    element: "radius",
                },
            ),
        ];
        for (xml, cause) in cases {
            let p = Pidf::parse(&xml).unwrap_or_else(|e| panic!("{xml}: {e}"));
            assert_eq!(p.locations.len(), 1, "{xml}");
            assert_eq!(
                p.locations[0].shape,
                Some(Shape::Point { pos: centre }),
                "{xml}"
            );
            assert_eq!(
                p.errors,
                vec![PidfError::ReducedToPoint {
                    shape: "Circle",
                    cause: Box::new(cause)
                }],
                "{xml}"
            );
            assert_eq!(
                p.locations[0].shape.as_ref().unwrap().center_and_radius().1,
                None
            );
        }
        // The bounds themselves and an ordinary radius are kept as they are.
        for r in [100_000.0, 24.0, MIN_UNCERTAINTY_M] {
            let p = Pidf::parse(&circle(&r.to_string(), Some(M))).unwrap();
            assert!(p.errors.is_empty(), "{:?}", p.errors);
            assert_eq!(
                p.locations[0].shape,
                Some(Shape::Circle {
                    center: centre,
                    radius_m: r
                })
            );
        }
    }

    #[test]
    fn unusable_ellipse_and_sphere_sizes_keep_the_centre() {
        let e = Pidf::parse(&wrap(r#"<gs:Ellipse srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>1 2</gml:pos><gs:semiMajorAxis uom="urn:ogc:def:uom:EPSG::9001">2e5</gs:semiMajorAxis><gs:semiMinorAxis uom="urn:ogc:def:uom:EPSG::9001">5</gs:semiMinorAxis><gs:orientation uom="urn:ogc:def:uom:EPSG::9102">10</gs:orientation></gs:Ellipse>"#)).unwrap();
        assert!(matches!(
            e.locations[0].shape,
            Some(Shape::Point { pos: Pos { lat, lon, alt_m: None } }) if lat == 1.0 && lon == 2.0
        ));
        assert_eq!(
            e.errors,
            vec![PidfError::ReducedToPoint {
                shape: "Ellipse",
                cause: Box::new(PidfError::MeasureOverCap {
                    element: "semiMajorAxis"
                })
            }]
        );
        // A Sphere keeps its altitude when reduced.
        let s = Pidf::parse(&wrap(r#"<gs:Sphere srsName="urn:ogc:def:crs:EPSG::4979"><gml:pos>1 2 30</gml:pos><gs:radius uom="urn:ogc:def:uom:EPSG::9001">0</gs:radius></gs:Sphere>"#)).unwrap();
        assert_eq!(
            s.locations[0].shape,
            Some(Shape::Point {
                pos: Pos {
                    lat: 1.0,
                    lon: 2.0,
                    alt_m: Some(30.0)
                }
            })
        );
        assert_eq!(s.errors.len(), 1);
    }

    #[test]
    fn an_unusable_altitude_is_dropped_and_the_position_kept() {
        for (alt, note) in [
            (
                "1e308",
                PidfError::MeasureOverCap {
                    element: "altitude",
                },
            ),
            (
                "-1e300",
                PidfError::MeasureOverCap {
                    element: "altitude",
                },
            ),
            ("inf", bad_number("altitude", "inf")),
        ] {
            let p = Pidf::parse(&wrap(&format!(
                r#"<gml:Point srsName="urn:ogc:def:crs:EPSG::4979"><gml:pos>51.5 -0.1 {alt}</gml:pos></gml:Point>"#
            )))
            .unwrap();
            assert_eq!(
                p.locations[0].shape,
                Some(Shape::Point {
                    pos: Pos {
                        lat: 51.5,
                        lon: -0.1,
                        alt_m: None
                    }
                }),
                "{alt}"
            );
            assert_eq!(p.errors, vec![note], "{alt}");
        }
        // A plausible altitude (a tower block, a mine) stays.
        let p = Pidf::parse(&wrap(r#"<gml:Point srsName="urn:ogc:def:crs:EPSG::4979"><gml:pos>51.5 -0.1 -1200</gml:pos></gml:Point>"#)).unwrap();
        assert!(
            matches!(p.locations[0].shape, Some(Shape::Point { pos: Pos { alt_m: Some(a), .. } }) if a == -1200.0)
        );
        assert!(p.errors.is_empty());
    }

    /// A ring whose corners coincide would rank as an exact fix (radius 0) above every
    /// real one; a ring reaching beyond 100 km places nobody. Both keep the centre.
    #[test]
    fn a_polygon_without_a_usable_size_keeps_its_centre_as_a_point() {
        let poly = |pos_list: &str| {
            wrap(&format!(
                r#"<gml:Polygon srsName="urn:ogc:def:crs:EPSG::4326"><gml:exterior><gml:LinearRing><gml:posList>{pos_list}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"#
            ))
        };
        let same = "51.5 -0.1 51.5 -0.1 51.5 -0.1 51.5 -0.1";
        // ~1.1° of latitude: over 100 km from the centre.
        let huge = "50.0 -0.1 52.2 -0.1 52.2 0.0 50.0 -0.1";
        for (list, cause) in [
            (
                same,
                PidfError::BadMeasure {
                    element: "exterior",
                },
            ),
            (
                huge,
                PidfError::MeasureOverCap {
                    element: "exterior",
                },
            ),
        ] {
            let p = Pidf::parse(&poly(list)).unwrap();
            assert!(
                matches!(p.locations[0].shape, Some(Shape::Point { .. })),
                "{list}: {:?}",
                p.locations[0].shape
            );
            assert_eq!(
                p.errors,
                vec![PidfError::ReducedToPoint {
                    shape: "Polygon",
                    cause: Box::new(cause)
                }]
            );
        }
        // An ordinary ring (~100 m) stays a Polygon, its radius the farthest corner.
        let p = Pidf::parse(&poly("51.5 -0.1 51.501 -0.1 51.501 -0.099 51.5 -0.1")).unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let shape = p.locations[0].shape.as_ref().unwrap();
        assert!(matches!(shape, Shape::Polygon { .. }));
        let r = shape.center_and_radius().1.unwrap();
        assert!((40.0..120.0).contains(&r), "{r}");
    }

    #[test]
    fn a_polygon_across_the_antimeridian_is_centred_there() {
        let ring = |pts: &[(f64, f64)]| {
            pts.iter()
                .map(|&(lat, lon)| Pos {
                    lat,
                    lon,
                    alt_m: None,
                })
                .collect::<Vec<_>>()
        };
        // About 110 m by 220 m around 17° S 180° (Fiji).
        let s = Shape::Polygon {
            exterior: ring(&[
                (-17.0, 179.999),
                (-17.001, 179.999),
                (-17.001, -179.999),
                (-17.0, -179.999),
                (-17.0, 179.999),
            ]),
        };
        let (c, r) = s.center_and_radius();
        assert!((c.lat + 17.0005).abs() < 1e-9, "{c:?}");
        assert!((c.lon.abs() - 180.0).abs() < 1e-9, "{c:?}");
        let r = r.unwrap();
        assert!(r > 100.0 && r < 150.0, "{r}");
    }

    #[test]
    fn epsg_4979_with_two_coordinates_is_2d_with_a_note() {
        let p = Pidf::parse(&wrap(r#"<gml:Point srsName="urn:ogc:def:crs:EPSG::4979"><gml:pos>51.5 -0.1</gml:pos></gml:Point>"#)).unwrap();
        assert_eq!(
            p.locations[0].shape,
            Some(Shape::Point {
                pos: Pos {
                    lat: 51.5,
                    lon: -0.1,
                    alt_m: None
                }
            })
        );
        assert_eq!(
            p.errors,
            vec![PidfError::MissingAltitude { element: "pos" }]
        );
        // Three coordinates under 4979, and two under 4326: no note.
        for xml in [
            r#"<gml:Point srsName="urn:ogc:def:crs:EPSG::4979"><gml:pos>51.5 -0.1 20</gml:pos></gml:Point>"#,
            r#"<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>51.5 -0.1</gml:pos></gml:Point>"#,
        ] {
            assert!(Pidf::parse(&wrap(xml)).unwrap().errors.is_empty(), "{xml}");
        }
        // A 4979 Sphere with a 2D centre keeps its radius, noted.
        let s = Pidf::parse(&wrap(r#"<gs:Sphere srsName="urn:ogc:def:crs:EPSG::4979"><gml:pos>1 2</gml:pos><gs:radius uom="urn:ogc:def:uom:EPSG::9001">15</gs:radius></gs:Sphere>"#)).unwrap();
        assert!(matches!(
            s.locations[0].shape,
            Some(Shape::Sphere { radius_m, .. }) if radius_m == 15.0
        ));
        assert_eq!(
            s.errors,
            vec![PidfError::MissingAltitude { element: "pos" }]
        );
    }

    #[test]
    fn broken_location_is_recorded_and_good_one_kept() {
        let p = Pidf::parse(&wrap(r#"<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>x y</gml:pos></gml:Point></gp:location-info><gp:location-info><gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>51.5 -0.1</gml:pos></gml:Point>"#)).unwrap();
        assert_eq!(p.locations.len(), 1);
        assert_eq!(p.errors.len(), 1);
        assert!(matches!(
            p.errors[0],
            PidfError::BadNumber { element: "pos", .. }
        ));
    }

    #[test]
    fn not_pidf() {
        assert_eq!(
            Pidf::parse("<foo/>").unwrap_err(),
            PidfError::NotPidf("foo".into())
        );
        assert_eq!(
            Pidf::parse(r#"<presence xmlns="urn:ietf:params:xml:ns:pidf"/>"#).unwrap_err(),
            PidfError::NoLocation
        );
    }

    #[test]
    fn polygon_summary_is_centroid() {
        let s = Shape::Polygon {
            exterior: vec![
                Pos {
                    lat: 0.0,
                    lon: 0.0,
                    alt_m: None,
                },
                Pos {
                    lat: 0.0,
                    lon: 0.002,
                    alt_m: None,
                },
                Pos {
                    lat: 0.002,
                    lon: 0.002,
                    alt_m: None,
                },
                Pos {
                    lat: 0.002,
                    lon: 0.0,
                    alt_m: None,
                },
                Pos {
                    lat: 0.0,
                    lon: 0.0,
                    alt_m: None,
                },
            ],
        };
        let (c, r) = s.center_and_radius();
        assert!((c.lat - 0.001).abs() < 1e-12 && (c.lon - 0.001).abs() < 1e-12);
        // half-diagonal of a 222 m square ≈ 157 m
        let r = r.unwrap();
        assert!((r - 157.25).abs() < 0.5, "{r}");
    }
}
