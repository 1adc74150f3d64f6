//! HTTPS through the library: handshakes (TLS 1.2 and 1.3, ALPN, resumption, every key
//! kind), responses small and large, certificate reload without dropping a connection, and
//! what reaches a TLS port that is not TLS (plain HTTP, garbage, a stalled handshake), none of
//! which may hold a worker.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lido::http::{Body, Request, Response, StatusCode};
use lido::{ServerBuilder, TlsConfig};
use support::tls::{Certificate, KeyKind, cert_dir, client, connect, finish_response, try_connect};
use support::{IO_TIMEOUT, TestServer, pattern, read_response, read_until_closed};

fn handler(req: &Request) -> Response {
    match req.path() {
        "/big" => {
            // Made once: twenty requests for it must not cost twenty fills of 3 MiB on the
            // test's one worker (a debug build fills slowly).
            static BIG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let body = BIG.get_or_init(|| pattern(3 * 1024 * 1024 + 17)).clone();
            Response::bytes(StatusCode::OK, "application/octet-stream", body)
        }
        "/file" => {
            let path = std::env::temp_dir().join(format!("lido-tls-file-{}", std::process::id()));
            if !path.exists() {
                std::fs::write(&path, pattern(2 * 1024 * 1024 + 5)).expect("write the file");
            }
            let file = std::fs::File::open(&path).expect("open the file");
            let len = file.metadata().expect("metadata").len();
            Response::new(StatusCode::OK).with_body(Body::file(file, 0, len))
        }
        path => Response::text(
            StatusCode::OK,
            format!("{} {path} {}", req.method(), req.body().len()),
        ),
    }
}

fn tls_server(cert: &Certificate) -> (TestServer, TlsConfig) {
    tls_server_with(cert, |b| b)
}

