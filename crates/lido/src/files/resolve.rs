//! Request path -> file path: percent-decode, normalise, and jail to the root.

use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Why a request path maps to no file.
///
/// # Examples
///
/// ```
/// use lido::{resolve, ResolveError};
///
/// let root = std::env::current_dir()?;
/// assert_eq!(resolve(&root, "/a%00b"), Err(ResolveError::BadPath));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveError {
    /// Not a usable path: not UTF-8 once decoded, a NUL, a backslash, or not absolute (`400`).
    BadPath,
    /// Outside the root, hidden (a dotfile), or missing (`404`).
    NotFound,
}

/// Maps the (percent-encoded) request `path` to a path under `root` (which must be
/// canonical). Segments `.` are dropped; `..`, dotfiles, backslashes and NULs are refused,
/// whether literal or encoded; symlinks are followed only if the target stays inside `root`.
///
/// # Errors
///
/// [`ResolveError`] as above.
///
/// # Examples
///
/// ```
/// use lido::{resolve, ResolveError};
///
/// let root = std::env::current_dir()?.canonicalize()?;
/// assert_eq!(resolve(&root, "/../../etc/passwd"), Err(ResolveError::NotFound));
/// assert_eq!(resolve(&root, "/%2e%2e/etc/passwd"), Err(ResolveError::NotFound));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve(root: &Path, path: &str) -> Result<PathBuf, ResolveError> {
    if !path.starts_with('/') {
        return Err(ResolveError::BadPath);
    }
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| ResolveError::BadPath)?;
    if decoded.contains(['\0', '\\']) {
        return Err(ResolveError::BadPath);
    }
    let mut full = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            s if s.starts_with('.') => return Err(ResolveError::NotFound),
            s => {
                // A decoded segment is one path component: nothing in it may start another.
                if Path::new(s).components().count() != 1
                    || !matches!(Path::new(s).components().next(), Some(Component::Normal(_)))
                {
                    return Err(ResolveError::NotFound);
                }
                full.push(s);
            }
        }
    }
    let real = full.canonicalize().map_err(|_| ResolveError::NotFound)?;
    if !real.starts_with(root) {
        return Err(ResolveError::NotFound);
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (PathBuf, PathBuf) {
        let base = std::env::temp_dir().join(format!("lido-resolve-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("dir")).unwrap();
        std::fs::write(root.join("dir/file.txt"), "x").unwrap();
        std::fs::write(root.join(".secret"), "x").unwrap();
        std::fs::write(base.join("outside.txt"), "x").unwrap();
        (base.canonicalize().unwrap(), root.canonicalize().unwrap())
    }

    #[test]
    fn jail_holds() {
        let (_base, root) = root();
        assert_eq!(
            resolve(&root, "/dir/file.txt"),
            Ok(root.join("dir/file.txt"))
        );
        assert_eq!(
            resolve(&root, "/./dir//file.txt"),
            Ok(root.join("dir/file.txt"))
        );
        for bad in [
            "/../outside.txt",
            "/dir/../../outside.txt",
            "/%2e%2e/outside.txt",
            "/%2E%2E%2Foutside.txt",
            "/.secret",
            "/%2esecret",
        ] {
            assert_eq!(resolve(&root, bad), Err(ResolveError::NotFound), "{bad}");
        }
        for bad in ["/dir%5cfile.txt", "/a%00", "dir/file.txt", "/%ff"] {
            assert_eq!(resolve(&root, bad), Err(ResolveError::BadPath), "{bad}");
        }
        // Double encoding decodes once: "%252e%252e" is the literal name "%2e%2e".
        assert_eq!(
            resolve(&root, "/%252e%252e/outside.txt"),
            Err(ResolveError::NotFound)
        );
    }
}
