//! The `lido` binary with its static-file flags: the access log (Combined Log Format, JSON
//! lines, `--quiet`), refused flags, and `--spa`, `--cors`, `--no-listing`, `--hidden`,
//! `--cache-control`, `--header`, `--404` and `--follow-symlinks` end to end.
//!
//! Every process started here is killed and reaped by a drop guard, and every wait (for a
//! line, an exit or a response) is bounded.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{TempTree, fetch, get, parse_status, raw};

/// Longest wait for a line of output, an exit, or a thread.
const DEADLINE: Duration = Duration::from_secs(20);

/// How often exits are polled.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// A temporary directory with `root/` to serve; removed on drop.
type Tree = TempTree;

fn tree(name: &str) -> Tree {
    TempTree::new("static-cli", name)
}

/// Spawns a named thread (never `thread::spawn(..)` unwrapped in a guard).
fn spawn<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .expect("spawn a thread")
}

/// Waits at most [`DEADLINE`] for `thread` to finish and returns its result.
fn join_within<T>(thread: JoinHandle<T>, what: &str) -> T {
    let deadline = Instant::now() + DEADLINE;
    while !thread.is_finished() {
        assert!(Instant::now() < deadline, "{what} did not finish");
        std::thread::sleep(POLL_INTERVAL);
    }
    thread.join().expect("the thread panicked")
}

/// Waits at most [`DEADLINE`] for `child` to exit.
fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "lido did not exit within {DEADLINE:?}"
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Kills and reaps a child when dropped, whatever happened.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `lido ROOT --listen 127.0.0.1:0 ...`: stdout arrives line by line on a channel,
/// stderr is collected by a thread.
struct Lido {
    child: Reaper,
    addr: SocketAddr,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
}

/// What a stopped [`Lido`] left behind.
struct Stopped {
    status: ExitStatus,
    /// Stdout lines after the address line that had not been read yet.
    rest: Vec<String>,
    stderr: String,
}

impl Lido {
    fn start(root: &Path, args: &[&str]) -> Lido {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lido"))
            .arg(root)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lido");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let child = Reaper(child);
        let (sender, lines) = mpsc::channel();
        spawn("lido-stdout", move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = spawn("lido-stderr", move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut lido = Lido {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines,
            stderr: Some(stderr),
        };
        let first = lido.next_line();
        let prefix = format!("lido: serving {} on http://", root.display());
        let addr = first
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        lido.addr = addr.parse().expect("a socket address");
        // The rest of the banner ends with how to stop it.
        while !lido.next_line().contains("Ctrl-C") {}
        lido
    }

    /// The next stdout line; panics after [`DEADLINE`].
    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|e| panic!("no stdout line within {DEADLINE:?}: {e:?}"))
    }

    /// SIGTERM, then a bounded wait for the exit and the end of its output.
    fn stop(&mut self) -> Stopped {
        let pid = self.child.0.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = wait_exit(&mut self.child.0);
        let mut rest = Vec::new();
        loop {
            match self.lines.recv_timeout(DEADLINE) {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stdout stayed open after the exit"),
            }
        }
        let stderr = self
            .stderr
            .take()
            .map(|t| join_within(t, "reading stderr"))
            .unwrap_or_default();
        Stopped {
            status,
            rest,
            stderr,
        }
    }
}

/// Runs `lido ARGS` to its exit (bounded) and returns its status, stdout and stderr.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lido"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lido");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let mut child = Reaper(child);
    let out = spawn("lido-stdout", move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = spawn("lido-stderr", move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = wait_exit(&mut child.0);
    (
        status,
        join_within(out, "reading stdout"),
        join_within(err, "reading stderr"),
    )
}

/// Checks `[dd/Mon/yyyy:hh:mm:ss +0000]`'s inside.
fn assert_clf_time(time: &str) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let ok = (|| {
        let (date, zone) = time.split_once(' ')?;
        let mut parts = date.splitn(3, '/');
        let (day, month, rest) = (parts.next()?, parts.next()?, parts.next()?);
        let mut clock = rest.split(':');
        let year = clock.next()?;
        let hms: Vec<&str> = clock.collect();
        Some(
            zone == "+0000"
                && digits(day, 2)
                && MONTHS.contains(&month)
                && digits(year, 4)
                && hms.len() == 3
                && hms.iter().all(|p| digits(p, 2)),
        )
    })();
    assert_eq!(ok, Some(true), "not a CLF time: {time:?}");
}

