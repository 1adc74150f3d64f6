//! [`Request`], [`Method`] and [`Version`]: pure data, no I/O.

use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

pub use ::http::Method;
use ::http::header::{HeaderMap, HeaderName, HeaderValue};

use super::parse::{ParseError, split_target};
use super::request_body::{BodyData, BodyReader, Spooled};

/// The request methods lido understands (RFC 9110 section 9): the `http` crate's
/// [`Method`]s `GET`, `HEAD`, `POST`, `PUT`, `DELETE`, `OPTIONS`, `PATCH` (RFC 5789),
/// `TRACE` and `CONNECT`. Any other token is answered `501 Not Implemented`.
pub(crate) const KNOWN_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::OPTIONS,
    Method::PATCH,
    Method::TRACE,
    Method::CONNECT,
];

/// Looks up a method token lido understands, case-sensitively (`get` is a valid token but
/// not `GET`); `None` for any other bytes.
pub(crate) fn known_method(bytes: &[u8]) -> Option<Method> {
    KNOWN_METHODS
        .iter()
        .find(|method| method.as_str().as_bytes() == bytes)
        .cloned()
}

/// The position of `method` in [`KNOWN_METHODS`] (for per-method counters).
pub(crate) fn method_index(method: &Method) -> Option<usize> {
    KNOWN_METHODS.iter().position(|known| known == method)
}

/// The HTTP versions lido speaks.
///
/// # Examples
///
/// ```
/// use lido::http::Version;
///
/// assert_eq!(Version::Http10.as_str(), "HTTP/1.0");
/// assert_eq!(Version::Http11.to_string(), "HTTP/1.1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

impl Version {
    /// The version as written in a start line: `"HTTP/1.0"` or `"HTTP/1.1"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::Version;
    ///
    /// assert_eq!(Version::Http11.as_str(), "HTTP/1.1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed HTTP request: method, target, version, header fields and body.
///
/// [`parse_head`](super::parse_head) builds one with an empty body; the connection engine
/// attaches the body once it has been read. Handlers and tests can build one with
/// [`Request::new`].
///
/// The path is the path component of the request-target, still percent-encoded: `/a%20b` for
/// `GET /a%20b?x=1`, `/p` for the absolute-form `http://host/p?q`, `*` for `OPTIONS *`, and the
/// empty string for the authority-form of `CONNECT`.
///
/// # Examples
///
/// ```
/// use lido::http::{Method, Request, Version};
///
/// let request = Request::new(Method::GET, "/docs/a%20b.html?lang=en")?
///     .with_header("Host", "example.com")
///     .with_header("Accept", "text/html");
/// assert_eq!(request.method(), Method::GET);
/// assert_eq!(request.version(), Version::Http11);
/// assert_eq!(request.target(), "/docs/a%20b.html?lang=en");
/// assert_eq!(request.path(), "/docs/a%20b.html");
/// assert_eq!(request.query(), Some("lang=en"));
/// assert_eq!(request.header("host"), Some(&b"example.com"[..]));
/// assert_eq!(request.header_str("ACCEPT"), Some("text/html"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    version: Version,
    target: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: BodyData,
    remote_addr: Option<SocketAddr>,
    received_at: Instant,
    /// The target as a [`Uri`](::http::Uri), parsed when first asked for.
    uri: std::sync::OnceLock<::http::Uri>,
}

/// Two requests are equal when they say the same: method, version, target, header fields and
/// body. Where and when they arrived ([`Request::remote_addr`], [`Request::received_at`]) is
/// not part of the message.
impl PartialEq for Request {
    fn eq(&self, other: &Request) -> bool {
        self.method == other.method
            && self.version == other.version
            && self.target == other.target
            && self.path == other.path
            && self.query == other.query
            && self.headers == other.headers
            && self.body == other.body
    }
}

impl Eq for Request {}

