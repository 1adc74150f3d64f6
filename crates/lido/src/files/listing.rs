//! Directory listings: one directory read ([`read_dir`]), pure rendering ([`html`], [`json`])
//! and content negotiation ([`wants_json`]).
//!
//! Names are data, never markup: every name is HTML-escaped where it is shown and
//! percent-encoded (all but RFC 3986 unreserved characters) where it is linked, so a file named
//! `<script>` or `a"b` or `100%` lists and links like any other. Pages are self-contained
//! (inline CSS, no script, no external resource) and serve under [`HTML_CSP`].

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{
    AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode, utf8_percent_encode,
};

use crate::http::Request;

/// What an href may contain unencoded: RFC 3986 unreserved characters, nothing else.
const HREF: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A `Content-Security-Policy` under which [`html`] pages render fully: inline CSS and
/// `data:` icons, nothing else (no script, no fetch, no frame, no form).
pub(crate) const HTML_CSP: &str = concat!(
    "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:; ",
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
);

/// One directory entry, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The file name (UTF-8 only: [`read_dir`] skips other names).
    pub(crate) name: String,
    /// What the entry is, through a symlink if it is one.
    pub(crate) kind: EntryKind,
    /// The length in bytes for files (and links to files); `None` for everything else.
    pub(crate) size: Option<u64>,
    /// The last modification time (of the target, for a symlink that resolves).
    pub(crate) modified: Option<SystemTime>,
}

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A FIFO, socket or device: listed, but not something to download.
    Special,
    /// A symbolic link, and what it points at.
    Symlink(LinkTarget),
}

/// What a symbolic link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkTarget {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A FIFO, socket or device.
    Special,
    /// Nothing that can be reached: missing, a loop, or not permitted.
    Dangling,
}

impl EntryKind {
    /// Whether the entry opens as a directory (listed first, linked with a trailing `/`).
    pub(crate) fn is_dir(self) -> bool {
        matches!(self, EntryKind::Dir | EntryKind::Symlink(LinkTarget::Dir))
    }

    /// The JSON `type`: what the entry behaves as, through a symlink.
    fn type_name(self) -> &'static str {
        match self {
            EntryKind::File | EntryKind::Symlink(LinkTarget::File) => "file",
            EntryKind::Dir | EntryKind::Symlink(LinkTarget::Dir) => "dir",
            EntryKind::Special | EntryKind::Symlink(LinkTarget::Special) => "special",
            EntryKind::Symlink(LinkTarget::Dangling) => "dangling",
        }
    }

    /// The CSS classes of the entry's table row.
    fn row_class(self) -> &'static str {
        match self {
            EntryKind::File => "f",
            EntryKind::Dir => "d",
            EntryKind::Special => "f x",
            EntryKind::Symlink(LinkTarget::File) => "f l",
            EntryKind::Symlink(LinkTarget::Dir) => "d l",
            EntryKind::Symlink(LinkTarget::Special) => "f l x",
            EntryKind::Symlink(LinkTarget::Dangling) => "f l x",
        }
    }
}

