//! State shared by the pool handle and its workers.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::idle::{Idle, Woken, lock};
use crate::queue::{Job, Queue};
use crate::stats::WorkerCounters;

/// The user's panic handler.
pub(crate) type PanicHandler = dyn Fn(Box<dyn Any + Send>) + Send + Sync;

/// A hook run on each worker thread as it starts or stops.
pub(crate) type ThreadHook = dyn Fn() + Send + Sync;

/// The payload a spawned job's wrapper unwinds with after handing the job's own panic to its
/// `JobHandle`: counted as a panic, not given to the panic handler.
pub(crate) struct HandedToJoin;

// `state` packs two fields into one word so that a submission costs one atomic operation on
// a cache line that workers never write:
//
//   bits 0..63  jobs accepted so far (wrapping; counted before the job is sent);
//   bit  63     CLOSED: shutdown began.
//
// With per-worker `started` and `finished` counters this answers both "is every job done"
// (`join`: accepted == finished) and "can another job still arrive" (the shutdown drain:
// accepted == started, once CLOSED is set).

/// One accepted job.
const ACCEPTED: u64 = 1;
/// Set once shutdown began.
const CLOSED: u64 = 1 << 63;
/// Mask of the accepted count (and of differences of counts).
const COUNT_MASK: u64 = CLOSED - 1;

/// While draining, how long a worker that found the queue empty waits for a submitter that is
/// still sending a job accepted before shutdown began (its push also wakes the worker).
const DRAIN_RECHECK: std::time::Duration = std::time::Duration::from_millis(1);

/// Longest sleep of a blocked submitter or a joiner between two checks, should a wake-up ever
/// be missed.
const WAIT_SAFETY_NET: std::time::Duration = std::time::Duration::from_millis(50);

thread_local! {
    /// The pool (by `Shared` address) whose worker this thread is; 0 elsewhere.
    static CURRENT_POOL: Cell<usize> = const { Cell::new(0) };
}

/// How worker threads are made.
pub(crate) struct Config {
    pub(crate) thread_name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) panic_handler: Option<Box<PanicHandler>>,
    pub(crate) on_thread_start: Option<Box<ThreadHook>>,
    pub(crate) on_thread_stop: Option<Box<ThreadHook>>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("thread_name", &self.thread_name)
            .field("stack_size", &self.stack_size)
            .field("panic_handler", &self.panic_handler.is_some())
            .field("on_thread_start", &self.on_thread_start.is_some())
            .field("on_thread_stop", &self.on_thread_stop.is_some())
            .finish()
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// Jobs accepted and `CLOSED` (see the consts above). Written by submitters only.
    state: CachePadded<AtomicU64>,
    rejected: AtomicU64,
    /// Queued jobs dropped without running by `shutdown_now`: counted as started and
    /// finished for the drain and `join`.
    discarded: AtomicU64,
    pub(crate) slots: Box<[CachePadded<WorkerCounters>]>,
    pub(crate) queue: Queue,
    pub(crate) idle: Idle,
    /// Set once shutdown began; read by workers when idle, written once.
    closing: CachePadded<AtomicBool>,
    /// Threads in `join` (or in `shutdown`'s wait), so workers know to notify.
    waiters: AtomicUsize,
    /// Jobs of this pool that are themselves waiting in `join`; `join` does not wait for them.
    joining_jobs: AtomicUsize,
    wait_lock: Mutex<()>,
    wait_cv: Condvar,
    alive: AtomicUsize,
    /// A submitter waits in `execute` for room in the queue; the first worker to find the queue
    /// at the low-water mark clears it and wakes the waiters, the others stay out of the lock.
    room_wanted: CachePadded<AtomicBool>,
    /// Blocked submitters are woken once the queue is down to this many jobs (three quarters of
    /// the capacity), not at every free slot: one wake-up then lets a submitter queue many
    /// jobs, instead of a sleep/wake-up pair per job, and the workers still have work queued
    /// while the submitter wakes up (a lower mark let them run dry and sleep in every cycle).
    low_water: usize,
    room_lock: Mutex<()>,
    room_cv: Condvar,
    pub(crate) handles: Mutex<Vec<Option<JoinHandle<()>>>>,
    pub(crate) config: Config,
}

