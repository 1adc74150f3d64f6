//! What a single client must not be able to do to everyone else: hold connections
//! with slow request bodies, lock others out at the connection limit, or break the framing
//! with a 1xx answer.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use lido::StaticFiles;
use lido::http::{Request, Response, StatusCode};
use support::{TempTree, TestServer, connect, read_response, wait_until};

/// A `POST` trickling its body one byte at a time.
fn slow_body(addr: std::net::SocketAddr, path: &str) -> TcpStream {
    let mut stream = connect(addr);
    stream
        .write_all(
            format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 8192\r\n\r\nx").as_bytes(),
        )
        .expect("send the head and a first byte");
    stream
}

/// A connection that sent part of a request line and stalls (slowloris).
fn slowloris(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = connect(addr);
    stream.write_all(b"GET / HTT").expect("send half a line");
    stream
}

#[test]
fn r9_static_files_answer_a_slow_body_from_its_head() {
    let tree = TempTree::new("lido-limits", "early");
    tree.write("a.txt", "a");
    let server = TestServer::start(|b| b, StaticFiles::new(&tree.root).expect("serve"));
    let started = Instant::now();
    let mut stream = slow_body(server.addr, "/a.txt");
    // Answered while 8,191 body bytes are still to come: the body is never waited for.
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert!(reply.closes(), "the unread body ends the connection");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered only after {:?} (the body timeout is 3 s)",
        started.elapsed()
    );
}

/// A library handler says what it needs: here the body of `/upload` only.
struct Uploads;

impl lido::Handler for Uploads {
    fn handle(&self, request: &Request) -> Response {
        Response::text(StatusCode::OK, format!("{} bytes", request.body().len()))
    }

    fn handle_head(&self, head: &Request) -> Option<Response> {
        (head.path() != "/upload").then(|| Response::text(StatusCode::NOT_FOUND, "nowhere\n"))
    }
}

