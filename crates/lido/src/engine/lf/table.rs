//! Every open connection of the engine, by token. A token names a slot and the slot's
//! generation, so an event that arrives for a connection already closed (and its slot reused)
//! is recognised and dropped.
//!
//! A thread that serves a connection holds its slot's lock for the whole turn: a one-shot
//! registration sends each event to one thread, so the lock is only ever contended by the
//! watch thread's sweeps, which only `try_lock`.

use std::net::TcpStream;

use crate::transport::Stream;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
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
pub(crate) const FIRST_SPECIAL: Token = u64::MAX - 128;

/// A connection and what it waits for.
#[derive(Debug)]
pub(crate) struct Slot {
    generation: u32,
    pub(crate) conn: Option<Box<Conn<Stream<TcpStream>>>>,
    /// Registered with the poller (the first arm is an add, later ones re-arm).
    pub(crate) registered: bool,
    /// What the connection waits for while parked.
    pub(crate) want: Outcome,
    /// When the current wait expires (valid while parked).
    pub(crate) deadline: Instant,
    /// Waiting in the overflow queue for a free worker (not armed with the poller).
    pub(crate) queued: bool,
}

impl Slot {
    pub(crate) fn token(&self, index: usize) -> Token {
        // Indexes fit in u32: the table is built with at most u32::MAX slots.
        token(index as u32, self.generation)
    }
}

/// A slot and, outside its lock, the generation it holds now: a stale event is recognised
/// without taking the lock (which may be held for a whole handler by the connection that
/// reused the slot).
#[derive(Debug)]
struct Cell {
    generation: AtomicU32,
    slot: Mutex<Slot>,
}

