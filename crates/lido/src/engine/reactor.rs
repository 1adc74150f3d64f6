//! The event loop: the only file that imports mio. One thread owns the listener and every
//! connection that is idle, half-received or waiting to write; a connection goes to the pool
//! only when its socket is ready, and comes back here when it would block.

use std::cell::Cell;
use std::io::{self, ErrorKind};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use lido_pool::ThreadPool;
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::conn::{Conn, Ctx, Outcome};
use crate::transport::{Stream, Transport};

const WAKER: Token = Token(0);
/// Listener `i` has token `1 + i`.
const FIRST_LISTENER: usize = 1;
/// Connection tokens start here.
const FIRST_CONN: usize = FIRST_LISTENER + super::MAX_LISTENERS;
/// Events taken from the poller per wake-up.
const EVENTS_CAPACITY: usize = 1024;
/// After an accept error such as EMFILE, how long to stop accepting.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

impl Transport for TcpStream {
    fn send_file(&mut self, file: &std::fs::File, offset: u64, len: usize) -> io::Result<usize> {
        crate::sendfile::send_file(self, file, offset, len)
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::transport::send_more(&*self, buf)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

thread_local! {
    /// Set while the reactor runs a job the pool refused: the job sheds instead of serving.
    static SHEDDING: Cell<bool> = const { Cell::new(false) };
}

/// A connection handed back by a worker.
struct Returned {
    index: usize,
    /// `None` if the job unwound before it could hand the connection back.
    conn: Option<Box<Conn<Stream<TcpStream>>>>,
    outcome: Outcome,
}

/// How workers give connections back, and wake the reactor only when it sleeps.
struct Handback {
    tx: Sender<Returned>,
    waker: Waker,
    /// Set by the reactor before it blocks in `poll`; the first returner clears it and wakes
    /// it. A busy reactor finds the returns on its next turn without a wake-up syscall.
    sleeping: AtomicBool,
}

impl Handback {
    fn wake(&self) {
        // Pairs with the reactor's fence: either it sees our return, or we see it sleeping.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.sleeping.swap(false, Ordering::SeqCst) {
            // If the reactor is gone the wake is moot.
            let _ = self.waker.wake();
        }
    }
}

/// Hands the connection back even if the job unwinds.
struct ReturnGuard {
    index: usize,
    handback: Arc<Handback>,
    conn: Option<Box<Conn<Stream<TcpStream>>>>,
    outcome: Outcome,
}

impl Drop for ReturnGuard {
    fn drop(&mut self) {
        let returned = Returned {
            index: self.index,
            conn: self.conn.take(),
            outcome: self.outcome,
        };
        // Always wake a sleeping reactor: readiness that arrived while the connection was out
        // here was recorded once (edge-triggered) and may never be reported again.
        // The reactor holds the receiver until it exits; after that nothing is owed.
        if self.handback.tx.send(returned).is_ok() {
            self.handback.wake();
        }
    }
}

enum Entry {
    /// Owned here, waiting for readiness in one direction, until `deadline`.
    Parked {
        conn: Box<Conn<Stream<TcpStream>>>,
        want: Outcome,
        deadline: Instant,
    },
    /// Out on a worker; readiness seen meanwhile is remembered so it is not lost (mio is
    /// edge-triggered).
    Busy {
        readable: bool,
        writable: bool,
        /// The client's address, counted by the per-address limit.
        peer: Option<SocketAddr>,
    },
}

/// How accepting stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepting {
    Open,
    /// At `max_connections`: resume when one closes.
    Full,
    /// After an accept error: resume at the instant.
    BackOff(Instant),
    /// Shutting down.
    Closed,
}

pub(crate) struct Reactor {
    poll: Poll,
    /// Emptied once draining: closed, so new clients are refused at once.
    listeners: Vec<TcpListener>,
    local_addrs: Vec<SocketAddr>,
    conns: Slab<Entry>,
    peers: super::peers::PeerLimit,
    handback: Arc<Handback>,
    rx: Receiver<Returned>,
    pool: Arc<ThreadPool>,
    ctx: Arc<Ctx>,
    stop: Arc<AtomicBool>,
    accepting: Accepting,
    /// Connections with a response in progress that found every worker busy: they wait here
    /// (parked for writing) for a free worker, as this thread never writes a file body.
    deferred: std::collections::VecDeque<usize>,
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("connections", &self.conns.len())
            .field("accepting", &self.accepting)
            .finish_non_exhaustive()
    }
}

