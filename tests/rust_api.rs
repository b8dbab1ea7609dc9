//! The Rust API through its examples (`examples/*.rs`), run as real programs: behind nginx
//! (keepalive on and off) and driven directly by the FastCGI client of `tests/common`.
//!
//! The examples are built once per test run by `cargo build --examples --features http`
//! (the `http_types` example needs the feature; the others use none) into a target
//! directory of their own (next to this test binary's), so the test never waits on the lock
//! of the build that runs it.

mod common;

use common::client::{self, Addr, Conn, RecordType, Request};
use common::http::{fetch, HttpConn};
use common::nginx::{self, Nginx, NginxOpts};
use common::procs::{children_of, App, ListenKind, SpawnOpts};
use common::{pseudo_random_bytes, wait_for};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The directory holding the built examples (built on first use).
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        // <target>/<profile>/deps/rust_api-HASH
        let target = exe
            .ancestors()
            .nth(3)
            .expect("target directory")
            .to_path_buf();
        let dir = target.join("rust-api-examples");
        let mut child = Command::new(env!("CARGO"))
            .args(["build", "--examples", "--features", "http", "--quiet"])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .spawn()
            .expect("run cargo build --examples");
        let deadline = Instant::now() + BUILD_TIMEOUT;
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for cargo") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cargo build --examples took more than {BUILD_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(status.success(), "cargo build --examples failed: {status}");
        dir.join("debug").join("examples")
    })
}

fn example(name: &str) -> PathBuf {
    let p = examples_dir().join(name);
    assert!(p.exists(), "{} was not built", p.display());
    p
}

fn spawn(name: &str, kind: ListenKind, env: &[(&str, &str)]) -> App {
    let opts = SpawnOpts {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..SpawnOpts::default()
    };
    App::spawn_program(&example(name), kind, &opts)
}

fn have_nginx() -> bool {
    if nginx::program().is_none() {
        eprintln!("skipped: nginx is not installed");
        return false;
    }
    true
}

fn nginx_for(app: &App, keepalive: bool, request_buffering: bool) -> Nginx {
    let mut o = NginxOpts::new(app.addr().clone()).request_buffering(request_buffering);
    if keepalive {
        o = o.keep_conn(16);
    }
    Nginx::start(&o)
}

// -------------------------------------------------------------------------------------------
// behind nginx

#[test]
fn nginx_hello_keepalive_on_and_off() {
    if !have_nginx() {
        return;
    }
    for keepalive in [false, true] {
        let app = spawn("hello", ListenKind::Unix, &[]);
        let ng = nginx_for(&app, keepalive, true);
        let mut c = HttpConn::connect(ng.port()).expect("connect to nginx");
        for i in 0..20 {
            let r = c.request("GET", &format!("/hello?{i}"), &[], b"").unwrap();
            assert_eq!(r.status, 200, "keepalive={keepalive}");
            assert_eq!(r.body_str(), "Hello, world!\n");
            assert_eq!(r.header("Content-Type"), Some("text/plain"));
        }
        let r = fetch(ng.port(), "GET", "/", b"").unwrap();
        assert_eq!(r.body_str(), "Hello, world!\n");
    }
}

