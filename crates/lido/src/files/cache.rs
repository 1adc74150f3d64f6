//! A bounded cache of what request paths resolve to: a file's metadata and, for small files,
//! their bytes; for larger ones the open file. A hit skips the path walk (one `lstat` per
//! component), the `open`, the `fstat`, the `read` and the `close` that every request paid
//! before (a third of the server's CPU on a 200-byte file, by `perf record`).
//!
//! **Freshness.** An entry is trusted for [`DEFAULT_FILE_RECHECK`] (1 s) after it was last
//! checked. The first request after that resolves the path again (the whole confinement walk,
//! as for a miss) and compares device, inode, length and modification time of the file and of
//! its precompressed siblings; if anything differs, the entry is replaced. So a changed file is
//! served stale for at most that long, and a path made to point elsewhere is re-confined
//! within it. A zero duration turns the cache off.
//!
//! **Bounds and eviction.** At most [`MAX_ENTRIES`] entries (which bounds the open files it
//! holds: one per file over [`MAX_INLINE`] bytes, and per precompressed sibling), files up to
//! [`MAX_INLINE`] bytes kept in memory, [`MAX_BYTES`] in all. The entries are split into
//! shards by path hash, each behind its own lock; inserting into a full shard, or past the
//! byte budget, evicts the entries used least recently in that shard (an approximate LRU:
//! recency is a counter bumped on every hit, scanned only on insertion).

use std::collections::HashMap;
use std::fs::Metadata;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::range::Content;

/// How long a cached file is served before its path is checked again (see
/// [`StaticFiles::recheck_files_after`](crate::StaticFiles::recheck_files_after)).
pub const DEFAULT_FILE_RECHECK: Duration = Duration::from_secs(1);
/// Most entries (paths) cached.
pub(crate) const MAX_ENTRIES: usize = 1024;
/// Files up to this size are kept in memory; larger ones as an open file.
pub(crate) const MAX_INLINE: u64 = 16 * 1024;
/// Most bytes of file content kept in memory.
pub(crate) const MAX_BYTES: usize = 16 * 1024 * 1024;
const SHARDS: usize = 8;

/// Entries by request path, behind one lock (read-locked for lookups: hits never wait for
/// each other).
type Shard = RwLock<HashMap<String, Arc<Entry>>>;

/// One representation of a file: the identity, or a precompressed sibling.
#[derive(Debug)]
pub(crate) struct Representation {
    pub(crate) content: Content,
    pub(crate) meta: Metadata,
}

impl Representation {
    fn bytes(&self) -> usize {
        match &self.content {
            Content::Memory(bytes) => bytes.len(),
            Content::File(_) => 0,
        }
    }

    /// The same file, unchanged: device, inode, length and modification time.
    fn same_as(&self, other: &Representation) -> bool {
        super::resolve::same_file(&self.meta, &other.meta)
            && (self.meta.len(), self.meta.modified().ok())
                == (other.meta.len(), other.meta.modified().ok())
    }
}

/// What a request path resolved to: a regular file and its precompressed siblings.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) content_type: String,
    pub(crate) identity: Representation,
    /// Precompressed siblings found, best first: (content coding, representation).
    pub(crate) siblings: Vec<(&'static str, Representation)>,
    /// When it was last checked against the file system, in nanoseconds since the cache's
    /// epoch.
    checked: AtomicU64,
    /// Recency, for eviction.
    used: AtomicU64,
}

impl Entry {
    pub(crate) fn new(
        content_type: String,
        identity: Representation,
        siblings: Vec<(&'static str, Representation)>,
    ) -> Self {
        Self {
            content_type,
            identity,
            siblings,
            checked: AtomicU64::new(0),
            used: AtomicU64::new(0),
        }
    }

    fn bytes(&self) -> usize {
        self.identity.bytes() + self.siblings.iter().map(|(_, r)| r.bytes()).sum::<usize>()
    }

    /// The same files as `other`, none changed.
    pub(crate) fn same_as(&self, other: &Entry) -> bool {
        self.identity.same_as(&other.identity)
            && self.siblings.len() == other.siblings.len()
            && self
                .siblings
                .iter()
                .zip(&other.siblings)
                .all(|((a, x), (b, y))| a == b && x.same_as(y))
    }
}

/// The result of a lookup.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Checked less than `fresh_for` ago: serve it.
    Fresh(Arc<Entry>),
    /// Cached, but due for a check.
    Stale(Arc<Entry>),
    Miss,
}

pub(crate) struct FileCache {
    epoch: Instant,
    fresh_for: Duration,
    hasher: RandomState,
    shards: Box<[Shard]>,
    bytes: AtomicUsize,
    clock: AtomicU64,
}

