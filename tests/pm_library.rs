//! Library mode: a program calls `pm::enter()` with `FCGI_RS_PM` set, becomes the master of
//! a pool of itself, and each worker serves with the `Worker` API the engine uses
//! (accepted / request_started / intercept / request_finished / should_stop).
//!
//! The test binary re-runs itself as that program (with `PM_LIB_CHILD` set), the listening
//! socket on its fd 0 as spawn-fcgi would pass it.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fcgi_rs::protocol::{pairs, Header, RecordType, HEADER_LEN};

/// The worker's loop: a deliberately tiny FastCGI responder.
fn serve(mut w: fcgi_rs::pm::Worker) -> ! {
    let listener = UnixListener::from(std::io::stdin().as_fd().try_clone_to_owned().unwrap());
    while !w.should_stop() {
        let Ok((mut c, _)) = listener.accept() else {
            break;
        };
        w.accepted();
        let mut buf = Vec::new();
        let mut params = Vec::new();
        let mut tmp = [0u8; 4096];
        let mut id = 1;
        'read: loop {
            while let Some(h) = Header::parse(&buf) {
                let total = HEADER_LEN + h.body_len();
                if buf.len() < total {
                    break;
                }
                let body = &buf[HEADER_LEN..HEADER_LEN + h.content_length as usize];
                if h.record_type == RecordType::BEGIN_REQUEST {
                    id = h.request_id;
                }
                if h.record_type == RecordType::PARAMS {
                    params.extend_from_slice(body);
                }
                let end = h.record_type == RecordType::STDIN && body.is_empty();
                buf.drain(..total);
                if end {
                    break 'read;
                }
            }
            let n = c.read(&mut tmp).unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        let p: Vec<(String, String)> = pairs(&params)
            .filter_map(|r| r.ok())
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into(),
                    String::from_utf8_lossy(v).into(),
                )
            })
            .collect();
        let get = |k: &str| {
            p.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        w.request_started(
            get("REQUEST_METHOD"),
            get("REQUEST_URI"),
            get("SCRIPT_FILENAME"),
            "",
            0,
        );
        let out = match w.intercept(
            get("REQUEST_METHOD"),
            get("SCRIPT_NAME"),
            get("QUERY_STRING"),
        ) {
            Some(b) => b,
            None => format!(
                "Content-Type: text/plain\r\n\r\nlib pid={}\n",
                std::process::id()
            )
            .into_bytes(),
        };
        let mut rec = Vec::new();
        rec.extend_from_slice(&Header::new(RecordType::STDOUT, id, out.len() as u16).encode());
        rec.extend_from_slice(&out);
        rec.resize(rec.len() + fcgi_rs::protocol::padding_for(out.len()), 0);
        rec.extend_from_slice(&Header::new(RecordType::STDOUT, id, 0).encode());
        rec.extend_from_slice(&Header::new(RecordType::END_REQUEST, id, 8).encode());
        rec.extend_from_slice(&[0; 8]);
        let _ = c.write_all(&rec);
        drop(c);
        w.request_finished();
    }
    std::process::exit(0)
}

fn get(sock: &std::path::Path, script: &str, query: &str) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut p = Vec::new();
    for (k, v) in [
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", script),
        ("QUERY_STRING", query),
    ] {
        fcgi_rs::protocol::encode_pair(k.as_bytes(), v.as_bytes(), &mut p);
    }
    let uri = format!("{script}?{query}");
    fcgi_rs::protocol::encode_pair(b"REQUEST_URI", uri.as_bytes(), &mut p);
    let mut req = Vec::new();
    req.extend_from_slice(&Header::new(RecordType::BEGIN_REQUEST, 1, 8).encode());
    req.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    req.extend_from_slice(&Header::new(RecordType::PARAMS, 1, p.len() as u16).encode());
    req.extend_from_slice(&p);
    req.resize(req.len() + fcgi_rs::protocol::padding_for(p.len()), 0);
    req.extend_from_slice(&Header::new(RecordType::PARAMS, 1, 0).encode());
    req.extend_from_slice(&Header::new(RecordType::STDIN, 1, 0).encode());
    s.write_all(&req).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let h = Header::parse(&buf).unwrap();
    assert_eq!(h.record_type, RecordType::STDOUT);
    String::from_utf8_lossy(&buf[8..8 + h.content_length as usize]).into_owned()
}