impl Shared {
    pub(crate) fn new(threads: usize, capacity: usize, config: Config) -> Self {
        Self {
            state: CachePadded::new(AtomicU64::new(0)),
            rejected: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            slots: (0..threads).map(|_| CachePadded::default()).collect(),
            queue: Queue::new(capacity),
            idle: Idle::default(),
            closing: CachePadded::new(AtomicBool::new(false)),
            waiters: AtomicUsize::new(0),
            joining_jobs: AtomicUsize::new(0),
            wait_lock: Mutex::new(()),
            wait_cv: Condvar::new(),
            alive: AtomicUsize::new(0),
            room_wanted: CachePadded::new(AtomicBool::new(false)),
            low_water: capacity - capacity / 4,
            room_lock: Mutex::new(()),
            room_cv: Condvar::new(),
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

    /// Starts a submission: `false` once shutdown began. On `true` the caller must send the job
    /// or call [`Shared::refused`].
    pub(crate) fn enter(&self) -> bool {
        let prev = self.state.fetch_add(ACCEPTED, Ordering::SeqCst);
        if prev & CLOSED != 0 {
            self.state.fetch_sub(ACCEPTED, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// The job counted by `enter` was not queued after all.
    pub(crate) fn refused(&self) {
        self.state.fetch_sub(ACCEPTED, Ordering::SeqCst);
        self.notify_waiters();
    }

    pub(crate) fn reject(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Every accepted job has been started by some worker: once `CLOSED` is set, no job can
    /// still arrive in the queue (a submitter counts its job before sending it). `started` is
    /// summed first; it only grows and never passes `accepted`, so equality is exact.
    pub(crate) fn all_started(&self) -> bool {
        let started = crate::stats::started(self.slots.iter().map(|s| &**s))
            .wrapping_add(self.discarded.load(Ordering::SeqCst));
        let accepted = self.state.load(Ordering::SeqCst) & COUNT_MASK;
        accepted.wrapping_sub(started) & COUNT_MASK == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Refuses new jobs and tells the workers to drain the queue and leave.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, Ordering::SeqCst);
        self.closing.store(true, Ordering::SeqCst);
        self.idle.wake_all();
    }

    /// Jobs waiting in the queue.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Shutdown began (cheap: a read-mostly line).
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Queues `job` if there is room, and wakes a sleeping worker for it.
    pub(crate) fn try_push(&self, job: Job) -> Result<(), Job> {
        self.queue.push(job)?;
        self.idle.wake_one();
        Ok(())
    }

    /// After a job: if a thread waits in `join` and the queue is empty (this may have been the
    /// last job), let it recheck. A worker that misses a joiner that just arrived tells it
    /// before it sleeps (see [`Shared::before_sleep`]); notifying after every job instead would
    /// wake the joiner once per job while a long queue drains.
    pub(crate) fn after_job(&self) {
        if self.waiters.load(Ordering::Relaxed) != 0 && self.queue.is_empty() {
            std::sync::atomic::fence(Ordering::SeqCst);
            self.notify_waiters();
        }
    }

    /// Before a worker sleeps: its `finished` counter is published (the fence) before it looks
    /// for a joiner; the joiner registers before it reads the counters. One of the two sees the
    /// other.
    pub(crate) fn before_sleep(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        self.notify_waiters();
    }

    /// Waits for a job on worker `index`: a short spin, then sleep until woken. `None` when the
    /// worker should leave (shutdown began and every accepted job has started).
    pub(crate) fn next_job(&self) -> Option<Job> {
        loop {
            if let Some(job) = self.queue.pop() {
                return Some(job);
            }
            for _ in 0..crate::idle::SPIN_CHECKS {
                std::hint::spin_loop();
                if !self.queue.is_empty()
                    && let Some(job) = self.queue.pop()
                {
                    return Some(job);
                }
            }
            self.before_sleep();
            if self.is_closing() {
                if self.all_started() && self.queue.is_empty() {
                    return None;
                }
                // A submitter that passed the CLOSED check is still sending its job: wait for it
                // briefly (its push wakes us), then look again.
                self.idle
                    .sleep(|| !self.queue.is_empty(), || false, Some(DRAIN_RECHECK));
                continue;
            }
            let woken = self
                .idle
                .sleep(|| !self.queue.is_empty(), || self.is_closing(), None);
            debug_assert!(woken != Woken::Timeout, "an untimed sleep timed out");
        }
    }

    /// Runs one job on worker `index`, catching a panic.
    pub(crate) fn run(&self, index: usize, job: Job) {
        // Taking `job` made room: wake blocked submitters once the queue is low enough.
        if self.room_wanted.load(Ordering::SeqCst)
            && self.queue.len() <= self.low_water
            && self.room_wanted.swap(false, Ordering::SeqCst)
        {
            let _guard = lock(&self.room_lock);
            self.room_cv.notify_all();
        }
        let counters = &self.slots[index];
        counters.start();
        let result = catch_unwind(AssertUnwindSafe(|| job.run()));
        let panicked = result.is_err();
        if let Err(payload) = result {
            self.on_panic(payload);
        }
        counters.finish(panicked);
    }

    fn on_panic(&self, payload: Box<dyn Any + Send>) {
        // Neither the handler nor the payload's destructor may take the worker down.
        let outcome = catch_unwind(AssertUnwindSafe(|| match &self.config.panic_handler {
            Some(_) if payload.is::<HandedToJoin>() => {}
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
        let finished = crate::stats::finished(self.slots.iter().map(|s| &**s))
            .wrapping_add(self.discarded.load(Ordering::SeqCst));
        let accepted = self.state.load(Ordering::SeqCst) & COUNT_MASK;
        accepted.wrapping_sub(finished) & COUNT_MASK
    }

    fn notify_waiters(&self) {
        if self.waiters.load(Ordering::SeqCst) != 0 {
            let _guard = lock(&self.wait_lock);
            self.wait_cv.notify_all();
        }
    }

    /// Drops every queued job without running it (after `close`); how many.
    pub(crate) fn discard_queued(&self) -> usize {
        let mut dropped = 0;
        while let Some(job) = self.queue.pop() {
            // A job's captured values may panic as they drop: not our caller's problem.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(job))) {
                std::mem::forget(payload);
            }
            self.discarded.fetch_add(1, Ordering::SeqCst);
            dropped += 1;
        }
        self.notify_waiters();
        self.idle.wake_all();
        dropped
    }

    pub(crate) fn discarded(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }

    /// Runs a thread hook; a panic in it is swallowed (the worker must live on).
    pub(crate) fn run_hook(hook: Option<&ThreadHook>) {
        if let Some(hook) = hook
            && let Err(payload) = catch_unwind(AssertUnwindSafe(hook))
        {
            std::mem::forget(payload);
        }
    }

    /// Like [`Shared::push_when_room`], but gives the item back at `deadline`.
    pub(crate) fn push_until<T>(
        &self,
        mut item: T,
        deadline: Option<Instant>,
        mut try_push: impl FnMut(T) -> Result<(), T>,
    ) -> Result<(), T> {
        let mut guard = lock(&self.room_lock);
        loop {
            self.room_wanted.store(true, Ordering::SeqCst);
            match try_push(item) {
                Ok(()) => return Ok(()),
                Err(back) => item = back,
            }
            let wait = match deadline {
                None => WAIT_SAFETY_NET,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(item);
                    }
                    left.min(WAIT_SAFETY_NET)
                }
            };
            guard = self
                .room_cv
                .wait_timeout(guard, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Calls `try_push` until it succeeds, sleeping between attempts until a worker has
    /// drained the queue to the low-water mark.
    pub(crate) fn push_when_room<T>(
        &self,
        mut item: T,
        mut try_push: impl FnMut(T) -> Result<(), T>,
    ) {
        let mut guard = lock(&self.room_lock);
        loop {
            // Announced before the attempt, and workers notify under `room_lock`: a slot freed
            // after a failed attempt always brings a notification.
            self.room_wanted.store(true, Ordering::SeqCst);
            match try_push(item) {
                Ok(()) => break,
                Err(back) => item = back,
            }
            // The timeout is a safety net only; the notification is what wakes us.
            guard = self
                .room_cv
                .wait_timeout(guard, WAIT_SAFETY_NET)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(guard);
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
        // Workers notify when they find the queue empty after a job, or before they sleep; the
        // timeout is a safety net only.
        while self.pending() > self.joining_jobs.load(Ordering::SeqCst) as u64 {
            guard = self
                .wait_cv
                .wait_timeout(guard, WAIT_SAFETY_NET)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
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
                        .wait_timeout(guard, WAIT_SAFETY_NET)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    self.idle.wake_all();
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break false;
                    }
                    guard = self
                        .wait_cv
                        .wait_timeout(guard, (deadline - now).min(WAIT_SAFETY_NET))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    self.idle.wake_all();
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
