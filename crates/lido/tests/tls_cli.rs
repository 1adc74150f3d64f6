//! HTTPS through the binary: --tls-cert/--tls-key, bad files, HSTS, --redirect-http, SIGHUP
//! reloading the certificate, SIGTERM draining a TLS download, and curl as a client.

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use support::binary::{DEADLINE, Running, lido, run, temp_dir, wait_for};
use support::tls::{Certificate, KeyKind, client, connect, finish_response};
use support::{pattern, read_response};

fn start_https(dir: &std::path::Path, cert: &Certificate, extra: &[&str]) -> (Running, String) {
    let mut command = lido();
    command
        .arg(dir)
        .args(["--listen", "127.0.0.1:0", "--quiet"])
        .arg("--tls-cert")
        .arg(&cert.cert_path)
        .arg("--tls-key")
        .arg(&cert.key_path)
        .args(extra);
    let running = Running::start(command);
    assert!(running.lines[0].contains("https://"), "{:?}", running.lines);
    let addr = running.addr("lido: serving");
    (running, addr)
}

fn https_get(
    addr: &str,
    config: &std::sync::Arc<rustls::ClientConfig>,
    path: &str,
) -> support::HttpReply {
    let mut stream = connect(addr.parse().expect("an address"), config);
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send");
    read_response(&mut stream)
}

#[test]
fn serves_https_with_hsts() {
    let dir = temp_dir("tls-serve");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (_lido, addr) = start_https(&dir, &cert, &["--hsts", "600"]);
    let reply = https_get(&addr, &client(&[&cert.der], &[]), "/");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"<h1>hi</h1>\n");
    assert_eq!(
        reply.header("strict-transport-security"),
        Some("max-age=600")
    );
}

