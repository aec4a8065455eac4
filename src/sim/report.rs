//! Simulation results per class: counts, mean wait, wait percentiles (ms) and service
//! levels (fraction answered within 5/10/15/20/60 s), the measures of docs/DESIGN.md §7
//! (Home Office 10 s, NENA-STA-020 15/20 s, BT 5 s).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::call::CallClass;
use crate::sim::erlang::MmcModel;

/// Service-level thresholds reported, in s.
pub const SERVICE_LEVEL_THRESHOLDS_S: [u64; 5] = [5, 10, 15, 20, 60];

/// Raw counters of one class, filled by the simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassStats {
    /// The class.
    pub class: CallClass,
    /// Counted arrivals.
    pub calls: u64,
    /// Waits of answered counted calls (arrival → answer), in ns of virtual time.
    pub waits_ns: Vec<u64>,
    /// Counted calls abandoned before answer.
    pub abandoned: u64,
    /// Counted calls overflowed.
    pub overflowed: u64,
    /// Counted calls rejected (503).
    pub rejected: u64,
    /// Ring-no-answer events on counted calls.
    pub ring_no_answer: u64,
    /// Counted calls still live when the event list ran dry (no handler left).
    pub unanswered_at_end: u64,
}

impl ClassStats {
    /// Empty counters.
    pub fn new(class: CallClass) -> ClassStats {
        ClassStats {
            class,
            calls: 0,
            waits_ns: Vec::new(),
            abandoned: 0,
            overflowed: 0,
            rejected: 0,
            ring_no_answer: 0,
            unanswered_at_end: 0,
        }
    }

    /// Fraction of counted calls answered within `t_s` (wait ≤ t). Abandoned, rejected,
    /// overflowed and stranded calls count as not answered in time.
    pub fn answered_within(&self, t_s: f64) -> f64 {
        if self.calls == 0 {
            return 0.0;
        }
        let limit = (t_s * 1e9).round() as u64;
        let sorted = &self.waits_ns; // sorted by SimReport::new
        let n = sorted.partition_point(|&w| w <= limit);
        n as f64 / self.calls as f64
    }

    /// Fraction of answered counted calls that waited longer than `t_s`: the estimate of
    /// `P(W > t)` to compare with Erlang C.
    pub fn p_wait_longer_than(&self, t_s: f64) -> f64 {
        if self.waits_ns.is_empty() {
            return 0.0;
        }
        let limit = (t_s * 1e9).round() as u64;
        let n = self.waits_ns.partition_point(|&w| w <= limit);
        (self.waits_ns.len() - n) as f64 / self.waits_ns.len() as f64
    }

    fn percentile_ms(&self, q: f64) -> f64 {
        if self.waits_ns.is_empty() {
            return 0.0;
        }
        // Nearest-rank percentile.
        let rank = ((q * self.waits_ns.len() as f64).ceil() as usize).clamp(1, self.waits_ns.len());
        self.waits_ns[rank - 1] as f64 / 1e6
    }
}

/// Per-class figures as printed by `answerpoint simulate --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassReport {
    /// Class name.
    pub class: CallClass,
    /// Counted arrivals.
    pub calls: u64,
    /// Answered.
    pub answered: u64,
    /// Abandoned before answer.
    pub abandoned: u64,
    /// Overflowed to a partner.
    pub overflowed: u64,
    /// Rejected with 503.
    pub rejected: u64,
    /// Ring-no-answer events.
    pub ring_no_answer: u64,
    /// Left waiting when the run ended.
    pub unanswered_at_end: u64,
    /// Mean wait of answered calls, in ms.
    pub mean_wait_ms: f64,
    /// Median wait, in ms.
    pub wait_p50_ms: f64,
    /// 90th percentile wait, in ms.
    pub wait_p90_ms: f64,
    /// 95th percentile wait, in ms.
    pub wait_p95_ms: f64,
    /// 99th percentile wait, in ms.
    pub wait_p99_ms: f64,
    /// Fraction of calls answered within 5, 10, 15, 20, 60 s (keys in s).
    pub answered_within_s: BTreeMap<u64, f64>,
    /// Erlang C prediction for the same model (M/M/c runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erlang_c: Option<ErlangCPrediction>,
}

