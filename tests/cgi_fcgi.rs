//! Debian's `cgi-fcgi -bind -connect` (itself linked with Debian's libfcgi, run unchanged) as
//! the client of the echo example: its environment arrives as params, its stdin as the body,
//! and its exit code is the application's `appStatus`.

#[macro_use]
mod common;

use std::time::Duration;

use common::cgi_fcgi;
use common::paths::Flavor;
use common::procs::{App, ListenKind};

fn run_echo(flavor: Flavor, kind: ListenKind) {
    let app = App::spawn(flavor, "echo", &[], kind);
    let body = common::pseudo_random_bytes(300_000, 42);
    let len = body.len().to_string();
    let env = [
        ("REQUEST_METHOD", "POST"),
        ("QUERY_STRING", "status=7&stderr=from+the+app"),
        ("CONTENT_LENGTH", len.as_str()),
        ("MY_VARIABLE", "hello world"),
        ("EMPTY_ONE", ""),
    ];
    let out = cgi_fcgi::run(app.addr(), &env, &body, Duration::from_secs(20));
    assert!(!out.timed_out, "cgi-fcgi did not finish");
    assert_eq!(
        out.code,
        Some(7),
        "exit code is the app status; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Status: 200 OK\r\n"), "{text}");
    for line in [
        "\nFCGI_ROLE=RESPONDER\n",
        "\nREQUEST_METHOD=POST\n",
        "\nMY_VARIABLE=hello world\n",
        "\nEMPTY_ONE=\n",
        "\nQUERY_STRING=status=7&stderr=from+the+app\n",
    ] {
        assert!(
            text.contains(line),
            "{line:?} missing:\n{}",
            &text[..text.len().min(2000)]
        );
    }
    let marker = format!("stdin: {} bytes\n", body.len()).into_bytes();
    let at = out
        .stdout
        .windows(marker.len())
        .position(|w| w == marker.as_slice())
        .expect("stdin marker");
    assert!(
        out.stdout[at + marker.len()..] == body[..],
        "body not echoed exactly"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "from the app\n");

    // A second run without status= on the same process. appStatus 0 expected from us; libfcgi
    // keeps the previous request's value (reference §5, defect 5), which cgi-fcgi turns into
    // its exit code.
    let out = cgi_fcgi::run(
        app.addr(),
        &[("REQUEST_METHOD", "GET")],
        b"",
        Duration::from_secs(20),
    );
    assert!(!out.timed_out);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("stdin: 0 bytes\n"));
    match flavor {
        Flavor::Ours => assert_eq!(
            out.code,
            Some(0),
            "appStatus must not stick across requests"
        ),
        Flavor::Libfcgi => println!("libfcgi: exit code of the next request: {:?}", out.code),
    }
}

fn unix_socket(flavor: Flavor) {
    run_echo(flavor, ListenKind::Unix)
}

fn tcp_socket(flavor: Flavor) {
    run_echo(flavor, ListenKind::Tcp)
}

both_flavors!(unix_socket, tcp_socket);
