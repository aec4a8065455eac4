//! Answer-time KPIs: exact counts, fractions, Home Office buckets, percentiles, interval
//! attribution and retention.

use answerpoint::call::CallClass;
use answerpoint::kpi::{Kpi, KpiConfig};
use proptest::prelude::*;

/// 2023-11-14T22:15:00Z, an interval start (1,888,889 × 900,000 ms).
const T0: u64 = 1_700_000_100_000;
const MIN15: u64 = 900_000;

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn emergency_interval_exact_figures() {
    let mut kpi = Kpi::new(KpiConfig::default()).unwrap();
    let answers = [
        1_000, 2_000, 4_000, 5_000, 6_000, 9_999, 10_000, 12_000, 30_000, 75_000,
    ];
    for (i, a) in answers.iter().enumerate() {
        let arrived = T0 + i as u64 * 1_000;
        kpi.call_arrived(CallClass::Emergency, arrived);
        kpi.call_answered(CallClass::Emergency, arrived, *a);
    }
    for i in 0..2 {
        kpi.call_arrived(CallClass::Emergency, T0 + 60_000 + i);
        kpi.call_abandoned(CallClass::Emergency, T0 + 60_000 + i);
    }
    let r = kpi.report();
    assert_eq!(r.interval_s, 900);
    assert_eq!(r.fractions_denominator, "answered");
    assert_eq!(r.intervals.len(), 1);
    let i = r.interval(T0).unwrap();
    assert_eq!(i.end_unix_ms, T0 + MIN15);
    let e = &i.classes.emergency;
    assert_eq!(e.class, CallClass::Emergency);
    assert_eq!((e.count, e.answered, e.abandoned), (12, 10, 2));
    assert!(close(e.abandoned_pct, 100.0 * 2.0 / 12.0));
    assert!(close(e.answer_time_mean_ms, 15_499.9));
    // ≤ 5 s: 1, 2, 4, 5 s. ≤ 10 s: + 6, 9.999, 10 s. ≤ 15 s and ≤ 20 s: + 12 s.
    assert_eq!(
        (
            e.answered_within_5s,
            e.answered_within_10s,
            e.answered_within_15s,
            e.answered_within_20s
        ),
        (4, 7, 8, 8)
    );
    assert!(close(e.answered_within_5s_pct, 40.0));
    assert!(close(e.answered_within_10s_pct, 70.0));
    assert!(close(e.answered_within_15s_pct, 80.0));
    assert!(close(e.answered_within_20s_pct, 80.0));
    // Home Office: < 10 s (10,000 ms is not under 10 s), 10–60 s, ≥ 60 s.
    assert_eq!(
        (
            e.home_office_under_10s,
            e.home_office_10s_to_60s,
            e.home_office_60s_and_over
        ),
        (6, 3, 1)
    );
    assert!(close(e.home_office_under_10s_pct, 60.0));
    assert!(close(e.home_office_10s_to_60s_pct, 30.0));
    assert!(close(e.home_office_60s_and_over_pct, 10.0));
    // Nearest rank, reported as the highest value equivalent at 3 significant digits:
    // p50 = 5th of 10 = 6,000 ms (bucket width 4 → 6,003); p90 = 9th = 30,000 (width
    // 16 → 30,015); p95 = p99 = 10th = 75,000 (width 64, bucket 74,944..=75,007).
    assert_eq!(e.answer_time_p50_ms, Some(6_003));
    assert_eq!(e.answer_time_p90_ms, Some(30_015));
    assert_eq!(e.answer_time_p95_ms, Some(75_007));
    assert_eq!(e.answer_time_p99_ms, Some(75_007));
    assert_eq!(e.answer_time_max_ms, Some(75_000));
    // The whole run equals the single interval.
    assert_eq!(&r.run.emergency, e);
    // Other classes untouched.
    assert_eq!(r.run.non_emergency.count, 0);
    assert_eq!(r.run.admin.answer_time_mean_ms, None);
}

