//! HTTP/1.1 connection semantics over real sockets: persistence, pipelining, `HEAD`,
//! `Expect: 100-continue`, request bodies and their limits, per-connection request limits,
//! handler failures, and the idle and request-head deadlines.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lido::http::{Method, Request, Response, StatusCode};
use support::{
    End, TestServer, assert_closed_within, connect, get_status, read_head_response, read_response,
    read_until_closed,
};

/// Bytes `/huge` answers: more than loopback's socket buffers hold, so writing it waits for
/// the client.
const HUGE: usize = 32 << 20;

/// `/echo` answers with the request body, `/panic` panics, `/post-only` allows only `POST`,
/// `/huge` answers [`HUGE`] bytes, anything else answers `path=...`.
fn handler(request: &Request) -> Response {
    match request.path() {
        "/huge" => Response::bytes(StatusCode::OK, "application/octet-stream", vec![b'x'; HUGE]),
        "/echo" => Response::bytes(
            StatusCode::OK,
            "application/octet-stream",
            request.body().to_vec(),
        ),
        "/panic" => panic!("the test handler panics on purpose"),
        "/post-only" if request.method() != Method::POST => {
            lido::method_not_allowed(&[Method::POST])
        }
        path => Response::text(StatusCode::OK, format!("path={path}")),
    }
}

fn start_with(configure: impl FnOnce(lido::ServerBuilder) -> lido::ServerBuilder) -> TestServer {
    TestServer::start(configure, handler)
}

fn start() -> TestServer {
    start_with(|b| b)
}

fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).expect("send to the server");
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let server = start();
    let mut stream = connect(server.addr);
    for path in ["/first", "/second"] {
        send(&mut stream, &get(path));
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), format!("path={path}"));
        assert!(!reply.closes(), "keep-alive reply says close: {reply:?}");
    }
}

#[test]
fn connection_close_is_honoured() {
    let server = start();
    let mut stream = connect(server.addr);
    send(
        &mut stream,
        b"GET /bye HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    );
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 200);
    assert!(reply.closes(), "no Connection: close in {reply:?}");
    assert_closed_within(&mut stream, Duration::from_secs(2));
}

#[test]
fn http10_closes_by_default() {
    let server = start();
    let mut stream = connect(server.addr);
    send(&mut stream, b"GET /old HTTP/1.0\r\n\r\n");
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "path=/old");
    assert!(reply.closes(), "no Connection: close in {reply:?}");
    assert_closed_within(&mut stream, Duration::from_secs(2));
}

#[test]
fn http10_keep_alive_is_kept_open() {
    let server = start();
    let mut stream = connect(server.addr);
    for path in ["/one", "/two"] {
        send(
            &mut stream,
            format!("GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes(),
        );
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), format!("path={path}"));
        assert_eq!(
            reply.header("connection").map(str::to_ascii_lowercase),
            Some("keep-alive".to_owned()),
            "an HTTP/1.0 keep-alive reply must say so: {reply:?}"
        );
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start();
    let mut stream = connect(server.addr);
    let mut requests = Vec::new();
    for path in ["/p1", "/p2", "/p3"] {
        requests.extend_from_slice(&get(path));
    }
    send(&mut stream, &requests);
    for path in ["/p1", "/p2", "/p3"] {
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), format!("path={path}"));
    }
}

#[test]
fn many_pipelined_requests_in_one_write_are_all_answered() {
    // More than one dispatch's worth, so the connection must be re-queued part-way.
    let server = start();
    let mut stream = connect(server.addr);
    let paths: Vec<String> = (0..50).map(|i| format!("/many/{i}")).collect();
    let requests: Vec<u8> = paths.iter().flat_map(|p| get(p)).collect();
    send(&mut stream, &requests);
    for path in &paths {
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), format!("path={path}"));
    }
}

