//! The load report: per class the answer-time KPIs exactly as `/api/kpi` computes them
//! ([`crate::kpi`]: 5/10/15/20 s fractions, Home Office buckets, hdrhistogram
//! percentiles), abandoned, rejected, cut off and lost calls, engine latency percentiles,
//! the Erlang C expectation for each steady phase beside the measured values (docs/DESIGN.md
//! §7), and the verdict of every target.
//!
//! Answer times are converted back to scenario time (real × `time_scale`) before they
//! reach the KPI tally, so "within 10 s" means 10 scenario seconds. Engine latency stays
//! in real µs.

use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::agent::{Outcome, RunData};
use super::scenario::LoadScenario;
use crate::call::CallClass;
use crate::kpi::{ClassKpi, Kpi, KpiConfig};
use crate::sim::erlang_c;

/// Arrival wall clock used for the KPI intervals: 2026-01-01T00:00:00Z in Unix ms, plus
/// the scenario time of arrival (the harness's runs are not tied to a date).
pub const KPI_EPOCH_UNIX_MS: u64 = 1_767_225_600_000;

/// Outcome counts and KPIs of one class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassResult {
    /// The class.
    pub class: CallClass,
    /// Calls placed.
    pub sent: u64,
    /// Calls answered (200 OK).
    pub answered: u64,
    /// Calls the caller abandoned (CANCEL → 487).
    pub abandoned: u64,
    /// Calls rejected: final ≥ 300 not caused by our CANCEL.
    pub rejected: u64,
    /// Rejections by status code.
    pub rejected_by_code: BTreeMap<u16, u64>,
    /// Calls still waiting at the end of the run, cancelled by the harness.
    pub cut_off: u64,
    /// Calls sent and never finished: no final outcome, or answered and the BYE never
    /// completed (those are also counted in `answered` and `answered_unfinished`). Must be 0.
    pub lost: u64,
    /// Answered calls whose BYE never completed (part of `lost`).
    pub answered_unfinished: u64,
    /// Answer-time KPIs as in `/api/kpi` (scenario time, over answered calls).
    pub kpi: ClassKpi,
}

/// The Erlang C expectation for a steady phase (M/M/c: Poisson arrivals, exponential
/// service, no abandonment, no ring-no-answer). Service time = mean think + mean handle
/// (weighted by the class mix) + the wrap-up the engine applies; servers = handlers not
/// failed at the start of the phase. Emergency calls are served first (non-preemptive
/// priority, same service time): they wait with probability `C(c, A)` for all traffic
/// and then `P(W > t | wait) = e^{−(cμ − λ_e)t}`, mean `C/(cμ − λ_e)`.
#[derive(Debug, Clone, Serialize)]
pub struct ErlangExpectation {
    /// Servers (handlers) assumed.
    pub handlers: u32,
    /// Mean service time per call, scenario s.
    pub mean_service_s: f64,
    /// Offered load, Erlangs.
    pub load_erlangs: f64,
    /// Probability that a call waits, C(c, A).
    pub p_wait: f64,
    /// Emergency: expected % answered within 10 s (including think time).
    pub emergency_within_10s_pct: f64,
    /// Emergency: expected mean answer time, scenario s (think + wait).
    pub emergency_mean_answer_s: f64,
    /// All classes served FIFO: expected % answered within 10 s.
    pub fifo_within_10s_pct: f64,
}

/// Results of one phase (calls by arrival phase).
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    /// Phase name.
    pub name: String,
    /// Start, scenario s.
    pub start_s: f64,
    /// Length, scenario s.
    pub duration_s: f64,
    /// Emergency calls per s.
    pub emergency_rate_per_s: f64,
    /// Non-emergency calls per s.
    pub non_emergency_rate_per_s: f64,
    /// Emergency KPIs of calls arriving in the phase.
    pub emergency: ClassKpi,
    /// Non-emergency KPIs of calls arriving in the phase.
    pub non_emergency: ClassKpi,
    /// Expectation for steady phases (None when the phase is not steady or `A ≥ c`).
    pub erlang_c: Option<ErlangExpectation>,
}

/// Latency percentiles, real µs.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyStats {
    /// Samples.
    pub samples: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest, µs.
    pub max_us: u64,
    /// Mean, µs.
    pub mean_us: f64,
}