/// Reads the entries of `dir`, sorted: directories (and links to directories) first, then by
/// name in natural, case-insensitive order (`file2` before `File10`).
///
/// - Names starting with `.` are skipped unless `show_hidden`.
/// - Names that are not UTF-8 are skipped: such a file could not be requested anyway, since
///   the resolver refuses request paths that do not decode to UTF-8.
/// - Nothing is opened or read. A symlink is reported as [`EntryKind::Symlink`]; its target's
///   type, size and modification time come from one `stat` of the target, which may lie
///   outside `dir` (the resolver decides later whether it may be served). A symlink that does
///   not resolve is [`LinkTarget::Dangling`] with the link's own modification time.
/// - An entry that vanishes between the directory read and its `stat` is skipped.
///
/// # Errors
///
/// The I/O error of opening or reading `dir` itself.
pub(crate) fn read_dir(dir: &Path, show_hidden: bool) -> std::io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for dir_entry in fs::read_dir(dir)? {
        let dir_entry = dir_entry?;
        let Ok(name) = dir_entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') && !show_hidden {
            continue;
        }
        // `DirEntry::metadata` does not traverse a symlink (lstat).
        let Ok(own) = dir_entry.metadata() else {
            continue;
        };
        let entry = if own.file_type().is_symlink() {
            match fs::metadata(dir_entry.path()) {
                Ok(target) => {
                    let (target_kind, size) = classify(&target);
                    Entry {
                        name,
                        kind: EntryKind::Symlink(match target_kind {
                            EntryKind::File => LinkTarget::File,
                            EntryKind::Dir => LinkTarget::Dir,
                            _ => LinkTarget::Special,
                        }),
                        size,
                        modified: target.modified().ok(),
                    }
                }
                Err(_) => Entry {
                    name,
                    kind: EntryKind::Symlink(LinkTarget::Dangling),
                    size: None,
                    modified: own.modified().ok(),
                },
            }
        } else {
            let (kind, size) = classify(&own);
            Entry {
                name,
                kind,
                size,
                modified: own.modified().ok(),
            }
        };
        entries.push(entry);
    }
    entries.sort_by(listing_order);
    Ok(entries)
}

/// The kind and size of a non-symlink.
fn classify(meta: &fs::Metadata) -> (EntryKind, Option<u64>) {
    if meta.is_file() {
        (EntryKind::File, Some(meta.len()))
    } else if meta.is_dir() {
        (EntryKind::Dir, None)
    } else {
        (EntryKind::Special, None)
    }
}

/// Directories first, then [`natural_cmp`]; ties broken by the exact name so the order is
/// total and stable.
fn listing_order(a: &Entry, b: &Entry) -> Ordering {
    b.kind
        .is_dir()
        .cmp(&a.kind.is_dir())
        .then_with(|| natural_cmp(&a.name, &b.name))
        .then_with(|| a.name.cmp(&b.name))
}

/// Compares names case-insensitively (by lowercased code point: no locale collation), with
/// runs of ASCII digits compared as numbers (`a2` < `a10`; `a01` and `a1` compare equal here
/// and are ordered by the caller's tie-break).
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        let (Some(x), Some(y)) = (a.chars().next(), b.chars().next()) else {
            return a.is_empty().cmp(&b.is_empty()).reverse();
        };
        if x.is_ascii_digit() && y.is_ascii_digit() {
            let a_end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
            let b_end = b.find(|c: char| !c.is_ascii_digit()).unwrap_or(b.len());
            let a_num = a[..a_end].trim_start_matches('0');
            let b_num = b[..b_end].trim_start_matches('0');
            let by_value = a_num.len().cmp(&b_num.len()).then_with(|| a_num.cmp(b_num));
            if by_value != Ordering::Equal {
                return by_value;
            }
            a = &a[a_end..];
            b = &b[b_end..];
        } else {
            let by_char = x.to_lowercase().cmp(y.to_lowercase());
            if by_char != Ordering::Equal {
                return by_char;
            }
            a = &a[x.len_utf8()..];
            b = &b[y.len_utf8()..];
        }
    }
}

/// The non-empty segments of a percent-encoded request path, decoded to bytes. `.` segments
/// are dropped, as the resolver drops them.
fn segments(url_path: &str) -> Vec<Vec<u8>> {
    url_path
        .split('/')
        .map(|segment| percent_decode_str(segment).collect::<Vec<u8>>())
        .filter(|segment| !segment.is_empty() && segment != b".")
        .collect()
}

/// The decoded directory path for display: `/`, `/a b/`, `/a b/c/`. Bytes that do not decode
/// to UTF-8 show as U+FFFD.
fn display_path(segments: &[Vec<u8>]) -> String {
    let mut path = String::from("/");
    for segment in segments {
        path.push_str(&String::from_utf8_lossy(segment));
        path.push('/');
    }
    path
}

