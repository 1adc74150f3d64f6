//! Request-head parsing: bytes in, [`RequestHead`] out, `Ok(None)` while more bytes are needed.
//!
//! `httparse` does the tokenising; this module adds the limits, the checks `httparse` leaves
//! to its caller (version, method, target, `Host`, body framing, `Expect`) and the mapping of
//! every failure to one [`ParseError`] with one [`StatusCode`].

use std::fmt;

use super::body::BodyFraming;
use super::request::{Method, Request, Version};
use super::status::StatusCode;

/// The longest request line accepted, in bytes, not counting its line ending. Longer: `414`.
///
/// # Examples
///
/// ```
/// use lido::http::{parse_head, MAX_REQUEST_LINE};
///
/// let mut long = b"GET /".to_vec();
/// long.resize(MAX_REQUEST_LINE + 1, b'a');
/// let status = parse_head(&long).unwrap_err().status();
/// assert_eq!(status.as_u16(), 414);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_REQUEST_LINE: usize = 8 * 1024;

/// The largest request head accepted, in bytes: leading empty lines, request line, header
/// fields and the final empty line. Larger: `431`.
///
/// # Examples
///
/// ```
/// use lido::http::{parse_head, MAX_HEAD};
///
/// let mut big = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
/// big.resize(MAX_HEAD + 1, b'a');
/// assert_eq!(parse_head(&big).unwrap_err().status().as_u16(), 431);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_HEAD: usize = 32 * 1024;

/// The most header fields accepted in one request head. More: `431`.
///
/// # Examples
///
/// ```
/// use lido::http::{parse_head, MAX_HEADERS};
///
/// let mut head = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
/// for _ in 0..MAX_HEADERS {
///     head.extend_from_slice(b"X: y\r\n");
/// }
/// head.extend_from_slice(b"\r\n");
/// assert_eq!(parse_head(&head).unwrap_err().status().as_u16(), 431);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_HEADERS: usize = 100;

/// The most empty lines skipped before a request line (RFC 9112 section 2.2). More: `400`.
///
/// # Examples
///
/// ```
/// use lido::http::{parse_head, MAX_EMPTY_LINES};
///
/// let mut head = b"\r\n".repeat(MAX_EMPTY_LINES);
/// head.extend_from_slice(b"GET / HTTP/1.0\r\n\r\n");
/// assert!(parse_head(&head)?.is_some());
/// let too_many = b"\r\n".repeat(MAX_EMPTY_LINES + 1);
/// assert_eq!(parse_head(&too_many).unwrap_err().status().as_u16(), 400);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_EMPTY_LINES: usize = 8;

/// A parsed request head: the [`Request`] (with an empty body) and what the connection
/// engine needs to read the body and decide about the connection.
///
/// # Examples
///
/// ```
/// use lido::http::{parse_head, BodyFraming};
///
/// let buf = b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
/// let (head, consumed) = parse_head(buf)?.ok_or("incomplete")?;
/// assert_eq!(consumed, buf.len());
/// assert_eq!(head.framing, BodyFraming::Length(5));
/// assert!(head.keep_alive);
/// assert!(head.expect_continue);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The request, with an empty body.
    pub request: Request,
    /// How the request body is delimited.
    pub framing: BodyFraming,
    /// Whether the client allows the connection to be reused after this exchange:
    /// `HTTP/1.1` unless `Connection` lists `close`; `HTTP/1.0` only if `Connection` lists
    /// `keep-alive` (and not `close`).
    pub keep_alive: bool,
    /// `Expect: 100-continue` on an `HTTP/1.1` request. The engine should send
    /// `100 Continue` only if it is going to read the body (RFC 9110 section 10.1.1).
    pub expect_continue: bool,
}