impl LatencyStats {
    /// Percentiles of `h` (all 0 when empty).
    pub fn from_histogram(h: &Histogram<u64>) -> LatencyStats {
        let q = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        LatencyStats {
            samples: h.len(),
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: if h.is_empty() { 0 } else { h.max() },
            mean_us: if h.is_empty() { 0.0 } else { h.mean() },
        }
    }
}

/// One target and whether it was met.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// What was required.
    pub target: String,
    /// What was measured.
    pub measured: String,
    /// Met?
    pub pass: bool,
}

/// CPU used by the engine process (from `/proc/<pid>/stat`), when it is a child process.
#[derive(Debug, Clone, Serialize)]
pub struct EngineCpu {
    /// User + system CPU time over the run, s.
    pub cpu_s: f64,
    /// CPU per completed (answered) call, µs.
    pub cpu_per_answered_call_us: Option<f64>,
}

/// The whole report (`answerpoint load --json FILE` writes it).
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// CPU used by the harness itself (carriers + handlers) over the run, s, when known:
    /// a harness short of CPU inflates the measured latencies.
    pub harness_cpu_s: Option<f64>,
    /// Scenario name.
    pub scenario: String,
    /// Scenario seconds per real second.
    pub time_scale: f64,
    /// RNG seed.
    pub seed: u64,
    /// Real run time, s.
    pub real_duration_s: f64,
    /// Handlers simulated.
    pub handlers: u32,
    /// Handlers that failed mid-run.
    pub handlers_failed: u32,
    /// Offers that reached a failed handler (0 once a `logout` has completed).
    pub offers_to_failed: u64,
    /// Wrap-up the engine applied, real s (emergency, non-emergency).
    pub engine_wrap_up_real_s: (u32, u32),
    /// Datagrams the peers could not parse.
    pub unparsable: u64,
    /// Answered calls that never finished, by the handler leg's last state (diagnostics).
    pub unfinished_leg_states: BTreeMap<String, u64>,
    /// Per class.
    pub classes: Vec<ClassResult>,
    /// Per phase.
    pub phases: Vec<PhaseResult>,
    /// Engine latency: carrier INVITE sent → handler INVITE received, first offers made
    /// when a free handler was known to exist, real µs.
    pub engine_latency: LatencyStats,
    /// Every first offer (includes queueing), real µs.
    pub first_offer: LatencyStats,
    /// How late the harness sent each carrier INVITE against its scheduled (Poisson)
    /// arrival time, real µs: the harness's own accuracy. A large p99 means the arrivals
    /// the engine saw were burstier than the scenario asks for.
    pub send_lateness: LatencyStats,
    /// Engine CPU (child process only).
    pub engine_cpu: Option<EngineCpu>,
    /// Target verdicts.
    pub verdicts: Vec<Verdict>,
    /// All targets met.
    pub pass: bool,
}

fn kpi() -> Kpi {
    Kpi::new(KpiConfig::default()).expect("the default KpiConfig is valid")
}

