//! Request path -> file path: percent-decode, normalise, and jail to the root.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Why a request path maps to no file.
///
/// # Examples
///
/// ```
/// use lido::{resolve, Policy, ResolveError};
///
/// let root = std::env::current_dir()?.canonicalize()?;
/// assert_eq!(resolve(&root, "/a%00b", Policy::default()), Err(ResolveError::BadPath));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveError {
    /// Not a usable path: not UTF-8 once decoded, a NUL, a backslash, or not absolute (`400`).
    BadPath,
    /// Outside the root, hidden (a dotfile), not a regular file or directory, or missing
    /// (`404`).
    NotFound,
}

/// What [`resolve`] lets through besides plain files and directories inside the root.
///
/// # Examples
///
/// ```
/// let policy = lido::Policy { show_hidden: true, ..lido::Policy::default() };
/// assert!(!policy.follow_symlinks);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Serve names starting with `.`. By default, they are hidden (`404`).
    pub show_hidden: bool,
    /// Follow symlinks wherever they point. By default, only to targets inside the root.
    pub follow_symlinks: bool,
}

/// Maps the (percent-encoded) request `path` to an existing file or directory under `root`
/// (which must be canonical). Segments `.` are dropped; `..`, backslashes and NULs are
/// refused, literal or encoded (decoding happens once, so `%252e` is the name `%2e`); a `%`
/// not followed by two hex digits is a bad path; a path ending in `/` or `/.` only names a
/// directory;
/// dotfiles are hidden and symlinks must stay inside `root` unless `policy` says otherwise;
/// FIFOs, sockets and devices are never served.
///
/// # Errors
///
/// [`ResolveError`] as above.
///
/// # Examples
///
/// ```
/// use lido::{resolve, Policy, ResolveError};
///
/// let root = std::env::current_dir()?.canonicalize()?;
/// let p = Policy::default();
/// assert_eq!(resolve(&root, "/../../etc/passwd", p), Err(ResolveError::NotFound));
/// assert_eq!(resolve(&root, "/%2e%2e/etc/passwd", p), Err(ResolveError::NotFound));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve(root: &Path, path: &str, policy: Policy) -> Result<PathBuf, ResolveError> {
    resolve_with_metadata(root, path, policy).map(|(path, _)| path)
}

/// [`resolve`], also returning the metadata it already read (saves the caller a `stat`).
pub(crate) fn resolve_with_metadata(
    root: &Path,
    path: &str,
    policy: Policy,
) -> Result<(PathBuf, Metadata), ResolveError> {
    if !path.starts_with('/') {
        return Err(ResolveError::BadPath);
    }
    if !crate::http::is_percent_encoded_well(path) {
        return Err(ResolveError::BadPath);
    }
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| ResolveError::BadPath)?;
    if decoded.contains(['\0', '\\']) {
        return Err(ResolveError::BadPath);
    }
    // `/a.txt/` and `/a.txt/.` name a directory: never a file (as nginx answers).
    let names_a_directory = decoded.ends_with('/') || decoded.ends_with("/.");
    let mut full = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(ResolveError::NotFound),
            s if s.starts_with('.') && !policy.show_hidden => return Err(ResolveError::NotFound),
            s => {
                // A decoded segment is one normal path component, nothing else.
                let mut components = Path::new(s).components();
                match (components.next(), components.next()) {
                    (Some(Component::Normal(_)), None) => full.push(s),
                    _ => return Err(ResolveError::NotFound),
                }
            }
        }
    }
    let (real, meta) = confine(root, &full, policy)?;
    if names_a_directory && !meta.is_dir() {
        return Err(ResolveError::NotFound);
    }
    Ok((real, meta))
}

/// Checks an existing `candidate` under `root` against `policy`: its real path must stay in
/// `root` (unless symlinks may lead anywhere) and be a regular file or a directory. Returns
/// the real path and its metadata.
pub(crate) fn confine(
    root: &Path,
    candidate: &Path,
    policy: Policy,
) -> Result<(PathBuf, Metadata), ResolveError> {
    let (real, meta) = match walk_plain(root, candidate) {
        Walk::Plain(meta) => (candidate.to_path_buf(), meta),
        // A symlink on the way (or a path not spelled under the root): ask the OS for the
        // real path and judge that.
        Walk::Other => {
            let real = candidate
                .canonicalize()
                .map_err(|_| ResolveError::NotFound)?;
            let meta = real.metadata().map_err(|_| ResolveError::NotFound)?;
            (real, meta)
        }
        Walk::Missing => return Err(ResolveError::NotFound),
    };
    if !policy.follow_symlinks && !real.starts_with(root) {
        return Err(ResolveError::NotFound);
    }
    if !(meta.is_file() || meta.is_dir()) {
        return Err(ResolveError::NotFound);
    }
    Ok((real, meta))
}

