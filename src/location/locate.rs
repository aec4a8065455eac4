//! Everything an INVITE says about where the caller is and who they are (RFC 6442 §4,
//! RFC 7852 §4, RFC 3325, RFC 7044), collected into one [`CallLocation`] without ever
//! failing: each problem becomes a [`LocationError`] and the call goes on (docs/DESIGN.md §5:
//! a broken location never blocks a 999 call).
//!
//! Works on the header values and body of an INVITE ([`InviteLocationInput`]), so tests
//! and fuzzers can drive it with strings; [`locate`] reads the same values straight from
//! a parsed [`Message`] (header lookup by the SIP layer, no intermediate `Vec`s).
//!
//! Order of work: `Geolocation` values (`cid:` → the body part with that Content-ID →
//! PIDF-LO; `https:`/`sip:` → kept for a later dereference), then `Call-Info` with
//! `purpose=EmergencyCallData.*` (`cid:` → body part → RFC 7852 block; other URIs →
//! references), then any `application/pidf+xml` or `application/EmergencyCallData.*`
//! part nobody referenced (real carriers send a Geolocation cid that matches no part
//! while the PIDF-LO is right there), `P-Asserted-Identity` for the callback number and
//! `History-Info` kept verbatim. The best location is the one with the smallest covering
//! radius (see [`LocationSummary`]).

use std::time::SystemTime;

use serde::Serialize;

use super::additional_data::{parse_additional_data, AdditionalData, AdditionalDataError};
use super::aml::AmlFix;
use super::header::{
    callback_number, parse_call_info, parse_geolocation_refs, parse_geolocation_routing,
    CallInfoValue, GeolocationKind, GeolocationValue, HeaderValueError,
};
use super::multipart::{cid_of, MediaType, Multipart, MultipartError, MultipartLimits, Part};
use super::pidf::{Location, Pidf, PidfError};
use super::summary::{better, LocationSummary, Source};
use crate::sip::{HeaderName, Message};

/// Most header values of each kind looked at (Geolocation, Call-Info, P-A-I, History-Info).
pub const MAX_HEADER_VALUES: usize = 32;

/// The parts of an INVITE that carry location and emergency data, as text borrowed from
/// the message. Build it with [`InviteLocationInput::from_message`] or by hand.
#[derive(Debug, Clone, Default)]
pub struct InviteLocationInput<'a> {
    /// Each `Geolocation` header value (RFC 6442 §4.1), in order.
    pub geolocation: Vec<&'a str>,
    /// The `Geolocation-Routing` header value (RFC 6442 §4.2), if any.
    pub geolocation_routing: Option<&'a str>,
    /// Each `Call-Info` header value (RFC 3261 §20.9), in order.
    pub call_info: Vec<&'a str>,
    /// Each `P-Asserted-Identity` header value (RFC 3325 §9.1).
    pub p_asserted_identity: Vec<&'a str>,
    /// Each `History-Info` header value (RFC 7044 §4.1).
    pub history_info: Vec<&'a str>,
    /// The message's `Content-Type` value, if it has a body.
    pub content_type: Option<&'a str>,
    /// The message's `Content-ID` value (a single, non-multipart PIDF-LO body may be
    /// referenced by it).
    pub content_id: Option<&'a str>,
    /// The message body.
    pub body: &'a [u8],
}

impl<'a> InviteLocationInput<'a> {
    /// Takes the header lines (at most [`MAX_HEADER_VALUES`] of each) and body of a
    /// parsed SIP message.
    pub fn from_message(msg: &'a Message) -> InviteLocationInput<'a> {
        let all = |n: HeaderName| msg.get_all(n).take(MAX_HEADER_VALUES).collect::<Vec<_>>();
        InviteLocationInput {
            geolocation: all(HeaderName::Geolocation),
            geolocation_routing: msg.get(HeaderName::GeolocationRouting),
            call_info: all(HeaderName::CallInfo),
            p_asserted_identity: all(HeaderName::PAssertedIdentity),
            history_info: all(HeaderName::HistoryInfo),
            content_type: msg.get(HeaderName::ContentType),
            content_id: msg.header("Content-ID"),
            body: msg.body(),
        }
    }
}

/// Collects location, additional data, callback number and History-Info from a parsed
/// INVITE. Never fails: problems are in [`CallLocation::errors`].
pub fn locate(msg: &Message) -> CallLocation {
    // Straight from the message's header lookups: no intermediate `Vec`s.
    locate_sources(Sources {
        geolocation: msg.get_all(HeaderName::Geolocation),
        geolocation_routing: msg.get(HeaderName::GeolocationRouting),
        call_info: msg.get_all(HeaderName::CallInfo),
        p_asserted_identity: msg.get_all(HeaderName::PAssertedIdentity),
        history_info: msg.get_all(HeaderName::HistoryInfo),
        content_type: msg.get(HeaderName::ContentType),
        // Looked up only for a single-part PIDF-LO body (the only use).
        content_id: || msg.header("Content-ID"),
        body: msg.body(),
    })
}

/// What [`locate_input`] reads, with each multi-valued header as an iterator (so
/// [`locate`] needs no intermediate `Vec`s).
struct Sources<'a, G, C, P, H, I> {
    geolocation: G,
    geolocation_routing: Option<&'a str>,
    call_info: C,
    p_asserted_identity: P,
    history_info: H,
    content_type: Option<&'a str>,
    content_id: I,
    body: &'a [u8],
}

