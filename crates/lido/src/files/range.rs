//! Range requests (RFC 9110 section 14): the `Range` and `If-Range` header fields, and
//! [`file_response`], which answers for an opened regular file with validators,
//! preconditions and ranges applied.

use std::fs::{File, Metadata};
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::ops::Range;
use std::sync::Arc;

use super::conditional::{self, Precondition, Validators};
use crate::http::{Body, Method, Request, Response, StatusCode};

/// Most ranges served as one `multipart/byteranges` response; more -> the whole file (200).
pub(crate) const MAX_RANGES: usize = 16;

/// Most content bytes (the sum of the parts) of a `multipart/byteranges` response, which is
/// built in memory; more -> the whole file (200).
pub(crate) const MAX_MULTIPART_BYTES: u64 = 16 * 1024 * 1024;

/// Length of a multipart boundary: `lido-` and 16 hex digits.
const BOUNDARY_LEN: usize = 21;

/// Boundaries tried before giving up on multipart (each is checked against the content).
const BOUNDARY_ATTEMPTS: u64 = 8;

/// What a `Range` header field asks for, resolved against the representation's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ranges {
    /// Ignore the field: serve the whole representation (`200`).
    Full,
    /// Serve these ranges (`206`): half-open, in the order requested, each non-empty and
    /// within the length. Overlapping ranges are kept as requested, not coalesced.
    Partial(Vec<Range<u64>>),
    /// No range overlaps the representation (`416`).
    Unsatisfiable,
}

/// Parses a `Range` value (RFC 9110 section 14.1.2) for a representation of `len` bytes:
/// `bytes=` and a comma list of `a-b`, `a-` and `-n` (whitespace and empty members around
/// commas are tolerated; the unit is case-insensitive).
///
/// - An unknown unit or any syntactically invalid member (including `b < a` and numbers that
///   overflow `u64`) -> [`Ranges::Full`]: the field is ignored.
/// - Ranges past the end are clamped; a range starting at or beyond `len`, and `-0`, are
///   unsatisfiable and dropped; if none remain -> [`Ranges::Unsatisfiable`].
/// - On an empty representation a suffix range `-n` (n > 0) is satisfiable but selects
///   nothing -> [`Ranges::Full`] (the empty `200`).
/// - More than [`MAX_RANGES`] satisfiable ranges -> [`Ranges::Full`].
pub(crate) fn parse(header: &str, len: u64) -> Ranges {
    let Some((unit, set)) = header.split_once('=') else {
        return Ranges::Full;
    };
    if !unit.eq_ignore_ascii_case("bytes") {
        return Ranges::Full;
    }
    let mut ranges = Vec::new();
    let mut any_member = false;
    let mut empty_but_satisfiable = false;
    for member in set.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        any_member = true;
        let Some((first, last)) = member.split_once('-') else {
            return Ranges::Full;
        };
        let range = if first.is_empty() {
            let Some(suffix) = number(last) else {
                return Ranges::Full;
            };
            if suffix > 0 && len == 0 {
                empty_but_satisfiable = true;
            }
            (suffix > 0 && len > 0).then(|| len.saturating_sub(suffix)..len)
        } else {
            let Some(first) = number(first) else {
                return Ranges::Full;
            };
            let end = if last.is_empty() {
                len
            } else {
                match number(last) {
                    Some(last) if last >= first => last.saturating_add(1).min(len),
                    _ => return Ranges::Full,
                }
            };
            (first < len).then_some(first..end)
        };
        if let Some(range) = range {
            if ranges.len() == MAX_RANGES {
                return Ranges::Full;
            }
            ranges.push(range);
        }
    }
    if !ranges.is_empty() {
        Ranges::Partial(ranges)
    } else if !any_member || empty_but_satisfiable {
        Ranges::Full
    } else {
        Ranges::Unsatisfiable
    }
}

/// `1*DIGIT` as a `u64`; `None` if empty, not all digits, or too large.
fn number(s: &str) -> Option<u64> {
    crate::http::parse_decimal(s.as_bytes())
}