#[derive(Debug)]
pub(crate) struct Table {
    slots: Box<[Cell]>,
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
            .map(|_| Cell {
                generation: AtomicU32::new(0),
                slot: Mutex::new(Slot {
                    generation: 0,
                    conn: None,
                    registered: false,
                    want: Outcome::Read,
                    deadline: now,
                    queued: false,
                }),
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
    pub(crate) fn insert(&self, conn: Box<Conn<Stream<TcpStream>>>) -> Option<Held<'_>> {
        if !self.peers.admit(conn.peer()) {
            self.unreserve();
            tracing::debug!(peer = ?conn.peer(), "too many connections from one address");
            return None;
        }
        // A reservation guarantees a free index: `remove` frees the index before it frees the
        // place, so at most `capacity` places are reserved or open while fewer indexes are out.
        let Some(index) = self.free.pop() else {
            tracing::error!("no free slot for a reserved place; refusing the connection");
            self.unreserve();
            self.peers.release(conn.peer());
            return None;
        };
        let index = index as usize;
        let mut slot = lock(&self.slots[index].slot);
        slot.conn = Some(conn);
        slot.registered = false;
        slot.want = Outcome::Read;
        slot.queued = false;
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
                    // A complete request waiting in the overflow queue is in progress.
                    if held.slot.queued || held.slot.want == Outcome::Work {
                        return None;
                    }
                    let rank = held.slot.conn.as_ref()?.eviction_rank()?;
                    Some((rank, index))
                })
                .min()
        };
        let sampled = best(&mut (0..EVICTION_SAMPLE.min(len)).map(|i| (start + i) % len));
        let (_, index) = sampled.or_else(|| best(&mut (0..len)))?;
        // Still there and still evictable (it may have moved on since the look).
        let held = self.try_get(index)?;
        if held.slot.queued || held.slot.want == Outcome::Work {
            return None;
        }
        held.slot.conn.as_ref()?.eviction_rank()?;
        Some(held)
    }

    /// Locks the slot `token` names, if it still holds that connection. A stale token (the
    /// connection closed, its slot perhaps reused) is dropped without waiting for the slot's
    /// lock. A slot whose last turn panicked is closed here and reported as gone.
    pub(crate) fn get(&self, token: Token) -> Option<Held<'_>> {
        let index = index_of(token);
        let cell = self.slots.get(index)?;
        let generation = generation_of(token);
        if cell.generation.load(Ordering::Acquire) != generation {
            return None;
        }
        let slot = match cell.slot.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::WouldBlock) => {
                // Held: by the thread that armed it (for a moment), or by a newer connection
                // in a reused slot (perhaps for a long handler). Wait only in the first case.
                if cell.generation.load(Ordering::Acquire) != generation {
                    return None;
                }
                match cell.slot.lock() {
                    Ok(slot) => slot,
                    Err(poisoned) => return self.discard_poisoned(index, poisoned.into_inner()),
                }
            }
            Err(TryLockError::Poisoned(poisoned)) => {
                return self.discard_poisoned(index, poisoned.into_inner());
            }
        };
        (slot.generation == generation && slot.conn.is_some()).then_some(Held { index, slot })
    }

    /// A slot whose holder panicked: its connection is closed (the state cannot be trusted)
    /// and the slot made usable again.
    fn discard_poisoned<'a>(
        &'a self,
        index: usize,
        slot: MutexGuard<'a, Slot>,
    ) -> Option<Held<'a>> {
        self.slots[index].slot.clear_poison();
        let mut held = Held { index, slot };
        if held.slot.conn.is_some() {
            tracing::error!("a connection's turn panicked; closing it");
            drop(self.remove(&mut held));
        }
        None
    }

    /// Locks slot `index` if no thread holds it and it has a connection (for sweeps). A
    /// poisoned slot is cleaned up here, so none is stranded.
    pub(crate) fn try_get(&self, index: usize) -> Option<Held<'_>> {
        let cell = self.slots.get(index)?;
        let slot = match cell.slot.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::WouldBlock) => return None,
            Err(TryLockError::Poisoned(poisoned)) => {
                return self.discard_poisoned(index, poisoned.into_inner());
            }
        };
        slot.conn.is_some().then_some(Held { index, slot })
    }

    /// Takes the connection out and frees the slot (its generation moves on, so events still
    /// in flight for it are dropped). Dropping the returned connection closes its socket, which
    /// also removes it from the epoll set.
    pub(crate) fn remove(&self, held: &mut Held<'_>) -> Option<Box<Conn<Stream<TcpStream>>>> {
        let conn = held.slot.conn.take()?;
        held.slot.generation = held.slot.generation.wrapping_add(1);
        self.slots[held.index]
            .generation
            .store(held.slot.generation, Ordering::Release);
        held.slot.registered = false;
        // The index goes back before the place does: a thread that reserves the place then
        // always finds an index (see `insert`). Cannot fail: at most `capacity` indexes exist.
        let _ = self.free.push(held.index as u32);
        self.open.fetch_sub(1, Ordering::SeqCst);
        self.peers.release(conn.peer());
        Some(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reserving, inserting and removing from many threads at once on a tiny table: no place,
    /// index or per-address count is ever lost or doubled.
    #[test]
    fn r9_places_indexes_and_addresses_balance_under_contention() {
        use std::sync::Arc;
        const CAPACITY: usize = 4;
        let table = Arc::new(Table::new(
            CAPACITY,
            PeerLimit::new(Some(CAPACITY)),
            Instant::now(),
        ));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let table = Arc::clone(&table);
                std::thread::spawn(move || {
                    let peer: std::net::SocketAddr = "192.0.2.7:9".parse().unwrap();
                    let mut inserted = 0;
                    for _ in 0..20_000 {
                        if !table.reserve() {
                            continue;
                        }
                        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                        let stream =
                            std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                        let conn =
                            Box::new(Conn::new(Stream::Plain(stream), Some(peer), Instant::now()));
                        if let Some(mut held) = table.insert(conn) {
                            inserted += 1;
                            assert!(table.remove(&mut held).is_some());
                        }
                        if inserted > 200 {
                            break;
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(table.open(), 0);
        assert_eq!(table.free.len(), CAPACITY);
        // Every place can be taken again, and the address is not counted as still open.
        for _ in 0..CAPACITY {
            assert!(table.reserve());
        }
        assert!(!table.reserve());
    }

    #[test]
    fn tokens_round_trip() {
        let t = token(7, 3);
        assert_eq!((index_of(t), generation_of(t)), (7, 3));
        // The largest token a full-size table can make stays below the special ones.
        let largest = FIRST_SPECIAL as usize & u32::MAX as usize;
        assert!(token(largest as u32 - 1, u32::MAX) < FIRST_SPECIAL);
    }
}
