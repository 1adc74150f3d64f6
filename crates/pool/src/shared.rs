//! State shared by the pool handle and its workers.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::queue::{Job, Stealer, StopSignal};
use crate::stats::WorkerCounters;

/// The user's panic handler.
pub(crate) type PanicHandler = dyn Fn(Box<dyn Any + Send>) + Send + Sync;

// `state` packs three fields into one word so that a submission costs two atomic operations on
// one cache line that workers never write:
//
//   bits 0..23   submitters between their check of CLOSED and the end of their send;
//   bit  23      CLOSED: shutdown began;
//   bits 24..64  jobs accepted so far, wrapping (pending = accepted - finished, modulo 2^40).

/// One submitter in flight.
const IN_FLIGHT: u64 = 1;
/// Mask of the in-flight count.
const IN_FLIGHT_MASK: u64 = (1 << 23) - 1;
/// Set once shutdown began.
const CLOSED: u64 = 1 << 23;
/// One accepted job.
const ACCEPTED: u64 = 1 << 24;
/// Mask for the accepted count once shifted down (and for `pending`).
const ACCEPTED_MASK: u64 = (1 << 40) - 1;

thread_local! {
    /// The pool (by `Shared` address) whose worker this thread is; 0 elsewhere.
    static CURRENT_POOL: Cell<usize> = const { Cell::new(0) };
}

