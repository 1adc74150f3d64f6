//! The command line: flags, subcommands, and where each value comes from (the command line,
//! then `LIDO_<FLAG>` environment variables, then the `--config` file, then the default).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::access_log;

const SERVING: &str = "Serving";
const FILES: &str = "Files";
#[cfg(feature = "tls")]
const HTTPS: &str = "HTTPS";
const LIMITS: &str = "Limits";
const TIMEOUTS: &str = "Timeouts";
const LOGGING: &str = "Logging";
const OPERATIONS: &str = "Operations";

/// Serve a directory over HTTP/1.1: a fixed pool of workers that never wait on the network.
///
/// Every flag can also be set with an environment variable named after it (--max-body:
/// LIDO_MAX_BODY; switches take true or false; a repeatable flag takes one value there) or a
/// key of the same name in the --config file; the command line wins over the environment,
/// which wins over the file. `[::]` listens on IPv6 only: for IPv4 and IPv6 together, pass
/// both sockets with systemd socket activation.
#[derive(Debug, Parser)]
#[command(
    name = "lido",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = "Stop with Ctrl-C (or SIGTERM): in-flight requests finish first."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) serve: Serve,
}

/// What `lido` does besides serving.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; `lido man | man -l -`).
    Man,
    /// Ask a running lido whether it is healthy: exit 0 if ADDR answers GET /healthz with
    /// 200, 1 otherwise (for container health checks, where no curl is installed).
    Healthcheck {
        /// The admin address (--admin) of the server to ask.
        #[arg(default_value = crate::admin::DEFAULT_ADDR)]
        addr: String,
        /// The path to ask for.
        #[arg(long, default_value = "/healthz")]
        path: String,
        /// Seconds to wait for the answer.
        #[arg(long, value_name = "SECS", default_value_t = 3.0)]
        timeout: f64,
    },
}

/// The flags of the server itself.
#[derive(Debug, clap::Args)]
pub(crate) struct Serve {
    /// The directory to serve.
    #[arg(default_value = ".", help_heading = SERVING)]
    pub(crate) root: PathBuf,
    /// Address to listen on (port 0 picks a free port; the bound address is printed). Not
    /// bound when systemd passes sockets, unless given.
    #[arg(short, long, default_value = lido::DEFAULT_LISTEN, value_name = "ADDR", help_heading = SERVING)]
    pub(crate) listen: String,
    /// Worker threads [default: number of CPUs].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096), help_heading = SERVING)]
    pub(crate) threads: Option<u32>,
    /// Ready connections that may wait for a worker before new ones get 503 [default: 512 x threads].
    #[arg(long, value_name = "N", help_heading = SERVING)]
    pub(crate) queue: Option<usize>,
    /// Connection engine: leader-followers (Linux) or reactor [default: leader-followers on Linux].
    #[arg(long, value_name = "NAME", help_heading = SERVING)]
    pub(crate) engine: Option<lido::Engine>,

