//! Range requests (RFC 9110 section 14): the `Range` and `If-Range` header fields, and
//! [`file_response`], which answers for an opened regular file with validators,
//! preconditions and ranges applied.

use crate::http::header;
use std::fs::{File, Metadata};
use std::hash::{BuildHasher, RandomState};
use std::ops::Range;
use std::sync::Arc;

use super::conditional::{self, Precondition, Validators};
use crate::http::{Body, BodyPart, Method, Request, Response, StatusCode};

/// Most ranges served as one `multipart/byteranges` response; more -> the whole file (200).
pub(crate) const MAX_RANGES: usize = 16;

/// What a `Range` header field asks for, resolved against the representation's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ranges {
    /// Ignore the field: serve the whole representation (`200`).
    Full,
    /// Serve these ranges (`206`): half-open, each non-empty and within the length, in
    /// ascending order, overlapping and adjacent ones merged.
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
        coalesce(ranges, len)
    } else if !any_member || empty_but_satisfiable {
        Ranges::Full
    } else {
        Ranges::Unsatisfiable
    }
}

/// RFC 9110 section 14.2: a set that asks for more than the whole representation (`0-,0-,…`)
/// is ignored (the whole representation is served once); otherwise overlapping and adjacent
/// ranges are merged, in ascending order, so no byte is sent twice.
fn coalesce(mut ranges: Vec<Range<u64>>, len: u64) -> Ranges {
    let total = ranges
        .iter()
        .try_fold(0u64, |sum, r| sum.checked_add(r.end - r.start));
    if total.is_none_or(|total| total > len) {
        return Ranges::Full;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    Ranges::Partial(merged)
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
    let Some(value) = request.header(header::IF_RANGE) else {
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
}

/// The response for a regular file's `content`, with its metadata `meta`:
///
/// 1. Validators ([`Validators::new`]) and preconditions ([`conditional::evaluate`]):
///    `304` (with `ETag`, `Last-Modified`, `Cache-Control` and `Vary`) or `412`.
/// 2. For `GET` and `HEAD` (which gets the head a `GET` would), `Range` if `If-Range`
///    allows it: `206` with `Content-Range` for one range; `206` `multipart/byteranges`
///    for several, streamed from the file as `Body::Parts`;
///    `416` with `Content-Range: bytes */LEN` when unsatisfiable. Other methods ignore `Range`.
/// 3. Otherwise `200` with [`Body::File`].
///
/// `200` and `206` carry `Accept-Ranges: bytes`, `ETag`, `Last-Modified`,
/// `Cache-Control: {cache_control}`, `Content-Type: {content_type}` (in each part for
/// multipart) and, when `encoding` is `Some`, `Content-Encoding`. `Vary: Accept-Encoding` is
/// sent on every response when `encoding` is `Some` or `vary` is true (the caller knows
/// whether precompressed siblings exist).
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
    let answer = Answer {
        content_type,
        encoding,
        vary,
        cache_control,
    };
    respond(request, content, meta.len(), &v, &answer)
}

/// How a representation is labelled: its type, its coding, whether the answer varies with
/// `Accept-Encoding`, its cache policy.
#[derive(Clone, Copy)]
pub(crate) struct Answer<'a> {
    pub(crate) content_type: &'a str,
    pub(crate) encoding: Option<&'a str>,
    pub(crate) vary: bool,
    pub(crate) cache_control: &'a str,
}

