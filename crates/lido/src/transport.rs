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

    /// Shuts the write side down (sends FIN) so that the peer sees the end of the response.
    fn shutdown_write(&mut self) -> io::Result<()>;
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

#[cfg(unix)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}
