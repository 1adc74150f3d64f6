//! Validators (`ETag`, `Last-Modified`) and conditional requests (RFC 9110 section 13):
//! `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since`.
//!
//! `If-Range` belongs to range requests and lives in [`super::range`].

use crate::http::header::{self, HeaderName};
use std::fs::Metadata;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http::{Method, Request};

/// Seconds from the epoch to 10000-01-01T00:00:00Z: no HTTP-date (and no `httpdate`
/// formatting) reaches it, so a later modification time gets no `Last-Modified`.
const HTTP_DATE_END: u64 = 253_402_300_800;

/// Validators of one representation (a file, possibly a precompressed sibling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validators {
    /// The strong entity-tag, quotes included: `"len-mtime[-dev-ino][-coding]"` in hex.
    pub(crate) etag: String,
    /// The modification time in whole seconds, never later than now (RFC 9110 section
    /// 8.8.2.1); `None` when unknown or not expressible as an HTTP-date.
    pub(crate) last_modified: Option<SystemTime>,
}

impl Validators {
    /// Strong ETag from the file's length, modification time (nanoseconds) and, on Unix, its
    /// device and inode, plus the content coding when serving a precompressed sibling
    /// (`"br"`, `"gzip"`), so each encoding has a distinct ETag: `"1a2b-17f3c...-803-5e1-br"`.
    /// Only ASCII letters and digits of `encoding` are kept, so the tag stays well-formed.
    ///
    /// `Last-Modified` is the modification time truncated to whole seconds, replaced by the
    /// current time if it lies in the future (RFC 9110 section 8.8.2.1). A time before the
    /// epoch gives none.
    pub(crate) fn new(meta: &Metadata, encoding: Option<&str>) -> Self {
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
        let mut etag = format!("\"{:x}-{:x}", meta.len(), mtime.map_or(0, |d| d.as_nanos()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            etag.push_str(&format!("-{:x}-{:x}", meta.dev(), meta.ino()));
        }
        if let Some(encoding) = encoding {
            etag.push('-');
            etag.extend(encoding.chars().filter(char::is_ascii_alphanumeric));
        }
        etag.push('"');

        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok();
        let last_modified = mtime
            .zip(now)
            .map(|(mtime, now)| mtime.as_secs().min(now.as_secs()))
            .filter(|&secs| secs < HTTP_DATE_END)
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs));
        Validators {
            etag,
            last_modified,
        }
    }
}

impl Validators {
    /// Validators of a generated representation (a directory listing): a strong ETag from a
    /// hash of its exact `content` (`"l-…"`), and `Last-Modified` from `modified` (the newest
    /// time the content shows), truncated and bounded as for files.
    pub(crate) fn of_content(content: &[u8], modified: Option<SystemTime>) -> Self {
        use std::hash::{Hash, Hasher};
        // SipHash with fixed keys: the same listing gets the same tag across restarts.
        let mut hasher = std::hash::DefaultHasher::new();
        content.hash(&mut hasher);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok();
        let last_modified = modified
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .zip(now)
            .map(|(mtime, now)| mtime.as_secs().min(now.as_secs()))
            .filter(|&secs| secs < HTTP_DATE_END)
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs));
        Validators {
            etag: format!("\"l-{:x}-{:x}\"", content.len(), hasher.finish()),
            last_modified,
        }
    }
}

/// What the precondition header fields ask of the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// No precondition, or all hold: serve as usual (ranges may still apply).
    Proceed,
    /// Answer `304 Not Modified` (a `GET` or `HEAD` whose cached copy is current).
    NotModified,
    /// Answer `412 Precondition Failed`.
    Failed,
}

