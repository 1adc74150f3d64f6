//! Command line -> server configuration -> run.

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use lido::{Server, StaticFiles};

use crate::access_log;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Serve a directory over HTTP/1.1: a fixed pool of workers that never wait on the network.
#[derive(Debug, Parser)]
#[command(name = "lido", version, about)]
pub(crate) struct Cli {
    /// The directory to serve.
    #[arg(default_value = ".")]
    root: PathBuf,
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(short, long, default_value = lido::DEFAULT_LISTEN, value_name = "ADDR")]
    listen: String,
    /// Worker threads [default: number of CPUs].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    threads: Option<u32>,
    /// Ready connections that may wait for a worker before new ones get 503 [default: 512 x threads].
    #[arg(long, value_name = "N")]
    queue: Option<usize>,
    /// Connection engine: leader-followers (Linux) or reactor [default: leader-followers on Linux].
    #[arg(long, value_name = "NAME", env = "LIDO_ENGINE")]
    engine: Option<lido::Engine>,
    /// Connections open at once; at the limit idle and half-sent ones make room for new ones.
    #[arg(long, value_name = "N", default_value_t = lido::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Connections one client address may have open at once [default: no limit].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections_per_ip: Option<u32>,
    /// Requests served on one connection before it is closed.
    #[arg(long, value_name = "N", default_value_t = lido::DEFAULT_MAX_REQUESTS_PER_CONNECTION)]
    max_requests: u32,
    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = lido::DEFAULT_MAX_BODY)]
    max_body: u64,
    /// Bytes of request bodies held in memory across all connections; past it, 503.
    #[arg(long, value_name = "BYTES", default_value_t = lido::DEFAULT_MAX_BODY_MEMORY)]
    max_body_memory: usize,
    /// Request bodies larger than this wait in a temporary file instead of memory.
    #[arg(long, value_name = "BYTES", default_value_t = lido::DEFAULT_SPOOL_THRESHOLD)]
    spool_bodies_over: usize,
    /// Seconds for a whole request head to arrive.
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_HEAD_TIMEOUT.as_secs_f64())]
    head_timeout: f64,
    /// Seconds an idle keep-alive connection is kept.
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_KEEP_ALIVE_TIMEOUT.as_secs_f64())]
    keep_alive_timeout: f64,
    /// Seconds a whole request body may take after its head.
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_BODY_DEADLINE.as_secs_f64())]
    body_deadline: f64,
    /// Bytes a second request bodies and responses must average after their first 5 s (0: off).
    #[arg(long, value_name = "BYTES", default_value_t = lido::DEFAULT_MIN_DATA_RATE)]
    min_data_rate: u64,
    /// Seconds a request body or a response may go without progress.
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_WRITE_TIMEOUT.as_secs_f64())]
    io_timeout: f64,
    /// Seconds a graceful shutdown (SIGINT, SIGTERM) lets in-flight exchanges finish.
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_DRAIN_TIMEOUT.as_secs_f64())]
    drain_timeout: f64,
    /// Serve dotfiles (hidden by default).
    #[arg(long)]
    hidden: bool,
    /// Follow symlinks that point outside ROOT (by default only links inside ROOT are followed).
    #[arg(long)]
    follow_symlinks: bool,
    /// Answer 403 for directories without index.html instead of listing them.
    #[arg(long)]
    no_listing: bool,
    /// Seconds a cached file is served before its path is checked again (0: no file cache).
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_FILE_RECHECK.as_secs_f64())]
    recheck_files: f64,
    /// Cache-Control header for files and listings.
    #[arg(long, value_name = "VALUE", default_value = lido::DEFAULT_CACHE_CONTROL)]
    cache_control: String,
    /// Single-page app: unknown paths that accept HTML get ROOT/index.html.
    #[arg(long)]
    spa: bool,
    /// HTML file sent (with status 404) for missing paths.
    #[arg(long = "404", value_name = "FILE")]
    not_found: Option<PathBuf>,
    /// Allow cross-origin requests from anywhere (Access-Control-Allow-Origin: *).
    #[arg(long)]
    cors: bool,
    /// Extra response header, as 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Access log format on stdout.
    #[arg(long, value_name = "FORMAT", default_value = "combined")]
    access_log: access_log::Format,
    /// No access log; only warnings and errors on stderr.
    #[arg(short, long)]
    quiet: bool,
}