/// Why a request head was rejected; [`ParseError::status`] is the response to send.
///
/// After any of these the connection cannot be trusted to be in sync: answer and close.
///
/// # Examples
///
/// ```
/// use lido::http::{parse_head, ParseError};
///
/// let err = parse_head(b"GET / HTTP/1.1\r\n\r\n").unwrap_err();
/// assert_eq!(err, ParseError::MissingHost);
/// assert_eq!(err.status().as_u16(), 400);
/// assert_eq!(err.to_string(), "missing host header");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    /// More than [`MAX_EMPTY_LINES`] empty lines before the request line (`400`).
    TooManyEmptyLines,
    /// The method is not a token (`400`).
    InvalidMethod,
    /// The method is a token lido does not implement, such as `BREW` (`501`).
    UnknownMethod,
    /// The request-target is malformed or not allowed for the method (`400`).
    InvalidTarget,
    /// The version is not of the form `HTTP/DIGIT.DIGIT` (`400`).
    InvalidVersion,
    /// A well-formed version other than `HTTP/1.0` and `HTTP/1.1` (`505`).
    UnsupportedVersion,
    /// A CR not followed by LF, or other bytes where a line should end (`400`).
    InvalidNewLine,
    /// A header field name is not a token: includes obs-fold and whitespace before the
    /// colon (`400`).
    InvalidHeaderName,
    /// A header field value has a control character such as NUL or a bare CR (`400`).
    InvalidHeaderValue,
    /// The request line is longer than [`MAX_REQUEST_LINE`] (`414`).
    RequestLineTooLong,
    /// The head is larger than [`MAX_HEAD`] (`431`).
    HeadTooLarge,
    /// More than [`MAX_HEADERS`] header fields (`431`).
    TooManyHeaders,
    /// An `HTTP/1.1` request without a `Host` header field (`400`).
    MissingHost,
    /// More than one `Host` header field (`400`).
    DuplicateHost,
    /// A `Host` value that is not `host[:port]` (`400`).
    InvalidHost,
    /// A `Content-Length` that is not a decimal number, overflows `u64`, or disagrees with
    /// another `Content-Length` (`400`).
    InvalidContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` (`400`).
    LengthAndTransferEncoding,
    /// `Transfer-Encoding` on an `HTTP/1.0` request (`400`).
    TransferEncodingOnHttp10,
    /// A `Transfer-Encoding` that is empty, or where `chunked` is not the last coding or
    /// appears twice (`400`).
    InvalidTransferEncoding,
    /// A `Transfer-Encoding` with a coding other than `chunked`, such as `gzip` or
    /// `identity` (`501`, RFC 9112 section 6.1).
    UnsupportedTransferCoding,
    /// An `Expect` value other than `100-continue` (`417`).
    UnsupportedExpectation,
}

impl ParseError {
    /// The status code to answer with.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{ParseError, StatusCode};
    ///
    /// assert_eq!(ParseError::UnknownMethod.status(), StatusCode::NOT_IMPLEMENTED);
    /// assert_eq!(ParseError::HeadTooLarge.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            ParseError::UnknownMethod | ParseError::UnsupportedTransferCoding => {
                StatusCode::NOT_IMPLEMENTED
            }
            ParseError::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            ParseError::RequestLineTooLong => StatusCode::URI_TOO_LONG,
            ParseError::HeadTooLarge | ParseError::TooManyHeaders => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            ParseError::UnsupportedExpectation => StatusCode::EXPECTATION_FAILED,
            ParseError::TooManyEmptyLines
            | ParseError::InvalidMethod
            | ParseError::InvalidTarget
            | ParseError::InvalidVersion
            | ParseError::InvalidNewLine
            | ParseError::InvalidHeaderName
            | ParseError::InvalidHeaderValue
            | ParseError::MissingHost
            | ParseError::DuplicateHost
            | ParseError::InvalidHost
            | ParseError::InvalidContentLength
            | ParseError::LengthAndTransferEncoding
            | ParseError::TransferEncodingOnHttp10
            | ParseError::InvalidTransferEncoding => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::TooManyEmptyLines => "too many empty lines before request line",
            ParseError::InvalidMethod => "invalid request method",
            ParseError::UnknownMethod => "unknown request method",
            ParseError::InvalidTarget => "invalid request target",
            ParseError::InvalidVersion => "invalid http version",
            ParseError::UnsupportedVersion => "unsupported http version",
            ParseError::InvalidNewLine => "invalid line ending",
            ParseError::InvalidHeaderName => "invalid header name",
            ParseError::InvalidHeaderValue => "invalid header value",
            ParseError::RequestLineTooLong => "request line too long",
            ParseError::HeadTooLarge => "request head too large",
            ParseError::TooManyHeaders => "too many header fields",
            ParseError::MissingHost => "missing host header",
            ParseError::DuplicateHost => "more than one host header",
            ParseError::InvalidHost => "invalid host header",
            ParseError::InvalidContentLength => "invalid content-length",
            ParseError::LengthAndTransferEncoding => "both content-length and transfer-encoding",
            ParseError::TransferEncodingOnHttp10 => "transfer-encoding in an http/1.0 request",
            ParseError::InvalidTransferEncoding => "invalid transfer-encoding",
            ParseError::UnsupportedTransferCoding => "unsupported transfer coding",
            ParseError::UnsupportedExpectation => "unsupported expectation",
        })
    }
}

impl std::error::Error for ParseError {}

/// Parses a request head from the start of `buf`.
///
/// Returns `Ok(None)` while `buf` holds only a prefix of a valid head, and
/// `Ok(Some((head, n)))` once the head is complete, `n` being the bytes consumed (leading
/// empty lines included); the body, if any, starts at `buf[n..]`. Errors are detected as
/// early as possible: feeding a head byte by byte gives `Ok(None)` until the same error that
/// the whole head gives.
///
/// Leniency: up to [`MAX_EMPTY_LINES`] empty lines before the request line are skipped, and a
/// bare LF is accepted as a line ending (RFC 9112 section 2.2). Nothing else is forgiven.
///
/// # Errors
///
/// A [`ParseError`] naming the first problem; see its variants for the status of each.
/// In brief: `400` for malformed syntax, a missing, repeated or invalid `Host`, or
/// ambiguous body framing; `414` for a request line over [`MAX_REQUEST_LINE`]; `431` for a
/// head over [`MAX_HEAD`] or more than [`MAX_HEADERS`] fields; `501` for an unknown method
/// or transfer coding; `505` for a well-formed version other than 1.0 and 1.1; `417` for an
/// `Expect` other than `100-continue`.
///
/// # Examples
///
/// ```
/// use lido::http::{parse_head, Method, ParseError};
///
/// let buf = b"GET /a?b HTTP/1.1\r\nHost: example.com\r\n\r\nnext";
/// assert!(parse_head(&buf[..20])?.is_none());
/// let (head, n) = parse_head(buf)?.ok_or("incomplete")?;
/// assert_eq!(&buf[n..], b"next");
/// assert_eq!(head.request.method(), Method::GET);
/// assert_eq!(head.request.query(), Some("b"));
///
/// assert_eq!(parse_head(b"GET / HTTP/2.0\r\n"), Err(ParseError::UnsupportedVersion));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_head(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, ParseError> {
    let Some(skipped) = skip_empty_lines(buf)? else {
        return Ok(None);
    };
    let rest = buf.get(skipped..).unwrap_or_default();

    // The request line ends at its first CR or LF. Only its first MAX_REQUEST_LINE bytes are
    // ever examined, so the answer for a long line does not depend on how it arrives.
    let line_len = rest
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(rest.len());
    if line_len > MAX_REQUEST_LINE {
        let mut headers = [httparse::EMPTY_HEADER; 1];
        scan(rest.get(..MAX_REQUEST_LINE).unwrap_or(rest), &mut headers)?;
        return Err(ParseError::RequestLineTooLong);
    }

    // Likewise only the first MAX_HEAD bytes are handed to httparse.
    let window = buf
        .get(skipped..buf.len().min(MAX_HEAD))
        .unwrap_or_default();
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match scan(window, &mut headers)? {
        Some((n, request)) => {
            let head = build_head(&request)?;
            Ok(Some((head, skipped + n)))
        }
        None if buf.len() > MAX_HEAD => Err(ParseError::HeadTooLarge),
        None => Ok(None),
    }
}

