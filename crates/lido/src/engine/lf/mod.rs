//! The leader/followers engine (Linux): every worker of the pool waits on one shared epoll set
//! and serves the connection whose event it took, start to finish: read, parse, handler,
//! write. Connections are registered once, edge-triggered, so the kernel's ready list is the
//! job queue and a parked connection costs no system call; a claim in the [`table`] keeps each
//! connection on one thread at a time (an event for a connection being served makes its
//! thread serve it again). No request crosses threads.
//!
//! A worker never waits on a connection: every read and write is non-blocking, and a
//! connection that would block is left to the kernel. Idle, half-received and slow
//! connections cost a slot in the [`table`] and nothing else.
//!
//! One more thread, the watch ([`watch`]), runs the clocks: it closes connections whose
//! deadline passed, resumes accepting after an error, notices when every worker has been busy
//! for a while (saturation) and then reads requests itself, queuing complete ones for the next
//! free worker ([`Shared::overflow`]) and answering `503` once that queue is full; and it runs
//! the graceful drain.

mod fair;
mod poller;
mod table;
mod watch;
mod worker;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::Instant;

use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;
use lido_pool::ThreadPool;

use crate::conn::Ctx;
use poller::{Poller, Signal};
use table::{FIRST_SPECIAL, Table, Token};

/// Raised once, when the engine exits: level-triggered, so every waiter sees it.
const STOP: Token = FIRST_SPECIAL;
/// Raised when connections were queued for a worker while one may be waiting in epoll.
const NUDGE: Token = FIRST_SPECIAL + 1;
/// Listener `i` has token `LISTENERS + i`.
const LISTENERS: Token = FIRST_SPECIAL + 2;

/// The listener a token names, if it names one.
fn listener_index(token: Token) -> Option<usize> {
    token
        .checked_sub(LISTENERS)
        .and_then(|i| usize::try_from(i).ok())
        .filter(|&i| i < crate::engine::MAX_LISTENERS)
}

/// How accepting stands (`Shared::accepting`).
const ACCEPT_OPEN: u8 = 0;
/// The table is full: the listener is paused until a connection closes.
const ACCEPT_FULL: u8 = 1;
/// An accept error (EMFILE, ...): the listener is paused; the watch resumes it a moment later.
const ACCEPT_BACKOFF: u8 = 2;
/// Draining: the listener is closed.
const ACCEPT_CLOSED: u8 = 3;

/// What the watch knows of one worker.
#[derive(Debug, Default)]
struct WorkerState {
    /// In `epoll_wait` now: free for new work.
    waiting: AtomicBool,
    /// Times it went to wait: if this has not moved and it is not waiting, it has been busy
    /// all along.
    waits: AtomicU64,
}

/// State shared by the workers and the watch.
pub(crate) struct Shared {
    poller: Poller,
    table: Table,
    /// Read-locked to accept (by any number of threads at once), write-locked once to close
    /// them all when the drain starts.
    listeners: RwLock<Vec<TcpListener>>,
    accepting: AtomicU8,
    /// Serialises changes to the listener's registration (see `worker::sync_listener`).
    listener_sync: Mutex<()>,
    /// Complete requests read by the watch while every worker was busy, for the next free
    /// worker; when full, new requests get `503`.
    overflow: ArrayQueue<Token>,
    nudge: Signal,
    stop_signal: Signal,
    /// Set when the workers must leave.
    exit: AtomicBool,
    workers: Box<[CachePadded<WorkerState>]>,
    ctx: Arc<Ctx>,
    /// A shutdown was asked for; the watch waits on `wake`.
    stop_requested: Mutex<bool>,
    wake: Condvar,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("connections", &self.table.open())
            .field("accepting", &self.accepting)
            .field("overflow", &self.overflow.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn any_worker_waiting(&self) -> bool {
        self.workers
            .iter()
            .any(|w| w.waiting.load(Ordering::SeqCst))
    }

    fn request_stop(&self) {
        *self
            .stop_requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }
}

/// Tells the workers to leave when dropped.
struct ExitOnDrop<'a>(&'a Shared);

impl Drop for ExitOnDrop<'_> {
    fn drop(&mut self) {
        self.0.exit.store(true, Ordering::SeqCst);
        self.0.stop_signal.raise();
    }
}

/// The engine: built by the server, run on its thread (which becomes the watch), with the
/// workers on `pool`.
#[derive(Debug)]
pub(crate) struct Engine {
    shared: Arc<Shared>,
    pool: Arc<ThreadPool>,
    local_addrs: Vec<SocketAddr>,
}

impl Engine {
    pub(crate) fn new(
        listeners: Vec<TcpListener>,
        pool: Arc<ThreadPool>,
        ctx: Arc<Ctx>,
        queue_capacity: usize,
    ) -> io::Result<Self> {
        let mut local_addrs = Vec::with_capacity(listeners.len());
        for listener in &listeners {
            listener.set_nonblocking(true)?;
            local_addrs.push(listener.local_addr()?);
        }
        let poller = Poller::new()?;
        let nudge = Signal::new()?;
        let stop_signal = Signal::new()?;
        for (i, listener) in listeners.iter().enumerate() {
            poller.add_listener(listener, LISTENERS + i as u64)?;
        }
        poller.add_edge(&nudge, NUDGE)?;
        poller.add_broadcast(&stop_signal, STOP)?;
        let workers = (0..pool.threads())
            .map(|_| CachePadded::default())
            .collect();
        let table = Table::new(
            ctx.config.max_connections,
            crate::engine::peers::PeerLimit::new(ctx.config.max_connections_per_ip),
            Instant::now(),
        );
        let shared = Arc::new(Shared {
            poller,
            table,
            listeners: RwLock::new(listeners),
            accepting: AtomicU8::new(ACCEPT_OPEN),
            listener_sync: Mutex::new(()),
            overflow: ArrayQueue::new(queue_capacity.max(1)),
            nudge,
            stop_signal,
            exit: AtomicBool::new(false),
            workers,
            ctx,
            stop_requested: Mutex::new(false),
            wake: Condvar::new(),
        });
        Ok(Self {
            shared,
            pool,
            local_addrs,
        })
    }

    pub(crate) fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    pub(crate) fn stopper(&self) -> super::Stopper {
        let shared = Arc::clone(&self.shared);
        super::Stopper::new(move || shared.request_stop())
    }

    /// Starts one worker loop per pool thread, then runs the watch on this thread until the
    /// drain is over.
    pub(crate) fn run(self) -> io::Result<()> {
        let threads = self.shared.workers.len();
        for me in 0..threads {
            let shared = Arc::clone(&self.shared);
            if self.pool.execute(move || worker::run(&shared, me)).is_err() {
                return Err(io::Error::other("the worker pool is shut down"));
            }
        }
        // Whatever happens to the watch, even a panic, the workers are let go: otherwise the
        // pool's shutdown would wait for loops that never end.
        let _exit = ExitOnDrop(&self.shared);
        watch::run(&self.shared)
    }
}
