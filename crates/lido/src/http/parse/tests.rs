use proptest::prelude::*;

use super::*;

fn parse_ok(buf: &[u8]) -> (RequestHead, usize) {
    match parse_head(buf) {
        Ok(Some(parsed)) => parsed,
        other => panic!(
            "{:?}: expected a head, got {other:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}

fn long_line() -> Vec<u8> {
    let mut buf = b"GET /".to_vec();
    buf.resize(MAX_REQUEST_LINE + 1, b'a');
    buf
}

fn long_line_complete() -> Vec<u8> {
    let mut buf = b"GET /".to_vec();
    buf.resize(MAX_REQUEST_LINE - b" HTTP/1.1".len() + 1, b'a');
    buf.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    buf
}

fn big_head() -> Vec<u8> {
    let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Filler: ".to_vec();
    buf.resize(MAX_HEAD + 1, b'a');
    buf
}

fn many_headers() -> Vec<u8> {
    let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for _ in 0..MAX_HEADERS {
        buf.extend_from_slice(b"X: y\r\n");
    }
    buf.extend_from_slice(b"\r\n");
    buf
}

fn many_empty_lines() -> Vec<u8> {
    let mut buf = b"\r\n".repeat(MAX_EMPTY_LINES + 1);
    buf.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    buf
}

/// Every rejection, with the error and status it must produce.
fn rejections() -> Vec<(&'static str, Vec<u8>, ParseError, u16)> {
    use ParseError::*;
    let fixed: &[(&str, &[u8], ParseError, u16)] = &[
        // Leading empty lines.
        ("bare cr before request line", b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", InvalidNewLine, 400),
        // Version.
        ("http/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", UnsupportedVersion, 505),
        ("http/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", UnsupportedVersion, 505),
        ("http/0.9", b"GET / HTTP/0.9\r\n\r\n", UnsupportedVersion, 505),
        ("http/3.0 bare lf", b"GET / HTTP/3.0\n\n", UnsupportedVersion, 505),
        ("http/3 no minor", b"GET / HTTP/3\r\nHost: a\r\n\r\n", InvalidVersion, 400),
        ("lowercase version", b"GET / http/1.1\r\nHost: a\r\n\r\n", InvalidVersion, 400),
        ("garbage version", b"GET / FOO/1.1\r\nHost: a\r\n\r\n", InvalidVersion, 400),
        ("two-digit minor", b"GET / HTTP/1.10\r\nHost: a\r\n\r\n", InvalidNewLine, 400),
        ("two-digit major", b"GET / HTTP/10.1\r\nHost: a\r\n\r\n", InvalidVersion, 400),
        ("missing version", b"GET /\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("empty version", b"GET / \r\nHost: a\r\n\r\n", InvalidVersion, 400),
        ("trailing space", b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", InvalidNewLine, 400),
        ("unsupported version bare cr", b"GET / HTTP/2.0\rX\r\n\r\n", InvalidNewLine, 400),
        // Method.
        ("unknown method", b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", UnknownMethod, 501),
        ("lowercase method", b"get / HTTP/1.1\r\nHost: a\r\n\r\n", UnknownMethod, 501),
        ("invalid method", b"GE@T / HTTP/1.1\r\nHost: a\r\n\r\n", InvalidMethod, 400),
        ("leading space", b" GET / HTTP/1.1\r\nHost: a\r\n\r\n", InvalidMethod, 400),
        ("tls handshake", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", InvalidMethod, 400),
        // Request line.
        ("double space", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("bare cr after version", b"GET / HTTP/1.1\rHost: a\r\n\r\n", InvalidNewLine, 400),
        // Targets.
        ("asterisk with get", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("authority with get", b"GET a.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("origin with connect", b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("connect without port", b"CONNECT a.com HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("relative target", b"GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("ftp scheme", b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("empty authority", b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("userinfo", b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("fragment", b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("non-ascii target", b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("invalid utf-8 target", b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("del in target", b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("tab in target", b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("r9 bad percent-encoding", b"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("r9 lone percent", b"GET /% HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        ("r9 short percent", b"GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
        // Header syntax.
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n  c\r\n\r\n", InvalidHeaderName, 400),
        ("obs-fold tab", b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", InvalidHeaderName, 400),
        ("space before first field", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", InvalidHeaderName, 400),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", InvalidHeaderName, 400),
        ("tab before colon", b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", InvalidHeaderName, 400),
        ("no colon", b"GET / HTTP/1.1\r\nHost a\r\n\r\n", InvalidHeaderName, 400),
        ("empty name", b"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", InvalidHeaderName, 400),
        ("separator in name", b"GET / HTTP/1.1\r\nHost: a\r\nX(: b\r\n\r\n", InvalidHeaderName, 400),
        ("non-ascii name", b"GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: b\r\n\r\n", InvalidHeaderName, 400),
        ("bare cr in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", InvalidHeaderValue, 400),
        ("bare cr after value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", InvalidHeaderValue, 400),
        ("bare cr ending head", b"GET / HTTP/1.1\r\nHost: a\r\n\rX", InvalidNewLine, 400),
        ("nul in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", InvalidHeaderValue, 400),
        ("control in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", InvalidHeaderValue, 400),
        ("del in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", InvalidHeaderValue, 400),
        // Host.
        ("missing host", b"GET / HTTP/1.1\r\n\r\n", MissingHost, 400),
        ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", DuplicateHost, 400),
        ("two hosts on 1.0", b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", DuplicateHost, 400),
        ("host with space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", InvalidHost, 400),
        ("host with slash", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", InvalidHost, 400),
        ("host with userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", InvalidHost, 400),
        ("host with bad port", b"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", InvalidHost, 400),
        ("host two colons", b"GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", InvalidHost, 400),
        ("r9 host port too large", b"GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", InvalidHost, 400),
        ("r9 host port overflows", b"GET / HTTP/1.1\r\nHost: a:999999999999999999999\r\n\r\n", InvalidHost, 400),
        ("r9 ipv6 host port too large", b"GET / HTTP/1.1\r\nHost: [::1]:65536\r\n\r\n", InvalidHost, 400),
        ("host empty name", b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", InvalidHost, 400),
        ("host open bracket", b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", InvalidHost, 400),
        ("host bad pct", b"GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", InvalidHost, 400),
        ("host non-ascii", b"GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", InvalidHost, 400),
        // Transfer-Encoding.
        ("te and cl", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", LengthAndTransferEncoding, 400),
        ("cl and te", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", LengthAndTransferEncoding, 400),
        ("te gzip", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", UnsupportedTransferCoding, 501),
        ("te identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", UnsupportedTransferCoding, 501),
        ("te gzip then chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", UnsupportedTransferCoding, 501),
        ("te chunked then gzip", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", InvalidTransferEncoding, 400),
        ("te chunked twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", InvalidTransferEncoding, 400),
        ("te two fields", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", InvalidTransferEncoding, 400),
        ("te empty", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", InvalidTransferEncoding, 400),
        ("te commas only", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\r\n\r\n", InvalidTransferEncoding, 400),
        ("te on http/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", TransferEncodingOnHttp10, 400),
        ("te chunked with params", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", UnsupportedTransferCoding, 501),
        // Content-Length.
        ("cl plus sign", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", InvalidContentLength, 400),
        ("cl negative", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", InvalidContentLength, 400),
        ("cl empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", InvalidContentLength, 400),
        ("cl inner space", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", InvalidContentLength, 400),
        ("cl hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", InvalidContentLength, 400),
        ("cl list differs", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", InvalidContentLength, 400),
        ("cl list empty element", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,,5\r\n\r\n", InvalidContentLength, 400),
        ("cl fields differ", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", InvalidContentLength, 400),
        ("cl overflow", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", InvalidContentLength, 400),
        // Expect.
        ("expect other", b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", UnsupportedExpectation, 417),
        ("expect list", b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n", UnsupportedExpectation, 417),
        ("expect other on 1.0", b"POST / HTTP/1.0\r\nExpect: x\r\n\r\n", UnsupportedExpectation, 417),
    ];
    let mut rows: Vec<_> = fixed
        .iter()
        .map(|&(name, bytes, err, status)| (name, bytes.to_vec(), err, status))
        .collect();
    rows.extend([
        (
            "too many empty lines",
            many_empty_lines(),
            TooManyEmptyLines,
            400,
        ),
        (
            "request line too long, incomplete",
            long_line(),
            RequestLineTooLong,
            414,
        ),
        (
            "request line too long, complete",
            long_line_complete(),
            RequestLineTooLong,
            414,
        ),
        ("head too large", big_head(), HeadTooLarge, 431),
        ("too many headers", many_headers(), TooManyHeaders, 431),
    ]);
    rows
}

#[test]
fn rejections_map_to_their_status() {
    for (name, bytes, err, status) in rejections() {
        assert_eq!(parse_head(&bytes), Err(err), "{name}");
        assert_eq!(err.status().as_u16(), status, "{name}");
    }
}

#[test]
fn rejections_fed_byte_by_byte_give_the_same_error() {
    for (name, bytes, err, _) in rejections() {
        let mut seen_error = false;
        for end in 0..=bytes.len() {
            match parse_head(&bytes[..end]) {
                Ok(None) => assert!(!seen_error, "{name}: Ok(None) after an error at {end}"),
                Err(e) => {
                    assert_eq!(e, err, "{name}: prefix of {end} bytes");
                    seen_error = true;
                }
                Ok(Some(_)) => panic!("{name}: prefix of {end} bytes parsed"),
            }
        }
    }
}

#[test]
fn error_display_is_one_lowercase_line() {
    for (name, _, err, _) in rejections() {
        let text = err.to_string();
        assert!(!text.contains('\n'), "{name}");
        assert_eq!(text, text.to_lowercase(), "{name}");
    }
}

#[test]
fn simple_get() {
    let buf =
        b"GET /a/b%20c?x=1&y HTTP/1.1\r\nHost: example.com:8080\r\nAccept:  */*  \r\n\r\nrest";
    let (head, n) = parse_ok(buf);
    assert_eq!(&buf[n..], b"rest");
    let r = &head.request;
    assert_eq!(r.method(), Method::GET);
    assert_eq!(r.version(), Version::Http11);
    assert_eq!(r.target(), "/a/b%20c?x=1&y");
    assert_eq!(r.path(), "/a/b%20c");
    assert_eq!(r.query(), Some("x=1&y"));
    assert_eq!(r.header("ACCEPT"), Some(&b"*/*"[..]));
    let headers: Vec<_> = r
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    assert_eq!(
        headers,
        [("host", &b"example.com:8080"[..]), ("accept", &b"*/*"[..])]
    );
    assert!(r.body().is_empty());
    assert_eq!(head.framing, BodyFraming::None);
    assert!(head.keep_alive);
    assert!(!head.expect_continue);
}

#[test]
fn every_prefix_of_a_valid_head_needs_more() {
    let buf = b"\r\nPOST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
    for end in 0..buf.len() {
        assert_eq!(parse_head(&buf[..end]), Ok(None), "prefix of {end} bytes");
    }
    let (head, n) = parse_ok(buf);
    assert_eq!(n, buf.len());
    assert_eq!(head.framing, BodyFraming::Length(3));
}

#[test]
fn leading_empty_lines_are_skipped_and_consumed() {
    let mut buf = b"\r\n\n".repeat(MAX_EMPTY_LINES / 2);
    buf.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let (head, n) = parse_ok(&buf);
    assert_eq!(n, buf.len());
    assert_eq!(head.request.path(), "/");
    assert_eq!(parse_head(b"\r\n\r\n"), Ok(None));
    assert_eq!(parse_head(b"\r"), Ok(None));
}

#[test]
fn bare_lf_line_endings_are_accepted() {
    let (head, n) = parse_ok(b"GET / HTTP/1.1\nHost: a\nX: b\r\n\nz");
    assert_eq!(n, 30);
    assert_eq!(head.request.header_str("x"), Some("b"));
}

#[test]
fn http10_needs_no_host_and_closes_by_default() {
    let (head, _) = parse_ok(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(head.request.version(), Version::Http10);
    assert!(!head.keep_alive);
    let (head, _) = parse_ok(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert!(head.keep_alive);
    let (head, _) = parse_ok(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
    assert!(!head.keep_alive);
}

#[test]
fn connection_close_is_found_in_lists() {
    for value in ["close", "CLOSE", "upgrade, Close", " , close ,"] {
        let buf = format!("GET / HTTP/1.1\r\nHost: a\r\nConnection: {value}\r\n\r\n");
        assert!(!parse_ok(buf.as_bytes()).0.keep_alive, "{value}");
    }
    let (head, _) = parse_ok(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n");
    assert!(head.keep_alive);
    let (head, _) =
        parse_ok(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: close\r\n\r\n");
    assert!(!head.keep_alive);
}

#[test]
fn absolute_form_targets() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("http://a/p?q", "/p", Some("q")),
        ("HTTPS://a:443/p/", "/p/", None),
        ("Http://a", "/", None),
        ("http://a?q", "/", Some("q")),
        ("http://[::1]:8080/x", "/x", None),
        ("http://a%41.b/x", "/x", None),
    ];
    for &(target, path, query) in cases {
        let buf = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
        let (head, _) = parse_ok(buf.as_bytes());
        assert_eq!(head.request.target(), target);
        assert_eq!(
            (head.request.path(), head.request.query()),
            (path, query),
            "{target}"
        );
    }
}

#[test]
fn asterisk_and_authority_forms() {
    let (head, _) = parse_ok(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!((head.request.path(), head.request.query()), ("*", None));
    let (head, _) = parse_ok(b"CONNECT a.com:443 HTTP/1.1\r\nHost: a.com:443\r\n\r\n");
    assert_eq!(head.request.method(), Method::CONNECT);
    assert_eq!(head.request.target(), "a.com:443");
    assert_eq!(head.request.path(), "");
}

#[test]
fn valid_hosts() {
    for host in [
        "",
        "a",
        "a.b-c_d~e",
        "a:80",
        "a:",
        "127.0.0.1:8080",
        "a:0",
        "a:65535",
        "[::1]:65535",
        "[::1]",
        "[::1]:80",
        "x%2Fy",
        "a!$&'()*+,;=",
    ] {
        let buf = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert!(
            parse_head(buf.as_bytes()).is_ok_and(|r| r.is_some()),
            "{host:?}"
        );
    }
}

#[test]
fn body_framing() {
    let cases: &[(&[u8], BodyFraming)] = &[
        (b"Content-Length: 0\r\n", BodyFraming::Length(0)),
        (b"Content-Length: 007\r\n", BodyFraming::Length(7)),
        (
            b"Content-Length: 18446744073709551615\r\n",
            BodyFraming::Length(u64::MAX),
        ),
        (b"Content-Length: 5, 5\r\n", BodyFraming::Length(5)),
        (
            b"Content-Length: 5\r\ncontent-length: 5\r\n",
            BodyFraming::Length(5),
        ),
        (b"Transfer-Encoding: chunked\r\n", BodyFraming::Chunked),
        (b"Transfer-Encoding: CHUNKED\r\n", BodyFraming::Chunked),
        (b"Transfer-Encoding: , chunked,\r\n", BodyFraming::Chunked),
        (b"", BodyFraming::None),
    ];
    for &(field, framing) in cases {
        let mut buf = b"POST / HTTP/1.1\r\nHost: a\r\n".to_vec();
        buf.extend_from_slice(field);
        buf.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_ok(&buf).0.framing,
            framing,
            "{}",
            String::from_utf8_lossy(field)
        );
    }
}

#[test]
fn expect_continue() {
    let (head, _) = parse_ok(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n");
    assert!(head.expect_continue);
    let (head, _) = parse_ok(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
    assert!(!head.expect_continue);
    let (head, _) = parse_ok(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n");
    assert!(!head.expect_continue);
}

#[test]
fn limits_are_inclusive() {
    let mut line = b"GET /".to_vec();
    line.resize(MAX_REQUEST_LINE - b" HTTP/1.1".len(), b'a');
    line.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        parse_ok(&line).0.request.target().len(),
        MAX_REQUEST_LINE - 13
    );

    let mut fields = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for _ in 1..MAX_HEADERS {
        fields.extend_from_slice(b"X: y\r\n");
    }
    fields.extend_from_slice(b"\r\n");
    assert_eq!(parse_ok(&fields).0.request.headers().len(), MAX_HEADERS);

    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
    head.resize(MAX_HEAD - 4, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parse_ok(&head).1, MAX_HEAD);
    head.insert(head.len() - 4, b'a');
    assert_eq!(parse_head(&head), Err(ParseError::HeadTooLarge));
}

#[test]
fn all_methods_parse() {
    for method in crate::http::KNOWN_METHODS {
        let target = match method {
            Method::CONNECT => "a:1",
            _ => "/",
        };
        let buf = format!("{method} {target} HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(parse_ok(buf.as_bytes()).0.request.method(), method);
    }
}

#[test]
fn header_values_keep_obs_text() {
    let (head, _) = parse_ok(b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9 \xff\r\n\r\n");
    assert_eq!(head.request.header("x"), Some(&b"caf\xc3\xa9 \xff"[..]));
    assert_eq!(head.request.header_str("x"), None);
}

proptest! {
    #[test]
    fn never_panics_and_consumes_at_most_the_input(buf in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(Some((_, n))) = parse_head(&buf) {
            prop_assert!(n <= buf.len());
        }
    }

    #[test]
    fn never_panics_on_near_valid_heads(
        prefix in prop::sample::select(vec![&b"GET / HTTP/1.1\r\n"[..], b"GET ", b"\r\n", b"POST http://a/ HTTP/1.0\n"]),
        fields in prop::collection::vec(prop::sample::select(vec![
            &b"Host: a\r\n"[..], b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n",
            b"Connection: close\r\n", b"Expect: 100-continue\r\n", b"\r\n", b"\n", b"\r", b" ", b":", b"\0",
        ]), 0..12),
        tail in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut buf = prefix.to_vec();
        for field in fields {
            buf.extend_from_slice(field);
        }
        buf.extend_from_slice(&tail);
        let whole = parse_head(&buf);
        if let Ok(Some((_, n))) = &whole {
            prop_assert!(*n <= buf.len());
        }
        // Growing prefixes: Ok(None) until the answer settles, errors never change.
        for end in 0..buf.len() {
            match parse_head(&buf[..end]) {
                Ok(None) => {}
                Ok(Some((head, n))) => {
                    let (whole_head, whole_n) = whole.clone().map_err(|e| TestCaseError::fail(format!("prefix parsed, whole failed: {e}")))?.ok_or_else(|| TestCaseError::fail("prefix parsed, whole incomplete"))?;
                    prop_assert_eq!((head, n), (whole_head, whole_n));
                }
                Err(e) => prop_assert_eq!(Err(e), whole.clone().map(|_| ())),
            }
        }
    }
}