/// What `lstat` on each component below the root found.
enum Walk {
    /// No symlink: the candidate is already its real path; the last component's metadata.
    Plain(Metadata),
    /// A symlink, or a candidate not made of plain names under `root`.
    Other,
    /// A component does not exist.
    Missing,
}

/// Checks the components of `candidate` below the (canonical) `root` with one `lstat` each:
/// cheaper than `canonicalize`, which resolves every component from `/` with `readlink`.
fn walk_plain(root: &Path, candidate: &Path) -> Walk {
    let Ok(rest) = candidate.strip_prefix(root) else {
        return Walk::Other;
    };
    let mut current = root.to_path_buf();
    let mut last = None;
    for component in rest.components() {
        let Component::Normal(name) = component else {
            return Walk::Other;
        };
        current.push(name);
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => return Walk::Other,
            Ok(meta) => last = Some(meta),
            Err(_) => return Walk::Missing,
        }
    }
    match last {
        Some(meta) => Walk::Plain(meta),
        None => match root.metadata() {
            Ok(meta) => Walk::Plain(meta),
            Err(_) => Walk::Missing,
        },
    }
}

/// The file a path named, as far as a check and an open can tell: device and inode (and, where
/// those are unknown, length and modification time).
#[cfg(unix)]
pub(crate) fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
pub(crate) fn same_file(a: &Metadata, b: &Metadata) -> bool {
    (a.len(), a.modified().ok()) == (b.len(), b.modified().ok())
}

/// Opens the regular file at `path` that [`confine`] checked and found as `checked`, and makes
/// sure it is that file: a component swapped for a symlink between the check and the open
/// (a race an attacker with write access inside the root could run) would open another file,
/// which is refused here instead of served.
pub(crate) fn open_confined(path: &Path, checked: &Metadata) -> io::Result<(File, Metadata)> {
    let (file, meta) = open_regular(path)?;
    if !same_file(checked, &meta) {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the path changed between its check and its opening",
        ));
    }
    Ok((file, meta))
}

