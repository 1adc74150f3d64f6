//! Connection state machine driven by a scripted transport: no sockets.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::{Conn, Ctx, Outcome};
use crate::config::Config;
use crate::http::{Body, Request, Response, StatusCode};
use crate::transport::Transport;

/// One scripted read result.
enum R {
    Data(&'static [u8]),
    Owned(Vec<u8>),
    Block,
    Eof,
}

/// A transport whose reads follow a script and whose writes accept `write_limit` bytes per
/// call until `write_budget` runs out (then `WouldBlock`).
#[derive(Default)]
struct Mock {
    reads: VecDeque<R>,
    written: Vec<u8>,
    write_budget: Option<usize>,
    shut: bool,
}

impl Mock {
    fn new(reads: Vec<R>) -> Self {
        Self {
            reads: reads.into(),
            ..Self::default()
        }
    }
}

impl Read for Mock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.reads.pop_front() {
            None | Some(R::Block) => Err(io::ErrorKind::WouldBlock.into()),
            Some(R::Eof) => Ok(0),
            Some(R::Data(data)) => self.give(buf, data.to_vec()),
            Some(R::Owned(data)) => self.give(buf, data),
        }
    }
}

impl Mock {
    fn give(&mut self, buf: &mut [u8], data: Vec<u8>) -> io::Result<usize> {
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        if n < data.len() {
            self.reads.push_front(R::Owned(data[n..].to_vec()));
        }
        Ok(n)
    }
}

impl Write for Mock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.write_budget {
            None => buf.len(),
            Some(0) => return Err(io::ErrorKind::WouldBlock.into()),
            Some(budget) => {
                let n = buf.len().min(*budget);
                *budget -= n;
                n
            }
        };
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Mock {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shut = true;
        Ok(())
    }
}

fn ctx_with(config: Config) -> Ctx {
    Ctx {
        on_response: None,
        stats: std::sync::Arc::new(crate::stats::Recorder::new(1)),
        handler: Box::new(|req: &Request| {
            if req.path() == "/panic" {
                panic!("handler panics on purpose");
            }
            let body = format!("{} {} {}", req.method(), req.path(), req.body().len());
            Response::text(StatusCode::OK, body)
        }),
        config,
        draining: AtomicBool::new(false),
        park_when_drained: false,
        wrap: Default::default(),
        body_budget: std::sync::Arc::new(super::spool::BodyBudget::new(
            crate::DEFAULT_MAX_BODY_MEMORY,
        )),
    }
}

impl Conn<Mock> {
    fn new_for_test(mock: Mock, now: Instant) -> Self {
        Conn::new(mock, None, now)
    }
}

fn ctx() -> Ctx {
    ctx_with(Config::default())
}

fn written(conn: &mut Conn<Mock>) -> String {
    String::from_utf8_lossy(&conn.stream_mut().written).into_owned()
}

const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn a_whole_request_is_read_on_the_reactor_then_served_by_a_worker() {
    let now = Instant::now();
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(GET), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
    assert_eq!(conn.drive(&ctx(), now), Outcome::Read);
    let out = written(&mut conn);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nGET /a 0"), "{out}");
    assert!(conn.is_idle(now));
}

#[test]
fn a_head_split_byte_by_byte_stays_on_the_reactor_until_complete() {
    let now = Instant::now();
    let mut conn = Conn::new_for_test(Mock::new(vec![]), now);
    for (i, byte) in GET.iter().enumerate() {
        let byte: &'static [u8] = Box::leak(vec![*byte].into_boxed_slice());
        conn.stream_mut().reads.extend([R::Data(byte), R::Block]);
        let expected = if i + 1 == GET.len() {
            Outcome::Work
        } else {
            Outcome::Read
        };
        assert_eq!(conn.on_readable(&ctx(), now), expected, "after byte {i}");
    }
    assert_eq!(conn.drive(&ctx(), now), Outcome::Read);
    assert!(written(&mut conn).starts_with("HTTP/1.1 200 OK"));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let now = Instant::now();
    let reqs = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(reqs), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
    assert_eq!(conn.drive(&ctx(), now), Outcome::Read);
    let out = written(&mut conn);
    let first = out.find("GET /1 0").unwrap();
    let third = out.find("GET /3 0").unwrap();
    assert!(first < third);
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3);
    assert!(
        !out.contains("HEAD /2"),
        "HEAD must not carry a body: {out}"
    );
}

