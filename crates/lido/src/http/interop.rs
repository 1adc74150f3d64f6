//! To and from the `http` crate's [`Request`](::http::Request) and
//! [`Response`](::http::Response): code and tests written for hyper, axum, ureq or astra carry
//! over, and a handler written against `http`'s types runs on lido ([`HttpHandler`]).
//!
//! lido keeps its own `Request` and `Response` on the hot path (they carry what the engine
//! needs: a body spooled to a file, a file region sent with `sendfile`, where the request came
//! from), built from the same parts: [`Method`](::http::Method),
//! [`StatusCode`](::http::StatusCode), [`HeaderMap`](::http::HeaderMap),
//! [`Uri`](::http::Uri).

use std::io::Read;
use std::net::SocketAddr;

use super::{Body, Method, ParseError, Request, Response, Version};

impl Request {
    /// The request as the `http` crate's, with its body read whole (a body spooled to a file
    /// is read from it). The client's address, when known, is in the extensions as a
    /// [`SocketAddr`].
    ///
    /// # Errors
    ///
    /// The I/O error of reading a spooled body.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::POST, "/upload?x=1")?
    ///     .with_header("Content-Type", "text/plain")
    ///     .with_body(b"hi".to_vec());
    /// let http_request = request.to_http()?;
    /// assert_eq!(http_request.method(), Method::POST);
    /// assert_eq!(http_request.uri().query(), Some("x=1"));
    /// assert_eq!(http_request.headers()["content-type"], "text/plain");
    /// assert_eq!(http_request.body(), b"hi");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_http(&self) -> std::io::Result<::http::Request<Vec<u8>>> {
        let mut body = Vec::new();
        self.body_reader().read_to_end(&mut body)?;
        let mut request = ::http::Request::new(body);
        *request.method_mut() = self.method().clone();
        *request.uri_mut() = self.uri().clone();
        *request.version_mut() = match self.version() {
            Version::Http10 => ::http::Version::HTTP_10,
            Version::Http11 => ::http::Version::HTTP_11,
        };
        *request.headers_mut() = self.headers().clone();
        if let Some(addr) = self.remote_addr() {
            request.extensions_mut().insert(addr);
        }
        Ok(request)
    }
}

impl TryFrom<::http::Request<Vec<u8>>> for Request {
    type Error = ParseError;

    /// A request from the `http` crate's, as lido would have parsed it: the method must be
    /// one lido serves, the target valid for it; HTTP/1.0 stays 1.0, any other version is
    /// 1.1. A [`SocketAddr`] in the extensions is the client's address.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::Request;
    ///
    /// let http_request = http::Request::get("/a?b").header("Host", "x").body(Vec::new())?;
    /// let request = Request::try_from(http_request)?;
    /// assert_eq!((request.path(), request.query()), ("/a", Some("b")));
    /// assert_eq!(request.header_str("host"), Some("x"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn try_from(request: ::http::Request<Vec<u8>>) -> Result<Request, ParseError> {
        let (parts, body) = request.into_parts();
        if super::request::method_index(&parts.method).is_none() {
            return Err(ParseError::UnknownMethod);
        }
        let target = match (&parts.method, parts.uri.path_and_query()) {
            (&Method::CONNECT, _) => parts
                .uri
                .authority()
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default(),
            _ if parts.uri.scheme().is_some() => parts.uri.to_string(),
            (_, Some(origin)) => origin.as_str().to_owned(),
            (_, None) => "/".to_owned(),
        };
        let version = if parts.version == ::http::Version::HTTP_10 {
            Version::Http10
        } else {
            Version::Http11
        };
        let mut converted = Request::new(parts.method, &target)?
            .with_version(version)
            .with_body(body);
        *converted.headers_mut() = parts.headers;
        if let Some(addr) = parts.extensions.get::<SocketAddr>() {
            converted = converted.with_remote_addr(*addr);
        }
        Ok(converted)
    }
}

