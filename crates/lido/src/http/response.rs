//! [`Response`], [`StatusCode`], [`Body`] and response-head encoding.

use std::fs::File;
use std::sync::Arc;

use super::request::Version;
use super::status::{StatusCode, is_bodiless, reason};
use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The content of a response.
///
/// # Examples
///
/// ```
/// use lido::http::Body;
///
/// assert_eq!(Body::Empty.len(), 0);
/// assert_eq!(Body::Bytes(b"abc".to_vec()).len(), 3);
/// assert_eq!(Body::Shared(std::sync::Arc::from(&b"abcd"[..])).len(), 4);
/// let file = std::fs::File::open(std::env::current_exe()?)?;
/// assert_eq!(Body::file(file, 10, 5).len(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub enum Body {
    /// No content.
    #[default]
    Empty,
    /// Content held in memory.
    Bytes(Vec<u8>),
    /// Content held in memory and shared (for example a cached file): sent without a copy
    /// per response.
    Shared(Arc<[u8]>),
    /// `len` bytes of `file` starting at `offset`, sent by the connection engine (with
    /// `sendfile` where the OS has it). The file may be shared: it is read at explicit
    /// offsets, never through its cursor.
    File {
        /// The open file.
        file: Arc<File>,
        /// Where the content starts in the file.
        offset: u64,
        /// How many bytes to send.
        len: u64,
    },
    /// Several pieces sent one after the other, file regions streamed from the file (a
    /// `multipart/byteranges` answer is built this way and never held in memory whole).
    Parts(Vec<BodyPart>),
    /// Content of a length not known beforehand, read from a [`Read`](std::io::Read) while it
    /// is sent: chunked (`Transfer-Encoding: chunked`) to an HTTP/1.1 client, ended by the
    /// close to an HTTP/1.0 one. The engine reads it on the worker that writes the response,
    /// a few KiB at a time as the client takes them, so a large body is never held whole.
    /// A read error cuts the response (the client sees an incomplete body, never a wrong
    /// one). Made with [`Body::stream`].
    Stream(StreamBody),
}

/// The reader of a [`Body::Stream`].
///
/// # Examples
///
/// ```
/// use lido::http::{Body, Response, StatusCode};
///
/// let body = Body::stream(std::io::Cursor::new(b"made as it is sent".to_vec()));
/// let response = Response::new(StatusCode::OK).with_body(body);
/// assert!(response.body().is_stream());
/// ```
pub struct StreamBody(Box<dyn std::io::Read + Send>);

impl StreamBody {
    /// The reader, for the engine.
    pub(crate) fn reader(&mut self) -> &mut (dyn std::io::Read + Send) {
        &mut *self.0
    }
}

impl std::fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamBody")
    }
}

/// One piece of a [`Body::Parts`].
///
/// # Examples
///
/// ```
/// use lido::http::{Body, BodyPart};
///
/// let body = Body::Parts(vec![BodyPart::Bytes(b"ab".to_vec()), BodyPart::Bytes(b"c".to_vec())]);
/// assert_eq!(body.len(), 3);
/// ```
#[derive(Debug, Clone)]
pub enum BodyPart {
    /// Bytes held in memory.
    Bytes(Vec<u8>),
    /// `len` bytes of `file` from `offset`.
    File {
        /// The open file (read at explicit offsets).
        file: Arc<File>,
        /// Where the piece starts in the file.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
}

impl BodyPart {
    /// The piece's length in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(lido::http::BodyPart::Bytes(vec![0; 4]).len(), 4);
    /// ```
    pub fn len(&self) -> u64 {
        match self {
            BodyPart::Bytes(bytes) => bytes.len() as u64,
            BodyPart::File { len, .. } => *len,
        }
    }

