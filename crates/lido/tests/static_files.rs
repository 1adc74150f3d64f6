//! `lido::StaticFiles` end to end: real files in a temporary directory (one per test, removed
//! at the end), served by a real server and requested over raw `TcpStream`s on 127.0.0.1.
//!
//! 1. Path handling: decoding, normalisation, the root jail, dotfiles, symlinks, FIFOs and the
//!    trailing-slash redirect (never an open redirect).
//! 2. `index.html` and listings (HTML, JSON, off).
//! 3. Content types and `nosniff`.
//! 4. Validators and preconditions; `Cache-Control`.
//! 5. Ranges.
//! 6. Precompressed siblings, and no compression on the fly.
//! 7. SPA fallback, custom 404 page, CORS, extra headers.
//! 8. A large file (zero-copy path) and a file that shrinks while it is sent.

mod support;

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, UNIX_EPOCH};

use lido::StaticFiles;
use support::{
    End, HttpReply, TempTree, TestServer, connect, fetch, get, header_in, parse_status, pattern,
    raw, read_head_response, read_until_closed, wait_until,
};

/// Contents of the file next to the served root: no response may ever contain it.
const OUTSIDE: &str = "OUTSIDE-THE-ROOT-7d1e";

/// 2021-03-04T05:06:07Z: the modification time given to files whose dates are checked.
const MTIME: u64 = 1_614_834_367;

/// [`MTIME`] as an HTTP-date.
const MTIME_HTTP: &str = "Thu, 04 Mar 2021 05:06:07 GMT";

/// [`MTIME`] as the listings show it.
const MTIME_RFC3339: &str = "2021-03-04T05:06:07Z";

/// How long the rest of a response to a shrinking file may take to arrive.
const SHRINK_DEADLINE: Duration = Duration::from_secs(30);

/// A temporary tree: `base/root` is served; `base/outside.txt` holds [`OUTSIDE`] and must
/// never be served (unless symlinks may lead anywhere). Removed on drop.
struct Tree(TempTree);

impl std::ops::Deref for Tree {
    type Target = TempTree;

    fn deref(&self) -> &TempTree {
        &self.0
    }
}

impl Tree {
    fn new(name: &str) -> Tree {
        let tree = TempTree::new("static-files", name);
        fs::write(tree.base.join("outside.txt"), OUTSIDE).expect("write the outside file");
        Tree(tree)
    }

    /// Writes `root/rel` with the modification time [`MTIME`].
    fn write_dated(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.write(rel, contents);
        fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME)))
            .expect("set the modification time");
        path
    }

    fn mkdir(&self, rel: &str) -> PathBuf {
        let path = self.root.join(rel);
        fs::create_dir_all(&path).expect("create a directory");
        path
    }

    /// `root/rel` -> `target` (relative targets are relative to the link's directory).
    fn symlink(&self, target: impl AsRef<Path>, rel: &str) {
        std::os::unix::fs::symlink(target, self.root.join(rel)).expect("create a symlink");
    }

    fn mkfifo(&self, rel: &str) -> PathBuf {
        let path = self.root.join(rel);
        let made = Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("run mkfifo");
        assert!(made.success(), "mkfifo {} failed", path.display());
        path
    }

    /// Serves the root with `configure` applied to a default [`StaticFiles`].
    fn serve(&self, configure: impl FnOnce(StaticFiles) -> StaticFiles) -> TestServer {
        let files = configure(StaticFiles::new(&self.root).expect("serve the root"));
        TestServer::start(|builder| builder, files)
    }
}

fn get_with(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> HttpReply {
    fetch(addr, "GET", target, headers)
}

/// `GET target` as raw text (for targets the server may refuse before the handler).
fn raw_get(addr: SocketAddr, target: &str) -> String {
    let request = format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    raw(addr, request.as_bytes())
}

/// A request and the status it must get: method, target, header fields, status.
type Check<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16);

/// Every header field called `name`.
fn all_headers<'a>(reply: &'a HttpReply, name: &str) -> Vec<&'a str> {
    reply
        .headers
        .iter()
        .filter(|(field, _)| field.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
        .collect()
}

/// Whether the `Vary` field(s) list `field`.
fn varies_on(reply: &HttpReply, field: &str) -> bool {
    all_headers(reply, "vary")
        .iter()
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(field))
}

fn assert_nosniff(reply: &HttpReply, what: &str) {
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{what}: status {} without nosniff: {:?}",
        reply.status,
        reply.headers
    );
}

/// Where a relative `location` received for `request_path` leads (RFC 3986 5.2, for the
/// `./x` references lido sends): the directory of the request path, then the reference.
fn follow(request_path: &str, location: &str) -> String {
    let dir = &request_path[..=request_path.rfind('/').expect("an absolute path")];
    let reference = location
        .strip_prefix("./")
        .unwrap_or_else(|| panic!("not a ./ reference: {location:?}"));
    format!("{dir}{reference}")
}

/// Whether a URI reference starts with a scheme (`x:` before any `/`, `?` or `#`).
fn has_scheme(reference: &str) -> bool {
    let first = reference.split(['/', '?', '#']).next().unwrap_or("");
    first.contains(':')
}

/// The index of the first differing byte of `got` and `expected[..got.len()]`.
fn first_difference(got: &[u8], expected: &[u8]) -> Option<usize> {
    got.iter().zip(expected).position(|(a, b)| a != b)
}

// 1. Path handling ---------------------------------------------------------------------------

#[test]
fn percent_encoded_and_unnormalised_paths_resolve() {
    let tree = Tree::new("decode");
    tree.write("a b.txt", "space");
    tree.write("x/y", "nested");
    tree.write("caf\u{e9}.txt", "utf8");
    tree.write("%2e%2e/inner.txt", "literal percent name");
    let server = tree.serve(|f| f);
    for (target, body) in [
        ("/a%20b.txt", "space"),
        ("/./x//y", "nested"),
        ("/x/./y", "nested"),
        ("//x/y", "nested"),
        ("/x/%2e/y", "nested"),
        ("/caf%C3%A9.txt", "utf8"),
        ("/caf%c3%a9.txt", "utf8"),
        // Decoded once: `%252e%252e` names the directory `%2e%2e`, it is not `..`.
        ("/%252e%252e/inner.txt", "literal percent name"),
    ] {
        let reply = get(server.addr, target);
        assert_eq!(
            (reply.status, reply.body_text().as_str()),
            (200, body),
            "{target}"
        );
    }
}

#[test]
fn the_root_jail_holds_against_every_escape() {
    let tree = Tree::new("jail");
    tree.write("dir/file.txt", "inside");
    let cases: &[(&str, u16)] = &[
        ("/../outside.txt", 404),
        ("/dir/../../outside.txt", 404),
        ("/..", 404),
        ("/%2e%2e", 404),
        ("/%2e%2e/outside.txt", 404),
        ("/%2E%2E/outside.txt", 404),
        ("/.%2e/outside.txt", 404),
        ("/dir/%2e%2e/%2e%2e/outside.txt", 404),
        ("/..%2foutside.txt", 404),
        ("/%2e%2e%2foutside.txt", 404),
        ("/dir%2f..%2f..%2foutside.txt", 404),
        ("/%252e%252e/outside.txt", 404),
        ("/%252e%252e%252foutside.txt", 404),
        ("/..%5coutside.txt", 400),
        ("/%5c..%5coutside.txt", 400),
        ("/dir%5c..%5c..%5coutside.txt", 400),
        ("/..\\outside.txt", 400),
        ("/outside.txt%00", 400),
        ("/dir/file.txt%00.html", 400),
        ("/..%00/outside.txt", 400),
        ("http://test/../outside.txt", 404),
        ("http://test/%2e%2e/outside.txt", 404),
    ];
    // Neither option may open the jail: `..` is refused whatever the policy.
    for server in [
        tree.serve(|f| f),
        tree.serve(|f| f.show_hidden(true).follow_symlinks(true)),
    ] {
        for &(target, expected) in cases {
            let reply = raw_get(server.addr, target);
            assert!(
                !reply.contains(OUTSIDE),
                "{target} leaked the outside file: {reply}"
            );
            assert_eq!(parse_status(&reply), expected, "{target}: {reply}");
        }
        assert_eq!(get(server.addr, "/dir/file.txt").body_text(), "inside");
    }
}

