//! The pre-fork process manager: pool configuration, the shared scoreboard, status and ping
//! pages, the master, and the per-worker context the engine reports to.
//!
//! Entry points:
//! - [`enter`]: what the engine calls once, at the first accept. With `FCGI_RS_PM` or
//!   `FCGI_RS_PM_CONFIG` set it becomes the master (never returns there) and returns a
//!   [`Worker`] in each forked worker; with `FCGI_RS_PM_WORKER` set (a program run by the
//!   `fcgi-rs-pm` command) it attaches to the command's scoreboard; otherwise `Ok(None)`.
//! - [`run`]: the master, with an explicit configuration.
//! - the `fcgi-rs-pm` command, which runs any FastCGI program in the workers.

pub mod config;
pub mod hooks;
pub mod listen;
pub mod master;
pub mod notify;
pub mod scoreboard;
pub mod status;
pub mod worker;

pub use config::{Config, ConfigError, PmMode, PoolConfig};
pub use master::{run, Mode};
pub use worker::Worker;

/// Why the process manager could not start.
#[derive(Debug)]
pub enum Error {
    Config(ConfigError),
    Io(std::io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

/// The engine's single entry point, called once per process before the first accept.
///
/// - `FCGI_RS_PM_WORKER` set: this program was started by `fcgi-rs-pm`; attach to its
///   scoreboard and return the worker context.
/// - `FCGI_RS_PM_CONFIG` or `FCGI_RS_PM` set: become the master of a pre-forked pool of this
///   very program. The master never returns (it exits when stopped); each worker returns
///   `Ok(Some(worker))` with the pool's socket on fd 0.
/// - neither: `Ok(None)`, no process manager.
///
/// Call it before starting threads: the master forks.
pub fn enter() -> Result<Option<Worker>, Error> {
    if std::env::var_os(worker::ENV_WORKER).is_some() {
        return Ok(Worker::from_env());
    }
    match Config::from_env().map_err(Error::Config)? {
        None => Ok(None),
        Some(cfg) => run(cfg, Mode::Library).map(Some).map_err(Error::Io),
    }
}
