//! `ThreadPoolBuilder`: configure, then `build()` (which can fail, unlike `ThreadPool::new`).

use std::any::Any;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::thread;

use crate::error::BuildError;
use crate::pool::ThreadPool;
use crate::shared::{Config, PanicHandler, Shared, ThreadHook};
use crate::worker;

/// Queue capacity when [`ThreadPoolBuilder::queue_capacity`] is not set: 65,536 jobs, 1.5 MiB
/// of slots (24 bytes each, allocated when the pool is built).
///
/// A bounded queue costs a sleep and a wake-up each time a submitter outruns the workers and
/// finds it full; a deep queue makes that rare. Measured on a 2-core VM, 1M empty jobs into 2
/// workers (`examples/flood`, 5 runs): 2,048 slots 29-74 ms, 16,384 slots 8-53 ms, 65,536 slots
/// 6.5-10 ms (with two CPU hogs beside it: 48-106, 25-54 and 14-26 ms).
pub const DEFAULT_QUEUE_CAPACITY: usize = 65_536;

/// Configures and builds a [`ThreadPool`].
///
/// # Examples
///
/// ```
/// use lido_pool::ThreadPool;
///
/// let pool = ThreadPool::builder()
///     .threads(2)
///     .queue_capacity(16)
///     .thread_name("io")
///     .stack_size(256 * 1024)
///     .panic_handler(|_payload| eprintln!("a job panicked"))
///     .build()?;
/// assert_eq!(pool.threads(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until build() is called"]
pub struct ThreadPoolBuilder {
    threads: Option<usize>,
    queue_capacity: Option<usize>,
    thread_name: String,
    stack_size: Option<usize>,
    panic_handler: Option<Box<PanicHandler>>,
    on_thread_start: Option<Box<ThreadHook>>,
    on_thread_stop: Option<Box<ThreadHook>>,
}

impl Default for ThreadPoolBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ThreadPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolBuilder")
            .field("threads", &self.threads)
            .field("queue_capacity", &self.queue_capacity)
            .field("thread_name", &self.thread_name)
            .field("stack_size", &self.stack_size)
            .field("panic_handler", &self.panic_handler.is_some())
            .field("on_thread_start", &self.on_thread_start.is_some())
            .field("on_thread_stop", &self.on_thread_stop.is_some())
            .finish()
    }
}

impl ThreadPoolBuilder {
    /// A builder with every setting at its default.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPoolBuilder::new().build()?;
    /// assert!(pool.threads() >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Self {
        Self {
            threads: None,
            queue_capacity: None,
            thread_name: "lido-pool".to_owned(),
            stack_size: None,
            panic_handler: None,
            on_thread_start: None,
            on_thread_stop: None,
        }
    }

    /// Sets the number of worker threads. By default, the number of CPUs
    /// ([`std::thread::available_parallelism`], or 1 if unknown). Zero is a [`BuildError`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::builder().threads(3).build()?;
    /// assert_eq!(pool.threads(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Sets how many jobs may wait in the queue (at least 1; 0 is a [`BuildError`]). By
    /// default, [`DEFAULT_QUEUE_CAPACITY`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::builder().threads(1).queue_capacity(8).build()?;
    /// assert_eq!(pool.queue_capacity(), 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = Some(capacity);
        self
    }

    /// Sets the worker thread name prefix; workers are named `{prefix}-{index}`. By default,
    /// `lido-pool`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::builder().threads(1).thread_name("w").build()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// pool.execute(move || tx.send(std::thread::current().name().map(str::to_owned)).unwrap())?;
    /// assert_eq!(rx.recv()?.as_deref(), Some("w-0"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name = prefix.into();
        self
    }

    /// Sets the stack size of each worker thread, in bytes. By default, the standard library's
    /// default (2 MiB, or `RUST_MIN_STACK`).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::builder().stack_size(1 << 20).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Sets a function called, on the worker thread, with the payload of every job that panics.
    /// By default there is none (the process panic hook still prints the message). A panic
    /// inside the handler is caught too.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let tx = std::sync::Mutex::new(tx);
    /// let pool = lido_pool::ThreadPool::builder()
    ///     .threads(1)
    ///     .panic_handler(move |payload| {
    ///         let msg = payload.downcast_ref::<&str>().copied().unwrap_or("?");
    ///         tx.lock().unwrap().send(msg.to_owned()).unwrap();
    ///     })
    ///     .build()?;
    /// pool.execute(|| panic!("boom"))?;
    /// assert_eq!(rx.recv()?, "boom");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_handler<H>(mut self, handler: H) -> Self
    where
        H: Fn(Box<dyn Any + Send>) + Send + Sync + 'static,
    {
        self.panic_handler = Some(Box::new(handler));
        self
    }

    /// Runs `hook` on each worker thread as it starts, before its first job (to name it in a
    /// profiler, pin it, set up a thread-local). A panic in the hook is ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&started);
    /// let pool = lido_pool::ThreadPool::builder()
    ///     .threads(3)
    ///     .on_thread_start(move || { counter.fetch_add(1, Ordering::SeqCst); })
    ///     .build()?;
    /// pool.shutdown();
    /// assert_eq!(started.load(Ordering::SeqCst), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_thread_start<H>(mut self, hook: H) -> Self
    where
        H: Fn() + Send + Sync + 'static,
    {
        self.on_thread_start = Some(Box::new(hook));
        self
    }

    /// Runs `hook` on each worker thread as it leaves at shutdown, after its last job. A
    /// panic in the hook is ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&stopped);
    /// let pool = lido_pool::ThreadPool::builder()
    ///     .threads(2)
    ///     .on_thread_stop(move || { counter.fetch_add(1, Ordering::SeqCst); })
    ///     .build()?;
    /// pool.shutdown();
    /// assert_eq!(stopped.load(Ordering::SeqCst), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_thread_stop<H>(mut self, hook: H) -> Self
    where
        H: Fn() + Send + Sync + 'static,
    {
        self.on_thread_stop = Some(Box::new(hook));
        self
    }

    /// Starts the worker threads.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if `threads` or `queue_capacity` is 0, or a thread cannot be spawned;
    /// threads already started
    /// are then stopped and joined.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::builder().threads(2).build()?;
    /// pool.execute(|| println!("hello from a worker"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<ThreadPool, BuildError> {
        let threads = match self.threads {
            Some(0) => return Err(BuildError::zero_threads()),
            Some(n) => n,
            None => thread::available_parallelism().map_or(1, NonZeroUsize::get),
        };
        let capacity = self.queue_capacity.unwrap_or(DEFAULT_QUEUE_CAPACITY);
        if capacity == 0 {
            return Err(BuildError::zero_capacity());
        }
        let config = Config {
            thread_name: self.thread_name,
            stack_size: self.stack_size,
            panic_handler: self.panic_handler,
            on_thread_start: self.on_thread_start,
            on_thread_stop: self.on_thread_stop,
        };
        let shared = Arc::new(Shared::new(threads, capacity, config));
        for index in 0..threads {
            match worker::spawn(&shared, index) {
                Ok(handle) => shared.set_handle(index, handle),
                Err(err) => {
                    shared.close();
                    shared.wait_exited(None);
                    shared.join_handles();
                    return Err(BuildError::spawn(err));
                }
            }
        }
        Ok(ThreadPool::from_parts(shared, capacity))
    }
}
