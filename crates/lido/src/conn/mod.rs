//! One connection's state machine: read a head, read a body, run the handler, write the
//! response, then wait for the next request or close. It never blocks: every read or write that
//! would block ends [`Conn::drive`] with the direction to wait for, and the reactor parks the
//! connection until the socket is ready again.

mod read;
pub(crate) mod spool;
mod write;

use std::fs::File;
use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::handler::{Handler, error_response};
use crate::http::{ChunkedDecoder, RequestHead, StatusCode, Version};
use crate::transport::Transport;

/// Below this many buffered bytes the reactor parses a partial head on every arrival, to
/// answer malformed input at once; above it, only when a line ends.
const EAGER_PARSE_LIMIT: usize = 1024;
/// Buffer capacity a connection keeps between requests; more is freed.
const KEEP_BUFFER: usize = 4096;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;
/// How long a drain waits for the first request of a connection that has sent nothing yet
/// (see [`Conn::is_idle`]): long enough for a request already on its way (a client sends it
/// right after connecting, a round trip later at most), short enough that idle sockets
/// cannot hold a shutdown.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);

/// Requests served in one dispatch before the connection goes to the back of the queue, so a
/// pipelining client cannot hold a worker.
const MAX_REQUESTS_PER_DISPATCH: u32 = 16;
/// Bytes read or written in one dispatch before the connection goes to the back of the queue,
/// so a fast client downloading (or uploading) gigabytes cannot hold a worker for the whole
/// transfer.
const MAX_BYTES_PER_DISPATCH: u64 = 8 * 1024 * 1024;
/// Bytes of a file body sent per `send_file` call.
const FILE_CHUNK: usize = 1024 * 1024;
/// Input discarded while lingering after an error response before giving up.
const MAX_LINGER_BYTES: usize = 1024 * 1024;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What the connection waits for when [`Conn::drive`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Park until readable.
    Read,
    /// Park until writable.
    Write,
    /// Work for a worker: a complete request is buffered (or a response must be written).
    Work,
    /// Done: drop the connection.
    Close,
}

/// What the connection is doing.
#[derive(Debug)]
enum State {
    /// Waiting for, or reading, a request head.
    Head,
    /// Reading a request body.
    Body(Box<BodyState>),
    /// A whole request is buffered: the handler runs next.
    Ready(Box<BodyState>),
    /// Writing a response (`out`, then `file`).
    Write,
    /// Error response sent and write side shut: discarding input until EOF or the deadline.
    Linger {
        discarded: usize,
    },
    Closed,
}

#[derive(Debug)]
struct BodyState {
    head: RequestHead,
    /// The body so far, in memory (charged to the server's body budget)...
    body: Vec<u8>,
    charge: spool::Charge,
    /// ...or in a temporary file, once it outgrew the spool threshold.
    spool: Option<spool::Spool>,
    decoder: BodyDecoder,
    /// When the body started (the head was complete): its whole-body deadline and minimum
    /// rate count from here.
    started: Instant,
    /// Body bytes received so far (as framed on the wire).
    received: u64,
}

#[derive(Debug)]
enum BodyDecoder {
    Length { remaining: u64 },
    Chunked(ChunkedDecoder),
}

/// What happens once the response is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    KeepAlive,
    /// Close with a lingering read: the client may still be sending (an error cut its
    /// request short, or it expected the connection to stay open), and closing a socket with
    /// unread input sends a reset that can destroy the response in flight.
    Close,
    /// The client asked to close and its request was read whole: close at once unless more
    /// input is already there (then linger as for `Close`).
    CloseAsAsked,
}

#[derive(Debug)]
struct FileBody {
    file: std::sync::Arc<File>,
    offset: u64,
    remaining: u64,
}

