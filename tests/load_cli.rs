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

/// A test's scratch directory under `$TMPDIR`: removed when the test passes, kept (for
/// its logs) when the test fails.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch(name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("load-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

/// Runs the load command in `dir` without `--dir`: its default run directory goes under
/// `dir/tmp` (`TMPDIR`), so what it leaves behind can be checked.
fn run(dir: &Path, extra_targets: &str) -> (i32, serde_json::Value, String) {
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, format!("{SCENARIO}{extra_targets}")).unwrap();
    let json = dir.join("report.json");
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_answerpoint"))
        .arg("load")
        .arg("--scenario")
        .arg(&scenario)
        .arg("--json")
        .arg(&json)
        .env("TMPDIR", &tmp)
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
    // Every INVITE went through the pacer, none before its arrival time was known.
    assert_eq!(r["send_lateness"]["samples"].as_u64().unwrap(), sent);
    assert!(stdout.contains("harness accuracy"), "{stdout}");
    // A passing run removes its default run directory (engine config and log).
    let left: Vec<_> = std::fs::read_dir(dir.join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // An unreachable target (engine latency p99 ≤ 1 µs: one loopback hop takes longer).
    let dir = scratch("fail");
    let (code, r, stdout) = run(&dir, "engine_latency_p99_max_us = 1\n");
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("[FAIL] engine latency p99 ≤ 1 µs"),
        "{stdout}"
    );
    assert_eq!(r["pass"], false);
    // A failing run keeps it, with the engine's log.
    let kept: Vec<PathBuf> = std::fs::read_dir(dir.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].join("engine.log").exists(), "{kept:?}");
}

fn load_cmd(dir: &Path, scenario_text: &str) -> Command {
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, scenario_text).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_answerpoint"));
    c.arg("load")
        .arg("--scenario")
        .arg(&scenario)
        .arg("--dir")
        .arg(dir.join("run"));
    c
}

#[test]
fn absurd_arrival_rate_is_refused_up_front_naming_the_key() {
    let dir = scratch("absurd");
    let text = SCENARIO.replace(
        "arrivals_per_s = { emergency = 0.2 }",
        "arrivals_per_s = { emergency = 1e9 }",
    );
    let out = load_cmd(&dir, &text).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("arrivals_per_s.emergency"), "{err}");
    assert!(err.contains("5000"), "{err}");
    // Refused before any engine child was started.
    assert!(!dir.join("run/engine.toml").exists());
    // Too many calls per run in total (rate within the per-second cap).
    let text = SCENARIO
        .replace("time_scale = 30", "time_scale = 1")
        .replace("duration_s = 120", "duration_s = 1000000")
        .replace(
            "arrivals_per_s = { emergency = 0.2 }",
            "arrivals_per_s = { emergency = 10 }",
        );
    let out = load_cmd(&dir, &text).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("calls, above the limit"), "{err}");
}

#[test]
fn file_errors_name_the_path_and_a_bad_json_path_fails_before_the_run() {
    let dir = scratch("paths");
    let out = Command::new(env!("CARGO_BIN_EXE_answerpoint"))
        .args(["load", "--scenario", "/nonexistent/scenario.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent/scenario.toml"), "{err}");
    let out = load_cmd(&dir, SCENARIO)
        .arg("--json")
        .arg("/nonexistent-dir/report.json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--json /nonexistent-dir/report.json"), "{err}");
    assert!(!dir.join("run/engine.toml").exists(), "no run was started");
}

/// A harness on an hour-long run (far longer than any test), its stderr lines, and the
/// engine child's pid from its "engine pid" line.
fn start_long_run(
    dir: &Path,
    extra: &[&std::ffi::OsStr],
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
    i32,
) {
    use std::io::{BufRead, BufReader};
    let text = SCENARIO
        .replace("time_scale = 30", "time_scale = 1")
        .replace("duration_s = 120", "duration_s = 3600");
    let mut harness = load_cmd(dir, &text)
        .args(extra)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(harness.stderr.take().unwrap()).lines();
    let engine_pid: i32 = loop {
        let line = lines.next().expect("harness ended early").unwrap();
        if let Some(rest) = line.strip_prefix("answerpoint load: engine pid ") {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    assert!(Path::new(&format!("/proc/{engine_pid}")).exists());
    (harness, lines, engine_pid)
}

#[test]
fn sigterm_sigint_or_sighup_to_the_harness_stops_the_engine_child() {
    for (sig, code) in [
        (libc::SIGTERM, 143),
        (libc::SIGINT, 130),
        (libc::SIGHUP, 129),
    ] {
        let dir = scratch(&format!("signal-{sig}"));
        let json = dir.join("report.json");
        let (mut harness, lines, engine_pid) =
            start_long_run(&dir, &["--json".as_ref(), json.as_os_str()]);
        // The writability check of --json left no empty report behind.
        assert!(!json.exists(), "empty {} during the run", json.display());
        unsafe {
            libc::kill(harness.id() as i32, sig);
        }
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let status = harness.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{rest:?}");
        assert!(
            rest.iter().any(|l| l.contains("interrupted by")),
            "{rest:?}"
        );
        // The harness reaped its child before exiting: no such process any more.
        assert!(
            !Path::new(&format!("/proc/{engine_pid}")).exists(),
            "engine child {engine_pid} still running"
        );
    }
}

/// Waits up to `timeout` for process `pid` (not our child) to end, without sleeping: a
/// pidfd becomes readable when the process exits (`pidfd_open(2)`). `true` when it ended.
fn wait_exit(pid: i32, timeout: std::time::Duration) -> bool {
    // SAFETY: plain syscalls on integers and a live pollfd.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32;
        if fd < 0 {
            // Already gone (ESRCH).
            return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let n = libc::poll(&mut p, 1, timeout.as_millis() as i32);
        libc::close(fd);
        n == 1
    }
}

#[test]
fn the_engine_child_dies_with_a_killed_harness() {
    let dir = scratch("sigkill");
    let (mut harness, _lines, engine_pid) = start_long_run(&dir, &[]);
    // Fully up and past its start-up output (an engine that could still write to the dead
    // harness's pipe would die of that, not of what is tested here).
    assert!(
        !wait_exit(engine_pid, std::time::Duration::from_secs(2)),
        "engine child {engine_pid} ended on its own"
    );
    // SIGKILL: no handler, no kill_on_drop; only the kernel can take the child with it.
    harness.kill().unwrap();
    harness.wait().unwrap();
    assert!(
        wait_exit(engine_pid, std::time::Duration::from_secs(10)),
        "engine child {engine_pid} outlived its killed harness"
    );
}
