//! The programs of the crate's front page (examples/router.rs, examples/site.rs; the hello
//! server has tests/hello.rs), served for real; and what an embedder needs: static files
//! under a prefix beside other routes, the client's address, the request's start time.

mod support;

#[path = "../examples/router.rs"]
#[allow(dead_code)] // its `main` is the example's
mod router;

#[path = "../examples/site.rs"]
#[allow(dead_code)]
mod site;

use lido::StaticFiles;
use support::{TempTree, TestServer, raw};

fn header<'a>(reply: &'a str, name: &str) -> Option<&'a str> {
    support::header_in(reply, name)
}

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn body(reply: &str) -> &str {
    reply.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

#[test]
fn the_router_matches_method_and_path_and_takes_parameters() {
    let server = TestServer::start(|b| b, router::Users::default());
    assert_eq!(body(&get(server.addr, "/users")), "0 users\n");
    let created = raw(
        server.addr,
        b"POST /users HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nada",
    );
    assert!(created.starts_with("HTTP/1.1 201 Created\r\n"), "{created}");
    assert_eq!(header(&created, "location"), Some("/users/0"));
    let ada = get(server.addr, "/users/0");
    assert!(ada.starts_with("HTTP/1.1 200 "), "{ada}");
    assert_eq!(body(&ada), "ada\n");
    // Per-response headers from the request's origin and start time.
    assert_eq!(header(&ada, "x-client"), Some("127.0.0.1"));
    let timing = header(&ada, "server-timing").expect("Server-Timing");
    let ms: f64 = timing
        .strip_prefix("app;dur=")
        .and_then(|v| v.parse().ok())
        .expect("a duration");
    assert!((0.0..10_000.0).contains(&ms), "{timing}");
    assert!(get(server.addr, "/users/x").starts_with("HTTP/1.1 400 "));
    assert!(get(server.addr, "/users/9").starts_with("HTTP/1.1 404 "));
    let delete = raw(
        server.addr,
        b"DELETE /users/0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(delete.starts_with("HTTP/1.1 405 "), "{delete}");
    assert_eq!(header(&delete, "allow"), Some("GET"));
}

#[test]
fn the_site_serves_files_and_an_api_on_one_server() {
    let tree = TempTree::new("examples", "site");
    tree.write("index.html", "<h1>site</h1>");
    let files = StaticFiles::new(&tree.root).expect("serve the tree");
    let server = TestServer::start(|b| b, site::Site { files });
    let time = get(server.addr, "/api/time");
    assert!(time.starts_with("HTTP/1.1 200 "), "{time}");
    assert_eq!(header(&time, "content-type"), Some("application/json"));
    assert!(body(&time).starts_with("{\"unix\":"), "{time}");
    assert!(get(server.addr, "/api/nothing").starts_with("HTTP/1.1 404 "));
    let page = get(server.addr, "/");
    assert!(page.starts_with("HTTP/1.1 200 "), "{page}");
    assert_eq!(body(&page), "<h1>site</h1>");
    assert!(header(&page, "etag").is_some());
}

#[test]
fn static_files_under_a_prefix_beside_other_routes() {
    let tree = TempTree::new("examples", "prefix");
    tree.write("a.txt", "a");
    tree.write("docs/b.txt", "b");
    let files = StaticFiles::new(&tree.root)
        .expect("serve the tree")
        .prefix("/static/");
    let server = TestServer::start(
        |b| b,
        move |request: &lido::http::Request| {
            use lido::Handler;
            if request.path() == "/static" || request.path().starts_with("/static/") {
                files.handle(request)
            } else {
                lido::http::Response::text(lido::http::StatusCode::OK, "app")
            }
        },
    );
    let a = get(server.addr, "/static/a.txt");
    assert!(a.starts_with("HTTP/1.1 200 "), "{a}");
    assert_eq!(body(&a), "a");
    assert_eq!(body(&get(server.addr, "/static/docs/b.txt")), "b");
    assert_eq!(body(&get(server.addr, "/a.txt")), "app");
    // The prefix itself is a directory: redirected to its slash, then listed.
    let bare = get(server.addr, "/static");
    assert!(bare.starts_with("HTTP/1.1 301 "), "{bare}");
    assert_eq!(header(&bare, "location"), Some("./static/"));
    let listing = get(server.addr, "/static/docs/");
    assert!(listing.starts_with("HTTP/1.1 200 "), "{listing}");
    assert!(body(&listing).contains("b.txt"), "{listing}");
    // A name that only starts like the prefix is not under it.
    let files = StaticFiles::new(&tree.root)
        .expect("serve")
        .prefix("/static");
    let outside = lido::Handler::handle(
        &files,
        &lido::http::Request::new(lido::http::Method::GET, "/staticx/a.txt").expect("a request"),
    );
    assert_eq!(outside.status(), lido::http::StatusCode::NOT_FOUND);
    // No escape through the prefix.
    let escape = lido::Handler::handle(
        &files,
        &lido::http::Request::new(lido::http::Method::GET, "/static/../../etc/passwd")
            .expect("a request"),
    );
    assert_eq!(escape.status(), lido::http::StatusCode::NOT_FOUND);
}
