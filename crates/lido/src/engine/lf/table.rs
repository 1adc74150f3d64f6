//! Every open connection of the engine, by token. A token names a slot and the slot's
//! generation, so an event that arrives for a connection already closed (and its slot reused)
//! is recognised and dropped.
//!
//! Connections are registered edge-triggered, so a second event can come while a thread
//! serves the connection. Whoever takes an event *claims* the slot ([`Table::claim`]): the
//! first claim serves; a claim that finds the slot held only marks it, and the holder serves
//! the connection again before it lets go ([`Table::release`]). So a connection is on one
//! thread at a time, no event is lost, and no thread ever waits for another's handler. The
//! holder keeps the slot's lock for the whole turn; the lock is otherwise taken only for a
//! moment (the watch's sweeps and evictions, which `try_lock` and skip claimed slots).

use std::net::TcpStream;

use crate::transport::Stream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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

/// A cell's claim word: the generation it holds in the high 32 bits (as in a token), and in
/// the low bits whether a thread serves it.
type Word = u64;
/// No thread serves the connection.
const FREE: Word = 0;
/// A thread serves it.
const HELD: Word = 1;
/// A thread serves it, and an event came meanwhile: the holder serves it again.
const AGAIN: Word = 2;
const CLAIM_BITS: Word = 3;

fn word(generation: u32, claim: Word) -> Word {
    (u64::from(generation) << 32) | claim
}

/// Tokens at or above this are not connections (the listener and signals).
pub(crate) const FIRST_SPECIAL: Token = u64::MAX - 128;

/// A connection and what it waits for.
#[derive(Debug)]
pub(crate) struct Slot {
    generation: u32,
    pub(crate) conn: Option<Box<Conn<Stream<TcpStream>>>>,
    /// Registered with the poller (the first registration is an add, later ones a change).
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

/// A slot and, outside its lock, its claim word: a stale event is recognised, and an event for
/// a connection being served is left to the thread serving it, without taking the lock (held
/// for a whole handler by the thread serving).
#[derive(Debug)]
struct Cell {
    claim: AtomicU64,
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
                claim: AtomicU64::new(word(0, FREE)),
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
    /// it locked and claimed (give it up with [`Table::release`]). `None` if its address is at
    /// the per-address limit: the reservation is given back, and dropping `conn` closes it.
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
        self.slots[index]
            .claim
            .store(word(slot.generation, HELD), Ordering::Release);
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

