//! The binary's access log: Combined Log Format (or JSON lines) on stdout or in a file.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use lido::Exchange;

use crate::proxy::Network;

/// Access log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// NCSA Combined Log Format, as nginx and Apache write by default.
    Combined,
    /// One JSON object per line.
    Json,
}

/// Formats one line (without the newline).
pub(crate) fn line(format: Format, x: &Exchange<'_>, trusted: &[Network]) -> String {
    // Every X-Forwarded-For line counts, in order (HAProxy adds its own line after the
    // client's): one list, as RFC 9110 5.3 reads repeated fields.
    let forwarded: Option<String> = (!trusted.is_empty())
        .then(|| {
            x.request.map(|r| {
                r.headers()
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .collect::<Vec<_>>()
                    .join(",")
            })
        })
        .flatten()
        .filter(|joined| !joined.is_empty());
    let client = crate::proxy::client_ip(x.peer.map(|p| p.ip()), forwarded.as_deref(), trusted);
    match format {
        Format::Combined => combined(x, client),
        Format::Json => json(x, client),
    }
}

/// Lines waiting for the logger thread; past this, lines are dropped (and counted) rather
/// than slowing down a worker or the reactor.
const QUEUE_LINES: usize = 16 * 1024;
/// How long the end of `run` waits for the last lines to be written.
const FINISH_TIMEOUT: Duration = Duration::from_secs(2);

/// The access log: formatting happens on the caller's thread, writing on a logger thread, so
/// a slow stdout or disk never stalls a worker or the reactor.
#[derive(Debug)]
pub(crate) struct Logger {
    /// Tells the logger thread to write what is queued and stop: the hook's sender may
    /// outlive the server (a `ShutdownHandle` keeps the engine's context alive), so the end of
    /// the channel cannot be the signal.
    stop: crossbeam_channel::Sender<()>,
    done: crossbeam_channel::Receiver<()>,
    dropped: Arc<AtomicU64>,
}

/// Asks the logger thread to reopen its file (SIGUSR1, after logrotate moved it).
#[derive(Debug, Clone)]
pub(crate) struct Reopen(crossbeam_channel::Sender<()>);

impl Reopen {
    pub(crate) fn reopen(&self) {
        // One pending request is enough.
        let _ = self.0.try_send(());
    }
}

/// Where lines go.
fn open(file: Option<&Path>) -> std::io::Result<Box<dyn std::io::Write + Send>> {
    Ok(match file {
        None => Box::new(std::io::stdout()),
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
    })
}

/// The hook the server calls, the handle to wait for the log at exit, and the handle that
/// reopens the file. `file`: append to it instead of writing to stdout; it is opened here, so
/// a path that cannot be written is an error at start.
pub(crate) fn start(
    format: Format,
    file: Option<PathBuf>,
    trusted: Vec<Network>,
) -> std::io::Result<(
    impl Fn(&Exchange<'_>) + Send + Sync + 'static,
    Logger,
    Reopen,
)> {
    let (tx, rx) = crossbeam_channel::bounded::<String>(QUEUE_LINES);
    let (done_tx, done) = crossbeam_channel::bounded(1);
    let (stop, stop_rx) = crossbeam_channel::bounded::<()>(1);
    let (reopen_tx, reopen_rx) = crossbeam_channel::bounded::<()>(1);
    let first = open(file.as_deref())?;
    std::thread::Builder::new()
        .name("lido-access-log".into())
        .spawn(move || {
            let mut out = std::io::BufWriter::new(first);
            let mut reopen_rx = reopen_rx;
            let mut failed_writes = 0u64;
            let mut check = |result: std::io::Result<()>| {
                if let Err(e) = result {
                    failed_writes += 1;
                    if failed_writes == 1 {
                        tracing::warn!(error = %e, "cannot write the access log; lines are lost");
                    }
                }
            };
            loop {
                crossbeam_channel::select! {
                    recv(rx) -> line => {
                        let Ok(line) = line else { break };
                        check(out.write_all(line.as_bytes()));
                        // Flush once the queue is empty: lines appear promptly, in batches
                        // under load.
                        while let Ok(line) = rx.try_recv() {
                            check(out.write_all(line.as_bytes()));
                        }
                        check(out.flush());
                    }
                    recv(stop_rx) -> _ => {
                        while let Ok(line) = rx.try_recv() {
                            check(out.write_all(line.as_bytes()));
                        }
                        break;
                    }
                    recv(reopen_rx) -> asked => {
                        if asked.is_err() {
                            // Nobody can ask any more (the server is gone or never started).
                            reopen_rx = crossbeam_channel::never();
                            continue;
                        }
                        let _ = out.flush();
                        match open(file.as_deref()) {
                            Ok(next) => {
                                out = std::io::BufWriter::new(next);
                                tracing::info!("access log reopened");
                            }
                            Err(e) => tracing::warn!(
                                error = %e,
                                "could not reopen the access log; writing to the old file"
                            ),
                        }
                    }
                }
            }
            check(out.flush());
            if failed_writes > 1 {
                tracing::warn!(failed_writes, "access log writes failed");
            }
            let _ = done_tx.send(());
        })?;
    let dropped = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&dropped);
    let hook = move |x: &Exchange<'_>| {
        let mut text = line(format, x, &trusted);
        text.push('\n');
        if tx.try_send(text).is_err() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    };
    Ok((
        hook,
        Logger {
            stop,
            done,
            dropped,
        },
        Reopen(reopen_tx),
    ))
}

