//! One connection's state machine: read a head, read a body, run the handler, write the
//! response, then wait for the next request or close. It never blocks: every read or write that
//! would block ends [`Conn::drive`] with the direction to wait for, and the reactor parks the
//! connection until the socket is ready again.

use std::fs::File;
use std::io::{self, ErrorKind};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::handler::{Handler, error_response};
use crate::http::{
    Body, BodyFraming, ChunkedDecoder, MAX_HEAD, MAX_REQUEST_LINE, Method, ParseError, RequestHead,
    Response, StatusCode, Version, parse_head, with_date,
};
use crate::transport::Transport;

/// Below this many buffered bytes the reactor parses a partial head on every arrival, to
/// answer malformed input at once; above it, only when a line ends.
const EAGER_PARSE_LIMIT: usize = 1024;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;
/// Requests served in one dispatch before the connection goes to the back of the queue, so a
/// pipelining client cannot hold a worker.
const MAX_REQUESTS_PER_DISPATCH: u32 = 16;
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
    body: Vec<u8>,
    decoder: BodyDecoder,
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
    Close,
}

#[derive(Debug)]
struct FileBody {
    file: File,
    offset: u64,
    remaining: u64,
}

/// Shared by every connection of a server.
pub(crate) struct Ctx {
    pub(crate) handler: Box<dyn Handler>,
    pub(crate) config: Config,
    /// Set once graceful shutdown began: responses carry `Connection: close`.
    pub(crate) draining: std::sync::atomic::AtomicBool,
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
    state: State,
    /// Bytes read and not yet consumed (a partial head, body bytes, pipelined requests).
    input: Vec<u8>,
    /// Encoded response bytes not yet written, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    file: Option<FileBody>,
    after: After,
    /// Requests answered on this connection.
    served: u32,
    /// When the current wait started counting: accept, first byte of a head, last progress.
    since: Instant,
    /// Whether the current head has had any byte yet (idle keep-alive vs head in progress).
    head_started: bool,
    /// How much of `input` the reactor has searched for the end of the head.
    scanned: usize,
}

impl<S: Transport> Conn<S> {
    pub(crate) fn new(stream: S, now: Instant) -> Self {
        Self {
            stream,
            state: State::Head,
            input: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            file: None,
            after: After::KeepAlive,
            served: 0,
            since: now,
            head_started: false,
            scanned: 0,
        }
    }

    pub(crate) fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// When the current wait expires.
    pub(crate) fn deadline(&self, config: &Config) -> Instant {
        let timeout = match self.state {
            State::Head if self.served > 0 && !self.head_started => config.keep_alive_timeout,
            State::Head => config.head_timeout,
            State::Body(_) => config.body_timeout,
            State::Ready(_) => config.head_timeout,
            State::Write => config.write_timeout,
            State::Linger { .. } => config.linger_timeout,
            State::Closed => Duration::ZERO,
        };
        self.since + timeout
    }

