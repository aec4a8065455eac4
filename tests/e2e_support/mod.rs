//! Shared helpers for the real-peer integration tests (`tests/e2e_*.rs`): the engine
//! in-process on port 0, SIPp and baresip as child processes (killed on drop), free ports,
//! scratch directories, and waits that are always bounded by a deadline.
//!
//! Missing tools fail the test with an install hint (never a silent skip): CI installs
//! them in `.ci/run` (`apt-get install sip-tester baresip`).

#![allow(dead_code)] // each test file uses a different subset

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use answerpoint::config::{Config, SipTransport};
use answerpoint::engine::Snapshot;
use answerpoint::runtime::{Handle, RuntimeStats, Server};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Poll interval for snapshot / file waits (a tokio sleep inside a bounded loop).
const POLL: Duration = Duration::from_millis(25);

/// The path of `tool`, or a panic telling how to install it (Debian package `package`).
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p,
        None => {
            let ci = std::env::var("CI").map(|v| v == "true").unwrap_or(false);
            panic!(
                "`{tool}` is not installed, and the real-peer integration tests need it{}. \
                 Install it with `sudo apt-get install {package}` (Debian/Ubuntu), or run \
                 `.ci/run`, which installs it.",
                if ci {
                    " (CI=true: .ci/run should have installed it)"
                } else {
                    ""
                }
            )
        }
    }
}

/// A fresh, empty scratch directory for one test under Cargo's integration-test tmpdir.
pub fn scratch_dir(test: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "e2e-{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A UDP port that was free a moment ago (bind port 0, read it, release it).
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind udp port 0");
    s.local_addr().expect("local addr").port()
}

/// A port free for both UDP and TCP a moment ago (SIPp binds both for some transports).
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let t = TcpListener::bind("127.0.0.1:0").expect("bind tcp port 0");
        let port = t.local_addr().expect("local addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP after 100 tries");
}

/// The first of four consecutive UDP ports that were free a moment ago, for SIPp's `-mp`
/// (it binds audio RTP/RTCP and video RTP/RTCP at `mp`..`mp+3`). Blocks handed out in
/// this process never overlap.
pub fn free_media_block() -> u16 {
    static USED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..200 {
        let base = free_udp_port() & !3;
        if !(1024..=65_528).contains(&base) {
            continue;
        }
        let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
        if used.contains(&base) {
            continue;
        }
        let sockets: Vec<_> = (base..base + 4)
            .map_while(|p| UdpSocket::bind(("127.0.0.1", p)).ok())
            .collect();
        if sockets.len() == 4 {
            used.push(base);
            return base;
        }
    }
    panic!("no block of 4 free UDP ports after 200 tries");
}

/// `load-scripts/sipp/<name>`.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("load-scripts/sipp")
        .join(name)
}

// === the engine, in-process ===

/// The engine running in-process on `127.0.0.1:0` (UDP and TCP share the port when free).
pub struct Engine {
    /// Bound SIP/UDP address.
    pub udp: SocketAddr,
    /// Bound SIP/TCP address.
    pub tcp: SocketAddr,
    /// Snapshots and commands.
    pub handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<RuntimeStats>>,
}

