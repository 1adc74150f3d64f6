//! Request-body framing and an incremental `chunked` decoder (RFC 9112 sections 6 and 7.1).

use std::fmt;

use super::parse::is_tchar;
use super::status::StatusCode;

/// The longest chunk-size line accepted, in bytes, extensions included and the CRLF not.
/// Longer: [`BodyError::BadChunk`].
///
/// # Examples
///
/// ```
/// use lido::http::{ChunkedDecoder, MAX_CHUNK_LINE};
///
/// let mut line = b"1;".to_vec();
/// line.resize(MAX_CHUNK_LINE + 1, b'x');
/// let mut decoder = ChunkedDecoder::new(1024);
/// assert!(decoder.decode(&line, &mut Vec::new()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_CHUNK_LINE: usize = 4096;

/// The most hex digits in a chunk size: 16 digits cannot overflow a `u64`.
const MAX_CHUNK_SIZE_DIGITS: usize = 16;

/// How a request body is delimited (RFC 9112 section 6.3), as found by
/// [`parse_head`](super::parse_head).
///
/// # Examples
///
/// ```
/// use lido::http::{parse_head, BodyFraming};
///
/// let buf = b"PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
/// let (head, _) = parse_head(buf)?.ok_or("incomplete")?;
/// assert_eq!(head.framing, BodyFraming::Chunked);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyFraming {
    /// No body: neither `Content-Length` nor `Transfer-Encoding`.
    None,
    /// Exactly this many bytes follow the head (`Content-Length`).
    Length(u64),
    /// The body is `chunked`: decode it with a [`ChunkedDecoder`].
    Chunked,
}

/// The progress of one [`ChunkedDecoder::decode`] call.
///
/// # Examples
///
/// ```
/// use lido::http::{ChunkedDecoder, Decoded};
///
/// let mut decoder = ChunkedDecoder::new(1024);
/// let mut body = Vec::new();
/// let decoded = decoder.decode(b"3\r\nabc\r\n0\r\n\r\nGET", &mut body)?;
/// assert_eq!(decoded, Decoded { consumed: 13, done: true });
/// assert_eq!(body, b"abc");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// How many input bytes were used. Less than the input only when `done` is true: the
    /// rest belongs to the next request.
    pub consumed: usize,
    /// Whether the body is complete: the last chunk and the trailer section have been read.
    pub done: bool,
}

/// Why a request body could not be decoded.
///
/// # Examples
///
/// ```
/// use lido::http::{BodyError, ChunkedDecoder};
///
/// let mut decoder = ChunkedDecoder::new(1024);
/// let err = decoder.decode(b"zz\r\n", &mut Vec::new()).unwrap_err();
/// assert_eq!(err, BodyError::BadChunk);
/// assert_eq!(err.status().as_u16(), 400);
/// assert_eq!(err.to_string(), "malformed chunked body");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyError {
    /// Malformed `chunked` framing: a bad chunk size or extension, a missing CRLF, a chunk
    /// line over [`MAX_CHUNK_LINE`], or malformed trailer fields (`400`).
    BadChunk,
    /// The body is larger than the limit given to [`ChunkedDecoder::new`] (`413`).
    TooLarge,
    /// The trailer section takes the request over the head limits: with the head, more than
    /// [`MAX_HEAD`](super::MAX_HEAD) bytes or [`MAX_HEADERS`](super::MAX_HEADERS) fields
    /// (`431`).
    TrailersTooLarge,
}

impl BodyError {
    /// The status code to answer with.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{BodyError, StatusCode};
    ///
    /// assert_eq!(BodyError::TooLarge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::BadChunk => StatusCode::BAD_REQUEST,
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TrailersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyError::BadChunk => "malformed chunked body",
            BodyError::TooLarge => "request body too large",
            BodyError::TrailersTooLarge => "trailer fields too large",
        })
    }
}

impl std::error::Error for BodyError {}

