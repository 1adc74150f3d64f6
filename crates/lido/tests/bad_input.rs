//! Malformed and hostile requests, sent whole and one byte per write: each gets the status the
//! parser documents, `Connection: close` and a closed connection, and the server stays healthy.
//! A few valid requests in the same table keep the checks honest.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use lido::http::{Request, Response, StatusCode};
use support::{End, TestServer, exchange, header_in, raw, try_parse_status};

/// The `max_body` of the server under test.
const MAX_BODY: u64 = 1024;

/// One table row: a request and what the server must answer.
struct Row {
    name: &'static str,
    request: Vec<u8>,
    status: u16,
    /// Text the response body must contain (valid rows).
    body: Option<&'static str>,
}

fn row(name: &'static str, request: impl Into<Vec<u8>>, status: u16) -> Row {
    Row {
        name,
        request: request.into(),
        status,
        body: None,
    }
}

fn valid(name: &'static str, request: impl Into<Vec<u8>>, body: &'static str) -> Row {
    Row {
        name,
        request: request.into(),
        status: 200,
        body: Some(body),
    }
}

/// `GET / HTTP/1.1` with `Host` and the given extra header lines (each ending in CRLF).
fn get_with(extra: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: test\r\n{extra}\r\n").into_bytes()
}

/// `POST /` with `Host`, the given header lines and `body`.
fn post_with(extra: &str, body: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: test\r\n{extra}\r\n{body}").into_bytes()
}

