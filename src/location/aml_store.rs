//! Correlation of AML fixes (ETSI TS 103 625) with calls, sans-IO.
//!
//! AML reports arrive separately from the call (by SMS or HTTPS, typically seconds after
//! the INVITE, often several per call). The store keeps, per caller number, the best fix
//! received within a time window: smallest accuracy radius first, then the newest time of
//! positioning (then the latest received). A call asks for its caller's best fix with
//! [`AmlStore::best`]; a fix arriving for a live call is matched by the runtime using the
//! same [`caller_key`]. Time is passed in (`now: Instant`); memory is bounded by
//! [`AmlStore::new`]'s `max_callers`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::aml::{parse_https_form, parse_sms_text, AmlError, AmlFix};

/// Number of trailing digits compared when matching caller numbers: enough to tell
/// subscribers apart, few enough that `+44 7477 593102` and `07477 593102` match.
pub const CALLER_KEY_DIGITS: usize = 10;

/// The matching key of a caller number: its last [`CALLER_KEY_DIGITS`] digits (all digits
/// when shorter). `None` when the number has no digit.
pub fn caller_key(number: &str) -> Option<String> {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let start = digits.len().saturating_sub(CALLER_KEY_DIGITS);
    Some(digits.get(start..).unwrap_or_default().iter().collect())
}

/// What [`AmlStore::ingest`] did with a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// First fix for this caller in the window.
    First,
    /// Better than the fix held: replaced it.
    Improved,
    /// Not better than the fix held: only counted.
    Kept,
    /// The caller number has no digits, or the fix has no position: ignored.
    Ignored,
}

#[derive(Debug, Clone)]
struct Entry {
    best: AmlFix,
    best_received: Instant,
    last_received: Instant,
    reports: u32,
}

/// Per-caller best AML fix within a window.
#[derive(Debug, Clone)]
pub struct AmlStore {
    window: Duration,
    max_callers: usize,
    entries: HashMap<String, Entry>,
    /// (first-received, key) in arrival order, for expiry and eviction.
    order: VecDeque<(Instant, String)>,
}

