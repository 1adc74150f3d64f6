//! Every open connection of the engine, by token. A token names a slot and the slot's
//! generation, so an event that arrives for a connection already closed (and its slot reused)
//! is recognised and dropped.
//!
//! A thread that serves a connection holds its slot's lock for the whole turn: a one-shot
//! registration sends each event to one thread, so the lock is only ever contended by the
//! watch thread's sweeps, which only `try_lock`.

use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use crossbeam_queue::ArrayQueue;
use std::time::Instant;

use crate::conn::{Conn, Outcome};
use crate::engine::peers::PeerLimit;

/// Slot index in the low 32 bits, generation in the high 32.
pub(crate) type Token = u64;

fn token(index: u32, generation: u32) -> Token {
    (u64::from(generation) << 32) | u64::from(index)
}

fn index_of(token: Token) -> usize {
    (token & u64::from(u32::MAX)) as usize
}

fn generation_of(token: Token) -> u32 {
    (token >> 32) as u32
}

/// Tokens at or above this are not connections (the listener and signals).
pub(crate) const FIRST_SPECIAL: Token = u64::MAX - 16;

/// A connection and what it waits for.
#[derive(Debug)]
pub(crate) struct Slot {
    generation: u32,
    pub(crate) conn: Option<Box<Conn<TcpStream>>>,
    /// Registered with the poller (the first arm is an add, later ones re-arm).
    pub(crate) registered: bool,
    /// What the connection waits for while parked.
    pub(crate) want: Outcome,
    /// When the current wait expires (valid while parked).
    pub(crate) deadline: Instant,
}

impl Slot {
    pub(crate) fn token(&self, index: usize) -> Token {
        // Indexes fit in u32: the table is built with at most u32::MAX slots.
        token(index as u32, self.generation)
    }
}

#[derive(Debug)]
pub(crate) struct Table {
    slots: Box<[Mutex<Slot>]>,
    /// Free slot indexes (lock-free: accepting and closing threads never wait for each other).
    free: ArrayQueue<u32>,
    open: AtomicUsize,
    /// Where the next eviction sample starts.
    cursor: AtomicUsize,
    peers: PeerLimit,
}

/// Slots looked at per eviction before the whole table is.
const EVICTION_SAMPLE: usize = 64;

/// A locked slot that holds a connection.
pub(crate) struct Held<'a> {
    pub(crate) index: usize,
    pub(crate) slot: MutexGuard<'a, Slot>,
}