impl Reactor {
    pub(crate) fn new(
        listeners: Vec<std::net::TcpListener>,
        pool: Arc<ThreadPool>,
        ctx: Arc<Ctx>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut local_addrs = Vec::with_capacity(listeners.len());
        let mut registered = Vec::with_capacity(listeners.len());
        for (i, listener) in listeners.into_iter().enumerate() {
            listener.set_nonblocking(true)?;
            local_addrs.push(listener.local_addr()?);
            let mut listener = TcpListener::from_std(listener);
            poll.registry().register(
                &mut listener,
                Token(FIRST_LISTENER + i),
                Interest::READABLE,
            )?;
            registered.push(listener);
        }
        let waker = Waker::new(poll.registry(), WAKER)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let handback = Arc::new(Handback {
            tx,
            waker,
            sleeping: AtomicBool::new(false),
        });
        Ok(Self {
            poll,
            listeners: registered,
            local_addrs,
            conns: Slab::new(),
            peers: super::peers::PeerLimit::new(ctx.config.max_connections_per_ip),
            handback,
            rx,
            pool,
            ctx,
            stop: Arc::new(AtomicBool::new(false)),
            accepting: Accepting::Open,
            deferred: std::collections::VecDeque::new(),
        })
    }

    pub(crate) fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    pub(crate) fn stopper(&self) -> super::Stopper {
        let flag = Arc::clone(&self.stop);
        let handback = Arc::clone(&self.handback);
        super::Stopper::new(move || {
            flag.store(true, Ordering::SeqCst);
            // Unconditionally: the reactor may be about to sleep with no timeout pending.
            let _ = handback.waker.wake();
        })
    }

