use proptest::prelude::*;

use super::*;
use crate::http::{MAX_HEAD, MAX_HEADERS};

/// Decodes `input` in one call.
fn decode_all(input: &[u8], max_body: u64) -> Result<(Vec<u8>, Decoded), BodyError> {
    let mut out = Vec::new();
    let decoded = ChunkedDecoder::new(max_body).decode(input, &mut out)?;
    Ok((out, decoded))
}

/// Decodes `input` one byte at a time, stopping when done.
fn decode_bytewise(input: &[u8], max_body: u64) -> Result<(Vec<u8>, Decoded), BodyError> {
    let mut decoder = ChunkedDecoder::new(max_body);
    let mut out = Vec::new();
    let mut consumed = 0;
    for byte in input {
        let decoded = decoder.decode(std::slice::from_ref(byte), &mut out)?;
        consumed += decoded.consumed;
        if decoded.done {
            return Ok((
                out,
                Decoded {
                    consumed,
                    done: true,
                },
            ));
        }
    }
    Ok((
        out,
        Decoded {
            consumed,
            done: false,
        },
    ))
}

#[test]
fn decodes_chunks_extensions_and_trailers() {
    let cases: &[(&[u8], &[u8], usize)] = &[
        (b"0\r\n\r\n", b"", 5),
        (b"3\r\nabc\r\n0\r\n\r\n", b"abc", 13),
        (b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1", b"abc", 13),
        (
            b"A\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n",
            b"0123456789x",
            26,
        ),
        (b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789", 20),
        (b"000003\r\nabc\r\n0000\r\n\r\n", b"abc", 21),
        (b"3;ext\r\nabc\r\n0;a=b;c=\"d e\"\r\n\r\n", b"abc", 29),
        (b"3 ;ext\r\nabc\r\n0\t; x\r\n\r\n", b"abc", 22),
        (b"3\r\nabc\r\n0\r\nExpires: never\r\nX:\r\n\r\n", b"abc", 33),
        (b"2\r\n\r\n\r\n0\r\n\r\n", b"\r\n", 12),
        (b"ffffffffffffffff\r\n", b"", 18),
    ];
    for &(input, body, consumed) in cases {
        let name = String::from_utf8_lossy(input);
        let whole = decode_all(input, u64::MAX).unwrap();
        let bytewise = decode_bytewise(input, u64::MAX).unwrap();
        assert_eq!(whole, bytewise, "{name}");
        assert_eq!(whole.0, body, "{name}");
        assert_eq!(whole.1.consumed, consumed, "{name}");
        assert_eq!(
            whole.1.done,
            consumed < input.len() || input.ends_with(b"\r\n\r\n"),
            "{name}"
        );
    }
}

#[test]
fn rejects_malformed_chunks() {
    let mut long_ext = b"1;".to_vec();
    long_ext.resize(MAX_CHUNK_LINE + 1, b'x');
    long_ext.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
    let mut ok_ext = b"1;".to_vec();
    ok_ext.resize(MAX_CHUNK_LINE, b'x');
    ok_ext.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
    assert_eq!(
        decode_all(&ok_ext, 10).map(|(body, _)| body),
        Ok(b"x".to_vec())
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty size", b"\r\n".to_vec()),
        ("non-hex size", b"g\r\n".to_vec()),
        ("sign", b"+1\r\nx\r\n0\r\n\r\n".to_vec()),
        ("0x prefix", b"0x1\r\nx\r\n".to_vec()),
        ("17 digits", b"00000000000000001\r\nx\r\n".to_vec()),
        ("overflowing size", b"10000000000000000\r\n".to_vec()),
        ("extension without semicolon", b"1 x\r\n".to_vec()),
        ("space then crlf", b"1 \r\nx\r\n".to_vec()),
        ("bare lf after size", b"1\nx\r\n0\r\n\r\n".to_vec()),
        ("bare cr after size", b"1\rx\r\n".to_vec()),
        ("control in extension", b"1;a\x01\r\nx\r\n".to_vec()),
        ("lf in extension", b"1;a\nx\r\n".to_vec()),
        ("missing crlf after data", b"1\r\nxy\r\n0\r\n\r\n".to_vec()),
        ("bare lf after data", b"1\r\nx\n0\r\n\r\n".to_vec()),
        ("cr without lf after data", b"1\r\nx\rx".to_vec()),
        ("bare lf after last chunk", b"0\r\n\n".to_vec()),
        ("trailer without colon", b"0\r\nX\r\n\r\n".to_vec()),
        ("trailer obs-fold", b"0\r\nX: a\r\n b\r\n\r\n".to_vec()),
        ("trailer space before colon", b"0\r\nX : a\r\n\r\n".to_vec()),
        ("trailer nul", b"0\r\nX: \0\r\n\r\n".to_vec()),
        ("trailer bare cr", b"0\r\nX: a\rb\r\n\r\n".to_vec()),
        ("trailer bare lf", b"0\r\nX: a\n\r\n".to_vec()),
        ("long chunk line", long_ext),
    ];
    for (name, input) in cases {
        assert_eq!(
            decode_all(&input, u64::MAX),
            Err(BodyError::BadChunk),
            "{name}"
        );
        assert_eq!(
            decode_bytewise(&input, u64::MAX),
            Err(BodyError::BadChunk),
            "{name}"
        );
    }
}

#[test]
fn r9_trailers_count_against_the_head_limits() {
    // Alone, more than a whole head's worth.
    let mut big_trailer = b"0\r\nX: ".to_vec();
    big_trailer.resize(MAX_HEAD + 3, b'a');
    big_trailer.extend_from_slice(b"\r\n\r\n");
    assert_eq!(
        decode_all(&big_trailer, u64::MAX),
        Err(BodyError::TrailersTooLarge)
    );
    // 20 KB of trailers after a 20 KB head: together over MAX_HEAD.
    let mut trailer = b"0\r\nX: ".to_vec();
    trailer.resize(20_000, b'a');
    trailer.extend_from_slice(b"\r\n\r\n");
    let mut decoder = ChunkedDecoder::with_head(u64::MAX, 20_000, 10);
    assert_eq!(
        decoder.decode(&trailer, &mut Vec::new()),
        Err(BodyError::TrailersTooLarge)
    );
    assert_eq!(BodyError::TrailersTooLarge.status().as_u16(), 431);
    // The same trailer after a small head is fine.
    let mut decoder = ChunkedDecoder::with_head(u64::MAX, 100, 2);
    assert!(
        decoder
            .decode(&trailer, &mut Vec::new())
            .is_ok_and(|d| d.done)
    );
    // Fields: a head of MAX_HEADERS - 1 fields leaves room for one trailer field.
    let mut decoder = ChunkedDecoder::with_head(u64::MAX, 100, MAX_HEADERS - 1);
    assert!(
        decoder
            .decode(b"0\r\nA: 1\r\n\r\n", &mut Vec::new())
            .is_ok_and(|d| d.done)
    );
    let mut decoder = ChunkedDecoder::with_head(u64::MAX, 100, MAX_HEADERS - 1);
    assert_eq!(
        decoder.decode(b"0\r\nA: 1\r\nB: 2\r\n\r\n", &mut Vec::new()),
        Err(BodyError::TrailersTooLarge)
    );
}

#[test]
fn enforces_max_body() {
    assert_eq!(
        decode_all(b"5\r\nhello\r\n0\r\n\r\n", 5).map(|(b, _)| b),
        Ok(b"hello".to_vec())
    );
    for input in [
        &b"6\r\nhello!\r\n0\r\n\r\n"[..],
        b"3\r\nhel\r\n3\r\nlo!\r\n0\r\n\r\n",
    ] {
        assert_eq!(decode_all(input, 5), Err(BodyError::TooLarge));
        assert_eq!(decode_bytewise(input, 5), Err(BodyError::TooLarge));
    }
    assert_eq!(
        decode_all(b"ffffffffffffffff\r\n", u64::MAX - 1),
        Err(BodyError::TooLarge)
    );
    let mut decoder = ChunkedDecoder::new(u64::MAX);
    let mut out = Vec::new();
    decoder.decode(b"ffffffffffffffff\r\nab", &mut out).unwrap();
    assert_eq!(
        decoder.decode(b"1\r\n", &mut out),
        Ok(Decoded {
            consumed: 3,
            done: false
        })
    );
    assert_eq!(out, b"ab1\r\n");
}

#[test]
fn errors_and_completion_are_sticky() {
    let mut decoder = ChunkedDecoder::new(10);
    let mut out = Vec::new();
    assert_eq!(decoder.decode(b"x", &mut out), Err(BodyError::BadChunk));
    assert_eq!(
        decoder.decode(b"0\r\n\r\n", &mut out),
        Err(BodyError::BadChunk)
    );
    assert_eq!(decoder.decode(b"", &mut out), Err(BodyError::BadChunk));

    let mut decoder = ChunkedDecoder::new(10);
    assert!(decoder.decode(b"0\r\n\r\n", &mut out).unwrap().done);
    assert_eq!(
        decoder.decode(b"1\r\nx", &mut out),
        Ok(Decoded {
            consumed: 0,
            done: true
        })
    );
    assert!(out.is_empty());
}

#[test]
fn empty_input_consumes_nothing() {
    let mut decoder = ChunkedDecoder::new(10);
    let mut out = Vec::new();
    assert_eq!(
        decoder.decode(b"", &mut out),
        Ok(Decoded {
            consumed: 0,
            done: false
        })
    );
    decoder.decode(b"3\r\n", &mut out).unwrap();
    assert_eq!(
        decoder.decode(b"", &mut out),
        Ok(Decoded {
            consumed: 0,
            done: false
        })
    );
}

#[test]
fn error_statuses_and_messages() {
    assert_eq!(BodyError::BadChunk.status(), StatusCode::BAD_REQUEST);
    assert_eq!(BodyError::TooLarge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(BodyError::TooLarge.to_string(), "request body too large");
}

/// Encodes `payload` as chunks of the given sizes (the last one takes the rest).
fn encode(payload: &[u8], sizes: &[usize], uppercase: bool, extensions: bool) -> Vec<u8> {
    let mut encoded = Vec::new();
    let mut rest = payload;
    let mut sizes = sizes.iter();
    while !rest.is_empty() {
        let n = sizes.next().map_or(rest.len(), |&n| n.clamp(1, rest.len()));
        let (chunk, tail) = rest.split_at(n);
        let size = if uppercase {
            format!("{n:X}")
        } else {
            format!("{n:x}")
        };
        encoded.extend_from_slice(size.as_bytes());
        if extensions {
            encoded.extend_from_slice(b";name=\"v a l\"");
        }
        encoded.extend_from_slice(b"\r\n");
        encoded.extend_from_slice(chunk);
        encoded.extend_from_slice(b"\r\n");
        rest = tail;
    }
    encoded.extend_from_slice(b"0\r\n");
    if extensions {
        encoded.extend_from_slice(b"Trailer-A: 1\r\nB:\r\n");
    }
    encoded.extend_from_slice(b"\r\n");
    encoded
}

proptest! {
    #[test]
    fn round_trips_at_any_feed_boundaries(
        payload in proptest::collection::vec(any::<u8>(), 0..2048),
        sizes in proptest::collection::vec(1usize..300, 0..16),
        feeds in proptest::collection::vec(1usize..64, 1..64),
        uppercase in any::<bool>(),
        extensions in any::<bool>(),
        next in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut input = encode(&payload, &sizes, uppercase, extensions);
        let encoded_len = input.len();
        input.extend_from_slice(&next);

        let mut decoder = ChunkedDecoder::new(payload.len() as u64);
        let mut out = Vec::new();
        let mut pos = 0;
        let mut feeds = feeds.iter().cycle();
        loop {
            let step = feeds.next().copied().unwrap_or(1);
            let end = (pos + step).min(input.len());
            prop_assert!(pos < end, "input ran out before the body was done");
            let decoded = decoder.decode(&input[pos..end], &mut out).unwrap();
            prop_assert!(decoded.consumed <= end - pos);
            pos += decoded.consumed;
            if decoded.done {
                break;
            }
            prop_assert_eq!(pos, end);
        }
        prop_assert_eq!(pos, encoded_len);
        prop_assert_eq!(&out, &payload);
        prop_assert_eq!(decode_bytewise(&input, payload.len() as u64).unwrap(), (payload.clone(), Decoded { consumed: encoded_len, done: true }));
    }

    #[test]
    fn never_panics_and_agrees_with_bytewise(input in proptest::collection::vec(prop::sample::select(b"0123456789abcdefABx;= \t\r\n:".to_vec()), 0..64)) {
        prop_assert_eq!(decode_all(&input, 64), decode_bytewise(&input, 64));
    }
}