    /// Serve dotfiles (hidden by default).
    #[arg(long, help_heading = FILES)]
    pub(crate) hidden: bool,
    /// Follow symlinks that point outside ROOT (by default only links inside ROOT are followed).
    #[arg(long, help_heading = FILES)]
    pub(crate) follow_symlinks: bool,
    /// Answer 403 for directories without index.html instead of listing them.
    #[arg(long, help_heading = FILES)]
    pub(crate) no_listing: bool,
    /// Do not offer listed directories as one download (DIR/?format=tar, and tar.gz unless
    /// --no-compress), made while it is sent.
    #[arg(long, help_heading = FILES)]
    pub(crate) no_archive: bool,
    /// Seconds a cached file is served before its path is checked again (0: no file cache).
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_FILE_RECHECK.as_secs_f64(), help_heading = FILES)]
    pub(crate) recheck_files: f64,
    /// Cache-Control header for files and listings.
    #[arg(long, value_name = "VALUE", default_value = lido::DEFAULT_CACHE_CONTROL, value_parser = parse_field_value, help_heading = FILES)]
    pub(crate) cache_control: String,
    /// Do not compress text files on the fly (zstd, brotli, gzip as the client prefers, for
    /// text, JavaScript, JSON, XML, SVG, wasm... of 1 KiB to 2 MiB; .br/.gz siblings still win).
    #[arg(long, help_heading = FILES)]
    pub(crate) no_compress: bool,
    /// Bytes of compressed answers kept in memory, least recently used out first.
    #[arg(long, value_name = "BYTES", default_value_t = lido::DEFAULT_COMPRESS_CACHE, help_heading = FILES)]
    pub(crate) compress_cache: usize,
    /// Single-page app: unknown paths that accept HTML get ROOT/index.html.
    #[arg(long, help_heading = FILES)]
    pub(crate) spa: bool,
    /// HTML file sent (with status 404) for missing paths.
    #[arg(long = "404", value_name = "FILE", help_heading = FILES)]
    pub(crate) not_found: Option<PathBuf>,
    /// Add protective headers: X-Frame-Options DENY, a CSP forbidding framing,
    /// Referrer-Policy strict-origin-when-cross-origin, Cross-Origin-Opener-Policy same-origin,
    /// and over HTTPS Strict-Transport-Security (max-age 1 year unless --hsts says).
    #[arg(long, help_heading = FILES)]
    pub(crate) security_headers: bool,
    /// Ask for a user and password (HTTP Basic) from this htpasswd file: bcrypt
    /// (htpasswd -B) or argon2 hashes only [default: no authentication].
    #[arg(long, value_name = "FILE", help_heading = FILES)]
    pub(crate) auth_file: Option<PathBuf>,
    /// The realm the browser names in its password prompt.
    #[arg(long, value_name = "REALM", default_value = "lido", help_heading = FILES)]
    pub(crate) auth_realm: String,
    /// Allow cross-origin requests from anywhere (Access-Control-Allow-Origin: *).
    #[arg(long, help_heading = FILES)]
    pub(crate) cors: bool,
    /// Cache-Control for the paths matching PATTERN (*.EXT or /PREFIX/), as
    /// 'PATTERN=VALUE'; repeatable, the first match wins, else --cache-control.
    #[arg(long, value_name = "'PATTERN=VALUE'", value_parser = parse_cache_rule, help_heading = FILES)]
    pub(crate) cache_control_for: Vec<(lido::PathMatch, String)>,
    /// Extra response header, as 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header, help_heading = FILES)]
    pub(crate) headers: Vec<(String, String)>,

    /// Serve HTTPS with the certificate chain in this PEM file (leaf first) [default: plain
    /// HTTP]; SIGHUP reloads it and the key.
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "FILE", requires = "tls_key", help_heading = HTTPS)]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, in a PEM file (RSA, ECDSA or Ed25519).
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "FILE", requires = "tls_cert", help_heading = HTTPS)]
    pub(crate) tls_key: Option<PathBuf>,
    /// Also listen on ADDR with plain HTTP, answering every request with a 308 redirect to
    /// the https:// URL (for port 80) [default: off].
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "ADDR", requires = "tls_cert", help_heading = HTTPS)]
    pub(crate) redirect_http: Option<String>,
    /// Send Strict-Transport-Security with max-age SECS (browsers then use only HTTPS for
    /// the site) [default: off; 1 year (31536000) with --security-headers].
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "SECS", requires = "tls_cert", help_heading = HTTPS)]
    pub(crate) hsts: Option<u64>,

    /// Connections open at once; at the limit idle and half-sent ones make room for new ones.
    #[arg(long, value_name = "N", default_value_t = lido::DEFAULT_MAX_CONNECTIONS, help_heading = LIMITS)]
    pub(crate) max_connections: usize,
    /// Connections one client address may have open at once [default: no limit].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = LIMITS)]
    pub(crate) max_connections_per_ip: Option<u32>,
    /// Requests served on one connection before it is closed.
    #[arg(long, value_name = "N", default_value_t = lido::DEFAULT_MAX_REQUESTS_PER_CONNECTION, help_heading = LIMITS)]
    pub(crate) max_requests: u32,
    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = lido::DEFAULT_MAX_BODY, help_heading = LIMITS)]
    pub(crate) max_body: u64,
    /// Bytes of request bodies held in memory across all connections; past it, 503.
    #[arg(long, value_name = "BYTES", default_value_t = lido::DEFAULT_MAX_BODY_MEMORY, help_heading = LIMITS)]
    pub(crate) max_body_memory: usize,
    /// Request bodies larger than this (bytes) wait in a temporary file instead of memory.
    #[arg(long, value_name = "BYTES", default_value_t = lido::DEFAULT_SPOOL_THRESHOLD, help_heading = LIMITS)]
    pub(crate) spool_bodies_over: usize,
    /// Bytes a second request bodies and responses must average after their first 5 s (0: off).
    #[arg(long, value_name = "BYTES", default_value_t = lido::DEFAULT_MIN_DATA_RATE, help_heading = LIMITS)]
    pub(crate) min_data_rate: u64,

    /// Seconds for a whole request head to arrive.
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_HEAD_TIMEOUT.as_secs_f64(), help_heading = TIMEOUTS)]
    pub(crate) head_timeout: f64,
    /// Seconds an idle keep-alive connection is kept.
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_KEEP_ALIVE_TIMEOUT.as_secs_f64(), help_heading = TIMEOUTS)]
    pub(crate) keep_alive_timeout: f64,
    /// Seconds a whole request body may take after its head.
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_BODY_DEADLINE.as_secs_f64(), help_heading = TIMEOUTS)]
    pub(crate) body_deadline: f64,
    /// Seconds a request body or a response may go without progress.
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_WRITE_TIMEOUT.as_secs_f64(), help_heading = TIMEOUTS)]
    pub(crate) io_timeout: f64,
    /// Seconds a graceful shutdown (SIGINT, SIGTERM) lets in-flight exchanges finish.
    #[arg(long, value_name = "SECS", default_value_t = lido::DEFAULT_DRAIN_TIMEOUT.as_secs_f64(), help_heading = TIMEOUTS)]
    pub(crate) drain_timeout: f64,

    /// Access log format.
    #[arg(long, value_name = "FORMAT", default_value = "combined", help_heading = LOGGING)]
    pub(crate) access_log: access_log::Format,
    /// Write the access log to FILE (appending) instead of stdout; SIGUSR1 reopens it (for
    /// logrotate).
    #[arg(long, value_name = "FILE", help_heading = LOGGING)]
    pub(crate) access_log_file: Option<PathBuf>,
    /// A reverse proxy or CDN (address or network, 10.0.0.0/8) whose X-Forwarded-For the
    /// access log believes for the client's address (repeatable) [default: none].
    #[arg(long, value_name = "ADDR[/BITS]", help_heading = LOGGING)]
    pub(crate) trusted_proxy: Vec<crate::proxy::Network>,
    /// No access log; only warnings and errors on stderr.
    #[arg(short, long, help_heading = LOGGING)]
    pub(crate) quiet: bool,

    /// Serve /healthz, /readyz and /metrics (Prometheus) on ADDR [default: off]. Keep it off
    /// the public network.
    #[arg(long, value_name = "ADDR", help_heading = OPERATIONS)]
    pub(crate) admin: Option<String>,
    /// Seconds between SIGTERM (or SIGINT) and closing the listener: /healthz and /readyz
    /// answer 503 meanwhile while requests are still served, so a load balancer stops sending
    /// first; a second signal skips the rest.
    #[arg(long, value_name = "SECS", default_value_t = 0.0, help_heading = OPERATIONS)]
    pub(crate) shutdown_delay: f64,
    /// Bind with SO_REUSEPORT, so a new lido can start on the same address before this one
    /// stops (set net.ipv4.tcp_migrate_req=1 on Linux for restarts that lose nothing).
    #[arg(long, help_heading = OPERATIONS)]
    pub(crate) reuse_port: bool,
    /// Read settings from a TOML file whose keys are the flags' names (max-body = 1048576).
    #[arg(long, value_name = "FILE", help_heading = OPERATIONS)]
    pub(crate) config: Option<PathBuf>,
    /// Print the effective settings as TOML (a config file to start from) and exit.
    #[arg(long, help_heading = OPERATIONS)]
    pub(crate) print_config: bool,

    /// Whether --listen was given (on the command line, in the environment or the file),
    /// rather than defaulted.
    #[arg(skip)]
    pub(crate) listen_given: bool,
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

