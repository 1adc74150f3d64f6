//! What the connection state machine needs of a socket: non-blocking read and write, sending a
//! file region, and shutting the write side. Tests implement it with a scripted mock.

use std::fs::File;
use std::io::{self, Read, Write};

/// Bytes copied per `send_file` call where the OS has no `sendfile`.
const COPY_CHUNK: usize = 64 * 1024;

/// A non-blocking byte stream.
pub(crate) trait Transport: Read + Write {
    /// Sends up to `len` bytes of `file` from `offset`; returns how many were sent, 0 only at
    /// end of file. `WouldBlock` when the socket is full.
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        copy_file(self, file, offset, len)
    }

    /// Writes `buf` as the start of a longer message (a response head before its file body):
    /// the OS may hold it back briefly to send it in one segment with what follows. By
    /// default, a plain write.
    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write(buf)
    }

    /// Shuts the write side down (sends FIN) so that the peer sees the end of the response.
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// Bytes taken by `write` wait for the socket to be writable (a TLS record, a handshake
    /// flight): the connection must wait for writability, not for the client, until
    /// [`flush`](Write::flush) succeeds. A plain socket holds nothing back.
    fn wants_write(&self) -> bool {
        false
    }

    /// Input already taken from the socket waits to be read (decrypted TLS records): a wait
    /// for readability would not see it.
    fn buffered_input(&self) -> bool {
        false
    }
}

/// A connection's byte stream: the socket itself, or TLS over it.
#[derive(Debug)]
pub(crate) enum Stream<T: Transport> {
    Plain(T),
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::TlsStream<T>>),
}

impl<T: Transport> Stream<T> {
    /// The socket under the stream (to register it with a poller).
    pub(crate) fn socket(&self) -> &T {
        match self {
            Stream::Plain(io) => io,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.get_ref(),
        }
    }

    /// The socket under the stream.
    pub(crate) fn socket_mut(&mut self) -> &mut T {
        match self {
            Stream::Plain(io) => io,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.get_mut(),
        }
    }
}

impl<T: Transport> Read for Stream<T> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(io) => io.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl<T: Transport> Write for Stream<T> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(io) => io.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(io) => io.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

impl<T: Transport> Transport for Stream<T> {
    #[inline]
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        match self {
            Stream::Plain(io) => io.send_file(file, offset, len),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.send_file(file, offset, len),
        }
    }

    #[inline]
    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(io) => io.write_more(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.write_more(buf),
        }
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(io) => io.shutdown_write(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.shutdown_write(),
        }
    }

    #[inline]
    fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(io) => io.wants_write(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.wants_write(),
        }
    }

    #[inline]
    fn buffered_input(&self) -> bool {
        match self {
            Stream::Plain(io) => io.buffered_input(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.buffered_input(),
        }
    }
}

#[cfg(unix)]
impl<T> std::os::fd::AsFd for Stream<T>
where
    T: Transport + std::os::fd::AsFd,
{
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket().as_fd()
    }
}

/// How a server wraps each accepted socket.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wrap {
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsConfig>,
}

impl Wrap {
    /// The stream for an accepted socket; `None` if a TLS session could not be made (logged).
    pub(crate) fn stream<T: Transport>(&self, io: T) -> Option<Stream<T>> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return match tls.accept() {
                Ok(session) => Some(Stream::Tls(Box::new(crate::tls::TlsStream::new(
                    io, session,
                )))),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start a TLS session");
                    None
                }
            };
        }
        Some(Stream::Plain(io))
    }
}

/// `send(MSG_MORE)`: the kernel coalesces this with the next write or `sendfile` instead of
/// sending a segment of its own (the socket has `TCP_NODELAY`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn send_more(socket: impl std::os::fd::AsFd, buf: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(
        socket,
        buf,
        rustix::net::SendFlags::MORE,
    )?)
}

/// `send_file` by read-then-write, for transports without zero-copy.
pub(crate) fn copy_file<W: Write + ?Sized>(
    out: &mut W,
    file: &File,
    offset: u64,
    len: usize,
) -> io::Result<usize> {
    let mut buf = vec![0u8; len.min(COPY_CHUNK)];
    let n = read_at(file, &mut buf, offset)?;
    if n == 0 {
        return Ok(0);
    }
    out.write(&buf[..n])
}

/// Reads as much of `buf` as `file` has at `offset`: stops early only at end of file or on an
/// error. Returns how many bytes were read.
pub(crate) fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> usize {
    let mut got = 0;
    while got < buf.len() {
        match read_at(file, &mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    got
}

#[cfg(unix)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

impl Transport for std::net::TcpStream {
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        crate::sendfile::send_file(self, file, offset, len)
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        send_more(&*self, buf)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}
