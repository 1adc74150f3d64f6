//! Compression on the fly: every coding decodes to the file's bytes, each coding has its own
//! `ETag`, `Vary` is sent exactly where the answer can differ, `304` and ranges work per
//! representation, precompressed siblings win, and it can be turned off.

mod support;

use std::io::Read;

use lido::StaticFiles;
use support::{HttpReply, TempTree, TestServer, fetch};

fn decode(coding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("gzip decodes");
        }
        "br" => {
            brotli::Decompressor::new(bytes, 4096)
                .read_to_end(&mut out)
                .expect("brotli decodes");
        }
        "zstd" => {
            ruzstd::decoding::StreamingDecoder::new(bytes)
                .expect("a zstd frame")
                .read_to_end(&mut out)
                .expect("zstd decodes");
        }
        other => panic!("unexpected coding {other}"),
    }
    out
}

fn serve(tree: &TempTree, configure: impl FnOnce(StaticFiles) -> StaticFiles) -> TestServer {
    let files = configure(StaticFiles::new(&tree.root).expect("serve the tree"));
    TestServer::start(|b| b, files)
}

fn get(server: &TestServer, path: &str, fields: &[(&str, &str)]) -> HttpReply {
    fetch(server.addr, "GET", path, fields)
}

const SCRIPT: &str = "export function hello() { return 'lido'; }\n";

#[test]
fn each_coding_is_chosen_by_q_value_and_decodes_to_the_file() {
    let tree = TempTree::new("compression", "codings");
    let script = SCRIPT.repeat(200);
    tree.write("app.js", &script);
    let server = serve(&tree, |f| f);
    let mut etags = Vec::new();
    for (accept, coding) in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip, deflate, br", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("*", "zstd"),
    ] {
        let reply = get(&server, "/app.js", &[("Accept-Encoding", accept)]);
        assert_eq!(reply.status, 200, "{accept}");
        assert_eq!(reply.header("content-encoding"), Some(coding), "{accept}");
        assert_eq!(reply.header("vary"), Some("Accept-Encoding"), "{accept}");
        assert!(reply.body.len() < script.len() / 4, "{accept}: not smaller");
        assert_eq!(decode(coding, &reply.body), script.as_bytes(), "{accept}");
        let etag = reply.header("etag").expect("an etag").to_owned();
        if !etags.contains(&etag) {
            etags.push(etag);
        }
    }
    // Identity: no header, identity preferred, or every coding refused.
    for fields in [
        &[][..],
        &[("Accept-Encoding", "identity")][..],
        &[("Accept-Encoding", "gzip;q=0.5, identity")][..],
        &[("Accept-Encoding", "br;q=0, gzip;q=0, zstd;q=0")][..],
    ] {
        let reply = get(&server, "/app.js", fields);
        assert_eq!(reply.header("content-encoding"), None, "{fields:?}");
        assert_eq!(reply.header("vary"), Some("Accept-Encoding"), "{fields:?}");
        assert_eq!(reply.body, script.as_bytes());
        let etag = reply.header("etag").expect("an etag").to_owned();
        if !etags.contains(&etag) {
            etags.push(etag);
        }
    }
    assert_eq!(etags.len(), 4, "one ETag per representation: {etags:?}");
}