/// A header field value: no control characters (a CR or LF would end the field).
fn parse_field_value(text: &str) -> Result<String, String> {
    if text.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err("control characters are not allowed in a header value".to_owned());
    }
    Ok(text.trim().to_owned())
}

/// `PATTERN=VALUE` for `--cache-control-for`.
fn parse_cache_rule(text: &str) -> Result<(lido::PathMatch, String), String> {
    let (pattern, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected 'PATTERN=VALUE', got {text:?}"))?;
    let pattern = pattern.trim().parse().map_err(|e| format!("{e}"))?;
    let value = value.trim();
    if value.is_empty() || value.bytes().any(|b| b.is_ascii_control()) {
        return Err(format!("invalid Cache-Control value {value:?}"));
    }
    Ok((pattern, value.to_owned()))
}

/// Flags that are not settings: they have no environment variable and no config key.
const NOT_SETTINGS: [&str; 4] = ["help", "version", "print_config", "config"];

/// The environment variable of a flag: `LIDO_` and its long name in capitals, `_` for `-`
/// (`LIDO_MAX_BODY`).
pub(crate) fn env_name(name: &str) -> String {
    format!("LIDO_{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// The command with every setting readable from its environment variable.
pub(crate) fn command() -> clap::Command {
    Cli::command()
        .mut_args(|arg| {
            if NOT_SETTINGS.contains(&arg.get_id().as_str()) {
                return arg;
            }
            let name = env_name(arg.get_long().unwrap_or(arg.get_id().as_str()));
            arg.env(name)
        })
        .mut_arg("config", |arg| arg.env("LIDO_CONFIG"))
}

/// How parsing ended, when it did not give a command line to act on.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// `--help` or `--version`: print and exit 0.
    Info(clap::Error),
    /// Bad arguments or a bad config file: one line, exit 2.
    Usage(String),
}

/// A parsed command line, and the matches it came from (for `--print-config`).
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) cli: Cli,
    pub(crate) matches: ArgMatches,
}

