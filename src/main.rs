//! `answerpoint` command line: a thin shell over the library.

use clap::{Parser, Subcommand};

/// Emergency-call SIP telephony and queueing engine.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        None => {
            eprintln!("answerpoint: the SIP engine runtime has not landed yet; see README.md");
            std::process::exit(2);
        }
        Some(command) => match command {},
    }
}
