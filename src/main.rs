//! `answerpoint` command line: a thin shell over the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Emergency-call SIP telephony and queueing engine.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and validate a configuration file without binding any port; prints
    /// "config OK: …" and exits 0, or the error (naming the key) and exits 1.
    CheckConfig {
        /// The TOML configuration file.
        file: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        None => {
            eprintln!("answerpoint: the SIP engine runtime has not landed yet; see README.md");
            std::process::exit(2);
        }
        Some(Command::CheckConfig { file }) => check_config(&file),
    }
}

fn check_config(file: &std::path::Path) {
    match answerpoint::config::Config::load(file) {
        Ok(config) => println!("config OK: {}", config.summary()),
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            std::process::exit(1);
        }
    }
}