impl Logger {
    /// Writes what is queued and stops the logger thread (bounded); the server has stopped.
    pub(crate) fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.done.recv_timeout(FINISH_TIMEOUT);
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "access log lines dropped: the log could not keep up"
            );
        }
    }
}

fn header<'a>(x: &'a Exchange<'_>, name: &str) -> Option<&'a str> {
    x.request.and_then(|r| r.header_str(name))
}

/// `127.0.0.1 - - [27/Nov/2026:16:42:00 +0000] "GET / HTTP/1.1" 200 1234 "-" "curl/8"`
fn combined(x: &Exchange<'_>, client: Option<IpAddr>) -> String {
    let mut out = String::with_capacity(160);
    match client {
        Some(ip) => {
            let _ = write!(out, "{ip}");
        }
        None => out.push('-'),
    }
    out.push_str(" - - [");
    out.push_str(&clf_time(x.received));
    out.push_str("] \"");
    match (x.request, x.request_line) {
        (Some(r), _) => {
            quoted(&mut out, r.method().as_str());
            out.push(' ');
            quoted(&mut out, r.target());
            out.push(' ');
            out.push_str(r.version().as_str());
        }
        // Refused before it was parsed whole: what of it could be read, as nginx logs it.
        (None, Some(line)) => quoted(&mut out, line),
        (None, None) => out.push('-'),
    }
    let _ = write!(out, "\" {} {} \"", x.status.as_u16(), x.body_bytes);
    quoted(&mut out, header(x, "referer").unwrap_or("-"));
    out.push_str("\" \"");
    quoted(&mut out, header(x, "user-agent").unwrap_or("-"));
    out.push('"');
    out
}

/// Escapes `"`, `\` and control bytes as nginx does (`\xHH`), so a line stays one line.
fn quoted(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `27/Nov/2026:16:42:00 +0000`, from the IMF-fixdate `Fri, 27 Nov 2026 16:42:00 GMT`.
fn clf_time(time: SystemTime) -> String {
    let imf = httpdate::fmt_http_date(time);
    let parts: Vec<&str> = imf.split(' ').collect();
    match parts.as_slice() {
        [_, day, month, year, clock, _] => format!("{day}/{month}/{year}:{clock} +0000"),
        _ => imf,
    }
}

fn json(x: &Exchange<'_>, client: Option<IpAddr>) -> String {
    let time = httpdate::fmt_http_date(x.received);
    let value = serde_json::json!({
        "time": time,
        "remote": client.map(|ip| ip.to_string()),
        "peer": x.peer.map(|p| p.ip().to_string()),
        "method": x.request.map(|r| r.method().as_str()),
        "target": x.request.map(|r| r.target()),
        "version": x.request.map(|r| r.version().as_str()),
        "request_line": x.request_line,
        "reason": x.reason,
        "status": x.status.as_u16(),
        "bytes": x.body_bytes,
        "referer": header(x, "referer"),
        "user_agent": header(x, "user-agent"),
        "handler_ms": x.handler_time.as_secs_f64() * 1e3,
    });
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lido::http::{Method, Request, StatusCode};
    use std::time::{Duration, UNIX_EPOCH};

    fn exchange(request: Option<&Request>) -> Exchange<'_> {
        let mut x = lido::Exchange::new(StatusCode::OK);
        x.peer = Some("192.0.2.1:5000".parse().unwrap());
        x.request = request;
        x.body_bytes = 42;
        x.received = UNIX_EPOCH + Duration::from_secs(784_111_777);
        x
    }

    #[test]
    fn combined_log_format() {
        let request = Request::new(Method::GET, "/a?b=\"c\"")
            .unwrap()
            .with_header("User-Agent", "curl/8")
            .with_header("Referer", "http://x/");
        assert_eq!(
            line(Format::Combined, &exchange(Some(&request)), &[]),
            r#"192.0.2.1 - - [06/Nov/1994:08:49:37 +0000] "GET /a?b=\x22c\x22 HTTP/1.1" 200 42 "http://x/" "curl/8""#
        );
        assert_eq!(
            line(Format::Combined, &exchange(None), &[]),
            r#"192.0.2.1 - - [06/Nov/1994:08:49:37 +0000] "-" 200 42 "-" "-""#
        );
    }

    #[test]
    fn every_forwarded_line_counts_behind_a_trusted_proxy() {
        // HAProxy appends its own line after the client's.
        let request = Request::new(Method::GET, "/")
            .unwrap()
            .with_header("X-Forwarded-For", "6.6.6.6")
            .with_header("X-Forwarded-For", "192.0.2.9");
        let mut x = exchange(Some(&request));
        x.peer = Some("127.0.0.1:4000".parse().unwrap());
        let trusted: Vec<Network> = vec!["127.0.0.1".parse().unwrap()];
        let logged = line(Format::Combined, &x, &trusted);
        assert!(logged.starts_with("192.0.2.9 - - ["), "{logged}");
        // Not trusted: the peer, whatever the header says.
        let logged = line(Format::Combined, &x, &[]);
        assert!(logged.starts_with("127.0.0.1 - - ["), "{logged}");
    }

    #[test]
    fn json_lines() {
        let request = Request::new(Method::HEAD, "/x").unwrap();
        let text = line(Format::Json, &exchange(Some(&request)), &[]);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["method"], "HEAD");
        assert_eq!(value["status"], 200);
        assert_eq!(value["bytes"], 42);
        assert_eq!(value["remote"], "192.0.2.1");
        assert!(!text.contains('\n'));
    }
}