/// Skips empty lines; `Ok(Some(n))` once a non-empty line starts at `buf[n]`.
fn skip_empty_lines(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let mut pos = 0;
    let mut lines = 0;
    loop {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b'\n') => pos += 1,
            Some(b'\r') => match buf.get(pos + 1) {
                None => return Ok(None),
                Some(b'\n') => pos += 2,
                Some(_) => return Err(ParseError::InvalidNewLine),
            },
            Some(_) => return Ok(Some(pos)),
        }
        lines += 1;
        if lines > MAX_EMPTY_LINES {
            return Err(ParseError::TooManyEmptyLines);
        }
    }
}

/// The strictest `httparse` configuration: no extra spaces, no obs-fold, no skipping of
/// invalid header lines. (These are also `httparse`'s defaults; spelled out on purpose.)
fn parser_config() -> httparse::ParserConfig {
    let mut config = httparse::ParserConfig::default();
    config
        .allow_multiple_spaces_in_request_line_delimiters(false)
        .allow_space_before_first_header_name(false)
        .ignore_invalid_headers_in_requests(false);
    config
}

/// Runs `httparse` on `input` (which starts with the request line). `Ok(None)` means more
/// bytes are needed.
fn scan<'h, 'b>(
    input: &'b [u8],
    headers: &'h mut [httparse::Header<'b>],
) -> Result<Option<(usize, httparse::Request<'h, 'b>)>, ParseError> {
    let mut request = httparse::Request::new(headers);
    match parser_config().parse_request(&mut request, input) {
        Ok(httparse::Status::Complete(n)) => Ok(Some((n, request))),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::Version) => version_error(input).map(|()| None),
        Err(httparse::Error::Token) => Err(token_error(input)),
        Err(httparse::Error::HeaderName) => Err(ParseError::InvalidHeaderName),
        Err(httparse::Error::HeaderValue) => Err(ParseError::InvalidHeaderValue),
        Err(httparse::Error::TooManyHeaders) => Err(ParseError::TooManyHeaders),
        Err(httparse::Error::NewLine | httparse::Error::Status) => Err(ParseError::InvalidNewLine),
    }
}