/// Renders the listing of the directory at `url_path` (the request path, percent-encoded as
/// received, ending with `/`) as a complete HTML5 page: title, breadcrumb, a `../` row unless
/// at the root, then one row per entry with link, size and modification time (UTC).
///
/// Serve it with `Content-Type: text/html; charset=utf-8` and [`HTML_CSP`].
#[cfg(test)]
pub(crate) fn html(url_path: &str, entries: &[Entry]) -> String {
    html_page(url_path, entries, &[])
}

/// The HTML listing, with links to download the directory in each of `downloads` (archive
/// extensions: `tar`, `tar.gz`).
pub(crate) fn html_page(url_path: &str, entries: &[Entry], downloads: &[&str]) -> String {
    let segments = segments(url_path);
    let title = display_path(&segments);
    let mut out = String::with_capacity(4096 + entries.len() * 320);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>Index of ",
    );
    push_escaped(&mut out, &title);
    out.push_str("</title>\n<style>");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<header>\n<h1><span class=\"t\">Index of</span> ");
    out.push_str("<nav aria-label=\"Breadcrumb\"><a href=\"/\"");
    if segments.is_empty() {
        out.push_str(" aria-current=\"page\"");
    }
    out.push_str(">/</a>");
    let mut href = String::from("/");
    for (i, segment) in segments.iter().enumerate() {
        href.extend(percent_encode(segment, HREF));
        href.push('/');
        let current = if i + 1 == segments.len() {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(out, "<a href=\"{href}\"{current}>");
        push_escaped(&mut out, &String::from_utf8_lossy(segment));
        out.push_str("/</a>");
    }
    out.push_str("</nav></h1>\n");
    if !downloads.is_empty() {
        out.push_str("<p class=\"dl\">Download this directory:");
        for ext in downloads {
            let _ = write!(out, " <a href=\"?format={ext}\" download>.{ext}</a>");
        }
        out.push_str("</p>\n");
    }
    out.push_str(
        "</header>\n<main>\n<table>\n<thead><tr><th class=\"n\">Name</th>\
         <th class=\"s\">Size</th><th class=\"m\">Modified (UTC)</th></tr></thead>\n<tbody>\n",
    );
    if !segments.is_empty() {
        out.push_str(
            "<tr class=\"u\"><td class=\"n\"><a href=\"../\">../</a></td>\
             <td class=\"s\"></td><td class=\"m\"></td></tr>\n",
        );
    }
    for entry in entries {
        let slash = if entry.kind.is_dir() { "/" } else { "" };
        let _ = write!(
            out,
            "<tr class=\"{}\"><td class=\"n\"><a href=\"{}{slash}\"",
            entry.kind.row_class(),
            utf8_percent_encode(&entry.name, HREF),
        );
        if let EntryKind::Symlink(target) = entry.kind {
            out.push_str(match target {
                LinkTarget::Dangling => " title=\"broken symbolic link\"",
                _ => " title=\"symbolic link\"",
            });
        }
        out.push('>');
        push_escaped(&mut out, &entry.name);
        out.push_str(slash);
        out.push_str("</a></td><td class=\"s\">");
        if let Some(size) = entry.size {
            let _ = write!(
                out,
                "<span title=\"{size} bytes\">{}</span>",
                HumanSize(size)
            );
        }
        out.push_str("</td><td class=\"m\">");
        if let Some(utc) = entry.modified.and_then(Utc::from_system_time) {
            let _ = write!(
                out,
                "<time datetime=\"{}\">{}</time>",
                utc.rfc3339(),
                utc.short()
            );
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n<p class=\"sum\">");
    let dirs = entries.iter().filter(|e| e.kind.is_dir()).count();
    let others = entries.len() - dirs;
    if entries.is_empty() {
        out.push_str("Empty directory");
    } else {
        let _ = write!(
            out,
            "{dirs} {}, {others} {}",
            if dirs == 1 {
                "directory"
            } else {
                "directories"
            },
            if others == 1 { "file" } else { "files" },
        );
    }
    out.push_str("</p>\n</main>\n</body>\n</html>\n");
    out
}

/// Renders the listing as JSON:
/// `{"path":"/a b/","entries":[{"name":"x","type":"file","symlink":false,"size":3,
/// "modified":"2026-11-27T16:42:05Z"}]}`.
///
/// `type` is what the entry behaves as, through a symlink: `"file"`, `"dir"`, `"special"`
/// (FIFO, socket, device) or `"dangling"` (a symlink that does not resolve); `symlink` says
/// whether it is one. `size` is `null` but for files, `modified` is `null` when unknown.
pub(crate) fn json(url_path: &str, entries: &[Entry]) -> String {
    let entries: Vec<serde_json::Value> = entries
        .iter()
        .map(|entry| {
            serde_json::json!({
                "name": entry.name,
                "type": entry.kind.type_name(),
                "symlink": matches!(entry.kind, EntryKind::Symlink(_)),
                "size": entry.size,
                "modified": entry.modified.and_then(Utc::from_system_time).map(|t| t.rfc3339()),
            })
        })
        .collect();
    let listing = serde_json::json!({
        "path": display_path(&segments(url_path)),
        "entries": entries,
    });
    listing.to_string()
}

/// Whether `request` asks for the JSON listing rather than the HTML page.
///
/// `format=json` (or `format=html`) in the query decides outright. Otherwise the `Accept`
/// field(s) decide: JSON when `application/json` gets a strictly higher q-value than
/// `text/html`, each taking the q of its most specific matching range (`*/*`,
/// `application/*`, exact). No `Accept`, `*/*`, or a tie mean HTML.
pub(crate) fn wants_json(request: &Request) -> bool {
    if let Some(query) = request.query() {
        for pair in query.split('&') {
            if let Some(format) = pair.strip_prefix("format=") {
                if format.eq_ignore_ascii_case("json") {
                    return true;
                }
                if format.eq_ignore_ascii_case("html") {
                    return false;
                }
            }
        }
    }
    media_quality(request, "application", "json") > media_quality(request, "text", "html")
}

/// The q-value (in thousandths) the request's `Accept` field(s) give `ty/subtype`, from the
/// most specific matching media range; 0 when nothing matches or there is no `Accept`.
pub(crate) fn media_quality(request: &Request, ty: &str, subtype: &str) -> u16 {
    best_range(request, ty, subtype).q
}

/// Whether `Accept` names the type itself (`text/html` or `text/*`, not only `*/*`) with a
/// non-zero q-value.
pub(crate) fn names_media(request: &Request, ty: &str, subtype: &str) -> bool {
    let best = best_range(request, ty, subtype);
    best.specificity >= 2 && best.q > 0
}

fn best_range(request: &Request, ty: &str, subtype: &str) -> Quality {
    let mut quality = Quality::default();
    for value in request.headers().get_all(crate::http::header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for range in value.split(',') {
            if let Some((media, q)) = parse_media_range(range) {
                quality.offer(media, q, ty, subtype);
            }
        }
    }
    quality
}

/// The q-value (in thousandths) that the most specific matching media range gives a type.
#[derive(Debug, Default)]
struct Quality {
    /// 0 = no range matched yet, 1 = `*/*`, 2 = `type/*`, 3 = exact.
    specificity: u8,
    q: u16,
}

impl Quality {
    fn offer(&mut self, media: &str, q: u16, ty: &str, subtype: &str) {
        let Some((range_type, range_subtype)) = media.split_once('/') else {
            return;
        };
        let specificity = match (range_type, range_subtype) {
            ("*", "*") => 1,
            (t, "*") if t.eq_ignore_ascii_case(ty) => 2,
            (t, s) if t.eq_ignore_ascii_case(ty) && s.eq_ignore_ascii_case(subtype) => 3,
            _ => return,
        };
        if specificity > self.specificity {
            self.specificity = specificity;
            self.q = q;
        }
    }
}

/// Splits one `Accept` element into its media range and q-value in thousandths (1000 when
/// absent). `None` for an empty element or an unparsable q-value.
fn parse_media_range(range: &str) -> Option<(&str, u16)> {
    let mut parts = range.split(';');
    let media = parts.next()?.trim();
    if media.is_empty() {
        return None;
    }
    let mut q = 1000;
    for param in parts {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("q") {
            q = parse_qvalue(value.trim())?;
        }
    }
    Some((media, q))
}

/// RFC 9110 `qvalue`: `0`, `0.xxx`, `1`, `1.000`, in thousandths.
fn parse_qvalue(value: &str) -> Option<u16> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |acc, digit| acc * 10 + u16::from(digit - b'0'));
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// Appends `text` HTML-escaped (`& < > " '`), with control characters shown as U+FFFD.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// A byte count for people: `512 B`, `1.2 KiB`, `3.0 GiB` (binary units, one decimal).
#[derive(Debug, Clone, Copy)]
struct HumanSize(u64);

