//! Where idle workers sleep. A worker that finds the queue empty spins for a moment (a new job
//! usually follows within nanoseconds during a burst), then sleeps here until a submitter wakes
//! it. A submitter pays for a wake-up (a lock and a futex call) only when a worker sleeps; with
//! none asleep, its cost is one load.
//!
//! Why not spin longer or `yield_now`: on a server there are more threads than cores. A spinning
//! or yielding worker burns the core that the thread it waits for (the submitter) needs, and on
//! a virtual machine long `pause` loops also make the hypervisor deschedule the vCPU. Measured on
//! a 2-core VM (1M empty jobs, 2 workers, 1,024 slots): no spin at all 43-48 ms, this bounded
//! spin 15-22 ms; the crossbeam-channel queue used before (whose blocking operations spin, then
//! `yield_now`, then park) 38-115 ms, and 160-550 ms with two CPU hogs beside it, where every
//! yield hands the core to a hog.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crossbeam_utils::CachePadded;

/// How many times an idle worker looks at the queue (with a `pause` in between) before it goes
/// to sleep: about a microsecond, well under the cost of a sleep and a wake-up.
pub(crate) const SPIN_CHECKS: u32 = 64;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sleeping workers and the wake-ups owed to them.
#[derive(Debug, Default)]
pub(crate) struct Idle {
    /// Workers that announced they sleep and have not been claimed by a waker. Written only when
    /// a worker falls asleep or is woken, so submitters read it from their cache.
    sleepers: CachePadded<AtomicUsize>,
    /// Wake-ups granted (each claimed one sleeper) and not yet taken.
    tokens: Mutex<usize>,
    cv: Condvar,
}

/// Why [`Idle::sleep`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// A submitter woke this worker, or work appeared while it was falling asleep.
    Work,
    /// `stop` became true.
    Stop,
    /// The timeout passed.
    Timeout,
}

impl Idle {
    /// Wakes one sleeping worker, if any. Call after queuing a job: the queue operation and the
    /// `SeqCst` load here pair with the sleeper's announcement and re-check in [`Idle::sleep`],
    /// so a job is never left with every worker asleep.
    pub(crate) fn wake_one(&self) {
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut tokens = lock(&self.tokens);
        // Another submitter may have claimed the sleeper meanwhile.
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            *tokens += 1;
            self.cv.notify_one();
        }
    }

    /// Wakes every sleeper so that it looks at `stop` (shutdown).
    pub(crate) fn wake_all(&self) {
        let _tokens = lock(&self.tokens);
        self.cv.notify_all();
    }

    /// Sleeps until a submitter wakes this worker, `stop()` is true, or `timeout` passes.
    /// `has_work` is checked after the sleep is announced: work queued before the announcement
    /// is seen there, work queued after it brings a wake-up.
    pub(crate) fn sleep(
        &self,
        has_work: impl Fn() -> bool,
        stop: impl Fn() -> bool,
        timeout: Option<Duration>,
    ) -> Woken {
        let mut tokens = lock(&self.tokens);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let why = loop {
            if *tokens > 0 {
                // Ours, or one meant for another sleeper: either way one sleeper fewer.
                *tokens -= 1;
                return Woken::Work;
            }
            if has_work() {
                break Woken::Work;
            }
            if stop() {
                break Woken::Stop;
            }
            match timeout {
                None => tokens = self.cv.wait(tokens).unwrap_or_else(PoisonError::into_inner),
                Some(timeout) => {
                    let (next, result) = self
                        .cv
                        .wait_timeout(tokens, timeout)
                        .unwrap_or_else(PoisonError::into_inner);
                    tokens = next;
                    if result.timed_out() && *tokens == 0 {
                        break Woken::Timeout;
                    }
                }
            }
        };
        // Leaving without a token: withdraw the announcement.
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        why
    }
}
