//! What the engine reports about every answered request, for access logs.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use crate::http::{Request, StatusCode};

/// One answered request, passed to the hook set with
/// [`ServerBuilder::on_response`](crate::ServerBuilder::on_response) once the response is
/// ready to be written.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use lido::http::{Request, Response, StatusCode};
///
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&lines);
/// let server = lido::Server::builder()
///     .listen("127.0.0.1:0")
///     .on_response(move |x: &lido::Exchange<'_>| {
///         let path = x.request.map_or("-", |r| r.path()).to_owned();
///         sink.lock().unwrap().push(format!("{} {} {}", path, x.status.as_u16(), x.body_bytes));
///     })
///     .bind(|_: &Request| Response::text(StatusCode::OK, "hi"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Exchange<'a> {
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// The request, or `None` when it was refused before it could be parsed (a `400`, a
    /// `503` when the server is saturated, ...).
    pub request: Option<&'a Request>,
    /// For a refused request: its request line, when one could be read (for the log).
    pub request_line: Option<&'a str>,
    /// For a response the engine made itself: why (`missing host header`, ...), as its body
    /// says too.
    pub reason: Option<&'a str>,
    /// The response status.
    pub status: StatusCode,
    /// Length of the response body (0 for `HEAD` and bodiless statuses), as made: the hook
    /// runs when the response starts, so a download the client abandons counts whole.
    pub body_bytes: u64,
    /// When the request was complete and handed to the handler.
    pub received: SystemTime,
    /// How long the handler took to produce the response.
    pub handler_time: Duration,
}

impl<'a> Exchange<'a> {
    /// An exchange with `status`, no peer or request, no body, received now (for tests of
    /// log formatting).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::StatusCode;
    ///
    /// let mut x = lido::Exchange::new(StatusCode::NOT_FOUND);
    /// x.body_bytes = 10;
    /// assert_eq!(x.status.as_u16(), 404);
    /// ```
    pub fn new(status: StatusCode) -> Self {
        Self {
            peer: None,
            request: None,
            request_line: None,
            reason: None,
            status,
            body_bytes: 0,
            received: SystemTime::now(),
            handler_time: Duration::ZERO,
        }
    }
}

/// The hook's type.
pub(crate) type ResponseHook = dyn Fn(&Exchange<'_>) + Send + Sync;