impl Engine {
    /// Starts the engine with `toml` (whose `sip.listen` is replaced by UDP and TCP on
    /// 127.0.0.1:0). Panics if the config is invalid or binding fails.
    pub async fn start(toml: &str) -> Engine {
        let mut config = Config::from_toml_str(toml).expect("test config is valid");
        config.sip.listen = vec![
            "udp:127.0.0.1:0".parse().expect("listen"),
            "tcp:127.0.0.1:0".parse().expect("listen"),
        ];
        let server = Server::bind(config).await.expect("bind engine");
        let addrs = server.local_addrs();
        let pick = |t: SipTransport| {
            addrs
                .iter()
                .find(|l| l.transport == t)
                .map(|l| l.addr)
                .expect("bound address")
        };
        let (udp, tcp) = (pick(SipTransport::Udp), pick(SipTransport::Tcp));
        let handle = server.handle();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Engine {
            udp,
            tcp,
            handle,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The current snapshot.
    pub async fn snapshot(&self) -> Snapshot {
        self.handle.snapshot().await.expect("engine running")
    }

    /// Polls snapshots until `pred` holds; panics after `within` naming `what` and
    /// printing the last snapshot.
    pub async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        pred: impl Fn(&Snapshot) -> bool,
    ) -> Snapshot {
        let deadline = Instant::now() + within;
        loop {
            let s = self.snapshot().await;
            if pred(&s) {
                return s;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {within:?} waiting for: {what}\nlast snapshot: {s:#?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Graceful shutdown; returns the runtime's drop counters. Calls still waiting get
    /// `shutdown_grace_s` (default 10 s) to be answered, then a 503 whose ACK is awaited
    /// for up to 2 s (issue 6), hence the 30 s bound.
    pub async fn stop(mut self) -> RuntimeStats {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("engine shut down within 30 s")
            .expect("engine task did not panic")
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

// === child processes ===

/// A child process (SIPp, baresip, the answerpoint binary) killed when dropped, with its
/// stdout/stderr in files for diagnostics.
pub struct Peer {
    /// Short name for messages, e.g. `carrier-999`.
    pub name: String,
    /// The child.
    pub child: Child,
    /// Its scratch directory (logs, traces).
    pub dir: PathBuf,
}

impl Peer {
    /// Spawns `cmd` with stdin closed and stdout/stderr to `<dir>/<name>.out|.err`.
    pub fn spawn(name: &str, dir: &Path, mut cmd: Command) -> Peer {
        let out = std::fs::File::create(dir.join(format!("{name}.out"))).expect("stdout file");
        let err = std::fs::File::create(dir.join(format!("{name}.err"))).expect("stderr file");
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Peer {
            name: name.to_owned(),
            child,
            dir: dir.to_owned(),
        }
    }

    /// Waits for the child to exit with status 0; panics (with its logs) on another status
    /// or after `within`.
    pub async fn wait_success(&mut self, within: Duration) {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => panic!("{} exited with {status}\n{}", self.name, self.logs()),
            Ok(Err(e)) => panic!("waiting for {}: {e}", self.name),
            Err(_) => panic!(
                "{} did not finish within {within:?}\n{}",
                self.name,
                self.logs()
            ),
        }
    }

    /// The child's stdout/stderr tails and any SIPp error/message logs, for panics.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                let file = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if !file.starts_with(&self.name) {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let tail: String = text
                    .chars()
                    .rev()
                    .take(6000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                s.push_str(&format!("--- {} ---\n{tail}\n", p.display()));
            }
        }
        s
    }
}

/// Options for one SIPp process.
pub struct Sipp<'a> {
    /// Name (files are `<name>.*` in the scratch dir).
    pub name: &'a str,
    /// Scenario file name in `load-scripts/sipp/`.
    pub scenario: &'a str,
    /// Local SIP port.
    pub port: u16,
    /// `u1` (UDP) or `t1` (TCP, one connection).
    pub transport: &'a str,
    /// Calls to place or answer before exiting (`-m`); 0: no limit (a seat that runs
    /// until dropped).
    pub calls: u32,
    /// Calls per second for a UAC (`-r`); 0: SIPp's default (10/s).
    pub rate: u32,
    /// `-d`: the scenario's `<pause/>` in ms (carrier: talk time; handler: ring time).
    pub pause_ms: u32,
    /// For a UAC: where to send (`remote_host:port`).
    pub remote: Option<SocketAddr>,
}

impl Sipp<'_> {
    /// Starts SIPp with message and error traces in `dir` (`<name>_messages.log`,
    /// `<name>_errors.log`) and a global 60 s timeout that counts as failure.
    pub fn spawn(&self, dir: &Path) -> Peer {
        let sipp = require_tool("sipp", "sip-tester");
        let mut cmd = Command::new(sipp);
        cmd.arg("-sf")
            .arg(scenario(self.scenario))
            .args(["-i", "127.0.0.1"])
            .args(["-p", &self.port.to_string()])
            .args(["-mp", &free_media_block().to_string()])
            .args(["-t", self.transport])
            .args(["-d", &self.pause_ms.to_string()])
            .args(["-timeout", "60s", "-timeout_error"])
            .arg("-nostdin")
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(dir.join(format!("{}_messages.log", self.name)))
            .arg("-trace_err")
            .arg("-error_file")
            .arg(dir.join(format!("{}_errors.log", self.name)));
        if self.calls > 0 {
            cmd.args(["-m", &self.calls.to_string()]);
        }
        if self.rate > 0 {
            cmd.args(["-r", &self.rate.to_string()]);
        }
        if let Some(remote) = self.remote {
            cmd.arg(remote.to_string());
        }
        Peer::spawn(self.name, dir, cmd)
    }
}

/// The SIP messages SIPp logged with `-trace_msg`, split into start lines with headers:
/// one `String` per message received (`received == true`) or sent.
pub fn sipp_messages(log: &Path, received: bool) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let marker = if received {
        "message received"
    } else {
        "message sent"
    };
    text.split("----------------------------------------------")
        .filter(|chunk| chunk.contains(marker))
        .map(|chunk| {
            // Drop the SIPp banner line(s) before the SIP start line.
            chunk
                .lines()
                .skip_while(|l| !(l.starts_with("SIP/2.0") || l.contains(" SIP/2.0")))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|m| !m.is_empty())
        .collect()
}

/// Polls `log` until `count` messages matching `pred` were received; panics after `within`.
pub async fn wait_for_message(
    log: &Path,
    count: usize,
    within: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        let n = sipp_messages(log, true).iter().filter(|m| pred(m)).count();
        if n >= count {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {within:?} waiting for {what} in {}:\n{}",
                log.display(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The value of header `name` (case-insensitive) in one logged message.
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port` (a peer's listener
/// is up); the probe connection is closed at once. Panics after `within`.
pub async fn wait_for_tcp_listener(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        if Instant::now() >= deadline {
            panic!("nothing listening on TCP port {port} after {within:?}");
        }
        tokio::time::sleep(POLL).await;
    }
}
