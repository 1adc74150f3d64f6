//! Tests of the directory listing.
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::http::Method;

/// 2026-11-27T16:42:05Z.
const NOV_27: u64 = 1_795_797_725;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn file(name: &str, size: u64) -> Entry {
    Entry {
        name: name.to_owned(),
        kind: EntryKind::File,
        size: Some(size),
        modified: Some(at(NOV_27)),
    }
}

fn dir(name: &str) -> Entry {
    Entry {
        name: name.to_owned(),
        kind: EntryKind::Dir,
        size: None,
        modified: Some(at(NOV_27)),
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, AtomicOrdering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("lido-listing-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The `href` values of the table body, in order.
fn body_hrefs(page: &str) -> Vec<&str> {
    let body = &page[page.find("<tbody>").unwrap()..];
    body.split("href=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect()
}

/// The `<nav>` breadcrumb: (href, text) pairs.
fn breadcrumb(page: &str) -> Vec<(&str, &str)> {
    let start = page.find("<nav").unwrap();
    let nav = &page[start..start + page[start..].find("</nav>").unwrap()];
    nav.split("<a href=\"")
        .skip(1)
        .map(|rest| {
            let href = &rest[..rest.find('"').unwrap()];
            let text = &rest[rest.find('>').unwrap() + 1..rest.find("</a>").unwrap()];
            (href, text)
        })
        .collect()
}

/// Undoes `push_escaped` (not the U+FFFD replacement).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The link text of the first table-body row linking to `href`.
fn link_text<'a>(page: &'a str, href: &str) -> &'a str {
    let body = &page[page.find("<tbody>").unwrap()..];
    let at = body.find(&format!("href=\"{href}\"")).unwrap();
    let rest = &body[at..];
    &rest[rest.find('>').unwrap() + 1..rest.find("</a>").unwrap()]
}

const HOSTILE: [&str; 10] = [
    "<script>alert(1)</script>",
    "a\"b",
    "it's",
    "fish & chips",
    "100%",
    "#hash",
    "what?.txt",
    "two  spaces ",
    "caf\u{e9} \u{1F600} \u{65E5}\u{672C}",
    "<b>bold</b>.txt",
];

#[test]
fn hostile_names_are_escaped_in_text_and_encoded_in_hrefs() {
    let entries: Vec<Entry> = HOSTILE.iter().map(|name| file(name, 1)).collect();
    let page = html("/", &entries);
    assert!(!page.contains("<script>"));
    assert!(!page.contains("<b>"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("a&quot;b"));
    assert!(page.contains("it&#39;s"));
    assert!(page.contains("fish &amp; chips"));
    let hrefs = body_hrefs(&page);
    assert_eq!(hrefs.len(), HOSTILE.len());
    for (href, name) in hrefs.iter().zip(HOSTILE) {
        assert!(
            href.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "{href}"
        );
        assert_eq!(percent_decode_str(href).decode_utf8().unwrap(), name);
        assert_eq!(unescape(link_text(&page, href)), name);
    }
    assert!(hrefs.contains(&"%3Cscript%3Ealert%281%29%3C%2Fscript%3E"));
    assert!(hrefs.contains(&"100%25"));
    assert!(hrefs.contains(&"%23hash"));
    assert!(hrefs.contains(&"what%3F.txt"));
    assert!(hrefs.contains(&"two%20%20spaces%20"));
    assert!(hrefs.contains(&"caf%C3%A9%20%F0%9F%98%80%20%E6%97%A5%E6%9C%AC"));
}

#[test]
fn directories_link_with_a_trailing_slash() {
    let page = html("/", &[dir("sub dir"), file("f", 0)]);
    assert_eq!(body_hrefs(&page), ["sub%20dir/", "f"]);
    assert_eq!(link_text(&page, "sub%20dir/"), "sub dir/");
}

#[test]
fn control_characters_show_as_replacement_but_link_exactly() {
    let page = html("/", &[file("a\nb\u{7}", 1)]);
    assert_eq!(body_hrefs(&page), ["a%0Ab%07"]);
    assert_eq!(link_text(&page, "a%0Ab%07"), "a\u{FFFD}b\u{FFFD}");
}

#[test]
fn breadcrumb_title_and_parent_link() {
    let page = html("/", &[]);
    assert!(page.contains("<title>Index of /</title>"));
    assert_eq!(breadcrumb(&page), [("/", "/")]);
    assert!(!page.contains("href=\"../\""));
    assert!(page.contains("Empty directory"));

    let page = html("/a/", &[]);
    assert!(page.contains("<title>Index of /a/</title>"));
    assert_eq!(breadcrumb(&page), [("/", "/"), ("/a/", "a/")]);
    assert_eq!(body_hrefs(&page), ["../"]);

    let page = html("/a%20b/c/", &[]);
    assert!(page.contains("<title>Index of /a b/c/</title>"));
    assert_eq!(
        breadcrumb(&page),
        [("/", "/"), ("/a%20b/", "a b/"), ("/a%20b/c/", "c/")]
    );
    assert!(page.contains("<a href=\"/a%20b/c/\" aria-current=\"page\">c/</a>"));
    assert_eq!(body_hrefs(&page), ["../"]);
}

#[test]
fn breadcrumb_of_a_hostile_path_is_escaped_and_canonically_encoded() {
    let page = html("/%3Cscript%3E/it's%20%26/./x%2Fy//", &[]);
    assert!(!page.contains("<script>"));
    assert!(page.contains("<title>Index of /&lt;script&gt;/it&#39;s &amp;/x/y/</title>"));
    assert_eq!(
        breadcrumb(&page),
        [
            ("/", "/"),
            ("/%3Cscript%3E/", "&lt;script&gt;/"),
            ("/%3Cscript%3E/it%27s%20%26/", "it&#39;s &amp;/"),
            ("/%3Cscript%3E/it%27s%20%26/x%2Fy/", "x/y/"),
        ]
    );
    // Bytes that are not UTF-8 show as U+FFFD and link unchanged.
    let page = html("/%FF/", &[]);
    assert_eq!(breadcrumb(&page)[1], ("/%FF/", "\u{FFFD}/"));
}

#[test]
fn rows_show_human_size_and_utc_minute() {
    let page = html("/", &[file("a", 1_234)]);
    assert!(page.contains("<span title=\"1234 bytes\">1.2 KiB</span>"));
    assert!(page.contains("<time datetime=\"2026-11-27T16:42:05Z\">2026-11-27 16:42</time>"));
    assert!(page.contains("0 directories, 1 file"));
    let page = html("/", &[dir("d"), dir("e"), file("a", 1), file("b", 2)]);
    assert!(page.contains("2 directories, 2 files"));
}

#[test]
fn page_is_self_contained_and_phone_ready() {
    let page = html("/a/", &[file("x", 1)]);
    assert!(page.starts_with("<!DOCTYPE html>\n"));
    assert!(
        page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(page.contains("prefers-color-scheme:dark"));
    assert!(!page.contains("<script"));
    assert!(!page.contains("<link"));
    // The only URL is the SVG namespace inside the inline icons.
    assert_eq!(
        page.matches("://").count(),
        page.matches("http://www.w3.org/2000/svg").count()
    );
    assert!(page.trim_end().ends_with("</html>"));
    // Everything the page needs is allowed by its policy, and no script is.
    assert!(HTML_CSP.starts_with("default-src 'none';"));
    assert!(HTML_CSP.contains("style-src 'unsafe-inline'") && HTML_CSP.contains("img-src data:"));
    assert!(HTML_CSP.contains("script-src 'none'"));
    assert!(!HTML_CSP.contains("unsafe-eval") && !HTML_CSP.contains("script-src 'unsafe"));
}

#[test]
fn human_sizes() {
    for (bytes, shown) in [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1_234, "1.2 KiB"),
        (1_280, "1.3 KiB"),
        (1_048_575, "1.0 MiB"),
        (5 * 1024 * 1024 + 512 * 1024, "5.5 MiB"),
        (3 << 30, "3.0 GiB"),
        (u64::MAX, "16.0 EiB"),
    ] {
        assert_eq!(HumanSize(bytes).to_string(), shown, "{bytes}");
    }
}

#[test]
fn utc_dates() {
    let t = Utc::from_system_time(at(NOV_27)).unwrap();
    assert_eq!(t.rfc3339(), "2026-11-27T16:42:05Z");
    assert_eq!(t.short(), "2026-11-27 16:42");
    assert_eq!(Utc::from_unix(0).unwrap().rfc3339(), "1970-01-01T00:00:00Z");
    assert_eq!(
        Utc::from_unix(951_782_400).unwrap().rfc3339(),
        "2000-02-29T00:00:00Z"
    );
    assert_eq!(
        Utc::from_unix(-1).unwrap().rfc3339(),
        "1969-12-31T23:59:59Z"
    );
    let before = UNIX_EPOCH - Duration::from_millis(500);
    assert_eq!(
        Utc::from_system_time(before).unwrap().rfc3339(),
        "1969-12-31T23:59:59Z"
    );
    assert_eq!(
        Utc::from_unix(253_402_300_799).unwrap().rfc3339(),
        "9999-12-31T23:59:59Z"
    );
    assert_eq!(Utc::from_unix(253_402_300_800), None);
    assert_eq!(Utc::from_unix(i64::MIN), None);
    let far = UNIX_EPOCH
        .checked_add(Duration::from_secs(1 << 40))
        .unwrap();
    assert_eq!(Utc::from_system_time(far), None);
}

#[test]
fn sort_order_is_dirs_first_then_natural_case_insensitive() {
    let mut entries = vec![
        file("file10.txt", 1),
        file("File2.txt", 1),
        dir("zeta"),
        file("b", 1),
        file("a", 1),
        file("B", 1),
        dir("Alpha"),
        file("file02.txt", 1),
        file("\u{c9}clair", 1),
        Entry {
            kind: EntryKind::Symlink(LinkTarget::Dir),
            ..file("link-to-dir", 0)
        },
    ];
    entries.sort_by(listing_order);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Alpha",
            "link-to-dir",
            "zeta",
            "a",
            "B",
            "b",
            "File2.txt",
            "file02.txt",
            "file10.txt",
            "\u{c9}clair"
        ]
    );
}

#[test]
fn natural_compare() {
    use Ordering::{Equal, Greater, Less};
    for (a, b, expected) in [
        ("a2", "a10", Less),
        ("a10", "a2", Greater),
        ("a", "a1", Less),
        ("x9y", "x10a", Less),
        ("v1.2.10", "v1.2.9", Greater),
        ("ABC", "abc", Equal),
        ("a01", "a1", Equal),
        ("", "", Equal),
        ("", "a", Less),
        ("99999999999999999999999", "100000000000000000000000", Less),
    ] {
        assert_eq!(natural_cmp(a, b), expected, "{a} vs {b}");
    }
}

#[cfg(unix)]
#[test]
fn read_dir_lists_sorts_and_skips_hidden() {
    use std::os::unix::ffi::OsStrExt;

    let tmp = TempDir::new("read");
    let root = &tmp.0;
    fs::create_dir(root.join("sub")).unwrap();
    fs::create_dir(root.join(".git")).unwrap();
    fs::write(root.join("b.txt"), "12345").unwrap();
    fs::write(root.join("A.txt"), "").unwrap();
    fs::write(root.join(".env"), "secret").unwrap();
    fs::write(root.join(std::ffi::OsStr::from_bytes(b"bad\xff.txt")), "x").unwrap();
    std::os::unix::fs::symlink("b.txt", root.join("to-file")).unwrap();
    std::os::unix::fs::symlink("sub", root.join("to-sub")).unwrap();
    std::os::unix::fs::symlink("missing", root.join("dangling")).unwrap();
    let old = fs::File::options()
        .write(true)
        .open(root.join("b.txt"))
        .unwrap();
    old.set_modified(at(NOV_27)).unwrap();
    drop(old);

    let entries = read_dir(root, false).unwrap();
    let summary: Vec<(&str, EntryKind, Option<u64>)> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.kind, e.size))
        .collect();
    assert_eq!(
        summary,
        [
            ("sub", EntryKind::Dir, None),
            ("to-sub", EntryKind::Symlink(LinkTarget::Dir), None),
            ("A.txt", EntryKind::File, Some(0)),
            ("b.txt", EntryKind::File, Some(5)),
            ("dangling", EntryKind::Symlink(LinkTarget::Dangling), None),
            ("to-file", EntryKind::Symlink(LinkTarget::File), Some(5)),
        ]
    );
    assert!(entries.iter().all(|e| e.modified.is_some()));
    let b = entries.iter().find(|e| e.name == "b.txt").unwrap();
    assert_eq!(b.modified, Some(at(NOV_27)));
    let link = entries.iter().find(|e| e.name == "to-file").unwrap();
    assert_eq!(
        link.modified,
        Some(at(NOV_27)),
        "a link shows its target's time"
    );

    let names: Vec<String> = read_dir(root, true)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(
        names,
        [
            ".git", "sub", "to-sub", ".env", "A.txt", "b.txt", "dangling", "to-file"
        ]
    );
}