/// Shared by every connection of a server.
pub(crate) struct Ctx {
    pub(crate) handler: Box<dyn Handler>,
    /// Called for every response (access logs).
    pub(crate) on_response: Option<std::sync::Arc<crate::exchange::ResponseHook>>,
    pub(crate) config: Config,
    /// Set once graceful shutdown began: responses carry `Connection: close`.
    pub(crate) draining: std::sync::atomic::AtomicBool,
    /// Request body bytes held in memory across every connection.
    pub(crate) body_budget: std::sync::Arc<spool::BodyBudget>,
    /// The engine's poller reports every arrival after a read that emptied the socket
    /// (edge-triggered readiness registered for good: leader/followers): after a response, a
    /// connection whose read in the same turn emptied the socket may park for the next request
    /// without a read that would almost always find nothing.
    pub(crate) park_when_drained: bool,
    /// The server's counters.
    pub(crate) stats: std::sync::Arc<crate::stats::Recorder>,
    /// What each accepted socket is wrapped in (TLS or nothing).
    pub(crate) wrap: crate::transport::Wrap,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("config", &self.config)
            .field("draining", &self.draining)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    fn draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// A connection and everything it has buffered.
#[derive(Debug)]
pub(crate) struct Conn<S> {
    stream: S,
    /// The client's address, for access logs.
    peer: Option<std::net::SocketAddr>,
    state: State,
    /// Bytes read and not yet consumed (a partial head, body bytes, pipelined requests).
    input: Vec<u8>,
    /// Encoded response bytes not yet written, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    file: Option<FileBody>,
    /// What follows `out` and `file` (the rest of a [`Body::Parts`](crate::http::Body)).
    rest: std::collections::VecDeque<crate::http::BodyPart>,
    /// A [`Body::Stream`](crate::http::Body) being sent, and whether in chunks.
    streaming: Option<crate::http::StreamBody>,
    chunked: bool,
    after: After,
    /// Requests answered on this connection.
    served: u32,
    /// When the current wait started counting: accept, first byte of a head, last progress.
    since: Instant,
    /// Whether the current head has had any byte yet (idle keep-alive vs head in progress).
    head_started: bool,
    /// How much of `input` the reactor has searched for the end of the head.
    scanned: usize,
    /// The last read emptied the socket (it found less than it asked for, or nothing): no
    /// input was waiting then.
    drained: bool,
    /// A read in the current turn (`drive`) emptied the socket: whatever arrives later is
    /// reported by an edge-triggered poller.
    drained_this_turn: bool,
    /// When the response being written was queued, and how many bytes of it went out: the
    /// minimum send rate counts from there.
    write_started: Instant,
    sent: u64,
    /// Bytes moved in the current dispatch (see [`MAX_BYTES_PER_DISPATCH`]).
    turn_bytes: u64,
    /// When the response being written was made, for the duration histogram.
    answered_at: Option<Instant>,
}

impl<S: Transport> Conn<S> {
    pub(crate) fn new(stream: S, peer: Option<std::net::SocketAddr>, now: Instant) -> Self {
        Self {
            stream,
            peer,
            state: State::Head,
            input: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            file: None,
            rest: std::collections::VecDeque::new(),
            streaming: None,
            chunked: false,
            after: After::KeepAlive,
            served: 0,
            answered_at: None,
            since: now,
            head_started: false,
            scanned: 0,
            drained: false,
            drained_this_turn: false,
            write_started: now,
            sent: 0,
            turn_bytes: 0,
        }
    }

    pub(crate) fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn stream(&self) -> &S {
        &self.stream
    }

    /// Gives back buffer space a large request or response left behind, so an idle
    /// connection costs little memory.
    fn release_buffers(&mut self) {
        if self.out.capacity() > KEEP_BUFFER {
            self.out = Vec::new();
        }
        if self.input.is_empty() && self.input.capacity() > KEEP_BUFFER {
            self.input = Vec::new();
        }
    }

    /// When the current wait expires.
    ///
    /// A body must make progress every `body_timeout`, be whole within `body_deadline` and,
    /// after `min_rate_grace`, keep an average of `min_data_rate` bytes a second; a response
    /// likewise must make progress every `write_timeout` and keep the minimum rate.
    pub(crate) fn deadline(&self, config: &Config) -> Instant {
        let timeout = match &self.state {
            State::Head if self.served > 0 && !self.head_started => config.keep_alive_timeout,
            State::Head => config.head_timeout,
            State::Body(body) => {
                return (self.since + config.body_timeout)
                    .min(body.started + config.body_deadline)
                    .min(rate_deadline(body.started, body.received, config));
            }
            State::Ready(_) => config.head_timeout,
            State::Write => {
                return (self.since + config.write_timeout).min(rate_deadline(
                    self.write_started,
                    self.sent,
                    config,
                ));
            }
            State::Linger { .. } => config.linger_timeout,
            State::Closed => Duration::ZERO,
        };
        self.since + timeout
    }

    /// `true` while a response is being written.
    pub(crate) fn is_writing(&self) -> bool {
        matches!(self.state, State::Write)
    }

