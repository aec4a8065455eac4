//! The location summary the HTTP API and the console show (docs/DESIGN.md §5, §8): one JSON
//! object per location with units in field names — `lat`, `lon`, `radius_m`,
//! `confidence_pct`, civic fields, `source`, `method`, `timestamp_ms`, `age_s`.
//!
//! Built from a PIDF-LO [`Location`] (RFC 5491 shape reduced to a point and a covering
//! radius, see [`Shape::center_and_radius`]) or an AML fix. `age_s` is computed from a
//! wall-clock `now` passed in; nothing here reads a clock.
//!
//! The engine core has no wall clock, so the summaries it keeps carry `timestamp_ms` and
//! `age_s: None`; the layer that renders them (HTTP API, console) fills `age_s` at render
//! time with [`LocationSummary::with_age_at`]`(now_unix_ms)` (or reads
//! [`LocationSummary::age_s_at`]).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::aml::AmlFix;
use super::pidf::{Location, Shape};

/// Where a location came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// PIDF-LO in the INVITE body (RFC 6442 §4.1 `cid:`), or an unreferenced
    /// `application/pidf+xml` part.
    PidfLoByValue,
    /// PIDF-LO obtained by dereferencing a Geolocation URI (HELD, RFC 5985).
    PidfLoByReference,
    /// AML from the handset (ETSI TS 103 625).
    Aml,
}

/// JSON summary of one location.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationSummary {
    /// Latitude, degrees (WGS 84); `None` for a civic-only location.
    pub lat: Option<f64>,
    /// Longitude, degrees.
    pub lon: Option<f64>,
    /// Altitude, m.
    pub alt_m: Option<f64>,
    /// Radius of a circle covering the reported area, m; `None` when unknown (Point).
    pub radius_m: Option<f64>,
    /// Confidence that the caller is inside the area, %.
    pub confidence_pct: Option<f64>,
    /// RFC 5491 shape name (`Circle`, `Polygon`…), if geodetic.
    pub shape: Option<&'static str>,
    /// Civic address fields by element name (`country`, `A1`, `A3`, `RD`, `HNO`, `PC`…).
    pub civic: BTreeMap<String, String>,
    /// Where it came from.
    pub source: Source,
    /// Positioning method (`GPS`, `Wiremap`, `gnss`, `wifi`…).
    pub method: Option<String>,
    /// When the position was determined, Unix ms.
    pub timestamp_ms: Option<i64>,
    /// Seconds between `timestamp_ms` and `now` (0 when the timestamp is in the future).
    pub age_s: Option<f64>,
}

fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

fn age_s(timestamp_ms: Option<i64>, now: SystemTime) -> Option<f64> {
    age_s_between(timestamp_ms, unix_ms(now))
}

/// Seconds from `timestamp_ms` to `now_unix_ms` (both Unix ms), 0 when the timestamp is
/// in the future (a skewed handset clock); `None` without a timestamp.
pub fn age_s_between(timestamp_ms: Option<i64>, now_unix_ms: i64) -> Option<f64> {
    timestamp_ms.map(|t| now_unix_ms.saturating_sub(t).max(0) as f64 / 1000.0)
}

impl LocationSummary {
    /// Summary of a PIDF-LO location.
    pub fn from_pidf(loc: &Location, source: Source, now: SystemTime) -> LocationSummary {
        let (center, radius) = match &loc.shape {
            Some(s) => {
                let (c, r) = s.center_and_radius();
                (Some(c), r)
            }
            None => (None, None),
        };
        let civic = loc
            .civic
            .iter()
            .flat_map(|c| c.fields.iter())
            .map(|f| (f.name.clone(), f.value.clone()))
            .collect();
        LocationSummary {
            lat: center.map(|c| c.lat),
            lon: center.map(|c| c.lon),
            alt_m: center.and_then(|c| c.alt_m),
            radius_m: radius,
            confidence_pct: loc.confidence_pct,
            shape: loc.shape.as_ref().map(Shape::name),
            civic,
            source,
            method: loc.method.clone(),
            timestamp_ms: loc.timestamp_ms,
            age_s: age_s(loc.timestamp_ms, now),
        }
    }

    /// Summary of an AML fix; `None` when it carries no position.
    pub fn from_aml(fix: &AmlFix, now: SystemTime) -> Option<LocationSummary> {
        let p = fix.position?;
        Some(LocationSummary {
            lat: Some(p.lat),
            lon: Some(p.lon),
            alt_m: fix.altitude_m,
            radius_m: p.radius_m,
            confidence_pct: fix.confidence_pct,
            shape: Some("Circle"),
            civic: BTreeMap::new(),
            source: Source::Aml,
            method: Some(fix.method.as_str().to_owned()),
            timestamp_ms: fix.time_of_positioning_ms,
            age_s: age_s(fix.time_of_positioning_ms, now),
        })
    }

