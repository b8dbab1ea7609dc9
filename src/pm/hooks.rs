//! What the request loops (C ABI and Rust API) call so a process-managed worker reports to
//! its pool: one place, so both loops behave the same.
//!
//! - [`enter_once`]: at library initialisation; in the master of an in-library pool it never
//!   returns, in a worker it records the worker's link to the scoreboard.
//! - [`should_stop`]: before each accept (`max_requests` reached, the master asked).
//! - [`on_request`]: after a request head arrived; answers status and ping pages itself.
//! - [`on_finished`]: after the request ended.

use super::Worker;
use crate::conn::{Connection, OutStream, Transport};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static ENTERED: Once = Once::new();
static WORKER: Mutex<Option<Worker>> = Mutex::new(None);
/// Set once a worker is stored: without a process manager the per-request hooks return
/// without touching the lock.
static IS_WORKER: AtomicBool = AtomicBool::new(false);

fn store(w: Option<Worker>) {
    let some = w.is_some();
    *WORKER.lock() = w;
    IS_WORKER.store(some, Ordering::Release);
}

/// Enters the process manager if the environment asks for one (`FCGI_RS_PM`,
/// `FCGI_RS_PM_CONFIG`, or `FCGI_RS_PM_WORKER` from the `fcgi-rs-pm` command). The fork, if
/// any, happens here: call it before starting threads. A bad configuration is reported and
/// the process exits with status 78 (EX_CONFIG), as the command does.
pub fn enter_once() {
    ENTERED.call_once(|| match super::enter() {
        Ok(w) => store(w),
        Err(e) => {
            crate::log::error(format_args!("process manager: {e}"));
            std::process::exit(78);
        }
    });
}

/// Enters the process manager with an explicit configuration (the Rust API's `Pool`): the
/// master never returns; a worker gets `Ok(true)`. `Ok(false)` when the process manager was
/// already entered (or declined) earlier in this process. Unlike [`enter_once`], a failing
/// master is an error for the caller, not an exit.
pub fn enter_with(config: super::Config) -> Result<bool, super::Error> {
    let mut result = Ok(false);
    let mut config = Some(config);
    ENTERED.call_once(|| {
        let cfg = config.take().expect("called once");
        result = super::run(cfg, super::Mode::Library).map(|w| {
            store(Some(w));
            true
        });
    });
    result.map_err(super::Error::Io)
}

/// Whether this process is a worker of a pool.
pub fn is_worker() -> bool {
    IS_WORKER.load(Ordering::Acquire)
}

/// True when the worker must leave its accept loop.
pub fn should_stop() -> bool {
    is_worker() && WORKER.lock().as_ref().is_some_and(|w| w.should_stop())
}

fn param<'a, T: Transport>(conn: &'a Connection<T>, name: &str) -> &'a str {
    conn.params()
        .get(name.as_bytes())
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or("")
}

/// Records the request on the scoreboard. Returns true when it was a status or ping request,
/// already answered on the connection's stdout: the caller finishes it without showing it to
/// the program.
pub fn on_request<T: Transport>(conn: &mut Connection<T>) -> bool {
    if !is_worker() {
        return false;
    }
    let mut guard = WORKER.lock();
    let Some(w) = guard.as_mut() else {
        return false;
    };
    w.accepted();
    let method = param(conn, "REQUEST_METHOD");
    let uri = param(conn, "REQUEST_URI");
    let content_length = param(conn, "CONTENT_LENGTH").trim().parse().unwrap_or(0);
    w.request_started(
        method,
        uri,
        param(conn, "SCRIPT_FILENAME"),
        param(conn, "REMOTE_USER"),
        content_length,
    );
    let path = match param(conn, "SCRIPT_NAME") {
        "" => uri.split('?').next().unwrap_or(""),
        p => p,
    };
    let Some(page) = w.intercept(method, path, param(conn, "QUERY_STRING")) else {
        return false;
    };
    drop(guard);
    if let Err(e) = conn.write_output(OutStream::Stdout, &page) {
        crate::log::warn(format_args!("status page: {e}"));
    }
    true
}

/// The request has ended.
pub fn on_finished() {
    if !is_worker() {
        return;
    }
    if let Some(w) = WORKER.lock().as_mut() {
        w.request_finished();
    }
}