/// `Name: value`, with a token name and a value without control characters.
fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("expected 'Name: value', got {text:?}"))?;
    let name = name.trim();
    let value = value.trim();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("invalid header name {name:?}"));
    }
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(format!("invalid header value for {name}"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn seconds(name: &str, secs: f64) -> Result<Duration, Box<dyn Error>> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("--{name} must be a positive number of seconds, not {secs}").into())
}

pub(crate) fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    let level = if cli.quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let mut files = StaticFiles::new(&cli.root)
        .map_err(|e| format!("cannot serve {}: {e}", cli.root.display()))?
        .show_hidden(cli.hidden)
        .follow_symlinks(cli.follow_symlinks)
        .listing(!cli.no_listing)
        .cache_control(cli.cache_control.clone())
        .recheck_files_after(Duration::try_from_secs_f64(cli.recheck_files).map_err(|_| {
            format!(
                "--recheck-files must be zero or a positive number of seconds, not {}",
                cli.recheck_files
            )
        })?)
        .spa(cli.spa)
        .cors(cli.cors);
    if let Some(page) = &cli.not_found {
        files = files
            .not_found_page(page)
            .map_err(|e| format!("cannot use --404 {}: {e}", page.display()))?;
    }
    for (name, value) in &cli.headers {
        files = files.header(name.clone(), value.clone());
    }
    let mut builder = Server::builder()
        .listen(cli.listen.clone())
        .max_connections(cli.max_connections)
        .max_requests_per_connection(cli.max_requests)
        .max_body(cli.max_body)
        .max_body_memory(cli.max_body_memory)
        .spool_bodies_over(cli.spool_bodies_over)
        .head_timeout(seconds("head-timeout", cli.head_timeout)?)
        .keep_alive_timeout(seconds("keep-alive-timeout", cli.keep_alive_timeout)?)
        .body_timeout(seconds("io-timeout", cli.io_timeout)?)
        .body_deadline(seconds("body-deadline", cli.body_deadline)?)
        .min_data_rate(cli.min_data_rate)
        .write_timeout(seconds("io-timeout", cli.io_timeout)?)
        .drain_timeout(seconds("drain-timeout", cli.drain_timeout)?);
    if let Some(per_ip) = cli.max_connections_per_ip {
        builder = builder.max_connections_per_ip(per_ip as usize);
    }
    if let Some(threads) = cli.threads {
        builder = builder.threads(threads as usize);
    }
    if let Some(queue) = cli.queue {
        builder = builder.queue_capacity(queue);
    }
    if let Some(engine) = cli.engine {
        if !engine.is_available() {
            return Err(format!("--engine {engine} is not available on this system").into());
        }
        builder = builder.engine(engine);
    }
    let logger = if cli.quiet {
        None
    } else {
        let (hook, logger) = access_log::start(cli.access_log)?;
        builder = builder.on_response(hook);
        Some(logger)
    };
    let server = builder
        .bind(files)
        .map_err(|e| match std::error::Error::source(&e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        })?;

    let handle = server.shutdown_handle();
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("lido-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                tracing::info!(signal, "signal received; shutting down");
                handle.shutdown();
            }
        })?;

    let mut stdout = std::io::stdout();
    // A closed stdout must not stop the server; the address is also logged.
    let _ = writeln!(
        stdout,
        "lido: serving {} on http://{}",
        cli.root.display(),
        server.local_addr()
    );
    let _ = stdout.flush();
    let result = server.run();
    // `run` consumed the server and its hook: the logger drains and stops.
    if let Some(logger) = logger {
        logger.finish();
    }
    result?;
    Ok(())
}
