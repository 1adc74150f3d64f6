//! Connections per client address, for `max_connections_per_ip`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};

/// Counts open connections by client address and refuses past a limit. Without a limit it
/// counts nothing.
#[derive(Debug)]
pub(crate) struct PeerLimit {
    max: Option<usize>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PeerLimit {
    pub(crate) fn new(max: Option<usize>) -> Self {
        Self {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a new connection from `peer`; `false` (not counted) if that address is at the
    /// limit.
    pub(crate) fn admit(&self, peer: Option<SocketAddr>) -> bool {
        let (Some(max), Some(peer)) = (self.max, peer) else {
            return true;
        };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(peer.ip()).or_insert(0);
        if *count >= max {
            return false;
        }
        *count += 1;
        true
    }

    /// A connection counted by [`PeerLimit::admit`] closed.
    pub(crate) fn release(&self, peer: Option<SocketAddr>) {
        let (Some(_), Some(peer)) = (self.max, peer) else {
            return;
        };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&peer.ip()) {
            *count -= 1;
            if *count == 0 {
                open.remove(&peer.ip());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_address_and_forgets_at_zero() {
        let limit = PeerLimit::new(Some(2));
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let a2: SocketAddr = "10.0.0.1:2000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1000".parse().unwrap();
        assert!(limit.admit(Some(a)));
        assert!(limit.admit(Some(a2)));
        assert!(!limit.admit(Some(a)), "a third from the same address");
        assert!(
            limit.admit(Some(b)),
            "another address is not limited by the first"
        );
        limit.release(Some(a));
        assert!(limit.admit(Some(a2)));
        for peer in [a, a2, b] {
            limit.release(Some(peer));
        }
        assert!(limit.open.lock().unwrap().is_empty());
    }

    #[test]
    fn no_limit_counts_nothing() {
        let limit = PeerLimit::new(None);
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        for _ in 0..1000 {
            assert!(limit.admit(Some(a)));
        }
        assert!(limit.open.lock().unwrap().is_empty());
    }
}
