//! Helpers shared by lido-pool's integration tests: a deadline, a polling wait and a gate.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `cond` until it holds or the deadline passes.
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::yield_now();
    }
}

/// A gate jobs wait on until the test opens it (or the deadline passes).
#[derive(Clone, Default)]
pub(crate) struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    pub(crate) fn wait(&self) {
        let (lock, cv) = &*self.0;
        let deadline = Instant::now() + DEADLINE;
        let mut open = lock.lock().unwrap();
        while !*open {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "gate never opened");
            open = cv.wait_timeout(open, left).unwrap().0;
        }
    }

    pub(crate) fn open(&self) {
        let (lock, cv) = &*self.0;
        *lock.lock().unwrap() = true;
        cv.notify_all();
    }
}
