//! Helpers shared by lido's integration tests: a server guard that shuts down on drop, and
//! raw-socket clients that read replies byte-exactly with timeouts.
//!
//! Every wait here is bounded: sockets carry read and write timeouts, and polling helpers take
//! a deadline.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lido::{Handler, Server, ServerBuilder, ServerError, ShutdownHandle};

#[cfg(feature = "cli")]
pub(crate) mod binary;
pub(crate) mod handover;
#[cfg(feature = "tls")]
pub(crate) mod tls;

/// Read and write timeout of every client socket.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest response head the client helpers accept.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// How long a dropped [`TestServer`] waits for `run` to return: longer than any test's drain
/// timeout plus the server's 5 s wait for its workers. Past it the test fails (and the server
/// thread is left behind) instead of hanging.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// How often the polling helpers look again.
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// The engine under test: `LIDO_ENGINE` (as the binary reads it), else the default. CI runs
/// the suite once per engine.
pub(crate) fn engine() -> lido::Engine {
    match std::env::var("LIDO_ENGINE") {
        Ok(name) => name.parse().expect("LIDO_ENGINE names an engine"),
        Err(_) => lido::Engine::default(),
    }
}

/// A builder listening on `127.0.0.1:0` with test-sized timeouts; tests override what they
/// exercise.
pub(crate) fn test_builder() -> ServerBuilder {
    Server::builder()
        .engine(engine())
        .listen("127.0.0.1:0")
        .threads(4)
        .queue_capacity(64)
        .head_timeout(Duration::from_secs(3))
        .keep_alive_timeout(Duration::from_secs(3))
        .body_timeout(Duration::from_secs(3))
        .write_timeout(Duration::from_secs(5))
        .drain_timeout(Duration::from_secs(5))
        .linger_timeout(Duration::from_millis(500))
}

/// A running server. Dropping it shuts the server down and joins its thread.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) handle: ShutdownHandle,
    pub(crate) stats: lido::Stats,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

impl TestServer {
    /// Binds `handler` with [`test_builder`] as adjusted by `configure`, and runs it on a
    /// thread of its own.
    pub(crate) fn start<H: Handler>(
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
        handler: H,
    ) -> TestServer {
        let server = configure(test_builder())
            .bind(handler)
            .expect("bind a test server");
        let addr = server.local_addr();
        let handle = server.shutdown_handle();
        let stats = server.stats();
        let thread = std::thread::Builder::new()
            .name("lido-test-server".to_owned())
            .spawn(move || server.run())
            .expect("spawn the server thread");
        TestServer {
            addr,
            handle,
            stats,
            thread: Some(thread),
        }
    }

    /// Whether `run` has returned.
    pub(crate) fn has_stopped(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits at most `within` for `run` to return (after a shutdown began) and returns its
    /// result. Panics if it does not return in time.
    pub(crate) fn join_within(&mut self, within: Duration) -> Result<(), ServerError> {
        wait_until(within, "Server::run to return", || self.has_stopped());
        let thread = self.thread.take().expect("the server was joined twice");
        thread.join().expect("the server thread panicked")
    }

    /// Begins a graceful shutdown and waits at most `within` for `run` to return.
    pub(crate) fn stop_within(mut self, within: Duration) -> Result<(), ServerError> {
        self.handle.shutdown();
        self.join_within(within)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + STOP_WITHIN;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(POLL_INTERVAL);
        }
        if std::thread::panicking() {
            return; // the test already failed; do not turn it into an abort
        }
        assert!(
            thread.is_finished(),
            "Server::run did not return within {STOP_WITHIN:?} of the shutdown"
        );
        match thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => panic!("Server::run failed: {err}"),
            Err(_) => panic!("the server thread panicked"),
        }
    }
}

/// Polls `done` until it holds; panics naming `what` after `within`.
pub(crate) fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// A client socket with [`IO_TIMEOUT`] on reads and writes.
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect to the server");
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("set a read timeout");
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .expect("set a write timeout");
    stream
}

/// How a read-until-close ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The server closed its side (FIN).
    Eof,
    /// The connection was reset.
    Reset,
    /// Nothing more arrived before the timeout: the server kept the connection open.
    TimedOut,
}

/// Everything one connection received until it ended.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    pub(crate) bytes: Vec<u8>,
    pub(crate) end: End,
}

impl Exchange {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Sends `request` on a new connection (whole, or one byte per write with `TCP_NODELAY`)
/// and reads until the server closes or [`IO_TIMEOUT`] passes without data. A write that
/// fails because the server already answered and closed ends the sending early.
pub(crate) fn exchange(addr: SocketAddr, request: &[u8], split: bool) -> Exchange {
    let mut stream = connect(addr);
    stream.set_nodelay(true).expect("set TCP_NODELAY");
    if split {
        for byte in request {
            if stream.write_all(std::slice::from_ref(byte)).is_err() {
                break;
            }
        }
    } else {
        let _ = stream.write_all(request);
    }
    let (bytes, end) = read_until_closed(&mut stream, IO_TIMEOUT);
    Exchange { bytes, end }
}

/// Sends `bytes` whole on a new connection and returns the whole reply, read until the
/// server closes. Panics if the server keeps the connection open past [`IO_TIMEOUT`].
pub(crate) fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let reply = exchange(addr, bytes, false);
    assert_ne!(
        reply.end,
        End::TimedOut,
        "the server did not close the connection; got {:?}",
        reply.text()
    );
    reply.text()
}