impl std::fmt::Display for HumanSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let bytes = u128::from(self.0);
        if bytes < 1024 {
            return write!(f, "{bytes} B");
        }
        let mut scale: u128 = 1024;
        let mut unit = 0;
        loop {
            // Tenths of the unit, rounded half up; move on if it would print as 1024.0.
            let tenths = (bytes * 20 / scale).div_ceil(2);
            if tenths < 10240 || unit + 1 == UNITS.len() {
                return write!(f, "{}.{} {}", tenths / 10, tenths % 10, UNITS[unit]);
            }
            scale *= 1024;
            unit += 1;
        }
    }
}

/// A UTC date and time to the second, years 0000 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Utc {
    /// `None` outside the years 0000 to 9999, which RFC 3339 cannot write.
    fn from_system_time(time: SystemTime) -> Option<Utc> {
        let secs = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).ok()?,
            // Before the epoch: floor to the whole second.
            Err(before) => {
                let d = before.duration();
                let secs = i64::try_from(d.as_secs()).ok()?;
                -secs - i64::from(d.subsec_nanos() > 0)
            }
        };
        Utc::from_unix(secs)
    }

    fn from_unix(secs: i64) -> Option<Utc> {
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        if !(0..=9999).contains(&year) {
            return None;
        }
        Some(Utc {
            year,
            month: u32::try_from(month).ok()?,
            day: u32::try_from(day).ok()?,
            hour: u32::try_from(of_day / 3600).ok()?,
            minute: u32::try_from(of_day % 3600 / 60).ok()?,
            second: u32::try_from(of_day % 60).ok()?,
        })
    }

    /// `2026-11-27T16:42:05Z`.
    fn rfc3339(self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `2026-11-27 16:42`.
    fn short(self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }
}

