//! A handler written against the `http` crate's types (`lido::HttpHandler`), served end to end:
//! method, URI, header fields and body arrive as `http` has them, and its `http::Response`
//! goes out as written.

mod support;

use lido::HttpHandler;
use std::io::Write;
use support::{TestServer, connect, read_response};

#[test]
fn an_http_crate_handler_serves_requests() {
    let handler = HttpHandler(|request: http::Request<Vec<u8>>| {
        let body = format!(
            "{} {} {:?} {} {}",
            request.method(),
            request.uri().path(),
            request.uri().query(),
            request
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-"),
            request.body().len(),
        );
        http::Response::builder()
            .status(http::StatusCode::ACCEPTED)
            .header("X-Handled-By", "http")
            .body(body)
            .unwrap_or_default()
    });
    let server = TestServer::start(|b| b, handler);
    let mut stream = connect(server.addr);
    stream
        .write_all(
            b"POST /items?x=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: probe\r\nContent-Length: 5\r\n\r\nhello",
        )
        .expect("send");
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 202);
    assert_eq!(reply.header("x-handled-by"), Some("http"));
    assert_eq!(reply.body, b"POST /items Some(\"x=1\") probe 5");
}
