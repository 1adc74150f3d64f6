//! Content-coding negotiation: precompressed siblings (`file.br`, `file.gz`) and compression
//! on the fly.

/// Precompressed siblings tried, best first: (content coding, file suffix).
pub(crate) const SIBLINGS: [(&str, &str); 2] = [("br", "br"), ("gzip", "gz")];

/// Whether `accept_encoding` (an `Accept-Encoding` value) allows `coding` (RFC 9110 12.5.3):
/// listed with a non-zero q, or covered by `*` with a non-zero q and not listed itself.
/// No header means no preference: only the identity coding.
pub(crate) fn accepts(accept_encoding: Option<&str>, coding: &str) -> bool {
    quality(accept_encoding, coding).is_some_and(|q| q > 0.0)
}

/// The q-value `accept_encoding` gives `coding`: its own, else `*`'s; `None` if neither is
/// there (or there is no header).
pub(crate) fn quality(accept_encoding: Option<&str>, coding: &str) -> Option<f32> {
    let header = accept_encoding?;
    let mut star = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let q = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim().eq_ignore_ascii_case("q").then(|| v.trim())
            })
            .next()
            .map_or(Some(1.0), |v| {
                v.parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q))
            });
        let Some(q) = q else { continue };
        if name.eq_ignore_ascii_case(coding)
            || (coding == "gzip" && name.eq_ignore_ascii_case("x-gzip"))
        {
            return Some(q);
        }
        if name == "*" {
            star = Some(q);
        }
    }
    star
}

/// The coding to compress with for `accept_encoding`, among `codings` (the server's
/// preference, best first): the highest q-value wins, the server's order among equals; none
/// when the client prefers the identity (RFC 9110 12.5.3: the identity is acceptable unless
/// excluded, with q = 1 when not listed).
pub(crate) fn choose(
    accept_encoding: Option<&str>,
    codings: &[&'static str],
) -> Option<&'static str> {
    let mut best: Option<(&'static str, f32)> = None;
    for &coding in codings {
        let q = quality(accept_encoding, coding).unwrap_or(0.0);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((coding, q));
        }
    }
    let (coding, q) = best?;
    let identity = quality(accept_encoding, "identity").unwrap_or(1.0);
    (q >= identity || identity == 0.0).then_some(coding)
}

#[cfg(test)]
mod tests {
    use super::{accepts, choose};

    #[test]
    fn q_values_and_wildcards() {
        assert!(accepts(Some("gzip, deflate, br"), "br"));
        assert!(accepts(Some("gzip, deflate, br"), "gzip"));
        assert!(!accepts(Some("gzip"), "br"));
        assert!(!accepts(Some("br;q=0, gzip"), "br"));
        assert!(accepts(Some("br;q=0.5"), "br"));
        assert!(accepts(Some("*"), "br"));
        assert!(!accepts(Some("*, br;q=0"), "br"));
        assert!(!accepts(Some("*;q=0"), "gzip"));
        assert!(accepts(Some("x-gzip"), "gzip"));
        assert!(accepts(Some(" BR ; Q=1 "), "br"));
        assert!(!accepts(None, "gzip"));
        assert!(!accepts(Some(""), "gzip"));
        assert!(!accepts(Some("br;q=bogus"), "br"));
        assert!(!accepts(Some("br;q=2"), "br"));
    }

    #[test]
    fn the_best_q_wins_then_the_servers_order() {
        const OURS: [&str; 3] = ["zstd", "br", "gzip"];
        assert_eq!(choose(Some("gzip, deflate, br, zstd"), &OURS), Some("zstd"));
        assert_eq!(choose(Some("gzip, deflate, br"), &OURS), Some("br"));
        assert_eq!(choose(Some("gzip;q=1, br;q=0.5"), &OURS), Some("gzip"));
        assert_eq!(choose(Some("*"), &OURS), Some("zstd"));
        assert_eq!(choose(Some("*;q=0.5, identity"), &OURS), None);
        assert_eq!(
            choose(Some("gzip;q=0.5, identity;q=0"), &OURS),
            Some("gzip")
        );
        assert_eq!(choose(Some("identity"), &OURS), None);
        assert_eq!(choose(Some("br;q=0, gzip;q=0"), &OURS), None);
        assert_eq!(choose(None, &OURS), None);
        assert_eq!(choose(Some(""), &OURS), None);
    }
}