/// Whether `If-Range` (RFC 9110 section 13.1.5) lets the `Range` field apply: true without
/// `If-Range`; for an entity-tag, a strong match with `v.etag` (a weak tag never matches); for
/// an HTTP-date, an exact match with `v.last_modified` (whole seconds); false for anything
/// else, so the full representation is served.
pub(crate) fn if_range_allows(request: &Request, v: &Validators) -> bool {
    let Some(value) = request.header("if-range") else {
        return true;
    };
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let value = value.trim_matches([' ', '\t']);
    if value.starts_with('"') || value.starts_with("W/") {
        return value == v.etag;
    }
    httpdate::parse_http_date(value).is_ok_and(|date| v.last_modified == Some(date))
}

/// The response for a regular `file` already opened, with its metadata `meta`:
///
/// 1. Validators ([`Validators::new`]) and preconditions ([`conditional::evaluate`]):
///    `304` (with `ETag`, `Last-Modified`, `Cache-Control` and `Vary`) or `412`.
/// 2. For `GET` and `HEAD` (which gets the head a `GET` would), `Range` if `If-Range`
///    allows it: `206` with `Content-Range` for one range; `206` `multipart/byteranges`
///    for several, built in memory (up to [`MAX_MULTIPART_BYTES`], else the whole file);
///    `416` with `Content-Range: bytes */LEN` when unsatisfiable. Other methods ignore `Range`.
/// 3. Otherwise `200` with [`Body::File`].
///
/// `200` and `206` carry `Accept-Ranges: bytes`, `ETag`, `Last-Modified`,
/// `Cache-Control: {cache_control}`, `Content-Type: {content_type}` (in each part for
/// multipart) and, when `encoding` is `Some`, `Content-Encoding`. `Vary: Accept-Encoding` is
/// sent on every response when `encoding` is `Some` or `vary` is true (the caller knows
/// whether precompressed siblings exist). A read error while building a multipart body gives
/// `500`.
/// Where a file's bytes come from.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    /// The whole file, already in memory (a cached small file).
    Memory(Arc<[u8]>),
    /// The open file: sent from the page cache, read at explicit offsets.
    File(Arc<File>),
}

impl Content {
    /// `range` of the content as a body.
    fn body(&self, range: Range<u64>) -> Body {
        match self {
            Content::Memory(bytes) if range.start == 0 && range.end == bytes.len() as u64 => {
                Body::Shared(Arc::clone(bytes))
            }
            Content::Memory(bytes) => {
                Body::Bytes(bytes[range.start as usize..range.end as usize].to_vec())
            }
            Content::File(file) => Body::File {
                file: Arc::clone(file),
                offset: range.start,
                len: range.end - range.start,
            },
        }
    }

    /// Fills `buf` with the content from `offset`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match self {
            Content::Memory(bytes) => {
                let start = usize::try_from(offset).map_err(io::Error::other)?;
                let part = bytes
                    .get(start..start + buf.len())
                    .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
                buf.copy_from_slice(part);
                Ok(())
            }
            Content::File(file) => {
                if crate::transport::read_full_at(file, buf, offset) < buf.len() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(())
            }
        }
    }
}

pub(crate) fn file_response(
    request: &Request,
    content: &Content,
    meta: &Metadata,
    content_type: &str,
    encoding: Option<&str>,
    vary: bool,
    cache_control: &str,
) -> Response {
    let v = Validators::new(meta, encoding);
    let len = meta.len();
    let vary = vary || encoding.is_some();

    match conditional::evaluate(request, &v) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            let response = validated(Response::new(StatusCode::NOT_MODIFIED), &v)
                .with_header("Cache-Control", cache_control);
            return varied(response, vary);
        }
        Precondition::Failed => {
            let response = Response::text(StatusCode::PRECONDITION_FAILED, "precondition failed\n");
            return varied(response, vary);
        }
    }

    let ranges = match (request.method(), request.header_str("range")) {
        (Method::Get | Method::Head, Some(range)) if if_range_allows(request, &v) => {
            parse(range, len)
        }
        _ => Ranges::Full,
    };
    let representation = |status: StatusCode, content_type: &str| {
        let mut response = Response::new(status).with_header("Content-Type", content_type);
        if let Some(encoding) = encoding {
            response = response.with_header("Content-Encoding", encoding);
        }
        let response = validated(response.with_header("Accept-Ranges", "bytes"), &v)
            .with_header("Cache-Control", cache_control);
        varied(response, vary)
    };

    match ranges {
        Ranges::Full => {}
        Ranges::Unsatisfiable => {
            let response =
                Response::text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n")
                    .with_header("Content-Range", format!("bytes */{len}"))
                    .with_header("Accept-Ranges", "bytes");
            return varied(response, vary);
        }
        Ranges::Partial(parts) => match parts.as_slice() {
            [part] => {
                return representation(StatusCode::PARTIAL_CONTENT, content_type)
                    .with_header("Content-Range", content_range(part, len))
                    .with_body(content.body(part.clone()));
            }
            parts => match multipart(content, parts, len, content_type) {
                Ok(Some((boundary, body))) => {
                    let content_type = format!("multipart/byteranges; boundary={boundary}");
                    return representation(StatusCode::PARTIAL_CONTENT, &content_type)
                        .with_body(Body::Bytes(body));
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "reading byte ranges failed");
                    return Response::text(StatusCode::INTERNAL_SERVER_ERROR, "read error\n");
                }
            },
        },
    }

    representation(StatusCode::OK, content_type).with_body(content.body(0..len))
}