/// What Erlang C predicts for the figures above.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErlangCPrediction {
    /// Offered load, in Erlangs.
    pub load_erlangs: f64,
    /// Utilisation, 0–1.
    pub utilisation: f64,
    /// Probability of waiting at all.
    pub p_wait: f64,
    /// Mean wait, in ms.
    pub mean_wait_ms: f64,
    /// Median wait, in ms.
    pub wait_p50_ms: f64,
    /// 90th percentile wait, in ms.
    pub wait_p90_ms: f64,
    /// 95th percentile wait, in ms.
    pub wait_p95_ms: f64,
    /// 99th percentile wait, in ms.
    pub wait_p99_ms: f64,
    /// Fraction answered within 5, 10, 15, 20, 60 s.
    pub answered_within_s: BTreeMap<u64, f64>,
}

impl ErlangCPrediction {
    /// Prediction for `model`.
    pub fn new(model: &MmcModel) -> ErlangCPrediction {
        ErlangCPrediction {
            load_erlangs: model.load_erlangs(),
            utilisation: model.utilisation(),
            p_wait: model.p_wait(),
            mean_wait_ms: model.mean_wait_s() * 1e3,
            wait_p50_ms: model.wait_percentile_s(0.5) * 1e3,
            wait_p90_ms: model.wait_percentile_s(0.9) * 1e3,
            wait_p95_ms: model.wait_percentile_s(0.95) * 1e3,
            wait_p99_ms: model.wait_percentile_s(0.99) * 1e3,
            answered_within_s: SERVICE_LEVEL_THRESHOLDS_S
                .iter()
                .map(|&t| (t, model.answered_within(t as f64)))
                .collect(),
        }
    }
}

/// Result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimReport {
    /// Raw per-class counters (waits sorted ascending).
    pub stats: Vec<ClassStats>,
    /// Virtual time simulated, in s.
    pub virtual_duration_s: f64,
}

impl SimReport {
    /// Wraps counters; sorts the waits.
    pub fn new(mut stats: Vec<ClassStats>, end_ns: u64) -> SimReport {
        for s in &mut stats {
            s.waits_ns.sort_unstable();
        }
        SimReport {
            stats,
            virtual_duration_s: end_ns as f64 / 1e9,
        }
    }

    /// Counters of `class`, if it had traffic.
    pub fn class(&self, class: CallClass) -> Option<&ClassStats> {
        self.stats.iter().find(|s| s.class == class)
    }

    /// Per-class figures; `model` adds the Erlang C prediction to the first class.
    pub fn summary(&self, model: Option<&MmcModel>) -> Vec<ClassReport> {
        self.stats
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let answered = s.waits_ns.len() as u64;
                let mean = if answered == 0 {
                    0.0
                } else {
                    s.waits_ns.iter().map(|&w| w as f64).sum::<f64>() / answered as f64 / 1e6
                };
                ClassReport {
                    class: s.class,
                    calls: s.calls,
                    answered,
                    abandoned: s.abandoned,
                    overflowed: s.overflowed,
                    rejected: s.rejected,
                    ring_no_answer: s.ring_no_answer,
                    unanswered_at_end: s.unanswered_at_end,
                    mean_wait_ms: mean,
                    wait_p50_ms: s.percentile_ms(0.5),
                    wait_p90_ms: s.percentile_ms(0.9),
                    wait_p95_ms: s.percentile_ms(0.95),
                    wait_p99_ms: s.percentile_ms(0.99),
                    answered_within_s: SERVICE_LEVEL_THRESHOLDS_S
                        .iter()
                        .map(|&t| (t, s.answered_within(t as f64)))
                        .collect(),
                    erlang_c: model.filter(|_| i == 0).map(ErlangCPrediction::new),
                }
            })
            .collect()
    }
}
