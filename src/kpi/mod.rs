//! Answer-time KPIs (docs/DESIGN.md §7; issue 6), sans-IO: per call class, per wall-clock
//! aligned 15-minute interval and for the whole run — calls offered, answered and
//! abandoned, mean and p50/p90/p95/p99 answer time, the fractions answered within 5 s
//! (BT stage 1 / Ofcom), 10 s (UK police), 15 s and 20 s (NENA-STA-020.1-2020, the
//! 9-1-1 call answering standard: 90 % ≤ 15 s SHALL, 95 % ≤ 20 s SHOULD) and the Home
//! Office buckets (< 10 s, 10–60 s, ≥ 60 s).
//!
//! **Answer time** is the INVITE's arrival at the engine → the handler's 200 OK, in ms
//! (NENA-STA-020 "call arrival" → "call answer"; docs/DESIGN.md §3).
//!
//! # Exactness
//! Counts, the threshold fractions, the Home Office buckets and the mean are kept with
//! exact integer counters (sum of answer times in ms), so they are exact. Percentiles come
//! from an [`hdrhistogram`] per class and interval with 3 significant digits: exact to the
//! millisecond below 2,048 ms and within 0.1 % above; a percentile is the nearest-rank
//! value (the smallest recorded value with at least `q·n` values at or below it) reported
//! as the *highest* value equivalent to it, so it is never understated. Answer times above
//! [`KpiConfig::max_answer_ms`] are clamped to it in the histogram only.
//!
//! # Denominator of the fractions
//! `answered_within_*_pct` and the Home Office bucket percentages divide by **answered
//! calls**: an answer time exists only for an answered call, and NENA-STA-020.1-2020
//! (call answering standard) states its objective over call answer times, measured from
//! call arrival to call answer, which only answered calls have; the Home Office buckets
//! are reported the same way here so all figures share one denominator. Abandoned calls
//! are not hidden: `abandoned` and `abandoned_pct` (of offered calls) are reported beside
//! them, and a consumer that wants the stricter "of all offered calls" figure gets it as
//! `answered_within_Xs / count`.
//!
//! Thresholds: "within X s" means answer time ≤ X·1000 ms (NENA's "within (≤)"); the
//! Home Office buckets are `< 10,000 ms`, `10,000 ≤ t < 60,000 ms` and `≥ 60,000 ms`.
//!
//! # Intervals
//! A call belongs to the interval in which it **arrived** (wall clock, Unix ms, passed in
//! by the caller; nothing here reads a clock): its answer or abandonment is booked to that
//! interval even when it happens in a later one, so an interval's `count` and its answer
//! times describe the same calls. Intervals start at multiples of
//! [`KpiConfig::interval_s`] since the Unix epoch (15-minute intervals start at :00, :15,
//! :30, :45 UTC). Only the newest [`KpiConfig::retention_intervals`] intervals are kept;
//! events for older intervals still count in the whole-run figures.
//!
//! ```
//! use answerpoint::call::CallClass;
//! use answerpoint::kpi::{Kpi, KpiConfig};
//!
//! let mut kpi = Kpi::new(KpiConfig::default()).unwrap();
//! let t = 1_700_000_100_000; // wall clock, Unix ms
//! kpi.call_arrived(CallClass::Emergency, t);
//! kpi.call_answered(CallClass::Emergency, t, 4_200);
//! let report = kpi.report();
//! let run = report.run.class(CallClass::Emergency);
//! assert_eq!(run.answered, 1);
//! assert_eq!(run.answered_within_5s_pct, Some(100.0));
//! ```

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::call::CallClass;

/// Default interval length: 15 minutes (BT / Ofcom statistics intervals).
pub const DEFAULT_INTERVAL_S: u64 = 900;
/// Default retention: 96 intervals (24 h of 15-minute intervals).
pub const DEFAULT_RETENTION_INTERVALS: usize = 96;
/// Default largest answer time kept exactly in histograms: 1 hour, ms.
pub const DEFAULT_MAX_ANSWER_MS: u64 = 3_600_000;

