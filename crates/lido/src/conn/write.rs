//! Answering: run the handler, encode the response, write it (bytes, then a file region),
//! then keep the connection alive or close it with a lingering read.

use std::io::ErrorKind;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Instant, SystemTime};

use super::{
    After, BodyState, Conn, Ctx, FILE_CHUNK, FileBody, MAX_LINGER_BYTES, Outcome, State, Step,
    Wait, log_io,
};
use crate::handler::error_response;
use crate::http::{
    Body, BodyPart, Method, Request, RequestHead, Response, StatusCode, Version, with_date,
};
use crate::transport::Transport;

/// File bodies up to this size are copied into the response buffer: one write instead of a
/// write and a `sendfile`.
const INLINE_FILE_MAX: u64 = 16 * 1024;
/// Bytes of a streamed body read per write.
const STREAM_CHUNK: usize = 32 * 1024;
/// Room before a chunk for its size line (`8000\r\n`; at most 16 hex digits and CRLF).
const CHUNK_HEAD: usize = 18;

impl<S: Transport> Conn<S> {
    pub(super) fn run_ready(&mut self, ctx: &Ctx) -> Step {
        match std::mem::replace(&mut self.state, State::Head) {
            State::Ready(state) => {
                let BodyState {
                    head,
                    body,
                    mut charge,
                    spool,
                    ..
                } = *state;
                // Handed to the handler: no longer the engine's to account for.
                charge.clear();
                match spool {
                    Some(mut spool) => match spool.write(&body) {
                        Ok(()) => self.respond_spooled(head, spool, ctx),
                        Err(err) => {
                            tracing::error!(error = %err, "cannot spool a request body to a file");
                            self.fail(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "the request body could not be stored",
                                None,
                                ctx,
                                Instant::now(),
                            )
                        }
                    },
                    None => self.respond(head, body, ctx),
                }
            }
            other => {
                self.state = other;
                Step::Park(Outcome::Close)
            }
        }
    }

    /// Runs the handler and queues its response.
    pub(super) fn respond(&mut self, head: RequestHead, body: Vec<u8>, ctx: &Ctx) -> Step {
        let RequestHead {
            mut request,
            keep_alive,
            ..
        } = head;
        request.set_body(body);
        let answered = self.answer(&request, Some(keep_alive), ctx, |handler, request| {
            Some(handler.handle(request))
        });
        // `handle` always answers.
        answered.unwrap_or(Step::Park(Outcome::Close))
    }

    /// Runs the handler for a request whose body waits in a temporary file.
    fn respond_spooled(
        &mut self,
        head: RequestHead,
        spool: super::spool::Spool,
        ctx: &Ctx,
    ) -> Step {
        let RequestHead {
            mut request,
            keep_alive,
            ..
        } = head;
        request.set_spooled_body(spool.finish());
        let answered = self.answer(&request, Some(keep_alive), ctx, |handler, request| {
            Some(handler.handle(request))
        });
        answered.unwrap_or(Step::Park(Outcome::Close))
    }

    /// A request whose body is still to come: lets the handler answer from the head alone
    /// ([`Handler::handle_head`](crate::Handler::handle_head)). Then the body is never read:
    /// the connection closes after the response, discarding what the client still sends for
    /// at most the linger timeout.
    pub(super) fn respond_from_head(&mut self, head: &RequestHead, ctx: &Ctx) -> Option<Step> {
        self.answer(&head.request, None, ctx, |handler, request| {
            handler.handle_head(request)
        })
    }

