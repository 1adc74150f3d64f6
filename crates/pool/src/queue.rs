//! The job queue: a bounded lock-free MPMC array (`crossbeam-queue`'s `ArrayQueue`) behind a
//! private type, so that no `Mutex<Receiver>` can creep in. It never blocks: waiting for a job
//! or for room is the pool's business ([`crate::idle`], `Shared::push_when_room`), so that no
//! wait inside it can spin or `yield_now` on an oversubscribed machine.

use std::any::Any;

use crossbeam_queue::ArrayQueue;

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

/// A bounded queue of jobs.
#[derive(Debug)]
pub(crate) struct Queue {
    jobs: ArrayQueue<Job>,
}

impl Queue {
    /// A queue of `capacity` (at least 1) jobs.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            jobs: ArrayQueue::new(capacity.max(1)),
        }
    }

    /// Queues `job` if there is room now; hands it back if not.
    pub(crate) fn push(&self, job: Job) -> Result<(), Job> {
        self.jobs.push(job)
    }

    /// Takes the oldest job, if any.
    pub(crate) fn pop(&self) -> Option<Job> {
        self.jobs.pop()
    }

    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}
