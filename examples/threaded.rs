//! A responder served by several threads on one listen socket (`THREADS`, default 4). Any
//! number of threads accept at once; an idle kept-alive connection never blocks the others.
//!
//! Each response names the thread that served it. A query string `sleep=MS` makes the
//! handler wait that long first (at most 10 s), to watch requests overlap:
//! `THREADS=4 cargo run --example threaded -- 127.0.0.1:9000`.

use fcgi_rs::{Listener, Server};
use std::io::Write;
use std::time::Duration;

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
        let sleep_ms = req
            .param("QUERY_STRING")
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("sleep=")))
            .and_then(|ms| ms.parse::<u64>().ok())
            .unwrap_or(0)
            .min(10_000);
        std::thread::sleep(Duration::from_millis(sleep_ms));
        let me = format!("{:?}", std::thread::current().id());
        req.start_response(200, &[("Content-Type", "text/plain")])?
            .write_all(format!("served by {me}\n").as_bytes())
    })
}
