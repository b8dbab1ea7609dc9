//! systemd's notification protocol (`sd_notify`) over `NOTIFY_SOCKET`, with a plain datagram
//! socket: `READY=1`, `STATUS=...`, `RELOADING=1`, `STOPPING=1`, `WATCHDOG=1`.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Notifier {
    target: Option<std::os::unix::net::SocketAddr>,
    sock: Option<UnixDatagram>,
    /// Half the watchdog interval, when systemd asked for pings.
    pub watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC`/`WATCHDOG_PID`, and removes them from the
    /// environment so workers do not notify in our name.
    pub fn from_env() -> Notifier {
        let path = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|p| !p.is_empty());
        let wd_pid_ok = std::env::var("WATCHDOG_PID")
            .ok()
            .map(|p| p.parse::<u32>().ok() == Some(std::process::id()))
            .unwrap_or(true);
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && wd_pid_ok)
            .map(|u| Duration::from_micros(u / 2));
        for v in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(v);
        }
        let target = path.and_then(|p| {
            use std::os::linux::net::SocketAddrExt;
            if let Some(name) = p.strip_prefix('@') {
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).ok()
            } else {
                std::os::unix::net::SocketAddr::from_pathname(p).ok()
            }
        });
        let sock = target.as_ref().and_then(|_| UnixDatagram::unbound().ok());
        Notifier {
            target,
            sock,
            watchdog,
        }
    }

    pub fn enabled(&self) -> bool {
        self.sock.is_some()
    }

    /// Sends one notification (newline-separated `KEY=value` lines). Errors are ignored, as
    /// `sd_notify` callers do.
    pub fn send(&self, msg: &str) {
        if let (Some(s), Some(t)) = (&self.sock, &self.target) {
            let _ = s.send_to_addr(msg.as_bytes(), t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("fcgi-rs-pm-n-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.join("notify");
        let rx = UnixDatagram::bind(&p).unwrap();
        let n = Notifier {
            target: Some(std::os::unix::net::SocketAddr::from_pathname(&p).unwrap()),
            sock: Some(UnixDatagram::unbound().unwrap()),
            watchdog: None,
        };
        n.send("READY=1\nSTATUS=ok");
        let mut b = [0u8; 64];
        let k = rx.recv(&mut b).unwrap();
        assert_eq!(&b[..k], b"READY=1\nSTATUS=ok");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
