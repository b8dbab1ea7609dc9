//! Pre-forked pools from Rust: the process manager with the configuration the environment
//! form and pool files use.

use crate::pm::config::{Config, ConfigError};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::Listener;

/// A pre-forked pool of this program, run by the process manager (`docs/process-manager.md`).
///
/// [`Pool::enter`] turns the calling process into the pool's master, which forks the workers
/// and supervises them; the master never returns from it. In each worker it returns the
/// pool's [`Listener`], to serve with a [`Server`](crate::Server) as usual. Workers report to
/// the pool's scoreboard, answer its status and ping pages themselves, and leave their accept
/// loop when recycled (`pm.max_requests`) or stopped (SIGTERM, SIGQUIT, SIGUSR2 reload go to
/// the master).
///
/// The directives are php-fpm's pool directives, exactly as in a pool file or in the
/// `FCGI_RS_PM` environment variable; [`Pool::check`] validates them without forking.
///
/// ```no_run
/// use fcgi_rs::{Pool, Server};
///
/// let listener = Pool::fixed(4)
///     .listen("127.0.0.1:9000")
///     .max_requests(500)
///     .status_path("/status")
///     .enter()?; // the master stays in here; each worker goes on
/// Server::new(listener)?.serve(|req| req.respond(200, &[], b"pooled\n"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `Pool::enter` must run before the program starts any thread (it forks) and before a
/// [`Server`](crate::Server) or [`Listener::from_env`] is created.
#[derive(Debug, Clone)]
pub struct Pool {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// The environment form: `MODE:ARGS` then `directive=value` pairs.
    Short {
        head: String,
        directives: Vec<(String, String)>,
    },
    /// A pool file.
    File(PathBuf),
}

/// Why a [`Pool`] could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError {
    /// The configuration is invalid; the message names the directive (and file line).
    Config(String),
    /// The process manager was already entered in this process (by an earlier
    /// [`Pool::enter`] or [`Listener::from_env`]) without making it a worker of a pool.
    AlreadyEntered,
    /// The worker could not use the pool's socket.
    Io(io::Error),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Config(m) => write!(f, "pool configuration: {m}"),
            PoolError::AlreadyEntered => f.write_str(
                "the process manager was already entered in this process; \
                 call Pool::enter before Listener::from_env and before starting threads",
            ),
            PoolError::Io(e) => write!(f, "pool socket: {e}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ConfigError> for PoolError {
    fn from(e: ConfigError) -> PoolError {
        PoolError::Config(e.0)
    }
}

impl From<PoolError> for io::Error {
    /// Lets `?` turn a pool error into an [`io::Error`] (kind `InvalidInput` for
    /// configuration errors).
    fn from(e: PoolError) -> io::Error {
        match e {
            PoolError::Io(e) => e,
            PoolError::Config(_) => io::Error::new(io::ErrorKind::InvalidInput, e),
            PoolError::AlreadyEntered => io::Error::other(e),
        }
    }
}

impl Pool {
    fn short(head: String) -> Pool {
        Pool {
            source: Source::Short {
                head,
                directives: Vec::new(),
            },
        }
    }

    /// A pool of exactly `workers` processes (`pm = static`).
    pub fn fixed(workers: u32) -> Pool {
        Pool::short(format!("static:{workers}"))
    }

    /// A pool between `min_spare` idle and `max_children` processes (`pm = dynamic`; the
    /// other settings take php-fpm's defaults unless set with [`Pool::directive`]).
    pub fn dynamic(min_spare: u32, max_children: u32) -> Pool {
        Pool::short(format!("dynamic:{min_spare}:{max_children}"))
    }

    /// Up to `max_children` processes, forked when connections arrive (`pm = ondemand`).
    pub fn ondemand(max_children: u32) -> Pool {
        Pool::short(format!("ondemand:{max_children}"))
    }

