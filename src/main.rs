//! `answerpoint` command line: a thin shell over the library.
//!
//! Exit codes: 0 after a clean shutdown (Ctrl-C / SIGTERM) or a good config; 1 for a bad
//! or unreadable configuration; 2 for bad command-line usage (clap); 3 when a listen
//! address cannot be bound (e.g. the port is in use) or the async runtime cannot start.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Run the engine until Ctrl-C or SIGTERM. Prints one `listening sip <transport>:<addr>`
    /// line per bound address on stdout once every port is bound.
    Run(RunArgs),
    /// Parse and validate a configuration file without binding any port; prints
    /// "config OK: …" and exits 0, or the error (naming the key) and exits 1.
    CheckConfig {
        /// The TOML configuration file.
        file: PathBuf,
    },
}

#[derive(clap::Args, Default)]
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
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        None => run(RunArgs::default()),
        Some(Command::Run(args)) => run(args),
        Some(Command::CheckConfig { file }) => check_config(&file),
    }
}

fn check_config(file: &std::path::Path) {
    match Config::load(file) {
        Ok(config) => println!("config OK: {}", config.summary()),
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

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("answerpoint: cannot start the async runtime: {e}");
            std::process::exit(3);
        }
    };
    rt.block_on(async move {
        let server = match answerpoint::runtime::Server::bind(config).await {
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
        for l in server.local_addrs() {
            println!("listening sip {l}");
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server.run(answerpoint::runtime::shutdown_signal()).await;
    });
}
