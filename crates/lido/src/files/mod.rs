//! Static files: map a request path under a root directory, safely, and answer with the file,
//! a directory listing, or the right error; with validators, ranges and precompressed
//! siblings.

mod archive;
mod cache;
mod cache_rules;
mod compress;
mod conditional;
mod encoding;
mod listing;
mod range;
mod resolve;

use crate::http::header;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::http::{Body, Method, Request, Response, StatusCode};
use crate::method_not_allowed;
use cache::{Entry, FileCache, Lookup, MAX_INLINE, Representation};
use range::Content;

pub use cache::DEFAULT_FILE_RECHECK;
pub use cache_rules::{InvalidPathMatch, PathMatch};
pub use compress::{
    DEFAULT_COMPRESS_CACHE, MAX_SIZE as MAX_COMPRESS_SIZE, MIN_SIZE as MIN_COMPRESS_SIZE,
};
pub use resolve::{Policy, ResolveError, resolve};

/// `Cache-Control` sent with files and listings unless told otherwise: caches must revalidate
/// (cheap, thanks to `ETag`/`Last-Modified` and `304`).
pub const DEFAULT_CACHE_CONTROL: &str = "no-cache";

/// Serves the files under a root directory: `GET` and `HEAD`, `index.html` or a listing for
/// directories, `ETag`/`Last-Modified` with `304`/`412`, ranges, precompressed `.br`/`.gz`
/// siblings, and options for single-page apps, a custom 404 page, CORS and extra headers.
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
/// let files = StaticFiles::new(&dir)?.cache_control("max-age=60");
/// let response = files.handle(&Request::new(Method::GET, "/a.txt")?);
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
/// assert_eq!(response.header("cache-control"), Some("max-age=60"));
/// let response = files.handle(&Request::new(Method::GET, "/../etc/passwd")?);
/// assert_eq!(response.status(), StatusCode::NOT_FOUND);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
    policy: Policy,
    listing: bool,
    archives: bool,
    cache_control: String,
    /// Compression on the fly and its cache; `None` when off.
    compression: Option<Arc<compress::CompressCache>>,
    /// `Cache-Control` by path, first match first; else `cache_control`.
    cache_rules: Vec<(PathMatch, String)>,
    spa: bool,
    not_found_page: Option<PathBuf>,
    cors: bool,
    security_headers: bool,
    headers: Vec<(header::HeaderName, header::HeaderValue)>,
    /// The URL path the files are served under (`/static`), or empty for `/`.
    prefix: String,
    /// Shared by clones.
    cache: Arc<FileCache>,
}