/// A request, the status it must get, and the end of its log line: method, target, header
/// fields, status, `"referer" "user-agent"`.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16, &'a str);

/// Checks one Combined Log Format line.
fn assert_combined(line: &str, request_line: &str, status: u16, bytes: usize, tail: &str) {
    let (peer, rest) = line
        .split_once(" [")
        .unwrap_or_else(|| panic!("no time in {line:?}"));
    assert_eq!(peer, "127.0.0.1 - -", "{line}");
    let (time, rest) = rest
        .split_once("] ")
        .unwrap_or_else(|| panic!("no time in {line:?}"));
    assert_clf_time(time);
    assert_eq!(
        rest,
        format!("\"{request_line}\" {status} {bytes} {tail}"),
        "{line}"
    );
}

// Access log --------------------------------------------------------------------------------

#[test]
fn combined_access_log_has_one_line_per_request() {
    let tree = tree("combined");
    tree.write("x", "hello\n");
    tree.write("dir/a.txt", "a");
    let mut lido = Lido::start(&tree.root, &[]);
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/x", vec![], 200, r#""-" "-""#),
        ("GET", "/missing", vec![], 404, r#""-" "-""#),
        ("HEAD", "/x", vec![], 200, r#""-" "-""#),
        ("GET", "/x", vec![("Range", "bytes=0-1")], 206, r#""-" "-""#),
        ("GET", "/dir", vec![], 301, r#""-" "-""#),
        (
            "GET",
            "/x?q=1",
            vec![
                ("Referer", "http://ref.example/page"),
                ("User-Agent", "probe/1.0 (\"quoted\")"),
            ],
            200,
            r#""http://ref.example/page" "probe/1.0 (\x22quoted\x22)""#,
        ),
        ("GET", "/x", vec![], 200, r#""-" "-""#),
    ];
    for (method, target, headers, status, tail) in cases {
        let reply = fetch(lido.addr, method, target, &headers);
        assert_eq!(reply.status, status, "{method} {target}");
        let bytes = reply
            .header("content-length")
            .filter(|_| method != "HEAD")
            .map_or(0, |l| l.parse().expect("a Content-Length"));
        // The line is written before the response is sent, so it is there already; one per
        // request, or the next request would read the previous request's extra line.
        let line = lido.next_line();
        assert_combined(
            &line,
            &format!("{method} {target} HTTP/1.1"),
            status,
            bytes,
            tail,
        );
    }
    assert_eq!(get(lido.addr, "/x").body_text(), "hello\n");
    assert_combined(&lido.next_line(), "GET /x HTTP/1.1", 200, 6, r#""-" "-""#);
    let stopped = lido.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_eq!(stopped.rest, Vec::<String>::new(), "extra stdout lines");
    assert!(!stopped.stderr.contains("GET /x"), "{}", stopped.stderr);
}

#[test]
fn r9_a_refused_request_says_why_and_is_logged_with_its_request_line() {
    let tree = tree("refused");
    tree.write("x", "hello\n");
    let mut lido = Lido::start(&tree.root, &[]);
    let reply = raw(lido.addr, b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(parse_status(&reply), 400, "{reply}");
    assert!(
        reply.ends_with("\r\n\r\n400 Bad Request: missing host header\n"),
        "{reply}"
    );
    // The request line, not "-": what could be read of the request.
    assert_combined(&lido.next_line(), "GET /x HTTP/1.1", 400, 0, r#""-" "-""#);
    let reply = raw(
        lido.addr,
        b"GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert!(
        reply.contains("400 Bad Request: both content-length and transfer-encoding\n"),
        "{reply}"
    );
    assert_combined(&lido.next_line(), "GET /x HTTP/1.1", 400, 0, r#""-" "-""#);
    let stopped = lido.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
}

#[test]
fn json_access_log_lines_parse() {
    let tree = tree("json-log");
    tree.write("x", "hello\n");
    let mut lido = Lido::start(&tree.root, &["--access-log", "json"]);
    for (method, target, status, bytes) in [
        ("GET", "/x", 200, 6),
        ("GET", "/missing", 404, 10),
        ("HEAD", "/x", 200, 0),
        ("GET", "/x?a=%22b%22", 200, 6),
    ] {
        let reply = fetch(lido.addr, method, target, &[("User-Agent", "probe/2")]);
        assert_eq!(reply.status, status);
        let line = lido.next_line();
        let entry: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(entry["method"], method, "{line}");
        assert_eq!(entry["target"], target, "{line}");
        assert_eq!(entry["status"], status, "{line}");
        assert_eq!(entry["bytes"], bytes, "{line}");
        assert_eq!(entry["version"], "HTTP/1.1", "{line}");
        assert_eq!(entry["remote"], "127.0.0.1", "{line}");
        assert_eq!(entry["user_agent"], "probe/2", "{line}");
        assert!(entry["time"].is_string(), "{line}");
    }
    let stopped = lido.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_eq!(stopped.rest, Vec::<String>::new(), "extra stdout lines");
}

#[test]
fn quiet_prints_no_access_lines() {
    let tree = tree("quiet");
    tree.write("x", "hello\n");
    for args in [&["--quiet"][..], &["--quiet", "--access-log", "json"][..]] {
        let mut lido = Lido::start(&tree.root, args);
        assert_eq!(get(lido.addr, "/x").status, 200);
        assert_eq!(get(lido.addr, "/missing").status, 404);
        assert_eq!(fetch(lido.addr, "HEAD", "/x", &[]).status, 200);
        // Everything stdout ever gets is read once lido has exited.
        let stopped = lido.stop();
        assert!(stopped.status.success(), "{args:?}: {}", stopped.stderr);
        assert_eq!(stopped.rest, Vec::<String>::new(), "{args:?}");
        assert!(!stopped.stderr.contains("/missing"), "{}", stopped.stderr);
    }
}

// Refused flags ------------------------------------------------------------------------------

#[test]
fn bad_header_flags_are_refused() {
    let tree = tree("bad-header");
    let root = tree.root.to_str().expect("a UTF-8 path");
    for (header, reason) in [
        ("Bad Header", "expected 'Name: value'"),
        (": value", "invalid header name"),
        ("Bad Name: value", "invalid header name"),
        ("X-Ctl: a\u{1}b", "invalid header value"),
    ] {
        let (status, stdout, stderr) = run_to_exit(&[root, "--header", header]);
        assert!(!status.success(), "--header {header:?} was accepted");
        assert!(!stdout.contains("serving"), "{stdout}");
        let first = stderr.lines().next().unwrap_or("");
        assert!(
            first.contains(reason) && first.contains("--header"),
            "--header {header:?}: {stderr:?}"
        );
    }
}

#[test]
fn bad_header_flag_error_is_one_line() {
    let tree = tree("bad-header-line");
    let root = tree.root.to_str().expect("a UTF-8 path");
    let (status, _, stderr) = run_to_exit(&[root, "--header", "Bad Header"]);
    assert!(!status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
}

#[test]
fn missing_404_page_fails_with_one_line() {
    let tree = tree("bad-404");
    let root = tree.root.to_str().expect("a UTF-8 path");
    let missing = tree.base.join("missing.html");
    let missing = missing.to_str().expect("a UTF-8 path");
    for page in [missing, root] {
        let (status, stdout, stderr) = run_to_exit(&[root, "--404", page]);
        assert!(!status.success(), "--404 {page} was accepted");
        assert!(!stdout.contains("serving"), "{stdout}");
        let stderr = stderr.trim_end();
        assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
        assert!(
            stderr.starts_with(&format!("lido: cannot use --404 {page}")),
            "{stderr:?}"
        );
    }
    let (status, _, stderr) = run_to_exit(&[root, "--404", "/missing"]);
    assert!(!status.success());
    assert_eq!(
        stderr.trim_end().lines().collect::<Vec<_>>(),
        ["lido: cannot use --404 /missing: No such file or directory (os error 2)"]
    );
}

// Flags end to end ---------------------------------------------------------------------------

#[test]
fn spa_flag_serves_the_index_to_html_navigations() {
    let tree = tree("spa");
    tree.write("index.html", "<div id=app></div>");
    let mut lido = Lido::start(&tree.root, &["--spa", "--quiet"]);
    let page = fetch(lido.addr, "GET", "/some/route", &[("Accept", "text/html")]);
    assert_eq!(
        (page.status, page.body_text().as_str()),
        (200, "<div id=app></div>")
    );
    let api = fetch(
        lido.addr,
        "GET",
        "/some/route",
        &[("Accept", "application/json")],
    );
    assert_eq!(api.status, 404);
    assert!(lido.stop().status.success());
}

#[test]
fn cors_flag_allows_any_origin() {
    let tree = tree("cors");
    tree.write("data.json", "{}");
    let mut lido = Lido::start(&tree.root, &["--cors", "--quiet"]);
    let origin = ("Origin", "https://elsewhere.example");
    let reply = fetch(lido.addr, "GET", "/data.json", &[origin]);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let preflight = fetch(
        lido.addr,
        "OPTIONS",
        "/data.json",
        &[origin, ("Access-Control-Request-Method", "GET")],
    );
    assert_eq!(preflight.status, 204);
    assert!(
        preflight
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("GET"))
    );
    assert!(lido.stop().status.success());
}

#[test]
fn no_listing_flag_answers_403() {
    let tree = tree("no-listing");
    tree.write("dir/a.txt", "a");
    tree.write("site/index.html", "site");
    let mut lido = Lido::start(&tree.root, &["--no-listing", "--quiet"]);
    assert_eq!(get(lido.addr, "/").status, 403);
    assert_eq!(get(lido.addr, "/dir/").status, 403);
    assert_eq!(get(lido.addr, "/site/").body_text(), "site");
    assert_eq!(get(lido.addr, "/dir/a.txt").body_text(), "a");
    assert!(lido.stop().status.success());
    let mut listing = Lido::start(&tree.root, &["--quiet"]);
    assert_eq!(get(listing.addr, "/dir/").status, 200);
    assert!(listing.stop().status.success());
}

#[test]
fn hidden_flag_serves_dotfiles() {
    let tree = tree("hidden");
    tree.write(".secret", "dot");
    let mut hidden = Lido::start(&tree.root, &["--quiet"]);
    assert_eq!(get(hidden.addr, "/.secret").status, 404);
    assert!(!get(hidden.addr, "/").body_text().contains(".secret"));
    assert!(hidden.stop().status.success());
    let mut shown = Lido::start(&tree.root, &["--hidden", "--quiet"]);
    assert_eq!(get(shown.addr, "/.secret").body_text(), "dot");
    assert!(get(shown.addr, "/").body_text().contains(">.secret</a>"));
    assert!(shown.stop().status.success());
}

#[test]
fn cache_control_flag_sets_the_header() {
    let tree = tree("cache-control");
    tree.write("x", "x");
    let mut default = Lido::start(&tree.root, &["--quiet"]);
    assert_eq!(
        get(default.addr, "/x").header("cache-control"),
        Some("no-cache")
    );
    assert!(default.stop().status.success());
    let mut lido = Lido::start(
        &tree.root,
        &["--cache-control", "public, max-age=60", "--quiet"],
    );
    for target in ["/x", "/"] {
        assert_eq!(
            get(lido.addr, target).header("cache-control"),
            Some("public, max-age=60"),
            "{target}"
        );
    }
    assert!(lido.stop().status.success());
}

#[test]
fn header_flag_adds_headers() {
    let tree = tree("header");
    tree.write("x", "x");
    let mut lido = Lido::start(
        &tree.root,
        &[
            "--header",
            "X-Frame-Options: DENY",
            "--header",
            "X-Extra:   spaced value  ",
            "--quiet",
        ],
    );
    for target in ["/x", "/missing", "/"] {
        let reply = get(lido.addr, target);
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{target}");
        assert_eq!(reply.header("x-extra"), Some("spaced value"), "{target}");
    }
    assert!(lido.stop().status.success());
}

#[test]
fn not_found_flag_sends_the_page_with_404() {
    let tree = tree("not-found");
    let page = tree.base.join("404.html");
    std::fs::write(&page, "<h1>gone</h1>").expect("write the 404 page");
    let page = page.to_str().expect("a UTF-8 path");
    let mut lido = Lido::start(&tree.root, &["--404", page, "--quiet"]);
    let reply = get(lido.addr, "/missing");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body_text(), "<h1>gone</h1>");
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(lido.stop().status.success());
}

#[test]
fn follow_symlinks_flag_leaves_the_root() {
    let tree = tree("symlinks");
    std::fs::write(tree.base.join("outside.txt"), "outside").expect("write outside");
    std::os::unix::fs::symlink(tree.base.join("outside.txt"), tree.root.join("out"))
        .expect("create a symlink");
    let mut jailed = Lido::start(&tree.root, &["--quiet"]);
    assert_eq!(get(jailed.addr, "/out").status, 404);
    assert!(jailed.stop().status.success());
    let mut free = Lido::start(&tree.root, &["--follow-symlinks", "--quiet"]);
    assert_eq!(get(free.addr, "/out").body_text(), "outside");
    assert!(free.stop().status.success());
}
