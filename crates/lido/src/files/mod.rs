//! Static files: map a request path under a root directory, safely, and answer with the file.
//!
//! This is the minimal file handler of the `lido` binary: percent-decoding, a root jail,
//! `index.html` for directories, MIME types, `GET`/`HEAD` only.

#[allow(dead_code)] // wired in with the static-files features
mod encoding;
mod resolve;

use std::path::PathBuf;

use crate::http::{Body, Method, Request, Response, StatusCode};
use crate::method_not_allowed;

pub use resolve::{Policy, ResolveError, resolve};

/// Serves the files under a root directory.
///
/// # Examples
///
/// ```
/// use lido::http::{Method, Request, StatusCode};
/// use lido::{Handler, StaticFiles};
///
/// let dir = std::env::temp_dir().join(format!("lido-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("a.txt"), "hello")?;
/// let files = StaticFiles::new(&dir)?;
/// let response = files.handle(&Request::new(Method::Get, "/a.txt")?);
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
/// let response = files.handle(&Request::new(Method::Get, "/../etc/passwd")?);
/// assert_eq!(response.status(), StatusCode::NOT_FOUND);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
}

impl StaticFiles {
    /// Serves `root`, which must be a directory.
    ///
    /// # Errors
    ///
    /// The I/O error if `root` cannot be resolved, or `NotADirectory` if it is not a directory.
    ///
    /// # Examples
    ///
    /// ```
    /// let files = lido::StaticFiles::new(".")?;
    /// assert!(lido::StaticFiles::new("/definitely/not/here").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into().canonicalize()?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Self { root })
    }

    fn serve(&self, request: &Request) -> Response {
        let path = match resolve(&self.root, request.path(), Policy::default()) {
            Ok(path) => path,
            Err(ResolveError::BadPath) => return text(StatusCode::BAD_REQUEST, "bad path\n"),
            Err(ResolveError::NotFound) => return text(StatusCode::NOT_FOUND, "not found\n"),
        };
        let path = if path.is_dir() {
            if !request.path().ends_with('/') {
                // Relative, so it cannot become an open redirect.
                let last = request.path().rsplit('/').next().unwrap_or("");
                let location = match request.query() {
                    Some(q) => format!("{last}/?{q}"),
                    None => format!("{last}/"),
                };
                return Response::new(StatusCode::MOVED_PERMANENTLY)
                    .with_header("Location", format!("./{location}"));
            }
            path.join("index.html")
        } else {
            path
        };
        let (file, len) = match resolve::open_regular(&path) {
            Ok((file, meta)) => (file, meta.len()),
            Err(_) => return text(StatusCode::NOT_FOUND, "not found\n"),
        };
        let mime = mime_guess::from_path(&path).first_or_octet_stream();
        let content_type = if mime.type_() == mime_guess::mime::TEXT {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_string()
        };
        Response::new(StatusCode::OK)
            .with_header("Content-Type", content_type)
            .with_header("X-Content-Type-Options", "nosniff")
            .with_body(Body::File {
                file,
                offset: 0,
                len,
            })
    }
}

fn text(status: StatusCode, body: &str) -> Response {
    Response::text(status, body)
}

impl crate::Handler for StaticFiles {
    fn handle(&self, request: &Request) -> Response {
        match request.method() {
            Method::Get | Method::Head => self.serve(request),
            _ => method_not_allowed(&[Method::Get, Method::Head]),
        }
    }
}
