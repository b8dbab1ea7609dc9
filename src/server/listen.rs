//! Opening listen sockets from libfcgi's address strings.

use socket2::{Domain, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::OwnedFd;

/// What an address string names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    Tcp(SocketAddr),
    /// A host name to resolve, with its port.
    TcpHost(String, u16),
    Unix(String),
}

/// libfcgi's rule, plus bracketed IPv6: `[v6]:port` is TCP over IPv6; otherwise the string is
/// TCP when the text after its first `:` starts with a non-zero port number (`host:port`,
/// `:port`, `*:port`, empty host or `*` meaning every IPv4 address); anything else is a
/// unix socket path (including `:0` and `:abc`, as in libfcgi).
pub fn parse_addr(addr: &str) -> ListenAddr {
    if let Some(rest) = addr.strip_prefix('[') {
        if let Some((host, port)) = rest.split_once("]:") {
            if let (Ok(ip), Ok(port)) = (host.parse::<std::net::Ipv6Addr>(), port.parse::<u16>()) {
                if port != 0 {
                    return ListenAddr::Tcp(SocketAddr::new(IpAddr::V6(ip), port));
                }
            }
        }
    }
    if let Some((host, port_text)) = addr.split_once(':') {
        let digits: &str = &port_text[..port_text.bytes().take_while(u8::is_ascii_digit).count()];
        if let Ok(port) = digits.parse::<u16>() {
            if port != 0 {
                if host.is_empty() || host == "*" {
                    return ListenAddr::Tcp(SocketAddr::new(
                        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        port,
                    ));
                }
                if let Ok(ip) = host.parse::<Ipv4Addr>() {
                    return ListenAddr::Tcp(SocketAddr::new(IpAddr::V4(ip), port));
                }
                return ListenAddr::TcpHost(host.to_string(), port);
            }
        }
    }
    ListenAddr::Unix(addr.to_string())
}

/// Binds and listens on `addr` (see [`parse_addr`]). Unlike libfcgi, which calls `exit()` on
/// most failures, every failure is an `Err` carrying the OS error.
pub fn open_socket(addr: &str, backlog: i32) -> io::Result<OwnedFd> {
    let socket = match parse_addr(addr) {
        ListenAddr::Tcp(sa) => tcp_socket(sa, backlog)?,
        ListenAddr::TcpHost(host, port) => {
            let sa = (host.as_str(), port)
                .to_socket_addrs()?
                .min_by_key(|a| a.is_ipv6())
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EADDRNOTAVAIL))?;
            tcp_socket(sa, backlog)?
        }
        ListenAddr::Unix(path) => {
            // libfcgi removes a stale socket file first; so do we.
            let _ = std::fs::remove_file(&path);
            let sa = SockAddr::unix(&path)
                .map_err(|_| io::Error::from_raw_os_error(libc::ENAMETOOLONG))?;
            let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
            s.bind(&sa)?;
            s.listen(backlog)?;
            s
        }
    };
    Ok(socket.into())
}

fn tcp_socket(sa: SocketAddr, backlog: i32) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    if sa.is_ipv6() {
        s.set_only_v6(false).ok();
    }
    s.bind(&sa.into())?;
    s.listen(backlog)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_forms() {
        let v4 = |s: &str| SocketAddr::new(s.parse().unwrap(), 9000);
        assert_eq!(
            parse_addr("127.0.0.1:9000"),
            ListenAddr::Tcp(v4("127.0.0.1"))
        );
        assert_eq!(parse_addr(":9000"), ListenAddr::Tcp(v4("0.0.0.0")));
        assert_eq!(parse_addr("*:9000"), ListenAddr::Tcp(v4("0.0.0.0")));
        assert_eq!(
            parse_addr("[::1]:9000"),
            ListenAddr::Tcp("[::1]:9000".parse().unwrap())
        );
        assert_eq!(
            parse_addr("localhost:9000"),
            ListenAddr::TcpHost("localhost".into(), 9000)
        );
        for unix in ["/tmp/x.sock", ":0", ":abc", "rel.sock"] {
            assert_eq!(parse_addr(unix), ListenAddr::Unix(unix.into()));
        }
    }

    #[test]
    fn failures_are_errors_not_exits() {
        assert!(open_socket("/nonexistent-dir/x.sock", 5).is_err());
        assert!(open_socket("no.such.host.invalid:9000", 5).is_err());
        let long = format!("/tmp/{}", "x".repeat(200));
        assert!(open_socket(&long, 5).is_err());
    }
}
