use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
const MTIME: u64 = 784_111_777;
const LAST_MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

fn partial(ranges: &[Range<u64>]) -> Ranges {
    Ranges::Partial(ranges.to_vec())
}

fn one(range: Range<u64>) -> Ranges {
    Ranges::Partial(vec![range])
}

#[test]
fn parses_single_ranges() {
    let cases: &[(&str, Ranges)] = &[
        ("bytes=0-0", one(0..1)),
        ("bytes=0-99", one(0..100)),
        ("bytes=0-1000", one(0..100)),
        ("bytes=10-", one(10..100)),
        ("bytes=99-", one(99..100)),
        ("bytes=99-99", one(99..100)),
        ("bytes=-10", one(90..100)),
        ("bytes=-100", one(0..100)),
        ("bytes=-1000", one(0..100)),
        ("BYTES=5-5", one(5..6)),
        ("Bytes=007-8", one(7..9)),
        ("bytes= 1-2 ", one(1..3)),
        ("bytes=,1-2,", one(1..3)),
        ("bytes=0-18446744073709551615", one(0..100)),
    ];
    for (header, expected) in cases {
        assert_eq!(&parse(header, 100), expected, "{header}");
    }
}

#[test]
fn parses_range_lists_sorted_and_coalesced() {
    assert_eq!(parse("bytes=0-0,-1", 100), partial(&[0..1, 99..100]));
    assert_eq!(
        parse("bytes=50-59, 0-9 ,\t90-", 100),
        partial(&[0..10, 50..60, 90..100])
    );
    // Adjacent ranges merge.
    assert_eq!(parse("bytes=0-1,,2-3", 100), one(0..4));
    // Overlapping ranges merge.
    assert_eq!(
        parse("bytes=0-30,25-75,80-89", 100),
        partial(&[0..76, 80..90])
    );
    // Asking for more than the whole representation: ignored, the whole is served once.
    assert_eq!(parse("bytes=0-50,25-75,0-50", 100), Ranges::Full);
    assert_eq!(
        parse(&format!("bytes={}", vec!["0-"; 16].join(",")), 100),
        Ranges::Full
    );
}

#[test]
fn drops_unsatisfiable_ranges() {
    assert_eq!(parse("bytes=100-,0-0", 100), one(0..1));
    assert_eq!(parse("bytes=-0,5-", 100), one(5..100));
    for header in [
        "bytes=100-",
        "bytes=100-200",
        "bytes=-0",
        "bytes=-0,100-,1000-2000",
        "bytes=18446744073709551615-",
    ] {
        assert_eq!(parse(header, 100), Ranges::Unsatisfiable, "{header}");
    }
}

#[test]
fn empty_representations() {
    assert_eq!(parse("bytes=0-", 0), Ranges::Unsatisfiable);
    assert_eq!(parse("bytes=0-0", 0), Ranges::Unsatisfiable);
    assert_eq!(parse("bytes=-0", 0), Ranges::Unsatisfiable);
    // Satisfiable (RFC 9110 14.1.1) but selects nothing: the whole, empty, representation.
    assert_eq!(parse("bytes=-5", 0), Ranges::Full);
    assert_eq!(parse("bytes=0-,-5", 0), Ranges::Full);
}

#[test]
fn huge_representations() {
    let max = u64::MAX;
    assert_eq!(parse("bytes=0-", max), one(0..max));
    assert_eq!(parse("bytes=-1", max), one(max - 1..max));
    assert_eq!(
        parse("bytes=18446744073709551614-18446744073709551615", max),
        one(max - 1..max)
    );
}

#[test]
fn ignores_invalid_fields() {
    for header in [
        "",
        "bytes",
        "bytes=",
        "bytes=,",
        "bytes= , ",
        "items=0-1",
        "bytes =0-1",
        "bytes0-1",
        "bytes=1-0",
        "bytes=a-b",
        "bytes=0-1-2",
        "bytes=+1-2",
        "bytes=1-+2",
        "bytes=-+2",
        "bytes=1",
        "bytes=-",
        "bytes=--1",
        "bytes=0x1-2",
        "bytes=1 -2",
        "bytes=1- 2",
        "bytes=0-1,junk",
        "bytes=0-1;2-3",
        "bytes=\u{661}-2",
        "bytes=18446744073709551616-",
        "bytes=0-18446744073709551616",
        "bytes=-18446744073709551616",
        "bytes=99999999999999999999999999999999-",
        // Invalid after an unsatisfiable member: still invalid.
        "bytes=1000-,x",
    ] {
        assert_eq!(parse(header, 100), Ranges::Full, "{header:?}");
    }
}

