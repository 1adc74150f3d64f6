//! HTTPS: the server's certificate and key ([`TlsConfig`]), reloadable while the server runs,
//! and the TLS transport the engine puts under the connection state machine.
//!
//! The crypto provider is `ring`: it builds with nothing but a C compiler (which a fresh
//! machine with Rust already has for `cc`), where `aws-lc-rs` also wants CMake or a longer
//! build, and it covers what a server needs: TLS 1.2 and 1.3, RSA, ECDSA and Ed25519 keys,
//! session tickets.

mod stream;

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

pub(crate) use stream::TlsStream;

/// Why a certificate or key could not be used.
///
/// # Examples
///
/// ```
/// let err = lido::TlsConfig::from_pem_files("/no/such/cert.pem", "/no/such/key.pem")
///     .unwrap_err();
/// assert!(err.to_string().contains("/no/such/cert.pem"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file could not be read or holds no PEM certificate.
    #[error("cannot read a certificate from {path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key file could not be read, holds no PEM private key, or the key is of a kind the
    /// crypto provider cannot sign with.
    #[error("cannot read a private key from {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key is not the one the certificate was issued for.
    #[error("the key in {key} does not belong to the certificate in {cert}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the settings.
    #[error("TLS settings: {0}")]
    Rustls(String),
}

/// A server's HTTPS settings: its certificate chain and private key (read from PEM files),
/// TLS 1.2 and 1.3, ALPN `http/1.1`, session resumption by tickets and by a session cache.
///
/// Cloning is cheap and the clones share the certificate: [`reload`](Self::reload) on any of
/// them changes what new handshakes of every server built with it present, without dropping
/// a connection.
///
/// # Examples
///
/// ```no_run
/// let tls = lido::TlsConfig::from_pem_files("cert.pem", "key.pem")?;
/// let server = lido::Server::builder()
///     .listen("0.0.0.0:443")
///     .tls(tls.clone())
///     .bind(|_req: &lido::http::Request| lido::http::Response::text(lido::http::StatusCode::OK, "hello over TLS\n"))?;
/// // Later, after the files were renewed:
/// tls.reload()?;
/// server.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TlsConfig {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cert_path: PathBuf,
    key_path: PathBuf,
    resolver: Arc<Resolver>,
    server: Arc<rustls::ServerConfig>,
}

/// Hands every handshake the current certificate.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// Sessions remembered for resumption by id (TLS 1.2 clients without tickets).
const SESSION_CACHE: usize = 4096;

/// ring's provider: TLS 1.3 and 1.2 suites, X25519, P-256 and P-384 key exchange. rustls
/// marks it deprecated for lacking the post-quantum hybrid (X25519MLKEM768) that only its
/// aws-lc-rs provider has; docs/DESIGN.md §8 says why lido takes ring all the same.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsConfig {
    /// Reads the certificate chain (leaf first, then intermediates) from `cert` and the
    /// private key (PKCS#8, PKCS#1 RSA or SEC1 EC; RSA, ECDSA or Ed25519) from `key`, both
    /// PEM, and checks that the key belongs to the certificate.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] naming the file: unreadable, no certificate or key in it, a key type
    /// that cannot sign, or a key that does not match the certificate.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let tls = lido::TlsConfig::from_pem_files("/etc/lido/cert.pem", "/etc/lido/key.pem")?;
    /// # Ok::<(), lido::TlsError>(())
    /// ```
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsConfig, TlsError> {
        let cert_path = cert.as_ref().to_path_buf();
        let key_path = key.as_ref().to_path_buf();
        let provider = provider();
        let certified = load(&cert_path, &key_path, &provider)?;
        let resolver = Arc::new(Resolver {
            current: RwLock::new(Arc::new(certified)),
        });
        let mut server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        server.ticketer =
            rustls::crypto::ring::Ticketer::new().map_err(|e| TlsError::Rustls(e.to_string()))?;
        server.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE);
        Ok(TlsConfig {
            inner: Arc::new(Inner {
                cert_path,
                key_path,
                resolver,
                server: Arc::new(server),
            }),
        })
    }

    /// Reads the certificate and key files again and, if they are good, presents them from
    /// the next handshake on. Connections already open keep theirs and are not dropped. A bad
    /// pair is refused and the one in use kept.
    ///
    /// # Errors
    ///
    /// As [`from_pem_files`](Self::from_pem_files); the certificate in use does not change.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let tls = lido::TlsConfig::from_pem_files("cert.pem", "key.pem")?;
    /// // ... the files are renewed ...
    /// if let Err(e) = tls.reload() {
    ///     eprintln!("kept the old certificate: {e}");
    /// }
    /// # Ok::<(), lido::TlsError>(())
    /// ```
    pub fn reload(&self) -> Result<(), TlsError> {
        let certified = load(
            &self.inner.cert_path,
            &self.inner.key_path,
            self.inner.server.crypto_provider(),
        )?;
        *self
            .inner
            .resolver
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
        Ok(())
    }

    /// The certificate file.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let tls = lido::TlsConfig::from_pem_files("cert.pem", "key.pem")?;
    /// assert_eq!(tls.cert_path(), std::path::Path::new("cert.pem"));
    /// # Ok::<(), lido::TlsError>(())
    /// ```
    pub fn cert_path(&self) -> &Path {
        &self.inner.cert_path
    }

    /// The private key file.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let tls = lido::TlsConfig::from_pem_files("cert.pem", "key.pem")?;
    /// assert_eq!(tls.key_path(), std::path::Path::new("key.pem"));
    /// # Ok::<(), lido::TlsError>(())
    /// ```
    pub fn key_path(&self) -> &Path {
        &self.inner.key_path
    }

    /// A new server-side session for an accepted connection.
    pub(crate) fn accept(&self) -> Result<rustls::ServerConnection, rustls::Error> {
        rustls::ServerConnection::new(Arc::clone(&self.inner.server))
    }
}

fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let cert_error = |reason: String| TlsError::Certificate {
        path: cert.to_path_buf(),
        reason,
    };
    let key_error = |reason: String| TlsError::Key {
        path: key.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_error(pem_reason(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(pem_reason(e)))?;
    if chain.is_empty() {
        return Err(cert_error("no PEM certificate in it".into()));
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| key_error(pem_reason(e)))?;
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| key_error(e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::Mismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            })
        }
        Err(e) => Err(cert_error(e.to_string())),
    }
}

fn pem_reason(err: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match err {
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => "no PEM item of the right kind in it".into(),
        other => format!("not valid PEM ({other})"),
    }
}