    /// `true` between requests, with nothing buffered: safe to close on shutdown.
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.state, State::Head) && self.input.is_empty() && self.out_pos >= self.out.len()
    }

    /// The deadline passed: answer `408` if a request was under way, then close.
    pub(crate) fn on_timeout(&mut self) {
        if matches!(self.state, State::Head | State::Body(_) | State::Ready(_)) && self.head_started
        {
            self.out.clear();
            self.out_pos = 0;
            self.push_response(
                error_response(StatusCode::REQUEST_TIMEOUT),
                Version::Http11,
                false,
                false,
            );
            // One non-blocking attempt; the connection closes whatever happens.
            let _ = self.stream.write(&self.out);
        }
        self.state = State::Closed;
    }

    /// Refuses the connection because the pool is saturated: `503` with `Retry-After`, then
    /// close. Runs on the reactor thread, so it only ever makes non-blocking calls.
    ///
    /// A response already being written is not cut: the reactor writes what the socket takes
    /// (no handler runs here) and parks the connection again.
    pub(crate) fn shed(&mut self, ctx: &Ctx, now: Instant) -> Outcome {
        match self.state {
            State::Linger { .. } | State::Closed => return self.drive(ctx, now),
            State::Write => {
                let mut budget = u32::MAX;
                return match self.write(ctx, &mut budget) {
                    Step::Park(outcome) => outcome,
                    // Written: back to reading (or lingering), which the reactor may do itself.
                    Step::Continue => self.on_readable(now),
                };
            }
            State::Head | State::Body(_) | State::Ready(_) => {}
        }
        self.out.clear();
        self.out_pos = 0;
        self.file = None;
        self.push_response(
            error_response(StatusCode::SERVICE_UNAVAILABLE),
            Version::Http11,
            false,
            false,
        );
        self.after = After::Close;
        self.state = State::Write;
        self.since = now;
        self.drive(ctx, now)
    }

    /// Makes all the progress possible without blocking.
    pub(crate) fn drive(&mut self, ctx: &Ctx, now: Instant) -> Outcome {
        let mut budget = MAX_REQUESTS_PER_DISPATCH;
        loop {
            let step = match self.state {
                State::Head => self.read_head(ctx, now),
                State::Body(_) => self.read_body(now),
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
                    return outcome;
                }
            }
        }
    }

    fn read_head(&mut self, ctx: &Ctx, now: Instant) -> Step {
        if !self.input.is_empty() {
            self.note_input(now);
            match parse_head(&self.input) {
                Ok(Some((head, consumed))) => {
                    self.input.drain(..consumed);
                    self.scanned = 0;
                    return self.start_request(head, ctx, now);
                }
                Ok(None) => {}
                Err(err) => return self.reject_parse(err, now),
            }
        }
        match self.fill() {
            Ok(0) => Step::Park(Outcome::Close),
            Ok(_) => Step::Continue,
            Err(Wait::Read) => Step::Park(Outcome::Read),
            Err(Wait::Write | Wait::Closed) => Step::Park(Outcome::Close),
        }
    }

    fn reject_parse(&mut self, err: ParseError, now: Instant) -> Step {
        tracing::debug!(error = %err, "rejected request head");
        self.fail(err.status(), now)
    }

    fn start_request(&mut self, head: RequestHead, ctx: &Ctx, now: Instant) -> Step {
        let decoder = match head.framing {
            BodyFraming::None => return self.respond(head, Vec::new(), ctx),
            BodyFraming::Length(len) if len > ctx.config.max_body => {
                return self.fail(StatusCode::PAYLOAD_TOO_LARGE, now);
            }
            BodyFraming::Length(0) => return self.respond(head, Vec::new(), ctx),
            BodyFraming::Length(len) => BodyDecoder::Length { remaining: len },
            BodyFraming::Chunked => BodyDecoder::Chunked(ChunkedDecoder::new(ctx.config.max_body)),
        };
        if head.expect_continue && self.input.is_empty() {
            self.out.extend_from_slice(CONTINUE);
        }
        self.since = now;
        self.state = State::Body(Box::new(BodyState {
            head,
            body: Vec::new(),
            decoder,
        }));
        Step::Continue
    }

    fn read_body(&mut self, now: Instant) -> Step {
        // A pending `100 Continue` goes out before we wait for the body it asks for.
        match self.flush_out() {
            Ok(()) => {}
            Err(Wait::Write) => return Step::Park(Outcome::Write),
            Err(Wait::Read | Wait::Closed) => return Step::Park(Outcome::Close),
        }
        if self.feed_body(now) {
            return Step::Continue;
        }
        match self.fill() {
            Ok(0) => Step::Park(Outcome::Close),
            Ok(_) => {
                self.since = now;
                Step::Continue
            }
            Err(Wait::Read) => Step::Park(Outcome::Read),
            Err(Wait::Write | Wait::Closed) => Step::Park(Outcome::Close),
        }
    }

    /// Moves buffered input into the body. `true` if the state changed: the body is complete
    /// (`Ready`) or invalid (an error response is queued).
    fn feed_body(&mut self, now: Instant) -> bool {
        let State::Body(state) = &mut self.state else {
            return false;
        };
        let outcome = match &mut state.decoder {
            BodyDecoder::Length { remaining } => {
                let take = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.input.len());
                state.body.extend_from_slice(&self.input[..take]);
                self.input.drain(..take);
                *remaining -= take as u64;
                Ok(*remaining == 0)
            }
            BodyDecoder::Chunked(decoder) => {
                decoder.decode(&self.input, &mut state.body).map(|decoded| {
                    self.input.drain(..decoded.consumed);
                    decoded.done
                })
            }
        };
        self.scanned = 0;
        match outcome {
            Ok(false) => false,
            Ok(true) => {
                if let State::Body(state) = std::mem::replace(&mut self.state, State::Head) {
                    self.state = State::Ready(state);
                }
                true
            }
            Err(err) => {
                tracing::debug!(error = %err, "rejected request body");
                let _ = self.fail(err.status(), now);
                true
            }
        }
    }

    fn run_ready(&mut self, ctx: &Ctx) -> Step {
        match std::mem::replace(&mut self.state, State::Head) {
            State::Ready(state) => {
                let BodyState { head, body, .. } = *state;
                self.respond(head, body, ctx)
            }
            other => {
                self.state = other;
                Step::Park(Outcome::Close)
            }
        }
    }

    /// Called on the reactor thread when the socket is readable: reads what is there and says
    /// whether a worker is needed. Partial heads and bodies stay here, so slow or stalled
    /// clients never take a worker or a queue slot.
    pub(crate) fn on_readable(&mut self, now: Instant) -> Outcome {
        loop {
            match self.state {
                State::Head => {
                    if !self.input.is_empty() {
                        self.note_input(now);
                        if self.head_ready() {
                            return Outcome::Work;
                        }
                    }
                }
                State::Body(_) => {
                    if self.feed_body(now) {
                        return Outcome::Work;
                    }
                }
                State::Ready(_) => return Outcome::Work,
                State::Write => return Outcome::Write,
                State::Linger { .. } | State::Closed => {
                    return match self.linger() {
                        Step::Park(outcome) => outcome,
                        Step::Continue => Outcome::Read,
                    };
                }
            }
            match self.fill() {
                Ok(0) => return Outcome::Close,
                Ok(_) => {
                    if matches!(self.state, State::Body(_)) {
                        self.since = now;
                    }
                }
                Err(Wait::Read) => return Outcome::Read,
                Err(Wait::Write | Wait::Closed) => return Outcome::Close,
            }
        }
    }

    /// The first byte of a head starts its deadline (for a keep-alive connection; a new
    /// connection's first head counts from the accept).
    fn note_input(&mut self, now: Instant) {
        if !self.head_started {
            self.head_started = true;
            if self.served > 0 {
                self.since = now;
            }
        }
    }

    /// Whether `input` holds a whole head, or enough to know it is too long: then the worker's
    /// parse has a definite answer. Scans only bytes not scanned before.
    ///
    /// A head that is already malformed is also "ready" (the worker answers the error): the
    /// reactor parses it on every arrival while it is short, then only when a line ends, so a
    /// client trickling bytes costs at most one parse per line.
    fn head_ready(&mut self) -> bool {
        let len = self.input.len();
        let from = self.scanned.min(len);
        let new_line = self.input[from..].contains(&b'\n');
        let tail = &self.input[from.saturating_sub(3)..];
        let found =
            tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n");
        self.scanned = len;
        if found || len > MAX_HEAD || (len > MAX_REQUEST_LINE && !self.input.contains(&b'\n')) {
            return true;
        }
        (len <= EAGER_PARSE_LIMIT || new_line) && parse_head(&self.input).is_err()
    }

    /// Runs the handler and queues its response.
    fn respond(&mut self, head: RequestHead, body: Vec<u8>, ctx: &Ctx) -> Step {
        let RequestHead {
            mut request,
            keep_alive,
            ..
        } = head;
        request.set_body(body);
        let method = request.method();
        let version = request.version();
        let mut keep_alive = keep_alive
            && self.served + 1 < ctx.config.max_requests_per_connection
            && !ctx.draining();
        let response = match catch_unwind(AssertUnwindSafe(|| ctx.handler.handle(&request))) {
            Ok(response) => response,
            Err(_) => {
                tracing::error!(target = request.target(), "handler panicked");
                keep_alive = false;
                error_response(StatusCode::INTERNAL_SERVER_ERROR)
            }
        };
        if response.closes_connection() {
            keep_alive = false;
        }
        self.push_response(response, version, keep_alive, method == Method::Head);
        self.after = if keep_alive {
            After::KeepAlive
        } else {
            After::Close
        };
        self.state = State::Write;
        // The write deadline counts from now, not from before the handler ran.
        self.since = Instant::now();
        Step::Continue
    }

    /// Encodes `response` into `out` (and `file`).
    fn push_response(
        &mut self,
        mut response: Response,
        version: Version,
        keep_alive: bool,
        head_only: bool,
    ) {
        with_date(|date| response.encode_head(version, keep_alive, date, &mut self.out));
        let bodiless =
            head_only || response.status().is_bodiless() || response.status().is_informational();
        match response.take_body() {
            _ if bodiless => {}
            Body::Empty => {}
            Body::Bytes(bytes) => self.out.extend_from_slice(&bytes),
            Body::File { file, offset, len } => {
                self.file = Some(FileBody {
                    file,
                    offset,
                    remaining: len,
                })
            }
        }
    }

    /// Queues an error response and closes after it.
    fn fail(&mut self, status: StatusCode, now: Instant) -> Step {
        self.push_response(error_response(status), Version::Http11, false, false);
        self.after = After::Close;
        self.state = State::Write;
        self.since = now;
        Step::Continue
    }

    /// Writes the response; every write that makes progress restarts the write deadline.
    fn write(&mut self, ctx: &Ctx, budget: &mut u32) -> Step {
        match self.flush_out() {
            Ok(()) => {}
            Err(Wait::Write) => return Step::Park(Outcome::Write),
            Err(Wait::Read | Wait::Closed) => return Step::Park(Outcome::Close),
        }
        if let Some(body) = &mut self.file {
            while body.remaining > 0 {
                let len = usize::try_from(body.remaining)
                    .unwrap_or(usize::MAX)
                    .min(FILE_CHUNK);
                match self.stream.send_file(&body.file, body.offset, len) {
                    Ok(0) => {
                        // The file shrank under us: the response cannot be completed.
                        tracing::debug!("file ended early; closing the connection");
                        return Step::Park(Outcome::Close);
                    }
                    Ok(n) => {
                        body.offset += n as u64;
                        body.remaining -= n as u64;
                        self.since = Instant::now();
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        return Step::Park(Outcome::Write);
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        log_io(&e);
                        return Step::Park(Outcome::Close);
                    }
                }
            }
            self.file = None;
        }
        self.out.clear();
        self.out_pos = 0;
        let now = Instant::now();
        match self.after {
            After::Close => {
                // FIN after the response; discard what the client still sends so that it reads
                // our answer rather than a reset.
                let _ = self.stream.shutdown_write();
                self.state = State::Linger { discarded: 0 };
                self.since = now;
                Step::Continue
            }
            After::KeepAlive => {
                self.served += 1;
                self.state = State::Head;
                self.head_started = false;
                self.since = now;
                *budget = budget.saturating_sub(1);
                if *budget == 0 {
                    Step::Park(Outcome::Work)
                } else if ctx.draining() && self.input.is_empty() {
                    Step::Park(Outcome::Close)
                } else {
                    Step::Continue
                }
            }
        }
    }

    fn linger(&mut self) -> Step {
        let mut scratch = [0u8; 4096];
        loop {
            let State::Linger { discarded } = &mut self.state else {
                return Step::Park(Outcome::Close);
            };
            if *discarded >= MAX_LINGER_BYTES {
                return Step::Park(Outcome::Close);
            }
            match self.stream.read(&mut scratch) {
                Ok(0) => return Step::Park(Outcome::Close),
                Ok(n) => *discarded += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Step::Park(Outcome::Read),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Step::Park(Outcome::Close),
            }
        }
    }

    /// Writes `out` from `out_pos` until done or the socket is full.
    fn flush_out(&mut self) -> Result<(), Wait> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(Wait::Closed),
                Ok(n) => {
                    self.out_pos += n;
                    self.since = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Err(Wait::Write),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    log_io(&e);
                    return Err(Wait::Closed);
                }
            }
        }
        if self.file.is_none() {
            self.out.clear();
            self.out_pos = 0;
        }
        Ok(())
    }

    /// Reads once into `input`. `Ok(0)` is end of stream.
    fn fill(&mut self) -> Result<usize, Wait> {
        // `parse_head` rejects a head longer than MAX_HEAD, and bodies are consumed as they
        // arrive, so `input` stays near MAX_HEAD + READ_CHUNK.
        if self.input.len() > MAX_HEAD + READ_CHUNK {
            return Err(Wait::Closed);
        }
        let start = self.input.len();
        self.input.resize(start + READ_CHUNK, 0);
        loop {
            match self.stream.read(&mut self.input[start..]) {
                Ok(n) => {
                    self.input.truncate(start + n);
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.input.truncate(start);
                    if e.kind() == ErrorKind::WouldBlock {
                        return Err(Wait::Read);
                    }
                    log_io(&e);
                    return Err(Wait::Closed);
                }
            }
        }
    }
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

/// Client disconnects are normal closes, not errors.
fn log_io(err: &io::Error) {
    match err.kind() {
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            tracing::debug!(error = %err, "client went away");
        }
        _ => tracing::warn!(error = %err, "connection error"),
    }
}

#[cfg(test)]
mod tests;
