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
    Shared::run_hook(shared.config.on_thread_start.as_deref());
    let sentinel = Sentinel {
        shared: &shared,
        index,
    };
    while let Some(job) = shared.next_job() {
        shared.run(index, job);
        shared.after_job();
    }
    Shared::run_hook(shared.config.on_thread_stop.as_deref());
    drop(sentinel);
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
