//! `answerpoint simulate` end to end: the M/M/c flags and `--json` output shape
//! (per class: calls, mean wait, p50/p90/p95/p99 in ms, fraction answered within
//! 5/10/15/20/60 s), next to the Erlang C prediction.

use std::process::Command;

fn simulate(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_answerpoint"))
        .arg("simulate")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn mmc_json_report() {
    let v = simulate(&[
        "--arrival-rate-per-s",
        "0.1",
        "--handlers",
        "20",
        "--mean-handle-s",
        "180",
        "--calls",
        "20000",
        "--seed",
        "5",
        "--json",
    ]);
    assert_eq!(v["seed"], 5);
    assert_eq!(v["warmup_calls"], 2000);
    let c = &v["classes"][0];
    assert_eq!(c["class"], "emergency");
    assert_eq!(c["calls"], 20000);
    assert_eq!(c["answered"], 20000);
    let p: Vec<f64> = ["wait_p50_ms", "wait_p90_ms", "wait_p95_ms", "wait_p99_ms"]
        .iter()
        .map(|k| c[k].as_f64().unwrap())
        .collect();
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
    let sl: Vec<f64> = ["5", "10", "15", "20", "60"]
        .iter()
        .map(|k| c["answered_within_s"][k].as_f64().unwrap())
        .collect();
    assert!(
        sl.windows(2).all(|w| w[0] <= w[1]) && sl[4] <= 1.0,
        "{sl:?}"
    );
    // 18 Erlangs on 20 handlers: Erlang C says 55.1 % wait; the mean wait and the
    // 20 s service level agree with theory to a few points on 20,000 calls.
    let e = &c["erlang_c"];
    assert!(
        (e["p_wait"].as_f64().unwrap() - 0.5508).abs() < 0.001,
        "{e}"
    );
    let mean = c["mean_wait_ms"].as_f64().unwrap();
    let mean_theory = e["mean_wait_ms"].as_f64().unwrap();
    assert!(
        (mean / mean_theory - 1.0).abs() < 0.25,
        "{mean} vs {mean_theory}"
    );
    let sl20 = e["answered_within_s"]["20"].as_f64().unwrap();
    assert!((sl[3] - sl20).abs() < 0.05, "{} vs {sl20}", sl[3]);
}

#[test]
fn scenario_file_and_errors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/load-scripts/sim-overflow.toml"
    );
    let v = simulate(&["--scenario", path, "--calls", "3000", "--json"]);
    assert_eq!(v["seed"], 7);
    assert_eq!(v["classes"][1]["class"], "non-emergency");
    let out = Command::new(env!("CARGO_BIN_EXE_answerpoint"))
        .args(["simulate", "--scenario", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_scenario_file_error_names_the_path() {
    let out = Command::new(env!("CARGO_BIN_EXE_answerpoint"))
        .args(["simulate", "--scenario", "no/such/missing.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/missing.toml"), "{err}");
}

#[test]
fn text_report_has_a_p95_column_matching_json() {
    let args = [
        "simulate",
        "--arrival-rate-per-s",
        "0.1",
        "--handlers",
        "20",
        "--mean-handle-s",
        "180",
        "--calls",
        "5000",
        "--seed",
        "9",
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_answerpoint"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let header = text.lines().nth(1).unwrap();
    let cols: Vec<&str> = header.split_whitespace().collect();
    let p95_at = cols.iter().position(|c| *c == "p95").expect(header);
    assert_eq!(cols[p95_at - 2], "p90");
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let v = simulate(&with_json[1..]);
    let json_p95 = v["classes"][0]["wait_p95_ms"].as_f64().unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("emergency"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    // Row: class calls answered aband overfl reject mean p50 p90 p95 p99 …
    let shown: f64 = row[9].parse().unwrap();
    assert!((shown - json_p95).abs() <= 0.5, "{shown} vs {json_p95}");
}
