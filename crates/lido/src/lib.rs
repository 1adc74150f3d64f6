//! `lido`: an HTTP/1.1 server on a fixed thread pool, where no worker ever waits on the
//! network.
//!
//! A fixed pool of worker threads ([`lido_pool`]) serves every connection, and a worker only
//! ever works on a connection whose socket is ready: idle, half-received and slow connections
//! cost no thread. On Linux the workers take turns waiting on one epoll set
//! ([`Engine::LeaderFollowers`], the default); elsewhere one reactor thread hands ready
//! connections to the pool ([`Engine::Reactor`]). Every wait has a deadline, every buffer and
//! queue a bound, and a saturated server answers `503` at once instead of hanging. The
//! repository's docs/DESIGN.md has the measurements behind each choice.
//!
//! - [`Server`] / [`ServerBuilder`] bind and serve a [`Handler`]; a [`ShutdownHandle`] stops
//!   it gracefully; [`Server::stats`] counts what it does.
//! - [`StaticFiles`] is the handler of the `lido` binary: a directory, safely.
//! - [`http`] is the HTTP/1.1 layer: requests, responses, bodies; no I/O. It speaks the `http`
//!   crate's vocabulary (`Method`, `StatusCode`, `HeaderMap`, `Uri`), converts to and from
//!   `http::Request` / `http::Response`, and [`HttpHandler`] serves a handler written against
//!   those, so code and tests carry over from hyper, axum, ureq or astra.
//!
//! # Three programs
//!
//! **The book's hello server** (`examples/hello`, tested by `tests/hello.rs`): `/` and
//! `/sleep` (which sleeps) on four workers. Unlike the book's, four sleeping requests leave
//! idle and half-sent connections, and a fifth `/`, unharmed.
//!
//! ```rust,ignore
#![doc = include_str!("../examples/hello/app.rs")]
//! ```
//!
//! ```rust,ignore
#![doc = include_str!("../examples/hello/main.rs")]
//! ```
//!
//! **A small router** (`examples/router.rs`): match on the method and the path, path
//! parameters by hand, per-response headers from the client's address and the request's
//! start time.
//!
//! ```rust,no_run
#![doc = include_str!("../examples/router.rs")]
//! ```
//!
//! **Static files and an API on one server** (`examples/site.rs`). [`StaticFiles::prefix`]
//! serves a directory under a path instead, beside other routes.
//!
//! ```rust,no_run
#![doc = include_str!("../examples/site.rs")]
//! ```
//!
//! `tests/examples.rs` serves the router and the site and checks their answers.
//!
//! # What a handler may do
//!
//! A handler runs on a worker of the pool, with the whole request (head and body) already
//! read; its response is written without blocking after it returns.
//!
//! - **Block or take long**: it holds only its own worker. The other workers go on serving
//!   (idle and slow connections never need one). When every worker is busy, complete requests
//!   wait in a bounded queue and, past it, get `503` with `Retry-After`. A graceful shutdown
//!   waits for running handlers up to the drain timeout.
//! - **Panic**: the panic is caught, the client gets `500`, its connection is closed, and the
//!   worker lives on.
//! - **Share state**: a handler is `Send + Sync` and called from several workers at once;
//!   state goes behind a lock or an atomic (see the router).
//! - **Answer early**: [`Handler::handle_head`] sees the head before the body is read, so a
//!   request that will be refused is refused before its body arrives.
//! - **Not**: write to the socket itself, or keep the request after returning.
//!
//! # A minimal server
//!
//! ```
//! use lido::http::{Method, Request, Response, StatusCode};
//!
//! let server = lido::Server::builder()
//!     .listen("127.0.0.1:0")
//!     .threads(2)
//!     .bind(|req: &Request| match *req.method() {
//!         Method::GET | Method::HEAD => Response::text(StatusCode::OK, "hello\n"),
//!         _ => lido::method_not_allowed(&[Method::GET, Method::HEAD]),
//!     })?;
//! let handle = server.shutdown_handle();
//! let running = std::thread::spawn(move || server.run());
//! handle.shutdown();
//! running.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(clippy::unwrap_used)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
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
#[cfg(feature = "tls")]
mod tls;
mod transport;

pub use auth::{AuthFileError, BasicAuth, FREE_FAILURES, MAX_BLOCK, Protected};
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
    DEFAULT_CACHE_CONTROL, DEFAULT_COMPRESS_CACHE, DEFAULT_FILE_RECHECK, InvalidPathMatch,
    MAX_COMPRESS_SIZE, MIN_COMPRESS_SIZE, PathMatch, Policy, ResolveError, StaticFiles, resolve,
};
pub use handler::{Handler, method_not_allowed};
pub use http::HttpHandler;
pub use server::{Server, ServerBuilder, ShutdownHandle};
pub use stats::{
    ConnectionCounts, DURATION_BUCKETS, DurationHistogram, RequestCount, Stats, StatsSnapshot,
    TimeoutKind, UNKNOWN_METHOD,
};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::{TlsConfig, TlsError};

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The address `lido` listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