/// `httparse` stopped at the version. `Ok(())` means more bytes are needed to tell a
/// well-formed but unsupported version (`505`) from a malformed one (`400`).
fn version_error(input: &[u8]) -> Result<(), ParseError> {
    /// `HTTP/` DIGIT `.` DIGIT, the shape of every HTTP/1 version (RFC 9112 section 2.3).
    const SHAPE_LEN: usize = b"HTTP/x.y".len();
    let line_end = input.iter().position(|&b| b == b'\r' || b == b'\n');
    let line = input
        .get(..line_end.unwrap_or(input.len()))
        .unwrap_or_default();
    // httparse got past "method SP target SP", so the version is what follows the second SP.
    let version = line.splitn(3, |&b| b == b' ').nth(2).unwrap_or_default();
    let is_shape_prefix = version.len() <= SHAPE_LEN
        && version.iter().enumerate().all(|(i, &b)| match i {
            0..=4 => b == b"HTTP/"[i],
            6 => b == b'.',
            _ => b.is_ascii_digit(),
        });
    if !is_shape_prefix {
        return Err(ParseError::InvalidVersion);
    }
    let Some(end) = line_end else {
        return Ok(());
    };
    match (input.get(end), input.get(end + 1)) {
        (Some(b'\r'), None) => Ok(()),
        (Some(b'\r'), Some(b'\n')) | (Some(b'\n'), _) if version.len() == SHAPE_LEN => {
            Err(ParseError::UnsupportedVersion)
        }
        (Some(b'\r'), Some(b'\n')) | (Some(b'\n'), _) => Err(ParseError::InvalidVersion),
        _ => Err(ParseError::InvalidNewLine),
    }
}

/// `httparse` found a byte that is not allowed in the method or in the target: which one?
fn token_error(input: &[u8]) -> ParseError {
    match input.iter().position(|&b| !is_tchar(b)) {
        Some(i) if i > 0 && input.get(i) == Some(&b' ') => ParseError::InvalidTarget,
        _ => ParseError::InvalidMethod,
    }
}