/// A location problem, recorded on the call (never fatal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// A `Geolocation` value that does not parse.
    #[error("Geolocation header: {0}")]
    Geolocation(HeaderValueError),
    /// A `Geolocation-Routing` value that does not parse.
    #[error("Geolocation-Routing header: {0}")]
    GeolocationRouting(HeaderValueError),
    /// A `Call-Info` value that does not parse.
    #[error("Call-Info header: {0}")]
    CallInfo(HeaderValueError),
    /// The body could not be split into parts.
    #[error("body: {0}")]
    Multipart(MultipartError),
    /// The body's boundary parameter did not match the body (the real one was used).
    #[error("multipart boundary parameter does not match the body")]
    BoundaryMismatch,
    /// The body ended before its close delimiter (truncated).
    #[error("multipart body is truncated (no close delimiter)")]
    TruncatedBody,
    /// A `cid:` URI (Geolocation or Call-Info) names no body part.
    #[error("{uri} names no body part")]
    CidNotFound {
        /// The URI.
        uri: String,
    },
    /// The body had more than `limit` parts (RFC 2046 §5.1); the first `limit` were
    /// examined and the rest ignored.
    #[error("body has more than {limit} parts; parts after the {} ignored", ordinal(*.limit))]
    PartsIgnored {
        /// The part limit ([`MultipartLimits::max_parts`]).
        limit: usize,
    },
    /// A `cid:` URI names none of the first `limit` parts; the body had more parts,
    /// which were not examined, so the part may exist beyond the limit.
    #[error("{uri} names none of the first {limit} body parts (later parts not examined)")]
    CidNotExamined {
        /// The URI.
        uri: String,
        /// The part limit.
        limit: usize,
    },
    /// A PIDF-LO (referenced by `cid`, or found unreferenced when `None`) that does not
    /// parse.
    #[error("PIDF-LO {}: {error}", part_name(.cid))]
    Pidf {
        /// Content-ID of the part, if it has one.
        cid: Option<String>,
        /// What is wrong.
        error: PidfError,
    },
    /// A body part that is not UTF-8 text where XML was expected.
    #[error("{} is not UTF-8", part_name(.cid))]
    NotUtf8 {
        /// Content-ID of the part, if any.
        cid: Option<String>,
    },
    /// An additional-data block that does not parse.
    #[error("additional data {purpose}: {error}")]
    AdditionalData {
        /// The purpose or content type it was found under.
        purpose: String,
        /// What is wrong.
        error: AdditionalDataError,
    },
    /// A `Geolocation` URI with a scheme that is neither `cid` nor dereferenceable.
    #[error("unsupported Geolocation URI {0}")]
    UnsupportedGeolocation(String),
    /// The INVITE's body (SDP, PIDF-LO, additional data) was set aside, truncated in
    /// transit or too large (RFC 3261 §18.3): no location by value; references in the
    /// headers still count.
    #[error("{0}")]
    BodyDropped(crate::sip::DroppedBody),
    /// The INVITE datagram's framing was repaired before it could be parsed (UDP, RFC
    /// 3261 §18.3: `crate::sip::lenient`); with `Content-Length` dropped the body, and any
    /// location by value in it, is the rest of the datagram.
    #[error("{0}")]
    FramingRepaired(crate::sip::lenient::Repairs),
}

/// A PIDF-LO location found in the INVITE.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoundLocation {
    /// The location.
    pub location: Location,
    /// PIDF `entity` of its document.
    pub entity: Option<String>,
    /// Content-ID of the body part it came from.
    pub cid: Option<String>,
    /// `true` when a Geolocation `cid:` named its part; `false` for an unreferenced part.
    pub referenced: bool,
}

