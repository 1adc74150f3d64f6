//! `StaticFiles::security_headers` (`--security-headers`): the protective set on files and
//! listings, off by default, and a header the user sets wins.

mod support;

use lido::StaticFiles;
use support::{TempTree, TestServer, fetch};

#[test]
fn security_headers_on_files_and_listings() {
    let tree = TempTree::new("headers", "security");
    tree.write("a.txt", "a");
    tree.write("docs/b.txt", "b");
    let files = StaticFiles::new(&tree.root)
        .expect("serve")
        .security_headers(true);
    let server = TestServer::start(|b| b, files);
    let file = fetch(server.addr, "GET", "/a.txt", &[]);
    assert_eq!(file.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        file.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(
        file.header("cross-origin-opener-policy"),
        Some("same-origin")
    );
    assert_eq!(
        file.header("content-security-policy"),
        Some("frame-ancestors 'none'")
    );
    assert_eq!(file.header("x-content-type-options"), Some("nosniff"));
    // The listing keeps its own, stricter policy (which forbids framing too).
    let listing = fetch(server.addr, "GET", "/docs/", &[]);
    let csp = listing.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains("script-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(listing.header("x-frame-options"), Some("DENY"));
}

#[test]
fn off_by_default_and_a_users_header_wins() {
    let tree = TempTree::new("headers", "override");
    tree.write("a.txt", "a");
    let plain = TestServer::start(|b| b, StaticFiles::new(&tree.root).expect("serve"));
    let reply = fetch(plain.addr, "GET", "/a.txt", &[]);
    assert_eq!(reply.header("x-frame-options"), None);
    assert_eq!(reply.header("referrer-policy"), None);
    let framed = StaticFiles::new(&tree.root)
        .expect("serve")
        .security_headers(true)
        .header("X-Frame-Options", "SAMEORIGIN");
    let server = TestServer::start(|b| b, framed);
    let reply = fetch(server.addr, "GET", "/a.txt", &[]);
    assert_eq!(reply.header("x-frame-options"), Some("SAMEORIGIN"));
}
