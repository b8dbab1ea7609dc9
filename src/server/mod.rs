//! Listen sockets, the accept engine and signals.

mod addrs;
mod engine;
pub mod listen;

pub use addrs::WebServerAddrs;
pub use engine::{AcceptEngine, AcceptError, FdIo, Served, SocketIo, DRAIN_QUIET};
pub use listen::{open_socket, parse_addr, ListenAddr};

use crate::limits::Limits;
use parking_lot::Mutex;
use std::os::fd::RawFd;
use std::sync::{Arc, Once};

static LIMITS: Mutex<Option<Limits>> = Mutex::new(None);
static ENGINES: Mutex<Vec<Arc<AcceptEngine>>> = Mutex::new(Vec::new());
static SIGNALS: Once = Once::new();

/// Runs `f` on the process-wide limits (initialised from the environment on first use).
pub fn with_limits<R>(f: impl FnOnce(&mut Limits) -> R) -> R {
    let mut guard = LIMITS.lock();
    f(guard.get_or_insert_with(Limits::from_env))
}

/// The engine of a listen socket, created on first use. Every thread accepting on the same
/// descriptor shares it.
pub fn engine_for(listen_fd: RawFd) -> std::io::Result<Arc<AcceptEngine>> {
    SIGNALS.call_once(crate::sys::net::install_signal_handlers);
    let mut engines = ENGINES.lock();
    if let Some(e) = engines.iter().find(|e| e.listen_fd() == listen_fd) {
        return Ok(e.clone());
    }
    let limits = with_limits(|l| *l);
    let engine = Arc::new(AcceptEngine::new(
        listen_fd,
        limits,
        WebServerAddrs::from_env(),
    )?);
    engines.push(engine.clone());
    Ok(engine)
}

/// Asks every accept loop to stop after its current request (async-signal-safe).
pub fn request_shutdown() {
    crate::sys::net::request_shutdown();
}

pub fn shutdown_requested() -> bool {
    crate::sys::net::shutdown_requested()
}