/// Builds the report from a run's raw data, judging every target of `scenario`.
/// `engine_cpu_s` is the engine's CPU time over the run when known.
pub fn build(scenario: &LoadScenario, data: &RunData, engine_cpu_s: Option<f64>) -> LoadReport {
    let scale = scenario.time_scale;
    let mut run = kpi();
    let mut per_phase: Vec<Kpi> = scenario.phases.iter().map(|_| kpi()).collect();
    let classes = [CallClass::Emergency, CallClass::NonEmergency];
    let mut res: Vec<ClassResult> = Vec::new();
    for class in classes {
        let mut r = ClassResult {
            class,
            sent: 0,
            answered: 0,
            abandoned: 0,
            rejected: 0,
            rejected_by_code: BTreeMap::new(),
            cut_off: 0,
            lost: 0,
            answered_unfinished: 0,
            kpi: run.report().run.class(class).clone(),
        };
        for c in data.calls.iter().filter(|c| c.class == class) {
            r.sent += 1;
            let arrived = KPI_EPOCH_UNIX_MS + (c.arrival_s * 1000.0) as u64;
            run.call_arrived(class, arrived);
            let mut pk = per_phase.get_mut(c.phase);
            if let Some(k) = pk.as_mut() {
                k.call_arrived(class, arrived);
            }
            match c.outcome {
                Some(Outcome::Answered) => {
                    r.answered += 1;
                    if !c.finished {
                        r.answered_unfinished += 1;
                        r.lost += 1;
                    }
                    let ms = c.answer_us.unwrap_or(0) as f64 * scale / 1000.0;
                    let ms = ms.round() as u64;
                    run.call_answered(class, arrived, ms);
                    if let Some(k) = pk.as_mut() {
                        k.call_answered(class, arrived, ms);
                    }
                }
                Some(Outcome::Abandoned) => {
                    r.abandoned += 1;
                    run.call_abandoned(class, arrived);
                    if let Some(k) = pk.as_mut() {
                        k.call_abandoned(class, arrived);
                    }
                }
                Some(Outcome::Rejected(code)) => {
                    r.rejected += 1;
                    *r.rejected_by_code.entry(code).or_default() += 1;
                }
                Some(Outcome::CutOff) => r.cut_off += 1,
                None => r.lost += 1,
            }
        }
        res.push(r);
    }
    let run_report = run.report();
    for r in &mut res {
        r.kpi = run_report.run.class(r.class).clone();
    }

    let (wu_e, wu_n) = scenario.engine_wrap_up_real_s();
    let mut phases = Vec::new();
    let mut start = 0.0;
    for (i, p) in scenario.phases.iter().enumerate() {
        let rep = per_phase[i].report();
        let erlang = if p.steady {
            expectation(scenario, start, p, (wu_e, wu_n))
        } else {
            None
        };
        phases.push(PhaseResult {
            name: p.name.clone(),
            start_s: start,
            duration_s: p.duration_s,
            emergency_rate_per_s: p.arrivals_per_s.emergency,
            non_emergency_rate_per_s: p.arrivals_per_s.non_emergency,
            emergency: rep.run.class(CallClass::Emergency).clone(),
            non_emergency: rep.run.class(CallClass::NonEmergency).clone(),
            erlang_c: erlang,
        });
        start += p.duration_s;
    }

    let engine_latency = LatencyStats::from_histogram(&data.engine_latency_us);
    let answered: u64 = res.iter().map(|r| r.answered).sum();
    let engine_cpu = engine_cpu_s.map(|cpu_s| EngineCpu {
        cpu_s,
        cpu_per_answered_call_us: (answered > 0).then(|| cpu_s * 1e6 / answered as f64),
    });

    // Verdicts.
    let mut verdicts = Vec::new();
    let t = &scenario.targets;
    for a in &t.answer {
        let k = run_report.run.class(a.class);
        let within = match a.within_s {
            5 => k.answered_within_5s,
            10 => k.answered_within_10s,
            15 => k.answered_within_15s,
            _ => k.answered_within_20s,
        };
        // Calls still unanswered when the run ended, after waiting longer than the
        // threshold, were not answered within it either: they count against the target
        // (else an engine that never answers passes). Calls cut off sooner say nothing.
        let late_cut_off = data
            .calls
            .iter()
            .filter(|c| {
                c.class == a.class
                    && c.outcome == Some(Outcome::CutOff)
                    && c.cut_off_after_us
                        .is_some_and(|us| us as f64 * scale / 1e6 > a.within_s as f64)
            })
            .count() as u64;
        let judged = k.answered + late_cut_off;
        let pct = (judged > 0).then(|| within as f64 * 100.0 / judged as f64);
        let note = if late_cut_off > 0 {
            format!(
                " ({late_cut_off} call{} still unanswered after {} s at the end count as late)",
                if late_cut_off == 1 { "" } else { "s" },
                a.within_s
            )
        } else {
            String::new()
        };
        verdicts.push(Verdict {
            target: format!(
                "{} answered within {} s ≥ {} %",
                a.class.as_str(),
                a.within_s,
                a.min_pct
            ),
            measured: pct.map_or("no call answered".into(), |p| format!("{p:.1} %{note}")),
            pass: pct.is_some_and(|p| p >= a.min_pct),
        });
    }
    let e = &res[0];
    verdicts.push(Verdict {
        target: format!("emergency rejected ≤ {}", t.max_emergency_rejected),
        measured: e.rejected.to_string(),
        pass: e.rejected <= t.max_emergency_rejected,
    });
    let lost: u64 = res.iter().map(|r| r.lost).sum();
    verdicts.push(Verdict {
        target: format!("lost ≤ {}", t.max_lost),
        measured: lost.to_string(),
        pass: lost <= t.max_lost,
    });
    if let Some(max) = t.max_emergency_abandoned_pct {
        let pct = e.kpi.abandoned_pct.unwrap_or(0.0);
        verdicts.push(Verdict {
            target: format!("emergency abandoned ≤ {max} %"),
            measured: format!("{pct:.1} %"),
            pass: pct <= max,
        });
    }
    if let Some(max) = t.engine_latency_p99_max_us {
        verdicts.push(Verdict {
            target: format!("engine latency p99 ≤ {max} µs"),
            measured: format!(
                "{} µs ({} samples)",
                engine_latency.p99_us, engine_latency.samples
            ),
            pass: engine_latency.samples > 0 && engine_latency.p99_us <= max,
        });
    }
    let pass = verdicts.iter().all(|v| v.pass);
    LoadReport {
        harness_cpu_s: None,
        scenario: scenario.name.clone(),
        time_scale: scale,
        seed: scenario.seed,
        real_duration_s: data.real_duration.as_secs_f64(),
        handlers: scenario.handler_count(),
        handlers_failed: data.handlers_failed,
        offers_to_failed: data.offers_to_failed,
        engine_wrap_up_real_s: (wu_e, wu_n),
        unparsable: data.unparsable,
        unfinished_leg_states: data.unfinished_leg_states.clone(),
        classes: res,
        phases,
        engine_latency,
        first_offer: LatencyStats::from_histogram(&data.first_offer_us),
        send_lateness: LatencyStats::from_histogram(&data.send_lateness_us),
        engine_cpu,
        verdicts,
        pass,
    }
}

