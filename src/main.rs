//! `answerpoint` command line: a thin shell over the library.
//!
//! Exit codes: 0 after a clean shutdown (Ctrl-C / SIGTERM) or a good config; 1 for a bad
//! or unreadable configuration; 2 for bad command-line usage (clap); 3 when a listen
//! address cannot be bound (e.g. the port is in use) or the async runtime cannot start.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use answerpoint::config::{Config, Listen, SipTransport};

/// Emergency-call SIP telephony and queueing engine. With no subcommand, runs the engine
/// on the embedded default configuration (SIP on UDP and TCP 127.0.0.1:5060).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the engine until Ctrl-C or SIGTERM (then drain: see `shutdown_grace_s`). Prints
    /// one `listening sip <transport>:<addr>` line per bound SIP address and then
    /// `listening http <addr>` on stdout once every port is bound.
    Run(RunArgs),
    /// Parse and validate a configuration file without binding any port; prints
    /// "config OK: …" and exits 0, or the error (naming the key) and exits 1.
    CheckConfig {
        /// The TOML configuration file.
        file: PathBuf,
    },
    /// Simulate the queue core in virtual time (M/M/c by default, or a TOML scenario).
    Simulate(SimulateArgs),
    /// Run a load scenario (load-scripts/*.toml) against a fresh engine child process over
    /// loopback SIP; prints the report and exits 1 when a target is missed.
    Load(LoadArgs),
}

/// `answerpoint load`: simulated carriers and handlers against the real engine.
#[derive(Args)]
struct LoadArgs {
    /// The TOML load scenario.
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,
    /// Also write the report as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Override the scenario's time scale (scenario s per real s).
    #[arg(long)]
    time_scale: Option<f64>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Directory for the generated engine config and log (kept) [default: a new
    /// $TMPDIR/answerpoint-load-PID, removed after a passing run].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// `answerpoint simulate`: flags describe an M/M/c system (one emergency class,
/// exponential handle times, no wrap-up, no abandonment); `--scenario` reads a richer
/// TOML scenario instead (see `load-scripts/sim-*.toml`).
#[derive(Args)]
struct SimulateArgs {
    /// Calls per s (Poisson).
    #[arg(long, required_unless_present = "scenario")]
    arrival_rate_per_s: Option<f64>,
    /// Number of handlers.
    #[arg(long, required_unless_present = "scenario")]
    handlers: Option<u32>,
    /// Mean handle time, in s (exponential).
    #[arg(long, required_unless_present = "scenario")]
    mean_handle_s: Option<f64>,
    /// Calls counted in the report, after warm-up [default: 100000, or the scenario's].
    #[arg(long)]
    calls: Option<u64>,
    /// Calls simulated first and not counted (default: a tenth of --calls).
    #[arg(long)]
    warmup_calls: Option<u64>,
    /// RNG seed [default: 1, or the scenario's].
    #[arg(long)]
    seed: Option<u64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// TOML scenario file; overrides the M/M/c flags (--seed/--calls apply if given).
    #[arg(long, conflicts_with_all = ["arrival_rate_per_s", "handlers", "mean_handle_s"])]
    scenario: Option<PathBuf>,
}

#[derive(Args, Default)]
struct RunArgs {
    /// The TOML configuration file (default: the embedded default configuration).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve SIP over UDP here instead of the configured `sip.listen` (repeatable; port 0
    /// picks a free port). Any --sip-udp/--sip-tcp replaces the whole `sip.listen` list.
    #[arg(long = "sip-udp", value_name = "ADDR:PORT")]
    sip_udp: Vec<SocketAddr>,
    /// Serve SIP over TCP here instead of the configured `sip.listen` (repeatable).
    #[arg(long = "sip-tcp", value_name = "ADDR:PORT")]
    sip_tcp: Vec<SocketAddr>,
    /// Serve the HTTP API here instead of `http.listen` (port 0 picks a free port).
    #[arg(long = "http", value_name = "ADDR:PORT")]
    http: Option<SocketAddr>,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        None => run(RunArgs::default()),
        Some(Command::Run(args)) => run(args),
        Some(Command::CheckConfig { file }) => check_config(&file),
        Some(Command::Load(args)) => match load(&args) {
            Ok(true) => {}
            Ok(false) => std::process::exit(1),
            Err(e) => {
                eprintln!("answerpoint load: {e}");
                // 128 + signal number for an interrupted run, 2 for any other error.
                std::process::exit(match e.downcast_ref::<answerpoint::load::LoadError>() {
                    Some(answerpoint::load::LoadError::Interrupted(s)) if s == "SIGTERM" => 143,
                    Some(answerpoint::load::LoadError::Interrupted(s)) if s == "SIGHUP" => 129,
                    Some(answerpoint::load::LoadError::Interrupted(_)) => 130,
                    _ => 2,
                });
            }
        },
        Some(Command::Simulate(args)) => {
            if let Err(e) = simulate(&args) {
                eprintln!("answerpoint simulate: {e}");
                std::process::exit(2);
            }
        }
    }
}

fn check_config(file: &std::path::Path) {
    match Config::load(file) {
        Ok(config) => {
            // A data_dir that cannot be created or written is a configuration error too
            // (checked without creating anything).
            if let Some(dir) = &config.data_dir {
                if let Err(e) = answerpoint::store::data_dir::check_data_dir(dir, false) {
                    eprintln!("{}: {e}", file.display());
                    std::process::exit(1);
                }
            }
            println!("config OK: {}", config.summary());
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            std::process::exit(1);
        }
    }
}

/// Validates the configuration, binds every port, prints the bound addresses, then serves
/// until Ctrl-C / SIGTERM.
fn run(args: RunArgs) {
    let mut config = match &args.config {
        Some(file) => match Config::load(file) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("answerpoint: {}: {e}", file.display());
                std::process::exit(1);
            }
        },
        None => Config::default(),
    };
    // Before any port is bound: an unusable data_dir is bad configuration (exit 1).
    if let Some(dir) = &config.data_dir {
        if let Err(e) = answerpoint::store::data_dir::check_data_dir(dir, true) {
            eprintln!("answerpoint: {e}");
            std::process::exit(1);
        }
    }
    if !args.sip_udp.is_empty() || !args.sip_tcp.is_empty() {
        let udp = args.sip_udp.iter().map(|&addr| Listen {
            transport: SipTransport::Udp,
            addr,
        });
        let tcp = args.sip_tcp.iter().map(|&addr| Listen {
            transport: SipTransport::Tcp,
            addr,
        });
        config.sip.listen = udp.chain(tcp).collect();
    }
    // `--http` replaces `http.listen`, so the start-up summary names what is used.
    if let Some(addr) = args.http {
        config.http.listen = addr;
    }

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    // One thread runs the engine task, its sockets, TCP connections and the HTTP API: the
    // engine is a single task anyway, and a multi-thread runtime only added cross-thread
    // wake-ups (engine CPU per call at 1,000 calls/s: 556 µs multi-thread, 356 µs here;
    // BENCHMARKS.md "Runtime latency at 1,000 calls/s"). The views and the journal have
    // their own threads.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("answerpoint: cannot start the async runtime: {e}");
            std::process::exit(3);
        }
    };
    let http_listen = config.http.enabled.then_some(config.http.listen);
    rt.block_on(async move {
        let mut server = match answerpoint::runtime::Server::bind(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("answerpoint: {e}");
                if let answerpoint::runtime::RuntimeError::Bind { source, .. } = &e {
                    if source.kind() == std::io::ErrorKind::AddrInUse {
                        eprintln!(
                            "answerpoint: another process holds that port; stop it, or choose \
                             other addresses with sip.listen in --config FILE or --sip-udp/--sip-tcp"
                        );
                    }
                }
                std::process::exit(3);
            }
        };
        let http = match http_listen {
            Some(addr) => match server.bind_http(addr).await {
                Ok(bound) => Some(bound),
                Err(e) => {
                    eprintln!("answerpoint: {e}");
                    eprintln!(
                        "answerpoint: choose another address with http.listen or --http, or \
                         set http.enabled = false"
                    );
                    std::process::exit(3);
                }
            },
            None => None,
        };
        for l in server.local_addrs() {
            println!("listening sip {l}");
        }
        if let Some(addr) = http {
            println!("listening http {addr}");
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server.run(answerpoint::runtime::shutdown_signal()).await;
    });
}