    /// Runs until a graceful shutdown completes (or its deadline passes).
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        let tick = self.ctx.config.tick();
        let mut next_sweep = Instant::now() + tick;
        let mut drain_deadline: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let mut timeout = next_sweep.saturating_duration_since(now);
            // Announce the sleep, then look once more: a return sent before the announcement
            // is seen here; one sent after it wakes us.
            self.handback.sleeping.store(true, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
            if !self.rx.is_empty() || self.stop.load(Ordering::SeqCst) {
                timeout = Duration::ZERO;
            }
            let polled = self.poll.poll(&mut events, Some(timeout));
            self.handback.sleeping.store(false, Ordering::SeqCst);
            if let Err(e) = polled
                && e.kind() != ErrorKind::Interrupted
            {
                return Err(e);
            }
            for event in &events {
                match event.token() {
                    WAKER => {}
                    Token(token) if token < FIRST_CONN => {
                        if self.accepting == Accepting::Open {
                            self.accept_from(token - FIRST_LISTENER);
                        }
                    }
                    Token(token) => self.on_event(token - FIRST_CONN, event),
                }
            }
            self.take_returns();

            let now = Instant::now();
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + tick;
            }
            if drain_deadline.is_none() && self.stop.load(Ordering::Acquire) {
                drain_deadline = Some(now + self.ctx.config.drain_timeout);
                self.begin_drain();
            }
            if let Some(deadline) = drain_deadline {
                if self.conns.is_empty() {
                    return Ok(());
                }
                if now >= deadline {
                    tracing::warn!(
                        connections = self.conns.len(),
                        "drain deadline passed; closing what is left"
                    );
                    return Ok(());
                }
            }
        }
    }

    /// Accepts from every listener (resuming after a pause).
    fn accept(&mut self) {
        for which in 0..self.listeners.len() {
            if self.accepting != Accepting::Open {
                return;
            }
            self.accept_from(which);
        }
    }

    /// Accepts from listener `which` until it has no more (mio is edge-triggered).
    fn accept_from(&mut self, which: usize) {
        loop {
            let full = self.conns.len() >= self.ctx.config.max_connections;
            if full && self.eviction_victim().is_none() {
                self.accepting = Accepting::Full;
                return;
            }
            let Some(listener) = self.listeners.get(which) else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    // Room is made only for a client that is really there.
                    if full && let Some(victim) = self.eviction_victim() {
                        tracing::debug!(
                            "at the connection limit; closing an idle or half-sent one"
                        );
                        self.close(victim, None);
                    }
                    self.admit(stream, peer);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted
                            | ErrorKind::ConnectionAborted
                            | ErrorKind::ConnectionReset
                    ) => {}
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the listener stays readable, so stop
                    // asking for a while instead of spinning.
                    tracing::warn!(error = %e, "accept failed; backing off");
                    self.ctx.stats.accept_error();
                    self.accepting = Accepting::BackOff(Instant::now() + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
    }

    /// At the connection limit: the connection that should give up its place to a newcomer
    /// (see `Conn::eviction_rank`); `None` if every one has a request in progress.
    fn eviction_victim(&self) -> Option<usize> {
        self.conns
            .iter()
            .filter_map(|(index, entry)| match entry {
                Entry::Parked { conn, .. } => Some((conn.eviction_rank()?, index)),
                Entry::Busy { .. } => None,
            })
            .min()
            .map(|(_, index)| index)
    }

    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        self.ctx.stats.connection();
        if !self.peers.admit(Some(peer)) {
            tracing::debug!(%peer, "too many connections from one address");
            return;
        }
        let _ = stream.set_nodelay(true);
        let Some(mut stream) = self.ctx.wrap.stream(stream) else {
            self.peers.release(Some(peer));
            return;
        };
        let entry = self.conns.vacant_entry();
        let token = Token(entry.key() + FIRST_CONN);
        if let Err(e) = self.poll.registry().register(
            stream.socket_mut(),
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            tracing::warn!(error = %e, %peer, "could not register a connection");
            self.peers.release(Some(peer));
            return;
        }
        let now = Instant::now();
        let conn = Box::new(Conn::new(stream, Some(peer), now));
        let deadline = conn.deadline(&self.ctx.config);
        entry.insert(Entry::Parked {
            conn,
            want: Outcome::Read,
            deadline,
        });
    }

    fn on_event(&mut self, index: usize, event: &Event) {
        let readable = event.is_readable() || event.is_read_closed() || event.is_error();
        let writable = event.is_writable() || event.is_write_closed() || event.is_error();
        let ready = match self.conns.get_mut(index) {
            None => return,
            Some(Entry::Busy {
                readable: r,
                writable: w,
                ..
            }) => {
                *r |= readable;
                *w |= writable;
                return;
            }
            Some(Entry::Parked { want, .. }) => *want,
        };
        match ready {
            Outcome::Read if readable => self.on_readable(index),
            Outcome::Write if writable => self.dispatch(index),
            Outcome::Work => self.dispatch(index),
            _ => {}
        }
    }

    /// Reads on this thread (non-blocking) what a parked connection has; queues it for a
    /// worker only once a whole request is buffered.
    fn on_readable(&mut self, index: usize) {
        let Some(Entry::Parked {
            conn,
            want,
            deadline,
        }) = self.conns.get_mut(index)
        else {
            return;
        };
        let outcome = conn.on_readable(&self.ctx, Instant::now());
        match outcome {
            Outcome::Close => self.close(index, None),
            Outcome::Work => self.dispatch(index),
            Outcome::Read | Outcome::Write => {
                *want = outcome;
                *deadline = conn.deadline(&self.ctx.config);
            }
        }
    }

    /// Hands a parked connection to the pool; if the pool is full, sheds it with a `503`.
    fn dispatch(&mut self, index: usize) {
        let Some(entry) = self.conns.get_mut(index) else {
            return;
        };
        let Entry::Parked { conn, .. } = entry else {
            return;
        };
        // Only this thread submits, so a full queue stays full until a worker takes a job.
        if conn.is_writing() && self.pool.queued() >= self.pool.queue_capacity() {
            self.deferred.push_back(index);
            return;
        }
        let peer = conn.peer();
        let Entry::Parked { conn, .. } = std::mem::replace(
            entry,
            Entry::Busy {
                readable: false,
                writable: false,
                peer,
            },
        ) else {
            return;
        };
        let mut guard = ReturnGuard {
            index,
            handback: Arc::clone(&self.handback),
            conn: Some(conn),
            outcome: Outcome::Close,
        };
        let ctx = Arc::clone(&self.ctx);
        let job = move || {
            if let Some(conn) = guard.conn.as_mut() {
                let now = Instant::now();
                guard.outcome = if SHEDDING.with(Cell::get) {
                    conn.shed(&ctx, now)
                } else {
                    conn.drive(&ctx, now)
                };
            }
        };
        if let Err(refused) = self.pool.try_execute(job) {
            tracing::debug!("pool saturated; shedding a connection with 503");
            SHEDDING.with(|s| s.set(true));
            (refused.into_inner())();
            SHEDDING.with(|s| s.set(false));
        }
    }

    fn take_returns(&mut self) {
        while let Ok(returned) = self.rx.try_recv() {
            self.on_return(returned);
        }
        self.retry_deferred();
    }

    /// Hands deferred responses to workers while the queue has room.
    fn retry_deferred(&mut self) {
        while self.pool.queued() < self.pool.queue_capacity() {
            let Some(index) = self.deferred.pop_front() else {
                return;
            };
            if matches!(
                self.conns.get(index),
                Some(Entry::Parked {
                    want: Outcome::Write,
                    ..
                })
            ) {
                self.dispatch(index);
            }
        }
    }

    fn on_return(&mut self, returned: Returned) {
        let Returned {
            index,
            conn,
            outcome,
        } = returned;
        let Some(Entry::Busy {
            readable, writable, ..
        }) = self.conns.get(index)
        else {
            return;
        };
        let (readable, writable) = (*readable, *writable);
        let Some(conn) = conn else {
            self.close(index, None);
            return;
        };
        let draining = self.accepting == Accepting::Closed;
        if outcome == Outcome::Close || (draining && conn.is_idle(Instant::now())) {
            self.close(index, Some(conn));
            return;
        }
        let deadline = conn.deadline(&self.ctx.config);
        self.conns[index] = Entry::Parked {
            conn,
            want: outcome,
            deadline,
        };
        match outcome {
            Outcome::Work => self.dispatch(index),
            Outcome::Read if readable => self.on_readable(index),
            Outcome::Write if writable => self.dispatch(index),
            _ => {}
        }
    }

    fn close(&mut self, index: usize, conn: Option<Box<Conn<Stream<TcpStream>>>>) {
        // The entry, if still there, is what the per-address count knows of.
        let conn = match self.conns.try_remove(index) {
            Some(Entry::Parked { conn, .. }) => {
                self.peers.release(conn.peer());
                Some(conn)
            }
            Some(Entry::Busy { peer, .. }) => {
                self.peers.release(peer);
                conn
            }
            None => conn,
        };
        if let Some(mut conn) = conn {
            let _ = self
                .poll
                .registry()
                .deregister(conn.stream_mut().socket_mut());
        }
        if self.accepting == Accepting::Full {
            self.accepting = Accepting::Open;
            self.accept();
        }
    }

    /// Closes connections whose deadline passed; ends an accept back-off; retries deferred
    /// responses.
    fn sweep(&mut self, now: Instant) {
        self.retry_deferred();
        let mut phases = crate::stats::PhaseCounts::default();
        for (_, entry) in &self.conns {
            phases.count(match entry {
                Entry::Parked { conn, .. } => conn.phase(),
                _ => crate::stats::Phase::Busy,
            });
        }
        self.ctx.stats.publish_connections(&phases);
        if self.accepting == Accepting::Closed {
            self.close_idle(now);
        }
        let expired: Vec<usize> = self
            .conns
            .iter()
            .filter_map(|(index, entry)| match entry {
                Entry::Parked { deadline, .. } if *deadline <= now => Some(index),
                _ => None,
            })
            .collect();
        for index in expired {
            if let Some(Entry::Parked { mut conn, .. }) = self.conns.try_remove(index) {
                tracing::debug!("connection timed out");
                conn.on_timeout(&self.ctx);
                self.peers.release(conn.peer());
                let _ = self
                    .poll
                    .registry()
                    .deregister(conn.stream_mut().socket_mut());
            }
        }
        if let Accepting::BackOff(until) = self.accepting
            && now >= until
        {
            self.accepting = Accepting::Open;
            self.accept();
        }
        // At the limit: look again each tick, as a connection may have become idle (evictable)
        // without closing.
        if self.accepting == Accepting::Full {
            self.accepting = Accepting::Open;
            self.accept();
        }
    }

    /// Graceful shutdown: stop accepting, close idle connections, let the rest finish.
    fn begin_drain(&mut self) {
        tracing::info!(connections = self.conns.len(), "shutting down");
        self.ctx.draining.store(true, Ordering::Release);
        self.ctx.stats.set_draining();
        // The clients already in the backlog connected before the drain: take them in
        // (closing the socket would reset them), then close it.
        if self.accepting == Accepting::Open {
            self.accept();
        }
        self.accepting = Accepting::Closed;
        // Closed, not only deregistered: a new client is refused at once (or, with
        // `SO_REUSEPORT`, goes to the server beside this one) instead of waiting in the
        // backlog until the process exits.
        for mut listener in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.close_idle(Instant::now());
    }

    /// While draining: closes the connections with nothing under way (see `Conn::is_idle`).
    fn close_idle(&mut self, now: Instant) {
        let idle: Vec<usize> = self
            .conns
            .iter()
            .filter_map(|(index, entry)| match entry {
                Entry::Parked { conn, .. } if conn.is_idle(now) => Some(index),
                _ => None,
            })
            .collect();
        for index in idle {
            self.close(index, None);
        }
    }
}