/// A TLS server with `cert`, its builder further set up by `configure`.
fn tls_server_with(
    cert: &Certificate,
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> (TestServer, TlsConfig) {
    let tls = TlsConfig::from_pem_files(&cert.cert_path, &cert.key_path).expect("load the pair");
    let server = TestServer::start(|b| configure(b.tls(tls.clone())), handler);
    (server, tls)
}

fn get(stream: &mut impl ReadWrite, path: &str) -> support::HttpReply {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send a request");
    stream.flush().expect("flush");
    read_response(stream)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

#[test]
fn serves_over_tls_13_and_12_with_alpn() {
    let dir = cert_dir("versions");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (server, _tls) = tls_server(&cert);
    for (versions, expect) in [
        (
            &[&rustls::version::TLS13][..],
            rustls::ProtocolVersion::TLSv1_3,
        ),
        (
            &[&rustls::version::TLS12][..],
            rustls::ProtocolVersion::TLSv1_2,
        ),
    ] {
        let config = client(&[&cert.der], versions);
        let mut stream = connect(server.addr, &config);
        assert_eq!(stream.conn.protocol_version(), Some(expect));
        assert_eq!(stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        // Keep-alive: several requests on one TLS connection.
        for i in 0..3 {
            let reply = get(&mut stream, &format!("/n{i}"));
            assert_eq!(reply.status, 200);
            assert_eq!(reply.body, format!("GET /n{i} 0").into_bytes());
        }
    }
}

#[test]
fn every_key_kind_works() {
    let dir = cert_dir("kinds");
    for (name, kind) in [
        ("ecdsa", KeyKind::EcdsaP256),
        ("ed25519", KeyKind::Ed25519),
        ("rsa", KeyKind::Rsa),
    ] {
        let cert = Certificate::make(&dir, name, kind);
        let (server, _tls) = tls_server(&cert);
        let mut stream = connect(server.addr, &client(&[&cert.der], &[]));
        assert_eq!(get(&mut stream, "/").status, 200, "{name}");
    }
}

#[test]
fn a_second_connection_resumes_the_session() {
    let dir = cert_dir("resume");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (server, _tls) = tls_server(&cert);
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let config = client(&[&cert.der], versions);
        let mut first = connect(server.addr, &config);
        assert_eq!(
            first.conn.handshake_kind(),
            Some(rustls::HandshakeKind::Full)
        );
        // TLS 1.3 tickets arrive after the handshake: a request makes sure they were read.
        assert_eq!(get(&mut first, "/").status, 200);
        let mut second = connect(server.addr, &config);
        assert_eq!(
            second.conn.handshake_kind(),
            Some(rustls::HandshakeKind::Resumed),
            "{versions:?}"
        );
        assert_eq!(get(&mut second, "/").status, 200);
    }
}

#[test]
fn large_bodies_arrive_whole_from_memory_and_from_files() {
    let dir = cert_dir("large");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (server, _tls) = tls_server(&cert);
    let mut stream = connect(server.addr, &client(&[&cert.der], &[]));
    let reply = get(&mut stream, "/big");
    assert_eq!(reply.body, pattern(3 * 1024 * 1024 + 17));
    let reply = get(&mut stream, "/file");
    assert_eq!(reply.body, pattern(2 * 1024 * 1024 + 5));
    // A request body, and a pipelined pair in one write.
    let body = pattern(100_000);
    write!(
        stream,
        "POST /up HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("send a head");
    stream.write_all(&body).expect("send a body");
    assert_eq!(read_response(&mut stream).body, b"POST /up 100000");
    stream
        .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("pipeline");
    assert_eq!(read_response(&mut stream).body, b"GET /a 0");
    assert_eq!(read_response(&mut stream).body, b"GET /b 0");
}

#[test]
fn a_slow_reader_gets_a_large_file_whole() {
    // The socket fills: the server's writes would block mid-record, and the rest must still
    // come out in order once the client reads again.
    let dir = cert_dir("slow");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (server, _tls) = tls_server(&cert);
    let mut stream = connect(server.addr, &client(&[&cert.der], &[]));
    stream
        .sock
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(stream, "GET /file HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    std::thread::sleep(Duration::from_millis(300));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let expected = 2 * 1024 * 1024 + 5;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let n = stream.read(&mut buf).expect("read");
        assert_ne!(n, 0, "closed early after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n")
            && got.len() >= end + 4 + expected
        {
            assert_eq!(&got[end + 4..], &pattern(expected)[..]);
            return;
        }
    }
    panic!("the file did not arrive in time");
}

#[test]
fn the_certificate_reloads_without_dropping_a_connection() {
    let dir = cert_dir("reload");
    let old = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (server, tls) = tls_server(&old);
    let new = Certificate::make(&dir, "next", KeyKind::Ed25519);
    let config = client(&[&old.der, &new.der], &[]);
    let mut open = connect(server.addr, &config);
    let presented =
        |s: &support::tls::TlsClient| s.conn.peer_certificates().expect("a chain")[0].clone();
    assert_eq!(presented(&open), old.der);

    // A bad pair (the new certificate with the old key) is refused; the old one stays.
    std::fs::copy(&new.cert_path, &old.cert_path).expect("copy");
    let err = tls.reload().expect_err("a mismatched pair");
    assert!(matches!(err, lido::TlsError::Mismatch { .. }), "{err}");
    assert_eq!(presented(&connect(server.addr, &config)), old.der);

    // The good pair: new handshakes get it, the open connection goes on.
    std::fs::copy(&new.key_path, &old.key_path).expect("copy");
    tls.reload().expect("reload");
    assert_eq!(presented(&connect(server.addr, &config)), new.der);
    assert_eq!(get(&mut open, "/still").status, 200);
    assert_eq!(presented(&open), old.der);
}

#[test]
fn bad_files_are_clear_errors() {
    let dir = cert_dir("bad");
    let good = Certificate::make(&dir, "good", KeyKind::EcdsaP256);
    let other = Certificate::make(&dir, "other", KeyKind::EcdsaP256);
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a PEM file\n").expect("write");
    let missing = dir.join("missing.pem");
    let cases: [(&std::path::Path, &std::path::Path, &str); 5] = [
        (&missing, &good.key_path, "cannot read a certificate"),
        (&junk, &good.key_path, "no PEM certificate"),
        (&good.cert_path, &missing, "cannot read a private key"),
        (&good.cert_path, &junk, "cannot read a private key"),
        (&good.cert_path, &other.key_path, "does not belong"),
    ];
    for (cert, key, says) in cases {
        let err = TlsConfig::from_pem_files(cert, key).expect_err("a bad pair");
        let text = err.to_string();
        assert!(text.contains(says), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }
    // The key file given as the certificate and the reverse.
    assert!(TlsConfig::from_pem_files(&good.key_path, &good.cert_path).is_err());
}

#[test]
fn plain_http_to_the_tls_port_gets_a_clear_text_400() {
    let dir = cert_dir("plain");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (server, _tls) = tls_server(&cert);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let (bytes, _) = read_until_closed(&mut stream, IO_TIMEOUT);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    assert!(text.contains("https://"), "{text}");
    let length: usize = support::header_in(&text, "content-length")
        .expect("a length")
        .parse()
        .expect("a number");
    assert_eq!(text.split_once("\r\n\r\n").expect("a head").1.len(), length);
}

#[test]
fn garbage_and_stalled_handshakes_hold_no_worker() {
    let dir = cert_dir("stall");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (server, _tls) =
        tls_server_with(&cert, |b| b.threads(1).head_timeout(Duration::from_secs(1)));
    // Garbage that is not a handshake: closed at once.
    let mut garbage = TcpStream::connect(server.addr).expect("connect");
    garbage.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    garbage.write_all(&[0x00, 0xff, 0x13, 0x37]).expect("send");
    let (_, end) = read_until_closed(&mut garbage, IO_TIMEOUT);
    assert_ne!(end, support::End::TimedOut);
    // A record header that claims a handshake, then nonsense: an alert and a close.
    let mut bad_record = TcpStream::connect(server.addr).expect("connect");
    bad_record
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("timeout");
    bad_record
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00])
        .expect("send");
    let (_, end) = read_until_closed(&mut bad_record, IO_TIMEOUT);
    assert_ne!(end, support::End::TimedOut);

    // 200 clients that open TCP and never start, and 200 that send half a ClientHello,
    // beside one worker: a real client is still served at once.
    let mut stalled = Vec::new();
    for i in 0..400 {
        let mut s = TcpStream::connect(server.addr).expect("connect");
        if i % 2 == 1 {
            s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                .expect("half a hello");
        }
        stalled.push(s);
    }
    let config = client(&[&cert.der], &[]);
    let started = Instant::now();
    let mut stream = connect(server.addr, &config);
    assert_eq!(get(&mut stream, "/").status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?} beside stalled handshakes",
        started.elapsed()
    );
    // The head timeout cuts the stalled ones (no 408: nothing was asked in TLS).
    for s in stalled.iter_mut().take(4) {
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        let (_, end) = read_until_closed(s, IO_TIMEOUT);
        assert_ne!(end, support::End::TimedOut);
    }
}

#[test]
fn idle_and_slow_tls_clients_hold_no_worker() {
    let dir = cert_dir("idle");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (server, _tls) = tls_server_with(&cert, |b| b.threads(1));
    let config = client(&[&cert.der], &[]);
    // 100 clients that finished their handshake and a request, then stay idle...
    let mut idle = Vec::new();
    for _ in 0..100 {
        let mut stream = connect(server.addr, &config);
        assert_eq!(get(&mut stream, "/").status, 200);
        idle.push(stream);
    }
    // ...20 that send half a request head over TLS...
    let mut half = Vec::new();
    for _ in 0..20 {
        let mut stream = connect(server.addr, &config);
        stream
            .write_all(b"GET / HTTP/1.1\r\nHo")
            .expect("half a head");
        stream.flush().expect("flush");
        half.push(stream);
    }
    // ...and 20 that ask for 3 MiB and read none of it.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = connect(server.addr, &config);
        write!(stream, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
        stream.flush().expect("flush");
        slow.push(stream);
    }
    // One worker, and a new client is still answered at once.
    let started = Instant::now();
    let mut stream = connect(server.addr, &config);
    assert_eq!(get(&mut stream, "/fresh").status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?} beside idle and slow TLS clients",
        started.elapsed()
    );
    // The idle ones are still served too.
    assert_eq!(get(&mut idle[0], "/again").status, 200);
}

