//! Library mode: a program calls `pm::enter()` with `FCGI_RS_PM` set, becomes the master of
//! a pool of itself, and each worker serves with the `Worker` API the engine uses
//! (accepted / request_started / intercept / request_finished / should_stop).
//!
//! The test binary re-runs itself as that program (with `PM_LIB_CHILD` set), the listening
//! socket on its fd 0 as spawn-fcgi would pass it.

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
    let st = get(&sock, "/status", "json&full");
    assert!(st.contains("\"process manager\":\"static\""), "{st}");
    assert!(st.contains("\"total processes\":2"), "{st}");
    assert!(
        st.contains("\"active processes\":1"),
        "the worker answering is active: {st}"
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