#[test]
fn library_mode_pool_of_the_program_itself() {
    if std::env::var_os("PM_LIB_CHILD").is_some() {
        match fcgi_rs::pm::enter() {
            Ok(Some(w)) => serve(w),
            other => panic!("enter: {other:?}"),
        }
    }
    let dir = std::env::temp_dir().join(format!("fcgi-rs-pm-lib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("lib.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "library_mode_pool_of_the_program_itself", "--nocapture", "--test-threads=1"])
        .env("PM_LIB_CHILD", "1")
        .env(
            "FCGI_RS_PM",
            "static:2,pm.max_requests=5,pm.max_requests_jitter=0,pm.status_path=/status,ping.path=/ping",
        )
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let master = child.id();
    // Stop the pool even when an assertion fails.
    struct Guard(u32);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.to_string()])
                .status();
        }
    }
    let _guard = Guard(master);
    let t0 = Instant::now();
    let mut pids = std::collections::BTreeSet::new();
    let mut n = 0;
    while n < 20 {
        assert!(t0.elapsed() < Duration::from_secs(10), "too slow");
        let r = get(&sock, "/app", "x=1");
        if let Some(p) = r.split("pid=").nth(1) {
            pids.insert(p.trim().to_string());
            n += 1;
        }
    }
    assert!(
        !pids.contains(&master.to_string()),
        "the master serves nothing"
    );
    assert!(pids.len() >= 4, "max_requests=5 recycles workers: {pids:?}");
    let ping = get(&sock, "/ping", "");
    assert!(ping.ends_with("\r\n\r\npong"), "{ping}");
    // A worker marks itself idle just after its last write, so the worker that answered the
    // ping may still show as active for a moment, and with max_requests=5 a recycled worker
    // may be on its way out or in: ask again until the scoreboard settles.
    let mut st = String::new();
    for _ in 0..40 {
        st = get(&sock, "/status", "json&full");
        if st.contains("\"active processes\":1") && st.contains("\"total processes\":2") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(st.contains("\"process manager\":\"static\""), "{st}");
    assert!(st.contains("\"total processes\":2"), "{st}");
    assert!(
        st.contains("\"active processes\":1"),
        "the worker answering is active, the other idle: {st}"
    );
    assert!(
        st.contains("\"request uri\":\"\\/status?json&full\""),
        "{st}"
    );
    let _ = Command::new("kill")
        .args(["-QUIT", &master.to_string()])
        .status();
    let t1 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(t1.elapsed() < Duration::from_secs(5), "master did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// An unmodified C program (tests/c/pm_output.c, linked with fcgi_rs) as the master of a pool
// configured by FCGI_RS_PM alone: the fork happens in its first FCGX_Init.

use common::client::{Conn, Request};
use common::pm::{
    ask, ask_from, ask_said_lines, check_said_lines, fds, recycle_workers, said, wait_log,
    wait_ready,
};
use common::procs::{self, App, ListenKind, SpawnOpts};
use common::tools;

fn c_pool(spec: &str, kind: ListenKind, env: &[(&str, &str)]) -> App {
    let mut opts = SpawnOpts::default();
    opts.env.push(("FCGI_RS_PM".into(), spec.into()));
    opts.env
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    App::spawn_program(&tools::test_program("pm_output"), kind, &opts)
}

#[test]
fn c_program_output_is_caught_and_decorated() {
    let app = c_pool("static:2,catch_workers_output=yes", ListenKind::Unix, &[]);
    wait_ready(&app, None);
    let mut want = ask_said_lines(app.addr(), 6);
    // A long line is logged in pieces of 1024 bytes.
    let (lp, _) = ask(app.addr(), "lines=0&long=2500").unwrap();
    want.push(said("www", lp, "stderr", &"x".repeat(1024)));
    want.push(said("www", lp, "stderr", &"x".repeat(452)));
    // A last line without a newline (stdio flushes it at exit) is logged at the exit.
    let (tp, _) = ask(app.addr(), "lines=0&tail=1").unwrap();
    let tail = said("www", tp, "stdout", &format!("tail from {tp}"));
    want.push(tail.clone());
    want.push(format!("[pool www] child {tp} exited with code 0"));
    let log = wait_log(&app, &want);
    let n = check_said_lines(&log);
    assert_eq!(
        log.matches(&said("www", lp, "stderr", &"x".repeat(1024)))
            .count(),
        2,
        "{log}"
    );
    assert!(
        log.find(&tail).unwrap() < log.find(&format!("child {tp} exited")).unwrap(),
        "the last line comes before the exit: {log}"
    );
    assert!(!log.contains("not supported"), "{log}");
    eprintln!("{n} caught lines, all with the right child pid");
}

#[test]
fn c_program_output_undecorated() {
    let app = c_pool(
        "static:1,catch_workers_output=yes,decorate_workers_output=no",
        ListenKind::Unix,
        &[],
    );
    wait_ready(&app, None);
    let (pid, n) = ask(app.addr(), "lines=1").unwrap();
    let out = format!("out 1/{n} from {pid}");
    let err = format!("err 1/{n} from {pid}");
    let log = wait_log(&app, &[out.clone(), err.clone()]);
    // The raw line alone: no time, no level, no pool prefix.
    assert!(log.lines().any(|l| l == out), "{log}");
    assert!(log.lines().any(|l| l == err), "{log}");
    assert!(!log.contains("said into"), "{log}");
}

/// Without capture a worker keeps the master's fds 1 and 2 (php-fpm uses /dev/null), so what
/// it writes there, fcgi_rs's own warnings included, lands where the master's output goes.
#[test]
fn c_program_output_goes_to_the_masters_stderr_by_default() {
    let app = c_pool("static:1", ListenKind::Unix, &[]);
    wait_ready(&app, None);
    let (pid, n) = ask(app.addr(), "lines=1").unwrap();
    let (worker, master) = (fds(pid), fds(app.pid()));
    let link =
        |f: &[(i32, String)], n: i32| f.iter().find(|(k, _)| *k == n).map(|(_, l)| l.clone());
    assert!(link(&worker, 2).is_some(), "{worker:?}");
    assert_eq!(
        link(&worker, 2),
        link(&master, 2),
        "worker {worker:?}, master {master:?}"
    );
    let line = format!("err 1/{n} from {pid}");
    let log = wait_log(&app, std::slice::from_ref(&line));
    assert!(log.lines().any(|l| l == line), "{log}");
    assert!(!log.contains("said into"), "{log}");
}

#[test]
fn output_pipes_do_not_leak_across_recycling() {
    let app = c_pool(
        "static:2,pm.max_requests=2,pm.max_requests_jitter=0,catch_workers_output=yes",
        ListenKind::Unix,
        &[],
    );
    wait_ready(&app, None);
    let master = app.pid();
    let r = recycle_workers(&app, 200);
    assert_eq!(r.failed, 0);
    assert!(r.workers >= 90, "recycled: {}", r.workers);
    let (before, after) = (r.before, r.after);
    assert_eq!(before.len(), after.len(), "{before:?}\n{after:?}");
    // Two pipes per worker in the master; a worker holds its own two write ends on fds 1
    // and 2 and no other pipe of the master's (none of its siblings'). Pipes the test
    // harness leaves open in the master's environment are inherited by both: set apart.
    let is_pipe = |l: &String| l.starts_with("pipe:");
    let workers = procs::children_of(master);
    let mut outside = None;
    for w in &workers {
        let wf = fds(*w);
        let (own, other): (Vec<_>, Vec<_>) = wf
            .iter()
            .filter(|(_, l)| is_pipe(l))
            .partition(|(n, _)| *n == 1 || *n == 2);
        assert_eq!(own.len(), 2, "worker {w}: {wf:?}");
        for (_, l) in &own {
            assert!(after.iter().any(|(_, m)| m == l), "the master reads {l}");
        }
        // Any other pipe: the very same fd the master got from its parent.
        for x in &other {
            assert!(
                after.contains(x) && before.contains(x),
                "worker {w} holds {x:?}"
            );
        }
        outside = Some(other.len());
    }
    let master_pipes = after.iter().filter(|(_, l)| is_pipe(l)).count();
    // The signal pipe (both ends), two per worker, and what came from outside.
    assert_eq!(
        master_pipes,
        2 + 2 * workers.len() + outside.unwrap_or(0),
        "{after:?}"
    );
}

#[test]
fn flooding_worker_does_not_stall_the_master() {
    let app = c_pool("static:3,catch_workers_output=yes", ListenKind::Unix, &[]);
    wait_ready(&app, None);
    let master = app.pid();
    let lines = 200_000u64;
    let addr = app.addr().clone();
    let t0 = Instant::now();
    let flood = std::thread::spawn(move || {
        let mut c = Conn::connect(&addr)
            .unwrap()
            .with_timeout(Duration::from_secs(60));
        let r = c
            .request(&Request::http(
                "GET",
                &format!("/out?lines=0&flood={}", lines * 100),
            ))
            .unwrap();
        (r.stdout_str(), t0.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    // Meanwhile the master keeps its pool: a killed worker is replaced.
    let (victim, _) = ask(app.addr(), "lines=0").unwrap();
    let flooding = !flood.is_finished();
    let t1 = Instant::now();
    procs::send_signal(victim, "KILL");
    let replaced = common::wait_for(Duration::from_secs(2), Duration::from_millis(5), || {
        let k = procs::children_of(master);
        (k.len() == 3 && !k.contains(&victim)).then_some(t1.elapsed())
    });
    let (answer, took) = flood.join().unwrap();
    let fp: u32 = answer
        .split("out pid=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("flood answered");
    let last = said(
        "www",
        fp,
        "stderr",
        &format!("flood {fp} {:08} {:>70}", lines - 1, "z"),
    );
    let log = wait_log(&app, &[last]);
    let head = format!("child {fp} said into stderr: \"flood {fp} ");
    let mut expect = 0u64;
    for l in log.lines().filter(|l| l.contains(&head)) {
        let seq: u64 = l.split(&head).nth(1).unwrap()[..8].parse().unwrap();
        assert_eq!(seq, expect, "lines lost or out of order");
        expect += 1;
    }
    eprintln!(
        "flood: {expect} lines ({} MB) logged in {took:?}; worker killed during it (flood running: {flooding}) replaced in {replaced:?}",
        lines * 100 / 1_000_000
    );
    assert_eq!(expect, lines);
    assert!(replaced.is_some(), "no replacement during the flood");
}

#[test]
fn allowed_clients_reach_the_accept_engine() {
    let allowed: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    // The pool setting wins over FCGI_WEB_SERVER_ADDRS from the environment.
    let app = c_pool(
        "static:2,listen.allowed_clients=127.0.0.2,::1,catch_workers_output=yes",
        ListenKind::Tcp,
        &[("FCGI_WEB_SERVER_ADDRS", "127.0.0.1")],
    );
    wait_ready(&app, Some(allowed));
    let mut refused = Conn::connect(app.addr()).unwrap();
    refused.send(&Request::http("GET", "/out?lines=0")).unwrap();
    let got = refused.read_raw(Duration::from_secs(3));
    assert!(got.bytes.is_empty(), "answered a refused client");
    assert!(got.closed || got.error.is_some(), "connection not closed");
    let mut pids = std::collections::BTreeSet::new();
    for _ in 0..6 {
        pids.insert(ask_from(app.addr(), allowed, "lines=0").unwrap().0);
    }
    let log = wait_log(
        &app,
        &[" refused: not in FCGI_WEB_SERVER_ADDRS\"".to_string()],
    );
    let line = log
        .lines()
        .find(|l| l.contains("refused: not in FCGI_WEB_SERVER_ADDRS"))
        .unwrap();
    assert!(line.contains("] WARNING: [pool www] child "), "{line}");
    assert!(
        line.contains("warning: connection from 127.0.0.1:"),
        "{line}"
    );
    // Logged by a worker that is still serving.
    let child: u32 = line
        .split(" child ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(procs::children_of(app.pid()).contains(&child), "{line}");
    eprintln!("refused 127.0.0.1, served 127.0.0.2 by {pids:?}: {line}");
    // On a unix socket the setting does not apply (and says so).
    let unix = c_pool(
        "static:1,listen.allowed_clients=127.0.0.2",
        ListenKind::Unix,
        &[],
    );
    wait_ready(&unix, None);
    wait_log(
        &unix,
        &["listen.allowed_clients applies to TCP sockets only".to_string()],
    );
}
