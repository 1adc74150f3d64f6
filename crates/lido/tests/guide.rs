//! docs/GUIDE.md, run: every recipe's `lido` command is read from the guide as written, run
//! on a temporary directory and a free port, and checked against what the recipe promises.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::binary::{DEADLINE, Running, lido, socket_activated, temp_dir, wait_for};

const GUIDE: &str = include_str!("../../../docs/GUIDE.md");

/// The shell lines of the recipe under the heading `## {title}` (its ```sh blocks).
fn recipe_lines(title: &str) -> Vec<String> {
    let heading = format!("## {title}\n");
    let start = GUIDE
        .find(&heading)
        .unwrap_or_else(|| panic!("no recipe {title:?} in docs/GUIDE.md"));
    let body = &GUIDE[start + heading.len()..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    let mut lines = Vec::new();
    let mut in_sh = false;
    for line in body.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            text if in_sh && !text.is_empty() => lines.push(text.to_owned()),
            _ => {}
        }
    }
    lines
}

/// A block of another language in the recipe (```toml).
fn recipe_block(title: &str, language: &str) -> String {
    let heading = format!("## {title}\n");
    let body = &GUIDE[GUIDE.find(&heading).expect("the recipe") + heading.len()..];
    let open = format!("```{language}\n");
    let start = body.find(&open).expect("the block") + open.len();
    body[start..start + body[start..].find("```").expect("its end")].to_owned()
}

/// Splits a shell line into words (single and double quotes; a `#` comment ends it).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, '#') if word.is_none() => break,
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// The recipe's one `lido` line, as arguments: the directory (`./dist`, ...) becomes `root`,
/// and `--listen` a free port on loopback.
fn lido_args(title: &str, root: &Path) -> Vec<String> {
    let lines: Vec<String> = recipe_lines(title)
        .into_iter()
        .filter(|l| l.starts_with("lido "))
        .collect();
    assert_eq!(lines.len(), 1, "{title}: one lido line, got {lines:?}");
    adapt(&words(&lines[0])[1..], root)
}

