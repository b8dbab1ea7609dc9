//! Listen sockets for the master: inherited (systemd `LISTEN_FDS`, or fd 0 as spawn-fcgi and
//! web servers pass it) or bound from the configuration; and the kernel's listen-queue figures
//! for TCP (`TCP_INFO`) and unix sockets (`sock_diag`, as `ss -xl` reads them).

use std::io::{self, Read as _};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::config::{ListenAddr, PoolConfig};
use crate::sys::process as sys;

/// A listening socket the master owns for the life of the pool.
#[derive(Debug)]
pub struct Listener {
    pub sock: Socket,
    /// What it was configured as (or how it was found).
    pub addr: ListenAddr,
    /// Inherited sockets are never unlinked or shut down (systemd keeps its copy).
    pub inherited: bool,
    pub backlog: u32,
    is_unix: bool,
    /// [`Listener::stop_accepting`] ran.
    stopped: std::cell::Cell<bool>,
}

impl Listener {
    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// A unix-domain socket (`listen.allowed_clients` does not apply to it).
    pub fn is_unix(&self) -> bool {
        self.is_unix
    }

    /// (connections waiting, queue size), when the kernel tells.
    pub fn queue(&self) -> Option<(u32, u32)> {
        if self.is_unix {
            unix_listen_queue(self.fd())
        } else {
            sys::tcp_listen_queue(self.fd())
        }
    }

    /// Removes the socket file of a unix socket we bound ourselves (at master exit), unless
    /// [`Listener::stop_accepting`] already did.
    pub fn cleanup(&self) {
        if self.stopped.get() {
            return;
        }
        if let (false, ListenAddr::Unix(p)) = (self.inherited, &self.addr) {
            let _ = std::fs::remove_file(p);
        }
    }

    /// At the start of a stop: new connections are refused at connect instead of waiting in
    /// the backlog for a worker that will never take them (and being reset when the master
    /// exits). A unix socket's file is removed (a successor may bind the path at once); a TCP
    /// listener is shut down for reading, which stops it listening. Inherited sockets are left
    /// alone: whoever handed them over (systemd) keeps them and their queue.
    pub fn stop_accepting(&self) {
        if self.inherited || self.stopped.replace(true) {
            return;
        }
        match &self.addr {
            ListenAddr::Unix(p) => {
                let _ = std::fs::remove_file(p);
            }
            _ if !self.is_unix => {
                let _ = self.sock.shutdown(std::net::Shutdown::Read);
            }
            _ => {}
        }
    }

    fn from_socket(sock: Socket, addr: ListenAddr, inherited: bool, backlog: u32) -> Listener {
        let is_unix = sock.local_addr().map(|a| a.is_unix()).unwrap_or(false);
        Listener {
            sock,
            addr,
            inherited,
            backlog,
            is_unix,
            stopped: std::cell::Cell::new(false),
        }
    }
}

/// Sockets handed to us at start: systemd's (when `LISTEN_PID` is ours), else fd 0 when it is
/// a listening socket. The systemd variables are removed so children do not misread them.
pub fn take_inherited() -> Vec<OwnedFd> {
    let mut out = Vec::new();
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    if pid_ok {
        let n = std::env::var("LISTEN_FDS")
            .ok()
            .and_then(|n| n.parse::<i32>().ok())
            .unwrap_or(0);
        for fd in 3..3 + n.clamp(0, 64) {
            if sys::is_listening_socket(fd) {
                let _ = sys::set_cloexec(fd, true);
                out.push(sys::adopt_fd(fd));
            }
        }
        for v in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
            std::env::remove_var(v);
        }
    }
    if out.is_empty() && sys::is_listening_socket(0) {
        // Keep fd 0 itself open (workers get the socket there anyway); own a duplicate, so
        // dropping the master's state in a worker never closes the worker's fd 0.
        use std::os::fd::AsFd;
        if let Ok(dup) = std::io::stdin().as_fd().try_clone_to_owned() {
            out.push(dup);
        }
    }
    out
}

fn same_addr(a: &SockAddr, want: &ListenAddr) -> bool {
    match want {
        ListenAddr::Tcp(t) => a.as_socket() == Some(*t),
        ListenAddr::Unix(p) => a.as_pathname() == Some(p.as_path()),
        ListenAddr::Inherited => true,
    }
}

/// Opens the pool's socket: an inherited one that matches (or any, for `Inherited`), else a
/// new bind.
pub fn open(pool: &PoolConfig, inherited: &mut Vec<OwnedFd>) -> io::Result<Listener> {
    open_addr(&pool.listen, pool, inherited)
}

