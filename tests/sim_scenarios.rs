//! The TOML scenarios in `load-scripts/sim-*.toml` parse, run (shortened) and conserve
//! calls; the simulation is deterministic for a seed; abandonment, overflow and
//! rejection show up where the scenario provokes them.

use std::time::Instant;

use answerpoint::call::CallClass;
use answerpoint::sim::{self, Scenario};

fn load(name: &str, calls: u64) -> Scenario {
    let path = format!("{}/load-scripts/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut s = Scenario::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap();
    s.calls = calls;
    s.warmup_calls = calls / 10;
    s
}

fn conserved(report: &sim::SimReport) {
    for c in report.summary(None) {
        assert_eq!(
            c.calls,
            c.answered + c.abandoned + c.overflowed + c.rejected + c.unanswered_at_end,
            "{c:?}"
        );
        if c.class == CallClass::Emergency {
            assert_eq!(c.rejected, 0, "a 999 call was rejected");
        }
    }
}

#[test]
fn surge_scenario_runs_and_abandons_and_rings_out() {
    let s = load("sim-surge.toml", 20_000);
    let t0 = Instant::now();
    let r = sim::run(&s, t0).unwrap();
    conserved(&r);
    let e = r.class(CallClass::Emergency).unwrap();
    assert!(e.calls > 10_000);
    assert!(e.ring_no_answer > 0, "2 % of offers ring out");
    let ne = r.class(CallClass::NonEmergency).unwrap();
    // 999 first: non-emergency callers wait longer.
    assert!(ne.p_wait_longer_than(20.0) > e.p_wait_longer_than(20.0));
    // Deterministic for a seed.
    let again = sim::run(&s, t0).unwrap();
    assert_eq!(r, again);
}

#[test]
fn overflow_scenario_overflows_999_by_rule_and_101_by_limit() {
    let r = sim::run(&load("sim-overflow.toml", 20_000), Instant::now()).unwrap();
    conserved(&r);
    let e = r.class(CallClass::Emergency).unwrap();
    assert!(e.overflowed > 0);
    // Nobody waits past the 60 s rule (answered waits are ≤ 60 s + ring time 0).
    assert!(
        e.p_wait_longer_than(60.0) == 0.0,
        "{}",
        e.p_wait_longer_than(60.0)
    );
    assert!(r.class(CallClass::NonEmergency).unwrap().overflowed > 0);
}

#[test]
fn welsh_language_scenario_runs() {
    let r = sim::run(&load("sim-welsh-language.toml", 20_000), Instant::now()).unwrap();
    conserved(&r);
    // Two emergency rows: all callers, and those needing a Welsh speaker.
    assert_eq!(r.stats.len(), 2);
    assert!(r.stats.iter().all(|s| !s.waits_ns.is_empty()));
}

#[test]
fn scenario_errors_are_typed() {
    let bad = "calls = 10\n[[classes]]\nclass = \"emergency\"\narrival_rate_per_s = 0\nhandle = { dist = \"exponential\", mean_s = 1 }\n[[handlers]]\ncount = 1\nskills = [\"emergency\"]\n";
    assert_eq!(
        Scenario::from_toml(bad),
        Err(sim::ScenarioError::NotPositive("arrival_rate_per_s"))
    );
    let unknown = bad
        .replace("arrival_rate_per_s = 0", "arrival_rate_per_s = 1")
        .replace("[\"emergency\"]", "[\"klingon\"]");
    assert_eq!(
        Scenario::from_toml(&unknown),
        Err(sim::ScenarioError::UnknownSkill("klingon".into()))
    );
}

/// `load-scripts/101-flood.toml`'s staffing (issue 7): with its 50 handlers a perfect engine
/// answers well over 90 % of 999 calls within 10 s despite the 101 flood, so the load
/// scenario's verdict tests the engine, not luck; with the 40 it had, the ceiling sat
/// within a run's sampling noise of the target.
#[test]
fn flood_staffing_leaves_the_999_target_a_margin() {
    let within_10s = |handlers: u32| {
        let mut s = load("sim-101-flood.toml", 40_000);
        s.handlers[0].count = handlers;
        let r = sim::run(&s, Instant::now()).unwrap();
        conserved(&r);
        r.class(CallClass::Emergency).unwrap().answered_within(10.0)
    };
    let staffed = within_10s(50);
    let old = within_10s(40);
    assert!(staffed >= 0.95, "{staffed}");
    assert!(old < 0.935, "{old}");
}
