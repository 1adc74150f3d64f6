//! Compression on the fly: zstd, brotli or gzip for compressible types between
//! [`MIN_SIZE`] and [`MAX_SIZE`], with a bounded cache of compressed answers (by bytes,
//! least recently used first out, keyed by path, the file's `ETag` and the coding) so that a
//! popular file is compressed once.
//!
//! The CPU a request may cost is bounded by the maximum size and the levels below (a 2 MiB
//! text at brotli 5 takes some tens of milliseconds).

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Smaller files are sent as they are: the headers would eat the gain.
pub const MIN_SIZE: u64 = 1024;
/// Larger files are sent as they are: compressing them would cost a request too much CPU
/// (precompress them instead: their `.br` / `.gz` siblings are sent as they are).
pub const MAX_SIZE: u64 = 2 * 1024 * 1024;
/// The default bound of the cache of compressed answers, in bytes.
pub const DEFAULT_COMPRESS_CACHE: usize = 32 * 1024 * 1024;

/// The codings lido compresses with, best first (the server's preference among equal
/// q-values).
pub(crate) const CODINGS: [&str; 3] = ["zstd", "br", "gzip"];

/// Levels: fast enough to compress per request, most of the gain of the slow levels.
const GZIP_LEVEL: u32 = 6;
const BROTLI_QUALITY: u32 = 5;
const BROTLI_WINDOW: u32 = 22;

/// Media types worth compressing (the type without parameters). Text compresses; images,
/// video, archives and `woff2` are compressed already.
const COMPRESSIBLE: [&str; 16] = [
    "application/javascript",
    "application/json",
    "application/xml",
    "application/wasm",
    "application/ld+json",
    "application/manifest+json",
    "application/rss+xml",
    "application/atom+xml",
    "application/xhtml+xml",
    "application/x-javascript",
    "application/vnd.ms-fontobject",
    "image/svg+xml",
    "image/x-icon",
    "image/bmp",
    "font/ttf",
    "font/otf",
];

/// Whether a file of `content_type` is worth compressing: `text/*`, and the types above
/// (with any `+json` / `+xml` suffix).
pub(crate) fn compressible(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || COMPRESSIBLE.contains(&media.as_str())
        || media.ends_with("+json")
        || media.ends_with("+xml")
}

/// `bytes` compressed with `coding` (one of [`CODINGS`]).
pub(crate) fn compress(coding: &str, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    match coding {
        "gzip" => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(bytes.len() / 3),
                flate2::Compression::new(GZIP_LEVEL),
            );
            encoder.write_all(bytes)?;
            encoder.finish()
        }
        "br" => {
            let mut out = Vec::with_capacity(bytes.len() / 3);
            {
                let mut encoder =
                    brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
                encoder.write_all(bytes)?;
                encoder.flush()?;
            }
            Ok(out)
        }
        // ruzstd: pure Rust (no C toolchain to build lido anywhere); its fastest level,
        // about zstd's level 1, is the one it implements.
        "zstd" => Ok(ruzstd::encoding::compress_to_vec(
            bytes,
            ruzstd::encoding::CompressionLevel::Fastest,
        )),
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("no such coding: {other}"),
        )),
    }
}

/// Which answer a cache entry is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    path: String,
    etag: String,
    coding: &'static str,
}

#[derive(Debug)]
struct Cached {
    bytes: Arc<[u8]>,
    used: u64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, Cached>,
    bytes: usize,
}

/// Compressed answers, at most `capacity` bytes of them.
#[derive(Debug)]
pub(crate) struct CompressCache {
    capacity: usize,
    inner: Mutex<Inner>,
    clock: AtomicU64,
}

impl CompressCache {
    pub(crate) fn new(capacity: usize) -> CompressCache {
        CompressCache {
            capacity,
            inner: Mutex::new(Inner::default()),
            clock: AtomicU64::new(0),
        }
    }

