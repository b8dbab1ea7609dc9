//! Echoes the request: its params in arrival order, then the body, streamed back as it
//! arrives (never held whole in memory).

use fcgi_rs::{Listener, Server};
use std::io::{self, Write};

fn main() -> io::Result<()> {
    let listener = match std::env::args().nth(1) {
        Some(addr) => Listener::bind(&addr)?,
        None => Listener::from_env()?,
    };
    Server::new(listener)?.serve(|req| {
        let mut head = Vec::new();
        for (name, value) in req.params() {
            head.extend_from_slice(name);
            head.push(b'=');
            head.extend_from_slice(value);
            head.push(b'\n');
        }
        req.start_response(200, &[("Content-Type", "text/plain")])?
            .write_all(&head)?;
        // Copy the body through a fixed buffer: memory stays bounded whatever its size.
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0usize;
        loop {
            let n = io::Read::read(&mut req.stdin(), &mut buf)?;
            if n == 0 {
                break;
            }
            total += n;
            req.stdout().write_all(&buf[..n])?;
        }
        writeln!(req.stderr(), "echoed {total} body bytes")?;
        Ok(())
    })
}
