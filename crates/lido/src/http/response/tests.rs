use std::io::Write;

use super::*;

const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

fn head(response: &Response, version: Version, keep_alive: bool) -> String {
    let mut out = Vec::new();
    response.encode_head(version, keep_alive, DATE, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn status_codes() {
    assert_eq!(
        crate::http::reason(StatusCode::PAYLOAD_TOO_LARGE),
        "Content Too Large"
    );
    for code in 100..=599 {
        let status = StatusCode::from_u16(code).unwrap();
        assert!(
            crate::http::reason(status)
                .bytes()
                .all(|b| b == b' ' || b.is_ascii_graphic())
        );
    }
}

#[test]
fn encodes_a_keep_alive_http11_head() {
    let response = Response::html(StatusCode::OK, "<p>hi</p>");
    assert_eq!(
        head(&response, Version::Http11, true),
        "HTTP/1.1 200 OK\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
         Content-Length: 9\r\n\
         \r\n"
    );
}

#[test]
fn connection_header_follows_version_and_keep_alive() {
    let response = Response::new(StatusCode::NO_CONTENT);
    let cases = [
        (Version::Http11, true, None),
        (Version::Http11, false, Some("close")),
        (Version::Http10, true, Some("keep-alive")),
        (Version::Http10, false, Some("close")),
    ];
    for (version, keep_alive, connection) in cases {
        let text = head(&response, version, keep_alive);
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
        assert!(!text.contains("Content-Length"), "{text}");
        let found = text
            .lines()
            .find_map(|line| line.strip_prefix("Connection: "));
        assert_eq!(found, connection, "{version} {keep_alive}");
    }
}

#[test]
fn handler_connection_close_wins() {
    let response = Response::new(StatusCode::OK).with_header("connection", "upgrade, close");
    assert!(response.closes_connection());
    assert_eq!(
        head(&response, Version::Http11, true),
        "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn reserved_fields_are_not_duplicated() {
    let response = Response::text(StatusCode::OK, "abc")
        .with_header("Content-Length", "999")
        .with_header("Transfer-Encoding", "chunked")
        .with_header("Connection", "keep-alive")
        .with_header("date", "Mon, 07 Nov 1994 08:49:37 GMT")
        .with_header("Date", "Tue, 08 Nov 1994 08:49:37 GMT")
        .with_header("Server", "lido");
    assert_eq!(
        head(&response, Version::Http11, true),
        "HTTP/1.1 200 OK\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Date: Mon, 07 Nov 1994 08:49:37 GMT\r\n\
         Server: lido\r\n\
         Content-Length: 3\r\n\
         \r\n"
    );
}

#[test]
fn bodiless_statuses_get_no_content_length() {
    for status in [StatusCode::NOT_MODIFIED, StatusCode::NO_CONTENT] {
        let response = Response::text(status, "ignored").with_header("Content-Length", "7");
        let text = head(&response, Version::Http11, true);
        assert!(
            !text.to_ascii_lowercase().contains("content-length"),
            "{text}"
        );
        assert!(text.contains("Date: "), "{text}");
    }
    let text = head(&Response::new(StatusCode::CONTINUE), Version::Http11, false);
    assert_eq!(text, "HTTP/1.1 100 Continue\r\n\r\n");
}

#[test]
fn content_length_is_the_body_length_even_for_files() {
    let mut file = std::fs::File::create(
        std::env::temp_dir().join(format!("lido-response-test-{}", std::process::id())),
    )
    .unwrap();
    file.write_all(b"0123456789").unwrap();
    let response = Response::new(StatusCode::PARTIAL_CONTENT).with_body(Body::file(file, 2, 5));
    assert!(head(&response, Version::Http11, true).contains("\r\nContent-Length: 5\r\n"));
    let big = Response::new(StatusCode::OK).with_body(Body::Bytes(vec![0; 12345]));
    assert!(head(&big, Version::Http11, true).contains("\r\nContent-Length: 12345\r\n"));
    let _ = std::fs::remove_file(
        std::env::temp_dir().join(format!("lido-response-test-{}", std::process::id())),
    );
}

#[test]
fn injection_attempts_are_dropped() {
    let response = Response::new(StatusCode::FOUND)
        .with_header("Location", "/ok")
        .with_header("X-A", "a\r\nSet-Cookie: evil=1")
        .with_header("X-B", "b\nx")
        .with_header("X-C", "c\rx")
        .with_header("X-D", "d\0x")
        .with_header("X-E", "e\x7f")
        .with_header("X-F\r\nSet-Cookie", "evil=2")
        .with_header("X G", "g")
        .with_header("X:H", "h")
        .with_header("", "empty name")
        .with_header("X-Tab", "a\tb")
        .with_header("X-Utf8", "caf\u{e9}");
    let mut out = Vec::new();
    response.encode_head(Version::Http11, true, "bad\r\nSet-Cookie: evil=3", &mut out);
    assert_eq!(
        out,
        "HTTP/1.1 302 Found\r\n\
         Location: /ok\r\n\
         X-Tab: a\tb\r\n\
         X-Utf8: caf\u{e9}\r\n\
         Content-Length: 0\r\n\
         \r\n"
            .as_bytes()
    );
}

#[test]
fn set_header_replaces_case_insensitively() {
    let mut response = Response::new(StatusCode::OK)
        .with_header("X-A", "1")
        .with_header("x-a", "2")
        .with_header("X-B", "3");
    response.set_header("X-a", "4");
    let fields: Vec<_> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
        .collect();
    assert_eq!(fields, [("x-a", "4"), ("x-b", "3")]);
}

#[test]
fn body_accessors() {
    let mut response = Response::text(StatusCode::OK, "abc").with_status(StatusCode::NOT_FOUND);
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.body().len(), 3);
    let body = response.take_body();
    assert!(matches!(body, Body::Bytes(ref b) if b == b"abc"));
    assert!(response.body().is_empty());
    assert!(matches!(response.into_body(), Body::Empty));
    assert_eq!(Body::from(String::from("xy")).len(), 2);
    assert_eq!(Body::from(vec![1, 2, 3]).len(), 3);
}

#[test]
fn push_decimal_writes_every_width() {
    for n in [0, 9, 10, 99, 100, 12345, u64::MAX] {
        let mut out = Vec::new();
        push_decimal(&mut out, n);
        assert_eq!(out, n.to_string().as_bytes());
    }
}
