//! The C examples behind a real nginx (`fastcgi_pass`), over unix and TCP sockets, with and
//! without `fastcgi_keep_conn` + an upstream keepalive pool. Both builds of the examples run
//! the same checks (see `common::paths::Flavor`).

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::http::{self, HttpConn};
use common::nginx::{Nginx, NginxOpts};
use common::paths::Flavor;
use common::procs::{App, ListenKind};

fn nginx_for(app: &App, keep: bool) -> Nginx {
    let mut o = NginxOpts::new(app.addr().clone());
    if keep {
        o = o.keep_conn(8);
    }
    Nginx::start(&o)
}

/// The lines of the echo example's `params:` section.
fn param_lines(body: &str) -> Vec<&str> {
    let start = body.find("params:\n").map(|i| i + 8).unwrap_or(0);
    let end = body.find("lookups:\n").unwrap_or(body.len());
    body[start..end].lines().collect()
}

fn echo_through_nginx(flavor: Flavor, kind: ListenKind, keep: bool) {
    let app = App::spawn(flavor, "echo", &[], kind);
    let ng = nginx_for(&app, keep);
    let port = ng.port();

    // GET with a query string: the params reach the program.
    let r = http::fetch(port, "GET", "/some/script?alpha=1&beta=two", b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    let body = r.body_str();
    let params = param_lines(&body);
    assert_eq!(
        params.first().copied(),
        Some("FCGI_ROLE=RESPONDER"),
        "{body}"
    );
    for want in [
        "QUERY_STRING=alpha=1&beta=two",
        "REQUEST_METHOD=GET",
        "SCRIPT_NAME=/some/script",
        "REQUEST_URI=/some/script?alpha=1&beta=two",
        "SERVER_PROTOCOL=HTTP/1.1",
        "REMOTE_ADDR=127.0.0.1",
    ] {
        assert!(params.contains(&want), "{want} missing in {params:?}");
    }
    assert!(body.contains("REQUEST_METHOD -> [GET]\n"), "{body}");
    assert!(body.ends_with("stdin: 0 bytes\n"), "{body}");

    // POST of 1 MiB of random bytes comes back byte for byte.
    let payload = common::pseudo_random_bytes(1 << 20, 0x5eed);
    let r = http::fetch(port, "POST", "/upload", &payload).unwrap();
    assert_eq!(r.status, 200);
    let marker = format!("stdin: {} bytes\n", payload.len()).into_bytes();
    let at = r
        .body
        .windows(marker.len())
        .position(|w| w == marker.as_slice())
        .expect("stdin marker");
    assert!(
        r.body[at + marker.len()..] == payload[..],
        "1 MiB body not echoed exactly"
    );

    // 200 sequential requests on one kept-alive HTTP connection (and, with keep_conn, on
    // kept-alive upstream connections).
    let mut c = HttpConn::connect(port).unwrap();
    for i in 0..200 {
        let body = format!("body-{i}");
        let r = c
            .request("POST", &format!("/seq?i={i}"), &[], body.as_bytes())
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.status, 200, "request {i}");
        let text = r.body_str();
        assert!(
            text.contains(&format!("QUERY_STRING -> [i={i}]\n")),
            "request {i}: {text}"
        );
        assert!(
            text.ends_with(&format!("stdin: {} bytes\n{body}", body.len())),
            "request {i}: {text}"
        );
        assert!(
            !c.is_closed(),
            "nginx closed the client connection at request {i}"
        );
    }

    // status= does not disturb the HTTP answer; stderr= lands in nginx's error log.
    let tag = format!("stderr-marker-{}-{}", flavor.label(), std::process::id());
    let r = http::fetch(port, "GET", &format!("/opts?status=3&stderr={tag}"), b"").unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body_str().contains("QUERY_STRING -> [status=3&stderr="));
    let seen = common::wait_for(Duration::from_secs(3), Duration::from_millis(20), || {
        ng.error_log().contains(&tag).then_some(())
    });
    assert!(
        seen.is_some(),
        "stderr text not in nginx's error log:\n{}",
        ng.error_log()
    );
    assert!(ng.error_log().contains("FastCGI sent in stderr"));
}

fn echo_unix_keep(f: Flavor) {
    echo_through_nginx(f, ListenKind::Unix, true)
}
fn echo_unix_close(f: Flavor) {
    echo_through_nginx(f, ListenKind::Unix, false)
}
fn echo_tcp_keep(f: Flavor) {
    echo_through_nginx(f, ListenKind::Tcp, true)
}
fn echo_tcp_close(f: Flavor) {
    echo_through_nginx(f, ListenKind::Tcp, false)
}

fn large_output(flavor: Flavor) {
    let app = App::spawn(flavor, "large_output", &[], ListenKind::Unix);
    let ng = nginx_for(&app, true);
    let size = 32usize << 20;
    let mut c = HttpConn::connect(ng.port()).unwrap();
    let r = c
        .request("GET", &format!("/big?size={size}"), &[], b"")
        .unwrap();
    assert_eq!(r.status, 200);
    common::check_large_output(&r.body, size).unwrap_or_else(|e| {
        panic!(
            "{e}; headers {:?}; nginx log:\n{}",
            r.headers,
            ng.error_log()
        )
    });
    // Odd sizes around record and buffer boundaries, on the same connections.
    for size in [0usize, 1, 8183, 8184, 8185, 65535, 65536, 65537, 300_001] {
        let r = c
            .request("GET", &format!("/big?size={size}"), &[], b"")
            .unwrap();
        assert_eq!(r.status, 200);
        common::check_large_output(&r.body, size).unwrap_or_else(|e| panic!("size {size}: {e}"));
    }
}

fn threaded_concurrency(flavor: Flavor) {
    threaded_under_load(flavor, &["-t", "4"]);
}

/// The same with the application's own accept mutex (`-m`), as older programs do.
fn threaded_with_app_mutex(flavor: Flavor) {
    threaded_under_load(flavor, &["-t", "4", "-m"]);
}

fn threaded_under_load(flavor: Flavor, args: &[&str]) {
    let app = App::spawn(flavor, "threaded", args, ListenKind::Tcp);
    let ng = nginx_for(&app, false);
    let port = ng.port();
    let start = Instant::now();
    let handles: Vec<_> = (0..32)
        .map(|i| {
            std::thread::spawn(move || {
                http::fetch(
                    port,
                    "POST",
                    &format!("/t?sleep_ms=50&n={i}"),
                    format!("{i}").as_bytes(),
                )
            })
        })
        .collect();
    let mut threads_seen = std::collections::BTreeSet::new();
    for (i, h) in handles.into_iter().enumerate() {
        let r = h
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.status, 200, "request {i}");
        let text = r.body_str();
        assert!(
            text.contains(&format!("query [sleep_ms=50&n={i}]")),
            "{text}"
        );
        assert!(
            text.contains(&format!("stdin {}\n", i.to_string().len())),
            "{text}"
        );
        threads_seen.insert(r.header("X-Thread").unwrap_or("?").to_string());
    }
    println!(
        "{}: 32 concurrent requests in {:?}, served by threads {:?}",
        flavor.label(),
        start.elapsed(),
        threads_seen
    );
    assert!(
        threads_seen.len() >= 2,
        "only {threads_seen:?} served 32 concurrent requests"
    );
}

both_flavors!(
    echo_unix_keep,
    echo_unix_close,
    echo_tcp_keep,
    echo_tcp_close,
    large_output,
    threaded_concurrency,
    threaded_with_app_mutex,
);
