//! The simulation driving the real router against the Erlang C formula for M/M/c
//! (issue 3 acceptance): simulated P(W > t) within ±1.5 percentage points of theory at
//! t = 0, 10 and 20 s, for utilisation 0.7, 0.85 and 0.95, with 200,000 counted calls.

use std::time::Instant;

use answerpoint::sim::{self, MmcModel, Scenario};

fn simulate(model: &MmcModel, calls: u64, warmup: u64, seed: u64) -> [f64; 3] {
    let mut s = Scenario::mmc(
        model.arrival_rate_per_s,
        model.handlers,
        model.mean_handle_s,
        calls,
        seed,
    );
    s.warmup_calls = warmup;
    let report = sim::run(&s, Instant::now()).unwrap();
    let st = &report.stats[0];
    assert_eq!(
        st.waits_ns.len() as u64,
        calls,
        "every counted call answered"
    );
    [0.0, 10.0, 20.0].map(|t| st.p_wait_longer_than(t))
}

/// Parameters. Statistical soundness, not seed-tuning: the estimate of P(W > t) from
/// one run is autocorrelated (queue-length excursions last thousands of calls near
/// ρ = 0.95), so its spread matters more than the call count. `spread_over_seeds`
/// (below, `--ignored`) ran 20 seeds × 200,000 calls per case; for c = 2, mean handle
/// 40 s the standard deviation of (simulated − Erlang C) was ≤ 0.50 pp at ρ = 0.7 and
/// 0.85 (all t) and 0.43 / 0.56 / 0.69 pp at ρ = 0.95 for t = 0 / 10 / 20 s, with no
/// visible bias (|mean| ≤ 0.12 pp). Larger c is worse at equal call count (c = 50:
/// up to 2.4 pp), so c = 2. ρ = 0.95 runs 600,000 counted calls (σ ≈ 0.40 pp), the
/// others 200,000 (σ ≤ 0.50 pp): the ±1.5 pp tolerance is ≥ 3σ everywhere, so a random
/// seed fails with well under 1 % probability; seed 1 was fixed before looking.
/// Handle time 40 s makes the t-dependence real: at ρ = 0.7, P(W > 0) = 0.576 and
/// P(W > 20 s) = 0.427. Warm-up: 20,000 calls (the system starts empty).
const HANDLERS: u32 = 2;
const MEAN_HANDLE_S: f64 = 40.0;
const WARMUP_CALLS: u64 = 20_000;
const SEED: u64 = 1;
const TOLERANCE: f64 = 0.015;

fn check(rho: f64, calls: u64) {
    let m = MmcModel {
        arrival_rate_per_s: rho * f64::from(HANDLERS) / MEAN_HANDLE_S,
        handlers: HANDLERS,
        mean_handle_s: MEAN_HANDLE_S,
    };
    let sim = simulate(&m, calls, WARMUP_CALLS, SEED);
    for (i, t) in [0.0, 10.0, 20.0].into_iter().enumerate() {
        let theory = m.p_wait_longer_than(t);
        println!(
            "rho {rho} t {t} s: simulated {:.4} Erlang C {theory:.4} diff {:+.2} pp",
            sim[i],
            (sim[i] - theory) * 100.0
        );
        assert!(
            (sim[i] - theory).abs() <= TOLERANCE,
            "rho {rho}, t {t} s: simulated P(W > t) = {:.4}, Erlang C = {theory:.4}",
            sim[i]
        );
    }
    // The comparison is not vacuous: waiting is common and decays with t.
    assert!(sim[0] > 0.5 && sim[2] < sim[0] - 0.02, "{sim:?}");
}

#[test]
fn mmc_matches_erlang_c_at_utilisation_0_70() {
    check(0.70, 200_000);
}

#[test]
fn mmc_matches_erlang_c_at_utilisation_0_85() {
    check(0.85, 200_000);
}

#[test]
fn mmc_matches_erlang_c_at_utilisation_0_95() {
    check(0.95, 600_000);
}

/// Exploration used to choose the parameters below: spread of the estimate over seeds.
/// `cargo test --release --test sim_erlang_c -- --ignored --nocapture`
#[test]
#[ignore]
fn spread_over_seeds() {
    for &(c, h) in &[(2u32, 40.0), (5, 100.0), (10, 30.0), (50, 180.0)] {
        for &rho in &[0.7, 0.85, 0.95] {
            let m = MmcModel {
                arrival_rate_per_s: rho * c as f64 / h,
                handlers: c,
                mean_handle_s: h,
            };
            let theory = [0.0, 10.0, 20.0].map(|t| m.p_wait_longer_than(t));
            let n = 20;
            let mut sum = [0.0; 3];
            let mut sq = [0.0; 3];
            let mut worst = [0.0f64; 3];
            for seed in 1..=n {
                let p = simulate(&m, 200_000, 20_000, seed);
                for i in 0..3 {
                    let d = p[i] - theory[i];
                    sum[i] += d;
                    sq[i] += d * d;
                    worst[i] = worst[i].max(d.abs());
                }
            }
            let sd: Vec<String> = (0..3)
                .map(|i| {
                    let mean = sum[i] / n as f64;
                    let sd = (sq[i] / n as f64 - mean * mean).sqrt();
                    format!(
                        "t{}: th {:.3} bias {:+.4} sd {:.4} worst {:.4}",
                        i * 10,
                        theory[i],
                        mean,
                        sd,
                        worst[i]
                    )
                })
                .collect();
            println!("c={c} h={h} rho={rho}: {}", sd.join(" | "));
        }
    }
}
