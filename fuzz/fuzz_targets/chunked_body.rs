//! The chunked decoder gives the same result fed all at once or in the pieces the fuzzer
//! chooses, and never outputs more than its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lido::http::ChunkedDecoder;

const LIMIT: u64 = 1 << 16;

fn decode(pieces: &[&[u8]]) -> (Result<bool, ()>, Vec<u8>, usize) {
    let mut decoder = ChunkedDecoder::new(LIMIT);
    let mut out = Vec::new();
    let mut used = 0;
    for piece in pieces {
        match decoder.decode(piece, &mut out) {
            Ok(d) => {
                used += d.consumed;
                if d.done {
                    return (Ok(true), out, used);
                }
                assert_eq!(d.consumed, piece.len(), "input left over before the end");
            }
            Err(_) => return (Err(()), out, used),
        }
    }
    (Ok(false), out, used)
}

fuzz_target!(|input: (&[u8], u8)| {
    let (data, step) = input;
    let step = usize::from(step.max(1));
    let whole = decode(&[data]);
    let pieces: Vec<&[u8]> = data.chunks(step).collect();
    let split = decode(&pieces);
    assert_eq!(whole.0, split.0);
    if whole.0 == Ok(true) {
        assert_eq!(whole.1, split.1);
        assert_eq!(whole.2, split.2);
    }
    assert!(whole.1.len() as u64 <= LIMIT);
});
