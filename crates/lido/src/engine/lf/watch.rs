//! The watch: the engine's clocks, on the server's own thread. It closes connections whose
//! deadline passed, resumes accepting after an error, sheds load when every worker has been
//! busy for a while, and runs the graceful drain. It never runs a handler and never does file
//! I/O: while shedding it only reads requests and writes `503`s.

use std::io;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::table::Held;
use super::worker::{accept_batch, resume_listener, settle_and_leave};
use super::{
    ACCEPT_BACKOFF, ACCEPT_CLOSED, ACCEPT_FULL, ACCEPT_OPEN, NUDGE, STOP, Shared, Token,
    listener_index,
};
use crate::conn::{Conn, Outcome};

/// How often the watch looks at the workers. Saturation is declared when no worker has been
/// free at two looks in a row: after 20-40 ms of every worker being busy.
const LOOK_EVERY: Duration = Duration::from_millis(20);

/// While shedding, the longest wait on the epoll set, so that a worker coming free is noticed
/// within this long.
const SHED_WAIT: Duration = Duration::from_millis(5);

/// Events taken per wait while shedding.
const SHED_EVENTS: usize = 64;

/// Connections accepted per listener event while shedding (they are only parked).
const SHED_ACCEPT_BATCH: usize = 64;

/// At the start of a drain, at most this many batches are taken from each listener's backlog
/// (the backlog is bounded by the kernel: `somaxconn`, 4,096 by default).
const DRAIN_BACKLOG_BATCHES: usize = 128;

/// After an accept error such as EMFILE, how long the listener stays disarmed.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

struct Watch<'a> {
    shared: &'a Shared,
    tick: Duration,
    next_sweep: Instant,
    /// Each worker's `waits` at the last look.
    last_waits: Vec<u64>,
    backoff_until: Option<Instant>,
    drain_deadline: Option<Instant>,
}

pub(super) fn run(shared: &Shared) -> io::Result<()> {
    let tick = shared.ctx.config.tick();
    let mut watch = Watch {
        shared,
        tick,
        next_sweep: Instant::now() + tick,
        last_waits: vec![0; shared.workers.len()],
        backoff_until: None,
        drain_deadline: None,
    };
    loop {
        let stop = watch.sleep();
        let now = Instant::now();
        if stop && watch.drain_deadline.is_none() {
            watch.drain_deadline = Some(now + shared.ctx.config.drain_timeout);
            watch.begin_drain(now);
        }
        if let Some(deadline) = watch.drain_deadline {
            if shared.table.open() == 0 {
                return Ok(());
            }
            if now >= deadline {
                tracing::warn!(
                    connections = shared.table.open(),
                    "drain deadline passed; closing what is left"
                );
                return Ok(());
            }
        }
        watch.chores(now);
        if watch.saturated() {
            watch.shed()?;
        }
    }
}

