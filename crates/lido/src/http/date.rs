//! The value of the `Date` header field, formatted at most once per second.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The length of an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 section 5.6.7).
const DATE_LEN: usize = 29;

/// The last second `httpdate` can format (9999-12-31T23:59:59Z); later clocks are clamped.
const MAX_SECOND: u64 = 253_402_300_799;

/// What a clock before 1970 is shown as.
const EPOCH: [u8; DATE_LEN] = *b"Thu, 01 Jan 1970 00:00:00 GMT";

/// A `Date` value, reformatted only when the wall-clock second changes.
///
/// # Examples
///
/// ```
/// use lido::http::DateCache;
///
/// let mut cache = DateCache::new();
/// let date = cache.now();
/// assert_eq!(date.len(), 29);
/// assert!(date.ends_with(" GMT"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DateCache {
    second: u64,
    text: [u8; DATE_LEN],
}

impl DateCache {
    /// A cache holding the current date.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::DateCache;
    ///
    /// let mut cache = DateCache::new();
    /// assert_eq!(cache.now().as_bytes()[3], b',');
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> DateCache {
        let second = current_second();
        DateCache {
            second,
            text: format(second),
        }
    }

    /// The current date as an IMF-fixdate, reformatted only if the second has changed
    /// since the last call.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::DateCache;
    ///
    /// let mut cache = DateCache::new();
    /// let first = cache.now().to_owned();
    /// assert!(httpdate::parse_http_date(&first).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn now(&mut self) -> &str {
        self.refresh(current_second());
        self.as_str()
    }

    /// Reformats if `second` differs from the cached one.
    fn refresh(&mut self, second: u64) {
        if second != self.second {
            self.second = second;
            self.text = format(second);
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).unwrap_or("Thu, 01 Jan 1970 00:00:00 GMT")
    }
}

impl Default for DateCache {
    fn default() -> DateCache {
        DateCache::new()
    }
}

thread_local! {
    /// This thread's cache. `Cell` (not `RefCell`) so that a nested call cannot panic.
    static CACHE: Cell<Option<DateCache>> = const { Cell::new(None) };
}

/// Calls `f` with the current date as an IMF-fixdate, from a per-thread cache that is
/// reformatted at most once per second.
///
/// # Examples
///
/// ```
/// use lido::http::with_date;
///
/// let date = with_date(|date| date.to_owned());
/// assert_eq!(date.len(), 29);
/// assert!(httpdate::parse_http_date(&date).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn with_date<R>(f: impl FnOnce(&str) -> R) -> R {
    let second = current_second();
    let cache = CACHE
        .try_with(|cell| {
            let mut cache = cell.get().unwrap_or_else(DateCache::new);
            cache.refresh(second);
            cell.set(Some(cache));
            cache
        })
        .unwrap_or_else(|_| DateCache::new());
    f(cache.as_str())
}

fn current_second() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn format(second: u64) -> [u8; DATE_LEN] {
    let time = UNIX_EPOCH + Duration::from_secs(second.min(MAX_SECOND));
    let formatted = httpdate::fmt_http_date(time);
    let mut text = EPOCH;
    if formatted.len() == DATE_LEN {
        text.copy_from_slice(formatted.as_bytes());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(&format(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&format(u64::MAX), b"Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn now_has_the_imf_fixdate_shape() {
        let mut cache = DateCache::new();
        let date = cache.now();
        assert_eq!(date.len(), DATE_LEN);
        let b = date.as_bytes();
        assert!(b[..3].iter().all(u8::is_ascii_alphabetic));
        assert_eq!(&b[3..5], b", ");
        assert!(b[5..7].iter().all(u8::is_ascii_digit));
        assert_eq!(b[7], b' ');
        assert!(b[8..11].iter().all(u8::is_ascii_alphabetic));
        assert_eq!(b[11], b' ');
        assert!(b[12..16].iter().all(u8::is_ascii_digit));
        assert_eq!(&[b[16], b[19], b[22]], b" ::");
        assert_eq!(&b[25..], b" GMT");
        assert!(httpdate::parse_http_date(date).is_ok());
    }

    #[test]
    fn refresh_reformats_only_on_a_new_second() {
        let mut cache = DateCache {
            second: 784_111_777,
            text: *b"not reformatted within second",
        };
        cache.refresh(784_111_777);
        assert_eq!(cache.as_str(), "not reformatted within second");
        cache.refresh(784_111_778);
        assert_eq!(cache.as_str(), "Sun, 06 Nov 1994 08:49:38 GMT");
    }

    #[test]
    fn with_date_nests_and_agrees_with_the_clock() {
        let (outer, inner) = with_date(|outer| (outer.to_owned(), with_date(str::to_owned)));
        assert_eq!(outer.len(), DATE_LEN);
        assert_eq!(inner.len(), DATE_LEN);
        let parsed = httpdate::parse_http_date(&outer).unwrap();
        let skew = SystemTime::now().duration_since(parsed).unwrap_or_default();
        assert!(skew < Duration::from_secs(5));
    }
}
