//! A server's counters: requests by method and status, their duration, bytes, connections,
//! refusals and timeouts.
//!
//! Cheap on the hot path: every thread increments its own shard (a relaxed add on a cache
//! line other threads rarely write), and [`Stats::snapshot`] sums the shards when asked. The
//! engine publishes the connection gauges on its periodic sweep, so they are at most one
//! sweep (100 ms) old.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use lido_pool::ThreadPool;

use crate::http::{Method, StatusCode};

/// Upper bounds of the duration histogram's buckets, in seconds (the last bucket, `+Inf`, is
/// implied): from half a millisecond (a cached small file) to 10 s (a large, slow download).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Status codes counted one by one: 100 to 599 (`StatusCode` allows no other).
const CODES: usize = 500;
/// One row per method, and a last one for requests refused before their method was known.
const METHODS: usize = crate::http::KNOWN_METHODS.len() + 1;

/// The method label of a request refused before its method could be parsed.
pub const UNKNOWN_METHOD: &str = "unknown";

/// Why the engine gave up waiting on a connection: the `kind` label of
/// `lido_timeouts_total`.
///
/// # Examples
///
/// ```
/// assert_eq!(lido::TimeoutKind::KeepAlive.as_str(), "keep_alive");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// A request head did not arrive whole in time (`408` if it had begun).
    Head,
    /// An idle keep-alive connection was closed.
    KeepAlive,
    /// A request body was too slow (`408`).
    Body,
    /// A complete request waited too long for a free worker (`503`).
    Queue,
    /// A response could not be written in time (the client reads too slowly).
    Write,
    /// The client did not close after its answer within the linger time.
    Linger,
}

impl TimeoutKind {
    /// Every kind, in declaration order.
    pub const ALL: [TimeoutKind; 6] = [
        TimeoutKind::Head,
        TimeoutKind::KeepAlive,
        TimeoutKind::Body,
        TimeoutKind::Queue,
        TimeoutKind::Write,
        TimeoutKind::Linger,
    ];

    /// The label value: `head`, `keep_alive`, `body`, `queue`, `write` or `linger`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(lido::TimeoutKind::Head.as_str(), "head");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeoutKind::Head => "head",
            TimeoutKind::KeepAlive => "keep_alive",
            TimeoutKind::Body => "body",
            TimeoutKind::Queue => "queue",
            TimeoutKind::Write => "write",
            TimeoutKind::Linger => "linger",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// What a connection is doing, for the `lido_connections{state}` gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Between requests, nothing buffered.
    Idle,
    /// Receiving a request head or body.
    Reading,
    /// On a worker: its handler runs (or it waits for one).
    Busy,
    /// Sending a response, or lingering after it.
    Writing,
}

/// One thread's counters.
struct Shard {
    /// `requests[method * CODES + (code - 100)]`.
    requests: Box<[AtomicU64]>,
    /// Count per duration bucket (not cumulative); the last one is `+Inf`.
    duration: [AtomicU64; DURATION_BUCKETS.len() + 1],
    duration_nanos: AtomicU64,
    response_bytes: AtomicU64,
    connections: AtomicU64,
    shed: AtomicU64,
    timeouts: [AtomicU64; TimeoutKind::ALL.len()],
    accept_errors: AtomicU64,
}