/// One RFC 7852 additional-data item: parsed by value, or a reference to fetch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdditionalDataItem {
    /// The Call-Info purpose (`EmergencyCallData.ProviderInfo`) or the part's content
    /// type for an unreferenced part.
    pub purpose: String,
    /// The URI (`cid:…` by value, `https:…` by reference), if from Call-Info.
    pub uri: Option<String>,
    /// The parsed block when by value.
    pub data: Option<AdditionalData>,
}

/// Everything [`locate_input`] found.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CallLocation {
    /// PIDF-LO locations by value, in the order found.
    pub locations: Vec<FoundLocation>,
    /// Index into `locations` of the best one.
    pub best: Option<usize>,
    /// Geolocation URIs to dereference later (HELD / SIP presence), in order.
    pub references: Vec<GeolocationValue>,
    /// `Geolocation-Routing` (RFC 6442 §4.2): may the location be used for routing.
    pub routing_allowed: Option<bool>,
    /// RFC 7852 additional data.
    pub additional_data: Vec<AdditionalDataItem>,
    /// Other `Call-Info` values (e.g. `nena-CallId`, `nena-IncidentId`).
    pub call_info: Vec<CallInfoValue>,
    /// Callback number from `P-Asserted-Identity` (tel, or sip with user=phone).
    pub callback_number: Option<String>,
    /// `History-Info` values as received.
    pub history_info: Vec<String>,
    /// What went wrong; the call proceeds regardless.
    #[serde(serialize_with = "errors_as_strings")]
    pub errors: Vec<LocationError>,
}

fn errors_as_strings<S: serde::Serializer>(
    errors: &[LocationError],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(errors.iter().map(ToString::to_string))
}

impl CallLocation {
    /// The best PIDF-LO location, if any.
    pub fn best_location(&self) -> Option<&FoundLocation> {
        self.best.and_then(|i| self.locations.get(i))
    }

    /// Summary of the best location among the INVITE's PIDF-LO and an AML fix (e.g.
    /// `AmlStore::best`), for the API and console; `now` gives the age.
    pub fn summary(&self, aml: Option<&AmlFix>, now: SystemTime) -> Option<LocationSummary> {
        let pidf = self
            .best_location()
            .map(|l| LocationSummary::from_pidf(&l.location, Source::PidfLoByValue, now));
        let aml = aml.and_then(|f| LocationSummary::from_aml(f, now));
        match (pidf, aml) {
            (Some(p), Some(a)) => Some(if better(&a, &p) { a } else { p }),
            (p, a) => p.or(a),
        }
    }
}

/// `true` for `application/pidf+xml`.
/// The error for a `cid:` URI matching no examined part: "names no body part" only when
/// every part was examined.
fn cid_missing(uri: String, parts_ignored: bool, limits: &MultipartLimits) -> LocationError {
    if parts_ignored {
        LocationError::CidNotExamined {
            uri,
            limit: limits.max_parts,
        }
    } else {
        LocationError::CidNotFound { uri }
    }
}

