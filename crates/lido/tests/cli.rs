//! The `lido` binary: start-up output, serving, errors, signals.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

/// Kills the child if the test ends early.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp_root(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lido-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>hi</h1>\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "plain text\n").unwrap();
    dir
}

/// Starts `lido ROOT --listen 127.0.0.1:0` and reads the address it prints.
fn start(root: &std::path::Path, extra: &[&str]) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lido"))
        .arg(root)
        .args(["--listen", "127.0.0.1:0", "--quiet"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    assert!(line.starts_with("lido: serving "), "{line}");
    (running, addr)
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "lido did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} failed");
}

#[test]
fn serves_files_and_exits_0_on_sigterm() {
    let root = temp_root("term");
    let (mut running, addr) = start(&root, &[]);
    let index = get(&addr, "/");
    assert!(index.starts_with("HTTP/1.1 200 OK\r\n"), "{index}");
    assert!(index.ends_with("<h1>hi</h1>\n"));
    let text = get(&addr, "/notes.txt");
    assert!(
        text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
        "{text}"
    );
    assert!(get(&addr, "/missing").starts_with("HTTP/1.1 404 "));
    assert!(get(&addr, "/../../etc/passwd").starts_with("HTTP/1.1 404 "));
    signal(&running.0, "TERM");
    assert!(wait_exit(&mut running.0).success());
}

#[test]
fn exits_0_on_sigint_with_an_idle_connection_open() {
    let root = temp_root("int");
    let (mut running, addr) = start(&root, &[]);
    let _idle = TcpStream::connect(&addr).unwrap();
    assert!(get(&addr, "/").starts_with("HTTP/1.1 200 OK"));
    signal(&running.0, "INT");
    assert!(wait_exit(&mut running.0).success());
}

fn fails_with(args: &[&str], expected: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_lido"))
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
}

#[test]
fn bad_arguments_fail_with_one_clear_line() {
    fails_with(
        &["/definitely/not/here"],
        "lido: cannot serve /definitely/not/here",
    );
    fails_with(
        &[".", "--listen", "not-an-address"],
        "lido: cannot resolve listen address",
    );
    fails_with(&[".", "--threads", "0"], "--threads");
    fails_with(
        &[".", "--head-timeout=0"],
        "--head-timeout must be a positive number",
    );
    fails_with(
        &[".", "--head-timeout=-1"],
        "--head-timeout must be a positive number",
    );
    let root = temp_root("busy");
    let (_running, addr) = start(&root, &[]);
    fails_with(&[".", "--listen", &addr], "lido: cannot listen on");
    // The error is one line.
    let out = Command::new(env!("CARGO_BIN_EXE_lido"))
        .arg("/definitely/not/here")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
}