#[test]
fn r9_a_handler_answers_from_the_head_or_reads_the_body() {
    let server = TestServer::start(|b| b, Uploads);
    let mut elsewhere = slow_body(server.addr, "/elsewhere");
    assert_eq!(read_response(&mut elsewhere).status, 404);

    let mut upload = connect(server.addr);
    upload
        .write_all(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        .expect("send an upload");
    let reply = read_response(&mut upload);
    assert_eq!((reply.status, reply.body_text().as_str()), (200, "5 bytes"));
}

#[test]
fn r9_a_full_server_still_answers_a_get_within_a_second() {
    const CAP: usize = 50;
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let tree = TempTree::new("lido-limits", "cap");
    tree.write("index.html", "hello");
    let server = TestServer::start(
        |b| {
            b.max_connections(CAP)
                .head_timeout(Duration::from_secs(60))
                .body_timeout(Duration::from_secs(60))
        },
        StaticFiles::new(&tree.root).expect("serve"),
    );
    // Fifty slowloris sockets and fifty slow bodies, more than the cap in all.
    let mut held: Vec<TcpStream> = (0..CAP).map(|_| slowloris(server.addr)).collect();
    held.extend((0..CAP).map(|_| slow_body(server.addr, "/")));
    let started = Instant::now();
    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send a GET");
    let reply = read_response(&mut stream);
    let took = started.elapsed();
    assert_eq!((reply.status, reply.body_text().as_str()), (200, "hello"));
    assert!(took < Duration::from_secs(1), "answered after {took:?}");
    drop(held);
}

/// At the connection limit with every connection busy, acceptors pause the listener while
/// closes resume it, all at once on several workers. However they interleave, the listener
/// must not be left paused while the server has room: every client is answered (a newcomer
/// may be refused when room vanished under it, and tries again; never left waiting).
#[test]
fn r9_accepting_resumes_however_pauses_and_closes_interleave() {
    const CAP: usize = 2;
    const CLIENTS: usize = 8;
    const REQUESTS: usize = 150;
    let server = TestServer::start(
        |b| b.max_connections(CAP),
        |_: &Request| {
            // Busy long enough for the connection to stay unevictable while others arrive.
            std::thread::sleep(Duration::from_millis(1));
            Response::text(StatusCode::OK, "ok")
        },
    );
    let addr = server.addr;
    // Under a loaded machine a newcomer whose request has not arrived yet may be evicted for
    // the next one again and again: refusals are not counted, only progress within the time.
    let deadline = Instant::now() + Duration::from_secs(60);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                for answered in 0..REQUESTS {
                    loop {
                        assert!(
                            Instant::now() < deadline,
                            "{answered} of {REQUESTS} answered in 60 s"
                        );
                        let mut stream = connect(addr);
                        let sent = stream
                            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                        match (
                            sent,
                            support::try_read_response(&mut stream, support::BodyMode::Framed),
                        ) {
                            (Ok(()), Ok(reply)) => {
                                assert_eq!(reply.status, 200);
                                break;
                            }
                            (_, Err(support::ReadError::TimedOut)) => {
                                panic!("no answer within the read timeout: accepting stalled")
                            }
                            // Turned away at the limit: evicted before its request arrived,
                            // or room vanished under it. Try again.
                            (_, Err(support::ReadError::Closed { .. })) => {}
                            (_, Err(other)) => panic!("{}", support::describe(&other)),
                            (Err(e), Ok(reply)) => {
                                panic!("{} after the request failed to send: {e}", reply.status)
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("every client is answered");
    }
}

#[test]
fn r9_connections_per_address_are_limited() {
    let server = TestServer::start(
        |b| b.max_connections_per_ip(2),
        |_: &Request| Response::text(StatusCode::OK, "ok"),
    );
    // Two connections the server has certainly accepted: each has had an answer.
    let keep_alive = |addr| {
        let mut stream = connect(addr);
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("send a GET");
        assert_eq!(read_response(&mut stream).status, 200);
        stream
    };
    let first = keep_alive(server.addr);
    let second = keep_alive(server.addr);
    // The third from 127.0.0.1 is closed as soon as it is accepted.
    let mut third = connect(server.addr);
    let _ = third.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut buf = [0u8; 64];
    let got = third.read(&mut buf);
    assert!(
        matches!(got, Ok(0) | Err(_)),
        "the third connection was served: {got:?}"
    );
    // Once one closes, another gets in.
    drop(first);
    wait_until(Duration::from_secs(5), "a place for 127.0.0.1", || {
        let mut again = connect(server.addr);
        again
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .is_ok()
            && {
                let mut reply = String::new();
                again.read_to_string(&mut reply).is_ok() && reply.starts_with("HTTP/1.1 200")
            }
    });
    drop(second);
}

#[test]
fn r9_a_1xx_final_answer_is_refused_with_500() {
    let server = TestServer::start(
        |b| b,
        |request: &Request| match request.path() {
            "/early" => Response::new(StatusCode::from_u16(103).expect("103")),
            _ => Response::text(StatusCode::OK, "next"),
        },
    );
    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET /early HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send two requests");
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 500);
    assert!(reply.closes(), "the framing could not be trusted: close");
}

/// Sends `body_len` bytes of a `POST /` body, `step` bytes every `every`, until the server
/// answers or closes; returns the status it answered with and how long that took.
fn trickle(
    addr: std::net::SocketAddr,
    body_len: usize,
    step: usize,
    every: Duration,
) -> (u16, Duration) {
    let mut stream = connect(addr);
    let started = Instant::now();
    stream
        .write_all(
            format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {body_len}\r\n\r\n").as_bytes(),
        )
        .expect("send the head");
    let mut reader = stream.try_clone().expect("clone the stream");
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; step];
        let mut sent = 0;
        while sent < body_len && stream.write_all(&chunk).is_ok() {
            sent += step;
            std::thread::sleep(every);
        }
    });
    reader
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    let mut reply = Vec::new();
    let _ = reader.read_to_end(&mut reply);
    let took = started.elapsed();
    let _ = writer.join();
    let status = support::try_parse_status(&String::from_utf8_lossy(&reply)).unwrap_or(0);
    (status, took)
}

fn body_length_handler(request: &Request) -> Response {
    Response::text(StatusCode::OK, format!("{} bytes", request.body().len()))
}

#[test]
fn r9_a_body_below_the_minimum_rate_is_cut_after_the_grace() {
    let server = TestServer::start(
        |b| {
            b.min_data_rate(2000)
                .min_rate_grace(Duration::from_millis(500))
                .body_timeout(Duration::from_secs(30))
                .body_deadline(Duration::from_secs(30))
        },
        body_length_handler,
    );
    // 10 bytes every 50 ms: 200 B/s, steady progress, a tenth of the minimum.
    let (status, took) = trickle(server.addr, 100_000, 10, Duration::from_millis(50));
    assert_eq!(status, 408);
    assert!(took < Duration::from_secs(10), "cut only after {took:?}");
}

#[test]
fn r9_a_body_is_cut_at_its_whole_deadline() {
    let server = TestServer::start(
        |b| {
            b.min_data_rate(0)
                .body_timeout(Duration::from_secs(30))
                .body_deadline(Duration::from_secs(1))
        },
        body_length_handler,
    );
    // Steady progress, no minimum rate: only the whole-body deadline ends it.
    let (status, took) = trickle(server.addr, 100_000, 10, Duration::from_millis(50));
    assert_eq!(status, 408);
    assert!(
        took >= Duration::from_millis(900),
        "cut after only {took:?}"
    );
    assert!(took < Duration::from_secs(10), "cut only after {took:?}");
}

