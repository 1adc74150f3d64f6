//! `ThreadPool`: submit jobs, wait for them, shut down.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::builder::ThreadPoolBuilder;
use crate::error::{ExecuteError, ExecuteTimeoutError, TryExecuteError};
use crate::job::JobHandle;
use crate::queue::Job;
use crate::shared::Shared;
use crate::stats::{self, Stats};

/// A fixed set of worker threads taking jobs from a bounded queue.
///
/// `ThreadPool` is `Send + Sync`: share it between threads with an `Arc`. Dropping the last
/// handle shuts the pool down gracefully (see [`ThreadPool::shutdown`]).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use lido_pool::ThreadPool;
///
/// let pool = Arc::new(ThreadPool::new(4));
/// let submitters: Vec<_> = (0..2)
///     .map(|_| {
///         let pool = Arc::clone(&pool);
///         std::thread::spawn(move || pool.execute(|| ()).map_err(|e| e.to_string()))
///     })
///     .collect();
/// for s in submitters {
///     s.join().unwrap()?;
/// }
/// pool.join();
/// assert_eq!(pool.stats().completed, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ThreadPool {
    shared: Arc<Shared>,
    capacity: usize,
    threads: usize,
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("threads", &self.threads)
            .field("queue_capacity", &self.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

impl ThreadPool {
    /// Creates a pool of `threads` workers with the default queue capacity, like the book's
    /// `ThreadPool::new`.
    ///
    /// # Panics
    ///
    /// If `threads` is 0 or a worker thread cannot be spawned. Use [`ThreadPool::builder`] to get
    /// an error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::new(4);
    /// assert_eq!(pool.threads(), 4);
    /// ```
    pub fn new(threads: usize) -> Self {
        assert!(threads > 0, "a thread pool needs at least one thread");
        match Self::builder().threads(threads).build() {
            Ok(pool) => pool,
            Err(err) => panic!("{err}: {:?}", std::error::Error::source(&err)),
        }
    }

    /// Returns a builder to configure threads, queue capacity, names, stack size and the panic
    /// handler.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::builder().threads(2).queue_capacity(4).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    pub(crate) fn from_parts(shared: Arc<Shared>, capacity: usize) -> Self {
        let threads = shared.slots.len();
        Self {
            shared,
            capacity,
            threads,
        }
    }

    /// Queues `job`, waiting while the queue is full (backpressure).
    ///
    /// # Errors
    ///
    /// [`ExecuteError::ShutDown`] once shutdown began; the job is dropped without running.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::new(1);
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// pool.execute(move || tx.send(6 * 7).unwrap())?;
    /// assert_eq!(rx.recv()?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn execute<F>(&self, job: F) -> Result<(), ExecuteError>
    where
        F: FnOnce() + Send + 'static,
    {
        if !self.shared.enter() {
            self.shared.reject();
            return Err(ExecuteError::ShutDown);
        }
        let job: Job = Box::new(job);
        if let Err(job) = self.shared.try_push(job) {
            self.shared
                .push_when_room(job, |job| self.shared.try_push(job));
        }
        Ok(())
    }

    /// Queues `job` only if there is room now; never waits.
    ///
    /// # Errors
    ///
    /// Hands the job back: [`TryExecuteError::Full`] when the queue is full,
    /// [`TryExecuteError::ShutDown`] once shutdown began.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido_pool::{ThreadPool, TryExecuteError};
    ///
    /// let pool = ThreadPool::builder().threads(1).queue_capacity(1).build()?;
    /// let (release, wait) = std::sync::mpsc::channel::<()>();
    /// pool.execute(move || { let _ = wait.recv(); })?; // occupies the worker...
    /// # while pool.stats().active == 0 { std::thread::yield_now(); }
    /// pool.try_execute(|| ()).map_err(|e| e.to_string())?; // ...fills the queue...
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// match pool.try_execute(move || tx.send("shed").unwrap()) {
    ///     Err(TryExecuteError::Full(job)) => job(), // ...and sheds: the caller still owns it.
    ///     other => panic!("{other:?}"),
    /// }
    /// assert_eq!(rx.recv()?, "shed");
    /// release.send(())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_execute<F>(&self, job: F) -> Result<(), TryExecuteError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        if !self.shared.enter() {
            self.shared.reject();
            return Err(TryExecuteError::ShutDown(job));
        }
        match self.shared.try_push(Box::new(job)) {
            Ok(()) => Ok(()),
            Err(task) => {
                self.shared.refused();
                self.shared.reject();
                match task.into_any().downcast::<F>() {
                    Ok(job) => Err(TryExecuteError::Full(*job)),
                    Err(_) => unreachable!("invariant: the refused task is the F just boxed"),
                }
            }
        }
    }

    /// Queues `job`, waiting at most `timeout` while the queue is full.
    ///
    /// # Errors
    ///
    /// Hands the job back: [`ExecuteTimeoutError::Timeout`] if the queue stayed full,
    /// [`ExecuteTimeoutError::ShutDown`] once shutdown began.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use lido_pool::{ExecuteTimeoutError, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().threads(1).queue_capacity(1).build()?;
    /// let (release, wait) = std::sync::mpsc::channel::<()>();
    /// pool.execute(move || { let _ = wait.recv(); })?; // occupies the worker...
    /// # while pool.stats().active == 0 { std::thread::yield_now(); }
    /// pool.execute(|| ())?; // ...fills the queue...
    /// let late = pool.execute_timeout(|| (), Duration::from_millis(20));
    /// assert!(matches!(late, Err(ExecuteTimeoutError::Timeout(_)))); // ...and gives up.
    /// release.send(())?;
    /// pool.execute_timeout(|| (), Duration::from_secs(10)).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn execute_timeout<F>(
        &self,
        job: F,
        timeout: Duration,
    ) -> Result<(), ExecuteTimeoutError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        if !self.shared.enter() {
            self.shared.reject();
            return Err(ExecuteTimeoutError::ShutDown(job));
        }
        let deadline = Instant::now().checked_add(timeout);
        let pushed = match self.shared.try_push(Box::new(job)) {
            Ok(()) => Ok(()),
            Err(task) => self
                .shared
                .push_until(task, deadline, |task| self.shared.try_push(task)),
        };
        pushed.map_err(|task| {
            self.shared.refused();
            self.shared.reject();
            match task.into_any().downcast::<F>() {
                Ok(job) => ExecuteTimeoutError::Timeout(*job),
                Err(_) => unreachable!("invariant: the refused task is the F just boxed"),
            }
        })
    }

    /// Queues `job` (waiting while the queue is full, as [`ThreadPool::execute`]) and returns
    /// a handle whose [`JobHandle::join`] gives what the job returns, or its panic.
    ///
    /// A panicking job is counted in [`Stats::panicked`]; its payload goes to the handle, not
    /// to the builder's panic handler.
    ///
    /// # Errors
    ///
    /// [`ExecuteError::ShutDown`] once shutdown began; the job is dropped without running.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::new(4);
    /// let lengths: Vec<_> = ["a", "bb", "ccc"]
    ///     .into_iter()
    ///     .map(|word| pool.spawn(move || word.len()))
    ///     .collect::<Result<_, _>>()?;
    /// let lengths: Vec<usize> = lengths.into_iter().map(|h| h.join()).collect::<Result<_, _>>()?;
    /// assert_eq!(lengths, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn<F, T>(&self, job: F) -> Result<JobHandle<T>, ExecuteError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.execute(move || {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)) {
                Ok(value) => {
                    let _ = tx.send(Ok(value));
                }
                Err(payload) => {
                    let _ = tx.send(Err(payload));
                    // Counted as a panic by the worker; the payload went to the handle.
                    std::panic::resume_unwind(Box::new(crate::shared::HandedToJoin));
                }
            }
        })?;
        Ok(JobHandle { result: rx })
    }

    /// Waits until every queued and running job is done. The pool stays usable.
    ///
    /// Called from inside one of this pool's jobs, it waits for every other job, except those
    /// that are themselves waiting in `join`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let pool = lido_pool::ThreadPool::new(2);
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..10 {
    ///     let done = Arc::clone(&done);
    ///     pool.execute(move || { done.fetch_add(1, Ordering::SeqCst); })?;
    /// }
    /// pool.join();
    /// assert_eq!(done.load(Ordering::SeqCst), 10);
    /// pool.execute(|| ())?; // still usable
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) {
        self.shared.join();
    }

    /// Stops accepting jobs, runs every job already accepted, and joins the workers.
    ///
    /// Called from inside one of this pool's jobs, it only begins the shutdown (a worker cannot
    /// wait for itself): the workers finish the queue and leave on their own.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::new(2);
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// for i in 0..100 {
    ///     let tx = tx.clone();
    ///     pool.execute(move || tx.send(i).unwrap())?;
    /// }
    /// pool.shutdown();
    /// assert_eq!(rx.try_iter().count(), 100);
    /// assert_eq!(pool.threads(), 0);
    /// assert!(pool.execute(|| ()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self) {
        self.shutdown_until(None);
    }

    /// Like [`ThreadPool::shutdown`], but waits at most `timeout` for the workers. Returns
    /// `true` if every worker finished and was joined in time; otherwise the remaining workers
    /// keep draining the queue in the background.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = lido_pool::ThreadPool::new(1);
    /// let (release, wait) = std::sync::mpsc::channel::<()>();
    /// pool.execute(move || { let _ = wait.recv(); })?;
    /// assert!(!pool.shutdown_timeout(Duration::from_millis(10)));
    /// release.send(())?;
    /// assert!(pool.shutdown_timeout(Duration::from_secs(10)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_timeout(&self, timeout: Duration) -> bool {
        self.shutdown_until(Instant::now().checked_add(timeout))
    }

    fn shutdown_until(&self, deadline: Option<Instant>) -> bool {
        self.shared.close();
        if self.shared.on_worker() {
            return false;
        }
        let all_left = self.shared.wait_exited(deadline);
        if all_left {
            self.shared.join_handles();
        }
        all_left
    }

    /// Stops accepting jobs, drops the jobs still queued without running them, waits for the
    /// running ones and joins the workers. Returns how many jobs were dropped (their
    /// [`JobHandle`]s say [`JoinError::Dropped`](crate::JoinError::Dropped)).
    ///
    /// Called from inside one of this pool's jobs, it drops the queue but does not wait.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::builder().threads(1).queue_capacity(16).build()?;
    /// let (release, wait) = std::sync::mpsc::channel::<()>();
    /// pool.execute(move || { let _ = wait.recv(); })?; // runs until released
    /// # while pool.stats().active == 0 { std::thread::yield_now(); }
    /// for _ in 0..10 {
    ///     pool.execute(|| unreachable!("never runs"))?;
    /// }
    /// let pool = &pool;
    /// let dropped = std::thread::scope(|s| {
    ///     // Release the running job once the queue is gone.
    ///     s.spawn(move || {
    ///         while pool.queued() > 0 { std::thread::yield_now(); }
    ///         release.send(()).unwrap();
    ///     });
    ///     pool.shutdown_now() // drops the queue, then waits for the running job
    /// });
    /// assert_eq!(dropped, 10);
    /// let stats = pool.stats();
    /// assert_eq!((stats.discarded, stats.completed, stats.panicked), (10, 1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_now(&self) -> usize {
        self.shared.close();
        let dropped = self.shared.discard_queued();
        self.shutdown_until(None);
        dropped
    }

    /// `true` once shutdown began.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::new(1);
    /// assert!(!pool.is_shut_down());
    /// pool.shutdown();
    /// assert!(pool.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.shared.is_closed()
    }

    /// Worker threads alive now: the configured number until shutdown (the pool never shrinks
    /// on panics), then 0.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(lido_pool::ThreadPool::new(3).threads(), 3);
    /// ```
    pub fn threads(&self) -> usize {
        self.shared.alive()
    }

    /// The queue capacity the pool was built with.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::builder().threads(2).queue_capacity(5).build()?;
    /// assert_eq!(pool.queue_capacity(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue_capacity(&self) -> usize {
        self.capacity
    }

    /// Jobs running now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(lido_pool::ThreadPool::new(1).active(), 0);
    /// ```
    pub fn active(&self) -> usize {
        self.stats().active
    }

    /// Jobs waiting in the queue now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(lido_pool::ThreadPool::new(1).queued(), 0);
    /// ```
    pub fn queued(&self) -> usize {
        self.shared.queued()
    }

    /// Jobs that returned normally so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::new(1);
    /// pool.execute(|| ())?;
    /// pool.join();
    /// assert_eq!(pool.completed(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn completed(&self) -> u64 {
        self.stats().completed
    }

    /// Jobs that panicked so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::new(1);
    /// pool.execute(|| panic!("boom"))?;
    /// pool.join();
    /// assert_eq!(pool.panicked(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panicked(&self) -> u64 {
        self.stats().panicked
    }

    /// Jobs refused so far (queue full, or submitted after shutdown began).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::new(1);
    /// pool.shutdown();
    /// let _ = pool.execute(|| ());
    /// assert_eq!(pool.rejected(), 1);
    /// ```
    pub fn rejected(&self) -> u64 {
        self.shared.rejected()
    }

    /// A snapshot of every counter.
    ///
    /// # Examples
    ///
    /// ```
    /// let stats = lido_pool::ThreadPool::new(2).stats();
    /// assert_eq!(stats.threads, 2);
    /// ```
    pub fn stats(&self) -> Stats {
        let (started, finished, panicked) = stats::sum(self.shared.slots.iter().map(|s| &**s));
        Stats {
            threads: self.shared.alive(),
            active: usize::try_from(started.saturating_sub(finished)).unwrap_or(usize::MAX),
            queued: self.shared.queued(),
            completed: finished.saturating_sub(panicked),
            panicked,
            rejected: self.shared.rejected(),
            discarded: self.shared.discarded(),
        }
    }
}

impl Drop for ThreadPool {
    /// Shuts down gracefully: every accepted job runs. Never panics; dropped inside one of its
    /// own jobs it does not wait (the workers finish and leave on their own).
    fn drop(&mut self) {
        self.shutdown_until(None);
    }
}