#[test]
fn conditional_requests_ranges_and_head_work_per_representation() {
    let tree = TempTree::new("compression", "conditional");
    let script = SCRIPT.repeat(200);
    tree.write("app.js", &script);
    let server = serve(&tree, |f| f);
    let br = [("Accept-Encoding", "br")];
    let first = get(&server, "/app.js", &br);
    let etag = first.header("etag").expect("an etag").to_owned();
    // 304 for the brotli representation's own tag...
    let again = get(&server, "/app.js", &[br[0], ("If-None-Match", &etag)]);
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(again.header("vary"), Some("Accept-Encoding"));
    // ...but not for a client that gets another representation.
    let gzip = get(
        &server,
        "/app.js",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", &etag)],
    );
    assert_eq!(gzip.status, 200);
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    // A range is a range of the identity bytes, never a slice of compressed data.
    let identity_tag = get(&server, "/app.js", &[])
        .header("etag")
        .expect("an etag")
        .to_owned();
    let part = get(
        &server,
        "/app.js",
        &[br[0], ("Range", "bytes=10-19"), ("If-Range", &identity_tag)],
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-encoding"), None);
    assert_eq!(part.body, &script.as_bytes()[10..20]);
    // If-Range with the compressed representation's tag does not match the identity: all.
    let whole = get(
        &server,
        "/app.js",
        &[br[0], ("Range", "bytes=10-19"), ("If-Range", &etag)],
    );
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, script.as_bytes());
    // HEAD says what GET sends.
    let head = fetch(server.addr, "HEAD", "/app.js", &br);
    assert_eq!(head.header("content-encoding"), Some("br"));
    assert_eq!(
        head.header("content-length"),
        Some(first.body.len().to_string().as_str())
    );
}

#[test]
fn only_compressible_files_of_the_right_size_and_siblings_win() {
    let tree = TempTree::new("compression", "which");
    tree.write("tiny.txt", "small");
    tree.write("photo.png", vec![7u8; 4096]);
    let big = "x".repeat(3 * 1024 * 1024);
    tree.write("big.txt", &big);
    let css = "body { color: red; }\n".repeat(100);
    tree.write("site.css", &css);
    tree.write("site.css.gz", b"precompressed bytes");
    let server = serve(&tree, |f| f);
    let all = [("Accept-Encoding", "gzip, br, zstd")];
    // Too small, not compressible, too large: as they are, and only the compressible sizes
    // vary.
    let tiny = get(&server, "/tiny.txt", &all);
    assert_eq!(
        (tiny.header("content-encoding"), tiny.header("vary")),
        (None, None)
    );
    let png = get(&server, "/photo.png", &all);
    assert_eq!(
        (png.header("content-encoding"), png.header("vary")),
        (None, None)
    );
    let large = get(&server, "/big.txt", &all);
    assert_eq!(large.header("content-encoding"), None);
    assert_eq!(large.body.len(), big.len());
    // A precompressed sibling wins over compressing on the fly.
    let sibling = get(&server, "/site.css", &all);
    assert_eq!(sibling.header("content-encoding"), Some("gzip"));
    assert_eq!(sibling.body, b"precompressed bytes");
    // Where there is no sibling for the coding asked, compression on the fly.
    let onthefly = get(&server, "/site.css", &[("Accept-Encoding", "zstd")]);
    assert_eq!(onthefly.header("content-encoding"), Some("zstd"));
    assert_eq!(decode("zstd", &onthefly.body), css.as_bytes());
}

#[test]
fn a_changed_file_is_compressed_again_and_it_can_be_turned_off() {
    let tree = TempTree::new("compression", "changed");
    tree.write("notes.txt", "first version\n".repeat(200));
    let server = serve(&tree, |f| f.recheck_files_after(std::time::Duration::ZERO));
    let br = [("Accept-Encoding", "br")];
    let first = get(&server, "/notes.txt", &br);
    assert_eq!(
        decode("br", &first.body),
        "first version\n".repeat(200).as_bytes()
    );
    tree.write("notes.txt", "second version!\n".repeat(300));
    let second = get(&server, "/notes.txt", &br);
    assert_eq!(
        decode("br", &second.body),
        "second version!\n".repeat(300).as_bytes()
    );
    assert_ne!(first.header("etag"), second.header("etag"));
    drop(server);
    let off = serve(&tree, |f| f.compression(false, 0));
    let plain = get(&off, "/notes.txt", &br);
    assert_eq!(
        (plain.header("content-encoding"), plain.header("vary")),
        (None, None)
    );
}
