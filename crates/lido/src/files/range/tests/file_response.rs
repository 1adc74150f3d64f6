//! `file_response` on a real temporary file.

use std::path::PathBuf;
use std::time::SystemTime;

use super::*;

const CONTENT_TYPE: &str = "text/plain; charset=utf-8";
const CACHE_CONTROL: &str = "public, max-age=60";

/// A file in the temp directory, removed on drop.
struct TempFile {
    path: PathBuf,
    content: Vec<u8>,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl TempFile {
    fn new(name: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("lido-range-{name}-{}", std::process::id()));
        let content: Vec<u8> = (0..200u8).map(|i| b'a' + i % 26).collect();
        std::fs::write(&path, &content).unwrap();
        let file = File::options().write(true).open(&path).unwrap();
        file.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME))
            .unwrap();
        TempFile { path, content }
    }

    fn open(&self) -> (Content, Metadata) {
        let file = File::open(&self.path).unwrap();
        let meta = file.metadata().unwrap();
        (Content::File(Arc::new(file)), meta)
    }

    fn respond(&self, request: &Request) -> Response {
        let (file, meta) = self.open();
        file_response(
            request,
            &file,
            &meta,
            CONTENT_TYPE,
            None,
            false,
            CACHE_CONTROL,
        )
    }

    fn etag(&self) -> String {
        Validators::new(&self.open().1, None).etag
    }
}

/// The `(offset, len)` of a file body.
fn file_region(response: &Response) -> (u64, u64) {
    match response.body() {
        Body::File { offset, len, .. } => (*offset, *len),
        other => panic!("not a file body: {other:?}"),
    }
}

fn assert_full(response: &Response) {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(file_region(response), (0, 200));
    assert_eq!(response.header("Content-Range"), None);
}

#[test]
fn serves_the_whole_file() {
    let f = TempFile::new("full");
    let response = f.respond(&get(&[]));
    assert_full(&response);
    let etag = f.etag();
    let fields: Vec<(&str, &str)> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("content-type", CONTENT_TYPE),
            ("accept-ranges", "bytes"),
            ("etag", etag.as_str()),
            ("last-modified", LAST_MODIFIED),
            ("cache-control", CACHE_CONTROL),
        ]
    );
    assert_full(&f.respond(&with_fields(Method::HEAD, &[])));
}

#[test]
fn encoded_and_varied_responses() {
    let f = TempFile::new("encoded");
    let (file, meta) = f.open();
    let response = file_response(
        &get(&[]),
        &file,
        &meta,
        "text/css",
        Some("br"),
        false,
        "no-cache",
    );
    assert_eq!(response.header("Content-Encoding"), Some("br"));
    assert_eq!(response.header("Vary"), Some("Accept-Encoding"));
    assert!(response.header("ETag").unwrap().ends_with("-br\""));
    assert_eq!(response.header("Cache-Control"), Some("no-cache"));

    let (file, meta) = f.open();
    let response = file_response(&get(&[]), &file, &meta, "text/css", None, true, "no-cache");
    assert_eq!(response.header("Content-Encoding"), None);
    assert_eq!(response.header("Vary"), Some("Accept-Encoding"));

    // The encoded ETag is what conditional requests on the encoded response compare with.
    let (file, meta) = f.open();
    let etag = Validators::new(&meta, Some("gzip")).etag;
    let request = get(&[("if-none-match", &etag)]);
    let response = file_response(&request, &file, &meta, "text/css", Some("gzip"), false, "x");
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(response.header("Content-Encoding"), None);
}

#[test]
fn serves_one_range() {
    let f = TempFile::new("single");
    let response = f.respond(&get(&[("range", "bytes=10-19")]));
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.header("Content-Range"), Some("bytes 10-19/200"));
    assert_eq!(response.header("Content-Type"), Some(CONTENT_TYPE));
    assert_eq!(response.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(response.header("ETag"), Some(f.etag().as_str()));
    assert_eq!(response.header("Last-Modified"), Some(LAST_MODIFIED));
    assert_eq!(file_region(&response), (10, 10));

    let response = f.respond(&get(&[("range", "bytes=-5")]));
    assert_eq!(response.header("Content-Range"), Some("bytes 195-199/200"));
    assert_eq!(file_region(&response), (195, 5));

    // HEAD gets the head of the GET.
    let response = f.respond(&with_fields(Method::HEAD, &[("range", "bytes=0-")]));
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.header("Content-Range"), Some("bytes 0-199/200"));
}