#[test]
fn a_pipeline_longer_than_one_read_is_answered_whole() {
    // More bytes than one read takes (16 KiB), in one write: the server must read on after a
    // full read, as no new arrival will announce what is already in the socket.
    let server = start();
    let mut stream = connect(server.addr);
    let paths: Vec<String> = (0..1_000).map(|i| format!("/long-pipeline/{i}")).collect();
    let requests: Vec<u8> = paths.iter().flat_map(|p| get(p)).collect();
    assert!(requests.len() > 32 * 1024, "{} bytes", requests.len());
    let writer = {
        let mut stream = stream.try_clone().expect("clone the client socket");
        std::thread::spawn(move || send(&mut stream, &requests))
    };
    for path in &paths {
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), format!("path={path}"));
    }
    writer.join().expect("the writer");
}

#[test]
fn a_request_sent_while_a_long_response_is_written_is_answered() {
    // The second request arrives while the server waits for room to write the first response
    // (its arrival is announced to a turn that only writes): once the response is out, the
    // server must still find it.
    let server = start();
    let mut stream = connect(server.addr);
    send(&mut stream, &get("/huge"));
    let mut started = vec![0u8; 64 * 1024];
    stream
        .read_exact(&mut started)
        .expect("the start of the first response");
    send(&mut stream, &get("/after-huge"));
    let mut replies = started.as_slice().chain(&mut stream);
    let huge = read_response(&mut replies);
    assert_eq!(huge.status, 200);
    assert_eq!(huge.body.len(), HUGE);
    let after = read_response(&mut replies);
    assert_eq!(after.status, 200);
    assert_eq!(after.body_text(), "path=/after-huge");
}

#[test]
fn head_has_content_length_but_no_body() {
    let server = start();
    let mut stream = connect(server.addr);
    let mut requests = b"HEAD /headed HTTP/1.1\r\nHost: test\r\n\r\n".to_vec();
    requests.extend_from_slice(&get("/after-head"));
    send(&mut stream, &requests);
    let head = read_head_response(&mut stream);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some("path=/headed".len().to_string().as_str()),
        "HEAD must announce the GET body length"
    );
    // Had a body followed the HEAD response, this would read it as a status line.
    let next = read_response(&mut stream);
    assert_eq!(next.status, 200);
    assert_eq!(next.body_text(), "path=/after-head");
}

#[test]
fn responses_carry_a_date() {
    let server = start();
    let mut stream = connect(server.addr);
    send(&mut stream, &get("/dated"));
    let reply = read_response(&mut stream);
    let date = reply.header("date").expect("a Date header");
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    assert_eq!(date.len(), 29, "not an IMF-fixdate: {date:?}");
    assert!(date.ends_with(" GMT"), "not an IMF-fixdate: {date:?}");
    assert_eq!(&date[3..5], ", ", "not an IMF-fixdate: {date:?}");
}

#[test]
fn expect_100_continue_gets_100_before_the_body_is_sent() {
    let server = start();
    let mut stream = connect(server.addr);
    send(
        &mut stream,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    // Nothing of the body has been sent: the 100 must come first.
    let interim = read_response(&mut stream);
    assert_eq!(
        interim.status, 100,
        "expected 100 Continue, got {interim:?}"
    );
    send(&mut stream, b"hello");
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "hello");
}

#[test]
fn expect_100_continue_with_an_oversized_body_gets_413_not_100() {
    let server = start_with(|b| b.max_body(16));
    let mut stream = connect(server.addr);
    send(
        &mut stream,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 17\r\nExpect: 100-continue\r\n\r\n",
    );
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 413);
    assert!(reply.closes());
    assert_closed_within(&mut stream, Duration::from_secs(2));
}

