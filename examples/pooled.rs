//! A pre-forked pool of this program, run by the process manager: a master that keeps
//! `WORKERS` processes (default 2) serving, recycles each after about 1000 requests, and
//! answers php-fpm's status page at `/status` and `pong` at `/ping` (in the workers, before
//! the handler sees the request).
//!
//! `cargo run --example pooled -- 127.0.0.1:9000` listens there; without an address the
//! pool uses the socket on fd 0 (spawn-fcgi, a web server) or systemd's. SIGQUIT stops the
//! pool gracefully, SIGTERM at once, SIGUSR2 reloads it. The same pool from the environment,
//! with any program linking fcgi_rs: `FCGI_RS_PM=static:2,pm.status_path=/status`.

use fcgi_rs::{Pool, Server};
use std::io::Write;

fn main() -> std::io::Result<()> {
    let workers: u32 = std::env::var("WORKERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    let mut pool = Pool::fixed(workers)
        .max_requests(1000)
        .status_path("/status")
        .ping_path("/ping");
    if let Some(addr) = std::env::args().nth(1) {
        pool = pool.listen(&addr);
    }
    // The master stays in `enter` for good; each worker goes on with the pool's socket.
    let listener = pool.enter()?;
    Server::new(listener)?.serve(|req| {
        req.start_response(200, &[("Content-Type", "text/plain")])?
            .write_all(format!("served by worker {}\n", std::process::id()).as_bytes())
    })
}