/// Where the decoder is in the `chunked` grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a chunk size.
    Size { size: u64, digits: usize },
    /// Whitespace after the size; only a `;` may follow (BWS before a chunk extension).
    SizeSpace { size: u64 },
    /// Inside chunk extensions, which are skipped.
    Extension { size: u64 },
    /// Read the CR ending the chunk-size line.
    SizeLf { size: u64 },
    /// Copying chunk data.
    Data { remaining: u64 },
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// At the start of a trailer field line or of the final CRLF.
    TrailerStart,
    /// Inside a trailer field name.
    TrailerName,
    /// Inside a trailer field value.
    TrailerValue,
    /// Read the CR ending a trailer field line.
    TrailerLf,
    /// Read the CR of the final CRLF.
    EndLf,
    /// The body is complete.
    Done,
    /// Decoding failed; the error is returned again on every call.
    Failed(BodyError),
}

/// An incremental decoder for `Transfer-Encoding: chunked` request bodies.
///
/// Feed it whatever bytes have arrived, in any split; it appends the payload to `out` and
/// reports when the body ends. Chunk extensions and trailer fields are checked and
/// discarded. CRLF line endings are required throughout (no bare-LF leniency in framing).
///
/// # Examples
///
/// ```
/// use lido::http::ChunkedDecoder;
///
/// let mut decoder = ChunkedDecoder::new(1 << 20);
/// let mut body = Vec::new();
/// let first = decoder.decode(b"5;name=val\r\nhel", &mut body)?;
/// assert_eq!((first.consumed, first.done), (15, false));
/// let second = decoder.decode(b"lo\r\n0\r\nTrailer: x\r\n\r\n", &mut body)?;
/// assert!(second.done);
/// assert_eq!(body, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    max_body: u64,
    /// Payload bytes announced by chunk sizes so far.
    announced: u64,
    /// Bytes of the current chunk-size line.
    line_len: usize,
    /// Bytes of the trailer section so far.
    trailer_len: usize,
    /// Trailer fields so far.
    trailer_fields: usize,
    /// What the trailer section may take: the head limits less what the head took.
    trailer_bytes_left: usize,
    trailer_fields_left: usize,
}