/// Opens a regular file without ever blocking: with `O_NONBLOCK`, so that a file swapped for a
/// FIFO after the checks cannot hang a worker, and checks what was opened.
pub(crate) fn open_regular(path: &Path) -> io::Result<(File, Metadata)> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok((file, meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Tree {
        base: PathBuf,
        root: PathBuf,
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }

    fn tree(name: &str) -> Tree {
        let base = std::env::temp_dir().join(format!("lido-resolve-{name}-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("dir")).unwrap();
        std::fs::write(root.join("dir/file.txt"), "x").unwrap();
        std::fs::write(root.join(".secret"), "x").unwrap();
        std::fs::write(base.join("outside.txt"), "x").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(base.join("outside.txt"), root.join("out-link")).unwrap();
            std::os::unix::fs::symlink(root.join("dir/file.txt"), root.join("in-link")).unwrap();
        }
        Tree {
            base: base.canonicalize().unwrap(),
            root: root.canonicalize().unwrap(),
        }
    }

    #[test]
    fn jail_holds() {
        let t = tree("jail");
        let (root, p) = (&t.root, Policy::default());
        assert_eq!(
            resolve(root, "/dir/file.txt", p),
            Ok(root.join("dir/file.txt"))
        );
        assert_eq!(
            resolve(root, "/./dir//file.txt", p),
            Ok(root.join("dir/file.txt"))
        );
        assert_eq!(resolve(root, "/dir/", p), Ok(root.join("dir")));
        for bad in [
            "/../outside.txt",
            "/dir/../../outside.txt",
            "/dir/../file.txt",
            "/%2e%2e/outside.txt",
            "/%2E%2E%2Foutside.txt",
            "/.secret",
            "/%2esecret",
            "/%252e%252e/outside.txt",
            "/missing",
        ] {
            assert_eq!(resolve(root, bad, p), Err(ResolveError::NotFound), "{bad}");
        }
        for bad in ["/dir%5cfile.txt", "/a%00", "dir/file.txt", "/%ff", "/..\\x"] {
            assert_eq!(resolve(root, bad, p), Err(ResolveError::BadPath), "{bad}");
        }
    }

    #[test]
    fn r9_a_trailing_slash_or_dot_names_only_directories() {
        let t = tree("trailing");
        let (root, p) = (&t.root, Policy::default());
        for not_a_dir in [
            "/dir/file.txt/",
            "/dir/file.txt/.",
            "/dir/file.txt//",
            "/dir/file.txt/./",
        ] {
            assert_eq!(
                resolve(root, not_a_dir, p),
                Err(ResolveError::NotFound),
                "{not_a_dir}"
            );
        }
        assert_eq!(resolve(root, "/dir/.", p), Ok(root.join("dir")));
        assert_eq!(resolve(root, "/dir/./", p), Ok(root.join("dir")));
    }

    #[test]
    #[cfg(unix)]
    fn r9_a_file_swapped_for_a_symlink_after_the_check_is_not_opened() {
        let t = tree("swap");
        let (root, p) = (&t.root, Policy::default());
        let (path, checked) = confine(root, &root.join("dir/file.txt"), p).unwrap();
        assert!(open_confined(&path, &checked).is_ok());
        // The race, played slowly: the checked file is replaced by a link to outside.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(t.base.join("outside.txt"), &path).unwrap();
        let err = open_confined(&path, &checked).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn r9_undecodable_percent_signs_are_bad_paths() {
        let t = tree("percent");
        let (root, p) = (&t.root, Policy::default());
        for bad in ["/%zz", "/%", "/dir/%4", "/%g0"] {
            assert_eq!(resolve(root, bad, p), Err(ResolveError::BadPath), "{bad}");
        }
    }

    #[test]
    fn hidden_files_need_the_policy() {
        let t = tree("hidden");
        let p = Policy {
            show_hidden: true,
            ..Policy::default()
        };
        assert_eq!(resolve(&t.root, "/.secret", p), Ok(t.root.join(".secret")));
        // `..` is never a hidden name.
        assert_eq!(
            resolve(&t.root, "/../outside.txt", p),
            Err(ResolveError::NotFound)
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_stay_inside_unless_allowed() {
        let t = tree("links");
        let p = Policy::default();
        assert_eq!(
            resolve(&t.root, "/in-link", p),
            Ok(t.root.join("dir/file.txt"))
        );
        assert_eq!(
            resolve(&t.root, "/out-link", p),
            Err(ResolveError::NotFound)
        );
        let all = Policy {
            follow_symlinks: true,
            ..Policy::default()
        };
        assert_eq!(
            resolve(&t.root, "/out-link", all),
            Ok(t.base.join("outside.txt"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_never_served() {
        let t = tree("fifo");
        let fifo = t.root.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.map(|s| s.success()).unwrap_or(false) {
            assert_eq!(
                resolve(&t.root, "/pipe", Policy::default()),
                Err(ResolveError::NotFound)
            );
            // Opening one directly does not block and is refused.
            assert!(open_regular(&fifo).is_err());
        }
        let all = Policy {
            follow_symlinks: true,
            ..Policy::default()
        };
        std::os::unix::fs::symlink("/dev/zero", t.root.join("zero")).unwrap();
        assert_eq!(resolve(&t.root, "/zero", all), Err(ResolveError::NotFound));
    }

    proptest! {
        /// Whatever the request path, a resolved path is inside the root.
        #[test]
        fn resolved_paths_stay_in_the_root(segments in proptest::collection::vec(
            prop_oneof![
                Just("..".to_owned()), Just(".".to_owned()), Just("%2e%2e".to_owned()),
                Just("%2f".to_owned()), Just("%5c".to_owned()), Just("dir".to_owned()),
                Just("file.txt".to_owned()), Just("out-link".to_owned()), Just("".to_owned()),
                "[a-z%./\\\\]{0,6}",
            ],
            0..6,
        )) {
            let t = tree("prop");
            let path = format!("/{}", segments.join("/"));
            if let Ok(real) = resolve(&t.root, &path, Policy::default()) {
                prop_assert!(real.starts_with(&t.root), "{} -> {}", path, real.display());
            }
        }
    }
}