impl<B: Into<Body>> From<::http::Response<B>> for Response {
    /// A response from the `http` crate's: its status, header fields and body (anything a
    /// [`Body`] is made from: bytes, a string, a [`Body`] itself).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// let http_response = http::Response::builder()
    ///     .status(404)
    ///     .header("Content-Type", "text/plain")
    ///     .body("not here\n")?;
    /// let response = Response::from(http_response);
    /// assert_eq!(response.status(), StatusCode::NOT_FOUND);
    /// assert_eq!(response.header("content-type"), Some("text/plain"));
    /// assert_eq!(response.body().len(), 9);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from(response: ::http::Response<B>) -> Response {
        let (parts, body) = response.into_parts();
        let mut converted = Response::new(parts.status).with_body(body.into());
        *converted.headers_mut() = parts.headers;
        converted
    }
}

impl From<Response> for ::http::Response<Body> {
    /// The response as the `http` crate's, its [`Body`] unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Body, Response, StatusCode};
    ///
    /// let response = Response::text(StatusCode::OK, "hi");
    /// let http_response: http::Response<Body> = response.into();
    /// assert_eq!(http_response.status(), 200);
    /// assert_eq!(http_response.headers()["content-type"], "text/plain; charset=utf-8");
    /// ```
    fn from(mut response: Response) -> ::http::Response<Body> {
        let body = response.take_body();
        let mut converted = ::http::Response::new(body);
        *converted.status_mut() = response.status();
        *converted.headers_mut() = std::mem::take(response.headers_mut());
        converted
    }
}

/// A handler written against the `http` crate's types: `Fn(http::Request<Vec<u8>>) ->
/// http::Response<B>`, run by lido as any [`Handler`](crate::Handler). The request comes
/// with its body read whole (see [`Request::to_http`]); a body that cannot be read gets
/// `500`.
///
/// # Examples
///
/// ```
/// use lido::HttpHandler;
///
/// let hello = HttpHandler(|request: http::Request<Vec<u8>>| {
///     http::Response::builder()
///         .header("Content-Type", "text/plain")
///         .body(format!("hello from {}\n", request.uri().path()))
///         .unwrap_or_default()
/// });
/// let server = lido::Server::builder().listen("127.0.0.1:0").bind(hello)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HttpHandler<F>(pub F);

impl<F, B> crate::Handler for HttpHandler<F>
where
    F: Fn(::http::Request<Vec<u8>>) -> ::http::Response<B> + Send + Sync + 'static,
    B: Into<Body>,
{
    fn handle(&self, request: &Request) -> Response {
        match request.to_http() {
            Ok(request) => Response::from((self.0)(request)),
            Err(err) => {
                tracing::error!(error = %err, "cannot read a spooled request body");
                crate::handler::error_response(
                    super::StatusCode::INTERNAL_SERVER_ERROR,
                    Some("the request body could not be read"),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let addr: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let original = Request::new(Method::PUT, "http://example.com/a%20b?c")
            .unwrap()
            .with_version(Version::Http10)
            .with_header("X-A", "1")
            .with_header("X-A", "2")
            .with_body(b"body".to_vec())
            .with_remote_addr(addr);
        let http_request = original.to_http().unwrap();
        assert_eq!(http_request.version(), ::http::Version::HTTP_10);
        assert_eq!(http_request.extensions().get::<SocketAddr>(), Some(&addr));
        let back = Request::try_from(http_request).unwrap();
        assert_eq!(back, original);
        assert_eq!(back.remote_addr(), Some(addr));
    }

    #[test]
    fn connect_and_asterisk_targets_survive() {
        for (method, target) in [(Method::CONNECT, "example.com:443"), (Method::OPTIONS, "*")] {
            let request = Request::new(method, target).unwrap();
            let back = Request::try_from(request.to_http().unwrap()).unwrap();
            assert_eq!(back.target(), target);
        }
    }

    #[test]
    fn unknown_methods_are_refused() {
        let request = ::http::Request::builder()
            .method("BREW")
            .uri("/")
            .body(Vec::new())
            .unwrap();
        assert_eq!(Request::try_from(request), Err(ParseError::UnknownMethod));
    }

    #[test]
    fn responses_round_trip() {
        let response =
            Response::text(super::super::StatusCode::CREATED, "made").with_header("Location", "/x");
        let http_response: ::http::Response<Body> = response.into();
        assert_eq!(http_response.headers()["location"], "/x");
        let back = Response::from(http_response);
        assert_eq!(back.status(), super::super::StatusCode::CREATED);
        assert_eq!(back.header("location"), Some("/x"));
        assert_eq!(back.body().len(), 4);
    }
}
