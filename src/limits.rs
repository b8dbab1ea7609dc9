//! Bounds on what one request may make the library hold, and on idle connections.
//!
//! The defaults are far above what nginx, Apache or lighttpd send (nginx's largest request
//! head is a few tens of KiB), and low enough that a hostile peer cannot make a worker hold
//! more than a few MiB. Programs change them with `fcgi_rs_set_limit` (C) or
//! [`Limits::from_env`]/field assignment (Rust), and operators with `FCGI_RS_*` variables.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes of one request's params (`NAME=VALUE\0` strings). Default 1 MiB.
    pub max_params_bytes: usize,
    /// Number of params in one request. Default 4096.
    pub max_params: usize,
    /// Length of one param name. Default 64 KiB.
    pub max_name_len: usize,
    /// Length of one param value. Default 1 MiB (bounded by `max_params_bytes` anyway).
    pub max_value_len: usize,
    /// How long a kept-alive connection may sit idle, or a request head may take to arrive,
    /// before the library closes it. Default 300 s, longer than any web server keeps an idle
    /// upstream connection (nginx: 60 s), so the web server is always the side that closes.
    pub idle_timeout: Duration,
    /// Connections held open at once by one listen socket's engine (idle plus in service).
    /// Reported as FCGI_MAX_CONNS. Default 1024.
    pub max_conns: usize,
    /// How long a close waits for the peer when unread input may remain (libfcgi's
    /// `LIBFCGI_OS_CLOSE_POLL_TIMEOUT`, same default of 2000 ms, honoured by the same name).
    pub linger_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_params_bytes: 1 << 20,
            max_params: 4096,
            max_name_len: 64 << 10,
            max_value_len: 1 << 20,
            idle_timeout: Duration::from_secs(300),
            max_conns: 1024,
            linger_timeout: Duration::from_millis(2000),
        }
    }
}

/// The names accepted by [`Limits::set`], the C call and the environment (upper-cased, with
/// `FCGI_RS_` in front).
pub const LIMIT_NAMES: &[&str] = &[
    "max_params_bytes",
    "max_params",
    "max_name_len",
    "max_value_len",
    "idle_timeout_ms",
    "max_conns",
    "linger_timeout_ms",
];

impl Limits {
    /// Sets one limit by name. Zero is refused for sizes and counts (it would refuse every
    /// request); `Err` names the problem.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), &'static str> {
        let as_usize = || usize::try_from(value).map_err(|_| "value too large");
        let nonzero = |v: usize| {
            if v == 0 {
                Err("must be greater than zero")
            } else {
                Ok(v)
            }
        };
        match name {
            "max_params_bytes" => self.max_params_bytes = nonzero(as_usize()?)?,
            "max_params" => self.max_params = nonzero(as_usize()?)?,
            "max_name_len" => self.max_name_len = nonzero(as_usize()?)?,
            "max_value_len" => self.max_value_len = nonzero(as_usize()?)?,
            "idle_timeout_ms" => self.idle_timeout = Duration::from_millis(value.max(1)),
            "max_conns" => self.max_conns = nonzero(as_usize()?)?,
            "linger_timeout_ms" => self.linger_timeout = Duration::from_millis(value),
            _ => return Err("unknown limit"),
        }
        Ok(())
    }

    /// Defaults overridden by `FCGI_RS_<NAME>` variables (and libfcgi's
    /// `LIBFCGI_OS_CLOSE_POLL_TIMEOUT`). Bad values are reported and ignored.
    pub fn from_env() -> Limits {
        let mut limits = Limits::default();
        if let Some(v) = std::env::var_os("LIBFCGI_OS_CLOSE_POLL_TIMEOUT") {
            if let Some(ms) = v.to_str().and_then(|s| s.trim().parse::<u64>().ok()) {
                limits.linger_timeout = Duration::from_millis(ms);
            }
        }
        for name in LIMIT_NAMES {
            let var = format!("FCGI_RS_{}", name.to_ascii_uppercase());
            let Some(raw) = std::env::var_os(&var) else {
                continue;
            };
            let parsed = raw.to_str().and_then(|s| s.trim().parse::<u64>().ok());
            match parsed
                .ok_or("not a number")
                .and_then(|v| limits.set(name, v))
            {
                Ok(()) => {}
                Err(why) => crate::log::warn(format_args!("ignoring {var}={raw:?}: {why}")),
            }
        }
        limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_by_name() {
        let mut l = Limits::default();
        l.set("max_params", 10).unwrap();
        assert_eq!(l.max_params, 10);
        l.set("idle_timeout_ms", 1500).unwrap();
        assert_eq!(l.idle_timeout, Duration::from_millis(1500));
        assert!(l.set("max_params", 0).is_err());
        assert!(l.set("bogus", 1).is_err());
        for n in LIMIT_NAMES {
            assert!(l.set(n, 5).is_ok(), "{n}");
        }
    }
}