    /// The pool described by a php-fpm style pool file (its first pool runs this program;
    /// every pool in the file does, each with its own socket). The file's `daemonize` is
    /// ignored: the program stays in the foreground.
    pub fn from_file(path: impl AsRef<Path>) -> Pool {
        Pool {
            source: Source::File(path.as_ref().to_path_buf()),
        }
    }

    /// Sets any pool directive (`pm.max_requests`, `request_terminate_timeout`,
    /// `env[NAME]`, ...). Ignored for [`Pool::from_file`], whose file says everything.
    pub fn directive(mut self, name: &str, value: &str) -> Pool {
        if let Source::Short { directives, .. } = &mut self.source {
            directives.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Where the master listens (`listen`): `host:port`, `[v6]:port`, `port` or a unix socket
    /// path. Without it the pool uses the socket this program inherited: systemd's, or fd 0.
    pub fn listen(self, addr: &str) -> Pool {
        self.directive("listen", addr)
    }

    /// Recycles each worker after about `n` requests (`pm.max_requests`; 0: never).
    pub fn max_requests(self, n: u64) -> Pool {
        self.directive("pm.max_requests", &n.to_string())
    }

    /// Answers php-fpm's status page at `path` (`pm.status_path`), in the worker, before
    /// the request reaches the handler.
    pub fn status_path(self, path: &str) -> Pool {
        self.directive("pm.status_path", path)
    }

    /// Answers `pong` at `path` (`ping.path`).
    pub fn ping_path(self, path: &str) -> Pool {
        self.directive("ping.path", path)
    }

    /// The configuration in the environment form, `MODE:ARGS,directive=value,...`.
    fn short_form(&self) -> Result<Option<String>, PoolError> {
        let Source::Short { head, directives } = &self.source else {
            return Ok(None);
        };
        let mut s = head.clone();
        for (k, v) in directives {
            if k.is_empty() || k.contains([',', '=']) || v.contains(',') {
                return Err(PoolError::Config(format!(
                    "'{k} = {v}': use a pool file for names with ',' or '=' and values with ','"
                )));
            }
            s.push(',');
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        }
        Ok(Some(s))
    }

    /// Validates the configuration without forking anything.
    ///
    /// ```
    /// assert!(fcgi_rs::Pool::fixed(2).status_path("/status").check().is_ok());
    /// assert!(fcgi_rs::Pool::fixed(2).directive("pm.bogus", "1").check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), PoolError> {
        self.config().map(drop)
    }

    fn config(&self) -> Result<Config, PoolError> {
        Ok(match (&self.source, self.short_form()?) {
            (_, Some(short)) => Config::from_short(&short)?,
            (Source::File(path), None) => Config::from_file(path)?,
            (Source::Short { .. }, None) => unreachable!("a short form always renders"),
        })
    }

    /// Starts the pool. In the master this never returns: it supervises the workers and
    /// exits when stopped (SIGTERM/SIGINT fast, SIGQUIT graceful). In each worker it returns
    /// the pool's listen socket. A program started by the `fcgi-rs-pm` command is already a
    /// worker: this returns its socket and the configuration here is not used.
    ///
    /// Errors: an invalid configuration ([`PoolError::Config`], found before anything
    /// forks), an earlier entry into the process manager ([`PoolError::AlreadyEntered`]),
    /// or a master that could not start ([`PoolError::Io`], e.g. the listen address is in
    /// use).
    pub fn enter(self) -> Result<Listener, PoolError> {
        if std::env::var_os(crate::pm::worker::ENV_WORKER).is_some() {
            // Started by the `fcgi-rs-pm` command: already a worker of its pool.
            crate::pm::hooks::enter_once();
        } else {
            let config = self.config()?;
            match crate::pm::hooks::enter_with(config) {
                Ok(true) => {}
                Ok(false) => return Err(PoolError::AlreadyEntered),
                Err(e) => return Err(PoolError::Io(std::io::Error::other(e))),
            }
        }
        Listener::from_stdin().map_err(PoolError::Io)
    }
}
