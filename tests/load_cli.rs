//! `answerpoint load` end to end (issue 7): the binary starts its own engine child, drives
//! registering handlers (REGISTER with digest, RFC 3261 §22.4) of which half log out
//! mid-run (REGISTER `Expires: 0`, §10.2.2), writes the JSON report, and its exit status
//! says whether every target was met (0) or not (1).

use std::path::{Path, PathBuf};
use std::process::Command;

const SCENARIO: &str = r#"
name = "cli-check"
time_scale = 30
drain_s = 120
[[phases]]
name = "a"
duration_s = 120
arrivals_per_s = { emergency = 0.2 }
[classes.emergency]
handle = { dist = "constant", value_s = 20 }
[classes.non-emergency]
handle = { dist = "constant", value_s = 20 }
[[handlers]]
count = 6
mode = "register"
think = { dist = "constant", value_s = 1 }
failure = { fraction = 0.5, at_s = 30, mode = "logout" }
[engine]
wrap_up_s = { emergency = 0, non-emergency = 0 }
[targets]
max_emergency_rejected = 0
max_lost = 0
"#;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("load-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(dir: &Path, extra_targets: &str) -> (i32, serde_json::Value, String) {
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, format!("{SCENARIO}{extra_targets}")).unwrap();
    let json = dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_answerpoint"))
        .arg("load")
        .arg("--scenario")
        .arg(&scenario)
        .arg("--json")
        .arg(&json)
        .arg("--dir")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (out.status.code().unwrap_or(-1), report, stdout)
}

#[test]
fn load_reports_json_and_exit_status_follows_the_targets() {
    let dir = scratch("pass");
    let (code, r, stdout) = run(&dir, "");
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    assert_eq!(r["pass"], true);
    assert_eq!(r["handlers"], 6);
    assert_eq!(r["handlers_failed"], 3);
    // The three logged-out handlers were never offered a call again.
    assert_eq!(r["offers_to_failed"], 0, "{stdout}");
    let e = &r["classes"][0];
    assert_eq!(e["class"], "emergency");
    let sent = e["sent"].as_u64().unwrap();
    // ~24 Poisson arrivals in 120 scenario s at 0.2/s.
    assert!((8..=45).contains(&sent), "{stdout}");
    assert_eq!(e["lost"], 0);
    assert_eq!(e["rejected"], 0);
    assert_eq!(
        e["answered"].as_u64().unwrap()
            + e["abandoned"].as_u64().unwrap()
            + e["cut_off"].as_u64().unwrap(),
        sent
    );
    // The KPI block is /api/kpi's: count equals the calls sent.
    assert_eq!(e["kpi"]["count"].as_u64().unwrap(), sent);
    assert!(r["engine_cpu"]["cpu_s"].as_f64().unwrap() > 0.0);

    // An unreachable target (engine latency p99 ≤ 1 µs: one loopback hop takes longer).
    let dir = scratch("fail");
    let (code, r, stdout) = run(&dir, "engine_latency_p99_max_us = 1\n");
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("[FAIL] engine latency p99 ≤ 1 µs"),
        "{stdout}"
    );
    assert_eq!(r["pass"], false);
    let _ = std::fs::remove_dir_all(scratch("pass"));
    let _ = std::fs::remove_dir_all(dir);
}
