//! The `answerpoint` binary as an operator runs it: `run --config FILE` with listen
//! overrides on port 0 prints its bound addresses, serves a real SIPp 999 call, and exits
//! 0 on SIGTERM; a port in use is a clear error with exit code 3; a bad config exits 1
//! before any port is bound. Requires SIPp for the call test.

mod e2e_support;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use e2e_support::{free_port, scratch_dir, sipp_messages, Sipp};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_answerpoint");

/// Runs the binary to completion (it must exit within 20 s); returns (code, stderr).
async fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("answerpoint exits within 20 s")
    .expect("answerpoint runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_binds_port_0_prints_addresses_serves_a_999_and_stops_on_sigterm() {
    let dir = scratch_dir("cli-run");
    let seat_port = free_port();
    let config = dir.join("answerpoint.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[sip]
listen = ["udp:127.0.0.1:5060"]   # replaced by --sip-udp/--sip-tcp below

[[seats]]
id = "seat-1"
contact = "sip:seat-1@127.0.0.1:{seat_port}"
"#
        ),
    )
    .unwrap();
    let stderr = std::fs::File::create(dir.join("answerpoint.err")).unwrap();
    let mut engine = Command::new(BIN)
        .arg("run")
        .arg("--config")
        .arg(&config)
        .args(["--sip-udp", "127.0.0.1:0", "--sip-tcp", "127.0.0.1:0"])
        .args(["--http", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("start answerpoint");

    // "listening sip udp:127.0.0.1:PORT" / "listening sip tcp:…", once bound.
    let mut lines = BufReader::new(engine.stdout.take().unwrap()).lines();
    let mut udp: Option<SocketAddr> = None;
    let mut tcp: Option<SocketAddr> = None;
    while udp.is_none() || tcp.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("listening lines within 20 s")
            .unwrap()
            .expect("stdout open");
        let rest = line.strip_prefix("listening sip ").expect("listening line");
        let (transport, addr) = rest.split_once(':').unwrap();
        let addr: SocketAddr = addr.parse().unwrap();
        assert_ne!(addr.port(), 0);
        match transport {
            "udp" => udp = Some(addr),
            "tcp" => tcp = Some(addr),
            other => panic!("unexpected transport {other}"),
        }
    }
    let udp = udp.unwrap();
    assert_eq!(
        tcp.unwrap().port(),
        udp.port(),
        "UDP and TCP share the port"
    );

    let mut seat = Sipp {
        name: "seat",
        scenario: "handler-uas.xml",
        port: seat_port,
        transport: "u1",
        calls: 1,
        rate: 0,
        pause_ms: 100,
        remote: None,
    }
    .spawn(&dir);
    let mut carrier = Sipp {
        name: "carrier",
        scenario: "carrier-999-pidf.xml",
        port: free_port(),
        transport: "u1",
        calls: 1,
        rate: 0,
        pause_ms: 200,
        remote: Some(udp),
    }
    .spawn(&dir);
    carrier.wait_success(Duration::from_secs(45)).await;
    seat.wait_success(Duration::from_secs(45)).await;
    let got = sipp_messages(&dir.join("carrier_messages.log"), true);
    assert!(
        got.iter()
            .any(|m| m.starts_with("SIP/2.0 200 OK") && m.contains("INVITE")),
        "carrier got 200 OK to its INVITE: {got:#?}"
    );

    // SIGTERM: graceful shutdown, exit 0.
    let pid = engine.id().expect("running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), engine.wait())
        .await
        .expect("exits within 10 s of SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let log = std::fs::read_to_string(dir.join("answerpoint.err")).unwrap();
    assert!(log.contains("call event"), "per-call events logged: {log}");
    assert!(log.contains("stopped"), "{log}");
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error_with_exit_code_3() {
    let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let (code, stderr) = run_to_exit(&["run", "--sip-udp", &addr]).await;
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot bind SIP udp:{addr}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("another process holds that port"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_bad_config_exits_1_before_any_port_is_bound() {
    // The config names a port the test holds: exit 1 (config) rather than 3 (bind) shows
    // validation happens first.
    let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = scratch_dir("cli-bad");
    let config = dir.join("bad.toml");
    std::fs::write(
        &config,
        format!(
            "[sip]\nlisten = [\"udp:{}\"]\ncarriers = [\"127.0.0.1/40\"]\n",
            held.local_addr().unwrap()
        ),
    )
    .unwrap();
    let (code, stderr) = run_to_exit(&["run", "--config", config.to_str().unwrap()]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("sip.carriers[0]"),
        "names the key: {stderr}"
    );
}

#[tokio::test]
async fn an_unusable_data_dir_is_bad_configuration_exit_1() {
    let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = scratch_dir("cli-data-dir");
    let config = dir.join("bad-data-dir.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"/proc/nonexistent\"\n[sip]\nlisten = [\"udp:{}\"]\ncarriers = [\"127.0.0.0/8\"]\n",
            held.local_addr().unwrap()
        ),
    )
    .unwrap();
    let path = config.to_str().unwrap();
    let (code, stderr) = run_to_exit(&["check-config", path]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("data_dir /proc/nonexistent"), "{stderr}");
    // run: exit 1 (configuration), before the held port could give 3.
    let (code, stderr) = run_to_exit(&["run", "--config", path]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("data_dir /proc/nonexistent"), "{stderr}");
}
