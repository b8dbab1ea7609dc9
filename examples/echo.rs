//! Echoes the request: its params in arrival order, then the body, byte for byte. The body
//! is read through a fixed 16 KiB buffer and never sits whole in memory, whatever its size.
//!
//! nginx stops passing a request body on once the response has started (it drops its copy
//! of the body when the response head arrives), so a program behind nginx must read the
//! body before its first output leaves. The echo therefore spools the body to an unlinked
//! temporary file and sends it back from there: memory stays bounded, and the echo works
//! behind nginx and any other web server.
//!
//! `cargo run --example echo -- 127.0.0.1:9000`, then
//! `curl --data-binary @file http://localhost/echo`. A request the web server aborts, or
//! whose connection breaks mid-body, ends quietly with one line on stderr.

use fcgi_rs::{Listener, Request, RequestError, Server};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh temporary file, already unlinked: it disappears when closed.
fn spool_file() -> io::Result<File> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "fcgi-rs-echo-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

fn echo(req: &mut Request) -> io::Result<()> {
    let mut spool = spool_file()?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        let n = match req.stdin().read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                match RequestError::of(&e) {
                    Some(RequestError::Aborted) => {
                        eprintln!("echo: request aborted after {total} body bytes")
                    }
                    _ => eprintln!("echo: body failed after {total} bytes: {e}"),
                }
                return Ok(());
            }
        };
        spool.write_all(&buf[..n])?;
        total += n as u64;
    }
    let mut head = Vec::new();
    for (name, value) in req.params() {
        head.extend_from_slice(name);
        head.push(b'=');
        head.extend_from_slice(value);
        head.push(b'\n');
    }
    let mut out = req.start_response(200, &[("Content-Type", "text/plain")])?;
    out.write_all(&head)?;
    spool.rewind()?;
    loop {
        let n = spool.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
    }
    writeln!(req.stderr(), "echoed {total} body bytes")?;
    Ok(())
}

fn main() -> io::Result<()> {
    let listener = match std::env::args().nth(1) {
        Some(addr) => Listener::bind(&addr)?,
        None => Listener::from_env()?,
    };
    Server::new(listener)?.serve(echo)
}
