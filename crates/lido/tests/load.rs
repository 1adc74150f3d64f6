//! Load and overload: many idle or half-sent connections, slow readers, a saturated pool, and
//! graceful shutdown with requests and a download in flight.
//!
//! The tests here run one at a time (see [`serial`]): each one saturates a 2-core machine on
//! its own, and their "answered within 2 s" checks would otherwise measure each other.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use lido::http::{Request, Response, StatusCode};
use support::{
    BodyMode, End, Gate, IO_TIMEOUT, OpenOnDrop, ReadError, TestServer, connect, describe,
    get_status, pattern, read_head_response, read_response, read_until_closed, try_read_response,
    wait_until,
};

/// How quickly a request must be answered while the server is loaded.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// Connections parked in the idle and half-request tests.
const PARKED: usize = 1000;

/// File descriptors the 1,000-connection tests need: both ends of every connection, and
/// some spare.
const NEED_FDS: u64 = 2500;

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs the tests of this file one at a time.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit. A test that cannot have the
/// descriptors it needs fails: it never passes without having run.
fn enough_fds(test: &str) -> bool {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit >= NEED_FDS => true,
        Ok(limit) => panic!(
            "{test}: the open-file limit is {limit}, below the {NEED_FDS} needed, and the hard \
             limit does not allow more (raise it: ulimit -Hn)"
        ),
        Err(err) => panic!("{test}: cannot raise the open-file limit: {err}"),
    }
}

/// `GET path` on a new keep-alive connection; the reply and how long it took.
fn timed_get(addr: SocketAddr, path: &str) -> (support::HttpReply, Duration) {
    let started = Instant::now();
    let mut stream = connect(addr);
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: load\r\n\r\n").as_bytes())
        .expect("send a GET");
    let reply = read_response(&mut stream);
    (reply, started.elapsed())
}

/// Asserts that none of `streams` has received a byte or been closed.
fn assert_all_silent(streams: &[TcpStream]) {
    let mut spoken = 0;
    let mut closed = 0;
    for stream in streams {
        stream.set_nonblocking(true).expect("set non-blocking");
        let mut buf = [0u8; 64];
        match stream.peek(&mut buf) {
            Ok(0) => closed += 1,
            Ok(_) => spoken += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => closed += 1,
        }
        stream.set_nonblocking(false).expect("set blocking");
    }
    assert_eq!(
        (spoken, closed),
        (0, 0),
        "of {} parked connections, {spoken} got an answer and {closed} were closed",
        streams.len()
    );
}

fn ok_handler(request: &Request) -> Response {
    Response::text(StatusCode::OK, format!("ok {}", request.path()))
}

/// A server for the 1,000-connection tests: 4 workers, deadlines far beyond the test, and a
/// queue deep enough that a burst of 1,000 readable sockets is queued rather than shed.
fn start_parking_server() -> TestServer {
    TestServer::start(
        |b| {
            b.threads(4)
                .queue_capacity(2 * PARKED)
                .head_timeout(Duration::from_secs(60))
                .keep_alive_timeout(Duration::from_secs(60))
        },
        ok_handler,
    )
}

#[test]
fn thousand_idle_connections_do_not_delay_a_request() {
    let _serial = serial();
    if !enough_fds("thousand_idle_connections_do_not_delay_a_request") {
        return;
    }
    let server = start_parking_server();
    let idle: Vec<TcpStream> = (0..PARKED).map(|_| connect(server.addr)).collect();
    let (reply, took) = timed_get(server.addr, "/fresh");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "ok /fresh");
    assert!(
        took < ANSWER_WITHIN,
        "answered after {took:?} with {PARKED} idle connections"
    );
    assert_all_silent(&idle);
    drop(idle);
}