/// Answer-time thresholds of the `answered_within_*` fractions, ms: 5 s (BT/Ofcom),
/// 10 s (UK police), 15 s and 20 s (NENA-STA-020.1-2020 call answering standard).
pub const WITHIN_THRESHOLDS_MS: [u64; 4] = [5_000, 10_000, 15_000, 20_000];
/// Home Office bucket bounds, ms: `< 10 s`, `10–60 s`, `≥ 60 s`.
pub const HOME_OFFICE_BOUNDS_MS: [u64; 2] = [10_000, 60_000];

/// KPI settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KpiConfig {
    /// Interval length, s (60–86,400; default 900 = 15 min). Must divide a day evenly so
    /// intervals line up with midnight UTC.
    pub interval_s: u64,
    /// Intervals kept (1–10,000; default 96 = 24 h of 15-minute intervals).
    pub retention_intervals: usize,
    /// Largest answer time recorded exactly in the histograms, ms (≥ 60,000; default
    /// 1 h); longer ones are clamped to it for percentiles only.
    pub max_answer_ms: u64,
}

impl Default for KpiConfig {
    fn default() -> Self {
        KpiConfig {
            interval_s: DEFAULT_INTERVAL_S,
            retention_intervals: DEFAULT_RETENTION_INTERVALS,
            max_answer_ms: DEFAULT_MAX_ANSWER_MS,
        }
    }
}

/// A [`KpiConfig`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KpiError {
    /// `interval_s` not in 60–86,400 or not a divisor of 86,400.
    #[error("interval_s {0} must be 60..=86400 and divide 86400")]
    BadInterval(u64),
    /// `retention_intervals` not in 1–10,000.
    #[error("retention_intervals {0} must be 1..=10000")]
    BadRetention(usize),
    /// `max_answer_ms` below 60,000.
    #[error("max_answer_ms {0} must be at least 60000")]
    BadMaxAnswer(u64),
}

impl KpiConfig {
    /// Checks the ranges documented on the fields.
    ///
    /// # Errors
    /// The first [`KpiError`] found.
    pub fn validate(&self) -> Result<(), KpiError> {
        if !(60..=86_400).contains(&self.interval_s) || 86_400 % self.interval_s != 0 {
            return Err(KpiError::BadInterval(self.interval_s));
        }
        if !(1..=10_000).contains(&self.retention_intervals) {
            return Err(KpiError::BadRetention(self.retention_intervals));
        }
        if self.max_answer_ms < 60_000 {
            return Err(KpiError::BadMaxAnswer(self.max_answer_ms));
        }
        Ok(())
    }
}

// === counters ===

/// Exact counters and the answer-time histogram of one class in one period.
#[derive(Debug, Clone, Default)]
struct Tally {
    offered: u64,
    answered: u64,
    abandoned: u64,
    /// Sum of answer times, ms (exact mean).
    answer_ms_sum: u128,
    answer_ms_max: u64,
    /// Answered with answer time ≤ each of [`WITHIN_THRESHOLDS_MS`].
    within: [u64; 4],
    /// Home Office buckets: `< 10 s`, `10–60 s`, `≥ 60 s`.
    home_office: [u64; 3],
    /// Created on the first answer (most interval × class cells never see one).
    histogram: Option<Histogram<u32>>,
}

impl Tally {
    fn answered(&mut self, answer_ms: u64, max_answer_ms: u64) {
        self.answered += 1;
        self.answer_ms_sum += u128::from(answer_ms);
        self.answer_ms_max = self.answer_ms_max.max(answer_ms);
        for (n, limit) in self.within.iter_mut().zip(WITHIN_THRESHOLDS_MS) {
            if answer_ms <= limit {
                *n += 1;
            }
        }
        let bucket = if answer_ms < HOME_OFFICE_BOUNDS_MS[0] {
            0
        } else if answer_ms < HOME_OFFICE_BOUNDS_MS[1] {
            1
        } else {
            2
        };
        self.home_office[bucket] += 1;
        if self.histogram.is_none() {
            // 3 significant digits between 1 ms and max_answer_ms: the bounds are
            // validated (max ≥ 60,000 > 2·1), so construction cannot fail; if it ever
            // did, percentiles would be reported as absent rather than wrong.
            self.histogram = Histogram::new_with_bounds(1, max_answer_ms, 3).ok();
        }
        if let Some(h) = self.histogram.as_mut() {
            h.saturating_record(answer_ms.min(max_answer_ms));
        }
    }