#[test]
fn a_worker_yields_after_its_request_budget() {
    let now = Instant::now();
    let many: Vec<u8> = GET.repeat(20);
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Owned(many), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
    assert_eq!(conn.drive(&ctx(), now), Outcome::Work);
    assert_eq!(written(&mut conn).matches("200 OK").count(), 16);
    assert_eq!(conn.drive(&ctx(), now), Outcome::Read);
    assert_eq!(written(&mut conn).matches("200 OK").count(), 20);
}

#[test]
fn a_full_socket_parks_for_write_and_resumes() {
    let now = Instant::now();
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(GET), R::Block]), now);
    conn.stream_mut().write_budget = Some(10);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
    let before = Instant::now();
    assert_eq!(conn.drive(&ctx(), now), Outcome::Write);
    let after = Instant::now();
    assert_eq!(conn.stream_mut().written.len(), 10);
    // The write deadline counts from the last progress, after the handler ran...
    let no_rate = Config {
        min_data_rate: 0,
        ..Config::default()
    };
    let deadline = conn.deadline(&no_rate);
    let write_timeout = no_rate.write_timeout;
    assert!(deadline >= before + write_timeout && deadline <= after + write_timeout);
    // ...unless the minimum rate comes first: 10 bytes sent, the grace period is what is left.
    let config = Config::default();
    let deadline = conn.deadline(&config);
    assert!(
        deadline >= before + config.min_rate_grace && deadline <= after + config.min_rate_grace
    );
    conn.stream_mut().write_budget = None;
    assert_eq!(conn.drive(&ctx(), now), Outcome::Read);
    assert!(written(&mut conn).ends_with("GET /a 0"));
}

#[test]
fn eof_closes() {
    let now = Instant::now();
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(b"GET /a HT"), R::Eof]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Close);
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Eof]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Close);
}

#[test]
fn a_bad_request_gets_400_then_a_lingering_close() {
    let now = Instant::now();
    let bad = b"GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\nmore junk";
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(bad), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
    assert_eq!(conn.drive(&ctx(), now), Outcome::Read);
    let out = written(&mut conn);
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(out.contains("Connection: close\r\n"));
    assert!(conn.stream_mut().shut, "write side shut after the error");
    // Lingering: the reactor discards input until EOF.
    conn.stream_mut()
        .reads
        .extend([R::Data(b"whatever"), R::Eof]);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Close);
}

#[test]
fn a_panicking_handler_gets_500_and_close() {
    let now = Instant::now();
    let req = b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(req), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
    assert_eq!(conn.drive(&ctx(), now), Outcome::Read);
    let out = written(&mut conn);
    assert!(
        out.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{out}"
    );
    assert!(conn.stream_mut().shut);
}

#[test]
fn expect_continue_is_answered_before_the_body_is_read() {
    let now = Instant::now();
    let head = b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(head), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
    assert_eq!(conn.drive(&ctx(), now), Outcome::Read);
    assert_eq!(written(&mut conn), "HTTP/1.1 100 Continue\r\n\r\n");
    // The body arrives in two parts; the reactor holds it until complete.
    conn.stream_mut().reads.extend([R::Data(b"he"), R::Block]);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Read);
    conn.stream_mut().reads.extend([R::Data(b"llo"), R::Block]);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
    assert_eq!(conn.drive(&ctx(), now), Outcome::Read);
    assert!(written(&mut conn).ends_with("POST /up 5"));
}

#[test]
fn chunked_bodies_reach_the_handler() {
    let now = Instant::now();
    let req = b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(req), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
    assert_eq!(conn.drive(&ctx(), now), Outcome::Read);
    assert!(written(&mut conn).ends_with("POST /c 5"));
}