#[test]
fn dotfiles_are_hidden_unless_shown() {
    let tree = Tree::new("hidden");
    tree.write(".secret", "dot");
    tree.write(".git/config", "git");
    tree.write("sub/.env", "env");
    tree.write("visible.txt", "visible");

    let hidden = tree.serve(|f| f);
    for target in [
        "/.secret",
        "/%2esecret",
        "/%2Esecret",
        "/.git/config",
        "/.git/",
        "/.git",
        "/sub/.env",
        "/sub/%2eenv",
    ] {
        assert_eq!(get(hidden.addr, target).status, 404, "{target}");
    }
    assert_eq!(get(hidden.addr, "/visible.txt").body_text(), "visible");
    let html = get(hidden.addr, "/").body_text();
    assert!(html.contains(">visible.txt</a>"), "{html}");
    assert!(
        !html.contains(".secret") && !html.contains(".git"),
        "{html}"
    );
    assert!(!get(hidden.addr, "/sub/").body_text().contains(".env"));
    assert_eq!(json_names(hidden.addr, "/"), ["sub", "visible.txt"]);

    let shown = tree.serve(|f| f.show_hidden(true));
    assert_eq!(get(shown.addr, "/.secret").body_text(), "dot");
    assert_eq!(get(shown.addr, "/%2esecret").body_text(), "dot");
    assert_eq!(get(shown.addr, "/.git/config").body_text(), "git");
    assert_eq!(get(shown.addr, "/sub/.env").body_text(), "env");
    assert_eq!(
        json_names(shown.addr, "/"),
        [".git", "sub", ".secret", "visible.txt"]
    );
    assert!(get(shown.addr, "/").body_text().contains(">.secret</a>"));
}

#[test]
fn symlinks_are_followed_inside_the_root_only() {
    let tree = Tree::new("links");
    tree.write("dir/file.txt", "inside");
    tree.symlink(tree.root.join("dir/file.txt"), "in-link");
    tree.symlink("dir/file.txt", "relative-link");
    tree.symlink(tree.root.join("dir"), "dir-link");
    tree.symlink(tree.base.join("outside.txt"), "out-link");
    tree.symlink("../outside.txt", "out-relative");
    tree.symlink(&tree.base, "base-link");

    let jailed = tree.serve(|f| f);
    for target in ["/in-link", "/relative-link", "/dir-link/file.txt"] {
        let reply = get(jailed.addr, target);
        assert_eq!((reply.status, reply.body_text().as_str()), (200, "inside"));
    }
    for target in [
        "/out-link",
        "/out-relative",
        "/base-link/outside.txt",
        "/base-link/",
        "/base-link",
    ] {
        let reply = get(jailed.addr, target);
        assert_eq!(reply.status, 404, "{target}");
        assert!(!reply.body_text().contains(OUTSIDE), "{target}");
    }

    let free = tree.serve(|f| f.follow_symlinks(true));
    for target in ["/out-link", "/out-relative", "/base-link/outside.txt"] {
        let reply = get(free.addr, target);
        assert_eq!((reply.status, reply.body_text().as_str()), (200, OUTSIDE));
    }
    assert_eq!(get(free.addr, "/in-link").body_text(), "inside");
}

#[test]
fn fifos_are_never_opened() {
    let tree = Tree::new("fifo");
    tree.write("data.txt", "identity");
    tree.mkfifo("pipe");
    tree.mkfifo("pipe.txt");
    // A FIFO posing as a precompressed sibling, and one posing as a directory index.
    tree.mkfifo("data.txt.gz");
    tree.mkdir("app");
    tree.mkfifo("app/index.html");
    tree.symlink("pipe", "pipe-link");

    for files in [
        StaticFiles::new(&tree.root).expect("serve the root"),
        StaticFiles::new(&tree.root)
            .expect("serve the root")
            .show_hidden(true)
            .follow_symlinks(true),
    ] {
        // One worker: a request stuck on a FIFO would leave none for the requests after it,
        // which would then time out (every read is bounded by IO_TIMEOUT).
        let server = TestServer::start(|b| b.threads(1), files);
        for target in ["/pipe", "/pipe.txt", "/pipe-link", "/data.txt.gz"] {
            assert_eq!(get(server.addr, target).status, 404, "{target}");
            assert_eq!(
                fetch(server.addr, "HEAD", target, &[]).status,
                404,
                "HEAD {target}"
            );
        }
        let reply = get_with(server.addr, "/data.txt", &[("Accept-Encoding", "gzip")]);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), "identity");
        assert_eq!(reply.header("content-encoding"), None);
        // The index is not a regular file, so the directory is listed instead.
        let app = get(server.addr, "/app/");
        assert_eq!(app.status, 200);
        assert!(app.body_text().contains("index.html"));
        assert_eq!(get(server.addr, "/data.txt").body_text(), "identity");
    }
}

#[test]
fn directories_without_a_slash_redirect_relatively() {
    let tree = Tree::new("slash");
    tree.write("sub/inner/file.txt", "deep");
    tree.write("a dir/file.txt", "spaced");
    let server = tree.serve(|f| f);
    for (target, location) in [
        ("/sub", "./sub/"),
        ("/sub/inner", "./inner/"),
        ("/sub?format=json", "./sub/?format=json"),
        ("/a%20dir", "./a%20dir/"),
    ] {
        let reply = get(server.addr, target);
        assert_eq!(reply.status, 301, "{target}");
        assert_eq!(reply.header("location"), Some(location), "{target}");
        assert_nosniff(&reply, target);
        let path = target.split('?').next().unwrap_or(target);
        let followed = follow(path, location);
        assert!(followed.starts_with(&format!("{path}/")), "{followed}");
        assert_eq!(get(server.addr, &followed).status, 200, "{followed}");
    }
}