#[test]
fn range_is_ignored_for_other_methods() {
    let f = TempFile::new("methods");
    for method in [Method::POST, Method::PUT, Method::OPTIONS] {
        let response = f.respond(&with_fields(method, &[("range", "bytes=0-0")]));
        assert_full(&response);
    }
}

#[test]
fn invalid_range_serves_the_whole_file() {
    let f = TempFile::new("invalid");
    for range in ["bytes=5-1", "lines=1-2", "bytes=x"] {
        assert_full(&f.respond(&get(&[("range", range)])));
    }
}

/// The bytes a multi-part body sends, file regions read from the file.
fn flatten(body: &Body) -> Vec<u8> {
    let Body::Parts(parts) = body else {
        panic!("not a multi-part body: {body:?}");
    };
    let mut out = Vec::new();
    for part in parts {
        match part {
            BodyPart::Bytes(bytes) => out.extend_from_slice(bytes),
            BodyPart::File { file, offset, len } => {
                let mut buf = vec![0u8; *len as usize];
                assert_eq!(
                    crate::transport::read_full_at(file, &mut buf, *offset),
                    buf.len()
                );
                out.extend_from_slice(&buf);
            }
        }
    }
    out
}

#[test]
fn serves_several_ranges_as_multipart() {
    let f = TempFile::new("multipart");
    let response = f.respond(&get(&[("range", "bytes=0-4, 30-31,-3")]));
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.header("Content-Range"), None);
    assert_eq!(response.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(response.header("ETag"), Some(f.etag().as_str()));
    let content_type = response.header("Content-Type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    // `lido-` and 128 random bits in hex.
    assert_eq!(boundary.len(), 5 + 32);
    assert!(
        boundary
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    );
    let expected = format!(
        "--{b}\r\n\
         Content-Type: {CONTENT_TYPE}\r\n\
         Content-Range: bytes 0-4/200\r\n\
         \r\n\
         abcde\r\n\
         --{b}\r\n\
         Content-Type: {CONTENT_TYPE}\r\n\
         Content-Range: bytes 30-31/200\r\n\
         \r\n\
         ef\r\n\
         --{b}\r\n\
         Content-Type: {CONTENT_TYPE}\r\n\
         Content-Range: bytes 197-199/200\r\n\
         \r\n\
         pqr\r\n\
         --{b}--\r\n",
        b = boundary
    );
    assert_eq!(&f.content[197..], b"pqr");
    assert_eq!(String::from_utf8_lossy(&flatten(response.body())), expected);
    assert_eq!(response.body().len(), expected.len() as u64);
}

#[test]
fn r9_multipart_is_streamed_from_the_file() {
    let f = TempFile::new("large");
    let big = 64 << 20;
    File::options()
        .write(true)
        .open(&f.path)
        .unwrap()
        .set_len(big)
        .unwrap();
    let response = f.respond(&get(&[("range", "bytes=0-0,1000-")]));
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let Body::Parts(parts) = response.body() else {
        panic!("not multi-part: {:?}", response.body());
    };
    // The content is file regions, never bytes read into memory.
    let in_memory: u64 = parts
        .iter()
        .filter_map(|p| match p {
            BodyPart::Bytes(b) => Some(b.len() as u64),
            BodyPart::File { .. } => None,
        })
        .sum();
    assert!(in_memory < 1024, "{in_memory} bytes held in memory");
    let from_file: u64 = parts
        .iter()
        .filter_map(|p| match p {
            BodyPart::File { len, .. } => Some(*len),
            BodyPart::Bytes(_) => None,
        })
        .sum();
    assert_eq!(from_file, 1 + (big - 1000));
}

#[test]
fn r9_overlapping_ranges_are_coalesced_or_refused() {
    let f = TempFile::new("overlap");
    // Sixteen times the whole file: more than the file, so the whole file, once.
    let many = vec!["0-"; 16].join(",");
    assert_full(&f.respond(&get(&[("range", &format!("bytes={many}"))])));
    // Overlapping and adjacent ranges merge: one range, no multipart.
    let response = f.respond(&get(&[("range", "bytes=10-19,15-29,30-39")]));
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.header("Content-Range"), Some("bytes 10-39/200"));
    assert_eq!(file_region(&response), (10, 30));
}