    fn stats(&self, class: CallClass) -> ClassKpi {
        let pct = |n: u64, of: u64| (of > 0).then(|| 100.0 * n as f64 / of as f64);
        let quantile = |q: f64| {
            self.histogram
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(q))
        };
        let a = self.answered;
        ClassKpi {
            class,
            count: self.offered,
            answered: a,
            abandoned: self.abandoned,
            abandoned_pct: pct(self.abandoned, self.offered),
            answer_time_mean_ms: (a > 0).then(|| self.answer_ms_sum as f64 / a as f64),
            answer_time_p50_ms: quantile(0.50),
            answer_time_p90_ms: quantile(0.90),
            answer_time_p95_ms: quantile(0.95),
            answer_time_p99_ms: quantile(0.99),
            answer_time_max_ms: (a > 0).then_some(self.answer_ms_max),
            answered_within_5s: self.within[0],
            answered_within_10s: self.within[1],
            answered_within_15s: self.within[2],
            answered_within_20s: self.within[3],
            answered_within_5s_pct: pct(self.within[0], a),
            answered_within_10s_pct: pct(self.within[1], a),
            answered_within_15s_pct: pct(self.within[2], a),
            answered_within_20s_pct: pct(self.within[3], a),
            home_office_under_10s: self.home_office[0],
            home_office_10s_to_60s: self.home_office[1],
            home_office_60s_and_over: self.home_office[2],
            home_office_under_10s_pct: pct(self.home_office[0], a),
            home_office_10s_to_60s_pct: pct(self.home_office[1], a),
            home_office_60s_and_over_pct: pct(self.home_office[2], a),
        }
    }
}

/// One interval's counters, per class.
#[derive(Debug, Clone)]
struct Interval {
    start_unix_ms: u64,
    classes: [Tally; 3],
}

// === the KPI keeper ===

/// Answer-time KPIs of a run: whole-run counters plus a bounded ring of wall-clock
/// intervals. Feed it call events with the call's **arrival** wall time (Unix ms); read
/// it with [`Kpi::report`].
#[derive(Debug, Clone)]
pub struct Kpi {
    config: KpiConfig,
    run: [Tally; 3],
    /// Oldest first; starts strictly increasing.
    intervals: VecDeque<Interval>,
}

