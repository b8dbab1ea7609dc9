//! The library's own log lines: one line each, to stderr, prefixed with `fcgi_rs[pid]`.
//!
//! `FCGI_RS_LOG` = `off`, `error`, `warn` (default) or `info` sets how much is written.
//! Lines are written with a single `write(2)` so concurrent workers do not interleave.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
}

const UNSET: u8 = 255;
static MAX_LEVEL: AtomicU8 = AtomicU8::new(UNSET);

fn max_level() -> u8 {
    let v = MAX_LEVEL.load(Ordering::Relaxed);
    if v != UNSET {
        return v;
    }
    let level = match std::env::var("FCGI_RS_LOG").as_deref() {
        Ok("off") | Ok("0") => 0,
        Ok("error") => Level::Error as u8,
        Ok("info") | Ok("debug") => Level::Info as u8,
        _ => Level::Warn as u8,
    };
    MAX_LEVEL.store(level, Ordering::Relaxed);
    level
}

/// Sets the level programmatically (overrides `FCGI_RS_LOG`); 0 turns logging off.
pub fn set_max_level(level: u8) {
    MAX_LEVEL.store(level, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= max_level()
}

pub fn log(level: Level, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    // A fixed stack buffer: logging must not allocate (it runs on hostile-input paths).
    let mut line = LineBuf {
        buf: [0; 512],
        len: 0,
    };
    let tag = match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
    };
    let _ = write!(line, "fcgi_rs[{}]: {}: {}", std::process::id(), tag, args);
    line.finish();
    let _ = std::io::stderr().lock().write_all(&line.buf[..line.len]);
}

pub fn error(args: fmt::Arguments<'_>) {
    log(Level::Error, args)
}
pub fn warn(args: fmt::Arguments<'_>) {
    log(Level::Warn, args)
}
pub fn info(args: fmt::Arguments<'_>) {
    log(Level::Info, args)
}

struct LineBuf {
    buf: [u8; 512],
    len: usize,
}

impl LineBuf {
    fn finish(&mut self) {
        let end = self.len.min(self.buf.len() - 1);
        self.buf[end] = b'\n';
        self.len = end + 1;
    }
}

impl fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Truncate rather than fail: a long peer-supplied string must not lose the line.
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