#[test]
fn content_length_body_is_delivered_to_the_handler() {
    let server = start();
    let mut stream = connect(server.addr);
    // Larger than one socket read, sent in two writes.
    let body = support::pattern(200 * 1024);
    send(
        &mut stream,
        format!(
            "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    send(&mut stream, &body[..1000]);
    send(&mut stream, &body[1000..]);
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 200);
    assert!(reply.body == body, "echoed body differs");
    // The connection is still in step.
    send(&mut stream, &get("/next"));
    assert_eq!(read_response(&mut stream).body_text(), "path=/next");
}

#[test]
fn chunked_body_is_delivered_to_the_handler() {
    let server = start();
    let mut stream = connect(server.addr);
    let mut request =
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    // A pipelined request right after the last chunk must not be eaten by the decoder.
    request.extend_from_slice(&get("/after-chunked"));
    send(&mut stream, &request);
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "hello world");
    let next = read_response(&mut stream);
    assert_eq!(next.body_text(), "path=/after-chunked");
}

#[test]
fn body_over_max_body_gets_413_by_content_length() {
    let server = start_with(|b| b.max_body(16));
    let mut stream = connect(server.addr);
    send(
        &mut stream,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 17\r\n\r\n0123456789abcdefg",
    );
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 413);
    assert!(reply.closes(), "no Connection: close in {reply:?}");
    assert_closed_within(&mut stream, Duration::from_secs(2));
    // Exactly max_body is fine.
    let mut stream = connect(server.addr);
    send(
        &mut stream,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 16\r\n\r\n0123456789abcdef",
    );
    assert_eq!(read_response(&mut stream).body_text(), "0123456789abcdef");
}

#[test]
fn body_over_max_body_gets_413_when_chunked() {
    let server = start_with(|b| b.max_body(16));
    let mut stream = connect(server.addr);
    send(
        &mut stream,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
          8\r\n01234567\r\n9\r\n012345678\r\n0\r\n\r\n",
    );
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 413);
    assert!(reply.closes(), "no Connection: close in {reply:?}");
    assert_closed_within(&mut stream, Duration::from_secs(2));
}

#[test]
fn max_requests_per_connection_closes_after_n() {
    let server = start_with(|b| b.max_requests_per_connection(3));
    let mut stream = connect(server.addr);
    for i in 1..=3 {
        send(&mut stream, &get(&format!("/n{i}")));
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.closes(), i == 3, "request {i}: {reply:?}");
    }
    assert_closed_within(&mut stream, Duration::from_secs(2));
}

#[test]
fn method_not_allowed_lists_allow() {
    let server = start();
    let mut stream = connect(server.addr);
    send(&mut stream, &get("/post-only"));
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST"));
    // A 405 is an ordinary response: the connection stays usable.
    send(
        &mut stream,
        b"POST /post-only HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(read_response(&mut stream).status, 200);
}

#[test]
fn handler_panic_gives_500_and_the_server_keeps_serving() {
    let server = start_with(|b| b.threads(2));
    // More panics than workers: none may take a worker down for good.
    for _ in 0..6 {
        let mut stream = connect(server.addr);
        send(&mut stream, &get("/panic"));
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, 500);
        assert!(reply.closes(), "no Connection: close in {reply:?}");
        assert_closed_within(&mut stream, Duration::from_secs(2));
    }
    for _ in 0..4 {
        assert_eq!(get_status(server.addr, "/fine"), 200);
    }
}

#[test]
fn idle_keep_alive_connection_is_closed_after_the_timeout() {
    let keep_alive = Duration::from_millis(300);
    let server = start_with(|b| b.keep_alive_timeout(keep_alive));
    let mut stream = connect(server.addr);
    send(&mut stream, &get("/once"));
    assert_eq!(read_response(&mut stream).status, 200);
    let idle = assert_closed_within(&mut stream, keep_alive + Duration::from_secs(10));
    // Closed by the idle timer, not at once.
    assert!(idle >= keep_alive / 2, "closed after only {idle:?}");
}

#[test]
fn silent_new_connection_is_closed_after_the_head_timeout() {
    let head = Duration::from_millis(400);
    let server = start_with(|b| b.head_timeout(head));
    let mut stream = connect(server.addr);
    // Nothing was asked, so nothing (no 408) is answered.
    let waited = assert_closed_within(&mut stream, head + Duration::from_secs(10));
    assert!(waited >= head / 2, "closed after only {waited:?}");
}

