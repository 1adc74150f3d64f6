//! Sharing the CPU: a worker that has not slept for a while offers its CPU to whatever else
//! waits for it.
//!
//! Under load a leader/followers worker always finds another ready connection, so it never
//! sleeps in `epoll_wait`. The kernel then lets it run until its time slice ends, and it
//! notices that only at the timer tick (4 ms with `HZ=250`, this machine's kernel): a process
//! woken meanwhile on that CPU (a client on the same host, a database, the other half of a
//! proxy) waits up to a tick for it. Measured with `wrk -t2 -c32` beside the server: wrk's
//! threads waited 1.03 ms on average and up to 8 ms for a CPU, and its p99 was 4.2 ms where
//! the reactor engine, whose threads sleep at every hand-off, had 0.8 ms. A worker that has run for
//! [`YIELD_AFTER`] without sleeping calls `sched_yield` once: if nothing else is runnable it
//! returns at once, otherwise the other task runs first. See docs/DESIGN.md §2 for the figures.

use std::time::{Duration, Instant};

/// How long a worker runs without sleeping before it yields once. Shorter cut p99 further
/// and cost throughput (0.25 ms: -24% req/s); 1 ms cost 3-5%.
pub(super) const YIELD_AFTER: Duration = Duration::from_millis(1);

/// An `epoll_wait` that took longer than this slept (one that finds an event ready returns in
/// about a microsecond).
const SLEPT: Duration = Duration::from_micros(20);

/// One worker's time since it last slept.
#[derive(Debug)]
pub(super) struct CpuShare {
    running_since: Instant,
}

impl CpuShare {
    pub(super) fn new(now: Instant) -> CpuShare {
        CpuShare { running_since: now }
    }

    /// After a wait that began at `before` and returned at `after`: whether the worker should
    /// yield its CPU now. Counting starts again from `after` either way.
    pub(super) fn after_wait(&mut self, before: Instant, after: Instant) -> bool {
        let slept = after.saturating_duration_since(before) > SLEPT;
        let due = after.saturating_duration_since(self.running_since) > YIELD_AFTER;
        if slept || due {
            self.running_since = after;
        }
        !slept && due
    }

    /// Yields the CPU if the wait from `before` to `after` says so.
    pub(super) fn yield_if_due(&mut self, before: Instant, after: Instant) {
        if self.after_wait(before, after) {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_never_sleeps_yields_once_per_period() {
        let start = Instant::now();
        let mut share = CpuShare::new(start);
        let mut yields = 0;
        // 10 ms of back-to-back turns, 5 µs each, every wait returning at once.
        for turn in 1..=2000u32 {
            let before = start + Duration::from_micros(5) * turn;
            if share.after_wait(before, before + Duration::from_micros(1)) {
                yields += 1;
            }
        }
        assert!((9..=10).contains(&yields), "{yields} yields in 10 ms");
    }

    #[test]
    fn a_wait_that_slept_starts_the_count_again() {
        let start = Instant::now();
        let mut share = CpuShare::new(start);
        // Busy for 0.9 ms, then a wait that sleeps 100 µs, then busy for 0.9 ms: never due.
        let busy = start + Duration::from_micros(900);
        assert!(!share.after_wait(busy, busy + Duration::from_micros(1)));
        let woke = busy + Duration::from_micros(100);
        assert!(!share.after_wait(busy, woke));
        let later = woke + Duration::from_micros(900);
        assert!(!share.after_wait(later, later + Duration::from_micros(1)));
        // ...and due once more than YIELD_AFTER has passed since it woke.
        let due = woke + YIELD_AFTER + Duration::from_micros(10);
        assert!(share.after_wait(due, due));
        assert!(!share.after_wait(due, due), "counted again from the yield");
    }
}
