//! `Cache-Control` by path: long caching for fingerprinted assets, revalidation for HTML.

use std::fmt;
use std::str::FromStr;

/// Which request paths a [`StaticFiles::cache_control_for`](crate::StaticFiles::cache_control_for)
/// rule applies to. Paths are those below the files' prefix, before percent-decoding.
///
/// # Examples
///
/// ```
/// use lido::PathMatch;
///
/// let assets: PathMatch = "/assets/".parse()?;
/// assert!(assets.matches("/assets/app.3f9a.js"));
/// assert!(assets.matches("//%61ssets/./app.js"), "as the file is found");
/// assert!(!assets.matches("/index.html"));
/// assert!(!"/assets".parse::<PathMatch>()?.matches("/assets-old/a.js"));
/// assert!("*.tar.gz".parse::<PathMatch>()?.matches("/dl/lido.TAR.GZ"));
/// let fonts: PathMatch = "*.woff2".parse()?;
/// assert!(fonts.matches("/fonts/inter.WOFF2"));
/// assert!("assets".parse::<PathMatch>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathMatch {
    /// Paths whose last segment ends with `.EXT` (written `*.EXT`; any case).
    Extension(String),
    /// Paths that start with this prefix (written `/PREFIX/`).
    Prefix(String),
}

impl PathMatch {
    /// Whether `path` is one of the paths this names.
    ///
    /// # Examples
    ///
    /// See [`PathMatch`].
    pub fn matches(&self, path: &str) -> bool {
        let path = normalize(path);
        match self {
            PathMatch::Extension(ext) => {
                let name = path.rsplit('/').next().unwrap_or(&path);
                let suffix = ext.len() + 1;
                name.len() > suffix
                    && name.is_char_boundary(name.len() - suffix)
                    && name[name.len() - suffix..].starts_with('.')
                    && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext)
            }
            PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
        }
    }
}

/// A path pattern that is neither `*.EXT` nor `/PREFIX`.
///
/// # Examples
///
/// ```
/// let err = "assets".parse::<lido::PathMatch>().unwrap_err();
/// assert!(err.to_string().contains("*.EXT or /PREFIX/"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPathMatch(String);

impl fmt::Display for InvalidPathMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid path pattern {:?}: expected *.EXT or /PREFIX/",
            self.0
        )
    }
}

impl std::error::Error for InvalidPathMatch {}

impl FromStr for PathMatch {
    type Err = InvalidPathMatch;

    fn from_str(text: &str) -> Result<PathMatch, InvalidPathMatch> {
        let bad = || InvalidPathMatch(text.to_owned());
        if let Some(ext) = text.strip_prefix("*.") {
            if ext.is_empty() || !ext.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
                return Err(bad());
            }
            return Ok(PathMatch::Extension(ext.to_owned()));
        }
        if text.starts_with('/') && !text.contains(['*', '?', ' ', '%']) {
            // A prefix names a directory: `/assets` is `/assets/` (not `/assets-old/`).
            let normal = normalize(text);
            let prefix = if normal.ends_with('/') {
                normal
            } else {
                format!("{normal}/")
            };
            return Ok(PathMatch::Prefix(prefix));
        }
        Err(bad())
    }
}

/// A request path as the files are found by it: percent-decoded, without empty or `.`
/// segments (`//a/./%62` is `/a/b`); a trailing slash is kept.
fn normalize(path: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut out = String::with_capacity(decoded.len() + 1);
    for segment in decoded.split('/').filter(|s| !s.is_empty() && *s != ".") {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() || decoded.ends_with('/') {
        out.push('/');
    }
    out
}

impl fmt::Display for PathMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathMatch::Extension(ext) => write!(f, "*.{ext}"),
            PathMatch::Prefix(prefix) => f.write_str(prefix),
        }
    }
}