#[test]
fn partial_request_line_then_silence_is_cut_off_at_the_head_timeout() {
    let head = Duration::from_millis(400);
    let server = start_with(|b| b.head_timeout(head));
    let mut stream = connect(server.addr);
    let started = Instant::now();
    send(&mut stream, b"GET /ind");
    let (bytes, end) = read_until_closed(&mut stream, head + Duration::from_secs(10));
    let waited = started.elapsed();
    assert_ne!(end, End::TimedOut, "still open after {waited:?}");
    assert!(waited >= head / 2, "closed after only {waited:?}");
    if !bytes.is_empty() {
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(support::parse_status(&text), 408, "{text:?}");
    }
}

#[test]
fn slow_trickled_head_is_cut_off_at_the_whole_head_deadline() {
    let head = Duration::from_millis(600);
    let server = start_with(|b| b.head_timeout(head));
    let mut stream = connect(server.addr);
    stream.set_nodelay(true).expect("set TCP_NODELAY");
    // 200 bytes at one per 50 ms would take 10 s: far past the deadline.
    let request = format!(
        "GET / HTTP/1.1\r\nHost: test\r\nX-Slow: {}\r\n\r\n",
        "s".repeat(160)
    );
    let started = Instant::now();
    let mut received = Vec::new();
    let mut closed = false;
    let mut sent = 0;
    // The whole request takes 10 s at this pace: a whole-head deadline cuts it short, a
    // per-read one never would. No upper bound on time: a slow machine only sends fewer bytes.
    'trickle: for byte in request.as_bytes() {
        if stream.write_all(std::slice::from_ref(byte)).is_err() {
            closed = true;
            break;
        }
        sent += 1;
        // The 50 ms pause between bytes is a read that notices the server closing.
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("set a read timeout");
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break 'trickle;
                }
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    closed = true;
                    break 'trickle;
                }
            }
        }
    }
    let waited = started.elapsed();
    assert!(
        closed && sent < request.len(),
        "still open after {waited:?} and {sent} of {} bytes: a per-read deadline?",
        request.len()
    );
    assert!(waited >= head / 2, "cut off after only {waited:?}");
    if !received.is_empty() {
        let text = String::from_utf8_lossy(&received);
        assert_eq!(support::parse_status(&text), 408, "{text:?}");
    }
}

#[test]
fn slow_trickled_second_head_is_cut_off_at_the_whole_head_deadline() {
    // The same on a keep-alive connection's second request, whose deadline starts at its
    // first byte rather than at the accept.
    let head = Duration::from_millis(600);
    let server = start_with(|b| {
        b.head_timeout(head)
            .keep_alive_timeout(Duration::from_secs(5))
    });
    let mut stream = connect(server.addr);
    stream.set_nodelay(true).expect("set TCP_NODELAY");
    send(&mut stream, &get("/first"));
    assert_eq!(read_response(&mut stream).status, 200);
    let request = format!(
        "GET / HTTP/1.1\r\nHost: test\r\nX-Slow: {}\r\n\r\n",
        "s".repeat(160)
    );
    let started = Instant::now();
    let mut closed = false;
    let mut sent = 0;
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("set a read timeout");
    // The whole request takes 10 s at this pace: a whole-head deadline cuts it short, a
    // per-read one never would. No upper bound on time: a slow machine only sends fewer bytes.
    'trickle: for byte in request.as_bytes() {
        if stream.write_all(std::slice::from_ref(byte)).is_err() {
            closed = true;
            break;
        }
        sent += 1;
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break 'trickle;
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    closed = true;
                    break 'trickle;
                }
            }
        }
    }
    let waited = started.elapsed();
    assert!(
        closed && sent < request.len(),
        "still open after {waited:?} and {sent} bytes: a per-read deadline?"
    );
    assert!(waited >= head / 2, "cut off after only {waited:?}");
}

