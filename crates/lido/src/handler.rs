//! The `Handler` trait, and the one place where a failure becomes a status code.

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
/// let request = Request::new(lido::http::Method::Get, "/you")?;
/// let response = Hello.handle(&request);
/// assert_eq!(response.status(), StatusCode::OK);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Produces the response to `request`.
    fn handle(&self, request: &Request) -> Response;
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
/// let response = lido::method_not_allowed(&[Method::Get, Method::Head]);
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
        .with_header("Allow", allow)
}

/// The response for a request the engine itself refuses (bad input, timeouts, overload, a
/// panicking handler): a short plain-text body and `Connection: close`. The single mapping
/// from failure to what the client sees, like hyper's `on_error`.
pub(crate) fn error_response(status: StatusCode) -> Response {
    let mut response = Response::text(status, format!("{} {}\n", status.as_u16(), status.reason()))
        .with_header("Connection", "close");
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.set_header("Retry-After", "1");
    }
    response
}