pub fn open_addr(
    addr: &ListenAddr,
    pool: &PoolConfig,
    inherited: &mut Vec<OwnedFd>,
) -> io::Result<Listener> {
    let pos = inherited.iter().position(|fd| {
        let s = Socket::from(fd.try_clone().expect("dup"));
        let r = s.local_addr().map(|a| same_addr(&a, addr)).unwrap_or(false);
        drop(s);
        r
    });
    if let Some(i) = pos {
        let sock = Socket::from(inherited.remove(i));
        let backlog = sys::tcp_listen_queue(sock.as_raw_fd())
            .map(|q| q.1)
            .unwrap_or(0);
        let mut l = Listener::from_socket(sock, addr.clone(), true, backlog);
        if l.backlog == 0 {
            l.backlog = l.queue().map(|q| q.1).unwrap_or(0);
        }
        return Ok(l);
    }
    let backlog = if pool.listen_backlog < 0 {
        libc::SOMAXCONN
    } else {
        pool.listen_backlog
    };
    match addr {
        ListenAddr::Inherited => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "[pool {}] no listen address and no inherited socket (fd 0 or LISTEN_FDS)",
                pool.name
            ),
        )),
        ListenAddr::Tcp(a) => {
            let sock = Socket::new(Domain::for_address(*a), Type::STREAM, Some(Protocol::TCP))?;
            sock.set_reuse_address(true)?;
            if a.is_ipv6() {
                let _ = sock.set_only_v6(false);
            }
            sock.bind(&(*a).into())
                .map_err(|e| ctx(e, &format!("bind {a}")))?;
            sock.listen(backlog)?;
            let b = backlog as u32;
            Ok(Listener::from_socket(sock, addr.clone(), false, b))
        }
        ListenAddr::Unix(p) => bind_unix(p, pool, backlog)
            .map(|s| Listener::from_socket(s, addr.clone(), false, backlog as u32)),
    }
}

fn ctx(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn bind_unix(p: &PathBuf, pool: &PoolConfig, backlog: i32) -> io::Result<Socket> {
    if p.exists() {
        // A live server on it? Then refuse rather than steal its path.
        if std::os::unix::net::UnixStream::connect(p).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is in use by another server", p.display()),
            ));
        }
        let _ = std::fs::remove_file(p);
    }
    let sock = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    sock.bind(&SockAddr::unix(p)?)
        .map_err(|e| ctx(e, &format!("bind {}", p.display())))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(pool.listen_mode))?;
    if pool.listen_owner.is_some() || pool.listen_group.is_some() {
        let uid = pool
            .listen_owner
            .as_deref()
            .map(sys::lookup_user)
            .transpose()?
            .map(|u| u.0);
        let gid = pool
            .listen_group
            .as_deref()
            .map(sys::lookup_group)
            .transpose()?;
        std::os::unix::fs::chown(p, uid, gid)?;
    }
    sock.listen(backlog)?;
    Ok(sock)
}

/// The accept queue of a unix listening socket, through `NETLINK_SOCK_DIAG` (`UNIX_DIAG_RQLEN`:
/// queued connections and the backlog).
pub fn unix_listen_queue(fd: RawFd) -> Option<(u32, u32)> {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    let ino: u32 = link
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()?;
    let nl = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::DGRAM,
        Some(Protocol::from(libc::NETLINK_SOCK_DIAG)),
    )
    .ok()?;
    nl.set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .ok()?;
    let mut req = Vec::with_capacity(40);
    req.extend_from_slice(&40u32.to_ne_bytes()); // nlmsg_len
    req.extend_from_slice(&20u16.to_ne_bytes()); // SOCK_DIAG_BY_FAMILY
    req.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // seq
    req.extend_from_slice(&0u32.to_ne_bytes()); // pid
    req.push(libc::AF_UNIX as u8); // sdiag_family
    req.push(0); // sdiag_protocol
    req.extend_from_slice(&0u16.to_ne_bytes()); // pad
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // udiag_states: all
    req.extend_from_slice(&ino.to_ne_bytes()); // udiag_ino
    req.extend_from_slice(&0x10u32.to_ne_bytes()); // UDIAG_SHOW_RQLEN
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // cookie: none
    req.extend_from_slice(&u32::MAX.to_ne_bytes());
    nl.send(&req).ok()?;
    let mut buf = [0u8; 1024];
    let n = (&nl).read(&mut buf).ok()?;
    let b = &buf[..n];
    let u16_at = |i: usize| Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?));
    let u32_at = |i: usize| Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let len = u32_at(0)? as usize;
    if u16_at(4)? != 20 || len > n {
        return None; // NLMSG_ERROR or short
    }
    // nlmsghdr (16) + unix_diag_msg (16), then attributes
    let mut at = 32;
    while at + 4 <= len {
        let alen = u16_at(at)? as usize;
        let atype = u16_at(at + 2)?;
        if alen < 4 {
            break;
        }
        if atype == 4 && alen >= 12 {
            return Some((u32_at(at + 4)?, u32_at(at + 8)?));
        }
        at += (alen + 3) & !3;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_queue_is_reported() {
        let dir = std::env::temp_dir().join(format!("fcgi-rs-pm-q-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("q.sock");
        let mut pool = PoolConfig::new("t");
        pool.listen = ListenAddr::Unix(path.clone());
        pool.listen_backlog = 7;
        let l = open(&pool, &mut Vec::new()).unwrap();
        assert_eq!(l.queue(), Some((0, 7)));
        let _c1 = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let _c2 = std::os::unix::net::UnixStream::connect(&path).unwrap();
        assert_eq!(l.queue(), Some((2, 7)));
        l.cleanup();
        assert!(!path.exists());
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn tcp_queue_is_reported() {
        let mut pool = PoolConfig::new("t");
        pool.listen = ListenAddr::Tcp("127.0.0.1:0".parse().unwrap());
        pool.listen_backlog = 9;
        let l = open(&pool, &mut Vec::new()).unwrap();
        let a = l.sock.local_addr().unwrap().as_socket().unwrap();
        let _c = std::net::TcpStream::connect(a).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(l.queue(), Some((1, 9)));
    }
}