#[test]
fn many_handler_calls_count_once_each() {
    // A request is handled exactly once, even pipelined behind a body.
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let server = TestServer::start(
        |b| b,
        move |request: &Request| {
            seen.fetch_add(1, Ordering::SeqCst);
            Response::text(StatusCode::OK, format!("{}", request.body().len()))
        },
    );
    let mut stream = connect(server.addr);
    let mut requests = Vec::new();
    for i in 0..10 {
        requests.extend_from_slice(
            format!("POST /c HTTP/1.1\r\nHost: test\r\nContent-Length: {i}\r\n\r\n").as_bytes(),
        );
        requests.extend(std::iter::repeat_n(b'z', i));
    }
    send(&mut stream, &requests);
    for i in 0..10 {
        assert_eq!(read_response(&mut stream).body_text(), i.to_string());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 10);
}

/// Reads a `len`-byte body in reads of at most `step` bytes with `pause` after each: a slow
/// but steady client. `Err` says how far it got.
fn read_body_slowly(
    stream: &mut TcpStream,
    len: usize,
    step: usize,
    pause: Duration,
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut body = Vec::with_capacity(len);
    let mut buf = vec![0u8; step];
    while body.len() < len {
        if Instant::now() > deadline {
            return Err(format!(
                "deadline passed after {} of {len} bytes",
                body.len()
            ));
        }
        let want = step.min(len - body.len());
        match stream.read(&mut buf[..want]) {
            Ok(0) => return Err(format!("EOF after {} of {len} bytes", body.len())),
            Ok(n) => body.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("{e} after {} of {len} bytes", body.len())),
        }
        // Pacing of the simulated slow client, not a wait for the server.
        std::thread::sleep(pause);
    }
    Ok(body)
}

/// A file in the temporary directory, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn with(contents: &[u8]) -> TempFile {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("lido-http11-{}-{nanos}.bin", std::process::id()));
        std::fs::write(&path, contents).expect("write a temporary file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const BIG: usize = 8 * 1024 * 1024;

/// Serves `/big` as an 8 MiB `Body::Bytes`, or (`/file`) as `Body::File` of `file` from
/// offset 1000, after sleeping `work`.
fn big_handler(
    file: Option<std::path::PathBuf>,
    work: Duration,
) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    let body = Arc::new(support::pattern(BIG));
    move |request: &Request| {
        std::thread::sleep(work);
        match (request.path(), &file) {
            ("/file", Some(path)) => {
                let file = std::fs::File::open(path).expect("open the temporary file");
                Response::new(StatusCode::OK)
                    .with_body(lido::http::Body::file(file, 1000, BIG as u64))
            }
            _ => Response::bytes(StatusCode::OK, "application/octet-stream", body.to_vec()),
        }
    }
}

#[test]
fn file_body_is_sent_from_its_offset_and_keeps_the_connection_in_step() {
    let contents = support::pattern(BIG + 2000);
    let file = TempFile::with(&contents);
    let server = TestServer::start(|b| b, big_handler(Some(file.0.clone()), Duration::ZERO));
    let mut stream = connect(server.addr);
    let mut requests = b"HEAD /file HTTP/1.1\r\nHost: test\r\n\r\n".to_vec();
    requests.extend_from_slice(&get("/file"));
    requests.extend_from_slice(&get("/file"));
    send(&mut stream, &requests);
    let head = read_head_response(&mut stream);
    assert_eq!(
        head.header("content-length"),
        Some(BIG.to_string().as_str())
    );
    for _ in 0..2 {
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, 200);
        assert!(
            reply.body[..] == contents[1000..1000 + BIG],
            "file bytes differ"
        );
    }
}

