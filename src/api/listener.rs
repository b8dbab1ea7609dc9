//! Where requests come from: a bound address, fd 0, or systemd.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A listening socket for a [`Server`](super::Server).
#[derive(Debug)]
pub struct Listener {
    fd: ListenerFd,
}

#[derive(Debug)]
enum ListenerFd {
    Owned(OwnedFd),
    /// fd 0 or a systemd socket: used, never closed.
    Inherited(RawFd),
}

impl Listener {
    /// Binds `addr`: `host:port`, `:port`, `*:port`, `[v6addr]:port`, or a unix socket path
    /// (an existing socket file there is replaced).
    ///
    /// ```no_run
    /// let l = fcgi_rs::Listener::bind("127.0.0.1:9000")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(addr: &str) -> io::Result<Listener> {
        Ok(Listener {
            fd: ListenerFd::Owned(crate::server::open_socket(addr, 1024)?),
        })
    }

    /// Binds a unix socket at `path` and sets its permission bits (e.g. `0o660`).
    pub fn bind_unix(path: &str, mode: u32) -> io::Result<Listener> {
        use std::os::unix::fs::PermissionsExt;
        let l = Listener::bind(path)?;
        if !matches!(
            crate::server::parse_addr(path),
            crate::server::ListenAddr::Unix(_)
        ) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a unix socket path",
            ));
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        Ok(l)
    }

    /// The socket on fd 0, as web servers, spawn-fcgi and the process manager pass it.
    /// Fails when fd 0 is not a listening socket.
    pub fn from_stdin() -> io::Result<Listener> {
        Listener::inherited(0)
    }

    /// The first socket passed by systemd socket activation (`LISTEN_PID`/`LISTEN_FDS`),
    /// or `None` when the process was not socket-activated.
    pub fn from_systemd() -> io::Result<Option<Listener>> {
        let pid = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        let fds = std::env::var("LISTEN_FDS")
            .ok()
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(0);
        if pid != Some(std::process::id()) || fds == 0 {
            return Ok(None);
        }
        Listener::inherited(3).map(Some)
    }

    /// systemd's socket if there is one, else fd 0. When the environment configures a
    /// process-managed pool (`FCGI_RS_PM`, `FCGI_RS_PM_CONFIG`), this is where the process
    /// forks: the master runs the pool and never returns, each worker gets the pool's socket.
    pub fn from_env() -> io::Result<Listener> {
        crate::pm::hooks::enter_once();
        match Listener::from_systemd()? {
            Some(l) => Ok(l),
            None => Listener::from_stdin(),
        }
    }

    /// Takes ownership of a listening socket made elsewhere.
    pub fn from_owned_fd(fd: OwnedFd) -> io::Result<Listener> {
        if !crate::sys::net::is_listening(fd.as_raw_fd()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a listening socket",
            ));
        }
        Ok(Listener {
            fd: ListenerFd::Owned(fd),
        })
    }

    fn inherited(fd: RawFd) -> io::Result<Listener> {
        if !crate::sys::net::is_listening(fd) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("fd {fd} is not a listening socket"),
            ));
        }
        Ok(Listener {
            fd: ListenerFd::Inherited(fd),
        })
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        match &self.fd {
            ListenerFd::Owned(fd) => fd.as_raw_fd(),
            ListenerFd::Inherited(fd) => *fd,
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.raw_fd()
    }
}