#[test]
fn thousand_half_sent_request_lines_do_not_delay_a_request() {
    let _serial = serial();
    if !enough_fds("thousand_half_sent_request_lines_do_not_delay_a_request") {
        return;
    }
    let server = start_parking_server();
    let half: Vec<TcpStream> = (0..PARKED)
        .map(|_| {
            let mut stream = connect(server.addr);
            stream.write_all(b"GET /ind").expect("send half a line");
            stream
        })
        .collect();
    let (reply, took) = timed_get(server.addr, "/fresh");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "ok /fresh");
    assert!(
        took < ANSWER_WITHIN,
        "answered after {took:?} with {PARKED} half-sent requests"
    );
    // Not one was shed or timed out: they are all still waiting for the rest of their line.
    assert_all_silent(&half);
    // The half-sent requests are still served once completed.
    let mut half = half;
    for stream in half.iter_mut().take(10) {
        stream
            .write_all(b"ex HTTP/1.1\r\nHost: load\r\n\r\n")
            .expect("finish a request");
        assert_eq!(read_response(stream).body_text(), "ok /index");
    }
    drop(half);
}

#[test]
fn slow_readers_of_large_responses_do_not_delay_a_request() {
    const READERS: usize = 200;
    const BIG: usize = 4 * 1024 * 1024;
    let _serial = serial();
    let started = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&started);
    let server = TestServer::start(
        |b| {
            b.threads(4)
                .queue_capacity(2 * READERS)
                .write_timeout(Duration::from_secs(30))
        },
        move |request: &Request| {
            if request.path() == "/big" {
                seen.fetch_add(1, Ordering::SeqCst);
                Response::bytes(StatusCode::OK, "application/octet-stream", vec![b'x'; BIG])
            } else {
                ok_handler(request)
            }
        },
    );
    let readers: Vec<TcpStream> = (0..READERS)
        .map(|_| {
            let mut stream = connect(server.addr);
            stream
                .write_all(b"GET /big HTTP/1.1\r\nHost: load\r\n\r\n")
                .expect("ask for a big body");
            stream
        })
        .collect();
    wait_until(
        Duration::from_secs(30),
        "every big request to start",
        || started.load(Ordering::SeqCst) == READERS,
    );
    let (reply, took) = timed_get(server.addr, "/fresh");
    assert_eq!(reply.status, 200);
    assert!(
        took < ANSWER_WITHIN,
        "answered after {took:?} with {READERS} slow readers"
    );
    // Every slow reader is being sent a 200, none was shed.
    for (i, stream) in readers.iter().enumerate() {
        let mut head = [0u8; 12];
        let n = stream.peek(&mut head).expect("peek at a slow reader");
        assert_eq!(
            &head[..n],
            b"HTTP/1.1 200",
            "slow reader {i} got {:?}",
            String::from_utf8_lossy(&head[..n])
        );
    }
    drop(readers);
}

#[test]
fn full_queue_gets_503_with_retry_after_at_once() {
    let _serial = serial();
    let gate = Arc::new(Gate::new());
    let entered = Arc::new(AtomicUsize::new(0));
    let (gate_in, entered_in) = (Arc::clone(&gate), Arc::clone(&entered));
    let server = TestServer::start(
        |b| b.threads(1).queue_capacity(1),
        move |request: &Request| {
            if request.path() == "/block" {
                entered_in.fetch_add(1, Ordering::SeqCst);
                let opened = gate_in.wait(Duration::from_secs(20));
                Response::text(StatusCode::OK, format!("opened={opened}"))
            } else {
                ok_handler(request)
            }
        },
    );
    let _open = OpenOnDrop(&gate);
    let block = b"GET /block HTTP/1.1\r\nHost: load\r\n\r\n";

    // The only worker blocks in the handler...
    let mut first = connect(server.addr);
    first.write_all(block).expect("send /block");
    wait_until(Duration::from_secs(5), "the first /block to start", || {
        entered.load(Ordering::SeqCst) == 1
    });
    // ...the second request fills the one queue slot...
    let mut second = connect(server.addr);
    second.write_all(block).expect("send /block");
    // ...and a third is refused at once.
    let started = Instant::now();
    let mut third = connect(server.addr);
    third
        .write_all(b"GET /third HTTP/1.1\r\nHost: load\r\n\r\n")
        .expect("send /third");
    let shed = read_response(&mut third);
    let took = started.elapsed();
    assert_eq!(shed.status, 503, "{shed:?}");
    assert!(
        shed.header("retry-after").is_some(),
        "no Retry-After: {shed:?}"
    );
    assert!(shed.closes(), "no Connection: close: {shed:?}");
    assert!(took < ANSWER_WITHIN, "503 only after {took:?}");
    support::assert_closed_within(&mut third, Duration::from_secs(2));
    // Counted as shed, and as a 503 to a request the engine answered itself.
    let stats = server.stats.snapshot();
    assert!(stats.shed >= 1, "{stats:?}");
    assert!(
        stats.requests.iter().any(|r| r.status.as_u16() == 503),
        "{stats:?}"
    );

    gate.open();
    for stream in [&mut first, &mut second] {
        let reply = read_response(stream);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), "opened=true");
    }
    assert_eq!(entered.load(Ordering::SeqCst), 2);
    assert_eq!(get_status(server.addr, "/again"), 200);
}