/// The answer to `request` for `len` bytes of `content` with validators `v`: `304`/`412`,
/// a range (or several), or the whole.
pub(crate) fn respond(
    request: &Request,
    content: &Content,
    len: u64,
    v: &Validators,
    answer: &Answer<'_>,
) -> Response {
    let Answer {
        content_type,
        encoding,
        vary,
        cache_control,
    } = *answer;
    let vary = vary || encoding.is_some();

    match conditional::evaluate(request, v) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            let response = validated(Response::new(StatusCode::NOT_MODIFIED), v)
                .with_header(header::CACHE_CONTROL, cache_control);
            return varied(response, vary);
        }
        Precondition::Failed => {
            let response = Response::text(StatusCode::PRECONDITION_FAILED, "precondition failed\n");
            return varied(response, vary);
        }
    }

    let ranges = match (request.method(), request.header_str(header::RANGE)) {
        (&Method::GET | &Method::HEAD, Some(range)) if if_range_allows(request, v) => {
            parse(range, len)
        }
        _ => Ranges::Full,
    };
    let representation = |status: StatusCode, content_type: &str| {
        let mut response = Response::new(status).with_header(header::CONTENT_TYPE, content_type);
        if let Some(encoding) = encoding {
            response = response.with_header(header::CONTENT_ENCODING, encoding);
        }
        let response = validated(response.with_header(header::ACCEPT_RANGES, "bytes"), v)
            .with_header(header::CACHE_CONTROL, cache_control);
        varied(response, vary)
    };

    match ranges {
        Ranges::Full => {}
        Ranges::Unsatisfiable => {
            let response =
                Response::text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n")
                    .with_header(header::CONTENT_RANGE, format!("bytes */{len}"))
                    .with_header(header::ACCEPT_RANGES, "bytes");
            return varied(response, vary);
        }
        Ranges::Partial(parts) => match parts.as_slice() {
            [part] => {
                return representation(StatusCode::PARTIAL_CONTENT, content_type)
                    .with_header(header::CONTENT_RANGE, content_range(part, len))
                    .with_body(content.body(part.clone()));
            }
            parts => {
                let (boundary, pieces) = multipart(content, parts, len, content_type);
                let content_type = format!("multipart/byteranges; boundary={boundary}");
                return representation(StatusCode::PARTIAL_CONTENT, &content_type)
                    .with_body(Body::Parts(pieces));
            }
        },
    }

    representation(StatusCode::OK, content_type).with_body(content.body(0..len))
}

/// Adds `ETag` and, if known, `Last-Modified`.
pub(crate) fn validated(response: Response, v: &Validators) -> Response {
    let response = response.with_header(header::ETAG, v.etag.as_str());
    match v.last_modified {
        Some(time) => response.with_header(header::LAST_MODIFIED, httpdate::fmt_http_date(time)),
        None => response,
    }
}

/// Adds `Vary: Accept-Encoding` if `vary`.
fn varied(response: Response, vary: bool) -> Response {
    if vary {
        response.with_header(header::VARY, "Accept-Encoding")
    } else {
        response
    }
}

/// `bytes FIRST-LAST/LEN` for a non-empty `part`.
fn content_range(part: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{len}", part.start, part.end - 1)
}

/// A `multipart/byteranges` body (RFC 9110 section 14.6) of `parts` of the content, as pieces
/// streamed by the connection: the part heads in memory, the content from the file. The
/// boundary is 128 random bits (RandomState's keys) in hex: not looked for in the content,
/// which is never read here; a collision is as likely as guessing the keys.
fn multipart(
    content: &Content,
    parts: &[Range<u64>],
    len: u64,
    content_type: &str,
) -> (String, Vec<BodyPart>) {
    let state = RandomState::new();
    let boundary = format!(
        "lido-{:016x}{:016x}",
        state.hash_one(0u8),
        state.hash_one(1u8)
    );
    let mut pieces = Vec::with_capacity(parts.len() * 2 + 1);
    for (i, part) in parts.iter().enumerate() {
        let head = format!(
            "{}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            if i == 0 { "" } else { "\r\n" },
            content_range(part, len)
        );
        pieces.push(BodyPart::Bytes(head.into_bytes()));
        pieces.push(match content {
            Content::Memory(bytes) => {
                BodyPart::Bytes(bytes[part.start as usize..part.end as usize].to_vec())
            }
            Content::File(file) => BodyPart::File {
                file: Arc::clone(file),
                offset: part.start,
                len: part.end - part.start,
            },
        });
    }
    pieces.push(BodyPart::Bytes(
        format!("\r\n--{boundary}--\r\n").into_bytes(),
    ));
    (boundary, pieces)
}

#[cfg(test)]
mod tests;
