use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
const MTIME: u64 = 784_111_777;
const LAST_MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const ONE_SECOND_EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const ONE_SECOND_LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

fn validators() -> Validators {
    Validators {
        etag: "\"abc\"".to_owned(),
        last_modified: Some(UNIX_EPOCH + Duration::from_secs(MTIME)),
    }
}

fn request(method: Method, fields: &[(&str, &str)]) -> Request {
    fields
        .iter()
        .fold(Request::new(method, "/f").unwrap(), |r, (name, value)| {
            r.with_header(*name, *value)
        })
}

fn get(fields: &[(&str, &str)]) -> Precondition {
    evaluate(&request(Method::GET, fields), &validators())
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_file(name: &str, content: &[u8], mtime: SystemTime) -> (TempFile, File) {
    let path = std::env::temp_dir().join(format!("lido-cond-{name}-{}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    let file = File::options().write(true).open(&path).unwrap();
    file.set_modified(mtime).unwrap();
    (TempFile(path), file)
}

#[test]
fn etag_is_quoted_strong_and_distinct_per_encoding() {
    let mtime = UNIX_EPOCH + Duration::new(MTIME, 123_456_789);
    let (_guard, file) = temp_file("etag", b"hello", mtime);
    let meta = file.metadata().unwrap();
    let plain = Validators::new(&meta, None);
    let br = Validators::new(&meta, Some("br"));
    let gzip = Validators::new(&meta, Some("gzip"));
    for v in [&plain, &br, &gzip] {
        assert!(v.etag.starts_with("\"5-"), "{}", v.etag);
        assert!(v.etag.ends_with('"'));
        assert_eq!(v.etag.matches('"').count(), 2);
        assert!(!v.etag.starts_with("W/"));
    }
    let nanos = format!("{:x}", u128::from(MTIME) * 1_000_000_000 + 123_456_789);
    assert!(plain.etag.contains(&nanos), "{} lacks {nanos}", plain.etag);
    assert!(br.etag.ends_with("-br\""));
    assert!(gzip.etag.ends_with("-gzip\""));
    assert_ne!(plain.etag, br.etag);
    assert_ne!(br.etag, gzip.etag);
    // A stray quote in the coding cannot break the tag.
    let odd = Validators::new(&meta, Some("x\"y"));
    assert!(odd.etag.ends_with("-xy\""));
    // Whole seconds.
    assert_eq!(
        plain.last_modified,
        Some(UNIX_EPOCH + Duration::from_secs(MTIME))
    );
    assert_eq!(
        httpdate::fmt_http_date(plain.last_modified.unwrap()),
        LAST_MODIFIED
    );
    assert_eq!(Validators::new(&meta, None), plain, "deterministic");
}

#[test]
fn etag_changes_with_length_and_mtime() {
    let mtime = UNIX_EPOCH + Duration::from_secs(MTIME);
    let (_guard, file) = temp_file("change", b"hello", mtime);
    let before = Validators::new(&file.metadata().unwrap(), None);

    file.set_modified(mtime + Duration::from_nanos(1)).unwrap();
    let touched = Validators::new(&file.metadata().unwrap(), None);
    assert_ne!(before.etag, touched.etag);
    assert_eq!(before.last_modified, touched.last_modified);

    file.set_len(4).unwrap();
    file.set_modified(mtime).unwrap();
    let shorter = Validators::new(&file.metadata().unwrap(), None);
    assert_ne!(before.etag, shorter.etag);
}

#[test]
fn last_modified_is_never_in_the_future() {
    let future = SystemTime::now() + Duration::from_secs(86_400);
    let (_guard, file) = temp_file("future", b"x", future);
    let v = Validators::new(&file.metadata().unwrap(), None);
    let last_modified = v.last_modified.unwrap();
    assert!(last_modified <= SystemTime::now());
    assert!(last_modified + Duration::from_secs(60) > SystemTime::now());
}

#[test]
fn no_preconditions_proceed() {
    assert_eq!(get(&[]), Precondition::Proceed);
    assert_eq!(
        evaluate(&request(Method::PUT, &[]), &validators()),
        Precondition::Proceed
    );
}

#[test]
fn if_match_uses_strong_comparison() {
    for matching in [
        "\"abc\"",
        "*",
        " * ",
        "\"x\", \"abc\"",
        "\"x\",\"abc\"",
        "\"x\" ,\t\"abc\" , ",
        ", ,\"abc\"",
    ] {
        assert_eq!(
            get(&[("If-Match", matching)]),
            Precondition::Proceed,
            "{matching}"
        );
    }
    for failing in [
        "\"x\"",
        "W/\"abc\"",
        "abc",
        "\"abc",
        "\"ab\"c",
        "\"abc\"x",
        "",
        "W/*",
        "\"x\", W/\"abc\"",
    ] {
        assert_eq!(
            get(&[("If-Match", failing)]),
            Precondition::Failed,
            "{failing}"
        );
    }
    // Several fields are one list.
    assert_eq!(
        get(&[("If-Match", "\"x\""), ("if-match", "\"abc\"")]),
        Precondition::Proceed
    );
    // Not UTF-8: present, matches nothing.
    let r = Request::new(Method::GET, "/f")
        .unwrap()
        .with_header("If-Match", b"\"abc\xff\"".to_vec());
    assert_eq!(evaluate(&r, &validators()), Precondition::Failed);
}

#[test]
fn if_unmodified_since() {
    let ius = |date| get(&[("If-Unmodified-Since", date)]);
    assert_eq!(ius(ONE_SECOND_EARLIER), Precondition::Failed);
    assert_eq!(ius(LAST_MODIFIED), Precondition::Proceed);
    assert_eq!(ius(ONE_SECOND_LATER), Precondition::Proceed);
    // RFC 850 and asctime forms are HTTP-dates too.
    assert_eq!(ius("Sunday, 06-Nov-94 08:49:36 GMT"), Precondition::Failed);
    assert_eq!(ius("Sun Nov  6 08:49:36 1994"), Precondition::Failed);
    for ignored in ["yesterday", "", "0", "Sun, 06 Nov 1994 08:49:36 GMT, x"] {
        assert_eq!(ius(ignored), Precondition::Proceed, "{ignored}");
    }
    // Two fields: ignored.
    assert_eq!(
        get(&[
            ("If-Unmodified-Since", ONE_SECOND_EARLIER),
            ("If-Unmodified-Since", ONE_SECOND_EARLIER)
        ]),
        Precondition::Proceed
    );
    // No Last-Modified: ignored.
    let v = Validators {
        last_modified: None,
        ..validators()
    };
    let r = request(Method::GET, &[("If-Unmodified-Since", ONE_SECOND_EARLIER)]);
    assert_eq!(evaluate(&r, &v), Precondition::Proceed);
}

#[test]
fn if_match_makes_if_unmodified_since_ignored() {
    let fields = [
        ("If-Match", "\"abc\""),
        ("If-Unmodified-Since", ONE_SECOND_EARLIER),
    ];
    assert_eq!(get(&fields), Precondition::Proceed);
}

#[test]
fn if_none_match_uses_weak_comparison() {
    for matching in [
        "\"abc\"",
        "W/\"abc\"",
        "*",
        "\"x\", W/\"abc\"",
        "\"a,b\", \"abc\"",
    ] {
        assert_eq!(
            get(&[("If-None-Match", matching)]),
            Precondition::NotModified,
            "{matching}"
        );
        let head = request(Method::HEAD, &[("If-None-Match", matching)]);
        assert_eq!(evaluate(&head, &validators()), Precondition::NotModified);
        for method in [Method::POST, Method::PUT, Method::DELETE] {
            let r = request(method.clone(), &[("If-None-Match", matching)]);
            assert_eq!(
                evaluate(&r, &validators()),
                Precondition::Failed,
                "{method}"
            );
        }
    }
    for other in [
        "\"x\"",
        "\"ABC\"",
        "abc",
        "\"abc",
        "",
        "\"abc\"junk",
        "\"a,b\"",
    ] {
        assert_eq!(
            get(&[("If-None-Match", other)]),
            Precondition::Proceed,
            "{other}"
        );
    }
}

#[test]
fn if_modified_since() {
    let ims = |date| get(&[("If-Modified-Since", date)]);
    assert_eq!(ims(LAST_MODIFIED), Precondition::NotModified);
    assert_eq!(ims(ONE_SECOND_LATER), Precondition::NotModified);
    assert_eq!(ims(ONE_SECOND_EARLIER), Precondition::Proceed);
    for ignored in [
        "not a date",
        "",
        "1994-11-06",
        "Sun, 06 Nov 1994 08:49:37 GMT,",
    ] {
        assert_eq!(ims(ignored), Precondition::Proceed, "{ignored}");
    }
    // Only GET and HEAD.
    let head = request(Method::HEAD, &[("If-Modified-Since", LAST_MODIFIED)]);
    assert_eq!(evaluate(&head, &validators()), Precondition::NotModified);
    let post = request(Method::POST, &[("If-Modified-Since", LAST_MODIFIED)]);
    assert_eq!(evaluate(&post, &validators()), Precondition::Proceed);
    // No Last-Modified: ignored.
    let v = Validators {
        last_modified: None,
        ..validators()
    };
    let r = request(Method::GET, &[("If-Modified-Since", LAST_MODIFIED)]);
    assert_eq!(evaluate(&r, &v), Precondition::Proceed);
}

#[test]
fn if_none_match_makes_if_modified_since_ignored() {
    // The tag does not match, so the date (which would give 304) must not be looked at.
    let fields = [
        ("If-None-Match", "\"other\""),
        ("If-Modified-Since", ONE_SECOND_LATER),
    ];
    assert_eq!(get(&fields), Precondition::Proceed);
    // Even a malformed If-None-Match counts as present.
    let fields = [
        ("If-None-Match", "junk"),
        ("If-Modified-Since", LAST_MODIFIED),
    ];
    assert_eq!(get(&fields), Precondition::Proceed);
    // And a matching one wins over an old date.
    let fields = [
        ("If-None-Match", "\"abc\""),
        ("If-Modified-Since", ONE_SECOND_EARLIER),
    ];
    assert_eq!(get(&fields), Precondition::NotModified);
}

#[test]
fn failing_if_match_wins_over_if_none_match() {
    let fields = [("If-Match", "\"other\""), ("If-None-Match", "\"abc\"")];
    assert_eq!(get(&fields), Precondition::Failed);
    let fields = [("If-Match", "\"abc\""), ("If-None-Match", "\"abc\"")];
    assert_eq!(get(&fields), Precondition::NotModified);
}

#[test]
fn failing_if_unmodified_since_wins_over_if_none_match() {
    let fields = [
        ("If-Unmodified-Since", ONE_SECOND_EARLIER),
        ("If-None-Match", "\"abc\""),
    ];
    assert_eq!(get(&fields), Precondition::Failed);
    let fields = [
        ("If-Unmodified-Since", ONE_SECOND_EARLIER),
        ("If-Modified-Since", ONE_SECOND_LATER),
    ];
    assert_eq!(get(&fields), Precondition::Failed);
}

#[test]
fn members_of_entity_tag_lists() {
    let tag = |weak, opaque| Member::Tag { weak, opaque };
    let cases: &[(&str, &[Member<'_>])] = &[
        ("", &[]),
        (" , ,", &[]),
        ("*", &[Member::Any]),
        ("\"a\"", &[tag(false, "\"a\"")]),
        ("W/\"a\"", &[tag(true, "\"a\"")]),
        ("\"\"", &[tag(false, "\"\"")]),
        (
            "\"a\", W/\"b\",\"c\"",
            &[tag(false, "\"a\""), tag(true, "\"b\""), tag(false, "\"c\"")],
        ),
        ("\"a,b\"", &[tag(false, "\"a,b\"")]),
        ("junk, \"a\"", &[tag(false, "\"a\"")]),
        ("\"a\"junk, \"b\"", &[tag(false, "\"b\"")]),
        ("\"a\" \"b\", \"c\"", &[tag(false, "\"c\"")]),
        ("\"a\", \"b", &[tag(false, "\"a\"")]),
        ("W/", &[]),
        ("w/\"a\"", &[]),
        ("\"", &[]),
    ];
    for (value, expected) in cases {
        let got: Vec<Member<'_>> = members(value).collect();
        assert_eq!(&got, expected, "{value:?}");
    }
}

#[test]
fn malformed_fields_never_panic() {
    let junk = [
        "",
        ",",
        "\"",
        "W/",
        "W/\"",
        "\"\"\"",
        "*,*",
        "\u{e9}\"",
        "\"\u{e9}",
        ",\"a",
        "W/W/\"a\"",
        "\t",
        "\"a\"\t,\t",
        "--",
        "9999999999999999999999",
    ];
    for value in junk {
        for name in [
            "If-Match",
            "If-None-Match",
            "If-Modified-Since",
            "If-Unmodified-Since",
        ] {
            for method in [Method::GET, Method::PUT] {
                let _ = evaluate(&request(method, &[(name, value)]), &validators());
            }
        }
    }
}