#[test]
fn read_dir_of_a_missing_directory_is_an_error() {
    let tmp = TempDir::new("missing");
    let err = read_dir(&tmp.0.join("nope"), false).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn json_is_valid_and_escaped() {
    let mut entries: Vec<Entry> = HOSTILE.iter().map(|name| file(name, 7)).collect();
    entries.push(dir("d\u{0}\n\\"));
    entries.push(Entry {
        name: "gone".to_owned(),
        kind: EntryKind::Symlink(LinkTarget::Dangling),
        size: None,
        modified: None,
    });
    let text = json("/a%20%22b%22/", &entries);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["path"], "/a \"b\"/");
    let listed = value["entries"].as_array().unwrap();
    assert_eq!(listed.len(), entries.len());
    for (json, entry) in listed.iter().zip(&entries) {
        assert_eq!(json["name"], entry.name.as_str());
    }
    assert_eq!(
        listed[0],
        serde_json::json!({
            "name": "<script>alert(1)</script>",
            "type": "file",
            "symlink": false,
            "size": 7,
            "modified": "2026-11-27T16:42:05Z",
        })
    );
    assert_eq!(listed[10]["type"], "dir");
    assert_eq!(listed[10]["size"], serde_json::Value::Null);
    assert_eq!(listed[11]["type"], "dangling");
    assert_eq!(listed[11]["symlink"], true);
    assert_eq!(listed[11]["modified"], serde_json::Value::Null);
    assert!(!text.contains('\n'), "control characters are escaped");

    let empty: serde_json::Value = serde_json::from_str(&json("/", &[])).unwrap();
    assert_eq!(empty, serde_json::json!({"path": "/", "entries": []}));
}

