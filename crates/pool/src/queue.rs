//! The job queue: a bounded MPMC channel behind a private type, so that no `Mutex<Receiver>`
//! can creep in and the shutdown signal travels beside the jobs.

use std::any::Any;

use crossbeam_channel::{Receiver, Sender, TrySendError, select};

/// A queued closure. Unlike `Box<dyn FnOnce()>` it can be turned back into the caller's
/// concrete type, which is how `try_execute` hands a refused closure back.
pub(crate) trait Task: Send {
    fn run(self: Box<Self>);
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<F: FnOnce() + Send + 'static> Task for F {
    fn run(self: Box<Self>) {
        (*self)()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A job as the workers see it.
pub(crate) type Job = Box<dyn Task>;

/// The submitting half: held by the pool handle.
#[derive(Debug)]
pub(crate) struct Injector {
    jobs: Sender<Job>,
}

/// The taking half: cloned into every worker.
#[derive(Debug, Clone)]
pub(crate) struct Stealer {
    jobs: Receiver<Job>,
    /// Never sent on; disconnected (by dropping [`StopSignal`]) when shutdown begins.
    stop: Receiver<()>,
}

/// Dropping it tells every worker to drain the queue and leave.
#[derive(Debug)]
pub(crate) struct StopSignal {
    _stop: Sender<()>,
}

/// What a worker got from [`Stealer::take`].
pub(crate) enum Taken {
    Job(Job),
    /// Shutdown began; the worker should drain with [`Stealer::try_take`] and leave.
    Stop,
}

pub(crate) fn new(capacity: usize) -> (Injector, Stealer, StopSignal) {
    let (jobs_tx, jobs_rx) = crossbeam_channel::bounded(capacity);
    let (stop_tx, stop_rx) = crossbeam_channel::bounded(0);
    (
        Injector { jobs: jobs_tx },
        Stealer {
            jobs: jobs_rx,
            stop: stop_rx,
        },
        StopSignal { _stop: stop_tx },
    )
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

    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }
}

impl Stealer {
    /// Takes the next job without waiting.
    pub(crate) fn try_take(&self) -> Option<Job> {
        self.jobs.try_recv().ok()
    }

    /// Takes the next job, parking until one arrives or shutdown begins.
    ///
    /// The fast path is a plain `try_recv`; only an empty queue pays for the two-channel select.
    /// A send wakes one parked receiver, so one job wakes at most one worker.
    pub(crate) fn take(&self) -> Taken {
        if let Some(job) = self.try_take() {
            return Taken::Job(job);
        }
        select! {
            recv(self.jobs) -> job => match job {
                Ok(job) => Taken::Job(job),
                Err(_) => Taken::Stop,
            },
            recv(self.stop) -> _ => Taken::Stop,
        }
    }
}
