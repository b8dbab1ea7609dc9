//! Shared harness for the integration tests that drive real peers.
//!
//! Every integration test file that needs it says `mod common;` and picks what it uses:
//!
//! - [`paths`]: the repository root, the `build/` outputs, and which build of the C examples
//!   to run ([`paths::Flavor::Ours`] links our library, [`paths::Flavor::Libfcgi`] links
//!   Debian's libfcgi, the differential baseline).
//! - [`procs`]: temporary directories, listen sockets handed to a child as its fd 0 (the way
//!   spawn-fcgi and web servers pass them), example processes that are killed on drop.
//! - [`client`]: a FastCGI client built on `fcgi_rs::protocol`, with a raw mode for hostile
//!   input. See the example at the top of `client.rs`.
//! - [`nginx`]: a throwaway nginx in a temporary directory in front of an application, and a
//!   small HTTP/1.1 client ([`http`]).
//! - [`cgi_fcgi`]: Debian's `cgi-fcgi -bind -connect` run as a one-shot client.
//! - [`pm`]: requests to `tests/c/pm_output.c` in a pool, the master's log, open fds.
//!
//! Everything here is bounded in time: reads carry deadlines, waits give up, and every child
//! process is killed when its handle is dropped (also while a failing test unwinds).
#![allow(dead_code, unused_macros)]

/// Defines `mod NAME { fn ours(); fn libfcgi(); }` tests that run `fn NAME(flavor)` against
/// both builds of the examples. Use with `#[macro_use] mod common;`.
macro_rules! both_flavors {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn ours() {
                super::$name(crate::common::paths::Flavor::Ours)
            }
            #[test]
            fn libfcgi() {
                super::$name(crate::common::paths::Flavor::Libfcgi)
            }
        }
    )+};
}

pub mod cgi_fcgi;
pub mod client;
pub mod http;
pub mod nginx;
pub mod paths;
pub mod pm;
pub mod procs;
pub mod tools;

use std::time::Duration;

/// Runs `f` until it returns `Some`, at most until `timeout` has passed, sleeping `step`
/// between tries. Returns the last result (`None` on timeout).
pub fn wait_for<T>(
    timeout: Duration,
    step: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(step);
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so failures can be reproduced.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The pattern `large_output` writes: byte `i` is `(i * 7 + 3) % 251`.
pub fn large_output_byte(i: usize) -> u8 {
    ((i as u64 * 7 + 3) % 251) as u8
}

/// Index of the first byte of `got` that differs from the `large_output` pattern, or `None`
/// when `got` is exactly `len` bytes of it.
pub fn check_large_output(got: &[u8], len: usize) -> Result<(), String> {
    if got.len() != len {
        return Err(format!("expected {len} bytes, got {}", got.len()));
    }
    match got
        .iter()
        .enumerate()
        .position(|(i, &b)| b != large_output_byte(i))
    {
        None => Ok(()),
        Some(i) => Err(format!(
            "byte {i} is {:#04x}, expected {:#04x}",
            got[i],
            large_output_byte(i)
        )),
    }
}

/// Percentile (0..=100) of a sorted slice of durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}