    /// What the connection is doing, for the connection gauges.
    pub(crate) fn phase(&self) -> crate::stats::Phase {
        use crate::stats::Phase;
        match self.state {
            State::Head if self.served > 0 && !self.head_started && self.input.is_empty() => {
                Phase::Idle
            }
            State::Head | State::Body(_) => Phase::Reading,
            State::Ready(_) => Phase::Busy,
            State::Write | State::Linger { .. } | State::Closed => Phase::Writing,
        }
    }

    /// `true` between requests, with nothing buffered: safe to close on shutdown.
    /// Lingering after a complete answer counts too: nothing is owed to the client.
    pub(crate) fn is_idle(&self, now: Instant) -> bool {
        match self.state {
            // A new connection that has not sent its first request yet is a client on its
            // way, its request likely in flight: idle only after a grace.
            State::Head => {
                self.input.is_empty()
                    && self.out_pos >= self.out.len()
                    && (self.served > 0
                        || now.saturating_duration_since(self.since) >= FIRST_REQUEST_GRACE)
            }
            State::Linger { .. } | State::Closed => true,
            State::Body(_) | State::Ready(_) | State::Write => false,
        }
    }

    /// How readily this connection gives up its place when the server is at its connection
    /// limit and a new client arrives: `None` while a request is in progress (its body is
    /// being read, its handler runs or its response is being written); otherwise a class (0:
    /// idle between requests, or lingering after its answer; 1: a request head not yet
    /// complete, including a new connection that sent nothing) and since when it has been
    /// so. Lower classes go first, then the oldest.
    pub(crate) fn eviction_rank(&self) -> Option<(u8, Instant)> {
        match self.state {
            State::Linger { .. } | State::Closed => Some((0, self.since)),
            State::Head if self.served > 0 && !self.head_started => Some((0, self.since)),
            State::Head => Some((1, self.since)),
            State::Body(_) | State::Ready(_) | State::Write => None,
        }
    }

    /// The first line of what is buffered, if it reads as a request line (printable ASCII,
    /// ended by a newline, within the request-line limit): for the access log of a request
    /// refused before it was parsed whole.
    fn request_line(&self) -> Option<String> {
        let end = self
            .input
            .iter()
            .take(crate::http::MAX_REQUEST_LINE + 2)
            .position(|&b| b == b'\n')?;
        let line = self.input[..end]
            .strip_suffix(b"\r")
            .unwrap_or(&self.input[..end]);
        (!line.is_empty() && line.iter().all(|&b| b.is_ascii_graphic() || b == b' '))
            .then(|| String::from_utf8_lossy(line).into_owned())
    }

    /// The client's address.
    pub(crate) fn peer(&self) -> Option<std::net::SocketAddr> {
        self.peer
    }

    /// Waited too long for a free worker with a complete request (or a response to finish):
    /// answer `503` if no response was started, then close. One non-blocking write.
    /// (Only leader/followers queues connections, and it runs on Linux.)
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn on_queue_timeout(&mut self, ctx: &Ctx) {
        ctx.stats.timeout(crate::stats::TimeoutKind::Queue);
        if !self.is_writing() {
            let line = self.request_line();
            self.report_refusal(
                ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("no worker came free in time"),
                line.as_deref(),
            );
            self.out.clear();
            self.out_pos = 0;
            self.push_response(
                error_response(StatusCode::SERVICE_UNAVAILABLE, Some("the server is busy")),
                Version::Http11,
                false,
                false,
            );
            let _ = self.stream.write(&self.out);
        }
        self.state = State::Closed;
    }

    /// The deadline passed: answer `408` if a request was under way, then close.
    pub(crate) fn on_timeout(&mut self, ctx: &Ctx) {
        use crate::stats::TimeoutKind;
        let kind = match self.state {
            State::Head if self.served > 0 && !self.head_started => TimeoutKind::KeepAlive,
            State::Head => TimeoutKind::Head,
            State::Body(_) => TimeoutKind::Body,
            State::Ready(_) => TimeoutKind::Queue,
            State::Write => TimeoutKind::Write,
            State::Linger { .. } | State::Closed => TimeoutKind::Linger,
        };
        ctx.stats.timeout(kind);
        if matches!(self.state, State::Head | State::Body(_) | State::Ready(_)) && self.head_started
        {
            let line = self.request_line();
            self.report_refusal(
                ctx,
                StatusCode::REQUEST_TIMEOUT,
                Some("the request took too long"),
                line.as_deref(),
            );
            self.out.clear();
            self.out_pos = 0;
            self.push_response(
                error_response(
                    StatusCode::REQUEST_TIMEOUT,
                    Some("the request took too long"),
                ),
                Version::Http11,
                false,
                false,
            );
            // One non-blocking attempt; the connection closes whatever happens.
            let _ = self.stream.write(&self.out);
        }
        self.state = State::Closed;
    }

