//! Load harness (issue 7, docs/DESIGN.md §7 targets): `answerpoint load --scenario FILE` runs a
//! [`LoadScenario`] against the real engine over real SIP on loopback UDP (RFC 3261) and
//! judges it against the scenario's targets. I/O module (tokio sockets, clock reads, child
//! process); the engine it measures stays sans-IO.
//!
//! Flow: [`Peers::bind`] binds the simulated carrier and handler sockets; the scenario
//! generates the engine configuration ([`LoadScenario::engine_config_toml`]: seats and
//! digest users matching the simulated handlers, `[queue]` scaled to real time); the engine
//! runs either as a child process (`answerpoint run --config <generated>`, see
//! [`EngineChild`], so its CPU time can be read from `/proc/<pid>/stat`) or in-process
//! (tests: [`crate::runtime::Server`] on the same config); [`Peers::run`] places every
//! call and follows it; [`report::build`] turns the observations into a [`LoadReport`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use answerpoint::load::{self, LoadScenario};
//! let scenario = LoadScenario::from_toml(&std::fs::read_to_string("load-scripts/steady.toml")?)?;
//! let report = load::run_with_child(&scenario, std::path::Path::new("target/release/answerpoint"),
//!     std::path::Path::new("/tmp/load"), None).await?;
//! println!("{}", report.summary());
//! # Ok(()) }
//! ```

pub mod agent;
pub mod report;
/// Kernel receive timestamps, shared with the engine's runtime.
pub use crate::runtime::rxstamp;
pub mod scenario;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use agent::{Peers, Progress, RunData};
pub use report::LoadReport;
pub use scenario::{LoadScenario, LoadScenarioError};

/// Linux `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat` (fixed at 100 by the
/// kernel's user-space ABI on every mainstream architecture).
pub const USER_HZ: f64 = 100.0;