impl Shard {
    fn new() -> Shard {
        Shard {
            requests: (0..METHODS * CODES).map(|_| AtomicU64::new(0)).collect(),
            duration: Default::default(),
            duration_nanos: AtomicU64::new(0),
            response_bytes: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            timeouts: Default::default(),
            accept_errors: AtomicU64::new(0),
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn sum<'a>(counters: impl Iterator<Item = &'a AtomicU64>) -> u64 {
    counters.fold(0u64, |total, c| {
        total.wrapping_add(c.load(Ordering::Relaxed))
    })
}

/// Which shard this thread writes: threads take numbers in turn as they first count.
fn shard_index(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    MINE.with(|mine| *mine) % shards
}

/// The counters of one server, written by the engine.
pub(crate) struct Recorder {
    shards: Box<[CachePadded<Shard>]>,
    gauges: [AtomicU64; 4],
    draining: AtomicBool,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Counters for a server with `threads` threads that count (workers, plus the engine's
    /// own).
    pub(crate) fn new(threads: usize) -> Recorder {
        let shards = (threads + 2).next_power_of_two().min(64);
        Recorder {
            shards: (0..shards)
                .map(|_| CachePadded::new(Shard::new()))
                .collect(),
            gauges: Default::default(),
            draining: AtomicBool::new(false),
        }
    }

    fn shard(&self) -> &Shard {
        &self.shards[shard_index(self.shards.len())]
    }

    /// A response was made: its method (`None` when the request could not be parsed),
    /// status and body length.
    pub(crate) fn response(&self, method: Option<Method>, status: StatusCode, body_bytes: u64) {
        let shard = self.shard();
        let row = method.map_or(METHODS - 1, |m| {
            crate::http::method_index(&m).unwrap_or(METHODS - 1)
        });
        let code = usize::from(status.as_u16())
            .saturating_sub(100)
            .min(CODES - 1);
        add(&shard.requests[row * CODES + code], 1);
        add(&shard.response_bytes, body_bytes);
    }

    /// A response was written whole, `took` after its request was complete.
    pub(crate) fn duration(&self, took: Duration) {
        let shard = self.shard();
        let secs = took.as_secs_f64();
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|&upper| secs <= upper)
            .unwrap_or(DURATION_BUCKETS.len());
        add(&shard.duration[bucket], 1);
        add(
            &shard.duration_nanos,
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
        );
    }

    /// A connection was accepted.
    pub(crate) fn connection(&self) {
        add(&self.shard().connections, 1);
    }

    /// A client got `503` because the server was saturated.
    pub(crate) fn shed(&self) {
        add(&self.shard().shed, 1);
    }

    /// The engine gave up waiting on a connection.
    pub(crate) fn timeout(&self, kind: TimeoutKind) {
        add(&self.shard().timeouts[kind.index()], 1);
    }

    /// `accept` failed (EMFILE, ENOBUFS, ...).
    pub(crate) fn accept_error(&self) {
        add(&self.shard().accept_errors, 1);
    }

    /// The engine's sweep publishes how many connections are in each phase.
    pub(crate) fn publish_connections(&self, counts: &PhaseCounts) {
        for (gauge, &count) in self.gauges.iter().zip(&counts.0) {
            gauge.store(count, Ordering::Relaxed);
        }
    }

    /// A graceful shutdown began.
    pub(crate) fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
}

/// Connections counted by phase, for [`Recorder::publish_connections`].
#[derive(Debug, Default)]
pub(crate) struct PhaseCounts([u64; 4]);

impl PhaseCounts {
    pub(crate) fn count(&mut self, phase: Phase) {
        self.add(phase, 1);
    }

    pub(crate) fn add(&mut self, phase: Phase, n: u64) {
        self.0[phase as usize] += n;
    }
}

/// A live view of a server's counters; cheap to clone, `Send` and `Sync`. Get one from
/// [`Server::stats`](crate::Server::stats); it stays valid after the server stopped.
///
/// # Examples
///
/// ```
/// use lido::http::{Request, Response, StatusCode};
///
/// let server = lido::Server::builder()
///     .listen("127.0.0.1:0")
///     .bind(|_: &Request| Response::text(StatusCode::OK, "hi"))?;
/// let stats = server.stats();
/// let now = stats.snapshot();
/// assert_eq!(now.requests_total(), 0);
/// assert!(!now.draining);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Stats {
    recorder: Arc<Recorder>,
    pool: Arc<ThreadPool>,
    body_budget: Arc<crate::conn::spool::BodyBudget>,
    started: Instant,
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats").finish_non_exhaustive()
    }
}

impl Stats {
    pub(crate) fn new(
        recorder: Arc<Recorder>,
        pool: Arc<ThreadPool>,
        body_budget: Arc<crate::conn::spool::BodyBudget>,
    ) -> Stats {
        Stats {
            recorder,
            pool,
            body_budget,
            started: Instant::now(),
        }
    }