#[test]
fn redirects_never_point_to_another_host() {
    let tree = Tree::new("open-redirect");
    tree.write("evil.com/x.txt", "x");
    let server = tree.serve(|f| f);
    let mut redirects = 0;
    for target in [
        "//evil.com",
        "//evil.com/",
        "///evil.com",
        "/.//evil.com",
        "/\\evil.com",
        "/\\\\evil.com",
        "/%2f%2fevil.com",
        "/%2F%2Fevil.com",
        "/%2f%2fevil.com/",
        "/%2f%5cevil.com",
        "/%5cevil.com",
        "/%5c%5cevil.com",
        "/evil.com",
        "//evil.com/.",
        "//evil.com/%2e",
        "/%09/evil.com",
    ] {
        let reply = raw_get(server.addr, target);
        let status = parse_status(&reply);
        match header_in(&reply, "location") {
            Some(location) => {
                assert_eq!(status, 301, "{target}: {reply}");
                assert!(
                    !location.starts_with("//")
                        && !location.starts_with("/\\")
                        && !location.starts_with("\\")
                        && !has_scheme(location),
                    "{target} redirected off the host: Location: {location}"
                );
                // Resolved against the request, it only appends the slash: same host, same path.
                assert_eq!(follow(target, location), format!("{target}/"), "{target}");
                redirects += 1;
            }
            None => assert!(!(300..400).contains(&status), "{target}: {reply}"),
        }
    }
    assert!(redirects >= 5, "only {redirects} of the targets redirected");
}

// 2. Index and listings ----------------------------------------------------------------------

#[test]
fn directories_serve_their_index_html() {
    let tree = Tree::new("index");
    tree.write("index.html", "<h1>root</h1>");
    tree.write("site/index.html", "<p>site</p>");
    tree.write("site/other.txt", "other");
    tree.write("plain/file.txt", "file");
    let server = tree.serve(|f| f);
    for (target, body) in [("/", "<h1>root</h1>"), ("/site/", "<p>site</p>")] {
        let reply = get(server.addr, target);
        assert_eq!(reply.status, 200, "{target}");
        assert_eq!(reply.body_text(), body, "{target}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8")
        );
    }
    let listing = get(server.addr, "/plain/");
    assert_eq!(listing.status, 200);
    assert!(listing.body_text().contains(">file.txt</a>"));
}

/// The name of a file that would be markup if it were not escaped.
const XSS_NAME: &str = "<img src=x onerror=alert(1)>.txt";

/// `root/list`: two directories and six visible files of distinct sizes, all dated
/// [`MTIME`], plus a dotfile.
fn listing_tree(name: &str) -> Tree {
    let tree = Tree::new(name);
    tree.write("list/beta/in-beta.txt", "b");
    tree.mkdir("list/Alpha");
    for (file, size) in [
        ("b.txt", 3),
        ("A.txt", 1),
        ("file10.txt", 10),
        ("file2.txt", 2),
        (XSS_NAME, 5),
        ("big.bin", 2048),
        (".hidden", 7),
    ] {
        tree.write_dated(&format!("list/{file}"), vec![b'x'; size]);
    }
    tree.write("site/index.html", "<p>site</p>");
    tree
}