impl ChunkedDecoder {
    /// A decoder that accepts at most `max_body` payload bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{BodyError, ChunkedDecoder};
    ///
    /// let mut decoder = ChunkedDecoder::new(4);
    /// assert_eq!(decoder.decode(b"5\r\n", &mut Vec::new()), Err(BodyError::TooLarge));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(max_body: u64) -> ChunkedDecoder {
        ChunkedDecoder::with_head(max_body, 0, 0)
    }

    /// A decoder for the body of a request whose head took `head_bytes` bytes and
    /// `head_fields` header fields: its trailer section counts against the same limits
    /// ([`MAX_HEAD`](super::MAX_HEAD) bytes, [`MAX_HEADERS`](super::MAX_HEADERS) fields).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{BodyError, ChunkedDecoder, MAX_HEAD};
    ///
    /// let mut decoder = ChunkedDecoder::with_head(1 << 20, MAX_HEAD - 8, 1);
    /// let err = decoder.decode(b"0\r\nX-Trailer: too long\r\n\r\n", &mut Vec::new());
    /// assert_eq!(err, Err(BodyError::TrailersTooLarge));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_head(max_body: u64, head_bytes: usize, head_fields: usize) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size { size: 0, digits: 0 },
            max_body,
            announced: 0,
            line_len: 0,
            trailer_len: 0,
            trailer_fields: 0,
            trailer_bytes_left: super::MAX_HEAD.saturating_sub(head_bytes),
            trailer_fields_left: super::MAX_HEADERS.saturating_sub(head_fields),
        }
    }

    /// Decodes as much of `input` as possible, appending payload bytes to `out`.
    ///
    /// Returns how many bytes were consumed and whether the body is complete: `done` is true
    /// after the last chunk and the final CRLF of the trailer section; bytes after that are
    /// not consumed. Once done, further calls consume nothing.
    ///
    /// # Errors
    ///
    /// [`BodyError::BadChunk`] for malformed framing, [`BodyError::TooLarge`] as soon as a
    /// chunk size would take the body over the limit. After an error, every call returns it
    /// again.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::ChunkedDecoder;
    ///
    /// let mut decoder = ChunkedDecoder::new(1024);
    /// let mut body = Vec::new();
    /// for byte in b"2\r\nhi\r\n0\r\n\r\n" {
    ///     decoder.decode(std::slice::from_ref(byte), &mut body)?;
    /// }
    /// assert_eq!(body, b"hi");
    /// assert!(decoder.decode(b"", &mut body)?.done);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Decoded, BodyError> {
        let mut pos = 0;
        loop {
            match self.state {
                State::Failed(err) => return Err(err),
                State::Done => break,
                State::Data { remaining } => {
                    let available = input.get(pos..).unwrap_or_default();
                    if available.is_empty() {
                        break;
                    }
                    let n = usize::try_from(remaining)
                        .map_or(available.len(), |r| r.min(available.len()));
                    out.extend_from_slice(available.get(..n).unwrap_or_default());
                    pos += n;
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining }
                    };
                }
                _ => {
                    let Some(&byte) = input.get(pos) else {
                        break;
                    };
                    pos += 1;
                    self.state = self.step(byte).unwrap_or_else(State::Failed);
                }
            }
        }
        Ok(Decoded {
            consumed: pos,
            done: self.state == State::Done,
        })
    }

    /// The state after reading `byte` outside chunk data.
    fn step(&mut self, byte: u8) -> Result<State, BodyError> {
        use State::*;
        match self.state {
            Size { .. } | SizeSpace { .. } | Extension { .. } if byte != b'\r' => {
                self.line_len += 1;
                if self.line_len > MAX_CHUNK_LINE {
                    return Err(BodyError::BadChunk);
                }
            }
            TrailerStart | TrailerName | TrailerValue | TrailerLf | EndLf => {
                self.trailer_len += 1;
                if self.trailer_len > self.trailer_bytes_left {
                    return Err(BodyError::TrailersTooLarge);
                }
            }
            _ => {}
        }
        let next = match (self.state, byte) {
            (Size { size, digits }, b) if b.is_ascii_hexdigit() => {
                if digits == MAX_CHUNK_SIZE_DIGITS {
                    return Err(BodyError::BadChunk);
                }
                let digit = char::from(b).to_digit(16).map_or(0, u64::from);
                Size {
                    size: (size << 4) | digit,
                    digits: digits + 1,
                }
            }
            (Size { digits: 0, .. }, _) => return Err(BodyError::BadChunk),
            (Size { size, .. } | SizeSpace { size }, b' ' | b'\t') => SizeSpace { size },
            (Size { size, .. } | SizeSpace { size }, b';') => Extension { size },
            (Size { size, .. } | Extension { size }, b'\r') => SizeLf { size },
            (Extension { size }, b) if is_field_byte(b) => Extension { size },
            (SizeLf { size }, b'\n') => self.chunk_start(size)?,
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => {
                self.line_len = 0;
                Size { size: 0, digits: 0 }
            }
            (TrailerStart, b'\r') => EndLf,
            (TrailerStart, b) if is_tchar(b) => {
                self.trailer_fields += 1;
                if self.trailer_fields > self.trailer_fields_left {
                    return Err(BodyError::TrailersTooLarge);
                }
                TrailerName
            }
            (TrailerName, b) if is_tchar(b) => TrailerName,
            (TrailerName, b':') => TrailerValue,
            (TrailerValue, b'\r') => TrailerLf,
            (TrailerValue, b) if is_field_byte(b) => TrailerValue,
            (TrailerLf, b'\n') => TrailerStart,
            (EndLf, b'\n') => Done,
            _ => return Err(BodyError::BadChunk),
        };
        Ok(next)
    }

    /// A chunk-size line announcing `size` bytes has ended.
    fn chunk_start(&mut self, size: u64) -> Result<State, BodyError> {
        if size == 0 {
            return Ok(State::TrailerStart);
        }
        match self.announced.checked_add(size) {
            Some(total) if total <= self.max_body => {
                self.announced = total;
                Ok(State::Data { remaining: size })
            }
            _ => Err(BodyError::TooLarge),
        }
    }
}

/// HTAB, SP, VCHAR or obs-text: what may appear in a field value or chunk extension.
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

#[cfg(test)]
mod tests;
