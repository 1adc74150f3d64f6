//! TLS over a non-blocking socket, as a [`Transport`]: the connection state machine reads and
//! writes plaintext and never learns that a handshake, a record or an alert happened.
//!
//! Every call makes what progress it can without blocking. Ciphertext the socket would not take
//! stays in rustls (at most one [`WRITE_CHUNK`] of plaintext is taken while any is pending),
//! and [`Transport::wants_write`] tells the state machine to wait for the socket to be writable
//! rather than readable while it does: a handshake flight or the end of a response is never
//! left behind in a buffer while the connection waits for the client.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};

use crate::transport::{Transport, copy_file};

/// Plaintext taken per write: one buffer's worth of ciphertext (two full records) is the most a
/// connection holds beyond what the socket took.
const WRITE_CHUNK: usize = 32 * 1024;
/// The first byte of every TLS connection: a handshake record.
const HANDSHAKE_RECORD: u8 = 0x16;
/// What a client speaking plain HTTP to the TLS port is told, in clear text (as nginx does).
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\
Content-Length: 48\r\nConnection: close\r\n\r\nThis port speaks HTTPS: use an https:// address\n";

/// A server-side TLS session over `io`.
pub(crate) struct TlsStream<T: Transport> {
    io: T,
    tls: rustls::ServerConnection,
    /// Whether the first byte has been looked at (plain HTTP or TLS).
    started: bool,
}

impl<T: Transport> std::fmt::Debug for TlsStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("handshaking", &self.tls.is_handshaking())
            .finish_non_exhaustive()
    }
}

fn invalid(reason: impl std::fmt::Display) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("TLS: {reason}"))
}

impl<T: Transport> TlsStream<T> {
    pub(crate) fn new(io: T, tls: rustls::ServerConnection) -> Self {
        Self {
            io,
            tls,
            started: false,
        }
    }

    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Sends the ciphertext rustls holds until none is left (`Ok`) or the socket is full
    /// (`WouldBlock`).
    fn push(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.io) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// [`push`](Self::push), where a full socket is not an error: what is left goes when the
    /// connection is next writable (see [`Transport::wants_write`]).
    fn push_some(&mut self) -> io::Result<()> {
        match self.push() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    /// The first byte decides: a TLS handshake goes on to rustls; anything else is not TLS.
    /// Plain HTTP (a letter, as every method starts) is answered with a clear-text `400`.
    fn start(&mut self) -> io::Result<()> {
        let mut first = [0u8; 1];
        let n = loop {
            match self.io.read(&mut first) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        self.started = true;
        if first[0] == HANDSHAKE_RECORD {
            self.tls.read_tls(&mut &first[..])?;
            return Ok(());
        }
        if first[0].is_ascii_alphabetic() {
            // One non-blocking attempt, then close: a client that sends plain HTTP to the TLS
            // port reads why, as from nginx.
            let _ = self.io.write(PLAIN_HTTP_ANSWER);
            let _ = self.io.shutdown_write();
            return Err(invalid("plain HTTP sent to the HTTPS port"));
        }
        Err(invalid("the client did not start with a handshake"))
    }

    /// Reads ciphertext once and decrypts it. `Ok(false)`: the client closed the socket.
    fn receive(&mut self) -> io::Result<bool> {
        if !self.started {
            self.start()?;
        } else {
            let n = loop {
                match self.tls.read_tls(&mut self.io) {
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
            if n == 0 {
                return Ok(false);
            }
        }
        if let Err(err) = self.tls.process_new_packets() {
            // rustls queued an alert saying why: one attempt to send it.
            let _ = self.push();
            return Err(invalid(err));
        }
        // A handshake flight, a session ticket or a key update to send.
        self.push_some()?;
        Ok(true)
    }
}

impl<T: Transport> Read for TlsStream<T> {
    /// Fills `buf` with plaintext until it is full or the socket has nothing more: a short read
    /// means the socket was emptied, as for a plain socket (the engine relies on it).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            match self.tls.reader().read(&mut buf[filled..]) {
                // The client sent close_notify: the end of the stream.
                Ok(0) if !buf[filled..].is_empty() => return Ok(filled),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        return Ok(filled);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if filled > 0 => {
                    tracing::debug!(error = %e, "TLS read ended");
                    return Ok(filled);
                }
                Err(e) => return Err(e),
            }
            match self.receive() {
                Ok(true) => {}
                Ok(false) => return Ok(filled),
                Err(e) if e.kind() == ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
                Err(e) => return Err(e),
            }
        }
    }
}

impl<T: Transport> Write for TlsStream<T> {
    /// Takes up to [`WRITE_CHUNK`] bytes once the ciphertext of earlier writes has gone to the
    /// socket; `WouldBlock` while it has not.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.push()?;
        let n = self
            .tls
            .writer()
            .write(&buf[..buf.len().min(WRITE_CHUNK)])?;
        if n == 0 && !buf.is_empty() {
            // rustls's own buffer is full (a handshake still under way).
            return Err(ErrorKind::WouldBlock.into());
        }
        self.push_some()?;
        Ok(n)
    }

    /// Sends every byte taken so far; `WouldBlock` if the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        self.push()
    }
}

impl<T: Transport> Transport for TlsStream<T> {
    /// Read, encrypt, write: sendfile cannot encrypt. At most [`WRITE_CHUNK`] bytes of the file
    /// are read per call.
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        self.push()?;
        copy_file(self, file, offset, len.min(WRITE_CHUNK))
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.tls.send_close_notify();
        let _ = self.push();
        self.io.shutdown_write()
    }

    fn wants_write(&self) -> bool {
        self.tls.wants_write()
    }

    fn buffered_input(&self) -> bool {
        // rustls would rather not take more ciphertext while decrypted bytes wait to be read
        // (or the client said close_notify): bytes the socket's readiness would not report.
        !self.tls.is_handshaking() && !self.tls.wants_read()
    }
}

impl<T: Transport> Drop for TlsStream<T> {
    /// Says close_notify (one non-blocking attempt) so that the client can tell the end of
    /// the stream from a cut: a connection closed after its last response, or by the drain.
    fn drop(&mut self) {
        if !self.tls.is_handshaking() {
            self.tls.send_close_notify();
            let _ = self.push();
        }
    }
}
