//! A restart with `SO_REUSEPORT`: clients that must see no failed request while a new
//! server takes over a port from an old one.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{BodyMode, ReadError, connect, try_read_response, wait_until};

/// One request on a new connection; the body, or why it failed.
pub(crate) fn get_once(addr: SocketAddr) -> Result<String, String> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, super::IO_TIMEOUT)
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_read_timeout(Some(super::IO_TIMEOUT));
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let (bytes, end) = super::read_until_closed(&mut stream, super::IO_TIMEOUT);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200 ") => Ok(body.to_owned()),
        _ => Err(format!("{end:?} after {text:?}")),
    }
}

/// What the clients saw across a restart.
#[derive(Default)]
struct Seen {
    /// When each request was sent, and which server answered it.
    answers: Vec<(Instant, String)>,
    failures: Vec<String>,
    /// Requests sent again on a new connection because a reused one was closed before any
    /// byte of the answer came: what every HTTP client does for an idempotent request
    /// (RFC 9112, 9.3.1). Not a failure.
    retries: usize,
}

/// A client making a new connection per request until `stop` (at most 60 s).
fn new_connection_client(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(60);
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            let sent = Instant::now();
            let result = get_once(addr);
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            match result {
                Ok(body) => seen.answers.push((sent, body)),
                Err(why) => seen.failures.push(format!("new connection: {why}")),
            }
        }
    })
}

/// A client sending request after request on one keep-alive connection, opening a new one
/// when the server says `Connection: close` or closes an idle connection.
fn keep_alive_client(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(60);
        let mut stream = None;
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            let reused = stream.is_some();
            let sent = Instant::now();
            let conn = stream.get_or_insert_with(|| connect(addr));
            let reply = match conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n") {
                Ok(()) => try_read_response(conn, BodyMode::Framed),
                Err(_) => Err(ReadError::Closed { reset: true }),
            };
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            match reply {
                Ok(reply) if reply.status == 200 => {
                    if reply.header("connection") == Some("close") {
                        stream = None;
                    }
                    seen.answers
                        .push((sent, String::from_utf8_lossy(&reply.body).into_owned()));
                }
                Err(ReadError::Closed { .. }) if reused => {
                    seen.retries += 1;
                    stream = None;
                }
                Ok(reply) => {
                    seen.failures
                        .push(format!("keep-alive: status {}", reply.status));
                    stream = None;
                }
                Err(err) => {
                    seen.failures
                        .push(format!("keep-alive: {}", super::describe(&err)));
                    stream = None;
                }
            }
        }
    })
}

/// Where Linux is told to move the connections queued on a closing `SO_REUSEPORT` socket to
/// another socket of its group (Linux 5.14). Without it, those are reset: a restart loses
/// the few clients that connected in the instant the old server closed its socket.
const MIGRATE_REQ: &str = "/proc/sys/net/ipv4/tcp_migrate_req";

/// Turns `tcp_migrate_req` on for the test (as docs/DEPLOY.md tells operators to) and puts
/// the old value back on drop. The setting belongs to the network namespace.
pub(crate) struct MigrateRequests(Option<String>);

impl MigrateRequests {
    pub(crate) fn on() -> MigrateRequests {
        let was = std::fs::read_to_string(MIGRATE_REQ)
            .unwrap_or_else(|e| panic!("{MIGRATE_REQ}: {e} (Linux 5.14 or later needed)"));
        if was.trim() == "1" {
            return MigrateRequests(None);
        }
        std::fs::write(MIGRATE_REQ, "1").unwrap_or_else(|e| {
            panic!(
                "cannot turn on {MIGRATE_REQ} ({e}): run `sysctl -w net.ipv4.tcp_migrate_req=1` \
                 as root, or run this test as root"
            )
        });
        MigrateRequests(Some(was))
    }
}

impl Drop for MigrateRequests {
    fn drop(&mut self) {
        if let Some(was) = &self.0 {
            let _ = std::fs::write(MIGRATE_REQ, was.trim());
        }
    }
}

/// Runs two clients making a new connection per request and one on keep-alive against `addr`,
/// where two servers share the port (`SO_REUSEPORT`) and answer `old` and `new`; once both
/// answered, `stop_old` stops the old one (returning once it has stopped), and the clients
/// go on until the new one answered 200 more. Asserts that no request failed and that the
/// old server answered nothing sent after it stopped.
pub(crate) fn across_a_restart(addr: SocketAddr, stop_old: impl FnOnce()) {
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let clients = [
        new_connection_client(addr, Arc::clone(&stop), Arc::clone(&seen)),
        new_connection_client(addr, Arc::clone(&stop), Arc::clone(&seen)),
        keep_alive_client(addr, Arc::clone(&stop), Arc::clone(&seen)),
    ];
    let answered = |by: &str| {
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .answers
            .iter()
            .filter(|(_, a)| a == by)
            .count()
    };
    // Both serve: the kernel spreads new connections between them.
    wait_until(Duration::from_secs(20), "answers from both servers", || {
        answered("old") >= 20 && answered("new") >= 20
    });
    stop_old();
    let stopped = Instant::now();
    let new_before = answered("new");
    wait_until(
        Duration::from_secs(20),
        "answers after the old one left",
        || answered("new") >= new_before + 200,
    );
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("a client thread");
    }
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(
        seen.failures.is_empty(),
        "failed requests: {:?}",
        seen.failures
    );
    let late: Vec<_> = seen
        .answers
        .iter()
        .filter(|(sent, by)| *sent > stopped && by == "old")
        .collect();
    assert!(
        late.is_empty(),
        "the old server answered after it stopped: {late:?}"
    );
    eprintln!(
        "{} answers, {} retried on a new connection",
        seen.answers.len(),
        seen.retries
    );
}