fn request(target: &str, accept: &[&str]) -> Request {
    accept
        .iter()
        .fold(Request::new(Method::GET, target).unwrap(), |r, value| {
            r.with_header("Accept", *value)
        })
}

#[test]
fn wants_json_cases() {
    for (target, accept, expected) in [
        ("/", &[][..], false),
        ("/?format=json", &[], true),
        ("/?a=1&format=JSON", &[], true),
        ("/?format=jsonx", &[], false),
        ("/?format=html", &["application/json"], false),
        ("/?xformat=json", &[], false),
        ("/", &["*/*"], false),
        ("/", &["application/json"], true),
        ("/", &["Application/JSON"], true),
        ("/", &["application/*"], true),
        ("/", &["text/html"], false),
        ("/", &["text/html, application/json"], false),
        ("/", &["application/json, text/html"], false),
        ("/", &["application/json, text/html;q=0.9"], true),
        ("/", &["text/html;q=0.5, application/json;q=0.8"], true),
        ("/", &["application/json;q=0.5, */*;q=0.1"], true),
        ("/", &["application/json;q=0.5, */*"], false),
        ("/", &["application/json;q=0, */*"], false),
        (
            "/",
            &["application/json; charset=utf-8; q=1.0, text/*;q=0.2"],
            true,
        ),
        ("/", &["text/*, application/json"], false),
        ("/", &["text/html;q=0.1", "application/json"], true),
        ("/", &["application/json;q=2"], false),
        ("/", &["application/json;q=0.1234"], false),
        ("/", &["application/jsonx, text/plain"], false),
        (
            "/",
            &["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
            false,
        ),
    ] {
        assert_eq!(
            wants_json(&request(target, accept)),
            expected,
            "{target} {accept:?}"
        );
    }
    let binary = Request::new(Method::GET, "/")
        .unwrap()
        .with_header("Accept", b"application/json\xff".to_vec());
    assert!(!wants_json(&binary));
}

#[test]
fn qvalues() {
    for (text, q) in [
        ("0", Some(0)),
        ("0.5", Some(500)),
        ("0.123", Some(123)),
        ("1", Some(1000)),
        ("1.", Some(1000)),
        ("1.000", Some(1000)),
        ("1.001", None),
        ("0.1234", None),
        ("2", None),
        ("", None),
        ("-0", None),
        ("0.x", None),
    ] {
        assert_eq!(parse_qvalue(text), q, "{text:?}");
    }
}

fn arbitrary_name() -> impl Strategy<Value = String> {
    prop_oneof!["[^/\u{0}]{1,24}", "[<>&\"'%#? a-z\u{e9}\u{1F600}]{1,12}",]
        .prop_filter("not a dot segment", |name| name != "." && name != "..")
}

proptest! {
    #[test]
    fn any_name_is_inert_in_html_and_its_href_decodes_back(
        name in arbitrary_name(),
        is_dir in any::<bool>(),
    ) {
        let make = |name: &str| if is_dir { dir(name) } else { file(name, 42) };
        let page = html("/", &[make(&name)]);
        let baseline = html("/", &[make("x")]);
        for c in ['<', '>', '"', '\''] {
            prop_assert_eq!(
                page.matches(c).count(),
                baseline.matches(c).count(),
                "a {:?} came from the name", c
            );
        }
        let hrefs = body_hrefs(&page);
        prop_assert_eq!(hrefs.len(), 1);
        let href = hrefs[0];
        let encoded = if is_dir { href.strip_suffix('/').unwrap() } else { href };
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        prop_assert_eq!(percent_decode_str(encoded).decode_utf8().unwrap(), name.as_str());
        let shown: String = name
            .chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .chain(if is_dir { Some('/') } else { None })
            .collect();
        prop_assert_eq!(unescape(link_text(&page, href)), shown);

        let listed: serde_json::Value = serde_json::from_str(&json("/", &[make(&name)])).unwrap();
        prop_assert_eq!(listed["entries"][0]["name"].as_str(), Some(name.as_str()));
    }
}

/// Writes the listing page of `LIDO_LISTING_DIR` to `LIDO_LISTING_PAGE`, as the server
/// would serve it at `LIDO_LISTING_URL_PATH` (default `/files/`); does nothing unless
/// `LIDO_LISTING_PAGE` is set. `scripts/listing-screenshot` uses it to check the page
/// renders when the server does not list directories.
#[test]
fn write_page_for_screenshot() {
    let Some(page) = std::env::var_os("LIDO_LISTING_PAGE") else {
        return;
    };
    let dir = std::env::var_os("LIDO_LISTING_DIR").expect("LIDO_LISTING_DIR is set");
    let url_path = std::env::var("LIDO_LISTING_URL_PATH").unwrap_or_else(|_| "/files/".to_owned());
    let entries = read_dir(Path::new(&dir), false).unwrap();
    fs::write(page, html(&url_path, &entries)).unwrap();
}
