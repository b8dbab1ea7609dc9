//! fcgi_rs: the FastCGI application library, rebuilt.
//!
//! Layers, each depending only on the ones above it in this list:
//! - [`protocol`]: the wire format (records, name-value pairs); bytes in, bytes out, no I/O.
//! - [`conn`]: one connection to a web server, one request at a time on it.
//! - [`server`]: listen sockets, the event-driven accept engine, signals.
//! - the Rust API ([`Server`], [`Listener`], [`Request`]): the same engine, safe.
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

pub use api::{shutdown, AcceptOutcome, Listener, Request, Server, Stderr, Stdin, Stdout};
pub use limits::Limits;
pub use protocol::Role;