    /// Runs `run` (a handler call) under `catch_unwind`, reports the exchange and queues the
    /// response; `None` if `run` had no answer. `keep_alive` is what the request asked for, or
    /// `None` when its body is left unread (then the connection closes with a lingering read).
    fn answer(
        &mut self,
        request: &Request,
        keep_alive: Option<bool>,
        ctx: &Ctx,
        run: impl FnOnce(&dyn crate::Handler, &Request) -> Option<Response>,
    ) -> Option<Step> {
        let client_closes = keep_alive == Some(false);
        let keep_alive = keep_alive.unwrap_or(false);
        let method = request.method();
        let version = request.version();
        let mut keep_alive = keep_alive
            && self.served + 1 < ctx.config.max_requests_per_connection
            && !ctx.draining();
        let started = Instant::now();
        let received = ctx.on_response.as_ref().map(|_| SystemTime::now());
        let mut response = match catch_unwind(AssertUnwindSafe(|| run(&*ctx.handler, request))) {
            Ok(None) => return None,
            Ok(Some(response)) => response,
            Err(_) => {
                tracing::error!(target = request.target(), "handler panicked");
                keep_alive = false;
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Some("the handler failed"),
                )
            }
        };
        if response.status().is_informational() {
            // A 1xx is never a final answer: sent as one, the client would take the next
            // response for the answer to this request (hyper refuses it the same way).
            tracing::error!(
                target = request.target(),
                status = response.status().as_u16(),
                "handler returned an informational status as its response"
            );
            keep_alive = false;
            response = error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("the handler answered with an informational status"),
            );
        }
        let status = response.status();
        let bodiless = method == Method::HEAD || crate::http::is_bodiless(status);
        let body_bytes = if bodiless { 0 } else { response.body().len() };
        ctx.stats.response(Some(method.clone()), status, body_bytes);
        self.answered_at = Some(started);
        if let (Some(hook), Some(received)) = (&ctx.on_response, received) {
            hook(&crate::Exchange {
                peer: self.peer,
                request: Some(request),
                request_line: None,
                reason: None,
                status,
                body_bytes,
                received,
                handler_time: started.elapsed(),
            });
        }
        // A drain that began while the handler ran still closes this connection; so does a
        // stream to an HTTP/1.0 client, which only the close can end.
        let close_delimited = response.body().is_stream() && version == Version::Http10;
        if response.closes_connection() || ctx.draining() || (close_delimited && !bodiless) {
            keep_alive = false;
        }
        self.push_response(response, version, keep_alive, method == Method::HEAD);
        self.after = if keep_alive {
            After::KeepAlive
        } else if client_closes {
            After::CloseAsAsked
        } else {
            After::Close
        };
        self.state = State::Write;
        // The write deadline counts from now, not from before the handler ran.
        self.since = Instant::now();
        Some(Step::Continue)
    }

    /// Encodes `response` into `out` (and `file`).
    pub(super) fn push_response(
        &mut self,
        mut response: Response,
        version: Version,
        keep_alive: bool,
        head_only: bool,
    ) {
        with_date(|date| response.encode_head(version, keep_alive, date, &mut self.out));
        self.write_started = Instant::now();
        self.sent = 0;
        let bodiless = head_only || crate::http::is_bodiless(response.status());
        match response.take_body() {
            _ if bodiless => {}
            Body::Empty => {}
            Body::Bytes(bytes) => self.out.extend_from_slice(&bytes),
            Body::Shared(bytes) => self.out.extend_from_slice(&bytes),
            Body::Parts(parts) => {
                self.rest.extend(parts);
                self.next_part();
            }
            Body::Stream(stream) => {
                self.streaming = Some(stream);
                self.chunked = version != Version::Http10;
            }
            Body::File { file, offset, len } => {
                let mut body = FileBody {
                    file,
                    offset,
                    remaining: len,
                };
                // A small file goes out in the same write as the head; what cannot be read
                // now (the file shrank) is left to the send_file path, which then closes.
                if len <= INLINE_FILE_MAX {
                    let start = self.out.len();
                    self.out.resize(start + len as usize, 0);
                    let got =
                        crate::transport::read_full_at(&body.file, &mut self.out[start..], offset);
                    self.out.truncate(start + got);
                    body.offset += got as u64;
                    body.remaining -= got as u64;
                }
                if body.remaining > 0 {
                    self.file = Some(body);
                }
            }
        }
    }

    /// Moves the next pieces of a multi-part body into place: bytes onto `out`, up to the
    /// next file region, which becomes `file`.
    fn next_part(&mut self) {
        while self.file.is_none() {
            match self.rest.pop_front() {
                Some(BodyPart::Bytes(bytes)) => self.out.extend_from_slice(&bytes),
                Some(BodyPart::File { len: 0, .. }) => {}
                Some(BodyPart::File { file, offset, len }) => {
                    self.file = Some(FileBody {
                        file,
                        offset,
                        remaining: len,
                    });
                }
                None => return,
            }
        }
    }

    /// Queues an error response saying `reason`, and closes after it. `request_line` is what
    /// the access log shows of a request that could not be parsed whole.
    pub(super) fn fail(
        &mut self,
        status: StatusCode,
        reason: &str,
        request_line: Option<&str>,
        ctx: &Ctx,
        now: Instant,
    ) -> Step {
        self.report_refusal(ctx, status, Some(reason), request_line);
        self.answered_at = Some(now);
        self.push_response(
            error_response(status, Some(reason)),
            Version::Http11,
            false,
            false,
        );
        self.after = After::Close;
        self.state = State::Write;
        self.since = now;
        Step::Continue
    }

    /// Writes the response; every write that makes progress restarts the write deadline.
    pub(super) fn write(&mut self, ctx: &Ctx, budget: &mut u32) -> Step {
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
                        self.sent += n as u64;
                        self.turn_bytes += n as u64;
                        self.since = Instant::now();
                        if self.turn_bytes >= super::MAX_BYTES_PER_DISPATCH {
                            return Step::Continue; // `drive` sends it to the back of the queue
                        }
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
            // More pieces: write them in turn.
            if !self.rest.is_empty() {
                self.out.clear();
                self.out_pos = 0;
                self.next_part();
                return Step::Continue;
            }
        }
        if self.streaming.is_some() {
            // The next piece of a streamed body (`out` is empty now), or its end.
            return match self.refill() {
                Ok(()) => Step::Continue,
                Err(e) => {
                    tracing::warn!(error = %e, "a streamed body failed; cutting the response");
                    Step::Park(Outcome::Close)
                }
            };
        }
        // Bytes a transport took but holds back (TLS records) go out before the response
        // counts as sent.
        loop {
            match self.stream.flush() {
                Ok(()) => break,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Step::Park(Outcome::Write),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    log_io(&e);
                    return Step::Park(Outcome::Close);
                }
            }
        }
        self.out.clear();
        self.out_pos = 0;
        self.release_buffers();
        let now = Instant::now();
        if let Some(at) = self.answered_at.take() {
            ctx.stats.duration(now.saturating_duration_since(at));
        }
        let after = self.after;
        match after {
            After::CloseAsAsked
                if self.input.is_empty() && (self.drained || self.nothing_more_sent()) =>
            {
                // FIN by close; no lingering read, no extra wake-up. A client that asked to
                // close sends nothing more; one that does anyway after our last read (which
                // emptied the socket) may get a reset, as from nginx in the same case.
                Step::Park(Outcome::Close)
            }
            After::Close | After::CloseAsAsked => {
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
                } else if ctx.park_when_drained
                    && self.drained_this_turn
                    && self.input.is_empty()
                    && !self.stream.buffered_input()
                {
                    // Nothing buffered, and this turn's read emptied the socket: wait for the
                    // next request without a read that would almost always find nothing. Any
                    // byte that arrived since that read is reported by the poller, so nothing
                    // is missed.
                    Step::Park(Outcome::Read)
                } else {
                    Step::Continue
                }
            }
        }
    }

    /// Reads the next piece of the streamed body into `out` (framed as a chunk when
    /// chunked); at its end, the last chunk, and the stream is done.
    fn refill(&mut self) -> std::io::Result<()> {
        let Some(stream) = &mut self.streaming else {
            return Ok(());
        };
        self.out.clear();
        self.out_pos = 0;
        // Room for the chunk's size line, filled in once the size is known.
        let start = if self.chunked { CHUNK_HEAD } else { 0 };
        self.out.resize(start + STREAM_CHUNK, 0);
        let n = loop {
            match stream.reader().read(&mut self.out[start..]) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        self.out.truncate(start + n);
        if n == 0 {
            self.streaming = None;
            self.out.clear();
            if self.chunked {
                self.out.extend_from_slice(b"0\r\n\r\n");
            }
            return Ok(());
        }
        if self.chunked {
            let head = format!("{n:x}\r\n");
            self.out_pos = start - head.len();
            self.out[self.out_pos..start].copy_from_slice(head.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        Ok(())
    }

    /// Whether the client has sent nothing more (one non-blocking read finds no data); data
    /// or an error count as "more", so the connection lingers.
    fn nothing_more_sent(&mut self) -> bool {
        let mut byte = [0u8; 1];
        loop {
            return match self.stream.read(&mut byte) {
                Ok(0) => true,
                Err(e) if e.kind() == ErrorKind::WouldBlock => true,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Ok(_) => {
                    // Counted as discarded input by the linger that follows.
                    false
                }
                Err(_) => true,
            };
        }
    }

    pub(super) fn linger(&mut self) -> Step {
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
    pub(super) fn flush_out(&mut self) -> Result<(), Wait> {
        while self.out_pos < self.out.len() {
            let pending = &self.out[self.out_pos..];
            let written = if self.file.is_some() || !self.rest.is_empty() {
                self.stream.write_more(pending)
            } else {
                self.stream.write(pending)
            };
            match written {
                Ok(0) => return Err(Wait::Closed),
                Ok(n) => {
                    self.out_pos += n;
                    self.sent += n as u64;
                    self.turn_bytes += n as u64;
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
}
