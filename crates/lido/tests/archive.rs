//! Streamed bodies (`Body::Stream`: chunked to HTTP/1.1, close-delimited to HTTP/1.0) and the
//! directory archives made with them (`DIR/?format=tar`, `tar.gz`): what goes in follows the
//! listing's rules, the bytes match the files, one file is open at a time.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lido::StaticFiles;
use lido::http::{Body, Request, Response, StatusCode};
use support::{IO_TIMEOUT, TestServer};

/// A response read whole: status, header fields (lower-case names) and the de-chunked body;
/// `complete` is false when a chunked body ended without its last chunk.
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    complete: bool,
}

fn read_reply(reader: &mut BufReader<TcpStream>, head_only: bool) -> Reply {
    let mut line = String::new();
    reader.read_line(&mut line).expect("a status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status in {line:?}"));
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("a header line");
        let field = line.trim_end();
        if field.is_empty() {
            break;
        }
        let (name, value) = field.split_once(':').expect("a field");
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let mut body = Vec::new();
    let mut complete = true;
    if head_only {
    } else if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        complete = false;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let size = usize::from_str_radix(line.trim_end(), 16).expect("a chunk size");
            if size == 0 {
                line.clear();
                reader.read_line(&mut line).expect("the last CRLF");
                complete = true;
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            if reader.read_exact(&mut body[start..]).is_err() {
                body.truncate(start);
                break;
            }
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf).expect("a CRLF");
            assert_eq!(&crlf, b"\r\n");
        }
    } else if let Some(len) = headers.get("content-length") {
        body.resize(len.parse().expect("a length"), 0);
        reader.read_exact(&mut body).expect("the body");
    } else {
        reader
            .read_to_end(&mut body)
            .expect("the body to the close");
    }
    Reply {
        status,
        headers,
        body,
        complete,
    }
}

fn connect(server: &TestServer) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    BufReader::new(stream)
}

fn request(reader: &mut BufReader<TcpStream>, text: &str) {
    reader
        .get_mut()
        .write_all(text.as_bytes())
        .expect("send a request");
}

fn get(server: &TestServer, target: &str) -> Reply {
    let mut reader = connect(server);
    request(
        &mut reader,
        &format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    read_reply(&mut reader, false)
}

/// Names (and contents, for files) in a tar archive.
fn entries(tar_bytes: &[u8]) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut found = BTreeMap::new();
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("an entry");
        let name = entry.path().expect("a path").to_string_lossy().into_owned();
        let content = if entry.header().entry_type().is_dir() {
            None
        } else {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("content");
            Some(bytes)
        };
        found.insert(name, content);
    }
    found
}

fn tree(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lido-archive-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("docs/deep")).expect("dirs");
    std::fs::create_dir_all(site.join(".secret")).expect("dirs");
    std::fs::write(site.join("docs/a.txt"), "alpha\n").expect("write");
    std::fs::write(site.join("docs/deep/b.bin"), support::pattern(70_000)).expect("write");
    std::fs::write(site.join("docs/.hidden"), "no\n").expect("write");
    std::fs::write(site.join(".secret/key"), "no\n").expect("write");
    std::fs::write(dir.join("outside.txt"), "outside\n").expect("write");
    let long = "l".repeat(90);
    std::fs::create_dir_all(site.join(format!("docs/{long}"))).expect("dirs");
    std::fs::write(site.join(format!("docs/{long}/{long}.txt")), "long\n").expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("a.txt", site.join("docs/inside-link")).expect("symlink");
        symlink(dir.join("outside.txt"), site.join("docs/outside-link")).expect("symlink");
        symlink("..", site.join("docs/deep/loop")).expect("symlink");
    }
    dir
}

fn expected(long: &str) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut map = BTreeMap::new();
    map.insert("docs/".to_owned(), None);
    map.insert("docs/a.txt".to_owned(), Some(b"alpha\n".to_vec()));
    map.insert("docs/deep/".to_owned(), None);
    map.insert("docs/deep/b.bin".to_owned(), Some(support::pattern(70_000)));
    map.insert(format!("docs/{long}/"), None);
    map.insert(format!("docs/{long}/{long}.txt"), Some(b"long\n".to_vec()));
    #[cfg(unix)]
    map.insert("docs/inside-link".to_owned(), Some(b"alpha\n".to_vec()));
    map
}

fn files_server(root: &Path, configure: impl FnOnce(StaticFiles) -> StaticFiles) -> TestServer {
    let files = configure(StaticFiles::new(root.join("site")).expect("serve"));
    TestServer::start(|b| b, files)
}

#[test]
fn a_directory_downloads_as_tar_following_the_listing_rules() {
    let dir = tree("tar");
    let server = files_server(&dir, |f| f);
    let reply = get(&server, "/docs/?format=tar");
    assert_eq!(reply.status, 200);
    assert!(reply.complete, "the last chunk");
    assert_eq!(reply.headers["content-type"], "application/x-tar");
    assert_eq!(reply.headers["transfer-encoding"], "chunked");
    assert_eq!(
        reply.headers["content-disposition"],
        "attachment; filename=\"docs.tar\""
    );
    assert!(!reply.headers.contains_key("content-length"));
    // Hidden names, the link out of the root and the loop stay out; long names survive.
    assert_eq!(entries(&reply.body), expected(&"l".repeat(90)));
}