/// Adds `ETag` and, if known, `Last-Modified`.
pub(crate) fn validated(response: Response, v: &Validators) -> Response {
    let response = response.with_header("ETag", v.etag.as_str());
    match v.last_modified {
        Some(time) => response.with_header("Last-Modified", httpdate::fmt_http_date(time)),
        None => response,
    }
}

/// Adds `Vary: Accept-Encoding` if `vary`.
fn varied(response: Response, vary: bool) -> Response {
    if vary {
        response.with_header("Vary", "Accept-Encoding")
    } else {
        response
    }
}

/// `bytes FIRST-LAST/LEN` for a non-empty `part`.
fn content_range(part: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{len}", part.start, part.end - 1)
}

/// Builds a `multipart/byteranges` body (RFC 9110 section 14.6) of `parts` of `file`:
/// `Some((boundary, body))`, or `None` if the parts exceed [`MAX_MULTIPART_BYTES`] or no
/// boundary absent from the content was found (serve the whole file instead).
///
/// The body is written once with placeholder boundaries, which are filled in after a
/// boundary has been chosen that occurs in no part's content.
fn multipart(
    content: &Content,
    parts: &[Range<u64>],
    len: u64,
    content_type: &str,
) -> io::Result<Option<(String, Vec<u8>)>> {
    let total = parts
        .iter()
        .try_fold(0u64, |total, part| total.checked_add(part.end - part.start))
        .filter(|&total| total <= MAX_MULTIPART_BYTES)
        .and_then(|total| usize::try_from(total).ok());
    let Some(total) = total else {
        return Ok(None);
    };

    let mut body = Vec::with_capacity(total + (parts.len() + 1) * 128);
    let mut delimiters = Vec::with_capacity(parts.len() + 1);
    let mut contents = Vec::with_capacity(parts.len());
    for part in parts {
        body.extend_from_slice(b"--");
        delimiters.push(body.len());
        body.extend_from_slice(&[b'-'; BOUNDARY_LEN]);
        let head = format!(
            "\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            content_range(part, len)
        );
        body.extend_from_slice(head.as_bytes());
        let start = body.len();
        let part_len = usize::try_from(part.end - part.start).map_err(io::Error::other)?;
        body.resize(start + part_len, 0);
        content.read_exact_at(&mut body[start..], part.start)?;
        contents.push(start..body.len());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--");
    delimiters.push(body.len());
    body.extend_from_slice(&[b'-'; BOUNDARY_LEN]);
    body.extend_from_slice(b"--\r\n");

    let state = RandomState::new();
    let boundary = (0..BOUNDARY_ATTEMPTS)
        .map(|attempt| format!("lido-{:016x}", state.hash_one(attempt)))
        .find(|boundary| {
            let needle = boundary.as_bytes();
            !content_type.contains(boundary.as_str())
                && contents.iter().all(|content| {
                    !body[content.clone()]
                        .windows(needle.len())
                        .any(|w| w == needle)
                })
        });
    let Some(boundary) = boundary else {
        return Ok(None);
    };
    for at in delimiters {
        body[at..at + BOUNDARY_LEN].copy_from_slice(boundary.as_bytes());
    }
    Ok(Some((boundary, body)))
}

#[cfg(test)]
mod tests;