impl Held<'_> {
    pub(crate) fn token(&self) -> Token {
        self.slot.token(self.index)
    }
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    // A poisoned slot is one whose turn panicked; its connection is closed by whoever finds
    // it (see `Table::get`), so the data is still consistent enough to look at.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Table {
    /// A table of `capacity` slots (clamped to what a token can name).
    pub(crate) fn new(capacity: usize, peers: PeerLimit, now: Instant) -> Self {
        let capacity = capacity.clamp(1, FIRST_SPECIAL as usize & u32::MAX as usize);
        let slots = (0..capacity)
            .map(|_| {
                Mutex::new(Slot {
                    generation: 0,
                    conn: None,
                    registered: false,
                    want: Outcome::Read,
                    deadline: now,
                })
            })
            .collect();
        let free = ArrayQueue::new(capacity);
        for index in 0..capacity as u32 {
            // Cannot fail: the queue holds exactly `capacity`.
            let _ = free.push(index);
        }
        Self {
            slots,
            free,
            open: AtomicUsize::new(0),
            cursor: AtomicUsize::new(0),
            peers,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Connections open now, and places reserved for connections being accepted.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Reserves a place for a connection about to be accepted; `false` when the table is
    /// full. Every reservation ends in [`Table::insert`] or [`Table::unreserve`].
    pub(crate) fn reserve(&self) -> bool {
        let capacity = self.slots.len();
        self.open
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |open| {
                (open < capacity).then_some(open + 1)
            })
            .is_ok()
    }

    /// Gives back a reservation that was not used.
    pub(crate) fn unreserve(&self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }

    /// Stores `conn` in a free slot (its place reserved with [`Table::reserve`]) and returns
    /// it locked. `None` if its address is at the per-address limit: the reservation is given
    /// back, and dropping `conn` closes it.
    pub(crate) fn insert(&self, conn: Box<Conn<TcpStream>>) -> Option<Held<'_>> {
        if !self.peers.admit(conn.peer()) {
            self.unreserve();
            tracing::debug!(peer = ?conn.peer(), "too many connections from one address");
            return None;
        }
        // A reservation guarantees a free index: at most `capacity` are reserved or open.
        let index = self.free.pop()? as usize;
        let mut slot = lock(&self.slots[index]);
        slot.conn = Some(conn);
        slot.registered = false;
        slot.want = Outcome::Read;
        Some(Held { index, slot })
    }

    /// Whether some connection could give up its place to a newcomer (see
    /// [`Table::eviction_victim`]).
    pub(crate) fn has_eviction_victim(&self) -> bool {
        self.eviction_victim().is_some()
    }

    /// The connection that should give up its place to a newcomer (see
    /// [`Conn::eviction_rank`]): the best of a sample of slots from a rotating cursor, or of
    /// the whole table if the sample has none. `None` if every connection has a request in
    /// progress (or is on a worker now).
    pub(crate) fn eviction_victim(&self) -> Option<Held<'_>> {
        let len = self.slots.len();
        let start = self.cursor.fetch_add(EVICTION_SAMPLE, Ordering::Relaxed) % len;
        let best = |range: &mut dyn Iterator<Item = usize>| {
            range
                .filter_map(|index| {
                    let held = self.try_get(index)?;
                    let rank = held.slot.conn.as_ref()?.eviction_rank()?;
                    Some((rank, index))
                })
                .min()
        };
        let sampled = best(&mut (0..EVICTION_SAMPLE.min(len)).map(|i| (start + i) % len));
        let (_, index) = sampled.or_else(|| best(&mut (0..len)))?;
        // Still there and still evictable (it may have moved on since the look).
        let held = self.try_get(index)?;
        held.slot.conn.as_ref()?.eviction_rank()?;
        Some(held)
    }

    /// Locks the slot `token` names, if it still holds that connection. A slot whose last turn
    /// panicked is closed here and reported as gone.
    pub(crate) fn get(&self, token: Token) -> Option<Held<'_>> {
        let index = index_of(token);
        let cell = self.slots.get(index)?;
        let slot = match cell.lock() {
            Ok(slot) => slot,
            Err(poisoned) => {
                cell.clear_poison();
                let mut held = Held {
                    index,
                    slot: poisoned.into_inner(),
                };
                if held.slot.conn.is_some() {
                    tracing::error!("a connection's turn panicked; closing it");
                    drop(self.remove(&mut held));
                }
                return None;
            }
        };
        (slot.generation == generation_of(token) && slot.conn.is_some())
            .then_some(Held { index, slot })
    }

    /// Locks slot `index` if no thread holds it and it has a connection (for sweeps).
    pub(crate) fn try_get(&self, index: usize) -> Option<Held<'_>> {
        let slot = match self.slots.get(index)?.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::WouldBlock | TryLockError::Poisoned(_)) => return None,
        };
        slot.conn.is_some().then_some(Held { index, slot })
    }

    /// Takes the connection out and frees the slot (its generation moves on, so events still
    /// in flight for it are dropped). Dropping the returned connection closes its socket, which
    /// also removes it from the epoll set.
    pub(crate) fn remove(&self, held: &mut Held<'_>) -> Option<Box<Conn<TcpStream>>> {
        let conn = held.slot.conn.take()?;
        held.slot.generation = held.slot.generation.wrapping_add(1);
        held.slot.registered = false;
        self.open.fetch_sub(1, Ordering::SeqCst);
        self.peers.release(conn.peer());
        // Cannot fail: at most `capacity` indexes exist.
        let _ = self.free.push(held.index as u32);
        Some(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let t = token(7, 3);
        assert_eq!((index_of(t), generation_of(t)), (7, 3));
        // The largest token a full-size table can make stays below the special ones.
        let largest = FIRST_SPECIAL as usize & u32::MAX as usize;
        assert!(token(largest as u32 - 1, u32::MAX) < FIRST_SPECIAL);
    }
}