impl std::fmt::Debug for FileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCache")
            .field("fresh_for", &self.fresh_for)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl FileCache {
    pub(crate) fn new(fresh_for: Duration) -> Self {
        Self {
            epoch: Instant::now(),
            fresh_for,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            bytes: AtomicUsize::new(0),
            clock: AtomicU64::new(0),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        !self.fresh_for.is_zero()
    }

    fn shard(&self, key: &str) -> &Shard {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    fn nanos(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn get(&self, key: &str, now: Instant) -> Lookup {
        if !self.enabled() {
            return Lookup::Miss;
        }
        let entry = self
            .shard(key)
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        let Some(entry) = entry else {
            return Lookup::Miss;
        };
        entry.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let age = self
            .nanos(now)
            .saturating_sub(entry.checked.load(Ordering::Relaxed));
        if u128::from(age) < self.fresh_for.as_nanos() {
            Lookup::Fresh(entry)
        } else {
            Lookup::Stale(entry)
        }
    }

    /// `entry` was just found unchanged on disk.
    pub(crate) fn checked(&self, entry: &Entry, now: Instant) {
        entry.checked.store(self.nanos(now), Ordering::Relaxed);
    }

    /// Caches `entry` (checked `now`) under `key`, replacing what was there, evicting as the
    /// bounds require; returns it shared.
    pub(crate) fn insert(&self, key: &str, entry: Entry, now: Instant) -> Arc<Entry> {
        let entry = Arc::new(entry);
        if !self.enabled() {
            return entry;
        }
        let size = entry.bytes();
        if size > MAX_BYTES / SHARDS {
            return entry; // would take a whole shard's share
        }
        self.checked(&entry, now);
        entry.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let mut shard = self
            .shard(key)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = shard.remove(key) {
            self.bytes.fetch_sub(old.bytes(), Ordering::Relaxed);
        }
        while !shard.is_empty()
            && (shard.len() >= MAX_ENTRIES / SHARDS
                || self.bytes.load(Ordering::Relaxed) + size > MAX_BYTES)
        {
            let Some(oldest) = shard
                .iter()
                .min_by_key(|(_, e)| e.used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(old) = shard.remove(&oldest) {
                self.bytes.fetch_sub(old.bytes(), Ordering::Relaxed);
            }
        }
        if self.bytes.load(Ordering::Relaxed) + size <= MAX_BYTES {
            self.bytes.fetch_add(size, Ordering::Relaxed);
            shard.insert(key.to_owned(), Arc::clone(&entry));
        }
        entry
    }

    /// Forgets `key` (the path no longer names a regular file).
    pub(crate) fn remove(&self, key: &str) {
        if let Some(old) = self
            .shard(key)
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
        {
            self.bytes.fetch_sub(old.bytes(), Ordering::Relaxed);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(bytes: usize) -> Entry {
        let meta = std::fs::metadata(std::env::current_exe().unwrap()).unwrap();
        Entry::new(
            "text/plain".into(),
            Representation {
                content: Content::Memory(vec![0u8; bytes].into()),
                meta,
            },
            Vec::new(),
        )
    }

    #[test]
    fn fresh_then_stale_then_checked() {
        let cache = FileCache::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(matches!(cache.get("/a", t0), Lookup::Miss));
        cache.insert("/a", entry(10), t0);
        assert!(matches!(cache.get("/a", t0), Lookup::Fresh(_)));
        let later = t0 + Duration::from_millis(1500);
        let Lookup::Stale(e) = cache.get("/a", later) else {
            panic!("not stale");
        };
        cache.checked(&e, later);
        assert!(matches!(cache.get("/a", later), Lookup::Fresh(_)));
        cache.remove("/a");
        assert!(matches!(cache.get("/a", later), Lookup::Miss));
    }

    #[test]
    fn zero_freshness_is_off() {
        let cache = FileCache::new(Duration::ZERO);
        let now = Instant::now();
        cache.insert("/a", entry(1), now);
        assert!(matches!(cache.get("/a", now), Lookup::Miss));
    }

    #[test]
    fn entries_and_bytes_stay_bounded() {
        let cache = FileCache::new(Duration::from_secs(1));
        let now = Instant::now();
        for i in 0..5 * MAX_ENTRIES {
            cache.insert(&format!("/{i}"), entry(8 * 1024), now);
            assert!(cache.len() <= MAX_ENTRIES);
            assert!(cache.bytes.load(Ordering::Relaxed) <= MAX_BYTES);
        }
        // The most recent insert is always kept.
        assert!(matches!(
            cache.get(&format!("/{}", 5 * MAX_ENTRIES - 1), now),
            Lookup::Fresh(_)
        ));
    }

    #[test]
    fn the_least_recently_used_goes_first() {
        let cache = FileCache::new(Duration::from_secs(1));
        let now = Instant::now();
        // Fill one shard's worth of keys that land in the same shard as "/keep".
        let shard_of = |k: &str| cache.hasher.hash_one(k) as usize % SHARDS;
        let target = shard_of("/keep");
        cache.insert("/keep", entry(1), now);
        let mut i = 0;
        let mut inserted = 0;
        while inserted < 2 * (MAX_ENTRIES / SHARDS) {
            let key = format!("/k{i}");
            i += 1;
            if shard_of(&key) != target {
                continue;
            }
            // Touch "/keep" before every insert: it is never the least recently used.
            assert!(matches!(cache.get("/keep", now), Lookup::Fresh(_)));
            cache.insert(&key, entry(1), now);
            inserted += 1;
        }
        assert!(matches!(cache.get("/keep", now), Lookup::Fresh(_)));
    }
}
