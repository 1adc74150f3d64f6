//! [`JobHandle`]: the result of a job submitted with
//! [`ThreadPool::spawn`](crate::ThreadPool::spawn).

use std::any::Any;
use std::fmt;
use std::sync::mpsc::Receiver;

/// Waits for a spawned job and gives its result, like [`std::thread::JoinHandle`] for a
/// thread.
///
/// Dropping the handle does not cancel the job: it runs, and its result is dropped.
///
/// # Examples
///
/// ```
/// let pool = lido_pool::ThreadPool::new(2);
/// let sum = pool.spawn(|| (1..=10).sum::<u32>())?;
/// assert_eq!(sum.join()?, 55);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JobHandle<T> {
    pub(crate) result: Receiver<std::thread::Result<T>>,
}

impl<T> fmt::Debug for JobHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle").finish_non_exhaustive()
    }
}

impl<T> JobHandle<T> {
    /// Waits for the job to finish and returns what it returned.
    ///
    /// Waiting for a job of the same pool from inside one of its jobs can deadlock if every
    /// worker does so: as with any fixed pool, join from outside it.
    ///
    /// # Errors
    ///
    /// [`JoinError::Panicked`] with the panic's payload if the job panicked (the pool counts
    /// it; the worker lives on), [`JoinError::Dropped`] if the job was dropped without running
    /// ([`ThreadPool::shutdown_now`](crate::ThreadPool::shutdown_now)).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido_pool::JoinError;
    ///
    /// let pool = lido_pool::ThreadPool::new(1);
    /// let failed = pool.spawn(|| -> u8 { panic!("no answer") })?;
    /// match failed.join() {
    ///     Err(JoinError::Panicked(payload)) => {
    ///         assert_eq!(payload.downcast_ref::<&str>(), Some(&"no answer"));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        match self.result.recv() {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(payload)) => Err(JoinError::Panicked(payload)),
            Err(_) => Err(JoinError::Dropped),
        }
    }
}

/// Why [`JobHandle::join`] has no result.
///
/// # Examples
///
/// ```
/// let pool = lido_pool::ThreadPool::new(1);
/// let job = pool.spawn(|| -> () { panic!("boom") })?;
/// let err = job.join().unwrap_err();
/// assert_eq!(err.to_string(), "the job panicked: boom");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub enum JoinError {
    /// The job panicked; the payload, as `std::thread::JoinHandle::join` gives it.
    Panicked(Box<dyn Any + Send>),
    /// The job was dropped without running.
    Dropped,
}

impl JoinError {
    /// The panic message, when the payload is a string (as `panic!` with a message makes).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = lido_pool::ThreadPool::new(1);
    /// let job = pool.spawn(|| -> () { panic!("at {}", 42) })?;
    /// assert_eq!(job.join().unwrap_err().message(), Some("at 42"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn message(&self) -> Option<&str> {
        match self {
            JoinError::Panicked(payload) => payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str)),
            JoinError::Dropped => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(_) => write!(f, "Panicked({:?})", self.message()),
            JoinError::Dropped => f.write_str("Dropped"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.message()) {
            (JoinError::Panicked(_), Some(message)) => write!(f, "the job panicked: {message}"),
            (JoinError::Panicked(_), None) => f.write_str("the job panicked"),
            (JoinError::Dropped, _) => f.write_str("the job was dropped without running"),
        }
    }
}

impl std::error::Error for JoinError {}
