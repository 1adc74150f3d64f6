//! HTTP Basic authentication from an htpasswd file with bcrypt or argon2 hashes.
//!
//! - Only slow, salted hashes are accepted: bcrypt (`$2y$`, `$2b$`, `$2a$`; `htpasswd -B`) and
//!   argon2 (`$argon2id$`, ...). Plain text, MD5 (`$apr1$`), SHA-1 (`{SHA}`) and crypt are
//!   refused when the file is read, with the line that has them.
//! - A hash check costs tens of milliseconds by design; a successful check is remembered
//!   (a keyed hash of the credentials, never the password) so that a browser sending the same
//!   header with every request pays it once.
//! - An unknown user costs the same check as a known one (against a decoy hash), and the hash
//!   libraries compare in constant time.
//! - Guessing is slowed per client address: after [`FREE_FAILURES`] failures, every further
//!   attempt from that address is refused with `429` until a wait that doubles from 1 s up to
//!   [`MAX_BLOCK`] has passed. Past the free ones, an address gets at most one guess per
//!   minute.

use crate::http::header;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::Handler;
use crate::http::{Request, Response, StatusCode};

/// Failed attempts an address may make before it is slowed down.
pub const FREE_FAILURES: u32 = 5;
/// The longest an address waits between two attempts once slowed down.
pub const MAX_BLOCK: Duration = Duration::from_secs(60);

/// Successful credentials remembered at most (then the memory starts over).
const REMEMBERED: usize = 4096;
/// Addresses with failures tracked at most (then the oldest half is forgotten).
const TRACKED: usize = 16_384;

/// A hash from the file.
#[derive(Debug, Clone)]
enum Hash {
    Bcrypt(String),
    Argon2(String),
}

impl Hash {
    fn verify(&self, password: &str) -> bool {
        match self {
            Hash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            Hash::Argon2(hash) => {
                use argon2::PasswordVerifier;
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), hash.as_str())
                    .is_ok()
            }
        }
    }
}

