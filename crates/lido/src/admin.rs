//! `--admin ADDR`: a second, small server for operators and load balancers.
//!
//! - `/healthz`: `200 ok` while the server serves; `503` from the moment a shutdown was asked
//!   for (during `--shutdown-delay` and the drain), so a load balancer takes the instance out
//!   before it stops listening.
//! - `/readyz`: the same answer, for readiness probes (Kubernetes keeps liveness and
//!   readiness apart; lido has nothing to warm up, so both say whether it takes traffic).
//! - `/metrics`: the counters in the Prometheus text format.

use lido::http::header;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lido::http::{Method, Request, Response, StatusCode};

/// Where `lido healthcheck` asks when given no address; the address the deploy files use.
pub(crate) const DEFAULT_ADDR: &str = "127.0.0.1:7879";

/// Whether the process is on its way out; set by the signal thread at SIGTERM.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    stopping: AtomicBool,
}

impl Lifecycle {
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// The admin endpoints' handler.
#[derive(Debug)]
pub(crate) struct Admin {
    pub(crate) stats: lido::Stats,
    pub(crate) lifecycle: Arc<Lifecycle>,
}

impl Admin {
    /// The server's counters; `draining` from the moment a shutdown was asked for (the
    /// `--shutdown-delay` included), as /healthz says.
    fn snapshot(&self) -> lido::StatsSnapshot {
        let mut snapshot = self.stats.snapshot();
        snapshot.draining |= self.lifecycle.stopping();
        snapshot
    }
}

impl lido::Handler for Admin {
    fn handle(&self, request: &Request) -> Response {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return lido::method_not_allowed(&[Method::GET, Method::HEAD]);
        }
        let no_store = |response: Response| response.with_header(header::CACHE_CONTROL, "no-store");
        match request.path() {
            "/healthz" | "/readyz" => {
                if self.lifecycle.stopping() || self.stats.is_draining() {
                    no_store(Response::text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "draining\n",
                    ))
                } else {
                    no_store(Response::text(StatusCode::OK, "ok\n"))
                }
            }
            "/metrics" => match crate::metrics::encode(self.snapshot()) {
                Ok(text) => no_store(
                    Response::new(StatusCode::OK)
                        .with_header(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)
                        .with_body(text.into()),
                ),
                Err(_) => Response::text(StatusCode::INTERNAL_SERVER_ERROR, "metrics failed\n"),
            },
            _ => Response::text(
                StatusCode::NOT_FOUND,
                "not found: try /healthz, /readyz or /metrics\n",
            ),
        }
    }
}

/// `lido healthcheck ADDR`: `Ok` if `GET path` on ADDR answers 200 within `timeout` (the
/// whole check: connecting, asking, and the status line).
pub(crate) fn check(addr: &str, path: &str, timeout: std::time::Duration) -> Result<(), String> {
    use std::io::{ErrorKind, Read, Write};
    use std::net::ToSocketAddrs;
    use std::time::Instant;
    if !path.starts_with('/') {
        return Err(format!("--path must start with '/', not {path:?}"));
    }
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("{addr}{path}: no answer within {timeout:?}"))
    };
    let target = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&target, left()?)
        .map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_write_timeout(Some(left()?))
        .map_err(|e| format!("{addr}: {e}"))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{addr}: {e}"))?;
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        stream
            .set_read_timeout(Some(left()?))
            .map_err(|e| format!("{addr}: {e}"))?;
        match stream.read(&mut head[got..]) {
            Ok(0) => {
                return Err(format!(
                    "{addr}{path}: the connection closed without an answer"
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("{addr}{path}: no answer within {timeout:?}"));
            }
            Err(e) => return Err(format!("{addr}{path}: {e}")),
        }
    }
    match &head {
        b"HTTP/1.1 200" | b"HTTP/1.0 200" => Ok(()),
        other => Err(format!(
            "{addr}{path}: {}",
            String::from_utf8_lossy(other).trim()
        )),
    }
}