/// Samples the app's VmRSS every 5 ms until told to stop; returns the largest value (KiB).
fn rss_sampler(
    pid: u32,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<u64>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let h = std::thread::spawn(move || {
        let mut max = 0;
        while !s.load(Ordering::Relaxed) {
            if let Some(kb) = common::procs::proc_status_field(pid, "VmRSS:") {
                max = max.max(kb);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        max
    });
    (stop, h)
}

#[test]
fn nginx_echo_streams_5mib_bounded_memory() {
    if !have_nginx() {
        return;
    }
    let body = pseudo_random_bytes(5 << 20, 7);
    for keepalive in [false, true] {
        let app = spawn("echo", ListenKind::Unix, &[]);
        // Unbuffered: nginx passes the body on as it arrives.
        let ng = nginx_for(&app, keepalive, false);
        let warm = fetch(ng.port(), "POST", "/warm", b"x").unwrap();
        assert_eq!(warm.status, 200);
        let before = app.vm_rss_kb().expect("VmRSS");
        let (stop, sampler) = rss_sampler(app.pid());
        let mut c = HttpConn::connect(ng.port()).unwrap();
        let r = c.request("POST", "/echo", &[], &body).unwrap_or_else(|e| {
            panic!(
                "keepalive={keepalive}: {e}\nnginx: {}\necho: {}",
                ng.error_log(),
                app.stderr_text()
            )
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let peak = sampler.join().unwrap().max(app.vm_rss_kb().unwrap_or(0));
        assert_eq!(r.status, 200);
        assert!(r.body.len() > body.len(), "keepalive={keepalive}");
        let echoed = &r.body[r.body.len() - body.len()..];
        assert!(
            echoed == &body[..],
            "the body came back altered (keepalive={keepalive})"
        );
        assert!(
            r.body_str().contains("REQUEST_METHOD=POST\n"),
            "params echoed first"
        );
        let growth_kb = peak.saturating_sub(before);
        eprintln!("echo 5 MiB keepalive={keepalive}: VmRSS {before} KiB -> peak {peak} KiB");
        assert!(
            growth_kb < 16 * 1024,
            "VmRSS grew by {growth_kb} KiB while echoing 5 MiB"
        );
        // The same connection serves again.
        let again = c.request("POST", "/again", &[], b"small").unwrap();
        assert!(again.body.ends_with(b"small"));
    }
}

#[test]
fn nginx_threaded_64_concurrent() {
    if !have_nginx() {
        return;
    }
    const N: usize = 64;
    const SLEEP_MS: u64 = 50;
    for keepalive in [false, true] {
        let app = spawn("threaded", ListenKind::Unix, &[("THREADS", "4")]);
        let ng = nginx_for(&app, keepalive, true);
        let port = ng.port();
        let start = Instant::now();
        let bodies: Vec<String> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..N)
                .map(|_| {
                    s.spawn(move || {
                        let r = fetch(port, "GET", &format!("/t?sleep={SLEEP_MS}"), b"").unwrap();
                        assert_eq!(r.status, 200);
                        r.body_str()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let elapsed = start.elapsed();
        assert_eq!(bodies.len(), N);
        let threads: HashSet<&str> = bodies.iter().map(|b| b.trim()).collect();
        eprintln!(
            "threaded keepalive={keepalive}: {N} requests of {SLEEP_MS} ms in {elapsed:?} on {} threads",
            threads.len()
        );
        assert_eq!(threads.len(), 4, "served by: {threads:?}");
        // One thread would need N * SLEEP_MS = 3.2 s; four need 0.8 s.
        assert!(
            elapsed < Duration::from_millis(N as u64 * SLEEP_MS / 2),
            "{N} requests took {elapsed:?}: not served concurrently"
        );
    }
}

#[test]
fn nginx_pooled_two_workers_and_status() {
    if !have_nginx() {
        return;
    }
    for keepalive in [false, true] {
        let mut app = spawn("pooled", ListenKind::Unix, &[("WORKERS", "2")]);
        let master = app.pid();
        let workers = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
            let c = children_of(master);
            (c.len() == 2).then_some(c)
        })
        .expect("two workers forked");
        let ng = nginx_for(&app, keepalive, true);
        let mut c = HttpConn::connect(ng.port()).unwrap();
        for _ in 0..10 {
            let r = c.request("GET", "/app", &[], b"").unwrap();
            assert_eq!(r.status, 200);
            let pid: u32 = r
                .body_str()
                .trim()
                .strip_prefix("served by worker ")
                .and_then(|p| p.parse().ok())
                .expect("a worker pid");
            assert!(workers.contains(&pid), "{pid} is not one of {workers:?}");
        }
        let status = fetch(ng.port(), "GET", "/status", b"").unwrap();
        assert_eq!(status.status, 200);
        let text = status.body_str();
        assert!(text.contains("process manager:      static"), "{text}");
        assert!(text.contains("total processes:      2"), "{text}");
        let ping = fetch(ng.port(), "GET", "/ping", b"").unwrap();
        assert_eq!(ping.body_str(), "pong");
        // Graceful stop: the master drains the workers and exits.
        app.signal("QUIT");
        let st = app
            .wait_exit(Duration::from_secs(10))
            .expect("master exits");
        assert!(st.success(), "master exit status {st:?}");
    }
}

#[test]
fn nginx_client_closes_mid_request() {
    if !have_nginx() {
        return;
    }
    for keepalive in [false, true] {
        let mut app = spawn("echo", ListenKind::Unix, &[]);
        let ng = nginx_for(&app, keepalive, false);
        for _ in 0..5 {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", ng.port())).unwrap();
            s.write_all(
                b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048576\r\n\r\n",
            )
            .unwrap();
            s.write_all(&vec![b'a'; 100 * 1024]).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            drop(s); // gone mid-body
        }
        let seen = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
            app.stderr_text()
                .contains("echo: body failed")
                .then_some(())
        });
        assert!(
            seen.is_some(),
            "the handler never saw the broken body; stderr:\n{}",
            app.stderr_text()
        );
        assert!(app.is_alive(), "echo died");
        let r = fetch(ng.port(), "POST", "/after", b"still here").unwrap();
        assert!(r.body.ends_with(b"still here"), "keepalive={keepalive}");
    }
}

// -------------------------------------------------------------------------------------------
// direct FastCGI client

fn param_line(resp_body: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let mut prefix = name.to_vec();
    prefix.push(b'=');
    resp_body
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(&prefix[..]).map(<[u8]>::to_vec))
}

#[test]
fn direct_params_split_across_records() {
    let app = spawn("echo", ListenKind::Unix, &[]);
    let mut c = Conn::connect(app.addr()).unwrap();
    let value = "v".repeat(300);
    for split in [1, 3, 7, 64] {
        let r = c
            .request(
                &Request::http("GET", "/split")
                    .param("SPLIT_PARAM", &value)
                    .params_record_max(split)
                    .keep_conn(true),
            )
            .unwrap();
        assert_eq!(
            param_line(r.body(), b"SPLIT_PARAM").as_deref(),
            Some(value.as_bytes()),
            "PARAMS records of {split} bytes"
        );
        assert_eq!(
            param_line(r.body(), b"REQUEST_URI").as_deref(),
            Some(&b"/split"[..])
        );
    }
}

#[test]
fn direct_long_name_value_lengths() {
    let app = spawn("echo", ListenKind::Unix, &[]);
    let mut c = Conn::connect(app.addr()).unwrap();
    // Both lengths above 127 use the four-byte form; the value also spans several records.
    let name = format!("N{}", "A".repeat(199));
    let value: Vec<u8> = (0..70_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let r = c
        .request(
            &Request::http("GET", "/long")
                .param(&name, &value)
                .param("SHORT", "s"),
        )
        .unwrap();
    assert_eq!(param_line(r.body(), name.as_bytes()), Some(value));
    assert_eq!(param_line(r.body(), b"SHORT").as_deref(), Some(&b"s"[..]));
}

#[test]
fn direct_get_values_honest() {
    let app = spawn("threaded", ListenKind::Unix, &[("THREADS", "3")]);
    // The threads register when `serve` starts; a first request makes sure it has.
    let mut c = Conn::connect(app.addr()).unwrap();
    c.request(&Request::http("GET", "/").keep_conn(true))
        .unwrap();
    let v = c
        .get_values(&[
            "FCGI_MAX_CONNS",
            "FCGI_MAX_REQS",
            "FCGI_MPXS_CONNS",
            "UNKNOWN",
        ])
        .unwrap();
    let get = |k: &str| v.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("FCGI_MPXS_CONNS"), Some("0"), "{v:?}");
    assert_eq!(
        get("FCGI_MAX_REQS"),
        Some("3"),
        "one per serving thread: {v:?}"
    );
    assert_eq!(get("FCGI_MAX_CONNS"), Some("1024"), "{v:?}");
    assert_eq!(get("UNKNOWN"), None, "unknown names are left out: {v:?}");
    // The connection still serves requests after the management record.
    let r = c.request(&Request::http("GET", "/")).unwrap();
    assert!(r.stdout_str().contains("served by"));
}

#[test]
fn direct_keepalive_reuse() {
    let app = spawn("hello", ListenKind::Tcp, &[]);
    let mut c = Conn::connect(app.addr()).unwrap();
    for i in 0..200 {
        let r = c
            .request(&Request::http("GET", &format!("/{i}")).keep_conn(true))
            .unwrap();
        assert_eq!(r.body(), b"Hello, world!\n");
        assert_eq!(r.protocol_status, 0);
    }
    assert!(!c.peer_closed(), "the kept-alive connection was closed");
    // Without keep_conn the application closes after the response.
    c.request(&Request::http("GET", "/last")).unwrap();
    assert!(c.wait_closed(Duration::from_secs(2)));
}

/// The socket of process `pid` that is the accepted end of our connection `local`→`peer`.
fn accepted_socket_nodelay(pid: u32, client: &std::net::TcpStream) -> Option<bool> {
    let want_local = client.peer_addr().ok()?;
    let want_peer = client.local_addr().ok()?;
    // SAFETY: plain syscalls on integers; every fd obtained is wrapped in an OwnedFd.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) };
    if pidfd < 0 {
        return None;
    }
    // SAFETY: pidfd is a fresh fd we own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if !target.to_string_lossy().starts_with("socket:") {
            continue;
        }
        let Some(n) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: duplicates the target's fd into ours; wrapped at once.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), n, 0) };
        if fd < 0 {
            continue;
        }
        // SAFETY: fd is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let sock = socket2::SockRef::from(&fd);
        let (Ok(l), Ok(p)) = (sock.local_addr(), sock.peer_addr()) else {
            continue;
        };
        if l.as_socket() == Some(want_local) && p.as_socket() == Some(want_peer) {
            return sock.nodelay().ok();
        }
    }
    None
}