#[test]
fn the_engine_limits_apply_over_tls() {
    let dir = cert_dir("limits");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (server, _tls) = tls_server_with(&cert, |b| {
        b.max_body(1000).head_timeout(Duration::from_millis(800))
    });
    let config = client(&[&cert.der], &[]);
    // Bad input: the same statuses as over TCP.
    let cases: [(&[u8], u16); 4] = [
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
            413,
        ),
        (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
        ),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505),
    ];
    for (request, status) in cases {
        let mut stream = connect(server.addr, &config);
        stream.write_all(request).expect("send");
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(request));
    }
    // A head that stalls after the handshake: 408 over TLS, then the close.
    let mut stream = connect(server.addr, &config);
    stream.write_all(b"GET / HTTP/1.1\r\nHost").expect("send");
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 408);
}

#[test]
fn a_drain_finishes_a_tls_download_in_flight() {
    let dir = cert_dir("drain");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (mut server, _tls) = tls_server(&cert);
    let config = client(&[&cert.der], &[]);
    let mut stream = connect(server.addr, &config);
    write!(stream, "GET /file HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    let mut first = [0u8; 1024];
    stream
        .read_exact(&mut first)
        .expect("the start of the response");
    server.handle.shutdown();
    let (head, body) = finish_response(&mut stream, &first);
    assert!(head.starts_with(b"HTTP/1.1 200 "));
    assert_eq!(body, pattern(2 * 1024 * 1024 + 5));
    server.join_within(Duration::from_secs(20)).expect("stops");
}

#[test]
fn many_clients_at_once_all_get_answers() {
    let dir = cert_dir("many");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (server, _tls) = tls_server(&cert);
    let config = client(&[&cert.der], &[]);
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let config = Arc::clone(&config);
            let done = Arc::clone(&done);
            let addr = server.addr;
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let mut stream = try_connect(addr, &config).expect("handshake");
                    for _ in 0..5 {
                        assert_eq!(get(&mut stream, "/x").status, 200);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a client thread");
    }
    assert_eq!(done.load(Ordering::Relaxed), 400);
}