    /// Whether the piece is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(lido::http::BodyPart::Bytes(Vec::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Body {
    /// The content length in bytes; 0 for a [`Body::Stream`], whose length is not known
    /// beforehand.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::Body;
    ///
    /// assert_eq!(Body::from("hello").len(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Shared(bytes) => bytes.len() as u64,
            Body::File { len, .. } => *len,
            Body::Parts(parts) => parts.iter().map(BodyPart::len).sum(),
            Body::Stream(_) => 0,
        }
    }

    /// A body read from `reader` as it is sent (see [`Body::Stream`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Body, Response, StatusCode};
    ///
    /// // A large answer made piece by piece, never held in memory whole.
    /// let lines = std::io::Read::take(std::io::repeat(b'x'), 10 << 20);
    /// let response = Response::new(StatusCode::OK).with_body(Body::stream(lines));
    /// ```
    pub fn stream(reader: impl std::io::Read + Send + 'static) -> Body {
        Body::Stream(StreamBody(Box::new(reader)))
    }

    /// Whether the body is a [`Body::Stream`], whose length is not known until it ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::Body;
    ///
    /// assert!(Body::stream(std::io::empty()).is_stream());
    /// assert!(!Body::from("x").is_stream());
    /// ```
    pub fn is_stream(&self) -> bool {
        matches!(self, Body::Stream(_))
    }

    /// `len` bytes of `file` from `offset`.
    ///
    /// # Examples
    ///
    /// ```
    /// let file = std::fs::File::open(std::env::current_exe()?)?;
    /// let body = lido::http::Body::file(file, 0, 3);
    /// assert_eq!(body.len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn file(file: File, offset: u64, len: u64) -> Body {
        Body::File {
            file: Arc::new(file),
            offset,
            len,
        }
    }

    /// Whether the content is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::Body;
    ///
    /// assert!(Body::Empty.is_empty());
    /// assert!(Body::Bytes(Vec::new()).is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        !self.is_stream() && self.len() == 0
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::Bytes(bytes)
    }
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::Bytes(text.into_bytes())
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Body {
        Body::Bytes(text.as_bytes().to_vec())
    }
}

/// An HTTP response: status, header fields and [`Body`].
///
/// Handlers build it; the connection engine writes its head with [`Response::encode_head`]
/// and then the body.
///
/// # Examples
///
/// ```
/// use lido::http::{Response, StatusCode, Version};
///
/// let response = Response::text(StatusCode::NOT_FOUND, "no such file\n")
///     .with_header("Cache-Control", "no-store");
/// assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
/// let mut head = Vec::new();
/// response.encode_head(Version::Http11, true, "Sun, 06 Nov 1994 08:49:37 GMT", &mut head);
/// assert_eq!(
///     head,
///     b"HTTP/1.1 404 Not Found\r\n\
///       Content-Type: text/plain; charset=utf-8\r\n\
///       Cache-Control: no-store\r\n\
///       Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
///       Content-Length: 13\r\n\
///       \r\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Body,
}