    /// Tells the access-log hook, if any, about a response the engine made itself.
    fn report_refusal(
        &self,
        ctx: &Ctx,
        status: StatusCode,
        reason: Option<&str>,
        request_line: Option<&str>,
    ) {
        ctx.stats.response(None, status, 0);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            ctx.stats.shed();
        }
        if let Some(hook) = &ctx.on_response {
            hook(&crate::Exchange {
                peer: self.peer,
                request: None,
                request_line,
                reason,
                status,
                body_bytes: 0,
                received: std::time::SystemTime::now(),
                handler_time: Duration::ZERO,
            });
        }
    }

    /// Refuses the connection because every worker is busy: `503` with `Retry-After`, then
    /// close. Runs on a thread that serves the event loop, so it only ever makes non-blocking
    /// calls on the socket, and never touches a file.
    ///
    /// A response already being written is not cut, nor written here (its body may be a file):
    /// `Outcome::Write` says it waits for a worker.
    pub(crate) fn shed(&mut self, ctx: &Ctx, now: Instant) -> Outcome {
        match self.state {
            State::Linger { .. } | State::Closed => return self.drive(ctx, now),
            State::Write => return Outcome::Write,
            State::Head | State::Body(_) | State::Ready(_) => {}
        }
        self.out.clear();
        self.out_pos = 0;
        self.file = None;
        self.rest.clear();
        self.streaming = None;
        self.push_response(
            error_response(StatusCode::SERVICE_UNAVAILABLE, Some("the server is busy")),
            Version::Http11,
            false,
            false,
        );
        self.after = After::Close;
        self.state = State::Write;
        self.since = now;
        self.answered_at = Some(now);
        let line = self.request_line();
        self.report_refusal(
            ctx,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("the server is busy"),
            line.as_deref(),
        );
        self.drive(ctx, now)
    }

    /// Makes all the progress possible without blocking.
    pub(crate) fn drive(&mut self, ctx: &Ctx, now: Instant) -> Outcome {
        let mut budget = MAX_REQUESTS_PER_DISPATCH;
        self.turn_bytes = 0;
        self.drained_this_turn = false;
        loop {
            if self.turn_bytes >= MAX_BYTES_PER_DISPATCH
                && matches!(self.state, State::Body(_) | State::Write)
            {
                // A long transfer: to the back of the queue, other connections first.
                return Outcome::Work;
            }
            let step = match self.state {
                State::Head => self.read_head(ctx, now),
                State::Body(_) => self.read_body(ctx, now),
                State::Ready(_) => self.run_ready(ctx),
                State::Write => self.write(ctx, &mut budget),
                State::Linger { .. } => self.linger(),
                State::Closed => Step::Park(Outcome::Close),
            };
            match step {
                Step::Continue => {}
                Step::Park(outcome) => {
                    if outcome == Outcome::Close {
                        self.state = State::Closed;
                    }
                    if outcome == Outcome::Read && self.stream.wants_write() {
                        // A TLS handshake flight (or record) the socket did not take yet: the
                        // client waits for it, so wait for writability, then read again.
                        return Outcome::Write;
                    }
                    return outcome;
                }
            }
        }
    }
}

/// When a transfer that started at `start` and moved `bytes` falls below the minimum average
/// rate (never before the grace period ends).
fn rate_deadline(start: Instant, bytes: u64, config: &Config) -> Instant {
    if config.min_data_rate == 0 {
        // Far enough never to matter, near enough not to overflow.
        return start + Duration::from_secs(u32::MAX.into());
    }
    let earned = Duration::from_secs_f64(bytes as f64 / config.min_data_rate as f64);
    start + earned.max(config.min_rate_grace)
}

enum Step {
    Continue,
    Park(Outcome),
}

/// Why an I/O helper stopped.
enum Wait {
    Read,
    Write,
    Closed,
}

/// Client disconnects are normal closes, not errors; nor is a client's bad TLS.
fn log_io(err: &io::Error) {
    match err.kind() {
        ErrorKind::BrokenPipe
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::UnexpectedEof => {
            tracing::debug!(error = %err, "client went away");
        }
        ErrorKind::InvalidData => tracing::debug!(error = %err, "bad input from the client"),
        _ => tracing::warn!(error = %err, "connection error"),
    }
}

#[cfg(test)]
mod tests;