impl Watch<'_> {
    /// Sleeps until the next look or a stop request; returns whether a stop was requested.
    fn sleep(&self) -> bool {
        let until = self.next_sweep.min(Instant::now() + LOOK_EVERY);
        let mut stop = self
            .shared
            .stop_requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if *stop {
                return true;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            stop = self
                .shared
                .wake
                .wait_timeout(stop, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn stop_requested(&self) -> bool {
        *self
            .shared
            .stop_requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Deadlines and accepting; cheap when nothing is due.
    fn chores(&mut self, now: Instant) {
        if now >= self.next_sweep {
            self.sweep(now);
            self.next_sweep = now + self.tick;
        }
        let shared = self.shared;
        let accepting = shared.accepting.load(Ordering::SeqCst);
        if accepting != ACCEPT_BACKOFF {
            self.backoff_until = None;
        }
        match accepting {
            ACCEPT_BACKOFF => match self.backoff_until {
                None => self.backoff_until = Some(now + ACCEPT_PAUSE),
                Some(until) if now >= until => {
                    self.backoff_until = None;
                    if shared
                        .accepting
                        .compare_exchange(
                            ACCEPT_BACKOFF,
                            ACCEPT_OPEN,
                            Ordering::SeqCst,
                            Ordering::SeqCst,
                        )
                        .is_ok()
                    {
                        resume_listener(shared);
                    }
                }
                Some(_) => {}
            },
            // At the limit: look again each tick, as a connection may have become idle
            // (evictable) without closing; a worker then accepts, evicting, or pauses again.
            ACCEPT_FULL
                if shared
                    .accepting
                    .compare_exchange(ACCEPT_FULL, ACCEPT_OPEN, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok() =>
            {
                resume_listener(shared);
            }
            _ => {}
        }
    }

    /// Closes connections whose deadline passed (with `408` if a request was under way) and,
    /// while draining, idle ones. Connections on a worker are skipped: their worker is on them.
    fn sweep(&self, now: Instant) {
        let draining = self.drain_deadline.is_some();
        let table = &self.shared.table;
        let mut phases = crate::stats::PhaseCounts::default();
        let mut seen = 0u64;
        for index in 0..table.capacity() {
            let Some(mut held) = table.try_get(index) else {
                continue;
            };
            let slot = &mut *held.slot;
            let Some(conn) = slot.conn.as_mut() else {
                continue;
            };
            seen += 1;
            phases.count(if slot.queued {
                crate::stats::Phase::Busy
            } else {
                conn.phase()
            });
            let expired = slot.deadline <= now;
            if expired || (draining && conn.is_idle(now)) {
                if expired && slot.queued {
                    // Waited in the overflow queue for a worker that never came free.
                    tracing::debug!("no worker came free in time; answering 503");
                    conn.on_queue_timeout(&self.shared.ctx);
                } else if expired {
                    tracing::debug!("connection timed out");
                    conn.on_timeout(&self.shared.ctx);
                }
                drop(table.remove(&mut held));
            }
        }
        // The slots a worker holds could not be looked at: those connections are busy.
        let open = u64::try_from(table.open()).unwrap_or(u64::MAX);
        phases.add(crate::stats::Phase::Busy, open.saturating_sub(seen));
        self.shared.ctx.stats.publish_connections(&phases);
    }

    /// No worker is waiting now, and none has waited since the last look.
    fn saturated(&mut self) -> bool {
        let mut saturated = true;
        for (worker, last) in self.shared.workers.iter().zip(&mut self.last_waits) {
            let waits = worker.waits.load(Ordering::Relaxed);
            if worker.waiting.load(Ordering::SeqCst) || waits != *last {
                saturated = false;
            }
            *last = waits;
        }
        saturated
    }

    /// Some worker came free since saturation began.
    fn relieved(&self) -> bool {
        self.shared
            .workers
            .iter()
            .zip(&self.last_waits)
            .any(|(w, last)| {
                w.waiting.load(Ordering::SeqCst) || w.waits.load(Ordering::Relaxed) != *last
            })
    }

    /// Every worker is busy: take events from the epoll set here until one comes free. New
    /// connections are accepted and parked; partial requests are read; complete requests are
    /// queued for the next free worker, or answered `503` when the queue is full. A connection
    /// with a response in progress is left for a worker (registered again, so reported anew,
    /// when shedding ends).
    fn shed(&mut self) -> io::Result<()> {
        tracing::debug!("every worker is busy; shedding load");
        let shared = self.shared;
        let mut deferred: Vec<Token> = Vec::new();
        let mut events = Vec::with_capacity(SHED_EVENTS);
        let mut raw = Vec::with_capacity(SHED_EVENTS);
        while !self.relieved() && !self.stop_requested() {
            shared.poller.wait(&mut events, &mut raw, Some(SHED_WAIT))?;
            let now = Instant::now();
            for ready in &events {
                match ready.token {
                    STOP | NUDGE => {}
                    token => match listener_index(token) {
                        Some(which) => {
                            park_new(shared, which, now);
                        }
                        None => {
                            // Claimed by a worker: that worker serves it again.
                            if let Some(held) = shared.table.claim(token) {
                                self.shed_one(held, now, &mut deferred);
                            }
                        }
                    },
                }
            }
            self.chores(now);
        }
        tracing::debug!("a worker is free; shedding ends");
        for token in deferred {
            if let Some(held) = shared.table.claim(token) {
                let want = held.slot.want;
                settle_and_leave(shared, held, want);
            }
        }
        if !shared.overflow.is_empty() {
            shared.nudge.raise();
        }
        Ok(())
    }

    /// One event taken while shedding, on a connection claimed for it; the claim is given up
    /// on every way out.
    fn shed_one(&self, mut held: Held<'_>, now: Instant, deferred: &mut Vec<Token>) {
        let shared = self.shared;
        let token = held.token();
        let slot = &mut *held.slot;
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        if slot.queued {
            // Already waiting for a worker, which will see whatever this event announced.
            shared.table.unclaim(&held);
            return;
        }
        let outcome = match slot.want {
            Outcome::Read => conn.on_readable(&shared.ctx, now),
            other => other,
        };
        match outcome {
            // A complete request, or a response being written (which a worker finishes: file
            // I/O stays off this thread): queued for the next free worker, for at most the head
            // timeout (a worker that takes an event for it meanwhile serves it sooner).
            Outcome::Work | Outcome::Write => {
                slot.want = outcome;
                if shared.overflow.push(token).is_ok() {
                    slot.queued = true;
                    slot.deadline = now + shared.ctx.config.head_timeout;
                    // The worker that takes it from the queue serves whatever else came.
                    shared.table.unclaim(&held);
                    drop(held);
                    // Pairs with the worker's announcement before it waits: either it sees the
                    // queue, or we see it waiting.
                    if shared.any_worker_waiting() {
                        shared.nudge.raise();
                    }
                    return;
                }
                if outcome == Outcome::Write {
                    // Queue full: registered again when shedding ends.
                    shared.table.unclaim(&held);
                    deferred.push(token);
                    return;
                }
                tracing::debug!("queue for workers full; shedding a request with 503");
                let outcome = conn.shed(&shared.ctx, now);
                settle_and_leave(shared, held, outcome);
            }
            Outcome::Read | Outcome::Close => settle_and_leave(shared, held, outcome),
        }
    }

    /// Graceful shutdown: take in the clients already waiting in the backlog (they connected
    /// before the drain; closing the socket would reset them), then stop listening at once (a
    /// new client is refused, or with `SO_REUSEPORT` goes to the server beside this one, not
    /// left hanging); make responses say `Connection: close`, close idle connections.
    fn begin_drain(&self, now: Instant) {
        let shared = self.shared;
        tracing::info!(connections = shared.table.open(), "shutting down");
        shared
            .ctx
            .draining
            .store(true, std::sync::atomic::Ordering::Release);
        shared.ctx.stats.set_draining();
        let listening = shared
            .listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        for which in 0..listening {
            for _ in 0..DRAIN_BACKLOG_BATCHES {
                if park_new(shared, which, now) < SHED_ACCEPT_BATCH {
                    break;
                }
            }
        }
        shared.accepting.store(ACCEPT_CLOSED, Ordering::SeqCst);
        for listener in std::mem::take(
            &mut *shared
                .listeners
                .write()
                .unwrap_or_else(PoisonError::into_inner),
        ) {
            let _ = shared.poller.delete(&listener);
        }
        self.sweep(now);
    }
}

/// While shedding or draining: accepts new connections and parks them, without serving (a
/// worker does when their request arrives). Returns how many were accepted.
fn park_new(shared: &Shared, which: usize, now: Instant) -> usize {
    let accepted = accept_batch(shared, which, SHED_ACCEPT_BATCH);
    let count = accepted.len();
    for (stream, peer) in accepted {
        let Some(stream) = shared.ctx.wrap.stream(stream) else {
            continue;
        };
        let conn = Box::new(Conn::new(stream, peer, now));
        if let Some(held) = shared.table.insert(conn) {
            settle_and_leave(shared, held, Outcome::Read);
        }
    }
    count
}