    /// Claims the connection `token` names and returns it locked, if it is still open and no
    /// other thread serves it. If one does, the claim is left to that thread, which serves the
    /// connection again before letting go ([`Table::release`]): `None` here, and no wait. A
    /// stale token (the connection closed, its slot perhaps reused) is `None` too. A slot whose
    /// last turn panicked is closed here and reported as gone.
    pub(crate) fn claim(&self, token: Token) -> Option<Held<'_>> {
        let index = index_of(token);
        let cell = self.slots.get(index)?;
        let generation = generation_of(token);
        let mut current = cell.claim.load(Ordering::Acquire);
        loop {
            if current >> 32 != u64::from(generation) {
                return None;
            }
            let next = match current & CLAIM_BITS {
                FREE => word(generation, HELD),
                HELD => word(generation, AGAIN),
                _ => return None,
            };
            match cell.claim.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) if next & CLAIM_BITS == HELD => break,
                Ok(_) => return None,
                Err(actual) => current = actual,
            }
        }
        // Claimed: the lock is free or about to be (a sweep's look, or the previous holder
        // letting go).
        let slot = match cell.slot.lock() {
            Ok(slot) => slot,
            Err(poisoned) => return self.discard_poisoned(index, poisoned.into_inner()),
        };
        if slot.generation != generation {
            return None; // closed meanwhile by a sweep: `remove` dropped the claim with it
        }
        if slot.conn.is_none() {
            cell.claim.store(word(generation, FREE), Ordering::Release);
            return None;
        }
        Some(Held { index, slot })
    }

    /// Gives up the claim on `held` at the end of a turn. If another event came during the
    /// turn, the connection is handed back, still claimed: serve it again. A connection closed
    /// in the turn has no claim left (see [`Table::remove`]).
    pub(crate) fn release<'a>(&self, held: Held<'a>) -> Option<Held<'a>> {
        // Closed in the turn: `remove` dropped the claim with the connection.
        held.slot.conn.as_ref()?;
        let cell = &self.slots[held.index];
        let generation = held.slot.generation;
        match cell.claim.compare_exchange(
            word(generation, HELD),
            word(generation, FREE),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => None,
            Err(_) => {
                // Marked again: only a claim does that, and only the holder frees it.
                cell.claim.store(word(generation, HELD), Ordering::Release);
                Some(held)
            }
        }
    }

    /// Gives up the claim on `held` whatever came meanwhile, keeping the lock: the caller
    /// makes the poller report the connection again (an event then reaches another thread,
    /// whose claim waits for this lock a moment) and drops `held`.
    pub(crate) fn unclaim(&self, held: &Held<'_>) {
        if held.slot.conn.is_some() {
            self.slots[held.index]
                .claim
                .store(word(held.slot.generation, FREE), Ordering::Release);
        }
    }

    /// Closes the connection `token` names if its last turn panicked (its slot's lock is
    /// poisoned), so that neither the connection nor its claim is stranded.
    pub(crate) fn discard_if_poisoned(&self, token: Token) {
        let index = index_of(token);
        let Some(cell) = self.slots.get(index) else {
            return;
        };
        if let Err(TryLockError::Poisoned(poisoned)) = cell.slot.try_lock() {
            drop(self.discard_poisoned(index, poisoned.into_inner()));
        }
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

    /// Locks slot `index` if no thread holds or has claimed it and it has a connection (for
    /// sweeps and evictions: a claimed connection is about to be served). A poisoned slot is
    /// cleaned up here, so none is stranded.
    pub(crate) fn try_get(&self, index: usize) -> Option<Held<'_>> {
        let cell = self.slots.get(index)?;
        let slot = match cell.slot.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::WouldBlock) => return None,
            Err(TryLockError::Poisoned(poisoned)) => {
                return self.discard_poisoned(index, poisoned.into_inner());
            }
        };
        if cell.claim.load(Ordering::Acquire) & CLAIM_BITS != FREE {
            return None;
        }
        slot.conn.is_some().then_some(Held { index, slot })
    }

    /// Takes the connection out and frees the slot (its generation moves on, so events still
    /// in flight for it are dropped, and any claim on it goes). Dropping the returned
    /// connection closes its socket, which also removes it from the epoll set.
    pub(crate) fn remove(&self, held: &mut Held<'_>) -> Option<Box<Conn<Stream<TcpStream>>>> {
        let conn = held.slot.conn.take()?;
        held.slot.generation = held.slot.generation.wrapping_add(1);
        self.slots[held.index]
            .claim
            .store(word(held.slot.generation, FREE), Ordering::Release);
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

    /// A table holding one connection, inserted (claimed) and let go as an acceptor does.
    fn one_connection() -> (Table, Token) {
        let table = Table::new(1, PeerLimit::new(None), Instant::now());
        assert!(table.reserve());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let held = table
            .insert(Box::new(Conn::new(
                Stream::Plain(stream),
                None,
                Instant::now(),
            )))
            .unwrap();
        let token = held.token();
        assert!(table.try_get(0).is_none(), "held by the acceptor");
        assert!(table.release(held).is_none(), "nothing came meanwhile");
        (table, token)
    }

    /// Threads taking events for one connection at once, as edge-triggered readiness delivers
    /// them: one thread serves at a time, no claim waits for a turn, and every event is seen
    /// by a turn that starts after it. In rounds: all threads take an event together, then
    /// every event of the round must have been seen.
    #[test]
    fn claims_serve_one_at_a_time_and_lose_no_event() {
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Barrier};
        const THREADS: usize = 4;
        // At least this many rounds, and on until some event came during a turn (on a loaded
        // machine the threads may seldom overlap), at most MAX_ROUNDS.
        const ROUNDS: usize = 3_000;
        const MAX_ROUNDS: usize = 200_000;
        let (table, token) = one_connection();
        let table = Arc::new(table);
        let events = Arc::new(AtomicU64::new(0));
        let seen_by_turns = Arc::new(AtomicU64::new(0));
        let inside = Arc::new(AtomicBool::new(false));
        let barrier = Arc::new(Barrier::new(THREADS));
        let again_total = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (table, events, seen_by_turns, inside, barrier, again_total) = (
                    Arc::clone(&table),
                    Arc::clone(&events),
                    Arc::clone(&seen_by_turns),
                    Arc::clone(&inside),
                    Arc::clone(&barrier),
                    Arc::clone(&again_total),
                );
                std::thread::spawn(move || {
                    for round in 1..=MAX_ROUNDS {
                        barrier.wait();
                        events.fetch_add(1, Ordering::SeqCst);
                        if let Some(mut held) = table.claim(token) {
                            loop {
                                assert!(!inside.swap(true, Ordering::SeqCst), "two turns at once");
                                let seen = events.load(Ordering::SeqCst);
                                // A turn takes a moment: events arrive during it.
                                for _ in 0..200 {
                                    std::hint::spin_loop();
                                }
                                seen_by_turns.fetch_max(seen, Ordering::SeqCst);
                                inside.store(false, Ordering::SeqCst);
                                match table.release(held) {
                                    Some(next) => {
                                        again_total.fetch_add(1, Ordering::SeqCst);
                                        held = next;
                                    }
                                    None => break,
                                }
                            }
                        }
                        barrier.wait();
                        assert_eq!(
                            seen_by_turns.load(Ordering::SeqCst),
                            events.load(Ordering::SeqCst),
                            "an event of this round was never served"
                        );
                        // Stable here: nothing changes it until every thread passes the
                        // next round's first barrier, so all threads decide alike.
                        if round >= ROUNDS && again_total.load(Ordering::SeqCst) > 0 {
                            break;
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(
            again_total.load(Ordering::SeqCst) > 0,
            "no event ever came during a turn: the test tested nothing"
        );
        // Free again: the next event is served at once; a closed connection's events are not.
        let mut held = table.claim(token).expect("free after the last turn");
        assert!(table.remove(&mut held).is_some());
        drop(held);
        assert!(table.claim(token).is_none(), "a stale token claims nothing");
    }

    /// A sweep does not look at a connection an event has claimed (it is about to be served),
    /// and a claim made while a sweep looks waits for that look only.
    #[test]
    fn sweeps_skip_claimed_connections() {
        let (table, token) = one_connection();
        assert!(table.try_get(0).is_some(), "free: a sweep may look");
        let claimed = table.claim(token).unwrap();
        assert!(table.claim(token).is_none(), "left to the holder");
        let again = table
            .release(claimed)
            .expect("an event came during the turn");
        assert!(table.try_get(0).is_none(), "still claimed");
        assert!(table.release(again).is_none());
        assert!(table.try_get(0).is_some());
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