/// Waits until nothing more arrives on `stream` for a while: the server's send buffer and
/// our receive buffer are both full and the server is parked waiting to write.
fn wait_for_stalled_download(stream: &TcpStream) {
    let mut buf = vec![0u8; 8 * 1024 * 1024];
    let mut last = usize::MAX;
    let mut stable_since = Instant::now();
    wait_until(Duration::from_secs(10), "the download to stall", || {
        let available = stream.peek(&mut buf).expect("peek at the download");
        if available != last {
            last = available;
            stable_since = Instant::now();
        }
        stable_since.elapsed() >= Duration::from_millis(200)
    });
}

#[test]
fn full_queue_does_not_cut_a_response_in_progress() {
    const BIG: usize = 64 * 1024 * 1024;
    let _serial = serial();
    let body = Arc::new(pattern(BIG));
    let gate = Arc::new(Gate::new());
    let entered = Arc::new(AtomicUsize::new(0));
    let (gate_in, entered_in, body_in) =
        (Arc::clone(&gate), Arc::clone(&entered), Arc::clone(&body));
    let server = TestServer::start(
        |b| {
            b.threads(1)
                .queue_capacity(1)
                .write_timeout(Duration::from_secs(30))
        },
        move |request: &Request| match request.path() {
            "/big" => Response::bytes(StatusCode::OK, "application/octet-stream", body_in.to_vec()),
            "/block" => {
                entered_in.fetch_add(1, Ordering::SeqCst);
                let opened = gate_in.wait(Duration::from_secs(20));
                Response::text(StatusCode::OK, format!("opened={opened}"))
            }
            _ => ok_handler(request),
        },
    );
    let _open = OpenOnDrop(&gate);

    // A download that fills the socket buffers and parks, waiting to write.
    let mut download = connect(server.addr);
    download
        .write_all(b"GET /big HTTP/1.1\r\nHost: load\r\n\r\n")
        .expect("ask for the download");
    let head = read_head_response(&mut download);
    assert_eq!(head.status, 200);
    wait_for_stalled_download(&download);

    // Saturate the pool: the worker blocks, the one queue slot is taken.
    let block = b"GET /block HTTP/1.1\r\nHost: load\r\n\r\n";
    let mut first = connect(server.addr);
    first.write_all(block).expect("send /block");
    wait_until(Duration::from_secs(5), "the first /block to start", || {
        entered.load(Ordering::SeqCst) == 1
    });
    let mut second = connect(server.addr);
    second.write_all(block).expect("send /block");
    // A third request is shed: proof that the queue slot is taken (by the second, as the
    // download is stalled) before the download becomes writable again.
    let mut probe = connect(server.addr);
    probe
        .write_all(b"GET /probe HTTP/1.1\r\nHost: load\r\n\r\n")
        .expect("send /probe");
    assert_eq!(
        read_response(&mut probe).status,
        503,
        "setup: the pool is not saturated"
    );

    // Now read the download. A correct server may stall it until a worker is free (then the
    // gate is opened), but must never cut it short or change its bytes.
    download
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("set a read timeout");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = 0;
    let mut buf = vec![0u8; 256 * 1024];
    let mut problem = None;
    while got < BIG && Instant::now() < deadline {
        match download.read(&mut buf) {
            Ok(0) => {
                problem = Some("EOF".to_owned());
                break;
            }
            Ok(n) => {
                let n = n.min(BIG - got);
                if buf[..n] != body[got..got + n] {
                    let at = (0..n).find(|&i| buf[i] != body[got + i]).unwrap_or(0);
                    let end = (at + 120).min(n);
                    problem = Some(format!(
                        "wrong bytes at offset {}: {:?}",
                        got + at,
                        String::from_utf8_lossy(&buf[at..end])
                    ));
                    break;
                }
                got += n;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                gate.open();
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                problem = Some(e.to_string());
                break;
            }
        }
    }
    gate.open();
    assert!(
        problem.is_none() && got == BIG,
        "download cut after {got} of {BIG} body bytes: {}",
        problem.as_deref().unwrap_or("deadline passed")
    );
    // The second /block kept its queue slot throughout.
    for stream in [&mut first, &mut second] {
        assert_eq!(read_response(stream).body_text(), "opened=true");
    }
    assert_eq!(get_status(server.addr, "/again"), 200);
}