impl Kpi {
    /// An empty KPI keeper.
    ///
    /// # Errors
    /// [`KpiError`] when `config` is out of range.
    pub fn new(config: KpiConfig) -> Result<Kpi, KpiError> {
        config.validate()?;
        Ok(Kpi {
            config,
            run: Default::default(),
            intervals: VecDeque::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &KpiConfig {
        &self.config
    }

    /// A call of `class` arrived (INVITE received) at wall time `arrived_unix_ms`.
    pub fn call_arrived(&mut self, class: CallClass, arrived_unix_ms: u64) {
        self.run[class.index()].offered += 1;
        if let Some(i) = self.interval_mut(arrived_unix_ms) {
            i.classes[class.index()].offered += 1;
        }
    }

    /// A call of `class` that arrived at `arrived_unix_ms` was answered `answer_ms` after
    /// its arrival (the handler's 200 OK).
    pub fn call_answered(&mut self, class: CallClass, arrived_unix_ms: u64, answer_ms: u64) {
        let max = self.config.max_answer_ms;
        self.run[class.index()].answered(answer_ms, max);
        if let Some(i) = self.interval_mut(arrived_unix_ms) {
            i.classes[class.index()].answered(answer_ms, max);
        }
    }

    /// A call of `class` that arrived at `arrived_unix_ms` was abandoned (the caller hung
    /// up before an answer).
    pub fn call_abandoned(&mut self, class: CallClass, arrived_unix_ms: u64) {
        self.run[class.index()].abandoned += 1;
        if let Some(i) = self.interval_mut(arrived_unix_ms) {
            i.classes[class.index()].abandoned += 1;
        }
    }

    /// Start of the interval holding `unix_ms`, Unix ms.
    pub fn interval_start(&self, unix_ms: u64) -> u64 {
        let len = self.config.interval_s * 1000;
        unix_ms - unix_ms % len
    }

    /// The interval for `unix_ms`, created if needed; `None` when it is older than the
    /// retention window (relative to the newest interval seen).
    fn interval_mut(&mut self, unix_ms: u64) -> Option<&mut Interval> {
        let start = self.interval_start(unix_ms);
        let len = self.config.interval_s * 1000;
        let keep = self.config.retention_intervals as u64;
        let newest = self.intervals.back().map_or(start, |i| i.start_unix_ms);
        if start > newest || self.intervals.is_empty() {
            self.intervals.push_back(Interval {
                start_unix_ms: start,
                classes: Default::default(),
            });
            // Drop intervals that fell out of the window [start − (keep−1)·len, start].
            let oldest_kept = start.saturating_sub((keep - 1) * len);
            while self
                .intervals
                .front()
                .is_some_and(|i| i.start_unix_ms < oldest_kept)
            {
                self.intervals.pop_front();
            }
            return self.intervals.back_mut();
        }
        if start < newest.saturating_sub((keep - 1) * len) {
            return None;
        }
        // Binary search: starts are strictly increasing.
        match self
            .intervals
            .binary_search_by_key(&start, |i| i.start_unix_ms)
        {
            Ok(idx) => self.intervals.get_mut(idx),
            Err(idx) => {
                self.intervals.insert(
                    idx,
                    Interval {
                        start_unix_ms: start,
                        classes: Default::default(),
                    },
                );
                self.intervals.get_mut(idx)
            }
        }
    }

    /// Number of intervals held (at most [`KpiConfig::retention_intervals`]).
    pub fn interval_count(&self) -> usize {
        self.intervals.len()
    }

    /// The KPIs: the whole run and every retained interval (oldest first), per class.
    pub fn report(&self) -> KpiReport {
        let len = self.config.interval_s * 1000;
        KpiReport {
            interval_s: self.config.interval_s,
            fractions_denominator: "answered",
            run: PerClassKpi::from_tallies(&self.run),
            intervals: self
                .intervals
                .iter()
                .map(|i| IntervalKpi {
                    start_unix_ms: i.start_unix_ms,
                    end_unix_ms: i.start_unix_ms + len,
                    classes: PerClassKpi::from_tallies(&i.classes),
                })
                .collect(),
        }
    }
}

// === report types (JSON for GET /api/kpi) ===

/// KPIs of one class over one period. Times in ms, fractions in % (0–100) of **answered**
/// calls (see the module docs); `None` when there is nothing to divide by.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassKpi {
    /// The class.
    pub class: CallClass,
    /// Calls offered (arrived) in the period.
    pub count: u64,
    /// Of those, answered by a handler.
    pub answered: u64,
    /// Of those, abandoned by the caller before an answer.
    pub abandoned: u64,
    /// Abandoned calls, % of `count`.
    pub abandoned_pct: Option<f64>,
    /// Mean answer time, ms (exact).
    pub answer_time_mean_ms: Option<f64>,
    /// Median answer time, ms.
    pub answer_time_p50_ms: Option<u64>,
    /// 90th percentile answer time, ms.
    pub answer_time_p90_ms: Option<u64>,
    /// 95th percentile answer time, ms.
    pub answer_time_p95_ms: Option<u64>,
    /// 99th percentile answer time, ms.
    pub answer_time_p99_ms: Option<u64>,
    /// Longest answer time, ms (exact).
    pub answer_time_max_ms: Option<u64>,
    /// Answered in ≤ 5 s (BT stage 1 / Ofcom).
    pub answered_within_5s: u64,
    /// Answered in ≤ 10 s (UK police).
    pub answered_within_10s: u64,
    /// Answered in ≤ 15 s (NENA-STA-020.1 SHALL: 90 %).
    pub answered_within_15s: u64,
    /// Answered in ≤ 20 s (NENA-STA-020.1 SHOULD: 95 %).
    pub answered_within_20s: u64,
    /// `answered_within_5s`, % of answered.
    pub answered_within_5s_pct: Option<f64>,
    /// `answered_within_10s`, % of answered.
    pub answered_within_10s_pct: Option<f64>,
    /// `answered_within_15s`, % of answered.
    pub answered_within_15s_pct: Option<f64>,
    /// `answered_within_20s`, % of answered.
    pub answered_within_20s_pct: Option<f64>,
    /// Home Office bucket: answered in < 10 s.
    pub home_office_under_10s: u64,
    /// Home Office bucket: answered in 10 s ≤ t < 60 s.
    pub home_office_10s_to_60s: u64,
    /// Home Office bucket: answered in ≥ 60 s.
    pub home_office_60s_and_over: u64,
    /// `home_office_under_10s`, % of answered.
    pub home_office_under_10s_pct: Option<f64>,
    /// `home_office_10s_to_60s`, % of answered.
    pub home_office_10s_to_60s_pct: Option<f64>,
    /// `home_office_60s_and_over`, % of answered.
    pub home_office_60s_and_over_pct: Option<f64>,
}

/// [`ClassKpi`] for each class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerClassKpi {
    /// Emergency (999/112).
    pub emergency: ClassKpi,
    /// Non-emergency (101).
    pub non_emergency: ClassKpi,
    /// Admin lines.
    pub admin: ClassKpi,
}

impl PerClassKpi {
    fn from_tallies(t: &[Tally; 3]) -> PerClassKpi {
        PerClassKpi {
            emergency: t[0].stats(CallClass::Emergency),
            non_emergency: t[1].stats(CallClass::NonEmergency),
            admin: t[2].stats(CallClass::Admin),
        }
    }

