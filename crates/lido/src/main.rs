//! The `lido` binary: a static-file server. Until the server engine lands it only parses its
//! command line and prints its help.
#![warn(clippy::unwrap_used)]

use clap::{CommandFactory, Parser};

/// Serve a directory over HTTP/1.1.
#[derive(Debug, Parser)]
#[command(name = "lido", version, about)]
struct Cli {
    /// The directory to serve.
    #[arg(default_value = ".")]
    root: std::path::PathBuf,
}

fn main() {
    let _cli = Cli::parse();
    // The server engine is not built yet: say so instead of pretending to serve.
    let mut cmd = Cli::command();
    let _ = cmd.print_help();
}
