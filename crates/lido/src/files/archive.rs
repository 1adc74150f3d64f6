//! A listed directory as one `.tar` (or `.tar.gz`), made while it is sent: a [`Read`] that
//! walks the tree depth first and yields each entry's header, then its bytes from the file,
//! opened only when its turn comes. Memory is one directory iterator per level and a header;
//! one file is open at a time; nothing is written to disk.
//!
//! The walk follows the listing's rules: names starting with `.` only with `show_hidden`,
//! names that are not UTF-8 left out, symlinks followed only to targets inside the root
//! (unless `follow_symlinks`), only regular files and directories, a directory never entered
//! twice on one path (a symlink loop), and at most [`MAX_DEPTH`] levels.

use crate::http::header;
use std::fs::{File, ReadDir};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::resolve::{self, Policy};
use crate::http::{Body, Request, Response, StatusCode};

/// Directory levels below the archived one the walk goes down.
pub(crate) const MAX_DEPTH: usize = 32;
/// gzip level of `.tar.gz`: the fastest; an archive is made per request and often holds
/// files that are compressed already.
const GZIP_LEVEL: u32 = 1;
/// tar's block.
const BLOCK: usize = 512;

/// Which archive a request asks for (`?format=tar` or `?format=tar.gz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Tar,
    TarGz,
}

impl Format {
    /// The format the query names, if any.
    pub(crate) fn requested(query: Option<&str>) -> Option<Format> {
        query?.split('&').find_map(|pair| {
            match pair.strip_prefix("format=")?.to_ascii_lowercase().as_str() {
                "tar" => Some(Format::Tar),
                "tar.gz" | "tgz" => Some(Format::TarGz),
                _ => None,
            }
        })
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Tar => "application/x-tar",
            Format::TarGz => "application/gzip",
        }
    }
}

/// The archive of `dir` (under the canonical `root`), entries named under `top/`, as a
/// reader of the format's bytes.
pub(crate) fn reader(
    root: &Path,
    dir: &Path,
    top: &str,
    policy: Policy,
    format: Format,
) -> io::Result<Box<dyn Read + Send>> {
    let tar = Tar::new(root, dir, top, policy)?;
    Ok(match format {
        Format::Tar => Box::new(tar),
        Format::TarGz => Box::new(flate2::read::GzEncoder::new(
            tar,
            flate2::Compression::new(GZIP_LEVEL),
        )),
    })
}

/// One directory being walked.
struct Level {
    entries: ReadDir,
    /// Its path on disk.
    path: PathBuf,
    /// Its name in the archive, ending in `/`.
    name: String,
    /// Device and inode: a directory already on the walk's path is not entered again.
    id: (u64, u64),
}

/// A file whose bytes come next.
struct Current {
    file: File,
    remaining: u64,
    /// Zero bytes after it, to the end of its last block.
    padding: usize,
}

pub(crate) struct Tar {
    root: PathBuf,
    policy: Policy,
    stack: Vec<Level>,
    /// Header (or padding, or end-of-archive) bytes to give before anything else, from `pos`.
    pending: Vec<u8>,
    pos: usize,
    current: Option<Current>,
    finished: bool,
}

impl Tar {
    fn new(root: &Path, dir: &Path, top: &str, policy: Policy) -> io::Result<Tar> {
        let meta = std::fs::metadata(dir)?;
        let mut tar = Tar {
            root: root.to_path_buf(),
            policy,
            stack: Vec::new(),
            pending: Vec::new(),
            pos: 0,
            current: None,
            finished: false,
        };
        let name = format!("{top}/");
        tar.push_header(&name, &meta, 0)?;
        tar.stack.push(Level {
            entries: std::fs::read_dir(dir)?,
            path: dir.to_path_buf(),
            name,
            id: file_id(&meta),
        });
        Ok(tar)
    }