#[test]
fn percentiles_exact_below_2048_ms() {
    let mut kpi = Kpi::new(KpiConfig::default()).unwrap();
    for k in 1..=10u64 {
        kpi.call_arrived(CallClass::NonEmergency, T0);
        kpi.call_answered(CallClass::NonEmergency, T0, k * 100);
    }
    let r = kpi.report();
    let n = r.run.class(CallClass::NonEmergency);
    assert_eq!(n.answer_time_p50_ms, Some(500));
    assert_eq!(n.answer_time_p90_ms, Some(900));
    assert_eq!(n.answer_time_p95_ms, Some(1_000));
    assert_eq!(n.answer_time_p99_ms, Some(1_000));
    assert!(close(n.answer_time_mean_ms, 550.0));
    assert!(close(n.answered_within_5s_pct, 100.0));
}

#[test]
fn calls_are_booked_to_their_arrival_interval() {
    let mut kpi = Kpi::new(KpiConfig::default()).unwrap();
    // Arrives 10 s before the end of interval A, answered 25 s later (in interval B).
    let arrived = T0 + MIN15 - 10_000;
    kpi.call_arrived(CallClass::Emergency, arrived);
    // A call arriving in B.
    kpi.call_arrived(CallClass::Emergency, T0 + MIN15 + 5);
    kpi.call_answered(CallClass::Emergency, T0 + MIN15 + 5, 3_000);
    kpi.call_answered(CallClass::Emergency, arrived, 25_000);
    let r = kpi.report();
    assert_eq!(r.intervals.len(), 2);
    let a = &r.interval(T0).unwrap().classes.emergency;
    let b = &r.interval(T0 + MIN15).unwrap().classes.emergency;
    assert_eq!(
        (a.count, a.answered, a.answer_time_max_ms),
        (1, 1, Some(25_000))
    );
    assert!(close(a.answered_within_20s_pct, 0.0));
    assert_eq!(
        (b.count, b.answered, b.answer_time_max_ms),
        (1, 1, Some(3_000))
    );
    assert!(close(b.answered_within_5s_pct, 100.0));
    let run = &r.run.emergency;
    assert_eq!((run.count, run.answered), (2, 2));
    assert!(close(run.answered_within_5s_pct, 50.0));
    assert!(close(run.answer_time_mean_ms, 14_000.0));
}

#[test]
fn retention_drops_old_intervals_but_run_keeps_counting() {
    let cfg = KpiConfig {
        retention_intervals: 4,
        ..KpiConfig::default()
    };
    let mut kpi = Kpi::new(cfg).unwrap();
    for k in 0..10u64 {
        kpi.call_arrived(CallClass::Admin, T0 + k * MIN15 + 1);
    }
    assert_eq!(kpi.interval_count(), 4);
    let r = kpi.report();
    let starts: Vec<u64> = r.intervals.iter().map(|i| i.start_unix_ms).collect();
    assert_eq!(
        starts,
        vec![
            T0 + 6 * MIN15,
            T0 + 7 * MIN15,
            T0 + 8 * MIN15,
            T0 + 9 * MIN15
        ]
    );
    // A late answer for a call from a dropped interval counts in the run only.
    kpi.call_answered(CallClass::Admin, T0 + 1, 2_000);
    // A late event inside the window for an interval with no entry creates it in order.
    let mut kpi2 = Kpi::new(cfg).unwrap();
    kpi2.call_arrived(CallClass::Admin, T0 + 3 * MIN15);
    kpi2.call_arrived(CallClass::Admin, T0 + MIN15);
    kpi2.call_arrived(CallClass::Admin, T0 + 2 * MIN15);
    let starts2: Vec<u64> = kpi2
        .report()
        .intervals
        .iter()
        .map(|i| i.start_unix_ms)
        .collect();
    assert_eq!(starts2, vec![T0 + MIN15, T0 + 2 * MIN15, T0 + 3 * MIN15]);

    let r = kpi.report();
    assert_eq!(r.run.admin.count, 10);
    assert_eq!(r.run.admin.answered, 1);
    assert_eq!(
        r.intervals
            .iter()
            .map(|i| i.classes.admin.answered)
            .sum::<u64>(),
        0
    );
    assert_eq!(
        r.intervals
            .iter()
            .map(|i| i.classes.admin.count)
            .sum::<u64>(),
        4
    );
}