fn adapt(args: &[String], root: &Path) -> Vec<String> {
    let site = args
        .iter()
        .find(|a| a.starts_with("./"))
        .cloned()
        .expect("a directory");
    let mut out = Vec::new();
    let mut args = args.iter();
    let mut listened = false;
    while let Some(arg) = args.next() {
        if arg == "--listen" {
            let _ = args.next();
            out.extend(["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
            listened = true;
        } else if let Some(rest) = arg.strip_prefix(site.as_str()) {
            out.push(format!("{}{rest}", root.display()));
        } else {
            out.push(arg.clone());
        }
    }
    if !listened {
        out.extend(["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
    }
    out
}

fn start(args: &[String], extra: &[&str]) -> (Running, String) {
    let mut command = lido();
    command.args(args).args(extra);
    let server = Running::start(command);
    let addr = server.addr("lido: serving");
    (server, addr)
}

/// One request (`Connection: close`); the status, the head (lower case) and the body.
fn fetch(addr: &str, method: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (name, value) in fields {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read");
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&reply[..split]).to_ascii_lowercase();
    let status = head[9..12].parse().expect("a status");
    (status, head, reply[split + 4..].to_vec())
}

fn has(head: &str, field: &str) -> bool {
    head.lines().any(|l| l == field)
}

fn write(root: &Path, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, contents).expect("write");
    path
}

#[test]
fn single_page_app() {
    let root = temp_dir("guide-spa");
    write(&root, "index.html", "<div id=app>");
    let (_server, addr) = start(&lido_args("Serve a single-page app", &root), &["--quiet"]);
    let (status, head, body) = fetch(
        &addr,
        "GET",
        "/settings/profile",
        &[("Accept", "text/html")],
    );
    assert_eq!((status, body.as_slice()), (200, &b"<div id=app>"[..]));
    // Both answers depend on Accept: caches must keep them apart.
    assert!(has(&head, "vary: accept"), "{head}");
    let (status, head, _) = fetch(&addr, "GET", "/missing.js", &[("Accept", "*/*")]);
    assert_eq!(status, 404);
    assert!(has(&head, "vary: accept"), "{head}");
}

#[test]
fn assets_forever_html_never() {
    let root = temp_dir("guide-cache");
    write(&root, "assets/app.3f9a1c.js", "run()");
    write(&root, "fonts/inter.woff2", "font");
    let args = lido_args("Cache static assets forever and HTML never", &root);
    let (_server, addr) = start(&args, &["--quiet"]);
    let forever = "cache-control: public, max-age=31536000, immutable";
    let (_, head, _) = fetch(&addr, "GET", "/assets/app.3f9a1c.js", &[]);
    assert!(has(&head, forever), "{head}");
    let (_, head, _) = fetch(&addr, "GET", "/fonts/inter.woff2", &[]);
    assert!(has(&head, forever), "{head}");
    let (status, head, _) = fetch(&addr, "GET", "/", &[]);
    assert_eq!(status, 200);
    assert!(has(&head, "cache-control: no-cache"), "{head}");
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .to_owned();
    let (status, _, body) = fetch(&addr, "GET", "/", &[("If-None-Match", &etag)]);
    assert_eq!((status, body.len()), (304, 0));
}

#[test]
fn cors_for_api_docs() {
    let root = temp_dir("guide-cors");
    write(&root, "openapi.json", "{}");
    let (_server, addr) = start(
        &lido_args("CORS for an API's documentation", &root),
        &["--quiet"],
    );
    let (status, head, _) = fetch(
        &addr,
        "GET",
        "/openapi.json",
        &[("Origin", "https://x.example")],
    );
    assert_eq!(status, 200);
    assert!(has(&head, "access-control-allow-origin: *"), "{head}");
    let (status, head, _) = fetch(
        &addr,
        "OPTIONS",
        "/openapi.json",
        &[
            ("Origin", "https://x.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
    );
    assert_eq!(status, 204);
    assert!(
        has(&head, "access-control-allow-methods: get, head, options"),
        "{head}"
    );
    assert_eq!(fetch(&addr, "DELETE", "/openapi.json", &[]).0, 405);
}

#[test]
fn custom_404_page() {
    let root = temp_dir("guide-404");
    write(&root, "404.html", "<h1>lost</h1>");
    let (_server, addr) = start(&lido_args("A custom 404 page", &root), &["--quiet"]);
    let (status, _, body) = fetch(&addr, "GET", "/nowhere", &[]);
    assert_eq!((status, body.as_slice()), (404, &b"<h1>lost</h1>"[..]));
}

#[test]
fn precompressed_build_output() {
    let base = temp_dir("guide-precompress");
    let dist = base.join("dist");
    let script = "console.log('lido');\n".repeat(50);
    write(&dist, "app.js", &script);
    write(&dist, "style.css", "body{}");
    write(&dist, "index.html", "<p>");
    // The recipe's gzip line, as written, from the directory that holds dist/. (Its brotli
    // line needs the `brotli` tool; siblings of every coding are tested in static_files.rs.)
    let lines = recipe_lines("Precompress a build output");
    let gzip = lines
        .iter()
        .find(|l| l.starts_with("gzip "))
        .expect("a gzip line");
    let status = Command::new("sh")
        .arg("-c")
        .arg(gzip)
        .current_dir(&base)
        .status()
        .expect("run gzip");
    assert!(status.success(), "{gzip}");
    let gz = std::fs::read(dist.join("app.js.gz")).expect("app.js.gz");
    let (_server, addr) = start(
        &lido_args("Precompress a build output", &dist),
        &["--quiet"],
    );
    let (status, head, body) = fetch(&addr, "GET", "/app.js", &[("Accept-Encoding", "gzip")]);
    assert_eq!(status, 200);
    assert!(has(&head, "content-encoding: gzip"), "{head}");
    assert!(has(&head, "vary: accept-encoding"), "{head}");
    assert_eq!(body, gz);
    let (_, head, body) = fetch(&addr, "GET", "/app.js", &[]);
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, script.as_bytes());
}

#[test]
fn behind_a_proxy_the_log_has_the_clients_address() {
    let root = temp_dir("guide-proxy");
    write(&root, "index.html", "hi");
    let args = lido_args("Behind nginx or a CDN", &root);
    assert!(args.contains(&"--trusted-proxy".to_owned()), "{args:?}");
    let log = root.join("access.log");
    let log_arg = log.display().to_string();
    let (_server, addr) = start(&args, &["--access-log-file", &log_arg]);
    let forwarded = [("X-Forwarded-For", "203.0.113.9")];
    assert_eq!(fetch(&addr, "GET", "/", &forwarded).0, 200);
    wait_for("the log line", || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.starts_with("203.0.113.9 - - ["))
    });
    // The same header from a client that is not a trusted proxy is not believed.
    let untrusted: Vec<String> = args
        .iter()
        .filter(|a| *a != "--trusted-proxy" && *a != "127.0.0.1")
        .cloned()
        .collect();
    let log2 = root.join("access2.log");
    let log2_arg = log2.display().to_string();
    let (_server2, addr2) = start(&untrusted, &["--access-log-file", &log2_arg]);
    assert_eq!(fetch(&addr2, "GET", "/", &forwarded).0, 200);
    wait_for("the second log line", || {
        std::fs::read_to_string(&log2).is_ok_and(|text| text.starts_with("127.0.0.1 - - ["))
    });
}

#[test]
fn low_ports_through_socket_activation() {
    let root = temp_dir("guide-ports");
    write(&root, "index.html", "activated");
    let lines = recipe_lines("Port 80 or 443 without root");
    let line = lines
        .iter()
        .find(|l| l.starts_with("systemd-socket-activate "))
        .expect("the socket activation line");
    let words = words(line);
    let at = words
        .iter()
        .position(|w| w == "lido")
        .expect("lido in the line");
    assert_eq!(&words[1..3], ["-l", "0.0.0.0:80"], "{line}");
    // What systemd-socket-activate does, on a free loopback port instead of port 80.
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = socket.local_addr().expect("addr").to_string();
    let mut args: Vec<String> = words[at + 1..].to_vec();
    args = args
        .into_iter()
        .map(|a| match a.strip_prefix("./site") {
            Some(rest) => format!("{}{rest}", root.display()),
            None => a,
        })
        .collect();
    args.push("--quiet".to_owned());
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = socket_activated(vec![socket], "", &arg_refs);
    assert_eq!(server.addr("lido: serving"), addr);
    let (status, _, body) = fetch(&addr, "GET", "/", &[]);
    assert_eq!((status, body.as_slice()), (200, &b"activated"[..]));
}

#[test]
fn large_downloads_resume_with_if_range() {
    let root = temp_dir("guide-download");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    write(&root, "big.iso", &big);
    let (_server, addr) = start(
        &lido_args("Large downloads and resumes", &root),
        &["--quiet"],
    );
    let (status, head, _) = fetch(&addr, "HEAD", "/big.iso", &[]);
    assert_eq!(status, 200);
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .to_owned();
    // curl -C - asks for the rest from where the partial file ends.
    let (status, head, body) = fetch(
        &addr,
        "GET",
        "/big.iso",
        &[("Range", "bytes=1000000-"), ("If-Range", &etag)],
    );
    assert_eq!(status, 206);
    assert!(
        has(&head, "content-range: bytes 1000000-2999999/3000000"),
        "{head}"
    );
    assert_eq!(body, &big[1_000_000..]);
    // The file changed meanwhile: the whole new file, not a mix of two versions.
    let (status, _, body) = fetch(
        &addr,
        "GET",
        "/big.iso",
        &[
            ("Range", "bytes=1000000-"),
            ("If-Range", "\"an-old-version\""),
        ],
    );
    assert_eq!((status, body.len()), (200, big.len()));
}

#[test]
fn limits_for_the_public_internet() {
    let root = temp_dir("guide-limits");
    write(&root, "index.html", "ok");
    let args = lido_args("Limits for the public internet", &root);
    let (server, addr) = start(&args, &["--quiet"]);
    // --max-body 65536: a larger upload is refused from its head.
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 70000\r\n\r\n")
        .expect("send");
    let mut reply = [0u8; 12];
    stream.read_exact(&mut reply).expect("an answer");
    assert!(
        &reply == b"HTTP/1.1 413" || &reply == b"HTTP/1.1 405",
        "{}",
        String::from_utf8_lossy(&reply)
    );
    // --max-connections-per-ip 64: 64 connections held, the 65th is closed unanswered.
    let held: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    let mut extra = TcpStream::connect(&addr).expect("connect");
    extra.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let _ = extra.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut answer = Vec::new();
    let _ = extra.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    drop(held);
    drop(server);
    // The same settings from the recipe's config file.
    let toml = recipe_block("Limits for the public internet", "toml")
        .replace("/srv/www", &root.display().to_string())
        .replace("0.0.0.0:8080", "127.0.0.1:0");
    let config = root.join("lido.toml");
    std::fs::write(&config, toml).expect("write the config");
    let out = lido()
        .arg("--config")
        .arg(&config)
        .arg("--print-config")
        .output()
        .expect("run lido");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    for line in [
        "max-connections = 4096\n",
        "max-connections-per-ip = 64\n",
        "max-body = 65536\n",
        "head-timeout = 5\n",
        "keep-alive-timeout = 3\n",
    ] {
        assert!(printed.contains(line), "no {line:?} in\n{printed}");
    }
}