#[test]
fn direct_tcp_nodelay_round_trip() {
    let app = spawn("echo", ListenKind::Tcp, &[]);
    let Addr::Tcp(addr) = app.addr().clone() else {
        unreachable!()
    };
    let mut c = Conn::connect(app.addr()).unwrap();
    c.request(&Request::http("GET", "/warm").keep_conn(true))
        .unwrap();

    // A raw view of the same kind of connection, to find its accepted end in the app.
    let probe = std::net::TcpStream::connect(addr).unwrap();
    let mut pc = probe.try_clone().unwrap();
    pc.write_all(&Request::http("GET", "/p").keep_conn(true).encode())
        .unwrap();
    let mut buf = [0u8; 4096];
    let _ = pc.read(&mut buf).unwrap();
    match accepted_socket_nodelay(app.pid(), &probe) {
        Some(on) => assert!(on, "TCP_NODELAY is off on the accepted socket"),
        None => eprintln!("note: could not inspect the accepted socket (pidfd_getfd refused)"),
    }

    // Round trips on a kept-alive connection: with Nagle and delayed ACKs a response written
    // in pieces waits ~40 ms; the body here (48 KiB back) needs several segments.
    let body = pseudo_random_bytes(48 * 1024, 3);
    let mut times = Vec::new();
    for i in 0..100 {
        let req = if i % 2 == 0 {
            Request::http("GET", "/small").keep_conn(true)
        } else {
            Request::http("POST", "/big")
                .stdin(body.clone())
                .keep_conn(true)
        };
        let t = Instant::now();
        let r = c.request(&req).unwrap();
        times.push(t.elapsed());
        assert_eq!(r.protocol_status, 0);
    }
    times.sort();
    let median = common::percentile(&times, 0.5);
    let p90 = common::percentile(&times, 0.9);
    eprintln!("kept-alive TCP round trip: median {median:?}, p90 {p90:?}");
    assert!(median < Duration::from_millis(5), "median {median:?}");
    assert!(p90 < Duration::from_millis(20), "p90 {p90:?}");
}