    /// Appends the header of `name` (GNU long-name record first when the name needs one).
    fn push_header(&mut self, name: &str, meta: &std::fs::Metadata, size: u64) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        let kind = if meta.is_dir() {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        };
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(if meta.is_dir() { 0o755 } else { 0o644 });
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        header.set_mtime(mtime);
        let bytes = name.as_bytes();
        if bytes.len() > 100 {
            // The name does not fit the header: a `././@LongLink` record carries it, as GNU
            // tar writes it (every tar reader knows it).
            let mut long = tar::Header::new_gnu();
            long.set_entry_type(tar::EntryType::GNULongName);
            long.set_size(bytes.len() as u64 + 1);
            long.set_mode(0o644);
            long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
            long.set_cksum();
            self.pending.extend_from_slice(long.as_bytes());
            self.pending.extend_from_slice(bytes);
            self.pending.push(0);
            pad(&mut self.pending);
            header.as_old_mut().name.copy_from_slice(&bytes[..100]);
        } else {
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        }
        header.set_cksum();
        self.pending.extend_from_slice(header.as_bytes());
        Ok(())
    }

    /// Queues the next entry of the walk, or the end of the archive.
    fn advance(&mut self) -> io::Result<()> {
        self.pending.clear();
        self.pos = 0;
        while let Some(level) = self.stack.last_mut() {
            let Some(next) = level.entries.next() else {
                self.stack.pop();
                continue;
            };
            let Ok(entry) = next else { continue };
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') && !self.policy.show_hidden {
                continue;
            }
            let path = level.path.join(&name);
            let archived = format!("{}{name}", level.name);
            // The listing's rule for what may be reached (symlinks inside the root unless
            // allowed; files and directories only).
            let Ok((real, meta)) = resolve::confine(&self.root, &path, self.policy) else {
                continue;
            };
            if meta.is_dir() {
                let id = file_id(&meta);
                if self.stack.len() > MAX_DEPTH || self.stack.iter().any(|l| l.id == id) {
                    continue;
                }
                let Ok(entries) = std::fs::read_dir(&real) else {
                    continue;
                };
                let archived = format!("{archived}/");
                self.push_header(&archived, &meta, 0)?;
                self.stack.push(Level {
                    entries,
                    path: real,
                    name: archived,
                    id,
                });
                return Ok(());
            }
            // The file as opened is the file checked (a swap for a symlink or a FIFO in
            // between is refused), and its length is the one the header states.
            let Ok((file, opened)) = resolve::open_confined(&real, &meta) else {
                continue;
            };
            let size = opened.len();
            self.push_header(&archived, &opened, size)?;
            self.current = Some(Current {
                file,
                remaining: size,
                padding: padding(size),
            });
            return Ok(());
        }
        // Two zero blocks end the archive.
        self.pending.resize(2 * BLOCK, 0);
        self.finished = true;
        Ok(())
    }
}

impl Read for Tar {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos < self.pending.len() {
                let n = (self.pending.len() - self.pos).min(buf.len());
                buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if let Some(current) = &mut self.current {
                if current.remaining > 0 {
                    let want = usize::try_from(current.remaining)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    let n = current.file.read(&mut buf[..want])?;
                    if n == 0 {
                        // The file shrank after its header went out: the archive cannot be
                        // completed truthfully, so it is cut (the client sees an error).
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "a file shrank while it was archived",
                        ));
                    }
                    current.remaining -= n as u64;
                    return Ok(n);
                }
                let zeros = current.padding;
                self.current = None;
                self.pending.clear();
                self.pending.resize(zeros, 0);
                self.pos = 0;
                continue;
            }
            if self.finished {
                return Ok(0);
            }
            self.advance()?;
        }
    }
}

/// Zero bytes after `size` bytes of content to the end of the block.
fn padding(size: u64) -> usize {
    let rest = (size % BLOCK as u64) as usize;
    if rest == 0 { 0 } else { BLOCK - rest }
}

fn pad(bytes: &mut Vec<u8>) {
    let rest = bytes.len() % BLOCK;
    if rest != 0 {
        bytes.resize(bytes.len() + BLOCK - rest, 0);
    }
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// The answer to `DIR/?format=...`: the archive as a stream, named after the directory.
pub(crate) fn respond(
    request: &Request,
    root: &Path,
    dir: &Path,
    policy: Policy,
    format: Format,
) -> Response {
    let top = top_name(request.path());
    let reader = match reader(root, dir, &top, policy, format) {
        Ok(reader) => reader,
        Err(_) => {
            return Response::text(StatusCode::FORBIDDEN, "cannot archive this directory\n");
        }
    };
    let file_name = format!("{top}.{}", format.extension());
    let disposition = if file_name.is_ascii() {
        format!("attachment; filename=\"{file_name}\"")
    } else {
        let ascii: String = file_name
            .chars()
            .map(|c| if c.is_ascii() { c } else { '_' })
            .collect();
        let encoded =
            percent_encoding::utf8_percent_encode(&file_name, percent_encoding::NON_ALPHANUMERIC);
        format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
    };
    Response::new(StatusCode::OK)
        .with_header(header::CONTENT_TYPE, format.content_type())
        .with_header(header::CONTENT_DISPOSITION, disposition)
        // Made afresh for each request: nothing to validate or cache.
        .with_header(header::CACHE_CONTROL, "no-store")
        .with_body(Body::stream(reader))
}

/// The archive's file name: the directory's last segment (`site` for `/site/`), or `root`.
pub(crate) fn top_name(url_path: &str) -> String {
    let segment = url_path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    let clean: String = decoded
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '"'))
        .collect();
    if clean.is_empty() || clean == "." || clean == ".." {
        "root".to_owned()
    } else {
        clean
    }
}
