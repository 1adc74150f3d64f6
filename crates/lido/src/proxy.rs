//! `--trusted-proxy`: behind a reverse proxy or a CDN, the address that connects is the
//! proxy's; the client's is in `X-Forwarded-For`. The access log takes the client's address
//! from that header only when the connection comes from a trusted proxy, as nginx's
//! `set_real_ip_from` with `real_ip_recursive on` does.

use std::net::IpAddr;
use std::str::FromStr;

/// An address or a network (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Network {
    addr: IpAddr,
    bits: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Network, String> {
        let (addr, bits) = match text.split_once('/') {
            Some((addr, bits)) => (addr, Some(bits)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or a network (10.0.0.0/8)"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(bits) => bits
                .parse::<u8>()
                .ok()
                .filter(|&b| b <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length is 0 to {max}"))?,
        };
        Ok(Network { addr, bits })
    }
}

/// The client's address for the log: the peer, or, when the peer is a trusted proxy, the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy (the left-most
/// if all are). A malformed entry stops the walk at the last good address.
pub(crate) fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[Network],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if trusted.is_empty() || !is_trusted(peer) {
        return Some(peer);
    }
    let Some(header) = forwarded_for else {
        return Some(peer);
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<Network> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn networks_parse_and_contain() {
        let net: Network = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(
            net.contains("::ffff:10.1.0.9".parse().unwrap()),
            "mapped IPv4"
        );
        let one: Network = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0/8", "::/129", ""] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_taken_from_trusted_proxies_only() {
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        // Not behind a trusted proxy: the header is the client's to forge.
        assert_eq!(
            client_ip(ip("192.0.2.1"), Some("203.0.113.9"), &trusted),
            ip("192.0.2.1")
        );
        // Behind one: the right-most untrusted hop.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                Some("198.51.100.4, 203.0.113.9, 10.0.0.2"),
                &trusted
            ),
            ip("203.0.113.9")
        );
        assert_eq!(client_ip(ip("127.0.0.1"), None, &trusted), ip("127.0.0.1"));
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("10.0.0.3, 10.0.0.2"), &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("garbage, 10.0.0.2"), &trusted),
            ip("10.0.0.2")
        );
        // No trusted proxies: never the header.
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("203.0.113.9"), &[]),
            ip("127.0.0.1")
        );
    }
}