    /// Whether a graceful shutdown began (what [`StatsSnapshot::draining`] says, without
    /// summing every counter: cheap enough for a health check polled many times a second).
    ///
    /// # Examples
    ///
    /// ```
    /// use lido::http::{Request, Response, StatusCode};
    ///
    /// let server = lido::Server::builder()
    ///     .listen("127.0.0.1:0")
    ///     .bind(|_: &Request| Response::new(StatusCode::OK))?;
    /// assert!(!server.stats().is_draining());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_draining(&self) -> bool {
        self.recorder.draining.load(Ordering::Relaxed)
    }

    /// Sums every thread's counters now.
    ///
    /// # Examples
    ///
    /// See [`Stats`].
    pub fn snapshot(&self) -> StatsSnapshot {
        let shards = &self.recorder.shards;
        let mut requests = Vec::new();
        for row in 0..METHODS {
            for code in 0..CODES {
                let count = sum(shards.iter().map(|s| &s.requests[row * CODES + code]));
                if count == 0 {
                    continue;
                }
                let Some(status) = u16::try_from(code + 100)
                    .ok()
                    .and_then(|code| StatusCode::from_u16(code).ok())
                else {
                    continue;
                };
                requests.push(RequestCount {
                    method: crate::http::KNOWN_METHODS
                        .get(row)
                        .map_or(UNKNOWN_METHOD, |m| m.as_str()),
                    status,
                    count,
                });
            }
        }
        let mut cumulative = 0u64;
        let buckets = DURATION_BUCKETS
            .iter()
            .enumerate()
            .map(|(i, &upper)| {
                cumulative += sum(shards.iter().map(|s| &s.duration[i]));
                (upper, cumulative)
            })
            .collect();
        let count = cumulative + sum(shards.iter().map(|s| &s.duration[DURATION_BUCKETS.len()]));
        let gauge = |phase: Phase| self.recorder.gauges[phase as usize].load(Ordering::Relaxed);
        StatsSnapshot {
            requests,
            duration: DurationHistogram {
                buckets,
                count,
                sum: Duration::from_nanos(sum(shards.iter().map(|s| &s.duration_nanos))),
            },
            response_bytes: sum(shards.iter().map(|s| &s.response_bytes)),
            connections: ConnectionCounts {
                idle: gauge(Phase::Idle),
                reading: gauge(Phase::Reading),
                busy: gauge(Phase::Busy),
                writing: gauge(Phase::Writing),
            },
            connections_total: sum(shards.iter().map(|s| &s.connections)),
            shed: sum(shards.iter().map(|s| &s.shed)),
            timeouts: TimeoutKind::ALL
                .iter()
                .map(|&kind| (kind, sum(shards.iter().map(|s| &s.timeouts[kind.index()]))))
                .collect(),
            accept_errors: sum(shards.iter().map(|s| &s.accept_errors)),
            body_memory: u64::try_from(self.body_budget.used()).unwrap_or(u64::MAX),
            pool: self.pool.stats(),
            draining: self.is_draining(),
            uptime: self.started.elapsed(),
        }
    }
}

/// Requests answered with one method and status.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCount {
    /// The request method (`GET`, ...), or [`UNKNOWN_METHOD`] for a request refused before
    /// its method could be parsed.
    pub method: &'static str,
    /// The response status.
    pub status: StatusCode,
    /// How many.
    pub count: u64,
}

/// How long requests took, from the complete request to the last byte of the response
/// handed to the kernel. A response the client did not read to its end is not counted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DurationHistogram {
    /// `(upper bound in seconds, requests that took at most that long)`, cumulative, for
    /// each of [`DURATION_BUCKETS`].
    pub buckets: Vec<(f64, u64)>,
    /// Every request counted (the `+Inf` bucket).
    pub count: u64,
    /// Their total duration.
    pub sum: Duration,
}

/// Open connections by what they are doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionCounts {
    /// Between requests (keep-alive), nothing buffered.
    pub idle: u64,
    /// Receiving a request head or body (a new connection counts here).
    pub reading: u64,
    /// Its handler runs, or it waits for a worker.
    pub busy: u64,
    /// Sending a response, or closing after one.
    pub writing: u64,
}

impl ConnectionCounts {
    /// Every open connection.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(lido::ConnectionCounts::default().total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.idle + self.reading + self.busy + self.writing
    }
}

/// A server's counters at one moment; see [`Stats::snapshot`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Responses by method and status, those with a count only. A request refused before
    /// its method could be parsed (a `400`, a `503` to a half-read request) has the method
    /// [`UNKNOWN_METHOD`].
    pub requests: Vec<RequestCount>,
    /// Request durations.
    pub duration: DurationHistogram,
    /// Response body bytes (as sent for `HEAD`: none).
    pub response_bytes: u64,
    /// Open connections now (as of the engine's last sweep, at most 100 ms ago).
    pub connections: ConnectionCounts,
    /// Connections accepted since the start.
    pub connections_total: u64,
    /// Clients refused with `503` because the server was saturated.
    pub shed: u64,
    /// Waits given up, by kind.
    pub timeouts: Vec<(TimeoutKind, u64)>,
    /// Failed `accept` calls (out of file descriptors, ...).
    pub accept_errors: u64,
    /// Bytes of request bodies held in memory now, across all connections (bounded by
    /// [`ServerBuilder::max_body_memory`](crate::ServerBuilder::max_body_memory)).
    pub body_memory: u64,
    /// The worker pool's counters.
    pub pool: lido_pool::Stats,
    /// A graceful shutdown began.
    pub draining: bool,
    /// Time since the server was bound.
    pub uptime: Duration,
}

impl StatsSnapshot {
    /// Every response counted in [`StatsSnapshot::requests`].
    ///
    /// # Examples
    ///
    /// See [`Stats`].
    pub fn requests_total(&self) -> u64 {
        self.requests.iter().map(|r| r.count).sum()
    }
}
