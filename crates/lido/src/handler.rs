//! The `Handler` trait, and the one place where a failure becomes a status code.

use crate::http::header;
use crate::http::{Method, Request, Response, StatusCode};

/// Answers requests. Implemented for every `Fn(&Request) -> Response + Send + Sync`.
///
/// A handler runs on a pool worker with the whole request (head and body) already read; it
/// must not assume anything about the connection. A panic inside it becomes a `500` and the
/// connection is closed; the worker lives on.
///
/// # Examples
///
/// ```
/// use lido::http::{Request, Response, StatusCode};
/// use lido::Handler;
///
/// struct Hello;
///
/// impl Handler for Hello {
///     fn handle(&self, request: &Request) -> Response {
///         Response::text(StatusCode::OK, format!("hello {}", request.path()))
///     }
/// }
///
/// let request = Request::new(lido::http::Method::GET, "/you")?;
/// let response = Hello.handle(&request);
/// assert_eq!(response.status(), StatusCode::OK);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Produces the response to `request`.
    fn handle(&self, request: &Request) -> Response;

    /// Answers a request from its head alone, before its body is read; called (on a worker)
    /// only for requests that have a body, with the request's method, target and header
    /// fields (its body empty).
    ///
    /// Return `Some(response)` when the head decides the answer (a method the resource does
    /// not take, a missing resource, a refused upload): it is sent at once, the body is never
    /// read, and the connection closes after the response (what the client still sends is
    /// discarded for at most the linger timeout). A slow client then holds no connection for
    /// the length of its upload. Return `None` (the default) to read the body and call
    /// [`Handler::handle`].
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request, Response, StatusCode};
    /// use lido::Handler;
    ///
    /// struct Uploads;
    ///
    /// impl Handler for Uploads {
    ///     fn handle(&self, request: &Request) -> Response {
    ///         Response::text(StatusCode::OK, format!("{} bytes", request.body().len()))
    ///     }
    ///
    ///     fn handle_head(&self, head: &Request) -> Option<Response> {
    ///         (head.path() != "/upload").then(|| Response::text(StatusCode::NOT_FOUND, "no\n"))
    ///     }
    /// }
    ///
    /// let head = Request::new(Method::POST, "/elsewhere")?;
    /// assert_eq!(Uploads.handle_head(&head).map(|r| r.status()), Some(StatusCode::NOT_FOUND));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_head(&self, head: &Request) -> Option<Response> {
        let _ = head;
        None
    }
}

impl<F> Handler for F
where
    F: Fn(&Request) -> Response + Send + Sync + 'static,
{
    fn handle(&self, request: &Request) -> Response {
        self(request)
    }
}

/// A `405 Method Not Allowed` response listing `allowed` in `Allow`.
///
/// # Examples
///
/// ```
/// use lido::http::{Method, StatusCode};
///
/// let response = lido::method_not_allowed(&[Method::GET, Method::HEAD]);
/// assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
/// assert_eq!(response.header("allow"), Some("GET, HEAD"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn method_not_allowed(allowed: &[Method]) -> Response {
    let allow = allowed
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Response::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        .with_header(header::ALLOW, allow)
}

/// The response for a request the engine itself refuses (bad input, timeouts, overload, a
/// panicking handler): a short plain-text body saying why (`400 Bad Request: missing host
/// header`) and `Connection: close`. The single mapping from failure to what the client sees,
/// like hyper's `on_error`.
pub(crate) fn error_response(status: StatusCode, reason: Option<&str>) -> Response {
    let body = match reason {
        Some(reason) => format!(
            "{} {}: {reason}\n",
            status.as_u16(),
            crate::http::reason(status)
        ),
        None => format!("{} {}\n", status.as_u16(), crate::http::reason(status)),
    };
    let mut response = Response::text(status, body).with_header(header::CONNECTION, "close");
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.set_header(header::RETRY_AFTER, "1");
    }
    response
}