    /// The answer for (`path`, `etag`, `coding`): from the cache, or made by `make` (outside
    /// the lock, so that one compression never holds up the others) and kept if it fits.
    pub(crate) fn get_or_make(
        &self,
        path: &str,
        etag: &str,
        coding: &'static str,
        make: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Option<Arc<[u8]>> {
        let key = Key {
            path: path.to_owned(),
            etag: etag.to_owned(),
            coding,
        };
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = inner.entries.get_mut(&key) {
                cached.used = tick;
                return Some(Arc::clone(&cached.bytes));
            }
        }
        let bytes: Arc<[u8]> = make()?.into();
        if bytes.len() > self.capacity / 4 {
            return Some(bytes); // too big to keep without pushing out everything else
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        // An older version of the same file (another ETag) goes first.
        let stale: Vec<Key> = inner
            .entries
            .keys()
            .filter(|k| k.path == key.path && k.coding == coding && k.etag != key.etag)
            .cloned()
            .collect();
        for old in stale {
            if let Some(gone) = inner.entries.remove(&old) {
                inner.bytes -= gone.bytes.len();
            }
        }
        while inner.bytes + bytes.len() > self.capacity {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, c)| c.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = inner.entries.remove(&oldest) {
                inner.bytes -= gone.bytes.len();
            }
        }
        if let Some(previous) = inner.entries.insert(
            key,
            Cached {
                bytes: Arc::clone(&bytes),
                used: tick,
            },
        ) {
            inner.bytes -= previous.bytes.len();
        }
        inner.bytes += bytes.len();
        Some(bytes)
    }

    /// Bytes kept now.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn decode(coding: &str, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            "gzip" => {
                flate2::read::GzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            "br" => {
                brotli::Decompressor::new(bytes, 4096)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            "zstd" => {
                ruzstd::decoding::StreamingDecoder::new(bytes)
                    .unwrap()
                    .read_to_end(&mut out)
                    .unwrap();
            }
            _ => unreachable!(),
        }
        out
    }

    #[test]
    fn every_coding_round_trips() {
        let text = "lido serves files; ".repeat(500).into_bytes();
        for coding in CODINGS {
            let packed = compress(coding, &text).unwrap();
            assert!(packed.len() < text.len() / 5, "{coding}: {}", packed.len());
            assert_eq!(decode(coding, &packed), text, "{coding}");
        }
        assert!(compress("deflate", &text).is_err());
    }

    #[test]
    fn compressible_types() {
        for yes in [
            "text/html; charset=utf-8",
            "text/css",
            "application/javascript; charset=utf-8",
            "application/json",
            "image/svg+xml",
            "application/vnd.api+json",
            "application/wasm",
        ] {
            assert!(compressible(yes), "{yes}");
        }
        for no in [
            "image/png",
            "font/woff2",
            "application/zip",
            "video/mp4",
            "application/octet-stream",
        ] {
            assert!(!compressible(no), "{no}");
        }
    }

    #[test]
    fn the_cache_is_bounded_and_keeps_the_recent() {
        let cache = CompressCache::new(4000);
        let made = |n: usize| move || Some(vec![0u8; n]);
        cache.get_or_make("/a", "1", "br", made(900));
        cache.get_or_make("/b", "1", "br", made(900));
        cache.get_or_make("/c", "1", "br", made(900));
        // Using /a makes /b the least recent.
        assert!(cache.get_or_make("/a", "1", "br", || None).is_some());
        cache.get_or_make("/d", "1", "br", made(900));
        cache.get_or_make("/e", "1", "br", made(900));
        assert!(cache.bytes() <= 4000);
        assert!(
            cache.get_or_make("/b", "1", "br", || None).is_none(),
            "/b was evicted"
        );
        assert!(
            cache.get_or_make("/a", "1", "br", || None).is_some(),
            "/a was kept"
        );
        // A new version replaces the old one.
        cache.get_or_make("/a", "2", "br", made(100));
        assert!(cache.get_or_make("/a", "1", "br", || None).is_none());
        // Too big to keep: made, not kept.
        assert!(cache.get_or_make("/huge", "1", "br", made(1500)).is_some());
        assert!(cache.get_or_make("/huge", "1", "br", || None).is_none());
    }
}