/// `tchar` (RFC 9110 section 5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Applies the checks `httparse` leaves to its caller to a complete head.
fn build_head(parsed: &httparse::Request<'_, '_>) -> Result<RequestHead, ParseError> {
    // A complete parse always has all three.
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(ParseError::InvalidMethod);
    };
    let fields: &[httparse::Header<'_>] = parsed.headers;
    let method =
        super::request::known_method(method.as_bytes()).ok_or(ParseError::UnknownMethod)?;
    let version = match minor {
        0 => Version::Http10,
        1 => Version::Http11,
        _ => return Err(ParseError::UnsupportedVersion),
    };
    let (path, query) = split_target(&method, target)?;
    check_host(version, fields)?;
    let framing = body_framing(version, fields)?;
    let keep_alive = keep_alive(version, fields);
    let expect_continue = expect_continue(version, fields)?;
    let mut headers = ::http::HeaderMap::with_capacity(fields.len());
    for field in fields {
        // httparse checked both (a token; no control characters but HTAB).
        let name = ::http::HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| ParseError::InvalidHeaderName)?;
        let value = ::http::HeaderValue::from_bytes(field.value)
            .map_err(|_| ParseError::InvalidHeaderValue)?;
        headers.append(name, value);
    }
    Ok(RequestHead {
        request: Request::from_parts(method, version, target.to_owned(), path, query, headers),
        framing,
        keep_alive,
        expect_continue,
    })
}

/// Splits a request-target into its (still percent-encoded) path and raw query, after
/// checking its form against the method (RFC 9112 section 3.2).
pub(crate) fn split_target(
    method: &Method,
    target: &str,
) -> Result<(String, Option<String>), ParseError> {
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
        return Err(ParseError::InvalidTarget);
    }
    // authority-form: CONNECT only, and CONNECT only takes that form.
    if method == Method::CONNECT {
        return if is_host_port(target.as_bytes(), true) {
            Ok((String::new(), None))
        } else {
            Err(ParseError::InvalidTarget)
        };
    }
    // asterisk-form: OPTIONS only.
    if target == "*" {
        return if method == Method::OPTIONS {
            Ok(("*".to_owned(), None))
        } else {
            Err(ParseError::InvalidTarget)
        };
    }
    let path_and_query = if target.starts_with('/') {
        target
    } else {
        // absolute-form, http and https only.
        let after_scheme = strip_prefix_ignore_case(target, "http://")
            .or_else(|| strip_prefix_ignore_case(target, "https://"))
            .ok_or(ParseError::InvalidTarget)?;
        let end = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
        let (authority, rest) = after_scheme.split_at(end);
        if !is_host_port(authority.as_bytes(), false) {
            return Err(ParseError::InvalidTarget);
        }
        rest
    };
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (path_and_query, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    if !is_percent_encoded_well(path) {
        return Err(ParseError::InvalidTarget);
    }
    Ok((path.to_owned(), query))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// `uri-host [ ":" port ]` with a non-empty host (RFC 3986 section 3.2.2): an IP-literal in
/// brackets or a reg-name. No userinfo, no whitespace, no `/`.
fn is_host_port(value: &[u8], port_required: bool) -> bool {
    let (host_ok, port) = if let Some(after_bracket) = value.strip_prefix(b"[") {
        let Some(close) = after_bracket.iter().position(|&b| b == b']') else {
            return false;
        };
        let (inner, after) = after_bracket.split_at(close);
        let inner_ok = !inner.is_empty()
            && inner
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
        let port = match after.get(1..).unwrap_or_default().split_first() {
            None => None,
            Some((b':', port)) => Some(port),
            Some(_) => return false,
        };
        (inner_ok, port)
    } else {
        let (host, port) = match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], value.get(colon + 1..)),
            None => (value, None),
        };
        (!host.is_empty() && is_reg_name(host), port)
    };
    let port_ok = match port {
        None => !port_required,
        // RFC 3986 allows an empty port; a present one is a TCP port: 0-65535.
        Some([]) => !port_required,
        Some(port) => parse_decimal(port).is_some_and(|p| p <= u64::from(u16::MAX)),
    };
    host_ok && port_ok
}

