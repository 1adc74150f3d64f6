//! Reading: request heads and bodies, on a worker or (for partial input) on the reactor.

use std::io::ErrorKind;
use std::time::Instant;

use super::{
    BodyDecoder, BodyState, CONTINUE, Conn, Ctx, EAGER_PARSE_LIMIT, Outcome, READ_CHUNK, State,
    Step, Wait, log_io,
};
use crate::http::{
    BodyFraming, ChunkedDecoder, MAX_HEAD, MAX_REQUEST_LINE, ParseError, RequestHead, StatusCode,
    parse_head,
};
use crate::transport::Transport;

thread_local! {
    /// Per-thread read buffer, zeroed once (reactor and workers each have one).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_CHUNK]);
}

/// What feeding input to a body did.
pub(super) enum Fed {
    /// All buffered input is in the body; more is needed.
    More,
    /// The body is complete (`Ready`), or refused (an error response is queued).
    Changed,
    /// The body must move to a file, which this thread may not do: a worker's job.
    NeedsWorker,
}

/// `METHOD target HTTP/1.x` of a parsed head, for the access log.
fn head_line(head: &RequestHead) -> String {
    let request = &head.request;
    format!(
        "{} {} {}",
        request.method().as_str(),
        request.target(),
        request.version().as_str()
    )
}

impl<S: Transport> Conn<S> {
    pub(super) fn read_head(&mut self, ctx: &Ctx, now: Instant) -> Step {
        if !self.input.is_empty() {
            self.note_input(now);
            match parse_head(&self.input) {
                Ok(Some((mut head, consumed))) => {
                    head.request.set_origin(self.peer, now);
                    self.input.drain(..consumed);
                    self.scanned = 0;
                    return self.start_request(head, consumed, ctx, now);
                }
                Ok(None) => {}
                Err(err) => return self.reject_parse(err, ctx, now),
            }
        }
        match self.fill() {
            Ok(0) => Step::Park(Outcome::Close),
            Ok(_) => Step::Continue,
            Err(Wait::Read) => Step::Park(Outcome::Read),
            Err(Wait::Write | Wait::Closed) => Step::Park(Outcome::Close),
        }
    }

    pub(super) fn reject_parse(&mut self, err: ParseError, ctx: &Ctx, now: Instant) -> Step {
        tracing::debug!(error = %err, "rejected request head");
        let line = self.request_line();
        self.fail(err.status(), &err.to_string(), line.as_deref(), ctx, now)
    }

    pub(super) fn start_request(
        &mut self,
        head: RequestHead,
        head_bytes: usize,
        ctx: &Ctx,
        now: Instant,
    ) -> Step {
        let decoder = match head.framing {
            BodyFraming::None => return self.respond(head, Vec::new(), ctx),
            BodyFraming::Length(len) if len > ctx.config.max_body => {
                let reason = format!("request body larger than {} bytes", ctx.config.max_body);
                let line = head_line(&head);
                return self.fail(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &reason,
                    Some(&line),
                    ctx,
                    now,
                );
            }
            BodyFraming::Length(0) => return self.respond(head, Vec::new(), ctx),
            BodyFraming::Length(len) => BodyDecoder::Length { remaining: len },
            // Trailer fields count against the head's limits (bytes and fields).
            BodyFraming::Chunked => BodyDecoder::Chunked(ChunkedDecoder::with_head(
                ctx.config.max_body,
                head_bytes,
                head.request.headers().len(),
            )),
        };
        // The handler may know its answer from the head (a `405`, a `404`, ...): then no
        // worker or connection waits for a body nobody needs.
        if let Some(step) = self.respond_from_head(&head, ctx) {
            return step;
        }
        if head.expect_continue && self.input.is_empty() {
            self.out.extend_from_slice(CONTINUE);
        }
        self.since = now;
        self.state = State::Body(Box::new(BodyState {
            head,
            body: Vec::new(),
            charge: super::spool::Charge::new(&ctx.body_budget),
            spool: None,
            decoder,
            started: now,
            received: 0,
        }));
        Step::Continue
    }