#[test]
fn security_headers_add_a_year_of_hsts_over_https_only() {
    let dir = temp_dir("tls-sec");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (_lido, addr) = start_https(&dir, &cert, &["--security-headers"]);
    let reply = https_get(&addr, &client(&[&cert.der], &[]), "/");
    assert_eq!(
        reply.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let mut plain = lido();
    plain
        .arg(&dir)
        .args(["--listen", "127.0.0.1:0", "--quiet", "--security-headers"]);
    let plain = Running::start(plain);
    let (status, head, _) = support::binary::get(&plain.addr("lido: serving"), "/").expect("get");
    assert_eq!(status, 200);
    assert!(head.contains("x-frame-options"), "{head}");
    assert!(!head.contains("strict-transport-security"), "{head}");
}

#[test]
fn bad_certificate_files_are_one_line_errors() {
    let dir = temp_dir("tls-bad");
    let good = Certificate::make(&dir, "good", KeyKind::EcdsaP256);
    let other = Certificate::make(&dir, "other", KeyKind::Ed25519);
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "hello\n").expect("write");
    let cases: [(&std::path::Path, &std::path::Path, &str); 4] = [
        (
            &dir.join("missing.pem"),
            &good.key_path,
            "cannot read a certificate",
        ),
        (&junk, &good.key_path, "no PEM certificate"),
        (&good.cert_path, &junk, "cannot read a private key"),
        (&good.cert_path, &other.key_path, "does not belong"),
    ];
    for (cert, key, says) in cases {
        let output = run(lido()
            .arg(&dir)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key));
        assert_eq!(output.status.code(), Some(1), "{says}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr.lines().last().unwrap_or_default();
        assert!(line.starts_with("lido: --tls-cert: "), "{stderr}");
        assert!(line.contains(says), "{stderr}");
    }
    // One without the other, or HTTPS-only flags without a certificate: usage errors.
    for args in [
        &["--tls-cert", "x.pem"][..],
        &["--tls-key", "x.pem"],
        &["--hsts", "60"],
        &["--redirect-http", "127.0.0.1:0"],
    ] {
        let output = run(lido().arg(&dir).args(args));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn redirect_http_sends_clients_to_https() {
    let dir = temp_dir("tls-redirect");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let (lido, addr) = start_https(&dir, &cert, &["--redirect-http", "127.0.0.1:0"]);
    let plain = lido.addr("lido: redirecting");
    let port = addr.rsplit(':').next().expect("a port");
    let mut stream = std::net::TcpStream::connect(&plain).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    stream
        .write_all(b"GET /a/b?c=d HTTP/1.1\r\nHost: example.org\r\n\r\n")
        .expect("send");
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 308);
    assert_eq!(
        reply.header("location"),
        Some(format!("https://example.org:{port}/a/b?c=d").as_str())
    );
}

#[test]
fn sighup_reloads_the_certificate_and_keeps_it_when_the_new_one_is_bad() {
    let dir = temp_dir("tls-hup");
    let old = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let new = Certificate::make(&dir, "next", KeyKind::EcdsaP256);
    let (lido, addr) = start_https(&dir, &old, &[]);
    let config = client(&[&old.der, &new.der], &[]);
    let presented = || {
        let stream = connect(addr.parse().expect("an address"), &config);
        stream.conn.peer_certificates().expect("a chain")[0].clone()
    };
    let mut open = connect(addr.parse().expect("an address"), &config);
    assert_eq!(presented(), old.der);

    // A bad pair: the old certificate stays in use.
    std::fs::write(&old.cert_path, "garbage").expect("write");
    lido.signal("HUP");
    std::fs::copy(&new.cert_path, &old.cert_path).expect("copy");
    // Still the old one (the key file was not replaced yet: the pair mismatches).
    lido.signal("HUP");
    assert_eq!(presented(), old.der);

    std::fs::copy(&new.key_path, &old.key_path).expect("copy");
    lido.signal("HUP");
    wait_for("the new certificate", || presented() == new.der);
    // The connection opened before the reload was not dropped.
    write!(open, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send");
    assert_eq!(read_response(&mut open).status, 200);
}

#[test]
fn sigterm_lets_a_tls_download_finish() {
    let dir = temp_dir("tls-drain");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let body = pattern(4 * 1024 * 1024);
    std::fs::write(dir.join("big.bin"), &body).expect("write");
    let (lido, addr) = start_https(&dir, &cert, &[]);
    let mut stream = connect(
        addr.parse().expect("an address"),
        &client(&[&cert.der], &[]),
    );
    write!(stream, "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send");
    let mut first = [0u8; 4096];
    stream.read_exact(&mut first).expect("the start");
    lido.signal("TERM");
    let (_, got) = finish_response(&mut stream, &first);
    assert_eq!(got, body);
    assert_eq!(lido.wait(Duration::from_secs(20)), Some(0));
}

/// curl (OpenSSL) as the client. curl is not part of the test command's requirements:
/// `.ci/run` installs it and runs the ignored tests of this file.
#[test]
#[ignore = "needs curl; .ci/run installs it and runs this"]
fn curl_with_cacert() {
    let dir = temp_dir("tls-curl");
    let cert = Certificate::make(&dir, "site", KeyKind::EcdsaP256);
    let body = pattern(300_000);
    std::fs::write(dir.join("data.bin"), &body).expect("write");
    std::fs::write(dir.join("app.js"), "console.log('hello');\n".repeat(200)).expect("write");
    let (_lido, addr) = start_https(&dir, &cert, &[]);
    let port = addr.rsplit(':').next().expect("a port");
    let url = |path: &str| format!("https://localhost:{port}{path}");
    let curl = |args: &[&str]| {
        let output = Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&cert.cert_path)
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .args(args)
            .output()
            .expect("run curl (apt-get install -y curl)");
        assert!(
            output.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    assert_eq!(curl(&[&url("/")]), b"<h1>hi</h1>\n");
    assert_eq!(curl(&[&url("/data.bin")]), body);
    // Two URLs on one connection (keep-alive over TLS), and a compressed answer.
    let both = curl(&[&url("/"), &url("/")]);
    assert_eq!(both, b"<h1>hi</h1>\n<h1>hi</h1>\n");
    let js = curl(&["--compressed", &url("/app.js")]);
    assert_eq!(js, "console.log('hello');\n".repeat(200).into_bytes());
    // The TLS version and ALPN as curl saw them.
    let info = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{ssl_verify_result}",
        &url("/"),
    ]);
    assert_eq!(String::from_utf8_lossy(&info), "1.1 0");
}
