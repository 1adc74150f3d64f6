//! Certificates made in the test (rcgen) and a rustls client, for the HTTPS tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::IO_TIMEOUT;

/// A 2048-bit RSA key made once with openssl for these tests (ring cannot generate RSA keys);
/// never used for anything else.
const TEST_RSA_KEY: &str = include_str!("../fixtures/test-rsa-key.pem");

/// The kinds of key a certificate can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    EcdsaP256,
    Ed25519,
    Rsa,
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, written as PEM files.
pub(crate) struct Certificate {
    pub(crate) cert_path: PathBuf,
    pub(crate) key_path: PathBuf,
    pub(crate) der: CertificateDer<'static>,
    pub(crate) cert_pem: String,
}

impl Certificate {
    /// Makes one and writes `NAME.crt` and `NAME.key` in `dir`.
    pub(crate) fn make(dir: &Path, name: &str, kind: KeyKind) -> Certificate {
        let key = match kind {
            KeyKind::EcdsaP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyKind::Ed25519 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519),
            KeyKind::Rsa => rcgen::KeyPair::from_pem(TEST_RSA_KEY),
        }
        .expect("a key");
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("certificate parameters");
        let cert = params.self_signed(&key).expect("a self-signed certificate");
        let cert_path = dir.join(format!("{name}.crt"));
        let key_path = dir.join(format!("{name}.key"));
        std::fs::write(&cert_path, cert.pem()).expect("write the certificate");
        std::fs::write(&key_path, key.serialize_pem()).expect("write the key");
        Certificate {
            cert_path,
            key_path,
            der: cert.der().clone(),
            cert_pem: cert.pem(),
        }
    }
}

/// A directory for one test's certificates.
pub(crate) fn cert_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lido-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make a temp dir");
    dir
}

/// A client that trusts `roots` only, speaking `versions` (both when empty) and offering ALPN
/// `http/1.1`. Its session cache makes a second connection resume.
pub(crate) fn client(
    roots: &[&CertificateDer<'static>],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add((*root).clone()).expect("a root certificate");
    }
    let builder = if versions.is_empty() {
        ClientConfig::builder()
    } else {
        ClientConfig::builder_with_protocol_versions(versions)
    };
    let mut config = builder.with_root_certificates(store).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

pub(crate) type TlsClient = StreamOwned<ClientConnection, TcpStream>;

/// Connects and completes the handshake (bounded by the socket timeouts).
pub(crate) fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> TlsClient {
    try_connect(addr, config).expect("a TLS handshake")
}

/// Connects and tries the handshake.
pub(crate) fn try_connect(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
) -> std::io::Result<TlsClient> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    let name = ServerName::try_from("localhost").expect("a server name");
    let conn = ClientConnection::new(Arc::clone(config), name).map_err(std::io::Error::other)?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Reads the rest of a response whose first bytes were `started`, to the server's
/// close_notify: its head (status line and fields) and its body.
pub(crate) fn finish_response(stream: &mut TlsClient, started: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use std::io::Read;
    let mut got = started.to_vec();
    stream
        .read_to_end(&mut got)
        .expect("the rest, ended by close_notify");
    let end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let body = got.split_off(end + 4);
    (got, body)
}