#[test]
fn json_field_names_carry_units() {
    let mut kpi = Kpi::new(KpiConfig::default()).unwrap();
    kpi.call_arrived(CallClass::Emergency, T0);
    kpi.call_answered(CallClass::Emergency, T0, 8_000);
    let v = serde_json::to_value(kpi.report()).unwrap();
    assert_eq!(v["fractions_denominator"], "answered");
    let e = &v["run"]["emergency"];
    assert_eq!(e["class"], "emergency");
    assert_eq!(e["answered_within_10s_pct"], 100.0);
    assert_eq!(e["answered_within_5s_pct"], 0.0);
    assert_eq!(e["home_office_under_10s_pct"], 100.0);
    assert_eq!(e["answer_time_p90_ms"], 8_003);
    assert_eq!(e["answer_time_mean_ms"], 8_000.0);
    assert_eq!(v["intervals"][0]["start_unix_ms"], T0);
    assert_eq!(
        v["run"]["non_emergency"]["answer_time_p50_ms"],
        serde_json::Value::Null
    );
}

#[test]
fn answer_times_beyond_the_histogram_bound_are_clamped_for_percentiles_only() {
    let mut kpi = Kpi::new(KpiConfig {
        max_answer_ms: 60_000,
        ..KpiConfig::default()
    })
    .unwrap();
    kpi.call_arrived(CallClass::Emergency, T0);
    kpi.call_answered(CallClass::Emergency, T0, 600_000);
    let r = kpi.report();
    let e = &r.run.emergency;
    assert_eq!(e.answer_time_max_ms, Some(600_000));
    assert!(close(e.answer_time_mean_ms, 600_000.0));
    assert_eq!(e.home_office_60s_and_over, 1);
    let p = e.answer_time_p99_ms.unwrap();
    assert!((60_000..=60_031).contains(&p), "clamped p99 {p}");
}

proptest! {
    /// Counters agree with a direct computation over the same answer times.
    #[test]
    fn counters_match_direct_computation(answers in proptest::collection::vec(0u64..200_000, 1..200)) {
        let mut kpi = Kpi::new(KpiConfig::default()).unwrap();
        for a in &answers {
            kpi.call_arrived(CallClass::Emergency, T0);
            kpi.call_answered(CallClass::Emergency, T0, *a);
        }
        let r = kpi.report();
        let e = &r.run.emergency;
        let n = answers.len() as u64;
        prop_assert_eq!(e.answered, n);
        let count = |f: &dyn Fn(u64) -> bool| answers.iter().filter(|a| f(**a)).count() as u64;
        prop_assert_eq!(e.answered_within_5s, count(&|a| a <= 5_000));
        prop_assert_eq!(e.answered_within_10s, count(&|a| a <= 10_000));
        prop_assert_eq!(e.answered_within_15s, count(&|a| a <= 15_000));
        prop_assert_eq!(e.answered_within_20s, count(&|a| a <= 20_000));
        prop_assert_eq!(e.home_office_under_10s, count(&|a| a < 10_000));
        prop_assert_eq!(e.home_office_10s_to_60s, count(&|a| (10_000..60_000).contains(&a)));
        prop_assert_eq!(e.home_office_60s_and_over, count(&|a| a >= 60_000));
        let mean = answers.iter().sum::<u64>() as f64 / n as f64;
        prop_assert!((e.answer_time_mean_ms.unwrap() - mean).abs() < 1e-6);
        // Nearest-rank p90 within 0.1 % above (never below) the exact value.
        let mut sorted = answers.clone();
        sorted.sort_unstable();
        let rank = ((0.9 * n as f64).ceil() as usize).max(1);
        let exact = sorted[rank - 1];
        let p90 = e.answer_time_p90_ms.unwrap();
        prop_assert!(p90 >= exact && (p90 - exact) as f64 <= exact as f64 * 0.001 + 1.0,
            "p90 {} exact {}", p90, exact);
    }
}