impl Request {
    /// Builds an `HTTP/1.1` request with no header fields and an empty body.
    ///
    /// The target is checked exactly as [`parse_head`](super::parse_head) checks it.
    ///
    /// # Errors
    ///
    /// [`ParseError::InvalidTarget`] if `target` is not a valid request-target for `method`:
    /// origin-form (`/path?query`), absolute-form (`http://host/path`), `*` (only with
    /// `OPTIONS`) or authority-form (`host:port`, only and always with `CONNECT`).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, ParseError, Request};
    ///
    /// let request = Request::new(Method::GET, "http://example.com")?;
    /// assert_eq!(request.path(), "/");
    /// assert_eq!(Request::new(Method::GET, "*"), Err(ParseError::InvalidTarget));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(method: Method, target: &str) -> Result<Request, ParseError> {
        let (path, query) = split_target(&method, target)?;
        Ok(Request::from_parts(
            method,
            Version::Http11,
            target.to_owned(),
            path,
            query,
            HeaderMap::new(),
        ))
    }

    /// Assembles a request from already validated parts.
    pub(crate) fn from_parts(
        method: Method,
        version: Version,
        target: String,
        path: String,
        query: Option<String>,
        headers: HeaderMap,
    ) -> Request {
        Request {
            method,
            version,
            target,
            path,
            query,
            headers,
            body: BodyData::default(),
            remote_addr: None,
            received_at: Instant::now(),
            uri: std::sync::OnceLock::new(),
        }
    }

    /// Records where the request came from and when its head was complete (the engine does
    /// this for every request it reads).
    pub(crate) fn set_origin(&mut self, remote_addr: Option<SocketAddr>, received_at: Instant) {
        self.remote_addr = remote_addr;
        self.received_at = received_at;
    }

    /// The address of the client that sent the request (the peer of the TCP connection: a
    /// proxy's, behind one); `None` for a request built with [`Request::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::GET, "/")?;
    /// assert_eq!(request.remote_addr(), None);
    /// let request = request.with_remote_addr("192.0.2.7:4000".parse()?);
    /// assert_eq!(request.remote_addr().map(|a| a.ip().to_string()), Some("192.0.2.7".into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// Replaces the client's address (for tests of handlers).
    ///
    /// # Examples
    ///
    /// See [`Request::remote_addr`].
    #[must_use]
    pub fn with_remote_addr(mut self, addr: SocketAddr) -> Request {
        self.remote_addr = Some(addr);
        self
    }

    /// When the request's head had arrived whole (for a request built with
    /// [`Request::new`]: when it was built). `received_at().elapsed()` in a handler is how
    /// long the request has waited so far, its body and a wait for a worker included.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::GET, "/")?;
    /// assert!(request.received_at() <= std::time::Instant::now());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn received_at(&self) -> Instant {
        self.received_at
    }

    /// Replaces the version. By default, [`Request::new`] uses [`Version::Http11`].
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request, Version};
    ///
    /// let request = Request::new(Method::GET, "/")?.with_version(Version::Http10);
    /// assert_eq!(request.version(), Version::Http10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_version(mut self, version: Version) -> Request {
        self.version = version;
        self
    }

    /// Appends a header field. The name and value are anything the `http` crate's
    /// [`HeaderName`] and [`HeaderValue`] are made from (`&str`, `String`, bytes, the types
    /// themselves); a name that is not a token or a value with control characters is left
    /// out, as the parser would refuse them.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::GET, "/")?
    ///     .with_header("Accept", "text/html")
    ///     .with_header("Accept", b"text/plain".to_vec())
    ///     .with_header("Bad Name", "x");
    /// assert_eq!(request.headers().len(), 2);
    /// assert_eq!(request.header_str("accept"), Some("text/html"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_header<K, V>(mut self, name: K, value: V) -> Request
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        if let Some((name, value)) = super::header_pair(name, value) {
            self.headers.append(name, value);
        }
        self
    }

    /// Replaces the body.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::POST, "/upload")?.with_body(b"hello".to_vec());
    /// assert_eq!(request.body(), b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_body(mut self, body: Vec<u8>) -> Request {
        self.set_body(body);
        self
    }

    /// Replaces the body; used by the connection engine once the body has been read.
    pub(crate) fn set_body(&mut self, body: Vec<u8>) {
        self.body = BodyData::Memory(body);
    }

    /// Attaches a body the engine spooled to a file.
    pub(crate) fn set_spooled_body(&mut self, body: std::sync::Arc<dyn Spooled>) {
        self.body = BodyData::spooled(body);
    }

    /// The request method.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// assert_eq!(Request::new(Method::HEAD, "/")?.method(), Method::HEAD);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The protocol version of the request.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request, Version};
    ///
    /// assert_eq!(Request::new(Method::GET, "/")?.version(), Version::Http11);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> Version {
        self.version
    }

    /// The request-target exactly as sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::GET, "http://example.com/a?b")?;
    /// assert_eq!(request.target(), "http://example.com/a?b");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The request-target as the `http` crate's [`Uri`](::http::Uri) (parsed on the first
    /// call): path and query for the origin-form, scheme and authority too for the
    /// absolute-form, the authority alone for `CONNECT`, `*` for `OPTIONS *`.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::GET, "/docs/a%20b?lang=en")?;
    /// assert_eq!(request.uri().path(), "/docs/a%20b");
    /// assert_eq!(request.uri().query(), Some("lang=en"));
    /// let proxied = Request::new(Method::GET, "http://example.com:8080/x")?;
    /// assert_eq!(proxied.uri().host(), Some("example.com"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn uri(&self) -> &::http::Uri {
        self.uri.get_or_init(|| {
            self.target.parse().unwrap_or_else(|_| {
                // lido's target check is the RFC's; `http`'s parser may be stricter on
                // some byte: the path and query alone, else the root.
                let origin = match &self.query {
                    Some(query) => format!("{}?{query}", self.path),
                    None => self.path.clone(),
                };
                origin.parse().unwrap_or_default()
            })
        })
    }

    /// The path component of the target, still percent-encoded (see [`Request`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// assert_eq!(Request::new(Method::GET, "/a%2Fb?x")?.path(), "/a%2Fb");
    /// assert_eq!(Request::new(Method::OPTIONS, "*")?.path(), "*");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query (without the `?`), if the target has one.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// assert_eq!(Request::new(Method::GET, "/?a=1&b")?.query(), Some("a=1&b"));
    /// assert_eq!(Request::new(Method::GET, "/?")?.query(), Some(""));
    /// assert_eq!(Request::new(Method::GET, "/")?.query(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The value of the first header field named `name` (compared case-insensitively).
    ///
    /// Values parsed by [`parse_head`](super::parse_head) have no leading or trailing
    /// whitespace.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::GET, "/")?.with_header("X-Id", b"\xff".to_vec());
    /// assert_eq!(request.header("x-id"), Some(&b"\xff"[..]));
    /// assert_eq!(request.header("x-other"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header<K: ::http::header::AsHeaderName>(&self, name: K) -> Option<&[u8]> {
        self.headers.get(name).map(HeaderValue::as_bytes)
    }

    /// Like [`Request::header`], but `None` when the value is not UTF-8.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::GET, "/")?
    ///     .with_header("X-Bin", b"\xff".to_vec())
    ///     .with_header("X-Text", "caf\u{e9}");
    /// assert_eq!(request.header_str("x-bin"), None);
    /// assert_eq!(request.header_str("x-text"), Some("caf\u{e9}"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header_str<K: ::http::header::AsHeaderName>(&self, name: K) -> Option<&str> {
        self.header(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// Every header field, as the `http` crate's [`HeaderMap`] (names in lower case; the
    /// fields of one name in the order received).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request, header};
    ///
    /// let request = Request::new(Method::GET, "/")?
    ///     .with_header("Host", "a")
    ///     .with_header("Accept", "*/*");
    /// let names: Vec<&str> = request.headers().keys().map(|name| name.as_str()).collect();
    /// assert_eq!(names, ["host", "accept"]);
    /// assert_eq!(request.headers()[header::HOST], "a");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The header fields, to change them (for tests of handlers, or middleware).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request, header};
    ///
    /// let mut request = Request::new(Method::GET, "/")?;
    /// request.headers_mut().insert(header::ACCEPT, "text/html".parse()?);
    /// assert_eq!(request.header_str("accept"), Some("text/html"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The request body, whole, in memory; empty until the connection engine has read it.
    ///
    /// A body larger than the spool threshold (see
    /// [`ServerBuilder::spool_bodies_over`](crate::ServerBuilder::spool_bodies_over)) waits in
    /// a temporary file and is read into memory by the first call; to handle a large upload
    /// without holding it in memory, read it with [`Request::body_reader`] instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// assert!(Request::new(Method::GET, "/")?.body().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body(&self) -> &[u8] {
        self.body.bytes()
    }

    /// The body's length in bytes, wherever it is held.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::POST, "/")?.with_body(vec![0; 3]);
    /// assert_eq!(request.body_len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body_len(&self) -> u64 {
        self.body.len()
    }

    /// Reads the body as a stream from its start: from memory, or from the temporary file a
    /// large body was spooled to, without loading it whole.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use lido::http::{Method, Request};
    ///
    /// let request = Request::new(Method::POST, "/")?.with_body(b"abc".to_vec());
    /// let mut first = [0u8; 2];
    /// request.body_reader().read_exact(&mut first)?;
    /// assert_eq!(&first, b"ab");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body_reader(&self) -> BodyReader<'_> {
        BodyReader {
            body: &self.body,
            position: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_round_trips_through_its_token() {
        for method in KNOWN_METHODS {
            assert_eq!(
                known_method(method.as_str().as_bytes()),
                Some(method.clone())
            );
            assert_eq!(
                method_index(&method).map(|i| &KNOWN_METHODS[i]),
                Some(&method)
            );
        }
        assert_eq!(known_method(b""), None);
        assert_eq!(known_method(b"GETX"), None);
        assert_eq!(known_method(b"Get"), None);
        assert_eq!(known_method(b"BREW"), None);
    }

    #[test]
    fn new_splits_targets() {
        let r = Request::new(Method::GET, "/a/b?c=d?e").unwrap();
        assert_eq!((r.path(), r.query()), ("/a/b", Some("c=d?e")));
        let r = Request::new(Method::GET, "HTTPS://Example.com:8443?q").unwrap();
        assert_eq!((r.path(), r.query()), ("/", Some("q")));
        let r = Request::new(Method::CONNECT, "example.com:443").unwrap();
        assert_eq!((r.path(), r.query()), ("", None));
        assert!(Request::new(Method::GET, "example.com:443").is_err());
        assert!(Request::new(Method::GET, "/a#frag").is_err());
        assert!(Request::new(Method::GET, "/a b").is_err());
        assert!(Request::new(Method::GET, "").is_err());
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_first_wins() {
        let r = Request::new(Method::GET, "/")
            .unwrap()
            .with_header("X-A", "1")
            .with_header("x-a", "2");
        assert_eq!(r.header("X-a"), Some(&b"1"[..]));
        assert_eq!(r.headers().len(), 2);
    }

    #[test]
    fn set_body_replaces_the_body() {
        let mut r = Request::new(Method::POST, "/").unwrap().with_body(vec![1]);
        r.set_body(vec![2, 3]);
        assert_eq!(r.body(), [2, 3]);
    }
}