/// What the shutdown-under-load clients saw.
#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    shed: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(what);
    }
}

/// One keep-alive client: requests in a loop until the server goes away after `stopping`.
fn shutdown_client(id: usize, addr: SocketAddr, stopping: &AtomicBool, tally: &Tally) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut conn: Option<TcpStream> = None;
    for n in 0..100_000 {
        if Instant::now() > deadline {
            tally.fail(format!("client {id} still running at its deadline"));
            return;
        }
        let mut stream = match conn.take() {
            Some(stream) => stream,
            None if stopping.load(Ordering::SeqCst) => return,
            None => connect(addr),
        };
        let path = format!("/c{id}/{n}");
        let request = format!("GET {path} HTTP/1.1\r\nHost: load\r\n\r\n");
        if let Err(err) = stream.write_all(request.as_bytes()) {
            if !stopping.load(Ordering::SeqCst) {
                tally.fail(format!("client {id}: write failed before shutdown: {err}"));
            }
            return;
        }
        match try_read_response(&mut stream, BodyMode::Framed) {
            Ok(reply) if reply.status == 200 && reply.body_text() == format!("ok {path}") => {
                tally.ok.fetch_add(1, Ordering::SeqCst);
                if !reply.closes() {
                    conn = Some(stream);
                }
            }
            Ok(reply) if reply.status == 503 => {
                tally.shed.fetch_add(1, Ordering::SeqCst);
            }
            Ok(reply) => {
                tally.fail(format!(
                    "client {id}: unexpected reply to {path}: {reply:?}"
                ));
                return;
            }
            // Closed without a byte: allowed once the shutdown began.
            Err(ReadError::Closed { .. }) if stopping.load(Ordering::SeqCst) => return,
            Err(err) => {
                tally.fail(format!("client {id}, {path}: {}", describe(&err)));
                return;
            }
        }
    }
}