#[test]
fn direct_abort_request_reaches_handler() {
    let mut app = spawn("echo", ListenKind::Unix, &[]);
    let mut c = Conn::connect(app.addr()).unwrap();
    let req = Request::http("POST", "/abort")
        .keep_conn(true)
        .stdin(vec![b'z'; 100])
        .stdin_eof(false);
    c.send(&req).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    c.write_raw(&client::record(RecordType::ABORT_REQUEST.0, 1, &[]))
        .unwrap();
    let r = c.recv(1).expect("END_REQUEST after the abort");
    assert_eq!(r.protocol_status, 0);
    let seen = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        app.stderr_text()
            .contains("echo: request aborted after 100 body bytes")
            .then_some(())
    });
    assert!(seen.is_some(), "stderr:\n{}", app.stderr_text());
    assert!(app.is_alive());
    // The kept-alive connection (or a new one) serves the next request.
    let next = Request::http("POST", "/next").stdin(b"ok".to_vec());
    let r = match c.request(&next.clone().keep_conn(true)) {
        Ok(r) => r,
        Err(_) => Conn::connect(app.addr()).unwrap().request(&next).unwrap(),
    };
    assert!(r.body().ends_with(b"ok"));
}

#[test]
fn nginx_http_types_round_trip() {
    if !have_nginx() {
        return;
    }
    let app = spawn("http_types", ListenKind::Unix, &[]);
    let ng = nginx_for(&app, true, true);
    let mut c = HttpConn::connect(ng.port()).unwrap();
    let r = c
        .request(
            "POST",
            "/a/b?x=1&y=2",
            &[("X-Custom-Thing", "v1"), ("Content-Type", "text/csv")],
            b"1,2",
        )
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-served-by"), Some("fcgi_rs"));
    let text = r.body_str();
    for want in [
        "method=POST\n",
        "uri=/a/b?x=1&y=2\n",
        "version=HTTP/1.1\n",
        "x-custom-thing: v1\n",
        "content-type: text/csv\n",
        "content-length: 3\n",
        "host: localhost\n",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
    let r = c.request("DELETE", "/a", &[], b"").unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, POST"));
}

#[test]
fn direct_http_types_hostile_params() {
    let app = spawn("http_types", ListenKind::Unix, &[]);
    let mut c = Conn::connect(app.addr()).unwrap();
    // No REQUEST_METHOD, a method with a space, a URI with a space, a header value with a
    // newline: each is a 400 from the handler, never a crash.
    let cases = [
        Request::new().param("REQUEST_URI", "/"),
        Request::http("GET", "/").set_param("REQUEST_METHOD", "G T"),
        Request::http("GET", "/").set_param("REQUEST_URI", "/a b"),
        Request::http("GET", "/").param("HTTP_X_BAD", "a\nb"),
    ];
    for req in &cases {
        let r = c.request(&req.clone().keep_conn(true)).unwrap();
        assert_eq!(
            r.header("Status").as_deref(),
            Some("400 Bad Request"),
            "{:?}",
            r.stdout_str()
        );
    }
    let r = c.request(&Request::http("GET", "/ok")).unwrap();
    assert!(r.stdout_str().contains("uri=/ok\n"), "{}", r.stdout_str());
}

/// A Rust program linking fcgi_rs without the `capi` feature defines none of the C library's
/// symbols (`FCGX_*`, `FCGI_*`, `OS_*`, `fcgi_rs_*`): neither the example binaries nor the
/// crate's rlib they were linked from.
#[test]
fn rust_program_exports_no_c_symbols() {
    if Command::new("nm").arg("--version").output().is_err() {
        eprintln!("skipped: nm is not installed");
        return;
    }
    let c_symbol = |line: &str| {
        let mut f = line.split_whitespace().rev();
        let name = f.next().unwrap_or("");
        let kind = f.next().unwrap_or("");
        kind.chars().all(|k| k.is_ascii_uppercase() && k != 'U')
            && ["FCGX_", "FCGI_", "OS_", "fcgi_rs_"]
                .iter()
                .any(|p| name.starts_with(p))
    };
    let mut files = vec![example("hello"), example("pooled")];
    let deps = examples_dir().parent().unwrap().join("deps");
    files.extend(
        std::fs::read_dir(&deps)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with("libfcgi_rs-") && n.ends_with(".rlib")
            }),
    );
    assert!(files.len() > 2, "no rlib of fcgi_rs in {}", deps.display());
    for f in &files {
        let out = Command::new("nm").arg(f).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let found: Vec<&str> = text.lines().filter(|l| c_symbol(l)).take(5).collect();
        assert!(found.is_empty(), "{} defines {found:?}", f.display());
        let out = Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(f)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.lines().any(c_symbol),
            "{} exports C symbols",
            f.display()
        );
    }
}
