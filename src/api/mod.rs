//! The Rust API: the engine the C library uses, without `unsafe` and without C symbols.
//!
//! ```no_run
//! use std::io::Write;
//! use fcgi_rs::{Listener, Server};
//!
//! let server = Server::new(Listener::from_env()?)?;
//! server.serve(|req| {
//!     let name = req.param("QUERY_STRING").unwrap_or("world").to_owned();
//!     req.respond(200, &[("Content-Type", "text/plain")], format!("Hello, {name}!\n").as_bytes())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

#[cfg(feature = "http")]
mod http;
mod listener;
mod pool;
mod request;

#[cfg(feature = "http")]
pub use self::http::HttpError;
pub use listener::Listener;
pub use pool::{Pool, PoolError};
pub use request::{Request, RequestError, Stderr, Stdin, Stdout};

use crate::server::{AcceptEngine, AcceptError};
use std::io;
use std::sync::Arc;

/// Accepts requests on one [`Listener`] with any number of threads.
///
/// Every thread waits on the listen socket and on every idle kept-alive connection at once,
/// so one slow or idle web-server connection never holds up the others. Kept-alive
/// connections (nginx `fastcgi_keep_conn on`) are reused; TCP connections have
/// `TCP_NODELAY` set, and a response that fits the buffer leaves in one write.
///
/// ```no_run
/// use fcgi_rs::{Listener, Server};
///
/// Server::new(Listener::bind("127.0.0.1:9000")?)?
///     .threads(8)
///     .serve(|req| req.respond(200, &[("Content-Type", "text/plain")], b"hi\n"))?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Server {
    listener: Listener,
    engine: Arc<AcceptEngine>,
    threads: usize,
}

/// Why [`Server::accept`] returned without a request.
#[derive(Debug)]
pub enum AcceptOutcome {
    /// SIGTERM/SIGUSR1 or [`shutdown`] asked the server to stop.
    Shutdown,
    /// The listen socket failed.
    Failed(io::Error),
}

impl Server {
    /// A server over `listener`, with one thread (see [`Server::threads`]). Installs the
    /// signal behaviour of the C library: SIGTERM and SIGUSR1 stop accepting after the
    /// requests in progress, SIGPIPE is harmless.
    pub fn new(listener: Listener) -> io::Result<Server> {
        let engine = crate::server::engine_for(listener.raw_fd())?;
        Ok(Server {
            listener,
            engine,
            threads: 1,
        })
    }

    /// Serves with `n` threads in [`Server::serve`]. `0` means one per CPU.
    pub fn threads(mut self, n: usize) -> Server {
        self.threads = if n == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            n
        };
        self
    }

    /// The listener this server accepts on.
    pub fn listener(&self) -> &Listener {
        &self.listener
    }

    /// Waits for the next request (for programs that run their own loop). In a worker of a
    /// process-managed pool, status and ping requests are answered here and never returned.
    /// Any number of threads may call it at once.
    ///
    /// ```no_run
    /// use fcgi_rs::{AcceptOutcome, Listener, Server};
    ///
    /// let server = Server::new(Listener::from_env()?)?;
    /// loop {
    ///     let mut req = match server.accept() {
    ///         Ok(req) => req,
    ///         Err(AcceptOutcome::Shutdown) => break,
    ///         Err(AcceptOutcome::Failed(e)) => return Err(e),
    ///     };
    ///     req.respond(200, &[], b"ok\n")?;
    ///     req.finish()?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> Result<Request, AcceptOutcome> {
        loop {
            if crate::pm::hooks::should_stop() {
                self.engine.begin_drain();
            }
            let mut served = match self.engine.accept(false) {
                Ok(served) => served,
                Err(AcceptError::Shutdown) | Err(AcceptError::Interrupted) => {
                    return Err(AcceptOutcome::Shutdown)
                }
                Err(AcceptError::Os(e)) => {
                    return Err(AcceptOutcome::Failed(io::Error::from_raw_os_error(e)))
                }
            };
            if !crate::pm::hooks::on_request(&mut served.conn) {
                return Ok(Request::new(served, self.engine.clone()));
            }
            let fate = served.conn.finish(0);
            self.engine.release(served, fate);
            crate::pm::hooks::on_finished();
        }
    }

    /// Calls `handler` for every request until shutdown is requested, on the configured
    /// number of threads. A handler error is logged and ends that request (the response so
    /// far is sent); it does not stop the server. Returns when every thread has stopped.
    pub fn serve<F>(&self, handler: F) -> io::Result<()>
    where
        F: Fn(&mut Request) -> io::Result<()> + Sync,
    {
        // Every thread is counted before any accepts, so FCGI_MAX_REQS is right from the
        // first request on.
        for _ in 0..self.threads {
            self.engine.register_worker();
        }
        let result = std::thread::scope(|scope| {
            let workers: Vec<_> = (1..self.threads)
                .map(|_| scope.spawn(|| self.serve_loop(&handler)))
                .collect();
            let mut result = self.serve_loop(&handler);
            for w in workers {
                let r = w
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("a handler panicked")));
                result = result.and(r);
            }
            result
        });
        for _ in 0..self.threads {
            self.engine.unregister_worker();
        }
        result
    }

    fn serve_loop<F>(&self, handler: &F) -> io::Result<()>
    where
        F: Fn(&mut Request) -> io::Result<()> + Sync,
    {
        loop {
            let mut req = match self.accept() {
                Ok(r) => r,
                Err(AcceptOutcome::Shutdown) => return Ok(()),
                Err(AcceptOutcome::Failed(e)) => return Err(e),
            };
            if let Err(e) = handler(&mut req) {
                crate::log::warn(format_args!("request handler failed: {e}"));
            }
        }
    }
}

/// Asks every server in this process to stop accepting (what SIGTERM does): requests in
/// progress finish, then [`Server::serve`] returns and [`Server::accept`] gives
/// [`AcceptOutcome::Shutdown`]. Safe to call from any thread, e.g. a handler.
pub fn shutdown() {
    crate::server::request_shutdown();
}
