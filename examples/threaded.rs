//! A responder served by several threads on one listen socket. Any number of threads may
//! accept at once; an idle kept-alive connection never blocks the others.

use fcgi_rs::{Listener, Server};
use std::io::Write;

fn main() -> std::io::Result<()> {
    let threads: usize = std::env::var("THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(4);
    let listener = match std::env::args().nth(1) {
        Some(addr) => Listener::bind(&addr)?,
        None => Listener::from_env()?,
    };
    Server::new(listener)?.threads(threads).serve(|req| {
        let me = format!("{:?}", std::thread::current().id());
        req.start_response(200, &[("Content-Type", "text/plain")])?
            .write_all(format!("served by {me}\n").as_bytes())
    })
}