impl AmlStore {
    /// A store keeping fixes for `window` after the last report for a caller, for at most
    /// `max_callers` callers (the oldest is evicted beyond that).
    pub fn new(window: Duration, max_callers: usize) -> AmlStore {
        AmlStore {
            window,
            max_callers: max_callers.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Number of callers with a fix held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when no fix is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records `fix` for `caller` received at `now`, keeping it if it beats the held fix.
    pub fn ingest(&mut self, now: Instant, caller: &str, fix: AmlFix) -> IngestOutcome {
        self.expire(now);
        let Some(key) = caller_key(caller) else {
            return IngestOutcome::Ignored;
        };
        if fix.position.is_none() {
            return IngestOutcome::Ignored;
        }
        if let Some(e) = self.entries.get_mut(&key) {
            e.last_received = now;
            e.reports = e.reports.saturating_add(1);
            if better(&fix, &e.best) {
                e.best = fix;
                e.best_received = now;
                return IngestOutcome::Improved;
            }
            return IngestOutcome::Kept;
        }
        while self.entries.len() >= self.max_callers {
            match self.order.pop_front() {
                Some((_, k)) => {
                    self.entries.remove(&k);
                }
                None => break,
            }
        }
        self.order.push_back((now, key.clone()));
        self.entries.insert(
            key,
            Entry {
                best: fix,
                best_received: now,
                last_received: now,
                reports: 1,
            },
        );
        IngestOutcome::First
    }

    /// Ingests an HTTPS AML POST body (what `POST /api/aml` calls): parses it, checks the
    /// HMAC when `hmac_key` is configured, and files it under its `device_number`.
    /// Returns what happened and the caller number it was filed under.
    ///
    /// # Errors
    /// Any [`AmlError`] from [`parse_https_form`];
    /// [`AmlError::MissingField`]`("device_number")` when the body names no caller.
    pub fn ingest_https_form(
        &mut self,
        now: Instant,
        body: &[u8],
        hmac_key: Option<&[u8]>,
    ) -> Result<(IngestOutcome, String), AmlError> {
        let fix = parse_https_form(body, hmac_key)?;
        let caller = fix
            .device_number
            .clone()
            .ok_or(AmlError::MissingField("device_number"))?;
        Ok((self.ingest(now, &caller, fix), caller))
    }

    /// Ingests an AML SMS in text form from `originator` (the SMS originating address,
    /// which is the caller's number).
    ///
    /// # Errors
    /// Any [`AmlError`] from [`parse_sms_text`].
    pub fn ingest_sms_text(
        &mut self,
        now: Instant,
        originator: &str,
        text: &str,
    ) -> Result<IngestOutcome, AmlError> {
        let fix = parse_sms_text(text)?;
        Ok(self.ingest(now, originator, fix))
    }

    /// The best fix for `caller` whose last report is no older than the window at `now`.
    pub fn best(&self, now: Instant, caller: &str) -> Option<&AmlFix> {
        let e = self.entries.get(&caller_key(caller)?)?;
        (now.saturating_duration_since(e.last_received) <= self.window).then_some(&e.best)
    }

    /// Number of reports received for `caller` in the window.
    pub fn reports(&self, now: Instant, caller: &str) -> u32 {
        caller_key(caller)
            .and_then(|k| self.entries.get(&k))
            .filter(|e| now.saturating_duration_since(e.last_received) <= self.window)
            .map_or(0, |e| e.reports)
    }

    /// Drops callers whose last report is older than the window. Each caller appears once
    /// in the arrival queue; one refreshed since it was queued is re-queued at its last
    /// report time instead of dropped.
    pub fn expire(&mut self, now: Instant) {
        while let Some((t, _)) = self.order.front() {
            if now.saturating_duration_since(*t) <= self.window {
                break;
            }
            let Some((_, key)) = self.order.pop_front() else {
                break;
            };
            match self.entries.get(&key) {
                Some(e) if now.saturating_duration_since(e.last_received) <= self.window => {
                    let t = e.last_received;
                    self.order.push_back((t, key));
                }
                _ => {
                    self.entries.remove(&key);
                }
            }
        }
    }
}

/// `a` beats `b`: known radius beats unknown; smaller radius; then newer time of
/// positioning; ties go to the newcomer `a`.
fn better(a: &AmlFix, b: &AmlFix) -> bool {
    let ra = a.position.and_then(|p| p.radius_m);
    let rb = b.position.and_then(|p| p.radius_m);
    match (ra, rb) {
        (Some(x), Some(y)) if x < y => return true,
        (Some(x), Some(y)) if x > y => return false,
        (Some(_), None) => return true,
        (None, Some(_)) => return false,
        _ => {}
    }
    a.time_of_positioning_ms.unwrap_or(i64::MIN) >= b.time_of_positioning_ms.unwrap_or(i64::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::aml::parse_sms_text;

    fn fix(lat: f64, rd: &str, top: &str) -> AmlFix {
        parse_sms_text(&format!(
            "A\"ML=1;lt={lat};lg=-4.1;rd={rd};top={top};lc=68;pm=G;ml=1"
        ))
        .unwrap()
    }

    #[test]
    fn keeps_smallest_radius_then_newest() {
        let t0 = Instant::now();
        let mut s = AmlStore::new(Duration::from_secs(300), 100);
        assert_eq!(
            s.ingest(t0, "+447477593102", fix(55.0, "50", "20240101000000")),
            IngestOutcome::First
        );
        assert_eq!(
            s.ingest(
                t0 + Duration::from_secs(5),
                "07477593102",
                fix(55.1, "100", "20240101000010")
            ),
            IngestOutcome::Kept
        );
        assert_eq!(
            s.ingest(
                t0 + Duration::from_secs(10),
                "07477 593102",
                fix(55.2, "20", "20240101000005")
            ),
            IngestOutcome::Improved
        );
        assert_eq!(
            s.ingest(
                t0 + Duration::from_secs(15),
                "447477593102",
                fix(55.3, "20", "20240101000020")
            ),
            IngestOutcome::Improved
        );
        let best = s
            .best(t0 + Duration::from_secs(20), "+44 7477 593102")
            .unwrap();
        assert_eq!(best.position.unwrap().lat, 55.3);
        assert_eq!(s.reports(t0 + Duration::from_secs(20), "07477593102"), 4);
        assert!(s.best(t0, "+447700900000").is_none());
    }

    #[test]
    fn window_expires_and_capacity_evicts_oldest() {
        let t0 = Instant::now();
        let mut s = AmlStore::new(Duration::from_secs(60), 2);
        s.ingest(t0, "1111111111", fix(1.0, "10", "20240101000000"));
        s.ingest(
            t0 + Duration::from_secs(1),
            "2222222222",
            fix(2.0, "10", "20240101000000"),
        );
        assert!(s.best(t0 + Duration::from_secs(60), "1111111111").is_some());
        assert!(s.best(t0 + Duration::from_secs(61), "1111111111").is_none());
        s.ingest(
            t0 + Duration::from_secs(2),
            "3333333333",
            fix(3.0, "10", "20240101000000"),
        );
        assert_eq!(s.len(), 2);
        assert!(s.best(t0 + Duration::from_secs(2), "1111111111").is_none());
        s.expire(t0 + Duration::from_secs(200));
        assert!(s.is_empty());
    }

    #[test]
    fn https_and_sms_ingest() {
        let t0 = Instant::now();
        let mut s = AmlStore::new(Duration::from_secs(60), 10);
        let body = b"v=1&device_number=%2B447477593102&location_latitude=55.85732&location_longitude=-4.26325&location_time=1476189444435&location_accuracy=10.4&location_source=GPS&location_certainty=83";
        let (o, caller) = s.ingest_https_form(t0, body, None).unwrap();
        assert_eq!(
            (o, caller.as_str()),
            (IngestOutcome::First, "+447477593102")
        );
        assert_eq!(
            s.ingest_https_form(t0, b"v=1&location_latitude=1&location_longitude=2", None),
            Err(AmlError::MissingField("device_number"))
        );
        let o = s
            .ingest_sms_text(
                t0,
                "07477593102",
                "A\"ML=1;lt=55.85;lg=-4.26;rd=5;top=20161011123000;lc=68;pm=G;ml=1",
            )
            .unwrap();
        assert_eq!(o, IngestOutcome::Improved);
        assert_eq!(
            s.best(t0, "+447477593102")
                .unwrap()
                .position
                .unwrap()
                .radius_m,
            Some(5.0)
        );
    }

    #[test]
    fn ignores_no_location_and_numberless() {
        let t0 = Instant::now();
        let mut s = AmlStore::new(Duration::from_secs(60), 10);
        let none = parse_sms_text(
            "A\"ML=1;lt=+00.00000;lg=+000.00000;rd=N;top=20220131173734;lc=0;pm=N;ml=1",
        )
        .unwrap();
        assert_eq!(s.ingest(t0, "123", none), IngestOutcome::Ignored);
        assert_eq!(
            s.ingest(t0, "anonymous", fix(1.0, "5", "20240101000000")),
            IngestOutcome::Ignored
        );
        assert!(s.is_empty());
    }
}