fn simulate(args: &SimulateArgs) -> Result<(), Box<dyn std::error::Error>> {
    use answerpoint::sim::{self, MmcModel, Scenario};

    let (scenario, model) = match &args.scenario {
        Some(path) => {
            let mut s = Scenario::load(path)?;
            if let Some(seed) = args.seed {
                s.seed = seed;
            }
            if let Some(calls) = args.calls {
                s.calls = calls;
            }
            if let Some(w) = args.warmup_calls {
                s.warmup_calls = w;
            }
            (s, None)
        }
        None => {
            let model = MmcModel {
                arrival_rate_per_s: args.arrival_rate_per_s.unwrap_or_default(),
                handlers: args.handlers.unwrap_or_default(),
                mean_handle_s: args.mean_handle_s.unwrap_or_default(),
            };
            if model.utilisation() >= 1.0 {
                eprintln!(
                    "answerpoint simulate: warning: utilisation {:.3} >= 1, the queue grows without bound",
                    model.utilisation()
                );
            }
            let mut s = Scenario::mmc(
                model.arrival_rate_per_s,
                model.handlers,
                model.mean_handle_s,
                args.calls.unwrap_or(100_000),
                args.seed.unwrap_or(1),
            );
            if let Some(w) = args.warmup_calls {
                s.warmup_calls = w;
            }
            (s, Some(model))
        }
    };
    // Virtual time needs an origin `Instant`; no real time passes after this read.
    let report = sim::run(&scenario, std::time::Instant::now())?;
    let classes = report.summary(model.as_ref());
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            seed: u64,
            warmup_calls: u64,
            virtual_duration_s: f64,
            classes: &'a [sim::ClassReport],
        }
        let out = Out {
            seed: scenario.seed,
            warmup_calls: scenario.warmup_calls,
            virtual_duration_s: report.virtual_duration_s,
            classes: &classes,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "seed {}  warm-up {} calls  virtual time {:.0} s",
        scenario.seed, scenario.warmup_calls, report.virtual_duration_s
    );
    println!(
        "{:<14} {:>8} {:>8} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}  answered within 5/10/15/20/60 s",
        "class", "calls", "answered", "aband", "overfl", "reject", "mean ms", "p50 ms", "p90 ms", "p95 ms", "p99 ms"
    );
    for c in &classes {
        let sl: Vec<String> = c
            .answered_within_s
            .values()
            .map(|f| format!("{:.1}%", f * 100.0))
            .collect();
        println!(
            "{:<14} {:>8} {:>8} {:>6} {:>6} {:>6} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0}  {}",
            c.class.as_str(),
            c.calls,
            c.answered,
            c.abandoned,
            c.overflowed,
            c.rejected,
            c.mean_wait_ms,
            c.wait_p50_ms,
            c.wait_p90_ms,
            c.wait_p95_ms,
            c.wait_p99_ms,
            sl.join(" ")
        );
        if let Some(e) = &c.erlang_c {
            let sl: Vec<String> = e
                .answered_within_s
                .values()
                .map(|f| format!("{:.1}%", f * 100.0))
                .collect();
            println!(
                "{:<14} {:>8} {:>8} {:>6} {:>6} {:>6} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0}  {}",
                "  (Erlang C)",
                "",
                "",
                "",
                "",
                "",
                e.mean_wait_ms,
                e.wait_p50_ms,
                e.wait_p90_ms,
                e.wait_p95_ms,
                e.wait_p99_ms,
                sl.join(" ")
            );
        }
    }
    Ok(())
}

