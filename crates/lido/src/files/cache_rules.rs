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
/// assert!(!assets.matches("/index.html"));
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
        match self {
            PathMatch::Extension(ext) => {
                let name = path.rsplit('/').next().unwrap_or(path);
                name.rsplit_once('.')
                    .is_some_and(|(stem, e)| !stem.is_empty() && e.eq_ignore_ascii_case(ext))
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
        if text.starts_with('/') && !text.contains(['*', '?', ' ']) {
            return Ok(PathMatch::Prefix(text.to_owned()));
        }
        Err(bad())
    }
}

impl fmt::Display for PathMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathMatch::Extension(ext) => write!(f, "*.{ext}"),
            PathMatch::Prefix(prefix) => f.write_str(prefix),
        }
    }
}
