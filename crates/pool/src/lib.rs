//! A fixed-size thread pool with a bounded, lock-free job queue.
//!
//! `lido-pool` is the thread pool of the final chapter of *The Rust Programming Language*,
//! rebuilt for a server that must not fall over:
//!
//! - **Bounded queue with backpressure and load shedding.** [`ThreadPool::execute`] waits while
//!   the queue is full; [`ThreadPool::try_execute`] never waits and hands the job back
//!   ([`TryExecuteError::Full`]) so the caller can still answer, say, `503`.
//! - **No global lock on the job queue.** Workers take jobs from a bounded lock-free array
//!   (`crossbeam-queue`), not from a `Mutex<mpsc::Receiver>`. An idle worker spins for about a
//!   microsecond, then sleeps; a new job wakes at most one sleeping worker, and costs nothing
//!   extra when none sleeps. No wait anywhere spins for long or calls `yield_now`, so the pool
//!   keeps its speed on a machine with more threads than cores (see the `throughput` bench,
//!   which also runs beside two CPU hogs).
//! - **Workers survive panicking jobs.** Every job runs under `catch_unwind`; the panic is
//!   counted, handed to the optional panic handler, and the worker takes the next job. The pool
//!   never shrinks.
//! - **Graceful shutdown.** [`ThreadPool::shutdown`] (and `Drop`) stop accepting jobs, run every
//!   job already accepted, and join the workers; [`ThreadPool::shutdown_timeout`] bounds the wait.
//! - **Results and bounded waits.** [`ThreadPool::spawn`] returns a [`JobHandle`] whose
//!   `join` gives the job's value or its panic; [`ThreadPool::execute_timeout`] waits for room
//!   at most so long; [`ThreadPool::shutdown_now`] drops the queued jobs and says how many.
//! - **Thread hooks.** `on_thread_start` / `on_thread_stop` on the builder.
//! - **Counters.** [`ThreadPool::stats`] returns a [`Stats`] snapshot.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use lido_pool::ThreadPool;
//!
//! let pool = ThreadPool::builder().threads(4).queue_capacity(64).build()?;
//! let hits = Arc::new(AtomicUsize::new(0));
//! for _ in 0..100 {
//!     let hits = Arc::clone(&hits);
//!     pool.execute(move || {
//!         hits.fetch_add(1, Ordering::Relaxed);
//!     })?;
//! }
//! pool.join();
//! assert_eq!(hits.load(Ordering::Relaxed), 100);
//! assert_eq!(pool.stats().completed, 100);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(clippy::unwrap_used)]

mod builder;
mod error;
mod idle;
mod job;
mod pool;
mod queue;
mod shared;
mod stats;
mod worker;

pub use builder::{DEFAULT_QUEUE_CAPACITY, ThreadPoolBuilder};
pub use error::{BuildError, ExecuteError, ExecuteTimeoutError, TryExecuteError};
pub use job::{JobHandle, JoinError};
pub use pool::ThreadPool;
pub use stats::Stats;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