#[test]
fn bodies_over_the_limit_get_413() {
    let now = Instant::now();
    let config = Config {
        max_body: 4,
        ..Config::default()
    };
    for req in [
        &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"[..],
        &b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            [..],
    ] {
        let mut conn = Conn::new_for_test(Mock::new(vec![R::Owned(req.to_vec()), R::Block]), now);
        assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
        let _ = conn.drive(&ctx_with(config.clone()), now);
        assert!(
            written(&mut conn).starts_with("HTTP/1.1 413 "),
            "{}",
            written(&mut conn)
        );
    }
}

#[test]
fn deadlines_follow_the_state() {
    let config = Config::default();
    let t0 = Instant::now();
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(GET), R::Block]), t0);
    // A new connection's first head counts from the accept.
    assert_eq!(conn.deadline(&config), t0 + config.head_timeout);
    let t1 = Instant::now();
    assert_eq!(conn.on_readable(&ctx(), t1), Outcome::Work);
    assert_eq!(conn.drive(&ctx(), t1), Outcome::Read);
    // Idle keep-alive after a response, counted from when it was written.
    let after = Instant::now();
    let deadline = conn.deadline(&config);
    assert!(deadline >= t1 + config.keep_alive_timeout);
    assert!(deadline <= after + config.keep_alive_timeout);
    // The first byte of the next head starts the (whole-head) deadline, later bytes do not.
    let t2 = t1 + Duration::from_secs(2);
    conn.stream_mut().reads.extend([R::Data(b"GE"), R::Block]);
    assert_eq!(conn.on_readable(&ctx(), t2), Outcome::Read);
    let t3 = t2 + Duration::from_secs(3);
    conn.stream_mut().reads.extend([R::Data(b"T /"), R::Block]);
    assert_eq!(conn.on_readable(&ctx(), t3), Outcome::Read);
    assert_eq!(conn.deadline(&config), t2 + config.head_timeout);
}

#[test]
fn a_timed_out_head_gets_408() {
    let now = Instant::now();
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(b"GET /slow"), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Read);
    conn.on_timeout(&ctx());
    assert!(written(&mut conn).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    // An idle connection just closes.
    let mut idle = Conn::new_for_test(Mock::new(vec![]), now);
    idle.on_timeout(&ctx());
    assert!(written(&mut idle).is_empty());
}

#[test]
fn shedding_answers_503_with_retry_after() {
    let now = Instant::now();
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(GET), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx(), now), Outcome::Work);
    assert_eq!(conn.shed(&ctx(), now), Outcome::Read); // lingering
    let out = written(&mut conn);
    assert!(
        out.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{out}"
    );
    assert!(out.contains("Retry-After: 1\r\n"));
    assert!(conn.stream_mut().shut);
}

#[test]
fn a_file_that_shrinks_closes_the_connection() {
    let now = Instant::now();
    let path = std::env::temp_dir().join(format!("lido-conn-shrink-{}", std::process::id()));
    std::fs::write(&path, b"0123456789").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let ctx = Ctx {
        on_response: None,
        stats: std::sync::Arc::new(crate::stats::Recorder::new(1)),
        handler: Box::new(move |_: &Request| {
            let file = file.try_clone().unwrap();
            // Claims 20 bytes; the file has 10.
            Response::new(StatusCode::OK).with_body(Body::file(file, 0, 20))
        }),
        config: Config::default(),
        draining: AtomicBool::new(false),
        park_when_drained: false,
        wrap: Default::default(),
        body_budget: std::sync::Arc::new(super::spool::BodyBudget::new(
            crate::DEFAULT_MAX_BODY_MEMORY,
        )),
    };
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(GET), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx, now), Outcome::Work);
    assert_eq!(conn.drive(&ctx, now), Outcome::Close);
    let out = written(&mut conn);
    assert!(out.contains("Content-Length: 20\r\n"));
    assert!(out.ends_with("\r\n\r\n0123456789"));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn draining_closes_after_the_response() {
    let now = Instant::now();
    let ctx = ctx();
    ctx.draining
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(GET), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx, now), Outcome::Work);
    let _ = conn.drive(&ctx, now);
    assert!(written(&mut conn).contains("Connection: close\r\n"));
}