#[test]
fn shutdown_under_load_completes_every_answered_request() {
    const CLIENTS: usize = 50;
    let drain = Duration::from_secs(5);
    let _serial = serial();
    let mut server = TestServer::start(
        |b| {
            b.threads(4)
                .queue_capacity(2 * CLIENTS)
                .keep_alive_timeout(Duration::from_secs(10))
                .drain_timeout(drain)
        },
        |request: &Request| {
            // Simulated work, so that requests are in flight when the shutdown comes.
            thread::sleep(Duration::from_millis(5));
            ok_handler(request)
        },
    );
    let addr = server.addr;
    let stopping = AtomicBool::new(false);
    let tally = Tally::default();
    thread::scope(|scope| {
        for id in 0..CLIENTS {
            let (stopping, tally) = (&stopping, &tally);
            scope.spawn(move || shutdown_client(id, addr, stopping, tally));
        }
        wait_until(Duration::from_secs(20), "300 answered requests", || {
            tally.ok.load(Ordering::SeqCst) >= 300
        });
        stopping.store(true, Ordering::SeqCst);
        server.handle.shutdown();
        let result = server.join_within(drain + Duration::from_secs(2));
        assert!(result.is_ok(), "Server::run failed: {result:?}");
    });
    let failures = tally
        .failures
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(tally.ok.load(Ordering::SeqCst) >= 300);

    // Stopped means stopped: a new connection is refused, or closed without an answer.
    if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: load\r\n\r\n");
        let (bytes, end) = read_until_closed(&mut stream, IO_TIMEOUT);
        assert!(
            bytes.is_empty() && end != End::TimedOut,
            "a stopped server answered: {:?} {end:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn slow_download_in_flight_at_shutdown_completes() {
    const BIG: usize = 8 * 1024 * 1024;
    const STEP: usize = 64 * 1024;
    let drain = Duration::from_secs(10);
    let _serial = serial();
    let body = Arc::new(pattern(BIG));
    let body_in = Arc::clone(&body);
    let mut server = TestServer::start(
        |b| {
            b.threads(2)
                .write_timeout(Duration::from_secs(5))
                .drain_timeout(drain)
        },
        move |_: &Request| {
            Response::bytes(StatusCode::OK, "application/octet-stream", body_in.to_vec())
        },
    );
    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET /download HTTP/1.1\r\nHost: load\r\n\r\n")
        .expect("ask for the download");
    let head = read_head_response(&mut stream);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(BIG.to_string().as_str())
    );

    let mut received = Vec::with_capacity(BIG);
    let mut buf = vec![0u8; STEP];
    let mut shutdown_at = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.len() < BIG {
        assert!(Instant::now() < deadline, "download too slow");
        let want = STEP.min(BIG - received.len());
        let n = match stream.read(&mut buf[..want]) {
            Ok(0) => panic!(
                "EOF after {} of {BIG} body bytes (shutdown {:?} ago)",
                received.len(),
                shutdown_at.map(|at: Instant| at.elapsed())
            ),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("{e} after {} of {BIG} body bytes", received.len()),
        };
        received.extend_from_slice(&buf[..n]);
        if shutdown_at.is_none() {
            // The download is under way: shut down now.
            server.handle.shutdown();
            shutdown_at = Some(Instant::now());
        }
        // A slow client: 64 KiB every 10 ms.
        thread::sleep(Duration::from_millis(10));
    }
    let shutdown_at = shutdown_at.expect("the shutdown was called");
    let took = shutdown_at.elapsed();
    assert!(received == *body, "the downloaded bytes differ");
    assert!(
        took < drain,
        "the download took {took:?} after the shutdown"
    );
    // Shutting down: the connection is not kept alive after the download.
    support::assert_closed_within(&mut stream, Duration::from_secs(2));
    let left = drain.saturating_sub(shutdown_at.elapsed()) + Duration::from_secs(1);
    let result = server.join_within(left);
    assert!(result.is_ok(), "Server::run failed: {result:?}");
}

