//! The `lido` binary: serve a directory over HTTP/1.1.
#![warn(clippy::unwrap_used)]

mod access_log;
mod admin;
mod cli;
mod config_file;
#[cfg(feature = "tls")]
mod https;
mod metrics;
mod proxy;
mod serve;
mod systemd;

use std::io::Write;
use std::process::ExitCode;

use cli::{Command, Refusal};

fn main() -> ExitCode {
    // First, before any thread starts: the sockets systemd passed (this clears LISTEN_FDS).
    let activated = match systemd::activated_sockets() {
        Ok(activated) => activated,
        Err(err) => {
            eprintln!("lido: {err}");
            return ExitCode::FAILURE;
        }
    };
    let parsed = match cli::parse(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(Refusal::Info(err)) => err.exit(), // --help, --version
        Err(Refusal::Usage(line)) => {
            eprintln!("lido: {line}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout();
    let result = match parsed.cli.command {
        Some(Command::Completions { shell }) => {
            // Into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli::command(), "lido", &mut script);
            stdout.write_all(&script).map_err(Into::into)
        }
        Some(Command::Man) => clap_mangen::Man::new(cli::command())
            .render(&mut stdout)
            .map_err(Into::into),
        Some(Command::Healthcheck {
            addr,
            path,
            timeout,
        }) => {
            let Some(timeout) = std::time::Duration::try_from_secs_f64(timeout)
                .ok()
                .filter(|t| !t.is_zero() && *t <= std::time::Duration::from_secs(3600))
            else {
                eprintln!("lido: --timeout must be a number of seconds above 0 and up to 3600");
                return ExitCode::from(2);
            };
            match admin::check(&addr, &path, timeout) {
                Ok(()) => {
                    let _ = writeln!(stdout, "lido: {addr}{path}: ok");
                    Ok(())
                }
                Err(why) => Err(why.into()),
            }
        }
        None if parsed.cli.serve.print_config => {
            let text = config_file::print(&cli::command(), &parsed.matches);
            stdout.write_all(text.as_bytes()).map_err(Into::into)
        }
        None => serve::run(parsed.cli.serve, activated),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `lido man | head`: the reader went away; nothing is wrong.
        Err(err)
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("lido: {err}");
            ExitCode::FAILURE
        }
    }
}
