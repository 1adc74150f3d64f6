//! A worker's loop: take what the watch queued, wait for one event, serve it, repeat. Serving
//! is the whole exchange on this thread: read, parse, handler, write, park.

use std::net::{SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::Instant;

use rustix::io::Errno;
use rustix::net::SocketFlags;

use super::fair::CpuShare;
use super::poller::Interest;
use super::table::Held;
use super::{
    ACCEPT_BACKOFF, ACCEPT_FULL, ACCEPT_OPEN, LISTENERS, NUDGE, STOP, Shared, Token, listener_index,
};
use crate::conn::{Conn, Outcome};

/// Events taken per wait: one. An event taken is one no other worker can take, and this worker
/// may spend long in a handler: a second event taken with it would wait behind that handler
/// while other workers are free. (Measured: 4 or 16 per wait gained no req/s and doubled p99.)
const EVENTS_PER_WAIT: usize = 1;

/// Connections a worker accepts per listener event: one, served at once. The listener is
/// level-triggered, so any other waiting worker takes the next: each connection starts on its
/// own worker with no registration (accepting more here would either queue them behind this
/// one's handler or cost an `epoll_ctl` each).
const ACCEPT_PER_TURN: usize = 1;

pub(super) fn run(shared: &Shared, me: usize) {
    let state = &shared.workers[me];
    let mut events = Vec::with_capacity(EVENTS_PER_WAIT);
    let mut raw = Vec::with_capacity(EVENTS_PER_WAIT);
    let mut share = CpuShare::new(Instant::now());
    loop {
        while let Some(token) = shared.overflow.pop() {
            // More queued: wake another worker for it (one nudge wakes one worker).
            if !shared.overflow.is_empty() {
                shared.nudge.raise();
            }
            serve_guarded(shared, token);
        }
        if shared.exit.load(Ordering::Acquire) {
            return;
        }
        state
            .waits
            .store(state.waits.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        state.waiting.store(true, Ordering::SeqCst);
        // Pairs with the watch, which queues and then looks for a waiting worker to nudge:
        // either it sees us waiting, or we see what it queued.
        if !shared.overflow.is_empty() {
            state.waiting.store(false, Ordering::SeqCst);
            continue;
        }
        let before = Instant::now();
        let waited = shared.poller.wait(&mut events, &mut raw, None);
        state.waiting.store(false, Ordering::SeqCst);
        share.yield_if_due(before, Instant::now());
        if let Err(err) = waited {
            tracing::error!(error = %err, "epoll_wait failed; this worker stops");
            shared.request_stop();
            return;
        }
        for ready in &events {
            match ready.token {
                STOP => {
                    if shared.exit.load(Ordering::Acquire) {
                        return;
                    }
                }
                NUDGE => shared.nudge.clear(),
                token => match listener_index(token) {
                    Some(which) => {
                        if catch_unwind(AssertUnwindSafe(|| accept(shared, which))).is_err() {
                            tracing::error!("accepting panicked");
                        }
                    }
                    None => serve_guarded(shared, token),
                },
            }
        }
    }
}

/// Serves `token`; a panic (a bug: handlers' panics are caught inside the connection) closes
/// that connection instead of ending the worker.
fn serve_guarded(shared: &Shared, token: Token) {
    if catch_unwind(AssertUnwindSafe(|| serve(shared, token))).is_err() {
        tracing::error!("serving a connection panicked");
        shared.table.discard_if_poisoned(token);
    }
}

/// Serves `token` if this thread's claim on it holds (another thread serving it will serve it
/// again instead, see `Table::claim`).
pub(super) fn serve(shared: &Shared, token: Token) {
    if let Some(held) = shared.table.claim(token) {
        turns(shared, held);
    }
}

/// Turns of a claimed connection: everything it can do without blocking, again as long as
/// events came during the turn; then the claim is given up.
fn turns<'a>(shared: &'a Shared, mut held: Held<'a>) {
    loop {
        held.slot.queued = false;
        let Some(conn) = held.slot.conn.as_mut() else {
            return;
        };
        let outcome = conn.drive(&shared.ctx, Instant::now());
        match leave(shared, held, outcome) {
            Some(again) => held = again,
            None => return,
        }
    }
}

/// Parks the connection for `outcome` and gives up the claim, on a thread that does not serve
/// connections (the watch): if an event came meanwhile, the poller reports the connection
/// again, for a worker.
pub(super) fn settle_and_leave(shared: &Shared, held: Held<'_>, outcome: Outcome) {
    if let Some(held) = leave(shared, held, outcome) {
        requeue(shared, held);
    }
}

/// Ends a turn: parks or closes the connection for `outcome` and gives up the claim. Returns
/// the connection, still claimed, if an event came during the turn. Work left (a long
/// transfer, many pipelined requests) goes to the back of the ready list, other connections
/// first, even if an event came meanwhile.
fn leave<'a>(shared: &'a Shared, mut held: Held<'a>, outcome: Outcome) -> Option<Held<'a>> {
    settle(shared, &mut held, outcome);
    if outcome == Outcome::Work {
        requeue(shared, held);
        return None;
    }
    shared.table.release(held)
}

/// Gives up the claim and has the poller report the connection again at once (it is
/// writable): the next event for it goes to whichever thread waits.
fn requeue(shared: &Shared, mut held: Held<'_>) {
    shared.table.unclaim(&held);
    register(shared, &mut held, Interest::ReadWrite);
}

/// Parks the connection for `outcome` (with its deadline), or closes it.
fn settle(shared: &Shared, held: &mut Held<'_>, outcome: Outcome) {
    if outcome == Outcome::Close {
        return close(shared, held);
    }
    park(shared, held, outcome);
}

/// Records what the parked connection waits for and until when, and makes sure the poller
/// will report it. Registered edge-triggered for good, a connection waiting for input needs no
/// system call: a read in its turn emptied the socket (`Conn::drive` parks for input only
/// then), so the next arrival is reported. One that waits for room to write is registered for
/// writability too, which also looks at the socket at once.
fn park(shared: &Shared, held: &mut Held<'_>, outcome: Outcome) {
    let slot = &mut *held.slot;
    let Some(conn) = slot.conn.as_ref() else {
        return;
    };
    slot.want = outcome;
    slot.deadline = conn.deadline(&shared.ctx.config);
    match outcome {
        Outcome::Read if slot.registered => {}
        Outcome::Read => register(shared, held, Interest::Read),
        Outcome::Write => register(shared, held, Interest::ReadWrite),
        // Registered by `requeue` once the claim is given up (see `leave`).
        Outcome::Work | Outcome::Close => {}
    }
}

/// Adds the connection to the epoll set, or changes its registration; closes it if the
/// poller refuses.
fn register(shared: &Shared, held: &mut Held<'_>, interest: Interest) {
    let token = held.token();
    let slot = &mut *held.slot;
    let Some(conn) = slot.conn.as_ref() else {
        return;
    };
    match shared
        .poller
        .arm(conn.stream(), token, interest, slot.registered)
    {
        Ok(()) => slot.registered = true,
        Err(err) => {
            tracing::warn!(error = %err, "could not register a connection; closing it");
            close(shared, held);
        }
    }
}

/// Closes the connection, and resumes accepting if the table was full.
pub(super) fn close(shared: &Shared, held: &mut Held<'_>) {
    drop(shared.table.remove(held));
    if shared.accepting.load(Ordering::SeqCst) == ACCEPT_FULL
        && shared
            .accepting
            .compare_exchange(ACCEPT_FULL, ACCEPT_OPEN, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        resume_listener(shared);
    }
}

/// Makes the listeners report connections again after a pause (if accepting is open).
pub(super) fn resume_listener(shared: &Shared) {
    let listeners = shared
        .listeners
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    sync_listeners(shared, &listeners);
}

/// Makes the listeners' registrations match `accepting`: reporting while it is open, paused
/// otherwise. Changes are serialised and read the state under the lock, so the last change
/// always matches the latest state: a pause and a resume that race cannot leave a listener
/// paused while accepting is open.
pub(super) fn sync_listeners(shared: &Shared, listeners: &[std::net::TcpListener]) {
    let _serial = shared
        .listener_sync
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let open = shared.accepting.load(Ordering::SeqCst) == ACCEPT_OPEN;
    for (i, listener) in listeners.iter().enumerate() {
        let token = LISTENERS + i as u64;
        let changed = if open {
            shared.poller.resume(listener, token)
        } else {
            shared.poller.pause(listener, token)
        };
        if let Err(err) = changed {
            tracing::error!(error = %err, "could not change a listener's registration");
        }
    }
}

/// Accepts a connection from listener `which` and serves it at once: its request usually came
/// with it.
fn accept(shared: &Shared, which: usize) {
    let now = Instant::now();
    // TCP_NODELAY comes from the listener (see `server::listen`).
    // A panic in the turn poisons the slot; the next sweep closes it (`Table::try_get`).
    for (stream, peer) in accept_batch(shared, which, ACCEPT_PER_TURN) {
        let Some(stream) = shared.ctx.wrap.stream(stream) else {
            continue;
        };
        if let Some(held) = shared.table.insert(Box::new(Conn::new(stream, peer, now))) {
            turns(shared, held);
        }
    }
}

/// Evicts the connection that should give up its place and reserves that place; `false` if
/// none can give it up.
fn make_room(shared: &Shared) -> bool {
    for _ in 0..MAKE_ROOM_ATTEMPTS {
        if let Some(mut victim) = shared.table.eviction_victim() {
            tracing::debug!("at the connection limit; closing an idle or half-sent one");
            // Not `close`: this thread holds the listener and is accepting.
            drop(shared.table.remove(&mut victim));
        }
        if shared.table.reserve() {
            return true;
        }
    }
    false
}

/// Evictions tried for one newcomer before it is turned away (other acceptors may take the
/// places made).
const MAKE_ROOM_ATTEMPTS: usize = 4;

/// Accepts up to `most` connections, each with a place reserved in the table (insert them, or
/// unreserve). At the connection limit a newcomer is still let in when an idle or half-sent
/// connection can give up its place (see `Conn::eviction_rank`); when none can (every
/// connection has a request in progress) or accept fails, the listener is paused. Registers
/// nothing.
pub(super) fn accept_batch(
    shared: &Shared,
    which: usize,
    most: usize,
) -> Vec<(TcpStream, Option<SocketAddr>)> {
    let mut accepted = Vec::new();
    let listeners = shared
        .listeners
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(listener) = listeners.get(which) else {
        return accepted; // closed: draining
    };
    // Every change to `accepting` is followed by `sync_listeners` from the thread that made
    // it, so the last sync sees the last state.
    let mut sync = false;
    while accepted.len() < most {
        // At the limit a newcomer gets in if someone can make room; room is made only once
        // the newcomer is really there (accepted).
        let reserved = shared.table.reserve();
        if !reserved && !shared.table.has_eviction_victim() {
            // Pause until a connection closes (see `close`). Look again after saying so: a
            // close that ran before it could not see the pause. (Not over a back-off or a
            // drain: those pause the listener already.)
            let _ = shared.accepting.compare_exchange(
                ACCEPT_OPEN,
                ACCEPT_FULL,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            sync = true;
            if shared.table.open() < shared.table.capacity()
                && shared
                    .accepting
                    .compare_exchange(ACCEPT_FULL, ACCEPT_OPEN, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                // Open again, but another acceptor may have paused the listeners on seeing
                // the pause meanwhile: the sync below resumes them.
                continue;
            }
            break;
        }
        match rustix::net::acceptfrom_with(listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
            Ok((fd, addr)) => {
                let peer = addr.and_then(|a| SocketAddr::try_from(a).ok());
                if !reserved && !make_room(shared) {
                    continue; // everyone got busy meanwhile: dropping it closes it
                }
                shared.ctx.stats.connection();
                accepted.push((TcpStream::from(fd), peer));
            }
            Err(Errno::AGAIN) => {
                if reserved {
                    shared.table.unreserve();
                }
                break;
            }
            Err(Errno::INTR | Errno::CONNABORTED | Errno::CONNRESET | Errno::PROTO) => {
                if reserved {
                    shared.table.unreserve();
                }
            }
            Err(err) => {
                if reserved {
                    shared.table.unreserve();
                }
                // EMFILE, ENFILE, ENOBUFS, ENOMEM: the listener stays readable; the watch
                // re-arms it after a pause instead of letting us spin on it.
                tracing::warn!(error = %std::io::Error::from(err), "accept failed; backing off");
                shared.ctx.stats.accept_error();
                shared.accepting.store(ACCEPT_BACKOFF, Ordering::SeqCst);
                sync = true;
                break;
            }
        }
    }
    if sync {
        sync_listeners(shared, &listeners);
    }
    accepted
}
