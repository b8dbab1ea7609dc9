//! The accept engine and library-wide behaviour seen from outside: signals, honest
//! GET_VALUES, limits, idle timeouts, many threads.

mod common;

use common::client::{begin, encode_pairs, record, stream, Conn, Request};
use common::paths::Flavor;
use common::procs::{App, ListenKind, SpawnOpts};
use std::time::{Duration, Instant};

const STDIN: u8 = 5;
const STDOUT: u8 = 6;
const PARAMS: u8 = 4;

fn spawn_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> App {
    let opts = SpawnOpts {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        self_bound: false,
    };
    App::spawn_with(Flavor::Ours, name, ListenKind::Unix, &opts)
}

fn ok_request(app: &App) -> bool {
    let Ok(mut c) = Conn::connect(app.addr()) else {
        return false;
    };
    c.request(&Request::http("GET", "/ok?x=1"))
        .map(|r| r.app_status == 0 && !r.stdout.is_empty())
        .unwrap_or(false)
}

#[test]
fn sigterm_while_idle_stops_gracefully() {
    let mut app = App::spawn(Flavor::Ours, "echo", &[], ListenKind::Unix);
    assert!(ok_request(&app));
    app.signal("TERM");
    let status = app
        .wait_exit(Duration::from_secs(3))
        .expect("echo exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "graceful exit, as libfcgi");
}

#[test]
fn sigterm_wakes_every_accepting_thread() {
    let mut app = App::spawn(Flavor::Ours, "threaded", &["-t", "6"], ListenKind::Unix);
    assert!(ok_request(&app));
    std::thread::sleep(Duration::from_millis(200));
    app.signal("USR1");
    let status = app
        .wait_exit(Duration::from_secs(3))
        .expect("all threads leave their accept loop");
    assert_eq!(status.code(), Some(0));
}

/// libfcgi installs its handlers without SA_RESTART and never retries EINTR, so a SIGUSR1
/// during a body read loses the body. Here the request completes, then the program stops.
#[test]
fn signal_during_a_body_read_loses_nothing() {
    let mut app = App::spawn(Flavor::Ours, "echo", &[], ListenKind::Unix);
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let params = encode_pairs(&[
        ("REQUEST_METHOD", "POST"),
        ("QUERY_STRING", ""),
        ("CONTENT_LENGTH", &body.len().to_string()),
    ]);
    let mut c = Conn::connect(app.addr()).unwrap();
    let mut first = begin(1, 1, false).to_vec();
    first.extend(stream(PARAMS, 1, &params, 65535));
    first.extend(record(STDIN, 1, &body[..1000]));
    c.write_raw(&first).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    app.signal("USR1");
    std::thread::sleep(Duration::from_millis(200));
    c.write_raw_background(stream(STDIN, 1, &body[1000..], 32768))
        .unwrap();
    let got = c.read_raw(Duration::from_secs(5));
    let stdout: Vec<u8> = got
        .records()
        .iter()
        .filter(|r| r.record_type() == STDOUT)
        .flat_map(|r| r.content.clone())
        .collect();
    assert!(
        stdout.ends_with(&body),
        "the whole body came back ({} bytes of output)",
        stdout.len()
    );
    let status = app
        .wait_exit(Duration::from_secs(3))
        .expect("stops after the request");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn get_values_reports_the_real_configuration() {
    let app = App::spawn(Flavor::Ours, "threaded", &["-t", "4"], ListenKind::Unix);
    assert!(ok_request(&app));
    // Every thread registers on its first accept; give them a moment to get there.
    let values = common::wait_for(Duration::from_secs(3), Duration::from_millis(50), || {
        let mut c = Conn::connect(app.addr()).ok()?;
        let v = c
            .get_values(&[
                "FCGI_MAX_CONNS",
                "FCGI_MAX_REQS",
                "FCGI_MPXS_CONNS",
                "FCGI_MPXS_CONNS",
            ])
            .ok()?;
        v.iter()
            .any(|(k, v)| k == "FCGI_MAX_REQS" && v == "4")
            .then_some(v)
    })
    .expect("FCGI_MAX_REQS=4 for four threads");
    let get = |k: &str| values.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("FCGI_MPXS_CONNS"), Some("0"));
    assert_eq!(get("FCGI_MAX_CONNS"), Some("1024"));
    assert_eq!(values.len(), 3, "each name answered once: {values:?}");
}

#[test]
fn limits_from_the_environment() {
    let app = spawn_env(
        "echo",
        &[],
        &[
            ("FCGI_RS_MAX_PARAMS", "40"),
            ("FCGI_RS_MAX_VALUE_LEN", "100"),
        ],
    );
    assert!(ok_request(&app));
    let mut many = Request::http("GET", "/many");
    for i in 0..60 {
        many = many.param(format!("P{i}"), "v");
    }
    let mut c = Conn::connect(app.addr()).unwrap();
    assert!(
        c.request(&many).is_err(),
        "too many params: connection closed"
    );
    let mut c = Conn::connect(app.addr()).unwrap();
    assert!(c
        .request(&Request::http("GET", "/long").param("LONG", "x".repeat(101)))
        .is_err());
    assert!(ok_request(&app), "other requests still served");
    let log = app.stderr_text();
    assert!(log.contains("max_params"), "log names the limit: {log}");
    assert!(log.contains("max_value_len"), "log names the limit: {log}");
}

#[test]
fn limits_from_the_c_api() {
    let dir = common::procs::TempDir::new("limits");
    let exe = common::tools::compile_c(
        dir.path(),
        "limited",
        r#"#include <fcgiapp.h>
#include <fcgi_rs.h>
int main(void) {
    FCGX_Request r;
    if (fcgi_rs_set_limit("max_params", 6) != 0 || fcgi_rs_set_limit("no_such_limit", 1) != -1) return 2;
    FCGX_Init();
    FCGX_InitRequest(&r, 0, 0);
    while (FCGX_Accept_r(&r) >= 0) FCGX_PutS("Content-Type: text/plain\r\n\r\nok\n", r.out);
    return 0;
}
"#,
    );
    let app = App::spawn_program(&exe, ListenKind::Unix, &SpawnOpts::default());
    let mut c = Conn::connect(app.addr()).unwrap();
    assert!(c.request(&Request::new().param("A", "1")).is_ok());
    let mut c = Conn::connect(app.addr()).unwrap();
    let mut many = Request::new();
    for i in 0..10 {
        many = many.param(format!("P{i}"), "v");
    }
    assert!(c.request(&many).is_err());
}

#[test]
fn idle_connections_are_closed_and_never_block_others() {
    let app = spawn_env("echo", &[], &[("FCGI_RS_IDLE_TIMEOUT_MS", "400")]);
    let mut idle: Vec<Conn> = (0..20)
        .map(|_| Conn::connect(app.addr()).unwrap())
        .collect();
    let t = Instant::now();
    assert!(ok_request(&app), "served while 20 connections sit idle");
    assert!(t.elapsed() < Duration::from_millis(300));
    for c in &mut idle {
        assert!(
            c.wait_closed(Duration::from_secs(3)),
            "idle connection closed by the timeout"
        );
    }
    assert!(ok_request(&app));
}

#[test]
fn web_server_addrs_filter_ipv4_and_ipv6() {
    for (kind, allowed, refused) in [
        (ListenKind::Tcp, "127.0.0.1", "10.9.9.9"),
        (ListenKind::Tcp6, "::1", "::2"),
    ] {
        let ok = App::spawn_with(
            Flavor::Ours,
            "echo",
            kind,
            &SpawnOpts {
                env: vec![(
                    "FCGI_WEB_SERVER_ADDRS".into(),
                    format!(" 10.1.2.3, {allowed}"),
                )],
                ..Default::default()
            },
        );
        assert!(ok_request(&ok), "{allowed} is allowed");
        let no = App::spawn_with(
            Flavor::Ours,
            "echo",
            kind,
            &SpawnOpts {
                env: vec![("FCGI_WEB_SERVER_ADDRS".into(), refused.into())],
                ..Default::default()
            },
        );
        let mut c = Conn::connect(no.addr()).unwrap();
        assert!(
            c.request(&Request::http("GET", "/")).is_err(),
            "peer not in the list is refused"
        );
        assert!(no.stderr_text().contains("FCGI_WEB_SERVER_ADDRS"));
    }
}

/// libfcgi closes every connection with a lingering close (shutdown, then up to 2 s waiting
/// for the peer), so a web server that keeps its end open stalls a single-threaded program
/// for 2 s per request. Here the connection closes at once when the request's input is
/// complete, and the next client is served at once.
#[test]
fn no_lingering_close_when_the_input_is_complete() {
    for flavor in [Flavor::Ours, Flavor::Libfcgi] {
        let app = App::spawn(flavor, "echo", &[], ListenKind::Unix);
        let mut lazy = Conn::connect(app.addr()).unwrap();
        let t = Instant::now();
        let resp = lazy
            .request(&Request::http("GET", "/first"))
            .expect("answered");
        assert_eq!(resp.app_status, 0);
        // The client keeps its end open; how long until the program closes its end?
        let closed = lazy.wait_closed(Duration::from_secs(4));
        let close_after = t.elapsed();
        let t = Instant::now();
        assert!(ok_request(&app));
        let next_after = t.elapsed();
        println!(
            "[{}] closed after {close_after:?}, next request after {next_after:?}",
            flavor.label()
        );
        if flavor == Flavor::Ours {
            assert!(
                closed && close_after < Duration::from_millis(500),
                "closed at once: {close_after:?}"
            );
            assert!(
                next_after < Duration::from_millis(500),
                "next client not held up: {next_after:?}"
            );
        }
    }
}

/// libfcgi's FCGX_OpenSocket calls exit() when it cannot bind; here it returns -1 with errno.
#[test]
fn open_socket_failure_returns_instead_of_exiting() {
    let dir = common::procs::TempDir::new("opensock");
    let exe = common::tools::compile_c(
        dir.path(),
        "opensock",
        r#"#include <errno.h>
#include <stdio.h>
#include <fcgiapp.h>
int main(void) {
    int fd;
    FCGX_Init();
    fd = FCGX_OpenSocket("/nonexistent-dir/app.sock", 5);
    printf("fd=%d errno_set=%d\n", fd, errno != 0);
    fd = FCGX_OpenSocket("no.such.host.invalid:9000", 5);
    printf("fd=%d\n", fd);
    return 0;
}
"#,
    );
    let out = std::process::Command::new(&exe).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "fd=-1 errno_set=1\nfd=-1\n"
    );
}

/// A single-threaded program takes every ready connection from one wait and serves them one
/// after another; every one of those events must be served (connections are edge-triggered,
/// an event dropped would never come back and that client would hang).
#[test]
fn many_connections_ready_at_once_are_all_served() {
    let app = App::spawn(Flavor::Ours, "echo", &[], ListenKind::Unix);
    let mut conns: Vec<Conn> = (0..48)
        .map(|_| {
            Conn::connect(app.addr())
                .expect("connect")
                .with_timeout(Duration::from_secs(5))
        })
        .collect();
    for round in 0..40 {
        // Every connection has a complete request waiting before any answer is read.
        for (i, c) in conns.iter_mut().enumerate() {
            let req = Request::http("GET", &format!("/r?conn={i}&round={round}")).keep_conn(true);
            c.send(&req).expect("send");
        }
        for (i, c) in conns.iter_mut().enumerate() {
            let r = c
                .recv(1)
                .unwrap_or_else(|e| panic!("round {round}, connection {i}: {e}"));
            assert_eq!(r.app_status, 0);
            let want = format!("conn={i}&round={round}");
            assert!(
                r.stdout_str().contains(&want),
                "round {round}, connection {i}: answer to another request"
            );
        }
    }
}