fn expectation(
    sc: &LoadScenario,
    start_s: f64,
    p: &super::scenario::Phase,
    (wu_e, wu_n): (u32, u32),
) -> Option<ErlangExpectation> {
    let mut handlers = 0u32;
    let mut think_sum = 0.0;
    for g in &sc.handlers {
        let failed = g.failure.map_or(0, |f| {
            if f.at_s <= start_s {
                (f64::from(g.count) * f.fraction).round() as u32
            } else {
                0
            }
        });
        let up = g.count.saturating_sub(failed);
        handlers += up;
        think_sum += f64::from(up) * g.think.map_or(0.0, |d| d.mean_s());
    }
    if handlers == 0 {
        return None;
    }
    let think = think_sum / f64::from(handlers);
    let (le, ln) = (p.arrivals_per_s.emergency, p.arrivals_per_s.non_emergency);
    let lambda = le + ln;
    if lambda <= 0.0 {
        return None;
    }
    let wrap_e = f64::from(wu_e) * sc.time_scale;
    let wrap_n = f64::from(wu_n) * sc.time_scale;
    let svc_e = think + sc.classes.emergency.handle.mean_s() + wrap_e;
    let svc_n = think + sc.classes.non_emergency.handle.mean_s() + wrap_n;
    let service = (le * svc_e + ln * svc_n) / lambda;
    let load = lambda * service;
    let c = f64::from(handlers);
    if load >= c {
        return None;
    }
    let pw = erlang_c(handlers, load);
    let mu = 1.0 / service;
    let t = (10.0 - think).max(0.0);
    let within = |rate: f64| {
        if 10.0 < think {
            0.0
        } else {
            100.0 * (1.0 - pw * (-(rate) * t).exp())
        }
    };
    let rate_e = c * mu - le;
    Some(ErlangExpectation {
        handlers,
        mean_service_s: service,
        load_erlangs: load,
        p_wait: pw,
        emergency_within_10s_pct: within(rate_e),
        emergency_mean_answer_s: think + pw / rate_e,
        fifo_within_10s_pct: within(c * mu - lambda),
    })
}

fn opt_ms(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}", v as f64 / 1000.0))
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}%"))
}

