//! The file-serving switches of the `lido` binary: compression on the fly and
//! `--no-compress`, directory archives and `--no-archive`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use support::binary::{Running, lido, temp_dir};

/// Starts lido on `root` with `extra` flags and sends `request`; the reply, lower-cased.
fn ask(root: &std::path::Path, extra: &[&str], request: &[u8]) -> String {
    let mut command = lido();
    command
        .arg(root)
        .args(["--listen", "127.0.0.1:0", "--quiet"])
        .args(extra);
    let server = Running::start(command);
    let mut stream = TcpStream::connect(server.addr("lido: serving")).expect("connect");
    stream.write_all(request).expect("send");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read");
    String::from_utf8_lossy(&reply).to_ascii_lowercase()
}

#[test]
fn compression_on_the_fly_by_default_and_no_compress_turns_it_off() {
    let root = temp_dir("compress");
    std::fs::write(root.join("app.js"), "let lido = 1;\n".repeat(200)).expect("write");
    let request =
        b"GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n";
    assert!(ask(&root, &[], request).contains("\r\ncontent-encoding: gzip\r\n"));
    let plain = ask(&root, &["--no-compress"], request);
    assert!(!plain.contains("content-encoding"), "{plain}");
}

#[test]
fn archives_by_default_and_no_archive_turns_them_off() {
    let root = temp_dir("archive");
    std::fs::create_dir_all(root.join("dir")).expect("mkdir");
    std::fs::write(root.join("dir/a.txt"), "a\n").expect("write");
    let request = b"GET /dir/?format=tar HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let on = ask(&root, &[], request);
    assert!(on.starts_with("http/1.1 200 "), "{on}");
    assert!(on.contains("content-type: application/x-tar"), "{on}");
    assert!(on.contains("dir/a.txt"), "{on}");
    let off = ask(&root, &["--no-archive"], request);
    assert!(off.starts_with("http/1.1 404 "), "{off}");
    let gz = b"GET /dir/?format=tar.gz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert!(ask(&root, &["--no-compress"], gz).starts_with("http/1.1 404 "));
}
