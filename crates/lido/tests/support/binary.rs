//! Helpers for the tests that run the `lido` binary: start it, read its banner, signal it,
//! make requests, wait for events (all bounded).
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

pub(crate) fn lido() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lido"));
    // The tests' own environment must not leak settings in (but the engine under test, as
    // CI runs the suite once per engine).
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LIDO_") && key != "LIDO_ENGINE" {
            command.env_remove(key);
        }
    }
    command
}

/// Kills the child if the test ends early.
pub(crate) struct Running {
    pub(crate) child: Child,
    /// The banner: `serving ... on http://A`, `admin on http://B ...`.
    pub(crate) lines: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts `command` and reads its banner, up to the line that says how to stop it.
    pub(crate) fn start(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lido");
        let stdout = child.stdout.take().expect("stdout");
        let mut running = Running {
            child,
            lines: Vec::new(),
        };
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read the banner");
            if n == 0 {
                let mut err = String::new();
                if let Some(mut stderr) = running.child.stderr.take() {
                    let _ = stderr.read_to_string(&mut err);
                }
                panic!("lido exited during start-up: {:?} {err}", running.lines);
            }
            let done = line.contains("Ctrl-C");
            running.lines.push(line.trim().to_owned());
            if done {
                break;
            }
        }
        // Keep reading stdout so that the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        running
    }

    /// The address after `http://` (or `https://`) on the banner line starting with `prefix`.
    pub(crate) fn addr(&self, prefix: &str) -> String {
        let line = self
            .lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {:?}", self.lines));
        let rest = line.rsplit("://").next().expect("an address");
        rest.split_whitespace()
            .next()
            .expect("an address")
            .to_owned()
    }

    pub(crate) fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Waits for the process to exit; its exit code.
    pub(crate) fn wait(mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "lido did not exit in {within:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lido-ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make a temp dir");
    std::fs::write(dir.join("index.html"), "<h1>hi</h1>\n").expect("write index.html");
    dir
}

/// `GET path` on a new connection: status, headers (lowercase names) and body.
pub(crate) fn get(addr: &str, path: &str) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(DEADLINE))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no head in {reply:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    Ok((status, head.to_ascii_lowercase(), body.to_owned()))
}

pub(crate) fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub(crate) fn run(command: &mut Command) -> Output {
    command.output().expect("run lido")
}

/// Starts lido with `sockets` as file descriptors 3, 4, ... and `LISTEN_FDS`, as systemd's
/// socket activation does; `LISTEN_PID` is set by the shell that then becomes lido.
pub(crate) fn socket_activated(sockets: Vec<TcpListener>, names: &str, args: &[&str]) -> Running {
    use command_fds::{CommandFdExt, FdMapping};
    use std::os::fd::OwnedFd;
    let count = sockets.len();
    let mappings = sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| FdMapping {
            parent_fd: OwnedFd::from(socket),
            child_fd: 3 + i as i32,
        })
        .collect();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("LISTEN_PID=$$ exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_lido"))
        .args(args)
        .env("LISTEN_FDS", count.to_string())
        .env("LISTEN_FDNAMES", names);
    command.fd_mappings(mappings).expect("map the sockets");
    Running::start(command)
}