#[test]
fn caps_the_number_of_ranges() {
    // Disjoint, non-adjacent one-byte ranges (0, 2, 4, ...): none merge.
    let list = |n: u64| {
        let members: Vec<String> = (0..n).map(|i| format!("{0}-{0}", 2 * i)).collect();
        format!("bytes={}", members.join(","))
    };
    let max = MAX_RANGES as u64;
    match parse(&list(max), 100) {
        Ranges::Partial(ranges) => assert_eq!(ranges.len(), MAX_RANGES),
        other => panic!("{other:?}"),
    }
    assert_eq!(parse(&list(max + 1), 100), Ranges::Full);
    // Only satisfiable ranges count.
    let header = format!("{},500-,-0", list(max));
    assert!(matches!(parse(&header, 100), Ranges::Partial(r) if r.len() == MAX_RANGES));
}

/// A well-formed single range-spec.
#[derive(Debug, Clone)]
enum Spec {
    FromTo(u64, u64),
    From(u64),
    Suffix(u64),
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (0u64..2000, 0u64..2000).prop_map(|(a, n)| Spec::FromTo(a, a + n)),
        (0u64..2000).prop_map(Spec::From),
        (0u64..2000).prop_map(Spec::Suffix),
    ]
}

/// What the server should do with one well-formed range-spec.
fn model(spec: &Spec, len: u64) -> Ranges {
    match *spec {
        Spec::FromTo(first, _) | Spec::From(first) if first >= len => Ranges::Unsatisfiable,
        Spec::FromTo(first, last) => one(first..(last + 1).min(len)),
        Spec::From(first) => one(first..len),
        Spec::Suffix(0) => Ranges::Unsatisfiable,
        Spec::Suffix(_) if len == 0 => Ranges::Full,
        Spec::Suffix(n) => one(len - n.min(len)..len),
    }
}

fn assert_within(ranges: &Ranges, len: u64) {
    if let Ranges::Partial(ranges) = ranges {
        assert!(!ranges.is_empty() && ranges.len() <= MAX_RANGES);
        for range in ranges {
            assert!(
                range.start < range.end && range.end <= len,
                "{range:?} of {len}"
            );
        }
    }
}

proptest! {
    #[test]
    fn parse_never_panics(header in any::<String>(), len in any::<u64>()) {
        assert_within(&parse(&header, len), len);
    }

    #[test]
    fn parse_never_panics_on_near_misses(
        header in "(?i:bytes)=[0-9, \t+-]{0,60}",
        len in prop_oneof![0u64..200, any::<u64>()],
    ) {
        assert_within(&parse(&header, len), len);
    }

    #[test]
    fn single_ranges_match_the_model(spec in spec(), len in 0u64..1500) {
        let header = match spec {
            Spec::FromTo(a, b) => format!("bytes={a}-{b}"),
            Spec::From(a) => format!("bytes={a}-"),
            Spec::Suffix(n) => format!("bytes=-{n}"),
        };
        let got = parse(&header, len);
        assert_within(&got, len);
        prop_assert_eq!(got, model(&spec, len), "{}", header);
    }
}

fn validators() -> Validators {
    Validators {
        etag: "\"abc\"".to_owned(),
        last_modified: Some(UNIX_EPOCH + Duration::from_secs(MTIME)),
    }
}

fn get(fields: &[(&str, &str)]) -> Request {
    with_fields(Method::GET, fields)
}

fn with_fields(method: Method, fields: &[(&str, &str)]) -> Request {
    fields
        .iter()
        .fold(Request::new(method, "/f").unwrap(), |r, (name, value)| {
            r.with_header(*name, *value)
        })
}

#[test]
fn if_range() {
    let v = validators();
    assert!(if_range_allows(&get(&[]), &v));
    assert!(if_range_allows(&get(&[("If-Range", "\"abc\"")]), &v));
    assert!(if_range_allows(&get(&[("If-Range", LAST_MODIFIED)]), &v));
    for other in [
        "W/\"abc\"",
        "\"abd\"",
        "\"abc\", \"x\"",
        "\"abc",
        "abc",
        "",
        "Sun, 06 Nov 1994 08:49:36 GMT",
        "Sun, 06 Nov 1994 08:49:38 GMT",
        "yesterday",
    ] {
        assert!(
            !if_range_allows(&get(&[("If-Range", other)]), &v),
            "{other}"
        );
    }
    let bytes = Request::new(Method::GET, "/")
        .unwrap()
        .with_header("If-Range", b"\"abc\xff\"".to_vec());
    assert!(!if_range_allows(&bytes, &v));
    let undated = Validators {
        last_modified: None,
        ..validators()
    };
    assert!(!if_range_allows(
        &get(&[("If-Range", LAST_MODIFIED)]),
        &undated
    ));
}

mod file_response;