/// Parses `args`, with the `--config` file's settings under those given.
pub(crate) fn parse(args: Vec<OsString>) -> Result<Parsed, Refusal> {
    // A subcommand (`lido healthcheck`, `lido man`, ...) takes none of the server's settings:
    // neither `LIDO_*` variables nor a config file may change or break it.
    let subcommands = ["completions", "man", "healthcheck", "help"];
    if args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| subcommands.contains(&a))
    {
        let matches = matches(Cli::command(), args)?;
        let cli = from_matches(&matches)?;
        return Ok(Parsed { cli, matches });
    }
    let first = matches(command(), args.clone())?;
    let Some(path) = first.get_one::<PathBuf>("config").cloned() else {
        let cli = from_matches(&first)?;
        return Ok(Parsed {
            cli,
            matches: first,
        });
    };
    let file = crate::config_file::load(&path, &command()).map_err(Refusal::Usage)?;
    // A setting from the file goes in front of the command line only where neither the
    // command line nor the environment gave one.
    let mut merged = Vec::with_capacity(args.len() + file.len() + 1);
    let mut rest = args.into_iter();
    merged.extend(rest.next());
    let mut root = None;
    for setting in file {
        let given = matches!(
            first.value_source(&setting.id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if given {
            continue;
        }
        if setting.id == "root" {
            root = Some(setting.args);
        } else {
            merged.extend(setting.args);
        }
    }
    merged.extend(rest);
    // The file's ROOT goes last, after `--`, so that no value of it ("-q", "man") can be
    // taken for a flag or a subcommand.
    if let Some(root) = root {
        if !merged.iter().any(|a| a == "--") {
            merged.push(OsString::from("--"));
        }
        merged.extend(root);
    }
    let matches = matches(command(), merged)?;
    let cli = from_matches(&matches)?;
    Ok(Parsed { cli, matches })
}

fn matches(command: clap::Command, args: Vec<OsString>) -> Result<ArgMatches, Refusal> {
    command.try_get_matches_from(args).map_err(|err| {
        if err.use_stderr() {
            Refusal::Usage(first_line(&err))
        } else {
            Refusal::Info(err)
        }
    })
}

fn from_matches(matches: &ArgMatches) -> Result<Cli, Refusal> {
    let mut cli = Cli::from_arg_matches(matches).map_err(|e| Refusal::Usage(first_line(&e)))?;
    cli.serve.listen_given = matches!(
        matches.value_source("listen"),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    );
    Ok(cli)
}

/// clap's first line, without its `error: `.
pub(crate) fn first_line(err: &clap::Error) -> String {
    // clap's message (with its list of values, its tip) on one line, without the usage.
    let text = err.render().to_string();
    let words: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
        .collect();
    let line = words.join(" ");
    let line = line.trim_start_matches("error: ");
    if line.is_empty() {
        "invalid arguments".to_owned()
    } else {
        line.to_owned()
    }
}
