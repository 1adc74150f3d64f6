//! Error types, one per operation (as in crossbeam-channel).

use std::error::Error;
use std::fmt;
use std::io;

/// The pool could not be built.
///
/// Returned by [`ThreadPoolBuilder::build`](crate::ThreadPoolBuilder::build). When a worker
/// thread fails to start, the threads already started are stopped and joined before this error
/// is returned; the OS error is available through [`Error::source`].
///
/// # Examples
///
/// ```
/// use lido_pool::ThreadPool;
///
/// let err = ThreadPool::builder().threads(0).build().unwrap_err();
/// assert_eq!(err.to_string(), "a thread pool needs at least one thread");
/// ```
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug)]
enum BuildErrorKind {
    ZeroThreads,
    ZeroCapacity,
    Spawn(io::Error),
}

impl BuildError {
    pub(crate) fn zero_threads() -> Self {
        Self {
            kind: BuildErrorKind::ZeroThreads,
        }
    }

    pub(crate) fn zero_capacity() -> Self {
        Self {
            kind: BuildErrorKind::ZeroCapacity,
        }
    }

    pub(crate) fn spawn(err: io::Error) -> Self {
        Self {
            kind: BuildErrorKind::Spawn(err),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            BuildErrorKind::ZeroThreads => f.write_str("a thread pool needs at least one thread"),
            BuildErrorKind::ZeroCapacity => {
                f.write_str("a thread pool queue needs room for at least one job")
            }
            BuildErrorKind::Spawn(_) => f.write_str("failed to spawn a worker thread"),
        }
    }
}

impl Error for BuildError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            BuildErrorKind::ZeroThreads | BuildErrorKind::ZeroCapacity => None,
            BuildErrorKind::Spawn(err) => Some(err),
        }
    }
}

/// [`ThreadPool::execute`](crate::ThreadPool::execute) was called after shutdown began.
///
/// # Examples
///
/// ```
/// use lido_pool::{ExecuteError, ThreadPool};
///
/// let pool = ThreadPool::new(1);
/// pool.shutdown();
/// assert_eq!(pool.execute(|| ()), Err(ExecuteError::ShutDown));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecuteError {
    /// The pool is shutting down or shut down; the job was dropped without running.
    ShutDown,
}

impl fmt::Display for ExecuteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecuteError::ShutDown => f.write_str("the thread pool is shut down"),
        }
    }
}

impl Error for ExecuteError {}

/// [`ThreadPool::try_execute`](crate::ThreadPool::try_execute) refused a job; the job is handed
/// back untouched so the caller can still use what it owns (for example answer `503` on the
/// connection the closure captured).
///
/// # Examples
///
/// ```
/// use lido_pool::{ThreadPool, TryExecuteError};
///
/// let pool = ThreadPool::new(1);
/// pool.shutdown();
/// let (tx, rx) = std::sync::mpsc::channel();
/// match pool.try_execute(move || tx.send("ran by the caller").unwrap()) {
///     Err(TryExecuteError::ShutDown(job)) => job(),
///     other => panic!("unexpected: {other:?}"),
/// }
/// assert_eq!(rx.recv()?, "ran by the caller");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum TryExecuteError<F> {
    /// The queue is full: the pool is saturated.
    Full(F),
    /// The pool is shutting down or shut down.
    ShutDown(F),
}

impl<F> TryExecuteError<F> {
    /// Returns the job that was refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido_pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1);
    /// pool.shutdown();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let job = pool.try_execute(move || tx.send(7).unwrap()).unwrap_err().into_inner();
    /// job();
    /// assert_eq!(rx.recv()?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> F {
        match self {
            TryExecuteError::Full(f) | TryExecuteError::ShutDown(f) => f,
        }
    }

    /// Returns `true` if the job was refused because the queue was full.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido_pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1);
    /// pool.shutdown();
    /// assert!(!pool.try_execute(|| ()).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TryExecuteError::Full(_))
    }

    /// Returns `true` if the job was refused because the pool is shutting down.
    ///
    /// # Examples
    ///
    /// ```
    /// use lido_pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1);
    /// pool.shutdown();
    /// assert!(pool.try_execute(|| ()).unwrap_err().is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        matches!(self, TryExecuteError::ShutDown(_))
    }
}

impl<F> fmt::Debug for TryExecuteError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryExecuteError::Full(_) => f.write_str("Full(..)"),
            TryExecuteError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<F> fmt::Display for TryExecuteError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryExecuteError::Full(_) => f.write_str("the thread pool queue is full"),
            TryExecuteError::ShutDown(_) => f.write_str("the thread pool is shut down"),
        }
    }
}

impl<F> Error for TryExecuteError<F> {}

/// [`ThreadPool::execute_timeout`](crate::ThreadPool::execute_timeout) did not queue a job;
/// the job is handed back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use lido_pool::{ExecuteTimeoutError, ThreadPool};
///
/// let pool = ThreadPool::new(1);
/// pool.shutdown();
/// let (tx, rx) = std::sync::mpsc::channel();
/// let job = move || tx.send(7).unwrap();
/// let refused = pool.execute_timeout(job, Duration::from_millis(1)).unwrap_err();
/// assert!(matches!(refused, ExecuteTimeoutError::ShutDown(_)));
/// refused.into_inner()(); // the caller still owns the job
/// assert_eq!(rx.recv()?, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum ExecuteTimeoutError<F> {
    /// The queue stayed full for the whole timeout.
    Timeout(F),
    /// The pool is shutting down or shut down.
    ShutDown(F),
}

impl<F> ExecuteTimeoutError<F> {
    /// Returns the job that was not queued.
    ///
    /// # Examples
    ///
    /// See [`ExecuteTimeoutError`].
    pub fn into_inner(self) -> F {
        match self {
            ExecuteTimeoutError::Timeout(f) | ExecuteTimeoutError::ShutDown(f) => f,
        }
    }
}

impl<F> fmt::Debug for ExecuteTimeoutError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecuteTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            ExecuteTimeoutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<F> fmt::Display for ExecuteTimeoutError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecuteTimeoutError::Timeout(_) => {
                f.write_str("the thread pool queue stayed full for the whole timeout")
            }
            ExecuteTimeoutError::ShutDown(_) => f.write_str("the thread pool is shut down"),
        }
    }
}

impl<F> Error for ExecuteTimeoutError<F> {}
