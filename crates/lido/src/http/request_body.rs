//! A request body: in memory, or spooled by the connection engine to a file and read only when
//! the handler asks for it. The file side is a trait here: this module does no I/O of its own.

use std::fmt;
use std::io::{self, Read};
use std::sync::{Arc, OnceLock};

/// A body the engine wrote to a file (see `ServerBuilder::spool_bodies_over`).
pub(crate) trait Spooled: Send + Sync + fmt::Debug {
    /// Its length in bytes.
    fn len(&self) -> u64;
    /// Reads from `offset` into `buf`; `Ok(0)` at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

/// Where a request's body is.
#[derive(Debug, Clone)]
pub(crate) enum BodyData {
    Memory(Vec<u8>),
    Spooled {
        source: Arc<dyn Spooled>,
        /// The whole body, read into memory the first time `Request::body` is called.
        loaded: Arc<OnceLock<Vec<u8>>>,
    },
}

impl Default for BodyData {
    fn default() -> Self {
        BodyData::Memory(Vec::new())
    }
}

impl BodyData {
    pub(crate) fn spooled(source: Arc<dyn Spooled>) -> Self {
        BodyData::Spooled {
            source,
            loaded: Arc::new(OnceLock::new()),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        match self {
            BodyData::Memory(bytes) => bytes.len() as u64,
            BodyData::Spooled { source, .. } => source.len(),
        }
    }

    /// The whole body in memory (a spooled one is read on the first call; if that read fails,
    /// what could be read).
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            BodyData::Memory(bytes) => bytes,
            BodyData::Spooled { source, loaded } => loaded.get_or_init(|| {
                let mut all = Vec::new();
                let _ = (BodyReader {
                    body: self,
                    position: 0,
                })
                .read_to_end(&mut all);
                debug_assert!(all.len() as u64 <= source.len());
                all
            }),
        }
    }
}

impl PartialEq for BodyData {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for BodyData {}

/// Reads a request body from its start, wherever it is held; from
/// [`Request::body_reader`](super::Request::body_reader).
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use lido::http::{Method, Request};
///
/// let request = Request::new(Method::POST, "/")?.with_body(b"hello".to_vec());
/// let mut text = String::new();
/// request.body_reader().read_to_string(&mut text)?;
/// assert_eq!(text, "hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct BodyReader<'a> {
    pub(crate) body: &'a BodyData,
    pub(crate) position: u64,
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.body {
            BodyData::Memory(bytes) => {
                let start = usize::try_from(self.position)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let n = buf.len().min(bytes.len() - start);
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                n
            }
            BodyData::Spooled { source, .. } => source.read_at(buf, self.position)?,
        };
        self.position += n as u64;
        Ok(n)
    }
}