#[test]
fn slow_but_steady_reader_of_a_file_body_is_not_cut_off_by_write_timeout() {
    let write_timeout = Duration::from_millis(400);
    let contents = support::pattern(BIG + 2000);
    let file = TempFile::with(&contents);
    let server = TestServer::start(
        |b| b.write_timeout(write_timeout),
        big_handler(Some(file.0.clone()), Duration::ZERO),
    );
    let mut stream = connect(server.addr);
    send(&mut stream, &get("/file"));
    let head = read_head_response(&mut stream);
    assert_eq!(head.status, 200);
    // About 1.3 s in all, far longer than the write timeout, but never idle for long.
    let body = read_body_slowly(&mut stream, BIG, 64 * 1024, Duration::from_millis(10))
        .unwrap_or_else(|e| panic!("file download cut: {e}"));
    assert!(body[..] == contents[1000..1000 + BIG], "file bytes differ");
}

#[test]
fn slow_but_steady_reader_of_a_bytes_body_is_not_cut_off_by_write_timeout() {
    let write_timeout = Duration::from_millis(400);
    let server = TestServer::start(
        |b| b.write_timeout(write_timeout),
        big_handler(None, Duration::ZERO),
    );
    let mut stream = connect(server.addr);
    send(&mut stream, &get("/big"));
    let head = read_head_response(&mut stream);
    assert_eq!(head.status, 200);
    // About 1.3 s in all, far longer than the write timeout, but never idle for long.
    let body = read_body_slowly(&mut stream, BIG, 64 * 1024, Duration::from_millis(10))
        .unwrap_or_else(|e| panic!("download cut: {e}"));
    assert!(body == support::pattern(BIG), "body bytes differ");
}

#[test]
fn write_timeout_does_not_count_the_handler_time() {
    let write_timeout = Duration::from_millis(500);
    let server = TestServer::start(
        |b| b.write_timeout(write_timeout),
        big_handler(None, Duration::from_secs(1)),
    );
    let mut stream = connect(server.addr);
    send(&mut stream, &get("/big"));
    let head = read_head_response(&mut stream);
    assert_eq!(head.status, 200);
    // A prompt reader: the 8 MiB take a few hundred ms, well inside the write timeout.
    let body = read_body_slowly(&mut stream, BIG, 64 * 1024, Duration::from_millis(2))
        .unwrap_or_else(|e| panic!("download cut: {e}"));
    assert!(body == support::pattern(BIG), "body bytes differ");
}

#[test]
fn keep_alive_timer_starts_after_the_response() {
    let keep_alive = Duration::from_millis(600);
    let server = TestServer::start(
        |b| b.keep_alive_timeout(keep_alive),
        |request: &Request| {
            if request.path() == "/slow" {
                std::thread::sleep(Duration::from_secs(1));
            }
            Response::text(StatusCode::OK, "done")
        },
    );
    let mut stream = connect(server.addr);
    send(&mut stream, &get("/slow"));
    assert_eq!(read_response(&mut stream).status, 200);
    // Idle for half the keep-alive timeout: the connection must still be open.
    let (bytes, end) = read_until_closed(&mut stream, keep_alive / 2);
    assert_eq!(
        end,
        End::TimedOut,
        "closed {:?} into a {keep_alive:?} keep-alive: {:?}",
        keep_alive / 2,
        String::from_utf8_lossy(&bytes)
    );
    send(&mut stream, &get("/fast"));
    assert_eq!(read_response(&mut stream).status, 200);
}

#[test]
fn stalled_request_body_gets_408_after_body_timeout() {
    let body_timeout = Duration::from_millis(400);
    let server = start_with(|b| b.body_timeout(body_timeout));
    let mut stream = connect(server.addr);
    send(
        &mut stream,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc",
    );
    let started = Instant::now();
    let (bytes, end) = read_until_closed(&mut stream, body_timeout + Duration::from_secs(10));
    let waited = started.elapsed();
    assert_ne!(end, End::TimedOut, "still open after {waited:?}");
    assert!(waited >= body_timeout / 2, "closed after only {waited:?}");
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(support::parse_status(&text), 408, "{text:?}");
}