/// How worker threads are made.
pub(crate) struct Config {
    pub(crate) thread_name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) panic_handler: Option<Box<PanicHandler>>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("thread_name", &self.thread_name)
            .field("stack_size", &self.stack_size)
            .field("panic_handler", &self.panic_handler.is_some())
            .finish()
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// Submitters in flight, `CLOSED`, jobs accepted (see the consts above). Written by
    /// submitters only.
    state: CachePadded<AtomicU64>,
    rejected: AtomicU64,
    pub(crate) slots: Box<[CachePadded<WorkerCounters>]>,
    pub(crate) stealer: Stealer,
    stop: Mutex<Option<StopSignal>>,
    /// Threads in `join` (or in `shutdown`'s wait), so workers know to notify.
    waiters: AtomicUsize,
    /// Jobs of this pool that are themselves waiting in `join`; `join` does not wait for them.
    joining_jobs: AtomicUsize,
    wait_lock: Mutex<()>,
    wait_cv: Condvar,
    alive: AtomicUsize,
    pub(crate) handles: Mutex<Vec<Option<JoinHandle<()>>>>,
    pub(crate) config: Config,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(threads: usize, stealer: Stealer, stop: StopSignal, config: Config) -> Self {
        Self {
            state: CachePadded::new(AtomicU64::new(0)),
            rejected: AtomicU64::new(0),
            slots: (0..threads).map(|_| CachePadded::default()).collect(),
            stealer,
            stop: Mutex::new(Some(stop)),
            waiters: AtomicUsize::new(0),
            joining_jobs: AtomicUsize::new(0),
            wait_lock: Mutex::new(()),
            wait_cv: Condvar::new(),
            alive: AtomicUsize::new(0),
            handles: Mutex::new((0..threads).map(|_| None).collect()),
            config,
        }
    }

    fn id(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }

    /// Marks the current thread as a worker of this pool.
    pub(crate) fn enter_worker(self: &Arc<Self>) {
        CURRENT_POOL.with(|c| c.set(self.id()));
    }

    /// `true` on one of this pool's worker threads.
    pub(crate) fn on_worker(self: &Arc<Self>) -> bool {
        CURRENT_POOL.with(|c| c.get()) == self.id()
    }

    /// Starts a submission: `false` once shutdown began. On `true` the caller must call
    /// [`Shared::sent`] or [`Shared::refused`].
    pub(crate) fn enter(&self) -> bool {
        let prev = self.state.fetch_add(IN_FLIGHT + ACCEPTED, Ordering::SeqCst);
        if prev & CLOSED != 0 {
            self.state.fetch_sub(IN_FLIGHT + ACCEPTED, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// The job counted by `enter` is in the queue.
    pub(crate) fn sent(&self) {
        self.state.fetch_sub(IN_FLIGHT, Ordering::SeqCst);
    }

    /// The job counted by `enter` was not queued after all.
    pub(crate) fn refused(&self) {
        self.state.fetch_sub(IN_FLIGHT + ACCEPTED, Ordering::SeqCst);
        self.notify_waiters();
    }

    pub(crate) fn reject(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// No submitter is between its check of `CLOSED` and the end of its send.
    pub(crate) fn no_submitters(&self) -> bool {
        self.state.load(Ordering::SeqCst) & IN_FLIGHT_MASK == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Refuses new jobs and tells the workers to drain the queue and leave.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, Ordering::SeqCst);
        drop(lock(&self.stop).take());
    }

    /// Runs one job on worker `index`, catching a panic.
    pub(crate) fn run(&self, index: usize, job: Job) {
        let counters = &self.slots[index];
        counters.start();
        let result = catch_unwind(AssertUnwindSafe(|| job.run()));
        let panicked = result.is_err();
        if let Err(payload) = result {
            self.on_panic(payload);
        }
        counters.finish(panicked);
        self.notify_waiters();
    }

    fn on_panic(&self, payload: Box<dyn Any + Send>) {
        // Neither the handler nor the payload's destructor may take the worker down.
        let outcome = catch_unwind(AssertUnwindSafe(|| match &self.config.panic_handler {
            Some(handler) => handler(payload),
            None => drop(payload),
        }));
        if let Err(second) = outcome {
            std::mem::forget(second);
        }
    }

    /// Jobs accepted and not finished. Never less than the true count: `finished` is summed
    /// before `accepted` is read, and a job is counted as accepted before it is sent.
    fn pending(&self) -> u64 {
        let finished = crate::stats::finished(self.slots.iter().map(|s| &**s));
        let accepted = self.state.load(Ordering::SeqCst) >> 24;
        accepted.wrapping_sub(finished) & ACCEPTED_MASK
    }

    fn notify_waiters(&self) {
        if self.waiters.load(Ordering::SeqCst) != 0 {
            let _guard = lock(&self.wait_lock);
            self.wait_cv.notify_all();
        }
    }

    /// Waits until every job is done but those (of this pool) that are themselves in `join`.
    pub(crate) fn join(self: &Arc<Self>) {
        let in_job = self.on_worker();
        if in_job {
            self.joining_jobs.fetch_add(1, Ordering::SeqCst);
        }
        self.waiters.fetch_add(1, Ordering::SeqCst);
        if in_job {
            self.notify_waiters();
        }
        let mut guard = lock(&self.wait_lock);
        while self.pending() > self.joining_jobs.load(Ordering::SeqCst) as u64 {
            guard = self
                .wait_cv
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        if in_job {
            self.joining_jobs.fetch_sub(1, Ordering::SeqCst);
        }
    }

    pub(crate) fn alive(&self) -> usize {
        self.alive.load(Ordering::SeqCst)
    }

    pub(crate) fn worker_started(&self) {
        self.alive.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn worker_exited(&self) {
        self.alive.fetch_sub(1, Ordering::SeqCst);
        let _guard = lock(&self.wait_lock);
        self.wait_cv.notify_all();
    }

    /// Waits until every worker has left, or `deadline` passes. Returns `true` if all left.
    pub(crate) fn wait_exited(&self, deadline: Option<Instant>) -> bool {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = lock(&self.wait_lock);
        let all_left = loop {
            if self.alive() == 0 {
                break true;
            }
            match deadline {
                None => {
                    guard = self
                        .wait_cv
                        .wait(guard)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break false;
                    }
                    guard = self
                        .wait_cv
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        };
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        all_left
    }

    /// Joins every worker thread whose handle is still held. Call only once all have left.
    pub(crate) fn join_handles(&self) {
        let handles: Vec<_> = lock(&self.handles)
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for handle in handles {
            // A worker never unwinds out of its loop (jobs run under catch_unwind), and if it
            // did, the sentinel already replaced it: nothing to report here.
            let _ = handle.join();
        }
    }

    pub(crate) fn set_handle(&self, index: usize, handle: JoinHandle<()>) {
        lock(&self.handles)[index] = Some(handle);
    }
}
