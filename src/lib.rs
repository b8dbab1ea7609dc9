//! fcgi_rs: the FastCGI application library (libfcgi) rebuilt in Rust.
//!
//! **Rust programs** use the safe API: a [`Server`] accepts on a [`Listener`] (fd 0 as web
//! servers and spawn-fcgi pass it, systemd socket activation, or an address it binds) with
//! any number of threads; each [`Request`] streams its body ([`Request::stdin`]) and its
//! response ([`Request::stdout`]); a [`Pool`] pre-forks workers under the process manager.
//! The `http` feature converts to and from the `http` crate's types. See `docs/rust.md`.
//!
//! ```no_run
//! use fcgi_rs::{Listener, Server};
//! Server::new(Listener::from_env()?)?
//!     .serve(|req| req.respond(200, &[("Content-Type", "text/plain")], b"Hello, world!\n"))?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! **C and C++ programs** get the libfcgi-compatible ABI from the same engine (feature
//! `capi`, built into `libfcgi_rs.so` and a drop-in `libfcgi.so.0` by the Makefile).
//!
//! Layers, each depending only on the ones above it in this list:
//! - [`protocol`]: the wire format (records, name-value pairs); bytes in, bytes out, no I/O.
//! - [`conn`]: one connection to a web server, one request at a time on it.
//! - [`server`]: listen sockets, the event-driven accept engine, signals.
//! - [`pm`]: the pre-fork process manager.
//! - the Rust API ([`Server`], [`Listener`], [`Request`], [`Pool`]): the same engine, safe.
//! - `capi` (feature `capi`): the libfcgi-compatible C ABI, the only place with raw pointers.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

pub mod limits;
pub mod log;
pub mod protocol;

pub mod conn;
pub mod pm;
pub mod server;
pub(crate) mod sys;

#[cfg(feature = "capi")]
pub mod capi;

mod api;

#[cfg(feature = "http")]
pub use api::HttpError;
pub use api::{
    shutdown, AcceptOutcome, Listener, Pool, PoolError, Request, RequestError, Server, Stderr,
    Stdin, Stdout,
};
pub use limits::Limits;
pub use protocol::Role;