#[test]
fn client_that_never_reads_is_cut_off_by_write_timeout() {
    // With room for one connection only, the second is served once the first is closed: a
    // response in progress keeps its place until the write timeout cuts it.
    let write_timeout = Duration::from_millis(400);
    let server = TestServer::start(
        |b| b.max_connections(1).write_timeout(write_timeout),
        big_handler(None, Duration::ZERO),
    );
    // A small receive buffer: the response cannot all fit in the kernel's buffers.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    socket.connect(&server.addr.into()).expect("connect");
    let mut stuck: TcpStream = socket.into();
    send(&mut stuck, &get("/big"));
    // Its response has started (then it reads no more): it is in progress, not evictable.
    assert_eq!(read_head_response(&mut stuck).status, 200);
    let started = Instant::now();
    let mut next = connect(server.addr);
    send(&mut next, &get("/big"));
    let reply = read_response(&mut next);
    let waited = started.elapsed();
    assert_eq!(reply.status, 200);
    // Not served before the timeout (a lower bound only: a slow machine cannot break it).
    assert!(waited >= write_timeout / 2, "served after only {waited:?}");
    // The stuck download was cut short.
    let (bytes, _) = read_until_closed(&mut stuck, Duration::from_secs(5));
    assert!(bytes.len() < BIG, "the stuck client got the whole response");
}

#[test]
fn r9_at_max_connections_an_idle_connection_makes_room() {
    let server = start_with(|b| {
        b.max_connections(1)
            .keep_alive_timeout(Duration::from_secs(10))
    });
    let mut first = connect(server.addr);
    send(&mut first, &get("/first"));
    assert_eq!(read_response(&mut first).status, 200);
    // The first is idle between requests: it gives up its place to the newcomer.
    let mut second = connect(server.addr);
    send(&mut second, &get("/second"));
    let reply = read_response(&mut second);
    assert_eq!(reply.body_text(), "path=/second");
    let (bytes, end) = read_until_closed(&mut first, Duration::from_secs(5));
    assert_eq!(
        (bytes.len(), end),
        (0, End::Eof),
        "the idle connection was not closed"
    );
}

#[test]
fn r9_at_max_connections_requests_in_progress_keep_their_place() {
    let gate = std::sync::Arc::new(support::Gate::new());
    let entered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (gate_in, entered_in) = (gate.clone(), entered.clone());
    let server = TestServer::start(
        |b| b.max_connections(1),
        move |request: &Request| {
            entered_in.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if request.path() == "/block" {
                gate_in.wait(Duration::from_secs(20));
            }
            Response::text(StatusCode::OK, format!("path={}", request.path()))
        },
    );
    let _open = support::OpenOnDrop(&gate);
    let mut first = connect(server.addr);
    send(&mut first, &get("/block"));
    support::wait_until(Duration::from_secs(5), "the first request to start", || {
        entered.load(std::sync::atomic::Ordering::SeqCst) == 1
    });
    let mut second = connect(server.addr);
    send(&mut second, &get("/second"));
    // The first has a request in progress: the second waits in the backlog (its request is
    // not read while the first runs)...
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(entered.load(std::sync::atomic::Ordering::SeqCst), 1);
    // ...and is served once the first is done and idle.
    gate.open();
    assert_eq!(read_response(&mut first).body_text(), "path=/block");
    assert_eq!(read_response(&mut second).body_text(), "path=/second");
}

#[test]
fn serves_on_ipv6_loopback() {
    // No skip: a machine without an IPv6 loopback fails this test rather than passing it
    // untested.
    let server = lido::Server::builder()
        .engine(support::engine())
        .listen("[::1]:0")
        .threads(1)
        .bind(|_: &Request| Response::text(StatusCode::OK, "six"))
        .unwrap();
    let addr = server.local_addr();
    assert!(addr.is_ipv6());
    let handle = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(reply.ends_with("six"));
    handle.shutdown();
    thread.join().unwrap().unwrap();
}