#[test]
fn r9_a_body_at_the_minimum_rate_is_served() {
    let server = TestServer::start(
        |b| {
            b.min_data_rate(100)
                .min_rate_grace(Duration::from_millis(200))
        },
        body_length_handler,
    );
    // 1,000 bytes in 100-byte steps every 50 ms: 2,000 B/s, above the minimum.
    let (status, _) = trickle(server.addr, 1000, 100, Duration::from_millis(50));
    assert_eq!(status, 200);
}

#[test]
fn r9_a_reader_below_the_minimum_rate_is_cut() {
    const BIG: usize = 32 << 20;
    let server = TestServer::start(
        |b| {
            b.min_data_rate(1 << 20)
                .min_rate_grace(Duration::from_millis(500))
                .write_timeout(Duration::from_secs(30))
        },
        |_: &Request| Response::bytes(StatusCode::OK, "application/octet-stream", vec![7u8; BIG]),
    );
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    socket.connect(&server.addr.into()).expect("connect");
    let mut stream: TcpStream = socket.into();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send a GET");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    // 4 KiB every 10 ms: about 400 KB/s, steady progress, below the 1 MiB/s minimum.
    let started = Instant::now();
    let mut got = 0;
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never cut");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(got < BIG, "the whole response arrived at {got} bytes");
}

/// Echoes what it read of the body through `body_reader` (length and a checksum), and
/// whether `body()` agrees.
fn streaming_handler(request: &Request) -> Response {
    let mut reader = request.body_reader();
    let mut buf = [0u8; 8192];
    let (mut len, mut sum) = (0u64, 0u64);
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                len += n as u64;
                sum = buf[..n]
                    .iter()
                    .fold(sum, |s, &b| s.wrapping_add(u64::from(b)));
            }
            Err(e) => return Response::text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
    let whole = request.body().len() as u64 == len;
    Response::text(StatusCode::OK, format!("{len} {sum} {whole}"))
}

fn post(addr: std::net::SocketAddr, body: &[u8]) -> support::HttpReply {
    let mut stream = connect(addr);
    stream
        .write_all(
            format!(
                "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .expect("send the head");
    stream.write_all(body).expect("send the body");
    read_response(&mut stream)
}

#[test]
fn r9_a_large_body_is_spooled_not_held_in_memory() {
    // 64 KiB of memory for bodies, spooled past 16 KiB: a 1 MiB upload only fits spooled.
    let server = TestServer::start(
        |b| {
            b.max_body(4 << 20)
                .max_body_memory(64 * 1024)
                .spool_bodies_over(16 * 1024)
        },
        streaming_handler,
    );
    let body = support::pattern(1 << 20);
    let sum = body.iter().fold(0u64, |s, &b| s.wrapping_add(u64::from(b)));
    for _ in 0..3 {
        let reply = post(server.addr, &body);
        assert_eq!(reply.status, 200, "{}", reply.body_text());
        assert_eq!(reply.body_text(), format!("{} {sum} true", body.len()));
    }
    // Small bodies stay in memory and read the same way.
    let reply = post(server.addr, b"tiny");
    assert_eq!(
        reply.body_text(),
        format!(
            "4 {} true",
            b"tiny".iter().map(|&b| u64::from(b)).sum::<u64>()
        )
    );
}

#[test]
fn r9_bodies_in_memory_are_bounded_across_connections() {
    // No spooling below 1 MiB, 100 KB of memory for all bodies: two 90 KB bodies received at
    // the same time do not fit; the one that would pass the budget is refused.
    let server = TestServer::start(
        |b| {
            b.max_body_memory(100_000)
                .spool_bodies_over(1 << 20)
                .body_timeout(Duration::from_secs(30))
        },
        streaming_handler,
    );
    let chunk = vec![b'x'; 60_000];
    let open_body = |addr| {
        let mut stream = connect(addr);
        stream
            .write_all(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 90000\r\n\r\n")
            .expect("send the head");
        stream.write_all(&chunk).expect("send half the body");
        stream
    };
    let mut first = open_body(server.addr);
    // Once the server holds the first half, the second connection's half passes the budget.
    let held = |bytes: u64| server.stats.snapshot().body_memory == bytes;
    wait_until(Duration::from_secs(10), "the first half held", || {
        held(60_000)
    });
    let mut second = open_body(server.addr);
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut buf = [0u8; 256];
    let n = second.read(&mut buf).expect("an answer to the second body");
    let refused = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.contains("too many request bodies in memory"),
        "{refused}"
    );
    // The refused body's memory is given back; the first, within the budget, completes.
    drop(second);
    wait_until(Duration::from_secs(10), "only the first half held", || {
        held(60_000)
    });
    first.write_all(&chunk[..30_000]).expect("send the rest");
    let reply = read_response(&mut first);
    assert_eq!(reply.status, 200, "{}", reply.body_text());
}
