//! Errors of the server library.

use std::io;

/// Why a server could not start or stopped with an error.
///
/// # Examples
///
/// ```
/// use lido::http::{Request, Response, StatusCode};
///
/// let err = lido::Server::builder()
///     .listen("not an address")
///     .bind(|_: &Request| Response::new(StatusCode::OK))
///     .unwrap_err();
/// assert!(err.to_string().starts_with("cannot resolve listen address"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listen address does not resolve.
    #[error("cannot resolve listen address {addr}")]
    Resolve {
        /// The address as given.
        addr: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address as given.
        addr: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The worker pool could not start.
    #[error("cannot start the worker pool")]
    Pool(#[source] lido_pool::BuildError),
    /// The poller failed.
    #[error("event loop failed")]
    Io(#[source] io::Error),
}
