//! Worker threads: take a job, run it under `catch_unwind`, repeat; drain and leave on shutdown.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::shared::Shared;

/// Starts worker `index` (with `thread::Builder`, so failure is an error, not a panic).
pub(crate) fn spawn(shared: &Arc<Shared>, index: usize) -> io::Result<JoinHandle<()>> {
    let mut builder =
        thread::Builder::new().name(format!("{}-{}", shared.config.thread_name, index));
    if let Some(size) = shared.config.stack_size {
        builder = builder.stack_size(size);
    }
    let worker_shared = Arc::clone(shared);
    shared.worker_started();
    builder
        .spawn(move || run(worker_shared, index))
        .inspect_err(|_| shared.worker_exited())
}

fn run(shared: Arc<Shared>, index: usize) {
    shared.enter_worker();
    let sentinel = Sentinel {
        shared: &shared,
        index,
    };
    while !shared.is_closing() {
        let Some(job) = shared.stealer.take() else {
            break;
        };
        run_or_skip(&shared, index, job);
        shared.after_job();
    }
    // Shutdown began: run what is queued. A submitter that passed the CLOSED check before it was
    // set may still be sending, so leave only once every accepted job has been started (then
    // only wake-up tasks can be left, which the last worker out discards).
    loop {
        match shared.stealer.try_take() {
            Some(job) => run_or_skip(&shared, index, job),
            None if shared.all_started() => break,
            None => thread::yield_now(),
        }
    }
    // The shutdown wake-ups may have been taken by workers that were not parked (and skipped
    // while draining): pass one on, so a worker still parked wakes and leaves too.
    shared.wake_one();
    drop(sentinel);
}

/// Runs a job; a wake-up task is only counted.
fn run_or_skip(shared: &Shared, index: usize, job: crate::queue::Job) {
    if job.is_wake() {
        shared.took_wake();
    } else {
        shared.run(index, job);
    }
}

/// Keeps the pool at its size: if the worker loop itself unwinds (jobs cannot make it: they run
/// under `catch_unwind`), a replacement takes the same slot.
struct Sentinel<'a> {
    shared: &'a Arc<Shared>,
    index: usize,
}

impl Drop for Sentinel<'_> {
    fn drop(&mut self) {
        if thread::panicking()
            && let Ok(handle) = spawn(self.shared, self.index)
        {
            self.shared.set_handle(self.index, handle);
        }
        self.shared.worker_exited();
    }
}