/// The page style: system font, 44 px rows (the whole row is the link), light and dark
/// schemes, and on narrow screens a two-line row (name, then size and date).
const CSS: &str = concat!(
    ":root{--bg:#fff;--fg:#1f2328;--mute:#636c76;--line:#d8dee4;--hover:#f3f6f9;",
    "--link:#0858c6;--dir:#b07d09;--up:#636c76}",
    "@media (prefers-color-scheme:dark){:root{--bg:#0f1318;--fg:#e6edf3;--mute:#8d96a0;",
    "--line:#2a3038;--hover:#161b22;--link:#58a6ff;--dir:#d8a331;--up:#8d96a0}}",
    "*{box-sizing:border-box}",
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}",
    "body{margin:0;background:var(--bg);color:var(--fg);",
    "font:16px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",",
    "\"Helvetica Neue\",Arial,sans-serif}",
    "header,main{max-width:68rem;margin:0 auto;padding:0 1rem}",
    "h1{font-size:1.3rem;font-weight:600;margin:1.25rem 0 .75rem;overflow-wrap:anywhere}",
    "h1 .t{color:var(--mute);font-weight:400}",
    "nav{display:inline}",
    "nav a{color:var(--link);text-decoration:none;border-radius:4px}",
    "nav a:hover{text-decoration:underline}",
    "nav a[aria-current]{color:var(--fg)}",
    "table{width:100%;border-collapse:collapse}",
    "th{text-align:left;font-size:.75rem;font-weight:600;color:var(--mute);",
    "text-transform:uppercase;letter-spacing:.05em;padding:.5rem .75rem;",
    "border-bottom:1px solid var(--line)}",
    "tr{position:relative}",
    "tbody tr:hover{background:var(--hover)}",
    "td{padding:0;border-bottom:1px solid var(--line)}",
    ".n a{display:flex;align-items:flex-start;gap:.65rem;",
    "padding:.65rem .75rem;color:var(--link);text-decoration:none;overflow-wrap:anywhere}",
    ".n a:focus-visible{outline:2px solid var(--link);outline-offset:-2px}",
    ".n a::after{content:\"\";position:absolute;inset:0}",
    ".n a::before{content:\"\";flex:none;width:1.25rem;height:1.25rem;margin-top:.1rem;",
    "background:var(--mute);-webkit-mask:var(--i) center/contain no-repeat;",
    "mask:var(--i) center/contain no-repeat}",
    ".d .n a::before{background:var(--dir)}",
    ".u .n a{color:var(--up)}",
    ".l .n a{font-style:italic}",
    ".x .n a{color:var(--mute)}",
    ".s,.m{white-space:nowrap;color:var(--mute);font-variant-numeric:tabular-nums;",
    "padding:0 .75rem}",
    ".s{text-align:right;width:1%}",
    ".m{width:1%}",
    ".f{--i:url(\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' ",
    "viewBox='0 0 24 24'%3E%3Cpath fill-rule='evenodd' d='M6 2h8l6 6v12a2 2 0 0 1-2 ",
    "2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5z'/%3E%3C/svg%3E\")}",
    ".d{--i:url(\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' ",
    "viewBox='0 0 24 24'%3E%3Cpath d='M2 6a2 2 0 0 1 2-2h5.2l2 2H20a2 2 0 0 1 2 ",
    "2v10a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2z'/%3E%3C/svg%3E\")}",
    ".u{--i:url(\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' ",
    "viewBox='0 0 24 24'%3E%3Cpath d='M12 3l-7.5 7.5h5V21h5V10.5h5z'/%3E%3C/svg%3E\")}",
    ".sum{color:var(--mute);font-size:.85rem;margin:.75rem .75rem 2rem}",
    "@media (max-width:40rem){",
    "header,main{padding:0}",
    "h1{font-size:1.15rem;margin:1rem .75rem .5rem}",
    "thead{display:none}",
    "table,tbody{display:block}",
    "tr{display:grid;grid-template-columns:auto 1fr;align-items:baseline}",
    ".n{grid-column:1/-1;border:0}",
    ".n a{padding:.65rem 1rem .05rem}",
    ".u .n a{padding-bottom:.65rem}",
    ".s,.m{border:0;width:auto;font-size:.8rem;text-align:left;padding:0 0 .6rem 2.9rem}",
    ".s:empty{display:none}",
    ".s:not(:empty)+.m{padding-left:.4rem}",
    ".s:not(:empty)+.m::before{content:\"\\b7\";margin-right:.4rem}",
    ".u .s,.u .m{display:none}",
    "tr{border-bottom:1px solid var(--line)}",
    "}",
);

#[cfg(test)]
mod tests;