mod split_invariance {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `input` cut at `cuts` through the reactor/worker protocol, as the reactor would:
    /// on_readable after every arrival, drive when it asks for a worker. Returns what was
    /// written, with `Date` lines removed (they depend on the clock).
    fn serve(input: &[u8], cuts: &[usize]) -> String {
        let now = Instant::now();
        let ctx = ctx();
        let mut conn = Conn::new_for_test(Mock::new(vec![]), now);
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.push(input.len());
        points.sort_unstable();
        let mut start = 0;
        let mut outcome = Outcome::Read;
        for end in points {
            if end > start {
                conn.stream_mut()
                    .reads
                    .push_back(R::Owned(input[start..end].to_vec()));
                start = end;
            }
            // Bounded: each round either consumes input or ends in a wait.
            for _ in 0..64 {
                outcome = match outcome {
                    Outcome::Read => conn.on_readable(&ctx, now),
                    Outcome::Work | Outcome::Write => conn.drive(&ctx, now),
                    Outcome::Close => break,
                };
                if outcome == Outcome::Read {
                    break;
                }
            }
            if outcome == Outcome::Close {
                break;
            }
        }
        written(&mut conn)
            .split("\r\n")
            .filter(|line| !line.starts_with("Date: "))
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    fn request() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
            Just(b"HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
            Just(b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".to_vec()),
            Just(b"POST /d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n".to_vec()),
            Just(b"GET /e HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_vec()),
            Just(b"GET /bad HTTP/1.1\r\n\r\n".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..64),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// However the bytes are cut, the answers are the same, and every answer is a whole
        /// HTTP/1.1 response.
        #[test]
        fn cuts_do_not_change_the_answers(
            requests in proptest::collection::vec(request(), 1..6),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let input: Vec<u8> = requests.concat();
            let whole = serve(&input, &[]);
            let split = serve(&input, &cuts);
            prop_assert_eq!(&whole, &split);
            if !whole.is_empty() {
                prop_assert!(whole.starts_with("HTTP/1.1 "), "{}", whole);
            }
        }
    }
}

#[test]
fn r9_a_long_download_yields_its_worker_every_few_megabytes() {
    const BIG: u64 = 32 * 1024 * 1024;
    let now = Instant::now();
    let path = std::env::temp_dir().join(format!("lido-conn-yield-{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(BIG).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let ctx = Ctx {
        on_response: None,
        stats: std::sync::Arc::new(crate::stats::Recorder::new(1)),
        handler: Box::new(move |_: &Request| {
            let file = file.try_clone().unwrap();
            Response::new(StatusCode::OK).with_body(Body::file(file, 0, BIG))
        }),
        config: Config::default(),
        draining: AtomicBool::new(false),
        park_when_drained: false,
        wrap: Default::default(),
        body_budget: std::sync::Arc::new(super::spool::BodyBudget::new(
            crate::DEFAULT_MAX_BODY_MEMORY,
        )),
    };
    // A client that takes everything at once: the socket never fills.
    let mut conn = Conn::new_for_test(Mock::new(vec![R::Data(GET), R::Block]), now);
    assert_eq!(conn.on_readable(&ctx, now), Outcome::Work);
    let (mut turns, mut before) = (0, 0u64);
    loop {
        turns += 1;
        let outcome = conn.drive(&ctx, now);
        let sent = conn.stream_mut().written.len() as u64;
        // No turn moves more than MAX_BYTES_PER_DISPATCH (and the head).
        assert!(
            sent - before <= super::MAX_BYTES_PER_DISPATCH + 1024,
            "turn {turns} sent {} bytes",
            sent - before
        );
        before = sent;
        if outcome != Outcome::Work {
            assert!(sent > BIG, "finished with {sent} bytes");
            break;
        }
        assert!(turns < 100, "never finished");
    }
    assert!(turns >= 4, "{turns} turns for 32 MiB");
    std::fs::remove_file(&path).unwrap();
}
