//! Request bodies held by the engine: a budget for the bytes held in memory across every
//! connection, and a temporary file for a body too large to keep in memory.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of request bodies held in memory, across all connections, and the bound on them.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    limit: usize,
    used: AtomicUsize,
}

impl BodyBudget {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// Takes `bytes` from the budget; `false` (nothing taken) if that would pass the limit.
    fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes taken now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// What one body holds of the budget; given back when dropped.
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl Charge {
    pub(crate) fn new(budget: &Arc<BodyBudget>) -> Self {
        Self {
            budget: Arc::clone(budget),
            bytes: 0,
        }
    }

    /// Charges `bytes` more; `false` if the budget has no room.
    pub(crate) fn add(&mut self, bytes: usize) -> bool {
        if self.budget.take(bytes) {
            self.bytes += bytes;
            true
        } else {
            false
        }
    }

    /// Gives everything back (the bytes moved to a file, or were handed over).
    pub(crate) fn clear(&mut self) {
        self.budget.give_back(self.bytes);
        self.bytes = 0;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A body being written to an anonymous temporary file (in the system's temp directory, gone
/// when closed).
#[derive(Debug)]
pub(crate) struct Spool {
    file: File,
    len: u64,
}

impl Spool {
    pub(crate) fn create() -> io::Result<Self> {
        Ok(Self {
            file: tempfile::tempfile()?,
            len: 0,
        })
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// The finished body, for the request.
    pub(crate) fn finish(self) -> Arc<dyn crate::http::Spooled> {
        Arc::new(Spooled {
            file: self.file,
            len: self.len,
        })
    }
}

#[derive(Debug)]
struct Spooled {
    file: File,
    len: u64,
}

impl crate::http::Spooled for Spooled {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let left = self.len.saturating_sub(offset);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        crate::transport::read_at(&self.file, &mut buf[..n], offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_never_passed_and_comes_back() {
        let budget = Arc::new(BodyBudget::new(100));
        let mut a = Charge::new(&budget);
        let mut b = Charge::new(&budget);
        assert!(a.add(60));
        assert!(!b.add(41), "would pass the limit");
        assert!(b.add(40));
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        b.clear();
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_spooled_body_reads_back() {
        let mut spool = Spool::create().unwrap();
        spool.write(b"hello ").unwrap();
        spool.write(b"world").unwrap();
        let body = spool.finish();
        let mut buf = [0u8; 64];
        let n = body.read_at(&mut buf, 6).unwrap();
        assert_eq!(&buf[..n], b"world");
        assert_eq!(body.len(), 11);
    }
}
