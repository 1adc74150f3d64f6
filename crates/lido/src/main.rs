//! The `lido` binary: serve a directory over HTTP/1.1.
#![warn(clippy::unwrap_used)]

mod access_log;
mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lido: {err}");
            ExitCode::FAILURE
        }
    }
}