    /// The figures of `class`.
    pub fn class(&self, class: CallClass) -> &ClassKpi {
        match class {
            CallClass::Emergency => &self.emergency,
            CallClass::NonEmergency => &self.non_emergency,
            CallClass::Admin => &self.admin,
        }
    }
}

/// One wall-clock interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalKpi {
    /// Start (inclusive), Unix ms.
    pub start_unix_ms: u64,
    /// End (exclusive), Unix ms.
    pub end_unix_ms: u64,
    /// Figures per class for calls that arrived in the interval.
    pub classes: PerClassKpi,
}

/// Everything `GET /api/kpi` returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiReport {
    /// Interval length, s.
    pub interval_s: u64,
    /// Denominator of the `_pct` answer-time fractions: always `"answered"`.
    pub fractions_denominator: &'static str,
    /// The whole run.
    pub run: PerClassKpi,
    /// Retained intervals, oldest first.
    pub intervals: Vec<IntervalKpi>,
}

impl KpiReport {
    /// The interval starting at `start_unix_ms`, if retained.
    pub fn interval(&self, start_unix_ms: u64) -> Option<&IntervalKpi> {
        self.intervals
            .iter()
            .find(|i| i.start_unix_ms == start_unix_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_ranges() {
        assert!(KpiConfig::default().validate().is_ok());
        let bad = KpiConfig {
            interval_s: 700,
            ..KpiConfig::default()
        };
        assert_eq!(bad.validate(), Err(KpiError::BadInterval(700)));
        let bad = KpiConfig {
            retention_intervals: 0,
            ..KpiConfig::default()
        };
        assert_eq!(bad.validate(), Err(KpiError::BadRetention(0)));
        let bad = KpiConfig {
            max_answer_ms: 1_000,
            ..KpiConfig::default()
        };
        assert_eq!(bad.validate(), Err(KpiError::BadMaxAnswer(1_000)));
    }

    #[test]
    fn interval_alignment_is_wall_clock() {
        let kpi = Kpi::new(KpiConfig::default()).unwrap();
        // 2023-11-14T22:13:20Z → the 22:00 interval.
        assert_eq!(kpi.interval_start(1_700_000_000_000), 1_699_999_200_000);
        assert_eq!(kpi.interval_start(1_699_999_200_000), 1_699_999_200_000);
    }

    #[test]
    fn empty_class_has_no_fractions() {
        let kpi = Kpi::new(KpiConfig::default()).unwrap();
        let r = kpi.report();
        let e = r.run.class(CallClass::Emergency);
        assert_eq!(e.count, 0);
        assert_eq!(e.answer_time_p50_ms, None);
        assert_eq!(e.answered_within_10s_pct, None);
        assert_eq!(e.abandoned_pct, None);
    }
}
