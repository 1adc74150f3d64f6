//! `lido`: an HTTP/1.1 server on a fixed thread pool, where no worker ever waits on the
//! network.
//!
//! One reactor thread (mio: epoll, kqueue) owns the listener and every connection that is idle,
//! half-received or waiting to write. A connection goes to a [`lido_pool::ThreadPool`] worker
//! only when its socket is ready; the worker reads, parses, runs the [`Handler`] and writes
//! without blocking, and hands the connection back on `WouldBlock`. Every wait has a deadline,
//! every buffer and queue a bound, and when the pool is saturated a client gets `503` at once.
//!
//! - [`http`] is the pure HTTP/1.1 layer: request heads, bodies, response heads; no I/O.
//! - [`Server`] / [`ServerBuilder`] bind and serve a [`Handler`]; a [`ShutdownHandle`] stops it
//!   gracefully.
//!
//! # Examples
//!
//! ```
//! use lido::http::{Method, Request, Response, StatusCode};
//!
//! let server = lido::Server::builder()
//!     .listen("127.0.0.1:0")
//!     .threads(2)
//!     .bind(|req: &Request| match req.method() {
//!         Method::Get | Method::Head => Response::text(StatusCode::OK, "hello\n"),
//!         _ => lido::method_not_allowed(&[Method::Get, Method::Head]),
//!     })?;
//! let handle = server.shutdown_handle();
//! let running = std::thread::spawn(move || server.run());
//! handle.shutdown();
//! running.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(clippy::unwrap_used)]
#![forbid(unsafe_code)]

mod config;
mod conn;
mod engine;
mod error;
mod exchange;
mod files;
mod handler;
pub mod http;
mod sendfile;
mod server;
mod stats;
mod transport;

pub use config::{
    DEFAULT_BODY_DEADLINE, DEFAULT_BODY_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEAD_TIMEOUT,
    DEFAULT_KEEP_ALIVE_TIMEOUT, DEFAULT_LINGER_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_MAX_BODY_MEMORY,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_REQUESTS_PER_CONNECTION, DEFAULT_MIN_DATA_RATE,
    DEFAULT_MIN_RATE_GRACE, DEFAULT_QUEUE_PER_THREAD, DEFAULT_SPOOL_THRESHOLD,
    DEFAULT_WRITE_TIMEOUT,
};
pub use engine::{Engine, UnknownEngine};
pub use error::ServerError;
pub use exchange::Exchange;
pub use files::{
    DEFAULT_CACHE_CONTROL, DEFAULT_FILE_RECHECK, Policy, ResolveError, StaticFiles, resolve,
};
pub use handler::{Handler, method_not_allowed};
pub use server::{Server, ServerBuilder, ShutdownHandle};
pub use stats::{
    ConnectionCounts, DURATION_BUCKETS, DurationHistogram, RequestCount, Stats, StatsSnapshot,
    TimeoutKind, UNKNOWN_METHOD,
};

/// The address `lido` listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
