//! Zero-copy file sending: `sendfile(2)` on Linux and Android, read-then-write elsewhere.
//!
//! Known limit of zero-copy: bytes already queued in the socket still refer to the file's page
//! cache, so if the file is truncated while they wait, the kernel sends zeros for the part past
//! the new end. The connection is still closed before `Content-Length` is reached (the client
//! sees a short, failed response), as it is when the file shrinks before being read.

use std::fs::File;
use std::io::{self, Write};
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::AsFd;

/// Sends up to `len` bytes of `file` from `offset` to the socket `out`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn send_file<S: AsFd + Write>(
    out: &mut S,
    file: &File,
    offset: u64,
    len: usize,
) -> io::Result<usize> {
    let mut off = nix::libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    nix::sys::sendfile::sendfile(out.as_fd(), file.as_fd(), Some(&mut off), len)
        .map_err(io::Error::from)
}

/// Sends up to `len` bytes of `file` from `offset` to the socket `out`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn send_file<S: Write>(
    out: &mut S,
    file: &File,
    offset: u64,
    len: usize,
) -> io::Result<usize> {
    crate::transport::copy_file(out, file, offset, len)
}
