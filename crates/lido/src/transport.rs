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
