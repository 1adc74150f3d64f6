//! The pure HTTP/1.1 layer: no I/O, no sockets.
//!
//! - [`parse_head`] turns bytes into a [`RequestHead`] (a [`Request`] plus its [`BodyFraming`]),
//!   returning `Ok(None)` while more bytes are needed and a [`ParseError`] that knows its
//!   [`StatusCode`] otherwise.
//! - [`ChunkedDecoder`] decodes a `Transfer-Encoding: chunked` request body incrementally.
//! - [`Response::encode_head`] writes a response head; [`with_date`] supplies the `Date` value.
//!
//! # Examples
//!
//! ```
//! use lido::http::{parse_head, with_date, Response, StatusCode};
//!
//! let (head, _) = parse_head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")?.ok_or("incomplete")?;
//! let response = Response::text(StatusCode::OK, "hello");
//! let mut out = Vec::new();
//! with_date(|date| {
//!     response.encode_head(head.request.version(), head.keep_alive, date, &mut out)
//! });
//! assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod body;
mod date;
mod interop;
mod parse;
mod request;
mod request_body;
mod response;
mod status;

pub use ::http::Uri;
pub use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
pub use body::{BodyError, BodyFraming, ChunkedDecoder, Decoded, MAX_CHUNK_LINE};
pub use date::{DateCache, with_date};
pub use interop::HttpHandler;
pub use parse::{
    MAX_EMPTY_LINES, MAX_HEAD, MAX_HEADERS, MAX_REQUEST_LINE, ParseError, RequestHead, parse_head,
};
pub(crate) use parse::{is_percent_encoded_well, parse_decimal};
pub(crate) use request::{KNOWN_METHODS, method_index};
pub use request::{Method, Request, Version};
pub use request_body::BodyReader;
pub(crate) use request_body::Spooled;
pub use response::{Body, BodyPart, Response, StreamBody};
pub use status::StatusCode;
pub(crate) use status::{is_bodiless, reason};

/// A header name and value made from what the builders take (`&str`, `String`, constants,
/// ...); `None` if either is not a valid header name or value. The builders leave such a pair
/// out rather than fail, as it would be dropped when the head is written anyway.
pub(crate) fn header_pair<K, V>(name: K, value: V) -> Option<(HeaderName, HeaderValue)>
where
    HeaderName: TryFrom<K>,
    HeaderValue: TryFrom<V>,
{
    Some((
        HeaderName::try_from(name).ok()?,
        HeaderValue::try_from(value).ok()?,
    ))
}