/// Every `%` in `path` starts a `pct-encoded` triplet (RFC 3986 section 2.1): `%` and two hex
/// digits. `/%zz` or a trailing `%` cannot be decoded, so it is refused rather than served as
/// literal text.
pub(crate) fn is_percent_encoded_well(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            match bytes.get(i + 1..i + 3) {
                Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`.
fn is_reg_name(host: &[u8]) -> bool {
    let mut bytes = host.iter();
    while let Some(&b) = bytes.next() {
        let ok = if b == b'%' {
            matches!((bytes.next(), bytes.next()), (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit())
        } else {
            is_unreserved(b) || is_sub_delim(b)
        };
        if !ok {
            return false;
        }
    }
    true
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    b"!$&'()*+,;=".contains(&b)
}

/// The values of every field named `name`, in order.
fn field_values<'b>(fields: &[httparse::Header<'b>], name: &str) -> impl Iterator<Item = &'b [u8]> {
    fields
        .iter()
        .filter(move |field| field.name.eq_ignore_ascii_case(name))
        .map(|field| field.value)
}

/// The non-empty elements of a comma-separated list value, whitespace trimmed.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|element| !element.is_empty())
}

/// RFC 9112 section 3.2: exactly one `Host` (required on HTTP/1.1), valid or empty.
fn check_host(version: Version, fields: &[httparse::Header<'_>]) -> Result<(), ParseError> {
    let mut hosts = field_values(fields, "host");
    match (hosts.next(), hosts.next()) {
        (None, _) if version == Version::Http11 => Err(ParseError::MissingHost),
        (None, _) => Ok(()),
        (Some(_), Some(_)) => Err(ParseError::DuplicateHost),
        (Some(host), None) if host.is_empty() || is_host_port(host, false) => Ok(()),
        (Some(_), None) => Err(ParseError::InvalidHost),
    }
}

/// RFC 9112 section 6.3, strictly: any ambiguity is an error.
fn body_framing(
    version: Version,
    fields: &[httparse::Header<'_>],
) -> Result<BodyFraming, ParseError> {
    let mut length = None;
    for value in field_values(fields, "content-length") {
        // "42, 42" is allowed if every element is identical (RFC 9110 section 8.6).
        for element in value.split(|&b| b == b',') {
            let n = parse_decimal(element.trim_ascii()).ok_or(ParseError::InvalidContentLength)?;
            if length.is_some_and(|previous| previous != n) {
                return Err(ParseError::InvalidContentLength);
            }
            length = Some(n);
        }
    }
    if field_values(fields, "transfer-encoding").next().is_none() {
        return Ok(length.map_or(BodyFraming::None, BodyFraming::Length));
    }
    if version == Version::Http10 {
        return Err(ParseError::TransferEncodingOnHttp10);
    }
    if length.is_some() {
        return Err(ParseError::LengthAndTransferEncoding);
    }
    let (mut codings, mut chunked, mut last_is_chunked) = (0, 0, false);
    for coding in field_values(fields, "transfer-encoding").flat_map(list_elements) {
        codings += 1;
        last_is_chunked = coding.eq_ignore_ascii_case(b"chunked");
        chunked += usize::from(last_is_chunked);
    }
    if codings == 0 || chunked > 1 || (chunked == 1 && !last_is_chunked) {
        Err(ParseError::InvalidTransferEncoding)
    } else if codings > 1 || !last_is_chunked {
        Err(ParseError::UnsupportedTransferCoding)
    } else {
        Ok(BodyFraming::Chunked)
    }
}

/// `1*DIGIT` as a `u64`; `None` if empty, not all digits, or too large.
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// RFC 9112 section 9.3: persistence by version and `Connection` options.
fn keep_alive(version: Version, fields: &[httparse::Header<'_>]) -> bool {
    let (mut close, mut keep_alive) = (false, false);
    for option in field_values(fields, "connection").flat_map(list_elements) {
        close |= option.eq_ignore_ascii_case(b"close");
        keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
    }
    match version {
        Version::Http11 => !close,
        Version::Http10 => keep_alive && !close,
    }
}

/// RFC 9110 section 10.1.1: `100-continue` is the only expectation; it is ignored on
/// HTTP/1.0.
fn expect_continue(version: Version, fields: &[httparse::Header<'_>]) -> Result<bool, ParseError> {
    let mut expect_continue = false;
    for expectation in field_values(fields, "expect").flat_map(list_elements) {
        if !expectation.eq_ignore_ascii_case(b"100-continue") {
            return Err(ParseError::UnsupportedExpectation);
        }
        expect_continue = version == Version::Http11;
    }
    Ok(expect_continue)
}

#[cfg(test)]
mod tests;