    pub(super) fn read_body(&mut self, ctx: &Ctx, now: Instant) -> Step {
        // A pending `100 Continue` goes out before we wait for the body it asks for.
        match self.flush_out() {
            Ok(()) => {}
            Err(Wait::Write) => return Step::Park(Outcome::Write),
            Err(Wait::Read | Wait::Closed) => return Step::Park(Outcome::Close),
        }
        match self.feed_body(ctx, now, true) {
            Fed::Changed => return Step::Continue,
            Fed::NeedsWorker => unreachable!("invariant: a worker may spool"),
            Fed::More => {}
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

    /// Moves buffered input into the body: in memory, charged to the server's body budget,
    /// until it passes the spool threshold, then to a temporary file. `may_spool` is false on
    /// a thread that serves the event loop, which never does file I/O: such a body is left to a
    /// worker ([`Fed::NeedsWorker`]).
    pub(super) fn feed_body(&mut self, ctx: &Ctx, now: Instant, may_spool: bool) -> Fed {
        let State::Body(state) = &mut self.state else {
            return Fed::More;
        };
        let before = state.body.len();
        let outcome = match &mut state.decoder {
            BodyDecoder::Length { remaining } => {
                let take = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.input.len());
                state.body.extend_from_slice(&self.input[..take]);
                self.input.drain(..take);
                *remaining -= take as u64;
                state.received += take as u64;
                Ok(*remaining == 0)
            }
            BodyDecoder::Chunked(decoder) => {
                decoder.decode(&self.input, &mut state.body).map(|decoded| {
                    self.input.drain(..decoded.consumed);
                    state.received += decoded.consumed as u64;
                    decoded.done
                })
            }
        };
        self.scanned = 0;
        let added = state.body.len() - before;
        let mut refused = None;
        if !state.charge.add(added) {
            refused = Some((
                StatusCode::SERVICE_UNAVAILABLE,
                "too many request bodies in memory".to_owned(),
            ));
        } else if state.body.len() > ctx.config.body_spool_threshold {
            if !may_spool {
                return Fed::NeedsWorker;
            }
            let spooled = match state.spool.as_mut() {
                Some(spool) => spool.write(&state.body),
                None => super::spool::Spool::create().and_then(|mut spool| {
                    spool.write(&state.body)?;
                    state.spool = Some(spool);
                    Ok(())
                }),
            };
            state.body.clear();
            state.charge.clear();
            if let Err(err) = spooled {
                tracing::error!(error = %err, "cannot spool a request body to a file");
                refused = Some((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the request body could not be stored".to_owned(),
                ));
            }
        }
        let failed = match (refused, outcome) {
            (Some(refusal), _) => Some(refusal),
            (None, Err(err)) => {
                tracing::debug!(error = %err, "rejected request body");
                Some((err.status(), err.to_string()))
            }
            (None, Ok(false)) => return Fed::More,
            (None, Ok(true)) => None,
        };
        if let Some((status, reason)) = failed {
            let line = match &self.state {
                State::Body(body) => Some(head_line(&body.head)),
                _ => None,
            };
            let _ = self.fail(status, &reason, line.as_deref(), ctx, now);
            return Fed::Changed;
        }
        if let State::Body(state) = std::mem::replace(&mut self.state, State::Head) {
            self.state = State::Ready(state);
        }
        Fed::Changed
    }

    /// Called on the reactor thread when the socket is readable: reads what is there and says
    /// whether a worker is needed. Partial heads and bodies stay here, so slow or stalled
    /// clients never take a worker or a queue slot.
    pub(crate) fn on_readable(&mut self, ctx: &Ctx, now: Instant) -> Outcome {
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
                State::Body(_) => match self.feed_body(ctx, now, false) {
                    Fed::Changed | Fed::NeedsWorker => return Outcome::Work,
                    Fed::More => {}
                },
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
    pub(super) fn note_input(&mut self, now: Instant) {
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
    pub(super) fn head_ready(&mut self) -> bool {
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

    /// Reads once into `input`. `Ok(0)` is end of stream.
    pub(super) fn fill(&mut self) -> Result<usize, Wait> {
        // `parse_head` rejects a head longer than MAX_HEAD, and bodies are consumed as they
        // arrive, so `input` stays near MAX_HEAD + READ_CHUNK.
        if self.input.len() > MAX_HEAD + READ_CHUNK {
            return Err(Wait::Closed);
        }
        // Read into scratch space and keep only what arrived: a connection's buffer grows with
        // its data, not with the read size (10,000 idle connections must not hold 16 KiB each).
        let stream = &mut self.stream;
        let input = &mut self.input;
        loop {
            let read = SCRATCH.with_borrow_mut(|scratch| {
                let n = stream.read(scratch)?;
                input.extend_from_slice(&scratch[..n]);
                Ok::<_, std::io::Error>(n)
            });
            match read {
                Ok(n) => {
                    // A read that did not fill the scratch buffer emptied the socket.
                    self.drained = n < READ_CHUNK;
                    self.drained_this_turn = self.drained;
                    self.turn_bytes += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.drained = true;
                    self.drained_this_turn = true;
                    return Err(Wait::Read);
                }
                Err(e) => {
                    log_io(&e);
                    return Err(Wait::Closed);
                }
            }
        }
    }
}