    /// Age of the fix, s, at the wall-clock time `now_unix_ms` (Unix ms): from
    /// `timestamp_ms` (PIDF-LO `<timestamp>`, RFC 3863 §4.1.7; AML `top`), 0 when the
    /// timestamp is ahead of `now_unix_ms`, `None` when there is no timestamp.
    pub fn age_s_at(&self, now_unix_ms: i64) -> Option<f64> {
        age_s_between(self.timestamp_ms, now_unix_ms)
    }

    /// This summary with `age_s` set for `now_unix_ms` (Unix ms) — what the API and
    /// console call when they render a summary the engine stored without an age.
    #[must_use]
    pub fn with_age_at(mut self, now_unix_ms: i64) -> LocationSummary {
        self.age_s = self.age_s_at(now_unix_ms);
        self
    }

    /// Rank for choosing the best location (lower is better): geodetic with a known
    /// radius by radius, then geodetic without radius, then civic only; ties by newer
    /// timestamp.
    pub(crate) fn rank(&self) -> (u8, f64, i64) {
        let class = match (self.lat.is_some(), self.radius_m) {
            (true, Some(_)) => 0,
            (true, None) => 1,
            (false, _) if !self.civic.is_empty() => 2,
            _ => 3,
        };
        (
            class,
            self.radius_m.unwrap_or(f64::MAX),
            -self.timestamp_ms.unwrap_or(i64::MIN + 1),
        )
    }
}

/// `true` when `a` ranks strictly better than `b` (see [`LocationSummary::rank`]).
pub(crate) fn better(a: &LocationSummary, b: &LocationSummary) -> bool {
    let (ra, rb) = (a.rank(), b.rank());
    ra.0 < rb.0 || (ra.0 == rb.0 && (ra.1 < rb.1 || (ra.1 == rb.1 && ra.2 < rb.2)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::aml::parse_sms_text;
    use std::time::Duration;

    #[test]
    fn aml_summary_age_and_json() {
        let fix = parse_sms_text(
            "A\"ML=1;lt=+55.74317;lg=-4.26881;rd=50;top=20130717141935;lc=90;pm=W;ml=1",
        )
        .unwrap();
        let now = UNIX_EPOCH + Duration::from_millis(1_374_070_775_000 + 42_500);
        let s = LocationSummary::from_aml(&fix, now).unwrap();
        assert_eq!(s.age_s, Some(42.5));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["lat"], 55.74317);
        assert_eq!(json["lon"], -4.26881);
        assert_eq!(json["radius_m"], 50.0);
        assert_eq!(json["confidence_pct"], 90.0);
        assert_eq!(json["source"], "aml");
        assert_eq!(json["method"], "wifi");
        assert_eq!(json["age_s"], 42.5);
        // A timestamp ahead of `now` (skewed handset clock) gives age 0, not negative.
        let early = UNIX_EPOCH + Duration::from_millis(1_374_070_775_000 - 5_000);
        assert_eq!(
            LocationSummary::from_aml(&fix, early).unwrap().age_s,
            Some(0.0)
        );
    }

    #[test]
    fn age_filled_at_render_time() {
        // As the engine stores it: timestamp kept, no age (no wall clock in the core).
        let fix = parse_sms_text(
            "A\"ML=1;lt=+55.74317;lg=-4.26881;rd=50;top=20130717141935;lc=90;pm=W;ml=1",
        )
        .unwrap();
        let mut stored = LocationSummary::from_aml(&fix, UNIX_EPOCH).unwrap();
        stored.age_s = None;
        assert_eq!(stored.timestamp_ms, Some(1_374_070_775_000));
        let now_ms = 1_374_070_775_000 + 90_250;
        assert_eq!(stored.age_s_at(now_ms), Some(90.25));
        let rendered = stored.clone().with_age_at(now_ms);
        assert_eq!(serde_json::to_value(&rendered).unwrap()["age_s"], 90.25);
        assert_eq!(stored.age_s_at(1_374_070_775_000 - 1), Some(0.0));
        let no_time = LocationSummary {
            timestamp_ms: None,
            ..stored
        };
        assert_eq!(no_time.with_age_at(now_ms).age_s, None);
    }
}
