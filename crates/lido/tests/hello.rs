//! The book's hello server (examples/hello) on lido: four `/sleep` requests on four workers
//! must not stop idle and half-sent connections, or a `/` request, from being served.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lido::Handler;
use lido::http::Request;

mod support;

#[path = "../examples/hello/app.rs"]
mod app;

const SLEEP: Duration = Duration::from_millis(1500);
const IDLE_SOCKETS: usize = 1000;

struct Running {
    addr: SocketAddr,
    handle: lido::ShutdownHandle,
    thread: Option<thread::JoinHandle<Result<(), lido::ServerError>>>,
    sleeping: Arc<AtomicUsize>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn start() -> Running {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let inner = app::app(SLEEP);
    let sleeping = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&sleeping);
    let server = lido::Server::builder()
        .engine(support::engine())
        .listen("127.0.0.1:0")
        .threads(4)
        .bind(move |request: &Request| {
            if request.path() == "/sleep" {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            inner.handle(request)
        })
        .unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let thread = Some(thread::spawn(move || server.run()));
    Running {
        addr,
        handle,
        thread,
        sleeping,
    }
}

fn get(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream
}

fn status_of(mut stream: TcpStream) -> String {
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply.lines().next().unwrap_or_default().to_owned()
}

/// 1,000 connections that sent nothing or half a request line.
fn park_sockets(addr: SocketAddr) -> Vec<TcpStream> {
    (0..IDLE_SOCKETS)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap();
            if i % 2 == 0 {
                s.write_all(b"GET /sle").unwrap();
            }
            s
        })
        .collect()
}

#[test]
fn idle_sockets_alone_never_block_a_request() {
    let server = start();
    let _idle = park_sockets(server.addr);
    let started = Instant::now();
    assert_eq!(status_of(get(server.addr, "/")), "HTTP/1.1 200 OK");
    assert_eq!(
        status_of(get(server.addr, "/nope")),
        "HTTP/1.1 404 Not Found"
    );
    // Not a timed assertion on speed: only that nothing waited for a timeout (10 s default).
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn four_sleeps_and_idle_sockets_do_not_stop_a_request_once_a_worker_frees() {
    let server = start();
    let sleepers: Vec<_> = (0..4).map(|_| get(server.addr, "/sleep")).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.sleeping.load(Ordering::SeqCst) < 4 {
        assert!(
            Instant::now() < deadline,
            "the four /sleep requests never all started"
        );
        thread::yield_now();
    }
    // Every worker is asleep; park 1,000 idle and half-sent connections, then ask for `/`.
    let _idle = park_sockets(server.addr);
    let hello = get(server.addr, "/");
    let hello = thread::spawn(move || status_of(hello));
    for sleeper in sleepers {
        assert_eq!(status_of(sleeper), "HTTP/1.1 200 OK");
    }
    assert_eq!(hello.join().unwrap(), "HTTP/1.1 200 OK");
}