/// What a request path names, once resolved.
enum Located {
    /// A regular file to send (the path itself, or a directory's `index.html`), and what
    /// the confinement walk found there.
    File(PathBuf, std::fs::Metadata),
    /// Anything else, answered at once: a listing, a redirect, an error.
    Other(Response),
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
        Ok(Self {
            root,
            policy: Policy::default(),
            listing: true,
            archives: true,
            cache_control: DEFAULT_CACHE_CONTROL.to_owned(),
            cache_rules: Vec::new(),
            compression: Some(Arc::new(compress::CompressCache::new(
                compress::DEFAULT_COMPRESS_CACHE,
            ))),
            spa: false,
            not_found_page: None,
            cors: false,
            security_headers: false,
            headers: Vec::new(),
            prefix: String::new(),
            cache: Arc::new(FileCache::new(DEFAULT_FILE_RECHECK)),
        })
    }

    /// Serves a file from memory (small files) or from a file kept open (larger ones) for
    /// this long after its path was last checked; the next request after that resolves the
    /// path again and reloads the file if it changed (device, inode, length or modification
    /// time), so a changed file is served stale for at most this long. Zero turns the cache
    /// off: every request resolves and opens its file. By default,
    /// [`DEFAULT_FILE_RECHECK`] (1 s).
    ///
    /// The cache is bounded: 1,024 paths, files up to 64 KiB in memory, 16 MiB in all; the
    /// least recently used paths are evicted first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let files = lido::StaticFiles::new(".")?.recheck_files_after(Duration::ZERO);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recheck_files_after(mut self, interval: Duration) -> Self {
        self.cache = Arc::new(FileCache::new(interval));
        self
    }

    /// Serves dotfiles. By default they are hidden (`404`, and left out of listings).
    ///
    /// # Examples
    ///
    /// ```
    /// let files = lido::StaticFiles::new(".")?.show_hidden(true);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn show_hidden(mut self, yes: bool) -> Self {
        self.policy.show_hidden = yes;
        self
    }

    /// Follows symlinks wherever they point. By default, only to targets inside the root.
    ///
    /// # Examples
    ///
    /// ```
    /// let files = lido::StaticFiles::new(".")?.follow_symlinks(true);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn follow_symlinks(mut self, yes: bool) -> Self {
        self.policy.follow_symlinks = yes;
        self
    }

    /// Lists directories without an `index.html`. By default, on; off answers `403`.
    ///
    /// # Examples
    ///
    /// ```
    /// let files = lido::StaticFiles::new(".")?.listing(false);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listing(mut self, yes: bool) -> Self {
        self.listing = yes;
        self
    }

    /// Lets a listed directory be downloaded whole, as `DIR/?format=tar` (and
    /// `?format=tar.gz` while compression is on), with links on the listing: the archive is
    /// made while it is sent (no temporary file; one file open at a time; memory bounded by
    /// the tree's depth), following the listing's rules for hidden files and symlinks. By
    /// default, on; off, such a request gets `404` (and with the listing off, `403` as any
    /// directory does).
    ///
    /// # Examples
    ///
    /// ```
    /// let files = lido::StaticFiles::new(".")?.archives(false);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn archives(mut self, yes: bool) -> Self {
        self.archives = yes;
        self
    }

    /// Sets `Cache-Control` for files and listings. By default, [`DEFAULT_CACHE_CONTROL`].
    ///
    /// # Examples
    ///
    /// ```
    /// let files = lido::StaticFiles::new(".")?.cache_control("public, max-age=3600");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cache_control(mut self, value: impl Into<String>) -> Self {
        self.cache_control = value.into();
        self
    }

    /// Single-page app: a `GET` for a missing path that accepts HTML gets the root
    /// `index.html` (status 200). By default, off.
    ///
    /// # Examples
    ///
    /// ```
    /// let files = lido::StaticFiles::new(".")?.spa(true);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spa(mut self, yes: bool) -> Self {
        self.spa = yes;
        self
    }

    /// Answers missing paths with this HTML file (status 404). By default, a plain-text 404.
    ///
    /// # Errors
    ///
    /// The I/O error if `page` is not a readable regular file.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(lido::StaticFiles::new(".")?.not_found_page("/no/such/404.html").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn not_found_page(mut self, page: impl AsRef<Path>) -> std::io::Result<Self> {
        let page = page.as_ref().canonicalize()?;
        resolve::open_regular(&page)?;
        self.not_found_page = Some(page);
        Ok(self)
    }

    /// Adds the usual protective headers to every response: `X-Frame-Options: DENY` and
    /// `Content-Security-Policy: frame-ancestors 'none'` (no framing: clickjacking),
    /// `Referrer-Policy: strict-origin-when-cross-origin`, and
    /// `Cross-Origin-Opener-Policy: same-origin`, besides the `X-Content-Type-Options:
    /// nosniff` every response has and the listings' own CSP. A header set with
    /// [`StaticFiles::header`] wins. By default, off (a site that is framed on purpose would
    /// break).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::{Handler, StaticFiles};
    /// use lido::http::{Method, Request};
    ///
    /// let files = StaticFiles::new(".")?.security_headers(true);
    /// let response = files.handle(&Request::new(Method::GET, "/")?);
    /// assert_eq!(response.header("x-frame-options"), Some("DENY"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_headers(mut self, yes: bool) -> Self {
        self.security_headers = yes;
        self
    }

    /// Allows any origin: `Access-Control-Allow-Origin: *` on every response, and answers
    /// CORS preflight `OPTIONS` requests. By default, off.
    ///
    /// # Examples
    ///
    /// ```
    /// let files = lido::StaticFiles::new(".")?.cors(true);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cors(mut self, yes: bool) -> Self {
        self.cors = yes;
        self
    }

    /// Adds a header to every response (replacing one of the same name). The name and value
    /// are anything the `http` crate's `HeaderName` and `HeaderValue` are made from; a pair
    /// that cannot be written safely (a name that is not a token, a value with control
    /// characters) is left out.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::header;
    ///
    /// let files = lido::StaticFiles::new(".")?
    ///     .header("X-Frame-Options", "DENY")
    ///     .header(header::STRICT_TRANSPORT_SECURITY, "max-age=600");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        header::HeaderName: TryFrom<K>,
        header::HeaderValue: TryFrom<V>,
    {
        if let Some(pair) = crate::http::header_pair(name, value) {
            self.headers.push(pair);
        }
        self
    }

    /// Compresses text files on the fly (on by default): zstd, brotli or gzip, as the
    /// client's `Accept-Encoding` prefers (the server's order among equals), for compressible
    /// types (`text/*`, JavaScript, JSON, XML, SVG, wasm, ...) from [`MIN_COMPRESS_SIZE`] to
    /// [`MAX_COMPRESS_SIZE`] bytes. Precompressed siblings (`.br`, `.gz`) still win. Each
    /// coding has its own `ETag`; range requests get the identity bytes. `cache_bytes`
    /// bounds the memory kept for compressed answers (least recently used out first; 0 keeps
    /// none). `false` turns it off.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::{Handler, StaticFiles};
    /// use lido::http::{Method, Request};
    ///
    /// let dir = std::env::temp_dir().join(format!("lido-compress-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("app.js"), "console.log('lido');\n".repeat(100))?;
    /// let files = StaticFiles::new(&dir)?.compression(true, 16 * 1024 * 1024);
    /// let request = Request::new(Method::GET, "/app.js")?.with_header("Accept-Encoding", "gzip, br");
    /// let response = files.handle(&request);
    /// assert_eq!(response.header("content-encoding"), Some("br"));
    /// assert_eq!(response.header("vary"), Some("Accept-Encoding"));
    /// let plain = StaticFiles::new(&dir)?.compression(false, 0).handle(&request);
    /// assert_eq!(plain.header("content-encoding"), None);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compression(mut self, on: bool, cache_bytes: usize) -> Self {
        self.compression = on.then(|| Arc::new(compress::CompressCache::new(cache_bytes)));
        self
    }

    /// Sends `value` as the `Cache-Control` of the files whose path matches `pattern`
    /// (checked in the order the rules were added; the first match wins), instead of
    /// [`StaticFiles::cache_control`]'s. For fingerprinted assets cached for a year while
    /// HTML is revalidated on every use:
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::{Handler, PathMatch, StaticFiles};
    /// use lido::http::{Method, Request};
    ///
    /// let dir = std::env::temp_dir().join(format!("lido-rules-{}", std::process::id()));
    /// std::fs::create_dir_all(dir.join("assets"))?;
    /// std::fs::write(dir.join("assets/app.3f9a.js"), "run()")?;
    /// std::fs::write(dir.join("index.html"), "<p>hi")?;
    /// let files = StaticFiles::new(&dir)?
    ///     .cache_control("no-cache")
    ///     .cache_control_for("/assets/".parse()?, "public, max-age=31536000, immutable");
    /// let js = files.handle(&Request::new(Method::GET, "/assets/app.3f9a.js")?);
    /// assert_eq!(js.header("cache-control"), Some("public, max-age=31536000, immutable"));
    /// let html = files.handle(&Request::new(Method::GET, "/")?);
    /// assert_eq!(html.header("cache-control"), Some("no-cache"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cache_control_for(mut self, pattern: PathMatch, value: impl Into<String>) -> Self {
        self.cache_rules.push((pattern, value.into()));
        self
    }

    /// The `Cache-Control` of a file answer to `request`.
    fn cache_policy(&self, request: &Request) -> &str {
        let path = self.below_prefix(request).unwrap_or(request.path());
        self.cache_rules
            .iter()
            .find(|(pattern, _)| pattern.matches(path))
            .map_or(self.cache_control.as_str(), |(_, value)| value.as_str())
    }

    /// Serves the files under the URL path `prefix` (`/static`: `/static/app.js` is
    /// ROOT/app.js), so that they can share a server with other routes; a path outside the
    /// prefix is `404`. Listings, redirects and `--spa` work under the prefix too.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::Handler;
    /// use lido::http::{Method, Request, Response, StatusCode};
    ///
    /// let dir = std::env::temp_dir().join(format!("lido-prefix-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("app.js"), "run()")?;
    /// let files = lido::StaticFiles::new(&dir)?.prefix("/static");
    /// let app = move |request: &Request| {
    ///     if request.path().starts_with("/static/") {
    ///         files.handle(request)
    ///     } else {
    ///         Response::text(StatusCode::OK, "the API")
    ///     }
    /// };
    /// let js = app.handle(&Request::new(Method::GET, "/static/app.js")?);
    /// assert_eq!(js.status(), StatusCode::OK);
    /// assert_eq!(app.handle(&Request::new(Method::GET, "/users")?).status(), StatusCode::OK);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(mut self, prefix: &str) -> Self {
        let trimmed = prefix.trim_matches('/');
        self.prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        self
    }

    /// The request's path below the prefix (`/` for the prefix itself); `None` outside it.
    fn below_prefix<'r>(&self, request: &'r Request) -> Option<&'r str> {
        let path = request.path();
        if self.prefix.is_empty() {
            return Some(path);
        }
        match path.strip_prefix(self.prefix.as_str())? {
            "" => Some("/"),
            rest if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }

    fn serve(&self, request: &Request) -> Response {
        let now = Instant::now();
        let key = request.path();
        let stale = match self.cache.get(key, now) {
            Lookup::Fresh(entry) => return self.send(request, &entry),
            Lookup::Stale(entry) => Some(entry),
            Lookup::Miss => None,
        };
        let loaded = match self.locate(request) {
            Located::File(path, checked) => self.load(&path, &checked),
            Located::Other(response) => {
                if stale.is_some() {
                    self.cache.remove(key);
                }
                return response;
            }
        };
        let Some(entry) = loaded else {
            self.cache.remove(key);
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        let entry = match stale {
            Some(old) if old.same_as(&entry) => {
                self.cache.checked(&old, now);
                old
            }
            _ => self.cache.insert(key, entry, now),
        };
        self.send(request, &entry)
    }

    /// Resolves the request path under the root (with the whole confinement walk).
    fn locate(&self, request: &Request) -> Located {
        let Some(below) = self.below_prefix(request) else {
            return Located::Other(plain(StatusCode::NOT_FOUND, "not found\n"));
        };
        let (path, meta) = match resolve::resolve_with_metadata(&self.root, below, self.policy) {
            Ok(found) => found,
            Err(ResolveError::BadPath) => {
                return Located::Other(plain(StatusCode::BAD_REQUEST, "bad path\n"));
            }
            Err(ResolveError::NotFound) => return Located::Other(self.not_found(request)),
        };
        if !meta.is_dir() {
            return Located::File(path, meta);
        }
        if !request.path().ends_with('/') {
            // A 301 is cached as long as a cache likes unless told otherwise, and the
            // directory may become a file: the same policy as the content.
            return Located::Other(
                redirect_to_slash(request)
                    .with_header(header::CACHE_CONTROL, self.cache_policy(request)),
            );
        }
        match resolve::confine(&self.root, &path.join("index.html"), self.policy) {
            Ok((index, meta)) if meta.is_file() => Located::File(index, meta),
            _ if self.listing => Located::Other(self.list(request, &path)),
            _ => Located::Other(plain(StatusCode::FORBIDDEN, "directory listing is off\n")),
        }
    }

    /// Opens the regular file at `path` and its precompressed siblings (`.br`, `.gz`, under
    /// the same confinement); small files are read into memory when the cache is on.
    fn load(&self, path: &Path, checked: &std::fs::Metadata) -> Option<Entry> {
        let identity = self.represent(path, checked)?;
        let mut siblings = Vec::new();
        for (coding, suffix) in encoding::SIBLINGS {
            let mut sibling = path.as_os_str().to_owned();
            sibling.push(".");
            sibling.push(suffix);
            if let Ok((sibling, checked)) =
                resolve::confine(&self.root, Path::new(&sibling), self.policy)
                && let Some(representation) = self.represent(&sibling, &checked)
            {
                siblings.push((coding, representation));
            }
        }
        Some(Entry::new(content_type(path), identity, siblings))
    }

    /// Opens `path`, which the confinement walk found as `checked` (and refuses another file
    /// found there now: see [`resolve::open_confined`]).
    fn represent(&self, path: &Path, checked: &std::fs::Metadata) -> Option<Representation> {
        let (file, meta) = resolve::open_confined(path, checked).ok()?;
        let len = meta.len();
        if self.cache.enabled() && len <= MAX_INLINE {
            let mut bytes = vec![0u8; len as usize];
            if crate::transport::read_full_at(&file, &mut bytes, 0) == bytes.len() {
                return Some(Representation {
                    content: Content::Memory(bytes.into()),
                    meta,
                });
            }
        }
        Some(Representation {
            content: Content::File(Arc::new(file)),
            meta,
        })
    }

    /// The response for a resolved file: its best precompressed sibling the client accepts,
    /// else the file compressed on the fly when it is worth it and the client takes it, else
    /// the file itself. `Vary: Accept-Encoding` exactly where the answer depends on it: a
    /// sibling exists, or the file is one lido would compress.
    fn send(&self, request: &Request, entry: &Entry) -> Response {
        let identity_len = entry.identity.meta.len();
        let compressible = self.compression.is_some()
            && (compress::MIN_SIZE..=compress::MAX_SIZE).contains(&identity_len)
            && compress::compressible(&entry.content_type);
        let varies = !entry.siblings.is_empty() || compressible;
        let cache_control = self.cache_policy(request);
        if varies {
            // Every `Accept-Encoding` field counts (RFC 9110 5.3: a list may be split).
            let accept = request
                .headers()
                .get_all(crate::http::header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect::<Vec<_>>()
                .join(",");
            let accept = (!accept.is_empty()).then_some(accept.as_str());
            for (coding, sibling) in &entry.siblings {
                if encoding::accepts(accept, coding) {
                    return range::file_response(
                        request,
                        &sibling.content,
                        &sibling.meta,
                        &entry.content_type,
                        Some(coding),
                        true,
                        cache_control,
                    );
                }
            }
            // A range is a range of the identity bytes (as nginx answers): a client resuming
            // a download never gets a slice of a compressed stream it did not ask for.
            if compressible
                && request.header(header::RANGE).is_none()
                && let Some(coding) = encoding::choose(accept, &compress::CODINGS)
                && let Some(response) = self.send_compressed(request, entry, coding, cache_control)
            {
                return response;
            }
        }
        range::file_response(
            request,
            &entry.identity.content,
            &entry.identity.meta,
            &entry.content_type,
            None,
            varies,
            cache_control,
        )
    }

    /// The file compressed with `coding` (from the cache of compressed answers, or made
    /// now), with its own `ETag`; `None` if the file could not be read whole.
    fn send_compressed(
        &self,
        request: &Request,
        entry: &Entry,
        coding: &'static str,
        cache_control: &str,
    ) -> Option<Response> {
        let cache = self.compression.as_ref()?;
        let meta = &entry.identity.meta;
        let identity_tag = conditional::Validators::new(meta, None).etag;
        let v = conditional::Validators::new(meta, Some(coding));
        let bytes = cache.get_or_make(request.path(), &identity_tag, coding, || {
            let whole = match &entry.identity.content {
                range::Content::Memory(bytes) => bytes.to_vec(),
                range::Content::File(file) => {
                    let mut bytes = vec![0u8; usize::try_from(meta.len()).ok()?];
                    let got = crate::transport::read_full_at(file, &mut bytes, 0);
                    (got == bytes.len()).then_some(bytes)?
                }
            };
            compress::compress(coding, &whole).ok()
        })?;
        let len = bytes.len() as u64;
        Some(range::respond(
            request,
            &range::Content::Memory(bytes),
            len,
            &v,
            &range::Answer {
                content_type: &entry.content_type,
                encoding: Some(coding),
                vary: true,
                cache_control,
            },
        ))
    }

    fn list(&self, request: &Request, dir: &Path) -> Response {
        if let Some(format) = archive::Format::requested(request.query()) {
            if !self.archive_formats().contains(&format) {
                return plain(StatusCode::NOT_FOUND, "archives are off\n");
            }
            let response = archive::respond(request, &self.root, dir, self.policy, format);
            return self.decorate(response);
        }
        let entries = match listing::read_dir(dir, self.policy.show_hidden) {
            Ok(entries) => entries,
            Err(_) => return plain(StatusCode::FORBIDDEN, "cannot list this directory\n"),
        };
        let (content_type, body) = if listing::wants_json(request) {
            (
                "application/json",
                listing::json(request.path(), &entries).into_bytes(),
            )
        } else {
            (
                "text/html; charset=utf-8",
                listing::html_page(request.path(), &entries, &self.archive_extensions())
                    .into_bytes(),
            )
        };
        // Validators: the listing's own bytes (so any change it shows changes the tag) and the
        // newest modification time among the directory and what it lists.
        let newest = entries
            .iter()
            .filter_map(|e| e.modified)
            .chain(std::fs::metadata(dir).and_then(|m| m.modified()).ok())
            .max();
        let v = conditional::Validators::of_content(&body, newest);
        let response = match conditional::evaluate(request, &v) {
            conditional::Precondition::Proceed => {
                Response::bytes(StatusCode::OK, content_type, body)
            }
            conditional::Precondition::NotModified => Response::new(StatusCode::NOT_MODIFIED),
            conditional::Precondition::Failed => {
                return plain(StatusCode::PRECONDITION_FAILED, "precondition failed\n");
            }
        };
        let response = if content_type.starts_with("text/html") {
            response.with_header(header::CONTENT_SECURITY_POLICY, listing::HTML_CSP)
        } else {
            response
        };
        range::validated(response, &v)
            .with_header(header::CACHE_CONTROL, self.cache_policy(request))
            .with_header(header::VARY, "Accept")
    }

    fn not_found(&self, request: &Request) -> Response {
        let response = self.not_found_for(request);
        // With --spa the answer depends on `Accept` (the app for a navigation, 404 for the
        // rest): caches must keep them apart.
        if self.spa {
            response.with_header(header::VARY, "Accept")
        } else {
            response
        }
    }

    fn not_found_for(&self, request: &Request) -> Response {
        if self.spa
            && accepts_html(request)
            && let Ok((index, meta)) =
                resolve::confine(&self.root, &self.root.join("index.html"), self.policy)
            && meta.is_file()
            && let Some(entry) = self.load(&index, &meta)
        {
            return self.send(request, &entry);
        }
        if let Some(page) = &self.not_found_page
            && let Ok((file, meta)) = resolve::open_regular(page)
        {
            return Response::new(StatusCode::NOT_FOUND)
                .with_header(header::CONTENT_TYPE, content_type(page))
                .with_body(Body::file(file, 0, meta.len()));
        }
        plain(StatusCode::NOT_FOUND, "not found\n")
    }

    /// The archives a listed directory can be downloaded as: `.tar` unless archives are off,
    /// `.tar.gz` too when compression is on.
    fn archive_formats(&self) -> Vec<archive::Format> {
        match (self.archives, self.compression.is_some()) {
            (false, _) => Vec::new(),
            (true, false) => vec![archive::Format::Tar],
            (true, true) => vec![archive::Format::Tar, archive::Format::TarGz],
        }
    }

    fn archive_extensions(&self) -> Vec<&'static str> {
        self.archive_formats()
            .into_iter()
            .map(archive::Format::extension)
            .collect()
    }

    fn decorate(&self, mut response: Response) -> Response {
        response.set_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        if self.security_headers {
            response.set_header(header::X_FRAME_OPTIONS, "DENY");
            response.set_header(header::REFERRER_POLICY, "strict-origin-when-cross-origin");
            response.set_header("Cross-Origin-Opener-Policy", "same-origin");
            // The listing has a whole policy of its own, which forbids framing already.
            if response.header(header::CONTENT_SECURITY_POLICY).is_none() {
                response.set_header(header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'");
            }
        }
        if self.cors {
            response.set_header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        }
        for (name, value) in &self.headers {
            response.set_header(name.clone(), value.clone());
        }
        response
    }
}

impl crate::Handler for StaticFiles {
    fn handle(&self, request: &Request) -> Response {
        let response = match *request.method() {
            Method::GET | Method::HEAD => self.serve(request),
            // `OPTIONS *` (the server) and `OPTIONS /path` alike: what may be asked, plus the
            // CORS answer to a preflight when CORS is on.
            Method::OPTIONS => {
                let response =
                    Response::new(StatusCode::NO_CONTENT).with_header(header::ALLOW, ALLOW);
                if self.cors
                    && request
                        .header(header::ACCESS_CONTROL_REQUEST_METHOD)
                        .is_some()
                {
                    response
                        .with_header(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW)
                        .with_header(
                            "Access-Control-Allow-Headers",
                            request
                                .header_str(header::ACCESS_CONTROL_REQUEST_HEADERS)
                                .unwrap_or("*")
                                .to_owned(),
                        )
                        .with_header(header::ACCESS_CONTROL_MAX_AGE, "86400")
                } else {
                    response
                }
            }
            _ => method_not_allowed(&[Method::GET, Method::HEAD, Method::OPTIONS]),
        };
        self.decorate(response)
    }

    /// Static files never need a request body: every request is answered from its head, so a
    /// client trickling a body (to a `POST` that gets `405`, say) is answered at once.
    fn handle_head(&self, head: &Request) -> Option<Response> {
        Some(self.handle(head))
    }
}

/// The methods static files answer.
const ALLOW: &str = "GET, HEAD, OPTIONS";

fn plain(status: StatusCode, body: &str) -> Response {
    Response::text(status, body)
}

/// `Content-Type` from the extension; text types get `charset=utf-8`.
fn content_type(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(mime.subtype().as_str(), "javascript" | "json" | "xml")
        || mime.suffix().is_some_and(|s| s == "xml" || s == "json");
    if textual && mime.get_param(mime_guess::mime::CHARSET).is_none() {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

/// `301` to the same path with a trailing slash, as a relative reference (`./name/`), so it
/// can never point at another host (no `//evil` open redirect).
fn redirect_to_slash(request: &Request) -> Response {
    let last = request.path().rsplit('/').next().unwrap_or("");
    let location = match request.query() {
        Some(q) => format!("./{last}/?{q}"),
        None => format!("./{last}/"),
    };
    Response::new(StatusCode::MOVED_PERMANENTLY).with_header(header::LOCATION, location)
}

/// A navigation: `Accept` names `text/html` (or `text/*`) with a non-zero q-value, as
/// browsers do when they load a page. `*/*` alone is what scripts, images and `fetch` send:
/// a missing script must get `404`, not the app's HTML.
fn accepts_html(request: &Request) -> bool {
    listing::names_media(request, "text", "html")
}