/// How an error names a body part: `part <loc@x>` (its Content-ID, RFC 2045 §7, with
/// control characters escaped) or `part without Content-ID`.
fn part_name(cid: &Option<String>) -> String {
    match cid {
        Some(c) => format!("part <{}>", c.escape_debug()),
        None => "part without Content-ID".to_owned(),
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, … `11th`, `12th`, `13th`, `21st`, `32nd`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn is_pidf(mt: &MediaType<'_>) -> bool {
    mt.is("application", "pidf+xml")
}

/// `true` for `application/EmergencyCallData.*+xml` (RFC 7852 §11.1).
fn is_additional_data(mt: &MediaType<'_>) -> bool {
    mt.is_emergency_call_data()
}

/// Collects location, additional data, callback number and History-Info from an INVITE.
/// Never fails: problems are in [`CallLocation::errors`].
pub fn locate_input(input: &InviteLocationInput<'_>) -> CallLocation {
    locate_sources(Sources {
        geolocation: input.geolocation.iter().copied(),
        geolocation_routing: input.geolocation_routing,
        call_info: input.call_info.iter().copied(),
        p_asserted_identity: input.p_asserted_identity.iter().copied(),
        history_info: input.history_info.iter().copied(),
        content_type: input.content_type,
        content_id: || input.content_id,
        body: input.body,
    })
}

fn locate_sources<'a, G, C, P, H, I>(input: Sources<'a, G, C, P, H, I>) -> CallLocation
where
    I: FnOnce() -> Option<&'a str>,
    G: Iterator<Item = &'a str>,
    C: Iterator<Item = &'a str>,
    P: Iterator<Item = &'a str>,
    H: Iterator<Item = &'a str>,
{
    let mut out = CallLocation::default();
    let limits = MultipartLimits::default();

    // Body: multipart, a single PIDF-LO, or something else (SDP only).
    let mut single: Option<Part<'_>> = None;
    let mut multipart: Option<Multipart<'_>> = None;
    if let Some(ct) = input.content_type {
        match MediaType::parse(ct) {
            Some(mt) if mt.is_type("multipart") => {
                match Multipart::parse_typed(&mt, input.body, &limits) {
                    Ok(mp) => {
                        if mp.parts_ignored {
                            out.errors.push(LocationError::PartsIgnored {
                                limit: limits.max_parts,
                            });
                        }
                        if mp.boundary_mismatch {
                            out.errors.push(LocationError::BoundaryMismatch);
                        }
                        if mp.unterminated {
                            out.errors.push(LocationError::TruncatedBody);
                        }
                        multipart = Some(mp);
                    }
                    Err(e) => out.errors.push(LocationError::Multipart(e)),
                }
            }
            Some(mt) if is_pidf(&mt) => {
                let mut headers = vec![("Content-Type", ct)];
                if let Some(cid) = (input.content_id)() {
                    headers.push(("Content-ID", cid));
                }
                single = Some(Part {
                    headers,
                    body: input.body,
                });
            }
            _ => {}
        }
    }
    let parts: &[Part<'_>] = match (&multipart, &single) {
        (Some(mp), _) => &mp.parts,
        (None, Some(p)) => std::slice::from_ref(p),
        (None, None) => &[],
    };
    let parts_ignored = multipart.as_ref().is_some_and(|m| m.parts_ignored);
    // Which parts a URI named; on the stack for the usual handful of parts.
    let mut used_inline = [false; 32];
    let mut used_heap = Vec::new();
    let used: &mut [bool] = match used_inline.get_mut(..parts.len()) {
        Some(u) => u,
        None => {
            used_heap.resize(parts.len(), false);
            &mut used_heap
        }
    };
    let find_cid = |uri: &str| -> Option<usize> {
        let wanted = cid_of(uri)?;
        parts
            .iter()
            .position(|p| p.content_id().is_some_and(|c| c == wanted.as_ref()))
    };

    // Geolocation (RFC 6442 §4.1).
    for value in input.geolocation.take(MAX_HEADER_VALUES) {
        let (first, rest) = match parse_geolocation_refs(value) {
            Ok(v) => v,
            Err(e) => {
                out.errors.push(LocationError::Geolocation(e));
                continue;
            }
        };
        for g in std::iter::once(first).chain(rest) {
            match g.kind {
                GeolocationKind::ByValue => match find_cid(g.uri) {
                    Some(i) => {
                        if used.get(i) == Some(&false) {
                            if let Some(flag) = used.get_mut(i) {
                                *flag = true;
                            }
                            if let Some(part) = parts.get(i) {
                                read_pidf_part(part, true, &mut out);
                            }
                        }
                    }
                    None => out
                        .errors
                        .push(cid_missing(g.uri.to_owned(), parts_ignored, &limits)),
                },
                GeolocationKind::ByReference => {
                    if out.references.len() < MAX_HEADER_VALUES {
                        out.references.push(g.into_owned());
                    }
                }
                GeolocationKind::Unsupported => out
                    .errors
                    .push(LocationError::UnsupportedGeolocation(g.uri.to_owned())),
            }
        }
    }
    if let Some(r) = input.geolocation_routing {
        match parse_geolocation_routing(r) {
            Ok(v) => out.routing_allowed = Some(v),
            Err(e) => out.errors.push(LocationError::GeolocationRouting(e)),
        }
    }

    // Call-Info (RFC 7852 §4.1).
    for value in input.call_info.take(MAX_HEADER_VALUES) {
        let values = match parse_call_info(value) {
            Ok(v) => v,
            Err(e) => {
                out.errors.push(LocationError::CallInfo(e));
                continue;
            }
        };
        for ci in values {
            if ci.emergency_call_data().is_none() {
                if out.call_info.len() < MAX_HEADER_VALUES {
                    out.call_info.push(ci);
                }
                continue;
            }
            let purpose = ci.purpose.clone().unwrap_or_default();
            if cid_of(&ci.uri).is_some() {
                match find_cid(&ci.uri) {
                    Some(i) => {
                        if let Some(flag) = used.get_mut(i) {
                            *flag = true;
                        }
                        let data = parts
                            .get(i)
                            .and_then(|part| read_block(part, &purpose, &mut out));
                        out.additional_data.push(AdditionalDataItem {
                            purpose,
                            uri: Some(ci.uri),
                            data,
                        });
                    }
                    None => out.errors.push(cid_missing(ci.uri, parts_ignored, &limits)),
                }
            } else if out.additional_data.len() < MAX_HEADER_VALUES {
                out.additional_data.push(AdditionalDataItem {
                    purpose,
                    uri: Some(ci.uri),
                    data: None,
                });
            }
        }
    }

    // Parts nobody referenced.
    for (i, part) in parts.iter().enumerate() {
        if used.get(i) != Some(&false) {
            continue;
        }
        let Some(mt) = part.media_type() else {
            continue;
        };
        if is_pidf(&mt) {
            read_pidf_part(part, false, &mut out);
        } else if is_additional_data(&mt) {
            let purpose = part.content_type().split(';').next().unwrap_or("").trim();
            let data = read_block(part, purpose, &mut out);
            out.additional_data.push(AdditionalDataItem {
                purpose: purpose.to_owned(),
                uri: part.content_id().map(|c| format!("cid:{c}")),
                data,
            });
        }
    }

    out.callback_number = input
        .p_asserted_identity
        .take(MAX_HEADER_VALUES)
        .find_map(callback_number);
    out.history_info = input
        .history_info
        .take(MAX_HEADER_VALUES)
        .map(str::to_owned)
        .collect();

    out.best = best_index(&out.locations);
    out
}

fn read_pidf_part(part: &Part<'_>, referenced: bool, out: &mut CallLocation) {
    let cid = part.content_id().map(str::to_owned);
    let Some(text) = part.text() else {
        out.errors.push(LocationError::NotUtf8 { cid });
        return;
    };
    match Pidf::parse(text) {
        Ok(pidf) => {
            for error in pidf.errors {
                out.errors.push(LocationError::Pidf {
                    cid: cid.clone(),
                    error,
                });
            }
            // Move the entity and cid into the last location instead of cloning them.
            let (mut entity, mut cid) = (pidf.entity, cid);
            let n = pidf.locations.len();
            if out.locations.is_empty() {
                // Sized once (the growth path of `push` costs more than the allocation).
                out.locations = Vec::with_capacity(n);
            }
            for (i, location) in pidf.locations.into_iter().enumerate() {
                let last = i + 1 == n;
                out.locations.push(FoundLocation {
                    location,
                    entity: if last { entity.take() } else { entity.clone() },
                    cid: if last { cid.take() } else { cid.clone() },
                    referenced,
                });
            }
        }
        Err(error) => out.errors.push(LocationError::Pidf { cid, error }),
    }
}

fn read_block(part: &Part<'_>, purpose: &str, out: &mut CallLocation) -> Option<AdditionalData> {
    let Some(text) = part.text() else {
        out.errors.push(LocationError::NotUtf8 {
            cid: part.content_id().map(str::to_owned),
        });
        return None;
    };
    match parse_additional_data(text) {
        Ok(d) => Some(d),
        Err(error) => {
            out.errors.push(LocationError::AdditionalData {
                purpose: purpose.to_owned(),
                error,
            });
            None
        }
    }
}

/// Rank of a location (lower is better), as [`LocationSummary`] ranks: geodetic with a
/// radius by radius, then geodetic without, then civic only; ties by newer timestamp.
fn rank(l: &Location) -> (u8, f64, i64) {
    let (class, radius) = match &l.shape {
        Some(s) => match s.center_and_radius().1 {
            Some(r) => (0, r),
            None => (1, f64::MAX),
        },
        None if l.civic.as_ref().is_some_and(|c| !c.fields.is_empty()) => (2, f64::MAX),
        None => (3, f64::MAX),
    };
    (class, radius, -l.timestamp_ms.unwrap_or(i64::MIN + 1))
}

fn best_index(locs: &[FoundLocation]) -> Option<usize> {
    let mut best: Option<(usize, (u8, f64, i64))> = None;
    for (i, l) in locs.iter().enumerate() {
        let r = rank(&l.location);
        let replace = match &best {
            None => true,
            Some((bi, b)) => {
                let better = r.0 < b.0 || (r.0 == b.0 && (r.1 < b.1 || (r.1 == b.1 && r.2 < b.2)));
                let tie = r.0 == b.0 && r.1 == b.1 && r.2 == b.2;
                let held_referenced = locs.get(*bi).is_some_and(|b| b.referenced);
                better || (tie && l.referenced && !held_referenced)
            }
        };
        if replace {
            best = Some((i, r));
        }
    }
    best.map(|(i, _)| i)
}