/// Evaluates the preconditions of `request` against `v`, in the order of RFC 9110 section
/// 13.2.2:
///
/// 1. `If-Match` (strong comparison; `*` matches, the representation exists): `Failed` if
///    false.
/// 2. Otherwise `If-Unmodified-Since`: `Failed` if modified after the date.
/// 3. `If-None-Match` (weak comparison; `*` matches): if it matches, `NotModified` for
///    `GET`/`HEAD`, `Failed` for other methods.
/// 4. Otherwise, for `GET`/`HEAD` only, `If-Modified-Since`: `NotModified` if not modified
///    since the date.
///
/// Several fields of one list-valued name are one list. Malformed list members match
/// nothing. A date field is ignored if it is not one valid HTTP-date (several fields, a list,
/// or garbage) or if there is no `Last-Modified`.
pub(crate) fn evaluate(request: &Request, v: &Validators) -> Precondition {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);

    if has_field(request, header::IF_MATCH) {
        if !list_matches(request, header::IF_MATCH, &v.etag, Comparison::Strong) {
            return Precondition::Failed;
        }
    } else if let (Some(date), Some(modified)) = (
        single_date(request, header::IF_UNMODIFIED_SINCE),
        v.last_modified,
    ) && modified > date
    {
        return Precondition::Failed;
    }

    if has_field(request, header::IF_NONE_MATCH) {
        if list_matches(request, header::IF_NONE_MATCH, &v.etag, Comparison::Weak) {
            return if safe {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if safe
        && let (Some(date), Some(modified)) = (
            single_date(request, header::IF_MODIFIED_SINCE),
            v.last_modified,
        )
        && modified <= date
    {
        return Precondition::NotModified;
    }

    Precondition::Proceed
}

/// How two entity-tags are compared (RFC 9110 section 8.8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    /// Both strong and the opaque tags equal.
    Strong,
    /// The opaque tags equal, `W/` or not.
    Weak,
}

/// Whether any field `name` holds `*` or an entity-tag matching the strong tag `etag`.
fn list_matches(request: &Request, name: HeaderName, etag: &str, comparison: Comparison) -> bool {
    fields(request, name)
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(members)
        .any(|member| match member {
            Member::Any => true,
            Member::Tag { weak, opaque } => {
                opaque == etag && (comparison == Comparison::Weak || !weak)
            }
        })
}

/// Whether the request has at least one field `name` (whatever its value).
fn has_field(request: &Request, name: HeaderName) -> bool {
    fields(request, name).next().is_some()
}

/// The values of every field `name`, in order.
fn fields(request: &Request, name: HeaderName) -> impl Iterator<Item = &[u8]> {
    request
        .headers()
        .get_all(name)
        .into_iter()
        .map(|value| value.as_bytes())
}

/// The date of the only field `name`, if there is exactly one and it is a valid HTTP-date.
fn single_date(request: &Request, name: HeaderName) -> Option<SystemTime> {
    let mut values = fields(request, name);
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    let value = std::str::from_utf8(value).ok()?;
    httpdate::parse_http_date(value.trim_matches([' ', '\t'])).ok()
}

/// One member of an `If-Match` / `If-None-Match` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member<'a> {
    /// `*`.
    Any,
    /// An entity-tag; `opaque` keeps its quotes, so it compares with [`Validators::etag`].
    Tag {
        /// Whether it had the `W/` prefix.
        weak: bool,
        /// The quoted opaque tag.
        opaque: &'a str,
    },
}

/// The members of `"*" / #entity-tag`, leniently: whitespace and empty members are skipped,
/// and so is a malformed member (up to the next comma). An unterminated quote ends the list.
/// Commas inside the quotes of an entity-tag belong to the tag.
fn members(value: &str) -> impl Iterator<Item = Member<'_>> {
    Members { rest: value }
}

/// Iterator behind [`members`].
#[derive(Debug)]
struct Members<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Members<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        loop {
            let rest = self.rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                self.rest = rest;
                return None;
            }
            let (weak, tagged) = match rest.strip_prefix("W/") {
                Some(tagged) => (true, tagged),
                None => (false, rest),
            };
            if let Some(inner) = tagged.strip_prefix('"') {
                let Some(end) = inner.find('"') else {
                    self.rest = "";
                    return None;
                };
                // Both quotes: `tagged[0]` and `inner[end]` (= `tagged[end + 1]`).
                let (opaque, after) = tagged.split_at(end + 2);
                let after = after.trim_start_matches([' ', '\t']);
                if after.is_empty() || after.starts_with(',') {
                    self.rest = after;
                    return Some(Member::Tag { weak, opaque });
                }
                self.rest = skip_member(after);
                continue;
            }
            let (member, next) = rest.split_once(',').unwrap_or((rest, ""));
            self.rest = next;
            if member.trim_end_matches([' ', '\t']) == "*" {
                return Some(Member::Any);
            }
        }
    }
}

/// What follows the malformed member at the start of `s`: from its next comma, or nothing.
fn skip_member(s: &str) -> &str {
    s.find(',').map_or("", |i| &s[i..])
}

#[cfg(test)]
mod tests;