/// Like [`raw`], but writes one byte at a time.
pub(crate) fn send_split(addr: SocketAddr, bytes: &[u8]) -> String {
    let reply = exchange(addr, bytes, true);
    assert_ne!(
        reply.end,
        End::TimedOut,
        "the server did not close the connection; got {:?}",
        reply.text()
    );
    reply.text()
}

/// Reads until EOF, a reset, or `within` passes (total, not per read).
pub(crate) fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, End) {
    let deadline = Instant::now() + within;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (bytes, End::TimedOut);
        }
        stream
            .set_read_timeout(Some(left))
            .expect("set a read timeout");
        match stream.read(&mut buf) {
            Ok(0) => return (bytes, End::Eof),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (bytes, End::TimedOut);
            }
            Err(_) => return (bytes, End::Reset),
        }
    }
}

/// The status code of the first status line of `reply`, if it has one.
pub(crate) fn try_parse_status(reply: &str) -> Option<u16> {
    let line = reply.lines().next()?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

/// The status code of the first status line of `reply`. Panics if there is none.
pub(crate) fn parse_status(reply: &str) -> u16 {
    try_parse_status(reply).unwrap_or_else(|| panic!("no status line in {reply:?}"))
}

/// The value of header `name` in the first response head of `reply`.
pub(crate) fn header_in<'a>(reply: &'a str, name: &str) -> Option<&'a str> {
    let head = reply.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field
            .eq_ignore_ascii_case(name)
            .then_some(value.trim_matches([' ', '\t']))
    })
}

/// One response read off a connection.
#[derive(Debug, Clone)]
pub(crate) struct HttpReply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpReply {
    /// The value of the first header field called `name`.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether `Connection` lists `close`.
    pub(crate) fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.split(',').any(|o| o.trim().eq_ignore_ascii_case("close")))
    }

    pub(crate) fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why [`try_read_response`] got no complete response.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The connection ended before the first byte of a response.
    Closed { reset: bool },
    /// The connection ended, or a read timed out, part-way through a response.
    Partial { got: Vec<u8>, why: String },
    /// No byte of a response arrived before the read timeout.
    TimedOut,
    /// The bytes are not an HTTP/1.1 response.
    Malformed { got: Vec<u8>, why: String },
}

/// Whether the response being read answers a `HEAD` request (head only) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyMode {
    /// Read `Content-Length` bytes of body (none for 1xx, 204 and 304).
    Framed,
    /// The response to a `HEAD`: no body follows whatever `Content-Length` says.
    HeadOnly,
}

/// Reads exactly one response: the head byte by byte up to its empty line, then
/// `Content-Length` bytes, so nothing of a following pipelined response is consumed.
pub(crate) fn try_read_response(
    stream: &mut impl Read,
    mode: BodyMode,
) -> Result<HttpReply, ReadError> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_RESPONSE_HEAD {
            return Err(ReadError::Malformed {
                got: head,
                why: "response head too large".to_owned(),
            });
        }
        match stream.read(&mut byte) {
            Ok(0) if head.is_empty() => return Err(ReadError::Closed { reset: false }),
            Ok(0) => {
                return Err(ReadError::Partial {
                    got: head,
                    why: "EOF in the response head".to_owned(),
                });
            }
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(if head.is_empty() {
                    ReadError::TimedOut
                } else {
                    ReadError::Partial {
                        got: head,
                        why: "read timed out in the response head".to_owned(),
                    }
                });
            }
            Err(e) if head.is_empty() => {
                let _ = e;
                return Err(ReadError::Closed { reset: true });
            }
            Err(e) => {
                return Err(ReadError::Partial {
                    got: head,
                    why: format!("{e} in the response head"),
                });
            }
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let Some(status) = try_parse_status(&text) else {
        return Err(ReadError::Malformed {
            got: head,
            why: "no status line".to_owned(),
        });
    };
    let mut headers = Vec::new();
    for line in text.trim_end_matches("\r\n").split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Malformed {
                got: head,
                why: format!("header line without a colon: {line:?}"),
            });
        };
        headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
    }
    let mut reply = HttpReply {
        status,
        headers,
        body: Vec::new(),
    };
    let bodiless = mode == BodyMode::HeadOnly || status < 200 || status == 204 || status == 304;
    if bodiless {
        return Ok(reply);
    }
    let Some(length) = reply.header("content-length") else {
        return Err(ReadError::Malformed {
            got: head,
            why: "no Content-Length".to_owned(),
        });
    };
    let Ok(length) = length.parse::<usize>() else {
        return Err(ReadError::Malformed {
            got: head,
            why: format!("bad Content-Length {length:?}"),
        });
    };
    reply.body = vec![0; length];
    let mut filled = 0;
    while filled < length {
        match stream.read(&mut reply.body[filled..]) {
            Ok(0) => {
                head.extend_from_slice(&reply.body[..filled]);
                return Err(ReadError::Partial {
                    got: head,
                    why: format!("EOF after {filled} of {length} body bytes"),
                });
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                head.extend_from_slice(&reply.body[..filled]);
                return Err(ReadError::Partial {
                    got: head,
                    why: format!("{e} after {filled} of {length} body bytes"),
                });
            }
        }
    }
    Ok(reply)
}

