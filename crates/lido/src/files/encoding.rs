//! Content-coding negotiation for precompressed siblings (`file.br`, `file.gz`).

/// Precompressed siblings tried, best first: (content coding, file suffix).
pub(crate) const SIBLINGS: [(&str, &str); 2] = [("br", "br"), ("gzip", "gz")];

/// Whether `accept_encoding` (an `Accept-Encoding` value) allows `coding` (RFC 9110 12.5.3):
/// listed with a non-zero q, or covered by `*` with a non-zero q and not listed itself.
/// No header means no preference: only the identity coding.
pub(crate) fn accepts(accept_encoding: Option<&str>, coding: &str) -> bool {
    let Some(header) = accept_encoding else {
        return false;
    };
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
            return q > 0.0;
        }
        if name == "*" {
            star = Some(q > 0.0);
        }
    }
    star.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::accepts;

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
}
