//! Several listening sockets per server, sockets handed over ready-made, and `SO_REUSEPORT`:
//! a new server starts beside the old one and the old one drains, with no failed request.
// The hand-over test runs on Linux (where the kernel spreads connections over the group).
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lido::http::{Request, Response, StatusCode};
use support::{BodyMode, ReadError, TestServer, connect, try_read_response, wait_until};

/// Answers with `name`, so a client can tell which server answered.
fn named(name: &'static str) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    move |_: &Request| Response::new(StatusCode::OK).with_body(name.into())
}

/// One request on a new connection; the body, or why it failed.
fn get_once(addr: SocketAddr) -> Result<String, String> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, support::IO_TIMEOUT)
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_read_timeout(Some(support::IO_TIMEOUT));
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let (bytes, end) = support::read_until_closed(&mut stream, support::IO_TIMEOUT);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200 ") => Ok(body.to_owned()),
        _ => Err(format!("{end:?} after {text:?}")),
    }
}

#[test]
fn a_server_serves_every_socket_it_is_given() {
    let first = TcpListener::bind("127.0.0.1:0").expect("bind");
    let second = TcpListener::bind("127.0.0.1:0").expect("bind");
    let given = [
        first.local_addr().expect("addr"),
        second.local_addr().expect("addr"),
    ];
    let server = lido::Server::builder()
        .engine(support::engine())
        .threads(2)
        .listener(first)
        .listener(second)
        .bind(named("one"))
        .expect("bind");
    assert_eq!(server.local_addrs(), given);
    assert_eq!(server.local_addr(), given[0]);
    let handle = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    for addr in given {
        assert_eq!(get_once(addr), Ok("one".to_owned()), "on {addr}");
    }
    handle.shutdown();
    wait_until(Duration::from_secs(10), "the server to stop", || {
        thread.is_finished()
    });
    thread
        .join()
        .expect("the server thread")
        .expect("Server::run");
    // Both sockets were closed by the drain.
    for addr in given {
        assert!(get_once(addr).is_err(), "{addr} still answers");
    }
}

#[test]
fn an_address_and_given_sockets_together() {
    let given = TcpListener::bind("127.0.0.1:0").expect("bind");
    let given_addr = given.local_addr().expect("addr");
    let server = TestServer::start(|b| b.listener(given), named("both"));
    assert_eq!(get_once(server.addr), Ok("both".to_owned()));
    assert_eq!(get_once(given_addr), Ok("both".to_owned()));
}

#[test]
fn without_reuse_port_a_second_server_cannot_bind_the_address() {
    let first = TestServer::start(|b| b, named("a"));
    let second = support::test_builder()
        .listen(first.addr.to_string())
        .bind(named("b"));
    assert!(
        matches!(second, Err(lido::ServerError::Bind { .. })),
        "{second:?}"
    );
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
                        .push(format!("keep-alive: {}", support::describe(&err)));
                    stream = None;
                }
            }
        }
    })
}

/// Where Linux is told to move the connections queued on a closing `SO_REUSEPORT` socket to
/// another socket of its group (Linux 5.14). Without it, those are reset: a restart loses
/// the few clients that connected in the instant the old server closed its socket.
#[cfg(target_os = "linux")]
const MIGRATE_REQ: &str = "/proc/sys/net/ipv4/tcp_migrate_req";

/// Turns `tcp_migrate_req` on for the test (as docs/DEPLOY.md tells operators to) and puts
/// the old value back on drop. The setting belongs to the network namespace.
#[cfg(target_os = "linux")]
struct MigrateRequests(Option<String>);

#[cfg(target_os = "linux")]
impl MigrateRequests {
    fn on() -> MigrateRequests {
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

#[cfg(target_os = "linux")]
impl Drop for MigrateRequests {
    fn drop(&mut self) {
        if let Some(was) = &self.0 {
            let _ = std::fs::write(MIGRATE_REQ, was.trim());
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn with_reuse_port_a_new_server_takes_over_and_no_request_fails() {
    let _migrate = MigrateRequests::on();
    let old = TestServer::start(|b| b.reuse_port(true), named("old"));
    let addr = old.addr;
    let new = TestServer::start(
        |b| b.listen(addr.to_string()).reuse_port(true),
        named("new"),
    );
    assert_eq!(new.addr, addr);

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
    old.stop_within(Duration::from_secs(20))
        .expect("the old server stops cleanly");
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