fn rows() -> Vec<Row> {
    let long_target = format!(
        "GET /{} HTTP/1.1\r\nHost: test\r\n\r\n",
        "a".repeat(lido::http::MAX_REQUEST_LINE)
    );
    let big_head = get_with(&format!("X-Big: {}\r\n", "b".repeat(lido::http::MAX_HEAD)));
    let many_fields = get_with(&"X-Field: v\r\n".repeat(lido::http::MAX_HEADERS));
    vec![
        // Valid controls.
        valid(
            "GET with Host",
            "GET /ok HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
            "path=/ok",
        ),
        valid(
            "HTTP/1.0 without Host",
            "GET /old HTTP/1.0\r\n\r\n",
            "path=/old",
        ),
        valid(
            "absolute-form target",
            "GET http://test/abs?q=1 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
            "path=/abs",
        ),
        valid(
            "chunked POST",
            post_with(
                "Transfer-Encoding: chunked\r\nConnection: close\r\n",
                "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            ),
            "body=11",
        ),
        // 400: malformed syntax.
        row("no version", "GET /\r\nHost: test\r\n\r\n", 400),
        row("double space", "GET  / HTTP/1.1\r\nHost: test\r\n\r\n", 400),
        row(
            "lowercase version",
            "GET / http/1.1\r\nHost: test\r\n\r\n",
            400,
        ),
        row("garbage line", "hello\r\n\r\n", 400),
        row(
            "target with CTL",
            "GET /a\x01b HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
        ),
        // 400: ambiguous framing.
        row(
            "CL and TE",
            post_with(
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            400,
        ),
        row(
            "conflicting CL",
            post_with("Content-Length: 5\r\nContent-Length: 6\r\n", "hello"),
            400,
        ),
        row(
            "conflicting CL list",
            post_with("Content-Length: 5, 6\r\n", "hello"),
            400,
        ),
        row(
            "non-numeric CL",
            post_with("Content-Length: abc\r\n", ""),
            400,
        ),
        row("negative CL", post_with("Content-Length: -1\r\n", ""), 400),
        row(
            "overflowing CL",
            post_with("Content-Length: 99999999999999999999999\r\n", ""),
            400,
        ),
        row(
            "TE on HTTP/1.0",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        row(
            "chunked twice",
            post_with("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"),
            400,
        ),
        // 400: bad chunked bodies.
        row(
            "non-hex chunk size",
            post_with("Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        row(
            "0x chunk size",
            post_with(
                "Transfer-Encoding: chunked\r\n",
                "0x5\r\nhello\r\n0\r\n\r\n",
            ),
            400,
        ),
        row(
            "negative chunk size",
            post_with("Transfer-Encoding: chunked\r\n", "-1\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        row(
            "overflowing chunk size",
            post_with(
                "Transfer-Encoding: chunked\r\n",
                "10000000000000000\r\nhello\r\n0\r\n\r\n",
            ),
            400,
        ),
        row(
            "chunk data without CRLF",
            post_with("Transfer-Encoding: chunked\r\n", "5\r\nhelloX\r\n0\r\n\r\n"),
            400,
        ),
        // 400: header syntax.
        row("obs-fold", get_with("X-Folded: a\r\n b\r\n"), 400),
        row("space before colon", get_with("X-Space : a\r\n"), 400),
        row("bare CR in a value", get_with("X-Cr: a\rb\r\n"), 400),
        row(
            "bare CR after the request line",
            "GET / HTTP/1.1\rHost: test\r\n\r\n",
            400,
        ),
        row("NUL in a value", get_with("X-Nul: a\x00b\r\n"), 400),
        row(
            "control char in a value",
            get_with("X-Ctl: a\x07b\r\n"),
            400,
        ),
        row("missing Host on 1.1", "GET / HTTP/1.1\r\n\r\n", 400),
        row("duplicate Host", get_with("Host: other\r\n"), 400),
        row("invalid Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        // 414, 431.
        row("request line over 8 KiB", long_target, 414),
        row("head over 32 KiB", big_head, 431),
        row("more than 100 fields", many_fields, 431),
        // 505.
        row("HTTP/2.0", "GET / HTTP/2.0\r\nHost: test\r\n\r\n", 505),
        row("HTTP/1.2", "GET / HTTP/1.2\r\nHost: test\r\n\r\n", 505),
        // 501.
        row(
            "unknown method",
            "BREW /pot HTTP/1.1\r\nHost: test\r\n\r\n",
            501,
        ),
        row(
            "unknown transfer coding",
            post_with("Transfer-Encoding: gzip\r\n", ""),
            501,
        ),
        row(
            "coding before chunked",
            post_with("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
            501,
        ),
        // 413.
        row(
            "Content-Length over max_body",
            post_with(&format!("Content-Length: {}\r\n", MAX_BODY + 1), "x"),
            413,
        ),
        row(
            "chunked over max_body",
            post_with(
                "Transfer-Encoding: chunked\r\n",
                &format!("{:x}\r\nxx", MAX_BODY + 1),
            ),
            413,
        ),
        row(
            "chunks adding up over max_body",
            post_with(
                "Transfer-Encoding: chunked\r\n",
                &format!("200\r\n{}\r\n201\r\n", "y".repeat(0x200)),
            ),
            413,
        ),
        // 417.
        row(
            "unknown expectation",
            post_with("Expect: teapot\r\nContent-Length: 1\r\n", "x"),
            417,
        ),
    ]
}

fn handler(request: &Request) -> Response {
    Response::text(
        StatusCode::OK,
        format!("path={} body={}\n", request.path(), request.body().len()),
    )
}

fn start() -> TestServer {
    TestServer::start(
        |b| {
            b.max_body(MAX_BODY)
                // Byte-per-write sending of a 32 KiB head must fit in the head deadline.
                .head_timeout(Duration::from_secs(20))
                .body_timeout(Duration::from_secs(5))
        },
        handler,
    )
}

/// Sends `row` and checks the reply; `Err` describes what went wrong.
fn check(addr: SocketAddr, row: &Row, split: bool) -> Result<(), String> {
    let reply = exchange(addr, &row.request, split);
    let text = reply.text();
    let shown = &text[..text.len().min(200)];
    let status = try_parse_status(&text);
    if status != Some(row.status) {
        return Err(format!(
            "expected {}, got {status:?} ({:?}): {shown:?}",
            row.status, reply.end
        ));
    }
    if let Some(body) = row.body
        && !text.contains(body)
    {
        return Err(format!("body lacks {body:?}: {shown:?}"));
    }
    if row.status >= 400 {
        let connection = header_in(&text, "connection");
        if !connection.is_some_and(|v| v.eq_ignore_ascii_case("close")) {
            return Err(format!(
                "error response without Connection: close: {shown:?}"
            ));
        }
        // Exactly one response, then the server's FIN (a reset could lose the response).
        if reply.end != End::Eof {
            return Err(format!(
                "connection not closed by the server ({:?}): {shown:?}",
                reply.end
            ));
        }
        if text.matches("HTTP/1.1 ").count() != 1 {
            return Err(format!("more than one response: {shown:?}"));
        }
    } else if reply.end == End::TimedOut {
        return Err("valid request with Connection: close left open".to_owned());
    }
    // The server must still serve a well-behaved client.
    let after = raw(
        addr,
        b"GET /after HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    );
    if try_parse_status(&after) != Some(200) {
        return Err(format!("the next request got {after:?}"));
    }
    Ok(())
}

fn run_table(split: bool) {
    let server = start();
    let rows = rows();
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            check(server.addr, row, split)
                .err()
                .map(|why| format!("  {}: {why}", row.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed (split = {split}):\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn every_row_sent_whole() {
    run_table(false);
}

#[test]
fn every_row_sent_one_byte_per_write() {
    run_table(true);
}

#[test]
fn rejections_on_many_connections_at_once_leave_the_server_healthy() {
    let server = start();
    let addr = server.addr;
    let rows = rows();
    let bad: Vec<Vec<u8>> = rows
        .iter()
        .filter(|row| row.status >= 400)
        .map(|row| row.request.clone())
        .collect();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = bad
            .iter()
            .map(|request| {
                scope.spawn(move || {
                    let reply = exchange(addr, request, false);
                    match try_parse_status(&reply.text()) {
                        Some(status) if status >= 400 && reply.end == End::Eof => None,
                        _ => Some(format!("{:?}: {:?}", reply.end, reply.text())),
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| w.join().expect("client thread panicked"))
            .collect()
    });
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(support::get_status(addr, "/"), 200);
}