/// Runs a load scenario; Ok(true) when every target is met.
fn load(args: &LoadArgs) -> Result<bool, Box<dyn std::error::Error>> {
    use answerpoint::load::{self, LoadScenario};
    use std::io::IsTerminal;

    let text = std::fs::read_to_string(&args.scenario)
        .map_err(|e| format!("--scenario {}: {e}", args.scenario.display()))?;
    let mut scenario = LoadScenario::from_toml(&text)
        .map_err(|e| format!("--scenario {}: {e}", args.scenario.display()))?;
    if let Some(t) = args.time_scale {
        scenario.time_scale = t;
    }
    if let Some(s) = args.seed {
        scenario.seed = s;
    }
    scenario.check()?;
    // Fail now, not after the run, when the report cannot be written; a file created only
    // for the check is removed again, so an interrupted run leaves no empty report.
    if let Some(path) = &args.json {
        let existed = path.exists();
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| format!("--json {}: {e}", path.display()))?;
        if !existed {
            let _ = std::fs::remove_file(path);
        }
    }
    let exe = std::env::current_exe()?;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => load::create_default_run_dir()
            .map_err(|e| format!("run directory in {}: {e}", std::env::temp_dir().display()))?,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(1000);
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut tick = |el: f64, total: f64, sent: u64, done: u64| {
        if let Some(b) = &bar {
            b.set_position(((el / total.max(1e-9)).min(1.0) * 1000.0) as u64);
            // After the last arrival the run waits for calls to finish (drain).
            let phase = if el > total { ", draining" } else { "" };
            b.set_message(format!(
                "{:.0}/{total:.0} scenario s{phase}, {sent} calls, {done} finished",
                el.min(total)
            ));
        }
    };
    let stop = async {
        use tokio::signal::unix::{signal, SignalKind};
        // SIGHUP (a closed terminal or SSH session) stops the run like SIGTERM.
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut term), Ok(mut hup)) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT".to_owned(),
                _ = term.recv() => "SIGTERM".to_owned(),
                _ = hup.recv() => "SIGHUP".to_owned(),
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT".to_owned()
            }
        }
    };
    let started = |e: &load::EngineChild| {
        eprintln!(
            "answerpoint load: engine pid {} listening on sip udp:{} (files in {})",
            e.pid,
            e.addr,
            dir.display()
        );
    };
    let report = rt.block_on(load::run_with_child_until(
        &scenario,
        &exe,
        &dir,
        Some(&mut tick),
        stop,
        started,
    ))?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    print!("{}", report.summary());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .map_err(|e| format!("--json {}: {e}", path.display()))?;
    }
    // The default run directory ($TMPDIR/answerpoint-load-PID) only holds the generated
    // engine config and the engine's log: removed after a passing run, kept after a
    // failing one (its log is the first thing to read). A `--dir` is always kept.
    if args.dir.is_none() {
        if report.pass {
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            eprintln!(
                "answerpoint load: engine log kept in {}",
                dir.join("engine.log").display()
            );
        }
    }
    Ok(report.pass)
}
