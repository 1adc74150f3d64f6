//! The job queue: a bounded MPMC channel behind a private type, so that no `Mutex<Receiver>`
//! can creep in. Shutdown wakes parked workers with no-op [`Wake`] tasks through the same
//! channel, so a worker only ever blocks in one plain `recv`.

use std::any::Any;

use crossbeam_channel::{Receiver, Sender, TrySendError};

/// A queued closure. Unlike `Box<dyn FnOnce()>` it can be turned back into the caller's
/// concrete type, which is how `try_execute` hands a refused closure back.
pub(crate) trait Task: Send {
    fn run(self: Box<Self>);
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    /// `true` only for [`Wake`]: not a job, not counted.
    fn is_wake(&self) -> bool {
        false
    }
}

impl<F: FnOnce() + Send + 'static> Task for F {
    fn run(self: Box<Self>) {
        (*self)()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Sent at shutdown so that a worker parked on an empty queue wakes and notices.
struct Wake;

impl Task for Wake {
    fn run(self: Box<Self>) {}

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }

    fn is_wake(&self) -> bool {
        true
    }
}

/// A job as the workers see it.
pub(crate) type Job = Box<dyn Task>;

/// The submitting half: held by the pool handle (and, for [`Injector::wake`], by the workers'
/// shared state).
#[derive(Debug, Clone)]
pub(crate) struct Injector {
    jobs: Sender<Job>,
}

/// The taking half: cloned into every worker.
#[derive(Debug, Clone)]
pub(crate) struct Stealer {
    jobs: Receiver<Job>,
}

/// A bounded queue of `capacity` (at least 1) jobs.
pub(crate) fn new(capacity: usize) -> (Injector, Stealer) {
    let (jobs_tx, jobs_rx) = crossbeam_channel::bounded(capacity);
    (Injector { jobs: jobs_tx }, Stealer { jobs: jobs_rx })
}

impl Injector {
    /// Waits for room, then queues `job`. Never fails: the receivers live as long as the pool.
    pub(crate) fn push(&self, job: Job) -> Result<(), Job> {
        self.jobs.send(job).map_err(|e| e.into_inner())
    }

    /// Queues `job` if there is room right now.
    pub(crate) fn try_push(&self, job: Job) -> Result<(), Job> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
        })
    }

    /// Queues up to `workers` wake-ups, as many as fit: a worker parked in `recv` has an empty
    /// queue, so there is room for the wake-up it needs; a full queue means busy workers, which
    /// look at the shutdown flag after every job.
    /// Returns how many were queued.
    pub(crate) fn wake(&self, workers: usize) -> usize {
        let mut sent = 0;
        while sent < workers && self.jobs.try_send(Box::new(Wake)).is_ok() {
            sent += 1;
        }
        sent
    }
}

impl Stealer {
    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Takes the next job without waiting.
    pub(crate) fn try_take(&self) -> Option<Job> {
        self.jobs.try_recv().ok()
    }

    /// Takes the next job, parking until one arrives. A send wakes one parked receiver, so one
    /// job wakes at most one worker. (A plain `recv`: trying `try_recv` first measured twice
    /// as slow under a flood of tiny jobs.)
    pub(crate) fn take(&self) -> Option<Job> {
        self.jobs.recv().ok()
    }
}