impl LoadReport {
    /// The human summary printed by `answerpoint load`.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "scenario {}  seed {}  time scale ×{}  real {:.1} s  handlers {} ({} failed, {} offers to them)  wrap-up real {}/{} s",
            self.scenario,
            self.seed,
            self.time_scale,
            self.real_duration_s,
            self.handlers,
            self.handlers_failed,
            self.offers_to_failed,
            self.engine_wrap_up_real_s.0,
            self.engine_wrap_up_real_s.1
        );
        let _ = writeln!(
            s,
            "{:<14} {:>6} {:>6} {:>6} {:>6} {:>6} {:>5}  {:>7} {:>7} {:>7} {:>7}  {:>6} {:>6} {:>6} {:>6}  HO <10/10-60/≥60 s",
            "class", "sent", "answ", "aband", "reject", "cutoff", "lost", "mean s", "p50 s", "p90 s", "p99 s", "≤5s", "≤10s", "≤15s", "≤20s"
        );
        for c in &self.classes {
            let k = &c.kpi;
            let _ = writeln!(
                s,
                "{:<14} {:>6} {:>6} {:>6} {:>6} {:>6} {:>5}  {:>7} {:>7} {:>7} {:>7}  {:>6} {:>6} {:>6} {:>6}  {}/{}/{}",
                c.class.as_str(),
                c.sent,
                c.answered,
                c.abandoned,
                c.rejected,
                c.cut_off,
                c.lost,
                k.answer_time_mean_ms
                    .map_or("-".into(), |v| format!("{:.1}", v / 1000.0)),
                opt_ms(k.answer_time_p50_ms),
                opt_ms(k.answer_time_p90_ms),
                opt_ms(k.answer_time_p99_ms),
                opt_pct(k.answered_within_5s_pct),
                opt_pct(k.answered_within_10s_pct),
                opt_pct(k.answered_within_15s_pct),
                opt_pct(k.answered_within_20s_pct),
                opt_pct(k.home_office_under_10s_pct),
                opt_pct(k.home_office_10s_to_60s_pct),
                opt_pct(k.home_office_60s_and_over_pct),
            );
            if c.cut_off > 0 {
                let _ = writeln!(
                    s,
                    "{:<14} the ≤ columns count answered calls only (as /api/kpi); the {} cut \
                     off unanswered at the end are not in them (the verdicts count those that \
                     had waited past a target's threshold as late)",
                    "", c.cut_off
                );
            }
            if c.answered_unfinished > 0 {
                let _ = writeln!(
                    s,
                    "{:<14} answered but never finished (BYE): {} (handler legs: {:?})",
                    "", c.answered_unfinished, self.unfinished_leg_states
                );
            }
            if !c.rejected_by_code.is_empty() {
                let _ = writeln!(s, "{:<14} rejected by code {:?}", "", c.rejected_by_code);
            }
        }
        let _ = writeln!(
            s,
            "phases (emergency answered ≤10 s: measured vs Erlang C):"
        );
        for p in &self.phases {
            let _ = write!(
                s,
                "  {:<16} {:>6.0} s  999 {:.3}/s 101 {:.3}/s  measured 999 ≤10s {} mean {} s (n={})",
                p.name,
                p.duration_s,
                p.emergency_rate_per_s,
                p.non_emergency_rate_per_s,
                opt_pct(p.emergency.answered_within_10s_pct),
                p.emergency
                    .answer_time_mean_ms
                    .map_or("-".into(), |v| format!("{:.1}", v / 1000.0)),
                p.emergency.answered
            );
            match &p.erlang_c {
                Some(e) => {
                    let _ = writeln!(
                        s,
                        "  | Erlang C (c={}, A={:.1} E, P(wait)={:.3}): 999 ≤10s {:.1}% mean {:.1} s; FIFO ≤10s {:.1}%",
                        e.handlers,
                        e.load_erlangs,
                        e.p_wait,
                        e.emergency_within_10s_pct,
                        e.emergency_mean_answer_s,
                        e.fifo_within_10s_pct
                    );
                }
                None => {
                    let _ = writeln!(s, "  | (no steady-state expectation)");
                }
            }
        }
        let l = &self.engine_latency;
        let _ = writeln!(
            s,
            "engine latency (INVITE sent → handler INVITE received, free handler, real µs): n={} p50 {} p90 {} p99 {} p99.9 {} max {}",
            l.samples, l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
        );
        let l = &self.send_lateness;
        let _ = writeln!(
            s,
            "harness accuracy (carrier INVITE sent after its arrival time, real µs): n={} p50 {} p99 {} max {}",
            l.samples, l.p50_us, l.p99_us, l.max_us
        );
        if let Some(h) = self.harness_cpu_s {
            let _ = writeln!(s, "harness CPU {h:.2} s");
        }
        if let Some(cpu) = &self.engine_cpu {
            let _ = writeln!(
                s,
                "engine CPU {:.2} s ({} per answered call)",
                cpu.cpu_s,
                cpu.cpu_per_answered_call_us
                    .map_or("-".into(), |v| format!("{v:.0} µs"))
            );
        }
        for v in &self.verdicts {
            let _ = writeln!(
                s,
                "[{}] {}: {}",
                if v.pass { "PASS" } else { "FAIL" },
                v.target,
                v.measured
            );
        }
        let _ = writeln!(s, "verdict: {}", if self.pass { "PASS" } else { "FAIL" });
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::agent::CallResult;

    fn data(calls: Vec<CallResult>) -> RunData {
        let h = || Histogram::<u64>::new(3).unwrap();
        RunData {
            calls,
            engine_latency_us: h(),
            send_lateness_us: h(),
            first_offer_us: h(),
            real_duration: std::time::Duration::from_secs(10),
            handlers_failed: 0,
            handlers_registered: 0,
            unparsable: 0,
            offers_to_failed: 0,
            unfinished_leg_states: BTreeMap::new(),
        }
    }

    fn call(outcome: Outcome, answer_s: Option<f64>, cut_off_after_s: Option<f64>) -> CallResult {
        // Scenario time ×10: real µs = scenario s × 100,000.
        let us = |s: f64| (s * 100_000.0) as u64;
        CallResult {
            class: CallClass::Emergency,
            phase: 0,
            arrival_s: 1.0,
            outcome: Some(outcome),
            answer_us: answer_s.map(us),
            first_offer_us: None,
            immediate: false,
            finished: true,
            cut_off_after_us: cut_off_after_s.map(us),
        }
    }

    /// An engine that leaves 999 calls unanswered until the run ends must not pass the
    /// answer-time target on the few it did answer (found by a new user): calls cut off
    /// after waiting longer than the threshold count as late; calls cut off sooner do not.
    #[test]
    fn calls_cut_off_after_the_threshold_count_against_the_answer_target() {
        let sc = LoadScenario::from_toml(
            r#"
name = "t"
time_scale = 10
[[phases]]
name = "a"
duration_s = 100
arrivals_per_s = { emergency = 1.0 }
[classes.emergency]
handle = { dist = "constant", value_s = 60 }
[classes.non-emergency]
handle = { dist = "constant", value_s = 60 }
[[handlers]]
count = 1
[targets]
answer = [{ class = "emergency", within_s = 10, min_pct = 90 }]
"#,
        )
        .unwrap();
        let mut calls: Vec<CallResult> = (0..9)
            .map(|_| call(Outcome::Answered, Some(3.0), None))
            .collect();
        // Only answered calls: 100 %.
        let r = build(&sc, &data(calls.clone()), None);
        assert!(r.verdicts[0].pass, "{:?}", r.verdicts[0]);
        assert_eq!(r.verdicts[0].measured, "100.0 %");
        // One cut off after 1 s of waiting: no evidence either way.
        calls.push(call(Outcome::CutOff, None, Some(1.0)));
        let r = build(&sc, &data(calls.clone()), None);
        assert!(r.verdicts[0].pass, "{:?}", r.verdicts[0]);
        // Two cut off after 30 s: 9 of 11 judged calls within 10 s.
        calls.push(call(Outcome::CutOff, None, Some(30.0)));
        calls.push(call(Outcome::CutOff, None, Some(30.0)));
        let r = build(&sc, &data(calls), None);
        assert!(!r.verdicts[0].pass, "{:?}", r.verdicts[0]);
        assert_eq!(
            r.verdicts[0].measured,
            "81.8 % (2 calls still unanswered after 10 s at the end count as late)"
        );
        // The class table (answered-only, as /api/kpi) says why it can read higher.
        let text = r.summary();
        assert!(text.contains("the 3 cut off unanswered"), "{text}");
        assert!(text.contains("verdict: FAIL"), "{text}");
    }
}