/// Why a load run could not run (a missed target is not an error: see
/// [`LoadReport::pass`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A socket, file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The engine child did not print its UDP listen address in time.
    #[error("the engine did not start: {0}")]
    EngineStart(String),
    /// The run was stopped by a signal (the payload names it, e.g. `SIGINT`); the engine
    /// child was stopped first.
    #[error("interrupted by {0}; engine child stopped")]
    Interrupted(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LoadError {
    let what = what.into();
    move |source| LoadError::Io { what, source }
}

/// User + system CPU time of process `pid`, s (fields 14 and 15 of `/proc/<pid>/stat`,
/// proc(5)), or None when unreadable.
pub fn process_cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14 → index 11, stime → index 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// An engine started as a child process (`answerpoint run --config FILE`).
pub struct EngineChild {
    child: Child,
    /// Its SIP UDP address (from its `listening sip udp:…` line).
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
}

impl EngineChild {
    /// Writes `config_toml` to `dir/engine.toml` and starts `exe run --config` on it,
    /// waiting up to 10 s for the `listening sip udp:ADDR` line. The child's stderr goes
    /// to `dir/engine.log`.
    ///
    /// # Errors
    /// [`LoadError::Io`] when the file or process cannot be created,
    /// [`LoadError::EngineStart`] when no UDP listen line arrives.
    pub async fn start(
        exe: &Path,
        config_toml: &str,
        dir: &Path,
    ) -> Result<EngineChild, LoadError> {
        std::fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
        let cfg = dir.join("engine.toml");
        std::fs::write(&cfg, config_toml).map_err(io(format!("write {}", cfg.display())))?;
        let log_path = dir.join("engine.log");
        let log = std::fs::File::create(&log_path)
            .map_err(io(format!("create {}", log_path.display())))?;
        let mut cmd = Command::new(exe);
        cmd.arg("run")
            .arg("--config")
            .arg(&cfg)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .kill_on_drop(true);
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(io(format!("start {}", exe.display())))?;
        let pid = child.id().unwrap_or(0);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| LoadError::EngineStart("no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(a) = line.strip_prefix("listening sip udp:") {
                    return a.trim().parse::<SocketAddr>().ok();
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(addr)) => {
                // Keep draining stdout so the child never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                Ok(EngineChild { child, addr, pid })
            }
            _ => {
                let _ = child.kill().await;
                let log = std::fs::read_to_string(dir.join("engine.log")).unwrap_or_default();
                Err(LoadError::EngineStart(log))
            }
        }
    }

    /// CPU time used so far, s.
    pub fn cpu_s(&self) -> Option<f64> {
        process_cpu_s(self.pid)
    }

    /// Stops the engine (SIGKILL; the run is over, nothing of its state is needed).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// Stops the engine politely: SIGTERM, then SIGKILL if it has not exited within
    /// `grace`; waits for it either way (no zombie left).
    pub async fn terminate(mut self, grace: Duration) {
        if let Ok(pid) = libc::pid_t::try_from(self.pid) {
            if pid > 0 {
                // SAFETY: kill(2) on our own child's pid has no memory-safety effects.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Makes the engine child die with the harness, however the harness ends: SIGKILL, or a
/// SIGHUP the harness does not catch, skip its `kill_on_drop`, and an orphaned engine would
/// keep its ports, its `SCHED_FIFO` thread and a machine-wide CPU latency request
/// (`cpu_latency_limit_us`) for ever. Linux `PR_SET_PDEATHSIG` (`prctl(2)`): the kernel
/// sends the child SIGKILL — what [`EngineChild::stop`] sends — when the thread that
/// started it ends (the harness runs on one thread, its main one). Elsewhere: nothing.
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getpid(2) before the fork; after it, only prctl(2) and getppid(2), which
        // are async-signal-safe, as `pre_exec` requires.
        let parent = unsafe { libc::getpid() };
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The harness died between fork and prctl: do not start at all.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// Runs `scenario` against a fresh engine child process started from `exe` (normally
/// `std::env::current_exe()`), with its files in `dir`; reports the engine's CPU time.
///
/// # Errors
/// [`LoadError`] when sockets, files or the engine cannot be set up.
pub async fn run_with_child(
    scenario: &LoadScenario,
    exe: &Path,
    dir: &Path,
    progress: Option<Progress<'_>>,
) -> Result<LoadReport, LoadError> {
    run_with_child_until(
        scenario,
        exe,
        dir,
        progress,
        std::future::pending::<String>(),
        |_| {},
    )
    .await
}

/// [`run_with_child`] that gives up when `stop` completes (e.g. on SIGINT/SIGTERM; its
/// output names the cause): the engine child gets SIGTERM, then SIGKILL after 3 s, and
/// the result is [`LoadError::Interrupted`]. `started` is called once with the engine
/// child's pid and SIP UDP address.
///
/// # Errors
/// As [`run_with_child`], plus [`LoadError::Interrupted`].
pub async fn run_with_child_until(
    scenario: &LoadScenario,
    exe: &Path,
    dir: &Path,
    progress: Option<Progress<'_>>,
    stop: impl std::future::Future<Output = String>,
    started: impl FnOnce(&EngineChild),
) -> Result<LoadReport, LoadError> {
    tokio::pin!(stop);
    let peers = Peers::bind().await.map_err(io("bind the peers' sockets"))?;
    let toml = scenario.engine_config_toml(peers.handler_addr());
    // A child being started is killed when this future is dropped (kill_on_drop).
    let engine = tokio::select! {
        e = EngineChild::start(exe, &toml, dir) => e?,
        why = &mut stop => return Err(LoadError::Interrupted(why)),
    };
    started(&engine);
    let cpu0 = engine.cpu_s();
    let own0 = process_cpu_s(std::process::id());
    let data = tokio::select! {
        d = peers.run(scenario, engine.addr, progress) => d,
        why = &mut stop => {
            engine.terminate(Duration::from_secs(3)).await;
            return Err(LoadError::Interrupted(why));
        }
    };
    let own = process_cpu_s(std::process::id())
        .zip(own0)
        .map(|(b, a)| b - a);
    let cpu = match (cpu0, engine.cpu_s()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    engine.stop().await;
    let mut report = report::build(scenario, &data, cpu);
    report.harness_cpu_s = own;
    Ok(report)
}

/// Runs `scenario` against an engine already listening on UDP `engine` whose
/// configuration came from [`LoadScenario::engine_config_toml`] for `peers`' handler
/// address (e.g. an in-process [`crate::runtime::Server`]); no CPU figure.
pub async fn run_against(
    scenario: &LoadScenario,
    peers: Peers,
    engine: SocketAddr,
    progress: Option<Progress<'_>>,
) -> LoadReport {
    let data = peers.run(scenario, engine, progress).await;
    report::build(scenario, &data, None)
}

/// Creates the default directory for a run's generated files,
/// `$TMPDIR/answerpoint-load-<pid>` (or `…-<pid>-<n>` when that name is taken, e.g. kept
/// by an earlier failed run whose process had the same pid): always a new, empty
/// directory, so removing it after the run removes nothing else.
///
/// # Errors
/// The operating system's error when no such directory can be created (100 names tried).
pub fn create_default_run_dir() -> std::io::Result<PathBuf> {
    let base = format!("answerpoint-load-{}", std::process::id());
    let mut last = None;
    for n in 0..100u32 {
        let name = if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let dir = std::env::temp_dir().join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free run directory name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name already taken (an earlier run's kept directory, a pid reused) is never
    /// reused: the second directory is new and the first is untouched.
    #[test]
    fn default_run_dirs_are_always_new() {
        let a = create_default_run_dir().unwrap();
        std::fs::write(a.join("engine.log"), "kept").unwrap();
        let b = create_default_run_dir().unwrap();
        assert_ne!(a, b);
        assert_eq!(std::fs::read_dir(&b).unwrap().count(), 0);
        assert_eq!(
            std::fs::read_to_string(a.join("engine.log")).unwrap(),
            "kept"
        );
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
    }
}