/// Reads exactly one response (see [`try_read_response`]); panics if there is none.
pub(crate) fn read_response(stream: &mut impl Read) -> HttpReply {
    try_read_response(stream, BodyMode::Framed)
        .unwrap_or_else(|e| panic!("no complete response: {}", describe(&e)))
}

/// Reads the response to a `HEAD` request: its head only.
pub(crate) fn read_head_response(stream: &mut TcpStream) -> HttpReply {
    try_read_response(stream, BodyMode::HeadOnly)
        .unwrap_or_else(|e| panic!("no complete response head: {}", describe(&e)))
}

/// A one-line account of a [`ReadError`], with what was received.
pub(crate) fn describe(err: &ReadError) -> String {
    let shorten = |got: &[u8]| {
        let text = String::from_utf8_lossy(&got[..got.len().min(300)]).into_owned();
        format!("{text:?} ({} bytes)", got.len())
    };
    match err {
        ReadError::Closed { reset: false } => "closed before any byte".to_owned(),
        ReadError::Closed { reset: true } => "reset before any byte".to_owned(),
        ReadError::TimedOut => "timed out before any byte".to_owned(),
        ReadError::Partial { got, why } => format!("partial response, {why}: {}", shorten(got)),
        ReadError::Malformed { got, why } => format!("malformed response, {why}: {}", shorten(got)),
    }
}

/// Asserts that the server closes `stream` (EOF or reset) within `within`, with no further
/// bytes; returns how long that took.
pub(crate) fn assert_closed_within(stream: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let (bytes, end) = read_until_closed(stream, within);
    assert_ne!(
        end,
        End::TimedOut,
        "the server kept the connection open for {within:?}"
    );
    assert!(
        bytes.is_empty(),
        "unexpected bytes before close: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    started.elapsed()
}

/// `GET path` with `Connection: close` on a new connection; the reply's status code.
pub(crate) fn get_status(addr: SocketAddr, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    parse_status(&raw(addr, request.as_bytes()))
}

/// `len` bytes of a pattern that does not repeat every power of two.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A gate handlers can wait at, opened once by the test. Waits are bounded.
pub(crate) struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            open: Mutex::new(false),
            opened: Condvar::new(),
        }
    }

    /// Opens the gate for every waiter, present and future.
    pub(crate) fn open(&self) {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.opened.notify_all();
    }

    /// Waits until the gate is open or `within` passes; returns whether it opened.
    pub(crate) fn wait(&self, within: Duration) -> bool {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let (open, _) = self
            .opened
            .wait_timeout_while(open, within, |open| !*open)
            .unwrap_or_else(PoisonError::into_inner);
        *open
    }
}

/// Opens a [`Gate`] when dropped, so a failing test never leaves a worker blocked.
pub(crate) struct OpenOnDrop<'a>(pub(crate) &'a Gate);

impl Drop for OpenOnDrop<'_> {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// Sends `METHOD target` with `headers` and `Connection: close` on a new connection, reads
/// exactly one response, and checks that nothing follows it before the server closes.
pub(crate) fn fetch(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> HttpReply {
    let mut request = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    let mut stream = connect(addr);
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let reply = if method == "HEAD" {
        read_head_response(&mut stream)
    } else {
        read_response(&mut stream)
    };
    let (rest, end) = read_until_closed(&mut stream, IO_TIMEOUT);
    assert!(
        rest.is_empty(),
        "{method} {target}: {} unexpected bytes after the response: {:?}",
        rest.len(),
        String::from_utf8_lossy(&rest[..rest.len().min(200)])
    );
    assert_ne!(
        end,
        End::TimedOut,
        "{method} {target}: the connection stayed open after Connection: close"
    );
    reply
}

pub(crate) fn get(addr: SocketAddr, target: &str) -> HttpReply {
    fetch(addr, "GET", target, &[])
}

/// A temporary directory `base/` with `base/root/` to serve, unique per call; removed on drop.
pub(crate) struct TempTree {
    pub(crate) base: PathBuf,
    pub(crate) root: PathBuf,
}

impl TempTree {
    /// A fresh tree under the system temp dir, named from `prefix` and `name`.
    pub(crate) fn new(prefix: &str, name: &str) -> TempTree {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "lido-{prefix}-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("root")).expect("create the root");
        let base = base.canonicalize().expect("canonicalize the base");
        let root = base.join("root");
        TempTree { base, root }
    }

    /// Writes `root/rel` (creating its parents).
    pub(crate) fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(&path, contents).expect("write a file");
        path
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}
