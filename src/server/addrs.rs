//! `FCGI_WEB_SERVER_ADDRS`: which peers may connect.

use crate::sys::net::Peer;
use std::net::IpAddr;

/// A comma-separated list of IPv4 and IPv6 addresses. libfcgi checked IPv4 peers only and
/// broke on a leading space; here both families are checked (IPv4-mapped IPv6 peers match
/// their IPv4 entry) and spaces around entries are ignored. Unix-socket peers are local and
/// always allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebServerAddrs {
    allowed: Vec<IpAddr>,
}

impl WebServerAddrs {
    /// `None` for an empty list (everyone is allowed, as in libfcgi).
    pub fn parse(list: &str) -> Option<WebServerAddrs> {
        let mut allowed = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match entry
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
            {
                Ok(ip) => allowed.push(ip),
                Err(_) => crate::log::warn(format_args!(
                    "FCGI_WEB_SERVER_ADDRS: ignoring bad entry {entry:?}"
                )),
            }
        }
        (!allowed.is_empty()).then_some(WebServerAddrs { allowed })
    }

    pub fn from_env() -> Option<WebServerAddrs> {
        Self::parse(&std::env::var("FCGI_WEB_SERVER_ADDRS").ok()?)
    }

    pub fn allows(&self, peer: &Peer) -> bool {
        match peer {
            Peer::Inet(sa) => {
                let ip = match sa.ip() {
                    IpAddr::V6(v6) => v6
                        .to_ipv4_mapped()
                        .map(IpAddr::V4)
                        .unwrap_or(IpAddr::V6(v6)),
                    v4 => v4,
                };
                self.allowed.contains(&ip)
            }
            Peer::Unix | Peer::Other => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> Peer {
        Peer::Inet(s.parse().unwrap())
    }

    #[test]
    fn both_families_and_spaces() {
        let a = WebServerAddrs::parse(" 10.1.2.3, 127.0.0.1 ,::1").unwrap();
        assert!(a.allows(&peer("127.0.0.1:5")));
        assert!(a.allows(&peer("[::ffff:127.0.0.1]:5")));
        assert!(a.allows(&peer("[::1]:5")));
        assert!(!a.allows(&peer("127.0.0.2:5")));
        assert!(!a.allows(&peer("[::2]:5")));
        assert!(a.allows(&Peer::Unix));
        assert_eq!(WebServerAddrs::parse(" , "), None);
    }
}