/// The listing order of [`listing_tree`]: directories first, then natural, case-insensitive.
const LISTED: [(&str, &str, Option<u64>); 8] = [
    ("Alpha", "dir", None),
    ("beta", "dir", None),
    (XSS_NAME, "file", Some(5)),
    ("A.txt", "file", Some(1)),
    ("b.txt", "file", Some(3)),
    ("big.bin", "file", Some(2048)),
    ("file2.txt", "file", Some(2)),
    ("file10.txt", "file", Some(10)),
];

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The names in the JSON listing of `target`.
fn json_names(addr: SocketAddr, target: &str) -> Vec<String> {
    let reply = get_with(addr, target, &[("Accept", "application/json")]);
    assert_eq!(reply.status, 200, "{target}");
    let listing: serde_json::Value =
        serde_json::from_slice(&reply.body).expect("the listing is JSON");
    listing["entries"]
        .as_array()
        .expect("an entries array")
        .iter()
        .map(|e| e["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[test]
fn html_listing_is_sorted_escaped_and_complete() {
    let tree = listing_tree("html-listing");
    let server = tree.serve(|f| f);
    let reply = get(server.addr, "/list/");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = reply.body_text();
    assert!(
        html.contains(r#"<meta name="viewport" content="width=device-width"#),
        "no viewport meta tag: {html}"
    );

    // Sorted: directories first, then natural case-insensitive order.
    let positions: Vec<usize> = LISTED
        .iter()
        .map(|(name, kind, _)| {
            let slash = if *kind == "dir" { "/" } else { "" };
            let needle = format!(">{}{slash}</a>", escape_html(name));
            html.find(&needle)
                .unwrap_or_else(|| panic!("{needle} not in the listing: {html}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "listing out of order: {positions:?}"
    );

    // Escaped, never markup; linked percent-encoded, and the link works.
    assert!(!html.contains("<img"), "unescaped name: {html}");
    let href = "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt";
    assert!(html.contains(&format!("href=\"{href}\"")), "{html}");
    let linked = get(server.addr, &format!("/list/{href}"));
    assert_eq!((linked.status, linked.body.len()), (200, 5));

    // Sizes and dates, row by row.
    let rows: Vec<&str> = html.split("<tr").collect();
    for (name, kind, size) in LISTED {
        let slash = if kind == "dir" { "/" } else { "" };
        let needle = format!(">{}{slash}</a>", escape_html(name));
        let row = rows
            .iter()
            .find(|row| row.contains(&needle))
            .expect("a row per entry");
        match size {
            Some(size) => {
                assert!(row.contains(&format!("title=\"{size} bytes\"")), "{row}");
                assert!(
                    row.contains(&format!("<time datetime=\"{MTIME_RFC3339}\">")),
                    "{row}"
                );
                assert!(row.contains(">2021-03-04 05:06</time>"), "{row}");
            }
            None => assert!(!row.contains(" bytes\""), "a directory with a size: {row}"),
        }
    }
    assert!(html.contains(">2.0 KiB</span>"), "{html}");
    assert!(!html.contains(".hidden"));
    assert!(html.contains(r#"<a href="../">../</a>"#), "no parent row");

    // Breadcrumb: one link per level, from the root.
    let deeper = get(server.addr, "/list/beta/").body_text();
    let nav_start = deeper.find("<nav").expect("a breadcrumb");
    let nav = &deeper[nav_start..nav_start + deeper[nav_start..].find("</nav>").expect("</nav>")];
    for link in [
        r#"<a href="/""#,
        r#"<a href="/list/""#,
        r#"<a href="/list/beta/""#,
    ] {
        assert!(nav.contains(link), "{link} not in {nav}");
    }
    let list_at = nav.find(">list/</a>").expect("list/ in the breadcrumb");
    let beta_at = nav.find(">beta/</a>").expect("beta/ in the breadcrumb");
    assert!(list_at < beta_at, "{nav}");
    assert!(deeper.contains(">in-beta.txt</a>"));
    let root = get(server.addr, "/").body_text();
    assert!(
        !root.contains(r#"<a href="../">"#),
        "a parent row at the root"
    );
}

#[test]
fn json_listing_by_accept_or_by_query() {
    let tree = listing_tree("json-listing");
    let server = tree.serve(|f| f);
    for (target, headers) in [
        ("/list/", &[("Accept", "application/json")][..]),
        ("/list/?format=json", &[][..]),
        ("/list/?format=json", &[("Accept", "text/html")][..]),
    ] {
        let reply = get_with(server.addr, target, headers);
        assert_eq!(reply.status, 200, "{target}");
        let content_type = reply.header("content-type").unwrap_or("");
        assert!(
            content_type.starts_with("application/json"),
            "{target}: {content_type}"
        );
        assert_nosniff(&reply, target);
        let listing: serde_json::Value =
            serde_json::from_slice(&reply.body).expect("the listing is JSON");
        assert_eq!(listing["path"], "/list/");
        let entries = listing["entries"].as_array().expect("an entries array");
        let got: Vec<(&str, &str, Option<u64>)> = entries
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().expect("a name"),
                    e["type"].as_str().expect("a type"),
                    e["size"].as_u64(),
                )
            })
            .collect();
        assert_eq!(got, LISTED, "{target}");
        for entry in entries {
            assert!(
                entry["size"].is_null() == (entry["type"] == "dir"),
                "{entry}"
            );
            if entry["type"] == "file" {
                assert_eq!(entry["modified"], MTIME_RFC3339, "{entry}");
            }
        }
    }
    // HTML stays the default.
    let html = get_with(server.addr, "/list/", &[("Accept", "text/html,*/*;q=0.8")]);
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
}

#[test]
fn listing_off_answers_403() {
    let tree = listing_tree("no-listing");
    let server = tree.serve(|f| f.listing(false));
    for target in ["/", "/list/", "/list/beta/", "/list/?format=json"] {
        let reply = get(server.addr, target);
        assert_eq!(reply.status, 403, "{target}");
        assert!(!reply.body_text().contains("b.txt"), "{target}");
        assert_nosniff(&reply, target);
    }
    let reply = get_with(server.addr, "/list/", &[("Accept", "application/json")]);
    assert_eq!(reply.status, 403);
    // Files and index pages are still served.
    assert_eq!(get(server.addr, "/site/").body_text(), "<p>site</p>");
    assert_eq!(get(server.addr, "/list/b.txt").body_text(), "xxx");
}

// 3. Content types ---------------------------------------------------------------------------

#[test]
fn content_types_charset_and_nosniff() {
    let tree = Tree::new("mime");
    tree.write("page.html", "<p>hi</p>");
    tree.write("style.css", "p{}");
    tree.write("app.js", "let x;");
    tree.write("image.png", b"\x89PNG\r\n\x1a\n");
    tree.write("data.json", "{}");
    tree.write("blob.qqqzz", "?");
    tree.write("no-extension", "?");
    tree.write("notes.txt", "notes");
    tree.mkdir("dir");
    let server = tree.serve(|f| f);
    for (target, expected) in [
        ("/page.html", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/image.png", "image/png"),
        ("/data.json", "application/json; charset=utf-8"),
        ("/blob.qqqzz", "application/octet-stream"),
        ("/no-extension", "application/octet-stream"),
        ("/notes.txt", "text/plain; charset=utf-8"),
    ] {
        let reply = get(server.addr, target);
        assert_eq!(reply.status, 200, "{target}");
        assert_eq!(reply.header("content-type"), Some(expected), "{target}");
        assert_nosniff(&reply, target);
        let head = fetch(server.addr, "HEAD", target, &[]);
        assert_eq!(head.header("content-type"), Some(expected), "HEAD {target}");
        assert_eq!(
            head.header("content-length"),
            Some(reply.body.len().to_string().as_str()),
            "HEAD {target}"
        );
    }
    let js = get(server.addr, "/app.js");
    assert!(
        [
            "text/javascript; charset=utf-8",
            "application/javascript; charset=utf-8"
        ]
        .contains(&js.header("content-type").unwrap_or("")),
        "{:?}",
        js.header("content-type")
    );
    assert_nosniff(&js, "/app.js");

    // nosniff on every response the handler makes, whatever the status.
    let etag = js.header("etag").expect("an ETag").to_owned();
    let checks: Vec<Check<'_>> = vec![
        ("GET", "/", vec![], 200),
        ("GET", "/notes.txt", vec![("Range", "bytes=0-1")], 206),
        ("GET", "/dir", vec![], 301),
        (
            "GET",
            "/app.js",
            vec![("If-None-Match", etag.as_str())],
            304,
        ),
        ("GET", "/a%00", vec![], 400),
        ("GET", "/missing", vec![], 404),
        ("POST", "/notes.txt", vec![("Content-Length", "0")], 405),
        ("GET", "/notes.txt", vec![("If-Match", "\"nope\"")], 412),
        ("GET", "/notes.txt", vec![("Range", "bytes=99-")], 416),
    ];
    for (method, target, headers, status) in checks {
        let reply = fetch(server.addr, method, target, &headers);
        assert_eq!(reply.status, status, "{method} {target}");
        assert_nosniff(&reply, target);
    }
}

// 4. Validators --------------------------------------------------------------------------------

/// Serves `v.txt`, dated [`MTIME`]; returns its tree, server and ETag.
fn validated(name: &str, configure: fn(StaticFiles) -> StaticFiles) -> (Tree, TestServer, String) {
    let tree = Tree::new(name);
    tree.write_dated("v.txt", "validated content\n");
    let server = tree.serve(configure);
    let reply = get(server.addr, "/v.txt");
    assert_eq!(reply.status, 200);
    let etag = reply.header("etag").expect("an ETag").to_owned();
    (tree, server, etag)
}

fn http_date(offset_secs: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(MTIME.saturating_add_signed(offset_secs));
    httpdate::fmt_http_date(time)
}

#[test]
fn validators_are_a_strong_etag_and_last_modified() {
    let (_tree, server, etag) = validated("validators", |f| f);
    assert!(
        etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
        "not a strong entity-tag: {etag}"
    );
    let reply = get(server.addr, "/v.txt");
    assert_eq!(reply.header("etag"), Some(etag.as_str()), "unstable ETag");
    assert_eq!(reply.header("last-modified"), Some(MTIME_HTTP));
    assert_eq!(reply.header("accept-ranges"), Some("bytes"));
    let head = fetch(server.addr, "HEAD", "/v.txt", &[]);
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    assert_eq!(head.header("last-modified"), Some(MTIME_HTTP));
}

#[test]
fn conditional_gets_answer_304_without_a_body() {
    let (_tree, server, etag) = validated("not-modified", |f| f);
    let weak = format!("W/{etag}");
    let listed = format!("\"other\", {etag}");
    let later = http_date(3600);
    for headers in [
        [("If-None-Match", etag.as_str())],
        [("If-None-Match", "*")],
        [("If-None-Match", listed.as_str())],
        [("If-None-Match", weak.as_str())],
        [("If-Modified-Since", MTIME_HTTP)],
        [("If-Modified-Since", later.as_str())],
    ] {
        for method in ["GET", "HEAD"] {
            // `fetch` checks that nothing follows the head.
            let reply = fetch(server.addr, method, "/v.txt", &headers);
            assert_eq!(reply.status, 304, "{method} {headers:?}");
            assert_eq!(reply.header("etag"), Some(etag.as_str()));
            assert_eq!(reply.header("cache-control"), Some("no-cache"));
        }
    }
    let earlier = http_date(-3600);
    for headers in [
        [("If-None-Match", "\"other\"")],
        [("If-Modified-Since", earlier.as_str())],
    ] {
        let reply = get_with(server.addr, "/v.txt", &headers);
        assert_eq!(reply.status, 200, "{headers:?}");
        assert_eq!(reply.body_text(), "validated content\n");
    }
}

#[test]
fn if_none_match_takes_precedence_over_if_modified_since() {
    // RFC 9110 13.2.2: If-Modified-Since is evaluated only without If-None-Match.
    let (_tree, server, _etag) = validated("precedence", |f| f);
    let later = http_date(3600);
    for since in [MTIME_HTTP, later.as_str()] {
        let reply = get_with(
            server.addr,
            "/v.txt",
            &[("If-None-Match", "\"stale\""), ("If-Modified-Since", since)],
        );
        assert_eq!(reply.status, 200, "{since}");
        assert_eq!(reply.body_text(), "validated content\n");
    }
}

#[test]
fn failed_preconditions_answer_412() {
    let (_tree, server, etag) = validated("precondition", |f| f);
    let earlier = http_date(-86_400);
    for headers in [
        [("If-Match", "\"other\"")],
        [("If-Match", "W/\"other\"")],
        [("If-Unmodified-Since", earlier.as_str())],
    ] {
        let reply = get_with(server.addr, "/v.txt", &headers);
        assert_eq!(reply.status, 412, "{headers:?}");
        assert!(!reply.body_text().contains("validated content"));
    }
    // A failed If-Match wins over a Range.
    let reply = get_with(
        server.addr,
        "/v.txt",
        &[("If-Match", "\"other\""), ("Range", "bytes=0-1")],
    );
    assert_eq!(reply.status, 412);
    let later = http_date(3600);
    for headers in [
        [("If-Match", etag.as_str())],
        [("If-Match", "*")],
        [("If-Unmodified-Since", MTIME_HTTP)],
        [("If-Unmodified-Since", later.as_str())],
    ] {
        let reply = get_with(server.addr, "/v.txt", &headers);
        assert_eq!(reply.status, 200, "{headers:?}");
    }
}

#[test]
fn cache_control_is_no_cache_unless_configured() {
    let (tree, default, etag) = validated("cache-control", |f| f);
    tree.mkdir("dir");
    for (target, headers) in [
        ("/v.txt", vec![]),
        ("/v.txt", vec![("If-None-Match", etag.as_str())]),
        ("/v.txt", vec![("Range", "bytes=0-3")]),
        ("/", vec![]),
    ] {
        let reply = get_with(default.addr, target, &headers);
        assert_eq!(
            all_headers(&reply, "cache-control"),
            ["no-cache"],
            "{target} {headers:?}"
        );
    }
    let configured = tree.serve(|f| f.cache_control("public, max-age=3600"));
    for (target, headers) in [
        ("/v.txt", vec![]),
        ("/v.txt", vec![("If-None-Match", etag.as_str())]),
        ("/v.txt", vec![("Range", "bytes=0-3")]),
        ("/", vec![]),
        ("/", vec![("Accept", "application/json")]),
    ] {
        let reply = get_with(configured.addr, target, &headers);
        assert_eq!(
            all_headers(&reply, "cache-control"),
            ["public, max-age=3600"],
            "{target} {headers:?}"
        );
    }
}

// 5. Ranges ------------------------------------------------------------------------------------

const RANGED: &str = "0123456789abcdefghij";

#[test]
fn single_ranges_answer_206() {
    let tree = Tree::new("range");
    tree.write("r.txt", RANGED);
    let server = tree.serve(|f| f);
    for (range, content_range, body) in [
        ("bytes=0-4", "bytes 0-4/20", "01234"),
        ("bytes=-5", "bytes 15-19/20", "fghij"),
        ("bytes=5-", "bytes 5-19/20", "56789abcdefghij"),
        ("bytes=18-100", "bytes 18-19/20", "ij"),
        ("bytes=19-19", "bytes 19-19/20", "j"),
    ] {
        let reply = get_with(server.addr, "/r.txt", &[("Range", range)]);
        assert_eq!(reply.status, 206, "{range}");
        assert_eq!(
            reply.header("content-range"),
            Some(content_range),
            "{range}"
        );
        assert_eq!(reply.body_text(), body, "{range}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        let head = fetch(server.addr, "HEAD", "/r.txt", &[("Range", range)]);
        assert_eq!(head.status, 206, "HEAD {range}");
        assert_eq!(
            head.header("content-length"),
            Some(body.len().to_string().as_str())
        );
    }
}

/// The boundary parameter of a `multipart/byteranges` Content-Type.
fn boundary_of(content_type: &str) -> String {
    let mut params = content_type.split(';');
    assert_eq!(
        params.next().map(str::trim),
        Some("multipart/byteranges"),
        "{content_type}"
    );
    params
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("no boundary in {content_type}"))
}

/// One part of a multipart body: its Content-Type, its Content-Range and its bytes.
type Part = (String, String, Vec<u8>);

/// Parses a `multipart/byteranges` body strictly, using each part's Content-Range for its
/// length.
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let mut rest = body.strip_prefix(b"\r\n").unwrap_or(body);
    let mut parts = Vec::new();
    loop {
        rest = rest
            .strip_prefix(delimiter.as_bytes())
            .unwrap_or_else(|| panic!("no delimiter at {:?}", String::from_utf8_lossy(rest)));
        if let Some(after) = rest.strip_prefix(b"--") {
            assert!(after.is_empty() || after == b"\r\n", "epilogue {after:?}");
            return parts;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after a delimiter");
        let head_end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("the end of a part's head");
        let head = String::from_utf8(rest[..head_end].to_vec()).expect("a UTF-8 part head");
        rest = &rest[head_end + 4..];
        let field = |name: &str| {
            head.split("\r\n")
                .find_map(|line| {
                    let (n, v) = line.split_once(':')?;
                    n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
                .unwrap_or_else(|| panic!("no {name} in the part head {head:?}"))
        };
        let content_range = field("content-range");
        let (first, last) = content_range
            .strip_prefix("bytes ")
            .and_then(|r| r.split_once('/'))
            .and_then(|(r, _)| r.split_once('-'))
            .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
            .unwrap_or_else(|| panic!("bad Content-Range {content_range}"));
        let len = last - first + 1;
        let content = rest[..len].to_vec();
        rest = rest[len..]
            .strip_prefix(b"\r\n")
            .expect("CRLF before the next delimiter");
        parts.push((field("content-type"), content_range, content));
    }
}

#[test]
fn multiple_ranges_answer_multipart_byteranges() {
    let tree = Tree::new("multipart");
    tree.write("r.txt", RANGED);
    let binary = pattern(300_000);
    tree.write("r.bin", &binary);
    let server = tree.serve(|f| f);

    let reply = get_with(server.addr, "/r.txt", &[("Range", "bytes=0-2,5-7,-3")]);
    assert_eq!(reply.status, 206);
    assert_eq!(reply.header("content-range"), None);
    let boundary = boundary_of(reply.header("content-type").expect("a Content-Type"));
    let parts = parse_multipart(&reply.body, &boundary);
    let expected: Vec<Part> = [
        ("bytes 0-2/20", "012"),
        ("bytes 5-7/20", "567"),
        ("bytes 17-19/20", "hij"),
    ]
    .into_iter()
    .map(|(range, body)| {
        (
            "text/plain; charset=utf-8".to_owned(),
            range.to_owned(),
            body.as_bytes().to_vec(),
        )
    })
    .collect();
    assert_eq!(parts, expected);

    // Binary content, parts far apart.
    let reply = get_with(
        server.addr,
        "/r.bin",
        &[("Range", "bytes=100-199, 250000-250099, 299990-")],
    );
    assert_eq!(reply.status, 206);
    let boundary = boundary_of(reply.header("content-type").expect("a Content-Type"));
    let parts = parse_multipart(&reply.body, &boundary);
    assert_eq!(parts.len(), 3);
    for ((_, range, bytes), (first, last)) in
        parts
            .iter()
            .zip([(100, 199), (250_000, 250_099), (299_990, 299_999)])
    {
        assert_eq!(range, &format!("bytes {first}-{last}/300000"));
        assert_eq!(bytes[..], binary[first..=last], "{range}");
    }
}

#[test]
fn unsatisfiable_ranges_answer_416() {
    let tree = Tree::new("unsatisfiable");
    tree.write("r.txt", RANGED);
    let server = tree.serve(|f| f);
    for range in [
        "bytes=20-30",
        "bytes=100-",
        "bytes=20-",
        "bytes=-0",
        "bytes=50-60,70-",
    ] {
        let reply = get_with(server.addr, "/r.txt", &[("Range", range)]);
        assert_eq!(reply.status, 416, "{range}");
        assert_eq!(reply.header("content-range"), Some("bytes */20"), "{range}");
        assert!(!reply.body_text().contains(RANGED));
    }
}

#[test]
fn if_range_applies_the_range_only_to_the_current_representation() {
    let tree = Tree::new("if-range");
    let path = tree.write("r.txt", RANGED);
    // The file changes between requests and must be seen at once: no cache.
    let server = tree.serve(|f| f.recheck_files_after(Duration::ZERO));
    let old = get(server.addr, "/r.txt");
    let old_etag = old.header("etag").expect("an ETag").to_owned();

    let reply = get_with(
        server.addr,
        "/r.txt",
        &[("Range", "bytes=0-4"), ("If-Range", &old_etag)],
    );
    assert_eq!((reply.status, reply.body_text().as_str()), (206, "01234"));

    // The file changes (another length, so another ETag): the old tag gets the whole new file.
    let new_content = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    fs::write(&path, new_content).expect("rewrite the file");
    let reply = get_with(
        server.addr,
        "/r.txt",
        &[("Range", "bytes=0-4"), ("If-Range", &old_etag)],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), new_content);
    assert_eq!(reply.header("content-range"), None);
    let new_etag = reply.header("etag").expect("an ETag").to_owned();
    assert_ne!(new_etag, old_etag);

    let reply = get_with(
        server.addr,
        "/r.txt",
        &[("Range", "bytes=0-4"), ("If-Range", &new_etag)],
    );
    assert_eq!((reply.status, reply.body_text().as_str()), (206, "ABCDE"));
    // A weak tag never satisfies If-Range.
    let weak = format!("W/{new_etag}");
    let reply = get_with(
        server.addr,
        "/r.txt",
        &[("Range", "bytes=0-4"), ("If-Range", &weak)],
    );
    assert_eq!((reply.status, reply.body.len()), (200, new_content.len()));
}

// 6. Precompressed siblings --------------------------------------------------------------------

const IDENTITY: &[u8] = b"identity text, served as is\n";
const BROTLI: &[u8] = b"\x1b\x1a\x00\xf8 pretend brotli bytes \x00\xff";
const GZIP: &[u8] = b"\x1f\x8b\x08\x00 pretend gzip bytes \x00\xfe";

fn precompressed_tree(name: &str) -> Tree {
    let tree = Tree::new(name);
    tree.write("file.txt", IDENTITY);
    tree.write("file.txt.br", BROTLI);
    tree.write("file.txt.gz", GZIP);
    tree
}

#[test]
fn precompressed_siblings_are_negotiated() {
    let tree = precompressed_tree("precompressed");
    let server = tree.serve(|f| f);
    // A list split over several fields counts as one.
    let split = get_with(
        server.addr,
        "/file.txt",
        &[("Accept-Encoding", "identity"), ("Accept-Encoding", "gzip")],
    );
    assert_eq!(split.header("content-encoding"), Some("gzip"));
    assert_eq!(split.body, GZIP);
    let mut etags = Vec::new();
    for (accept, coding, body) in [
        (Some("br"), Some("br"), BROTLI),
        (Some("gzip"), Some("gzip"), GZIP),
        (Some("gzip, deflate, br"), Some("br"), BROTLI),
        (Some("br;q=0, gzip"), Some("gzip"), GZIP),
        (Some("x-gzip"), Some("gzip"), GZIP),
        (None, None, IDENTITY),
        (Some("identity"), None, IDENTITY),
        (Some("deflate"), None, IDENTITY),
        (Some("br;q=0, gzip;q=0"), None, IDENTITY),
    ] {
        let headers: Vec<(&str, &str)> =
            accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
        let reply = get_with(server.addr, "/file.txt", &headers);
        assert_eq!(reply.status, 200, "{accept:?}");
        assert_eq!(reply.body, body, "{accept:?}");
        assert_eq!(reply.header("content-encoding"), coding, "{accept:?}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{accept:?}"
        );
        assert!(varies_on(&reply, "accept-encoding"), "{accept:?}: no Vary");
        let etag = reply.header("etag").expect("an ETag").to_owned();
        if !etags.contains(&etag) {
            etags.push(etag);
        }
    }
    assert_eq!(etags.len(), 3, "one ETag per encoding: {etags:?}");

    // A validator matches its own encoding only.
    let br_etag = get_with(server.addr, "/file.txt", &[("Accept-Encoding", "br")])
        .header("etag")
        .expect("an ETag")
        .to_owned();
    let reply = get_with(
        server.addr,
        "/file.txt",
        &[("Accept-Encoding", "br"), ("If-None-Match", &br_etag)],
    );
    assert_eq!(reply.status, 304);
    assert!(varies_on(&reply, "accept-encoding"));
    let reply = get_with(server.addr, "/file.txt", &[("If-None-Match", &br_etag)]);
    assert_eq!((reply.status, reply.body.as_slice()), (200, IDENTITY));
}

#[test]
fn ranges_apply_to_the_encoded_representation() {
    let tree = precompressed_tree("precompressed-range");
    let server = tree.serve(|f| f);
    for (coding, encoded, range, first, last) in [
        ("br", BROTLI, "bytes=0-3", 0, 3),
        ("gzip", GZIP, "bytes=-4", GZIP.len() - 4, GZIP.len() - 1),
        ("br", BROTLI, "bytes=5-", 5, BROTLI.len() - 1),
    ] {
        let reply = get_with(
            server.addr,
            "/file.txt",
            &[("Accept-Encoding", coding), ("Range", range)],
        );
        assert_eq!(reply.status, 206, "{coding} {range}");
        assert_eq!(reply.header("content-encoding"), Some(coding));
        assert_eq!(
            reply.header("content-range"),
            Some(format!("bytes {first}-{last}/{}", encoded.len()).as_str())
        );
        assert_eq!(reply.body, encoded[first..=last], "{coding} {range}");
    }
}

#[test]
fn precompressed_siblings_obey_the_jail() {
    let tree = Tree::new("precompressed-jail");
    tree.write("page.txt", "page");
    tree.symlink(tree.base.join("outside.txt"), "page.txt.gz");
    tree.write("other.txt", "other");
    tree.mkdir("other.txt.br");
    let server = tree.serve(|f| f);
    for (target, body) in [("/page.txt", "page"), ("/other.txt", "other")] {
        let reply = get_with(server.addr, target, &[("Accept-Encoding", "br, gzip")]);
        assert_eq!(
            (reply.status, reply.body_text().as_str()),
            (200, body),
            "{target}"
        );
        assert_eq!(reply.header("content-encoding"), None, "{target}");
    }
}

// 7. SPA, 404 page, CORS, extra headers --------------------------------------------------------

const INDEX: &str = "<!doctype html><div id=app></div>";

#[test]
fn spa_serves_the_index_to_html_navigations_only() {
    let tree = Tree::new("spa");
    tree.write("index.html", INDEX);
    tree.write("app.js", "start();");
    let server = tree.serve(|f| f.spa(true));
    let html = "text/html,application/xhtml+xml,*/*;q=0.8";
    for target in ["/route", "/deep/client/route", "/missing.html"] {
        let reply = get_with(server.addr, target, &[("Accept", html)]);
        assert_eq!(reply.status, 200, "{target}");
        assert_eq!(reply.body_text(), INDEX, "{target}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let json = get_with(server.addr, target, &[("Accept", "application/json")]);
        assert_eq!(json.status, 404, "{target} as JSON");
        assert_ne!(json.body_text(), INDEX);
        assert_eq!(
            get(server.addr, target).status,
            404,
            "{target} without Accept"
        );
        let refused = get_with(server.addr, target, &[("Accept", "text/html;q=0, */*;q=0")]);
        assert_eq!(refused.status, 404, "{target} refusing HTML with q=0");
    }
    // Real files are still themselves.
    let reply = get_with(server.addr, "/app.js", &[("Accept", html)]);
    assert_eq!(reply.body_text(), "start();");
    // Without spa, a navigation to a missing path is a 404.
    let plain = tree.serve(|f| f);
    assert_eq!(
        get_with(plain.addr, "/route", &[("Accept", html)]).status,
        404
    );
}

#[test]
fn not_found_page_is_sent_with_status_404() {
    let tree = Tree::new("not-found-page");
    let page = tree.base.join("404.html");
    let body = "<h1>Nothing here</h1>";
    fs::write(&page, body).expect("write the 404 page");
    tree.write("real.txt", "real");
    let server = tree.serve(|f| f.not_found_page(&page).expect("a readable 404 page"));
    for target in [
        "/missing",
        "/deep/missing.txt",
        "/.hidden",
        "/../outside.txt",
    ] {
        let reply = get(server.addr, target);
        assert_eq!(reply.status, 404, "{target}");
        assert_eq!(reply.body_text(), body, "{target}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_nosniff(&reply, target);
        let head = fetch(server.addr, "HEAD", target, &[]);
        assert_eq!(head.status, 404);
    }
    assert_eq!(get(server.addr, "/real.txt").body_text(), "real");

    let files = StaticFiles::new(&tree.root).expect("serve the root");
    assert!(
        files
            .clone()
            .not_found_page(tree.base.join("no-such.html"))
            .is_err()
    );
    assert!(files.not_found_page(&tree.root).is_err(), "a directory");
}

#[test]
fn cors_allows_any_origin_and_answers_preflight() {
    let tree = Tree::new("cors");
    tree.write("data.json", "{}");
    let server = tree.serve(|f| f.cors(true));
    let origin = ("Origin", "https://other.example");
    for target in ["/data.json", "/missing", "/"] {
        let reply = get_with(server.addr, target, &[origin]);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("*"),
            "{target}"
        );
    }
    let preflight = fetch(
        server.addr,
        "OPTIONS",
        "/data.json",
        &[
            origin,
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-custom"),
        ],
    );
    assert_eq!(preflight.status, 204);
    assert!(preflight.body.is_empty());
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    let methods = preflight
        .header("access-control-allow-methods")
        .expect("Access-Control-Allow-Methods");
    assert!(methods.split(',').any(|m| m.trim() == "GET"), "{methods}");
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or("");
    assert!(
        allowed.eq_ignore_ascii_case("x-custom") || allowed == "*",
        "{allowed}"
    );

    // Off by default: no CORS header; OPTIONS says what is allowed, and nothing about CORS.
    let plain = tree.serve(|f| f);
    let reply = get_with(plain.addr, "/data.json", &[origin]);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let preflight = fetch(
        plain.addr,
        "OPTIONS",
        "/data.json",
        &[origin, ("Access-Control-Request-Method", "GET")],
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(preflight.header("access-control-allow-origin"), None);
    assert_eq!(preflight.header("access-control-allow-methods"), None);
}

#[test]
fn r9_options_asterisk_says_what_is_allowed() {
    let tree = Tree::new("options-star");
    for cors in [false, true] {
        let server = tree.serve(|f| f.cors(cors));
        let reply = raw(
            server.addr,
            b"OPTIONS * HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(parse_status(&reply), 204, "{reply}");
        assert_eq!(header_in(&reply, "allow"), Some("GET, HEAD, OPTIONS"));
        assert_eq!(
            header_in(&reply, "access-control-allow-origin"),
            cors.then_some("*"),
            "{reply}"
        );
    }
}

#[test]
fn extra_headers_appear_on_every_response() {
    let tree = Tree::new("extra-headers");
    tree.write("f.txt", "0123456789");
    tree.mkdir("dir");
    let server = tree.serve(|f| {
        f.header("X-Frame-Options", "DENY")
            .header("Cache-Control", "private")
    });
    let etag = get(server.addr, "/f.txt")
        .header("etag")
        .expect("an ETag")
        .to_owned();
    let checks: Vec<Check<'_>> = vec![
        ("GET", "/f.txt", vec![], 200),
        ("HEAD", "/f.txt", vec![], 200),
        ("GET", "/f.txt", vec![("Range", "bytes=1-2")], 206),
        ("GET", "/f.txt", vec![("If-None-Match", etag.as_str())], 304),
        ("GET", "/", vec![], 200),
        ("GET", "/dir", vec![], 301),
        ("GET", "/missing", vec![], 404),
        ("GET", "/a%5cb", vec![], 400),
        ("DELETE", "/f.txt", vec![], 405),
        ("GET", "/f.txt", vec![("Range", "bytes=50-")], 416),
    ];
    for (method, target, headers, status) in checks {
        let reply = fetch(server.addr, method, target, &headers);
        assert_eq!(reply.status, status, "{method} {target} {headers:?}");
        assert_eq!(
            all_headers(&reply, "x-frame-options"),
            ["DENY"],
            "{method} {target} {headers:?}"
        );
    }
    // A configured header replaces the built-in one of the same name.
    let reply = get(server.addr, "/f.txt");
    assert_eq!(all_headers(&reply, "cache-control"), ["private"]);
}

// 8. Large and shrinking files -----------------------------------------------------------------

#[test]
fn a_large_file_arrives_complete_and_exact() {
    let tree = Tree::new("large");
    let len = 32 << 20;
    let content = pattern(len);
    tree.write("large.bin", &content);
    let server = tree.serve(|f| f);
    let reply = get(server.addr, "/large.bin");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-length"),
        Some(len.to_string().as_str())
    );
    assert_eq!(reply.body.len(), len);
    assert_eq!(
        first_difference(&reply.body, &content),
        None,
        "the body differs from the file"
    );
    // And a large range from the middle, from the same zero-copy path.
    let reply = get_with(
        server.addr,
        "/large.bin",
        &[("Range", "bytes=12345-20000000")],
    );
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body[..], content[12_345..=20_000_000]);
}

/// Size of the file that shrinks, and what it shrinks to.
const SHRINK_FROM: usize = 64 << 20;
const SHRINK_TO: usize = 1 << 20;

/// Requests a [`SHRINK_FROM`]-byte file on a keep-alive connection (so that closing early is
/// the server's own decision), reads only the head, truncates the file to [`SHRINK_TO`]
/// bytes, then reads until the server closes or [`SHRINK_DEADLINE`] passes. Returns the
/// original content, the body bytes received and how the connection ended; checks that the
/// server still serves the file afterwards.
fn shrink_mid_response(name: &str) -> (Vec<u8>, Vec<u8>, End) {
    let tree = Tree::new(name);
    let content = pattern(SHRINK_FROM);
    let path = tree.write("shrinking.bin", &content);
    let server = tree.serve(|f| f);

    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET /shrinking.bin HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send the request");
    let head = read_head_response(&mut stream);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(SHRINK_FROM.to_string().as_str())
    );
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(SHRINK_TO as u64))
        .expect("truncate the file");
    let (body, end) = read_until_closed(&mut stream, SHRINK_DEADLINE);
    drop(stream);

    let after = get_with(server.addr, "/shrinking.bin", &[("Range", "bytes=0-9")]);
    assert_eq!(after.status, 206, "the server is not fine afterwards");
    assert_eq!(after.body, content[..10]);
    (content, body, end)
}

#[test]
fn a_file_that_shrinks_mid_response_ends_the_connection_early() {
    let (content, body, end) = shrink_mid_response("shrink-close");
    assert_ne!(
        end,
        End::TimedOut,
        "the connection hung after {} body bytes",
        body.len()
    );
    assert_eq!(
        end,
        End::Eof,
        "not a clean close after {} bytes",
        body.len()
    );
    assert!(
        body.len() < SHRINK_FROM,
        "all {SHRINK_FROM} bytes arrived although the file shrank"
    );
    assert!(
        body.len() >= SHRINK_TO,
        "only {} bytes arrived, the file still has {SHRINK_TO}",
        body.len()
    );
    // What the file still holds arrives exact.
    assert_eq!(
        first_difference(&body[..SHRINK_TO], &content),
        None,
        "the body differs from what the file still holds"
    );
}

#[test]
fn r8_a_cached_file_is_served_without_touching_the_disk_until_rechecked() {
    let tree = Tree::new("cache-hit");
    let path = tree.write("c.txt", "cached");
    let server = tree.serve(|f| f.recheck_files_after(Duration::from_secs(3600)));
    assert_eq!(get(server.addr, "/c.txt").body_text(), "cached");
    // Gone from the disk, still served from the cache until the next check (an hour away).
    fs::remove_file(&path).expect("remove the file");
    let reply = get(server.addr, "/c.txt");
    assert_eq!((reply.status, reply.body_text().as_str()), (200, "cached"));
    // Other paths are resolved as usual.
    assert_eq!(get(server.addr, "/other.txt").status, 404);
}

#[test]
fn r8_a_changed_file_is_served_fresh_once_the_recheck_interval_passed() {
    let tree = Tree::new("cache-recheck");
    let path = tree.write("c.txt", "one");
    let server = tree.serve(|f| f.recheck_files_after(Duration::from_millis(50)));
    assert_eq!(get(server.addr, "/c.txt").body_text(), "one");
    fs::write(&path, "second").expect("rewrite the file");
    // Until the check, the old content (whole, with its own length); then the new one.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = get(server.addr, "/c.txt");
        assert_eq!(reply.status, 200);
        match reply.body_text().as_str() {
            "second" => break,
            "one" => assert!(Instant::now() < deadline, "the change was never seen"),
            other => panic!("neither the old nor the new content: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // A file that disappears is a 404 after the check too.
    fs::remove_file(&path).expect("remove the file");
    wait_until(Duration::from_secs(10), "the removal to be seen", || {
        get(server.addr, "/c.txt").status == 404
    });
}

#[test]
fn r8_without_the_cache_changes_are_seen_at_once() {
    let tree = Tree::new("cache-off");
    let path = tree.write("c.txt", "one");
    let server = tree.serve(|f| f.recheck_files_after(Duration::ZERO));
    assert_eq!(get(server.addr, "/c.txt").body_text(), "one");
    fs::write(&path, "two").expect("rewrite the file");
    assert_eq!(get(server.addr, "/c.txt").body_text(), "two");
}

#[test]
fn r9_listings_have_validators_and_redirects_a_cache_policy() {
    let tree = Tree::new("listing-validators");
    tree.write("dir/a.txt", "a");
    let server = tree.serve(|f| f);
    let first = get(server.addr, "/dir/");
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("a listing ETag").to_owned();
    assert!(first.header("last-modified").is_some(), "{first:?}");
    // Revalidation: unchanged -> 304; a new file -> a new tag.
    let again = get_with(server.addr, "/dir/", &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    tree.write("dir/b.txt", "b");
    let changed = get_with(server.addr, "/dir/", &[("If-None-Match", &etag)]);
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    // The JSON listing is another representation: its own tag.
    let json = get_with(server.addr, "/dir/?format=json", &[]);
    assert_ne!(json.header("etag"), changed.header("etag"));
    // The redirect to the slash says how long it may be cached.
    let redirect = get(server.addr, "/dir");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("cache-control"), Some("no-cache"));
}

#[test]
fn r9_a_file_without_siblings_does_not_vary() {
    let tree = Tree::new("no-vary");
    tree.write("plain.txt", "plain");
    tree.write("zipped.txt", "zipped");
    tree.write("zipped.txt.gz", "gz");
    let server = tree.serve(|f| f);
    let plain = get_with(server.addr, "/plain.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(plain.header("vary"), None, "{plain:?}");
    let zipped = get_with(
        server.addr,
        "/zipped.txt",
        &[("Accept-Encoding", "identity")],
    );
    assert_eq!(zipped.header("vary"), Some("Accept-Encoding"), "{zipped:?}");
}

#[test]
fn r9_sixteen_whole_file_ranges_send_the_file_once() {
    let tree = Tree::new("range-flood");
    let content = pattern(1 << 20);
    tree.write("big.bin", &content);
    let server = tree.serve(|f| f);
    let ranges = format!("bytes={}", vec!["0-"; 16].join(","));
    let reply = get_with(server.addr, "/big.bin", &[("Range", &ranges)]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), content.len());
    // A real multipart answer still works, streamed from the file.
    let reply = get_with(
        server.addr,
        "/big.bin",
        &[("Range", "bytes=0-9,500000-500009")],
    );
    assert_eq!(reply.status, 206);
    let body = reply.body_text();
    assert!(body.contains("Content-Range: bytes 0-9/1048576"), "{body}");
    assert!(
        body.contains("Content-Range: bytes 500000-500009/1048576"),
        "{body}"
    );
    assert_eq!(
        reply
            .header("content-length")
            .map(|l| l.parse::<usize>().ok()),
        Some(Some(reply.body.len()))
    );
}

#[test]
fn r9_wrong_answers_fixed() {
    let tree = Tree::new("wrong-answers");
    tree.write("a.txt", "a");
    let server = tree.serve(|f| f);
    // A trailing slash or dot names a directory, never a file.
    assert_eq!(get(server.addr, "/a.txt/").status, 404);
    assert_eq!(get(server.addr, "/a.txt/.").status, 404);
    assert_eq!(get(server.addr, "/a.txt").status, 200);
    // Undecodable percent-encodings and impossible ports are bad requests.
    for target in ["/%zz", "/%", "/a%2"] {
        assert_eq!(parse_status(&raw_get(server.addr, target)), 400, "{target}");
    }
    let reply = raw(
        server.addr,
        b"GET /a.txt HTTP/1.1\r\nHost: a:99999\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(parse_status(&reply), 400, "{reply}");
}
