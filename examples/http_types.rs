//! The `http` crate's types on top of a FastCGI request (feature `http`): the request head
//! as an `http::Request<()>`, the answer as an `http::Response<Vec<u8>>`.
//!
//! `cargo run --features http --example http_types -- 127.0.0.1:9000`. It answers with the
//! method, URI, version and headers it was given, as JSON-ish text, and 405 for `DELETE`.

#[cfg(feature = "http")]
fn main() -> std::io::Result<()> {
    use fcgi_rs::{Listener, Server};

    let listener = match std::env::args().nth(1) {
        Some(addr) => Listener::bind(&addr)?,
        None => Listener::from_env()?,
    };
    Server::new(listener)?.serve(|req| {
        let head = match req.to_http() {
            Ok(head) => head,
            Err(e) => return req.respond(400, &[], format!("{e}\n").as_bytes()),
        };
        let response = if head.method() == http::Method::DELETE {
            http::Response::builder()
                .status(http::StatusCode::METHOD_NOT_ALLOWED)
                .header(http::header::ALLOW, "GET, POST")
                .body(Vec::new())
        } else {
            let mut text = format!(
                "method={}\nuri={}\nversion={:?}\n",
                head.method(),
                head.uri(),
                head.version()
            );
            for (name, value) in head.headers() {
                text.push_str(&format!(
                    "{name}: {}\n",
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
            http::Response::builder()
                .status(http::StatusCode::OK)
                .header(http::header::CONTENT_TYPE, "text/plain")
                .header("x-served-by", "fcgi_rs")
                .body(text.into_bytes())
        };
        req.send_http(response.map_err(std::io::Error::other)?)
    })
}

#[cfg(not(feature = "http"))]
fn main() {
    eprintln!(
        "this example needs the `http` feature: cargo run --features http --example http_types"
    );
    std::process::exit(2);
}