#[test]
fn unsatisfiable_range() {
    let f = TempFile::new("unsatisfiable");
    let response = f.respond(&get(&[("range", "bytes=200-")]));
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(response.header("Content-Range"), Some("bytes */200"));
    assert_eq!(response.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(response.header("Cache-Control"), None);
}

#[test]
fn not_modified() {
    let f = TempFile::new("not-modified");
    let etag = f.etag();
    for request in [
        get(&[("if-none-match", &etag)]),
        get(&[("if-none-match", &format!("W/{etag}"))]),
        get(&[("if-modified-since", LAST_MODIFIED)]),
        with_fields(Method::HEAD, &[("if-none-match", "*")]),
        // Preconditions come before ranges.
        get(&[("if-none-match", &etag), ("range", "bytes=0-0")]),
    ] {
        let response = f.respond(&request);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        let fields: Vec<(&str, &str)> = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
            .collect();
        assert_eq!(
            fields,
            [
                ("etag", etag.as_str()),
                ("last-modified", LAST_MODIFIED),
                ("cache-control", CACHE_CONTROL),
            ]
        );
        assert!(matches!(response.body(), Body::Empty));
    }
    let response = f.respond(&get(&[(
        "If-Modified-Since",
        "Sun, 06 Nov 1994 08:49:36 GMT",
    )]));
    assert_full(&response);
}

#[test]
fn precondition_failed() {
    let f = TempFile::new("failed");
    for request in [
        get(&[("if-match", "\"nope\"")]),
        get(&[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:36 GMT")]),
        with_fields(Method::PUT, &[("if-none-match", "*")]),
        get(&[("if-match", "\"nope\""), ("range", "bytes=0-0")]),
    ] {
        let response = f.respond(&request);
        assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(response.header("ETag"), None);
    }
    let etag = f.etag();
    assert_full(&f.respond(&get(&[("if-match", &etag)])));
}

#[test]
fn if_range_mismatch_serves_the_whole_file() {
    let f = TempFile::new("if-range");
    let etag = f.etag();
    for if_range in ["\"nope\"", "Sun, 06 Nov 1994 08:49:36 GMT", "junk"] {
        let request = get(&[("range", "bytes=0-0"), ("if-range", if_range)]);
        assert_full(&f.respond(&request));
        // Even when the range could not be satisfied.
        let request = get(&[("range", "bytes=500-"), ("if-range", if_range)]);
        assert_full(&f.respond(&request));
    }
    for if_range in [etag.as_str(), LAST_MODIFIED] {
        let request = get(&[("range", "bytes=0-0"), ("if-range", if_range)]);
        let response = f.respond(&request);
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{if_range}");
        assert_eq!(file_region(&response), (0, 1));
    }
}

#[test]
fn empty_file() {
    let f = TempFile::new("empty");
    File::options()
        .write(true)
        .open(&f.path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let response = f.respond(&get(&[("range", "bytes=-5")]));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(file_region(&response), (0, 0));
    let response = f.respond(&get(&[("range", "bytes=0-")]));
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(response.header("Content-Range"), Some("bytes */0"));
}

#[test]
fn modification_time_in_the_future_is_not_sent() {
    let f = TempFile::new("future");
    let future = SystemTime::now() + Duration::from_secs(86_400);
    File::options()
        .write(true)
        .open(&f.path)
        .unwrap()
        .set_modified(future)
        .unwrap();
    let response = f.respond(&get(&[]));
    let sent = httpdate::parse_http_date(response.header("Last-Modified").unwrap()).unwrap();
    assert!(sent <= SystemTime::now());
}
