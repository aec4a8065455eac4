//! Helpers for the issue-6 acceptance tests against the real `answerpoint` binary
//! (`tests/e2e_observe*.rs`, `tests/e2e_crash*.rs`): start it on port 0 (SIP and HTTP),
//! a minimal HTTP/1.0 client for the API (no extra dependency), SIGKILL / SIGTERM, and
//! SIPp message-log timestamps. Every wait is bounded by a deadline.

#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_answerpoint");
const POLL: Duration = Duration::from_millis(25);

/// The `answerpoint run` process, killed (SIGKILL) when dropped.
pub struct Binary {
    /// The child.
    pub child: Child,
    /// Its SIP/UDP address.
    pub sip: SocketAddr,
    /// Its HTTP API address.
    pub http: SocketAddr,
    /// Its stderr log file.
    pub log: PathBuf,
}

impl Binary {
    /// Writes `config` to `dir/<name>.toml` and runs `answerpoint run --config … --sip-udp
    /// 127.0.0.1:0 --http 127.0.0.1:0`; returns once both addresses are printed (20 s max).
    pub async fn start(dir: &Path, name: &str, config: &str) -> Binary {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, config).expect("write config");
        let log = dir.join(format!("{name}.err"));
        let stderr = std::fs::File::create(&log).expect("stderr file");
        let mut child = Command::new(BIN)
            .arg("run")
            .arg("--config")
            .arg(&file)
            .args(["--sip-udp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("start answerpoint");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut sip, mut http) = (None, None);
        while sip.is_none() || http.is_none() {
            let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no listening lines within 20 s: {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    )
                })
                .expect("read stdout")
                .unwrap_or_else(|| {
                    panic!(
                        "answerpoint exited: {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    )
                });
            if let Some(a) = line.strip_prefix("listening sip udp:") {
                sip = Some(a.parse().expect("sip addr"));
            } else if let Some(a) = line.strip_prefix("listening http ") {
                http = Some(a.parse().expect("http addr"));
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Binary {
            child,
            sip: sip.unwrap(),
            http: http.unwrap(),
            log,
        }
    }

    /// One HTTP request to the API; returns (status, body).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
    ) -> (u16, String) {
        http_request(self.http, method, path, body, None).await
    }

    /// `GET path` as JSON; panics unless 200.
    pub async fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.request("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Polls `GET path` until `pred` holds; panics after `within` with the last body.
    pub async fn wait_json(
        &self,
        path: &str,
        within: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.get_json(path).await;
            if pred(&v) {
                return v;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {within:?} waiting for {what}: GET {path} = {v:#}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGKILL (no chance to clean up) and reap.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// SIGTERM and wait (up to `within`) for the exit status code.
    pub async fn terminate(&mut self, within: Duration) -> Option<i32> {
        let pid = self.child.id().expect("running").to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill -TERM");
        assert!(ok.success());
        tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit within {within:?} of SIGTERM"))
            .expect("wait")
            .code()
    }

    /// The stderr log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A minimal HTTP/1.0 client: sends one request (with `body` = (content type, text)) and
/// an optional bearer token, reads the whole response; returns (status, body).
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
    token: Option<&str>,
) -> (u16, String) {
    let fut = async {
        let mut s = TcpStream::connect(addr).await.expect("connect http");
        let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        match body {
            Some((ct, b)) => req.push_str(&format!(
                "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )),
            None => req.push_str("\r\n"),
        }
        s.write_all(req.as_bytes()).await.expect("send request");
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.expect("read response");
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad response: {text}"));
        (status, body.to_owned())
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no response within 10 s"))
}

/// Opens `GET /api/events` and collects the raw stream text in the background; the
/// returned closure-like handle reads what has arrived so far.
pub async fn open_event_stream(addr: SocketAddr) -> tokio::sync::watch::Receiver<String> {
    let mut s = TcpStream::connect(addr).await.expect("connect sse");
    s.write_all(format!("GET /api/events HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("send sse request");
    let (tx, rx) = tokio::sync::watch::channel(String::new());
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        let mut all = String::new();
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            all.push_str(&String::from_utf8_lossy(&buf[..n]));
            if tx.send(all.clone()).is_err() {
                break;
            }
        }
    });
    rx
}

/// The value of the Prometheus sample `name{labels}` (exact label text, e.g.
/// `answerpoint_calls_total{class="emergency",outcome="answered"}`), if present.
pub fn prom_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// Parses SIPp `-trace_msg` timestamps: for each logged message (sent or received), its
/// time (seconds since midnight, µs precision), direction and first line.
pub fn sipp_timeline(log: &Path) -> Vec<(f64, bool, String, String)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = Vec::new();
    for chunk in text
        .split("----------------------------------------------- ")
        .skip(1)
    {
        let mut lines = chunk.lines();
        let stamp = lines.next().unwrap_or_default();
        let Some(time) = stamp.split_whitespace().nth(1) else {
            continue;
        };
        let secs: f64 = time
            .split(':')
            .map(|p| p.parse::<f64>().unwrap_or(0.0))
            .fold(0.0, |acc, p| acc * 60.0 + p);
        let dir = lines.next().unwrap_or_default();
        let received = dir.contains("received");
        let rest: Vec<&str> = lines.collect();
        let first = rest
            .iter()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
            .unwrap_or_default();
        let call_id = rest
            .iter()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case("call-id")
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default();
        let cseq_invite = rest
            .iter()
            .any(|l| l.to_ascii_lowercase().starts_with("cseq:") && l.contains("INVITE"));
        let label = if cseq_invite {
            format!("{first} [INVITE]")
        } else {
            first
        };
        out.push((secs, received, label, call_id));
    }
    out
}

/// Answer times the carrier observed, ms, per Call-ID: its INVITE sent → the 200 OK to
/// that INVITE received (first of each).
pub fn observed_answer_ms(log: &Path) -> Vec<(String, f64)> {
    let t = sipp_timeline(log);
    let mut out = Vec::new();
    for (at, received, first, call_id) in &t {
        if *received || !first.starts_with("INVITE ") {
            continue;
        }
        if out.iter().any(|(c, _): &(String, f64)| c == call_id) {
            continue;
        }
        if let Some((ok_at, ..)) = t.iter().find(|(_, r, f, c)| {
            *r && c == call_id && f.starts_with("SIP/2.0 200") && f.ends_with("[INVITE]")
        }) {
            out.push((call_id.clone(), (ok_at - at) * 1000.0));
        }
    }
    out
}