/// Why an htpasswd file cannot be used.
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir().join(format!("lido-authdoc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("plain"), "ada:secret\n")?;
/// let err = lido::BasicAuth::from_htpasswd(dir.join("plain")).unwrap_err();
/// assert!(err.to_string().contains("plain:1: user ada: only bcrypt"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `user:hash` with an accepted hash.
    #[error("{path}:{line}: {why}")]
    Line {
        /// The file.
        path: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The file has no user.
    #[error("{path}: no user in the file")]
    Empty {
        /// The file.
        path: String,
    },
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    blocked_until: Option<Instant>,
    last: Option<Instant>,
}

/// Users and their password hashes, checked against each request's `Authorization`.
///
/// # Examples
///
/// ```
/// use lido::http::{Method, Request, StatusCode};
/// use lido::{BasicAuth, Handler, StaticFiles};
///
/// let dir = std::env::temp_dir().join(format!("lido-authex-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let hash = bcrypt::hash("s3cret", 4)?; // htpasswd -B makes the same kind of line
/// std::fs::write(dir.join("users"), format!("ada:{hash}\n"))?;
/// let auth = BasicAuth::from_htpasswd(dir.join("users"))?.realm("staff");
/// let site = auth.protect(StaticFiles::new(&dir)?);
/// let anonymous = site.handle(&Request::new(Method::GET, "/")?);
/// assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(anonymous.header("www-authenticate"), Some("Basic realm=\"staff\", charset=\"UTF-8\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BasicAuth {
    users: HashMap<String, Hash>,
    decoy: Hash,
    realm: String,
    keys: std::collections::hash_map::RandomState,
    remembered: Mutex<std::collections::HashSet<u64>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("users", &self.users.len())
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// Reads an htpasswd file: one `user:hash` per line; blank lines and lines starting with
    /// `#` are skipped.
    ///
    /// # Errors
    ///
    /// [`AuthFileError`] naming the file and the line: a line without `:`, an empty user, a
    /// hash that is not bcrypt or argon2 (plain text included), or no user at all.
    ///
    /// # Examples
    ///
    /// See [`BasicAuth`].
    pub fn from_htpasswd(path: impl AsRef<Path>) -> Result<BasicAuth, AuthFileError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AuthFileError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |why: String| AuthFileError::Line {
                path: shown.clone(),
                line: i + 1,
                why,
            };
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| fail("expected user:hash".to_owned()))?;
            if user.is_empty() {
                return Err(fail("the user name is empty".to_owned()));
            }
            let hash = if ["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p)) {
                Hash::Bcrypt(hash.to_owned())
            } else if hash.starts_with("$argon2") {
                Hash::Argon2(hash.to_owned())
            } else {
                return Err(fail(format!(
                    "user {user}: only bcrypt ($2y$, htpasswd -B) and argon2 ($argon2id$) \
                     hashes are accepted; plain text, MD5, SHA-1 and crypt are too easy to crack"
                )));
            };
            users.insert(user.to_owned(), hash);
        }
        if users.is_empty() {
            return Err(AuthFileError::Empty { path: shown });
        }
        // The decoy costs what a real user's check costs: one of the file's own hashes.
        let decoy = users
            .values()
            .next()
            .cloned()
            .unwrap_or(Hash::Bcrypt(String::new()));
        Ok(BasicAuth {
            users,
            decoy,
            realm: "lido".to_owned(),
            keys: std::collections::hash_map::RandomState::new(),
            remembered: Mutex::new(std::collections::HashSet::new()),
            failures: Mutex::new(HashMap::new()),
        })
    }

    /// The realm the browser shows in its password prompt (`lido` by default). Quotes and
    /// backslashes are left out.
    ///
    /// # Examples
    ///
    /// See [`BasicAuth`].
    pub fn realm(mut self, realm: &str) -> Self {
        self.realm = realm
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect();
        self
    }

    /// Wraps `inner`: a request gets through only with a valid `Authorization: Basic`.
    ///
    /// # Examples
    ///
    /// See [`BasicAuth`].
    pub fn protect<H: Handler>(self, inner: H) -> Protected<H> {
        Protected {
            auth: Arc::new(self),
            inner,
        }
    }

    fn challenge(&self) -> Response {
        Response::text(StatusCode::UNAUTHORIZED, "authentication required\n").with_header(
            "WWW-Authenticate",
            format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.realm),
        )
    }

    /// `None` if `request` may pass; else the refusal.
    fn check(&self, request: &Request) -> Option<Response> {
        let now = Instant::now();
        let ip = request.remote_addr().map(|a| a.ip());
        if let Some(ip) = ip
            && let Some(wait) = self.blocked(ip, now)
        {
            return Some(
                Response::text(StatusCode::TOO_MANY_REQUESTS, "too many failed attempts\n")
                    .with_header(header::RETRY_AFTER, wait.as_secs().max(1).to_string()),
            );
        }
        let Some(header) = request.header_str(header::AUTHORIZATION) else {
            return Some(self.challenge());
        };
        let credentials = header
            .strip_prefix("Basic ")
            .or_else(|| header.strip_prefix("basic "))
            .and_then(|b64| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .ok()
            })
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let ok = match credentials.as_deref().and_then(|c| c.split_once(':')) {
            Some((user, password)) => self.verify(user, password),
            None => false,
        };
        if ok {
            if let Some(ip) = ip {
                self.failures
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&ip);
            }
            return None;
        }
        if let Some(ip) = ip {
            self.failed(ip, now);
        }
        Some(self.challenge())
    }

    fn verify(&self, user: &str, password: &str) -> bool {
        let mut hasher = self.keys.build_hasher();
        hasher.write(user.as_bytes());
        hasher.write_u8(0);
        hasher.write(password.as_bytes());
        let key = hasher.finish();
        if self
            .remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
        {
            return true;
        }
        let ok = match self.users.get(user) {
            Some(hash) => hash.verify(password),
            None => {
                let _ = self.decoy.verify(password);
                false
            }
        };
        if ok {
            let mut remembered = self
                .remembered
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if remembered.len() >= REMEMBERED {
                remembered.clear();
            }
            remembered.insert(key);
        }
        ok
    }

    fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures
            .get(&ip)?
            .blocked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|wait| !wait.is_zero())
    }

    fn failed(&self, ip: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() >= TRACKED && !failures.contains_key(&ip) {
            // Forget the addresses that failed longest ago.
            let mut by_age: Vec<(IpAddr, Option<Instant>)> =
                failures.iter().map(|(ip, f)| (*ip, f.last)).collect();
            by_age.sort_by_key(|(_, last)| *last);
            for (old, _) in by_age.into_iter().take(TRACKED / 2) {
                failures.remove(&old);
            }
        }
        let entry = failures.entry(ip).or_default();
        entry.count = entry.count.saturating_add(1);
        entry.last = Some(now);
        if entry.count >= FREE_FAILURES {
            let doublings = (entry.count - FREE_FAILURES).min(6);
            let wait = Duration::from_secs(1u64 << doublings).min(MAX_BLOCK);
            entry.blocked_until = Some(now + wait);
        }
    }
}

/// A handler behind [`BasicAuth`]; see [`BasicAuth::protect`].
#[derive(Debug)]
pub struct Protected<H> {
    auth: Arc<BasicAuth>,
    inner: H,
}

impl<H: Handler> Handler for Protected<H> {
    fn handle(&self, request: &Request) -> Response {
        match self.auth.check(request) {
            None => self.inner.handle(request),
            Some(refusal) => refusal,
        }
    }

    /// Refused from the head: an unauthenticated client's body is never read.
    fn handle_head(&self, head: &Request) -> Option<Response> {
        match self.auth.check(head) {
            None => self.inner.handle_head(head),
            Some(refusal) => Some(refusal),
        }
    }
}