impl Response {
    /// A response with no header fields and an empty body.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// let response = Response::new(StatusCode::NO_CONTENT);
    /// assert_eq!(response.status(), StatusCode::NO_CONTENT);
    /// assert!(response.body().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            headers: HeaderMap::new(),
            body: Body::Empty,
        }
    }

    /// A `text/plain; charset=utf-8` response.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// let response = Response::text(StatusCode::OK, "hi");
    /// assert_eq!(response.body().len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn text(status: StatusCode, text: impl Into<String>) -> Response {
        Response::bytes(
            status,
            "text/plain; charset=utf-8",
            text.into().into_bytes(),
        )
    }

    /// A `text/html; charset=utf-8` response.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// let response = Response::html(StatusCode::OK, "<p>hi</p>");
    /// assert_eq!(response.header("Content-Type"), Some("text/html; charset=utf-8"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn html(status: StatusCode, html: impl Into<String>) -> Response {
        Response::bytes(status, "text/html; charset=utf-8", html.into().into_bytes())
    }

    /// A response with the given `Content-Type` and in-memory content.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// let response = Response::bytes(StatusCode::OK, "image/png", vec![0x89, b'P']);
    /// assert_eq!(response.header("content-type"), Some("image/png"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bytes(status: StatusCode, content_type: &str, bytes: Vec<u8>) -> Response {
        Response::new(status)
            .with_header(header::CONTENT_TYPE, content_type)
            .with_body(Body::Bytes(bytes))
    }

    /// The status code.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// assert_eq!(Response::new(StatusCode::FOUND).status(), StatusCode::FOUND);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Replaces the status code.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// let response = Response::text(StatusCode::OK, "x").with_status(StatusCode::NOT_FOUND);
    /// assert_eq!(response.status(), StatusCode::NOT_FOUND);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Response {
        self.status = status;
        self
    }

    /// Appends a header field (an existing field of the same name is kept). The name and
    /// value are anything the `http` crate's [`HeaderName`] and [`HeaderValue`] are made from
    /// (`&str`, `String`, the types themselves, ...).
    ///
    /// A field whose name is not a token or whose value holds CR, LF, NUL or another control
    /// character is left out: it cannot be written safely.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode, header};
    ///
    /// let response = Response::new(StatusCode::OK)
    ///     .with_header("Vary", "Accept")
    ///     .with_header(header::VARY, "Range")
    ///     .with_header("X-Evil", "a\r\nSet-Cookie: b");
    /// assert_eq!(response.headers().get_all("vary").iter().count(), 2);
    /// assert_eq!(response.headers().len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_header<K, V>(mut self, name: K, value: V) -> Response
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        if let Some((name, value)) = super::header_pair(name, value) {
            self.headers.append(name, value);
        }
        self
    }

    /// Sets a header field, replacing every field of the same name (case-insensitively). A
    /// name or value that cannot be written safely (see [`Response::with_header`]) changes
    /// nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// let mut response = Response::text(StatusCode::OK, "x");
    /// response.set_header("content-type", "text/css");
    /// assert_eq!(response.header("Content-Type"), Some("text/css"));
    /// assert_eq!(response.headers().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_header<K, V>(&mut self, name: K, value: V)
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        if let Some((name, value)) = super::header_pair(name, value) {
            self.headers.insert(name, value);
        }
    }

    /// The value of the first header field named `name` (compared case-insensitively).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// let response = Response::new(StatusCode::OK).with_header("ETag", "\"1\"");
    /// assert_eq!(response.header("etag"), Some("\"1\""));
    /// assert_eq!(response.header("last-modified"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header<K: header::AsHeaderName>(&self, name: K) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// Every header field set by the handler, as the `http` crate's [`HeaderMap`].
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode, header};
    ///
    /// let response = Response::html(StatusCode::OK, "");
    /// assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    /// assert_eq!(response.headers().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The header fields, to change them as an [`HeaderMap`].
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode, header};
    ///
    /// let mut response = Response::text(StatusCode::OK, "x");
    /// response.headers_mut().remove(header::CONTENT_TYPE);
    /// assert!(response.headers().is_empty());
    /// ```
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The body.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Body, Response, StatusCode};
    ///
    /// let response = Response::text(StatusCode::OK, "abc");
    /// assert!(matches!(response.body(), Body::Bytes(b) if b == b"abc"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Replaces the body.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Body, Response, StatusCode};
    ///
    /// let response = Response::new(StatusCode::OK).with_body(Body::from("abc"));
    /// assert_eq!(response.body().len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_body(mut self, body: Body) -> Response {
        self.body = body;
        self
    }

    /// Takes the body out, leaving [`Body::Empty`]. Encode the head first: its
    /// `Content-Length` comes from the body.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Body, Response, StatusCode};
    ///
    /// let mut response = Response::text(StatusCode::OK, "abc");
    /// assert_eq!(response.take_body().len(), 3);
    /// assert!(matches!(response.body(), Body::Empty));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_body(&mut self) -> Body {
        std::mem::take(&mut self.body)
    }

    /// Consumes the response, returning its body.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// assert_eq!(Response::text(StatusCode::OK, "abc").into_body().len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_body(self) -> Body {
        self.body
    }

    /// Whether the handler asked for the connection to be closed, with a `Connection`
    /// field listing `close`. [`Response::encode_head`] then writes `Connection: close`
    /// whatever `keep_alive` says, and the engine must close after this response.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode};
    ///
    /// let response = Response::new(StatusCode::OK).with_header("Connection", "Close");
    /// assert!(response.closes_connection());
    /// assert!(!Response::new(StatusCode::OK).closes_connection());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn closes_connection(&self) -> bool {
        self.headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|option| option.trim().eq_ignore_ascii_case("close"))
    }

    /// Writes the status line, the header fields and the empty line to `out`.
    ///
    /// The status line always says `HTTP/1.1`, the highest version lido speaks, as RFC 9110
    /// section 6.2 asks even for `HTTP/1.0` requests; `version` is the request's version and
    /// only decides whether `Connection: keep-alive` must be spelled out. Added fields:
    ///
    /// - `Date: {date}`, unless the handler set a `Date` itself.
    /// - `Content-Length: {body.len()}`, unless the status is `1xx`, `204` or `304`. It is
    ///   the body's length even when the engine will not send the body (`HEAD`), which is
    ///   the length a `GET` would have. A [`Body::Stream`] gets `Transfer-Encoding: chunked`
    ///   instead (HTTP/1.1), or no length and `Connection: close` (HTTP/1.0).
    /// - `Connection: close` when `keep_alive` is false or [`Response::closes_connection`];
    ///   otherwise `Connection: keep-alive` for an `HTTP/1.0` request.
    ///
    /// Handler fields named `Content-Length`, `Connection` or `Transfer-Encoding` are
    /// replaced by the above (lido chunks only a [`Body::Stream`]) and a second handler `Date`
    /// is dropped. (A field that could inject lines never got in: see
    /// [`Response::with_header`].) Names are written capitalised word by word
    /// (`Content-Type`, `X-Custom-Name`; `ETag` and `WWW-Authenticate` as usually spelled). A `1xx` head gets only the handler's fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Response, StatusCode, Version};
    ///
    /// let response = Response::new(StatusCode::NOT_MODIFIED)
    ///     .with_header("ETag", "\"v1\"")
    ///     .with_header("X-Evil", "a\r\nSet-Cookie: b");
    /// let mut head = Vec::new();
    /// response.encode_head(Version::Http10, false, "Sun, 06 Nov 1994 08:49:37 GMT", &mut head);
    /// assert_eq!(
    ///     head,
    ///     b"HTTP/1.1 304 Not Modified\r\n\
    ///       ETag: \"v1\"\r\n\
    ///       Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
    ///       Connection: close\r\n\
    ///       \r\n"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode_head(&self, version: Version, keep_alive: bool, date: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, u64::from(self.status.as_u16()));
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");

        let mut has_date = false;
        for (name, value) in &self.headers {
            if name == header::CONTENT_LENGTH
                || name == header::CONNECTION
                || name == header::TRANSFER_ENCODING
            {
                continue;
            }
            if name == header::DATE {
                if has_date {
                    continue;
                }
                has_date = true;
            }
            push_title_case(out, name.as_str());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }

        if !self.status.is_informational() {
            if !has_date && is_field_value(date) {
                push_field(out, "Date", date);
            }
            // A stream's length is not known: chunked to HTTP/1.1, ended by the close to
            // HTTP/1.0.
            let stream = self.body.is_stream();
            match (is_bodiless(self.status), stream) {
                (true, _) => {}
                (false, false) => {
                    out.extend_from_slice(b"Content-Length: ");
                    push_decimal(out, self.body.len());
                    out.extend_from_slice(b"\r\n");
                }
                (false, true) if version != Version::Http10 => {
                    push_field(out, "Transfer-Encoding", "chunked");
                }
                (false, true) => {}
            }
            let close_delimited = stream && version == Version::Http10;
            if !keep_alive || close_delimited || self.closes_connection() {
                push_field(out, "Connection", "close");
            } else if version == Version::Http10 {
                push_field(out, "Connection", "keep-alive");
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Writes a (lower-case) field name as most servers spell it: each word capitalised
/// (`content-type` -> `Content-Type`). Names are case-insensitive; this is for people reading
/// the bytes.
fn push_title_case(out: &mut Vec<u8>, name: &str) {
    // The common ones as nginx spells them, without a loop.
    let known = match name {
        "content-type" => "Content-Type",
        "etag" => "ETag",
        "last-modified" => "Last-Modified",
        "cache-control" => "Cache-Control",
        "accept-ranges" => "Accept-Ranges",
        "x-content-type-options" => "X-Content-Type-Options",
        "content-encoding" => "Content-Encoding",
        "vary" => "Vary",
        "www-authenticate" => "WWW-Authenticate",
        _ => "",
    };
    if !known.is_empty() {
        out.extend_from_slice(known.as_bytes());
        return;
    }
    let mut upper = true;
    for b in name.bytes() {
        out.push(if upper { b.to_ascii_uppercase() } else { b });
        upper = b == b'-';
    }
}

/// A field value has no control characters but HTAB (RFC 9110 section 5.5).
fn is_field_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= b' ' && b != 0x7f))
}

fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests;