#[test]
fn shutdown_closes_idle_connections_at_once() {
    let _serial = serial();
    let mut server = TestServer::start(
        |b| {
            b.keep_alive_timeout(Duration::from_secs(30))
                .head_timeout(Duration::from_secs(30))
                .drain_timeout(Duration::from_secs(10))
        },
        ok_handler,
    );
    // Keep-alive connections between requests, and connections that never sent a byte.
    let mut idle: Vec<TcpStream> = (0..20)
        .map(|i| {
            let mut stream = connect(server.addr);
            stream
                .write_all(format!("GET /{i} HTTP/1.1\r\nHost: load\r\n\r\n").as_bytes())
                .expect("send a GET");
            assert_eq!(read_response(&mut stream).status, 200);
            stream
        })
        .collect();
    idle.extend((0..20).map(|_| connect(server.addr)));
    server.handle.shutdown();
    // Neither the 30 s idle timers nor the 10 s drain deadline are waited for (a connection
    // that never sent a byte gets a second's grace for a request on its way).
    for stream in &mut idle {
        support::assert_closed_within(stream, Duration::from_secs(2));
    }
    let result = server.join_within(Duration::from_secs(2));
    assert!(result.is_ok(), "Server::run failed: {result:?}");
}

/// Slow handlers run side by side: N requests that block in the handler, sent at once (so that
/// one accept or one wait can take several), occupy N workers. If one worker took two of them,
/// the second would wait behind the first and fewer than N would ever be inside the handler.
#[test]
fn r8_each_slow_request_gets_its_own_worker() {
    const WORKERS: usize = 4;
    let _serial = serial();
    let gate = Arc::new(Gate::new());
    let entered = Arc::new(AtomicUsize::new(0));
    let (gate_in, entered_in) = (Arc::clone(&gate), Arc::clone(&entered));
    let server = TestServer::start(
        |b| b.threads(WORKERS),
        move |request: &Request| {
            entered_in.fetch_add(1, Ordering::SeqCst);
            let opened = gate_in.wait(Duration::from_secs(20));
            Response::text(StatusCode::OK, format!("{} {opened}", request.path()))
        },
    );
    let _open = OpenOnDrop(&gate);
    // Each request right behind its connection: one accept may take several of them, their
    // requests already there.
    let mut streams: Vec<TcpStream> = (0..WORKERS)
        .map(|i| {
            let mut stream = connect(server.addr);
            stream
                .write_all(format!("GET /{i} HTTP/1.1\r\nHost: load\r\n\r\n").as_bytes())
                .expect("send a request");
            stream
        })
        .collect();
    wait_until(
        Duration::from_secs(10),
        "every slow request to be in a handler at once",
        || entered.load(Ordering::SeqCst) == WORKERS,
    );
    gate.open();
    for (i, stream) in streams.iter_mut().enumerate() {
        let reply = read_response(stream);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), format!("/{i} true"));
    }
}

/// A graceful drain stops listening at once: while a slow request finishes, a new client is
/// refused straight away (a load balancer or a second instance can take it) instead of being
/// held in the backlog until the server exits.
#[test]
fn r9_the_drain_closes_the_listener_at_once() {
    let _serial = serial();
    let gate = Arc::new(Gate::new());
    let entered = Arc::new(AtomicUsize::new(0));
    let (gate_in, entered_in) = (Arc::clone(&gate), Arc::clone(&entered));
    let server = TestServer::start(
        |b| b.drain_timeout(Duration::from_secs(20)),
        move |_: &Request| {
            entered_in.fetch_add(1, Ordering::SeqCst);
            let opened = gate_in.wait(Duration::from_secs(20));
            Response::text(StatusCode::OK, format!("opened={opened}"))
        },
    );
    let _open = OpenOnDrop(&gate);
    let mut slow = connect(server.addr);
    slow.write_all(b"GET / HTTP/1.1\r\nHost: load\r\n\r\n")
        .expect("send a request");
    wait_until(Duration::from_secs(5), "the slow request to start", || {
        entered.load(Ordering::SeqCst) == 1
    });
    server.handle.shutdown();
    wait_until(Duration::from_secs(5), "new clients to be refused", || {
        matches!(
            TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused
        )
    });
    // The request in flight still completes.
    gate.open();
    let reply = read_response(&mut slow);
    assert_eq!(reply.body_text(), "opened=true");
    assert!(
        reply.closes(),
        "draining: the connection closes after this response"
    );
}