#[test]
fn tar_gz_decodes_to_the_same_archive() {
    let dir = tree("targz");
    let server = files_server(&dir, |f| f);
    let reply = get(&server, "/docs/?format=tar.gz");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/gzip");
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&reply.body[..])
        .read_to_end(&mut tar_bytes)
        .expect("gzip");
    assert_eq!(entries(&tar_bytes), expected(&"l".repeat(90)));
}

#[test]
fn the_listing_offers_what_is_on() {
    let dir = tree("offer");
    let on = files_server(&dir, |f| f);
    let page = String::from_utf8(get(&on, "/docs/").body).expect("html");
    assert!(page.contains("href=\"?format=tar\""), "{page}");
    assert!(page.contains("href=\"?format=tar.gz\""), "{page}");

    // Compression off: tar only.
    let plain = files_server(&dir, |f| f.compression(false, 0));
    let page = String::from_utf8(get(&plain, "/docs/").body).expect("html");
    assert!(page.contains("?format=tar\""), "{page}");
    assert!(!page.contains("tar.gz"), "{page}");
    assert_eq!(get(&plain, "/docs/?format=tar.gz").status, 404);
    assert_eq!(get(&plain, "/docs/?format=tar").status, 200);

    // Archives off: no links, 404.
    let off = files_server(&dir, |f| f.archives(false));
    let page = String::from_utf8(get(&off, "/docs/").body).expect("html");
    assert!(!page.contains("format=tar"), "{page}");
    assert_eq!(get(&off, "/docs/?format=tar").status, 404);
    // Hidden directories stay hidden, archive or not.
    assert_eq!(get(&on, "/.secret/?format=tar").status, 404);
}

#[test]
fn http_10_gets_the_archive_ended_by_the_close() {
    let dir = tree("http10");
    let server = files_server(&dir, |f| f);
    let mut reader = connect(&server);
    request(&mut reader, "GET /docs/?format=tar HTTP/1.0\r\n\r\n");
    let reply = read_reply(&mut reader, false);
    assert_eq!(reply.status, 200);
    assert!(!reply.headers.contains_key("transfer-encoding"));
    assert_eq!(reply.headers["connection"], "close");
    assert_eq!(entries(&reply.body), expected(&"l".repeat(90)));
}

#[test]
fn head_and_keep_alive_after_a_stream() {
    let dir = tree("head");
    let server = files_server(&dir, |f| f);
    let mut reader = connect(&server);
    // HEAD, then a streamed GET, then a plain GET, all on one connection (pipelined).
    request(
        &mut reader,
        "HEAD /docs/?format=tar HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /docs/?format=tar HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /docs/a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let head = read_reply(&mut reader, true);
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["transfer-encoding"], "chunked");
    let tar = read_reply(&mut reader, false);
    assert!(tar.complete);
    assert_eq!(entries(&tar.body), expected(&"l".repeat(90)));
    let file = read_reply(&mut reader, false);
    assert_eq!(file.body, b"alpha\n");
}

#[cfg(target_os = "linux")]
#[test]
fn one_file_is_open_at_a_time() {
    let dir = std::env::temp_dir().join(format!("lido-archive-fds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("site/many")).expect("dirs");
    for i in 0..400 {
        std::fs::write(
            dir.join(format!("site/many/f{i:03}")),
            support::pattern(20_000),
        )
        .expect("write");
    }
    let server = files_server(&dir, |f| f);
    let open_fds = || std::fs::read_dir("/proc/self/fd").expect("fds").count();
    let before = open_fds();
    let mut reader = connect(&server);
    request(
        &mut reader,
        "GET /many/?format=tar HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    // Read a little, then look while the rest waits (the socket buffers are full).
    let mut first = vec![0u8; 200_000];
    reader.read_exact(&mut first).expect("the start");
    std::thread::sleep(Duration::from_millis(100));
    let during = open_fds();
    assert!(
        during <= before + 8,
        "{before} descriptors before, {during} during the archive of 400 files"
    );
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).expect("the rest");
    assert!(first.len() + rest.len() > 400 * 20_000);
}

#[test]
fn a_handler_streams_a_body_and_a_failing_reader_cuts_it() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("the source broke"));
            }
            let n = buf.len().min(self.0).min(1000);
            buf[..n].fill(b'z');
            self.0 -= n;
            Ok(n)
        }
    }
    let server = TestServer::start(
        |b| b,
        |req: &Request| match req.path() {
            "/fail" => Response::new(StatusCode::OK).with_body(Body::stream(Failing(5000))),
            _ => Response::new(StatusCode::OK).with_body(Body::stream(std::io::Read::take(
                std::io::repeat(b'x'),
                1_000_000,
            ))),
        },
    );
    let mut reader = connect(&server);
    for _ in 0..2 {
        request(&mut reader, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
        let reply = read_reply(&mut reader, false);
        assert!(reply.complete);
        assert_eq!(reply.body, vec![b'x'; 1_000_000]);
    }
    let reply = get(&server, "/fail");
    assert_eq!(reply.status, 200);
    assert!(!reply.complete, "a failed stream must not look whole");
    assert_eq!(reply.body.len(), 5000);
}
