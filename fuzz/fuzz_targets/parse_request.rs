//! `parse_head` on arbitrary bytes: never panics, never claims more bytes than it was given,
//! gives the same answer on the exact head it consumed, and maps every error to a 4xx/5xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lido::http::parse_head;

fuzz_target!(|data: &[u8]| {
    match parse_head(data) {
        Ok(Some((head, consumed))) => {
            assert!(consumed <= data.len());
            // The head ends where it says: parsing only those bytes gives the same request.
            let again = parse_head(&data[..consumed]).expect("prefix parses");
            let (head2, consumed2) = again.expect("prefix is complete");
            assert_eq!(consumed2, consumed);
            assert_eq!(head2, head);
        }
        Ok(None) => {
            // Needing more bytes is only possible below the head limit.
            assert!(data.len() <= lido::http::MAX_HEAD);
        }
        Err(err) => {
            let status = err.status().as_u16();
            assert!((400..600).contains(&status), "{err}: {status}");
        }
    }
});
