//! Limits and timeouts of the connection engine, with their documented defaults.

use std::time::Duration;

/// Whole request head must arrive within this long of its first byte (of the accept, for a
/// connection's first request).
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle keep-alive connection is closed after this long without a new request.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// A request body must make progress (some bytes) at least this often.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole request body must arrive within this long of its head.
pub const DEFAULT_BODY_DEADLINE: Duration = Duration::from_secs(60);
/// Request bodies and responses must average at least this many bytes a second (once
/// [`DEFAULT_MIN_RATE_GRACE`] has passed), as Kestrel's defaults: a client trickling a body, or
/// reading a response, a byte at a time is cut off. A slow reader of a large file at 1 KiB/s
/// keeps its connection.
pub const DEFAULT_MIN_DATA_RATE: u64 = 240;
/// How long a transfer may go below [`DEFAULT_MIN_DATA_RATE`] at its start.
pub const DEFAULT_MIN_RATE_GRACE: Duration = Duration::from_secs(5);
/// A response must make progress (the client reads some bytes) at least this often.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful shutdown lets in-flight requests and responses finish.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// After an error response, how long unread input is discarded before the socket is closed
/// (so the client reads the response instead of a reset).
pub const DEFAULT_LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// Request bodies larger than this wait for their handler in a temporary file instead of
/// memory (the handler reads them with `Request::body_reader`, or whole with `body`).
pub const DEFAULT_SPOOL_THRESHOLD: usize = 64 * 1024;
/// Bytes of request bodies held in memory across every connection; a body that would pass it
/// is answered `503` (and its connection closed).
pub const DEFAULT_MAX_BODY_MEMORY: usize = 64 * 1024 * 1024;
/// Largest request body accepted, in bytes; larger gets `413`.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
/// Requests served on one connection before it is closed.
pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: u32 = 10_000;
/// Connections open at once. At the limit a new client is still let in when an idle or
/// half-sent connection can give up its place (idle keep-alive first, then the oldest head not
/// yet complete); only when every connection has a request in progress does the server stop
/// accepting until one closes.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Complete requests that may wait for a worker, per worker thread, before new ones get
/// `503`. Only whole requests queue (idle and half-sent connections wait in the reactor), so
/// this bounds latency: at tens of thousands of requests per second per core, 512 is about
/// 10-20 ms of work.
pub const DEFAULT_QUEUE_PER_THREAD: usize = 512;

/// Engine settings; built by [`ServerBuilder`](crate::ServerBuilder).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) head_timeout: Duration,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) body_deadline: Duration,
    /// Bytes a second; 0 turns the minimum rate off.
    pub(crate) min_data_rate: u64,
    pub(crate) min_rate_grace: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) linger_timeout: Duration,
    pub(crate) max_body: u64,
    pub(crate) body_spool_threshold: usize,
    pub(crate) max_body_memory: usize,
    pub(crate) max_requests_per_connection: u32,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_ip: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            body_deadline: DEFAULT_BODY_DEADLINE,
            min_data_rate: DEFAULT_MIN_DATA_RATE,
            min_rate_grace: DEFAULT_MIN_RATE_GRACE,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            linger_timeout: DEFAULT_LINGER_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            body_spool_threshold: DEFAULT_SPOOL_THRESHOLD,
            max_body_memory: DEFAULT_MAX_BODY_MEMORY,
            max_requests_per_connection: DEFAULT_MAX_REQUESTS_PER_CONNECTION,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: None,
        }
    }
}

impl Config {
    /// How often the reactor looks for expired deadlines: a quarter of the shortest timeout,
    /// between 5 ms and 250 ms.
    pub(crate) fn tick(&self) -> Duration {
        let shortest = [
            self.head_timeout,
            self.keep_alive_timeout,
            self.body_timeout,
            self.write_timeout,
            self.linger_timeout,
            self.body_deadline,
            self.min_rate_grace,
        ]
        .into_iter()
        .min()
        .unwrap_or(DEFAULT_KEEP_ALIVE_TIMEOUT);
        (shortest / 4).clamp(Duration::from_millis(5), Duration::from_millis(250))
    }
}
