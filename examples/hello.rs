//! The smallest FastCGI responder: `Hello, world!` for every request.
//!
//! Run it behind a web server with the listen socket on fd 0 (spawn-fcgi, the process
//! manager, systemd), or give it an address: `cargo run --example hello -- 127.0.0.1:9000`,
//! then in nginx: `location / { include fastcgi_params; fastcgi_pass 127.0.0.1:9000; }`.

use fcgi_rs::{Listener, Server};

fn main() -> std::io::Result<()> {
    let listener = match std::env::args().nth(1) {
        Some(addr) => Listener::bind(&addr)?,
        None => Listener::from_env()?,
    };
    Server::new(listener)?
        .serve(|req| req.respond(200, &[("Content-Type", "text/plain")], b"Hello, world!\n"))
}
