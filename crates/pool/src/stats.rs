//! Counters: per-worker slots written by one thread each, summed when read.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a pool's counters, from [`ThreadPool::stats`](crate::ThreadPool::stats).
///
/// The fields are read one after the other while the pool runs, so a snapshot taken under load
/// is approximate; once the pool is idle (for example after [`join`](crate::ThreadPool::join))
/// it is exact.
///
/// # Examples
///
/// ```
/// use lido_pool::ThreadPool;
///
/// let pool = ThreadPool::new(2);
/// pool.execute(|| ())?;
/// pool.execute(|| panic!("boom"))?;
/// pool.join();
/// let stats = pool.stats();
/// assert_eq!((stats.threads, stats.completed, stats.panicked), (2, 1, 1));
/// assert_eq!((stats.active, stats.queued, stats.rejected), (0, 0, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Worker threads alive now.
    pub threads: usize,
    /// Jobs running now.
    pub active: usize,
    /// Jobs accepted and waiting in the queue.
    pub queued: usize,
    /// Jobs that returned normally.
    pub completed: u64,
    /// Jobs that panicked (caught; the worker lived on).
    pub panicked: u64,
    /// Jobs refused: `try_execute` on a full queue, or any submission after shutdown began.
    pub rejected: u64,
    /// Jobs dropped without running by [`ThreadPool::shutdown_now`](crate::ThreadPool::shutdown_now).
    pub discarded: u64,
}

/// One worker's counters. Only the worker that owns the slot writes them, so an increment is a
/// plain load and store on a cache line no other thread writes.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    started: AtomicU64,
    finished: AtomicU64,
    panicked: AtomicU64,
}

fn bump(counter: &AtomicU64, order: Ordering) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(1), order);
}

impl WorkerCounters {
    pub(crate) fn start(&self) {
        bump(&self.started, Ordering::Release);
    }

    pub(crate) fn finish(&self, panicked: bool) {
        if panicked {
            bump(&self.panicked, Ordering::Release);
        }
        bump(&self.finished, Ordering::Release);
    }
}

/// Sums the slots. `finished` is read before `started` so `active` never comes out negative.
pub(crate) fn sum<'a>(slots: impl Iterator<Item = &'a WorkerCounters> + Clone) -> (u64, u64, u64) {
    let mut finished = 0;
    let mut panicked = 0;
    for slot in slots.clone() {
        panicked += slot.panicked.load(Ordering::Acquire);
        finished += slot.finished.load(Ordering::Acquire);
    }
    let started: u64 = slots.map(|s| s.started.load(Ordering::Acquire)).sum();
    (started, finished, panicked)
}

/// Jobs finished (returned or panicked) on every worker, wrapping.
pub(crate) fn finished<'a>(slots: impl Iterator<Item = &'a WorkerCounters>) -> u64 {
    slots.fold(0u64, |sum, s| {
        sum.wrapping_add(s.finished.load(Ordering::SeqCst))
    })
}

/// Jobs started on every worker, wrapping.
pub(crate) fn started<'a>(slots: impl Iterator<Item = &'a WorkerCounters>) -> u64 {
    slots.fold(0u64, |sum, s| {
        sum.wrapping_add(s.started.load(Ordering::SeqCst))
    })
}
