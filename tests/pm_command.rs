//! The `fcgi-rs-pm` command supervising a program linked with Debian's libfcgi (unmodified:
//! it knows nothing of fcgi_rs), driven by a FastCGI client over a unix socket.
//!
//! Needs `cc` and libfcgi-dev; each test is skipped (with a note) when they are missing.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

fn hello() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = std::env::temp_dir().join(format!("fcgi-rs-pm-hello-{}", std::process::id()));
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pm_data/hello.c");
        let ok = Command::new("cc")
            .arg("-O1")
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .arg("-lfcgi")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            Some(out)
        } else {
            eprintln!("skipping: cannot build a libfcgi program (cc and libfcgi-dev needed)");
            None
        }
    })
    .clone()
}

struct Pm {
    child: Child,
    dir: PathBuf,
    sock: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Pm {
    fn start(args: &[&str], extra: &[&str]) -> Option<Pm> {
        let prog = hello()?;
        let dir = std::env::temp_dir().join(format!(
            "fcgi-rs-pm-t{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("app.sock");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fcgi-rs-pm"));
        cmd.arg("-s").arg(&sock).args(args);
        for e in extra {
            cmd.arg(e.replace("@DIR", dir.to_str().unwrap()));
        }
        cmd.arg("--").arg(&prog);
        // The master's log goes to a file: a pipe nobody drains would fill up after a few
        // hundred respawn lines and block the master.
        let log = std::fs::File::create(dir.join("master.log")).unwrap();
        cmd.stdin(Stdio::null()).stderr(Stdio::from(log));
        let child = cmd.spawn().unwrap();
        let pm = Pm { child, dir, sock };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if request(&pm.sock, "").is_ok() {
                return Some(pm);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("fcgi-rs-pm did not come up");
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn workers(&self) -> Vec<i32> {
        children(self.pid())
    }

    /// Waits (at most 5 s) until the pool has `n` workers; returns how many it has. The
    /// master forks them one after another, so right after start some may still be coming.
    fn wait_workers(&self, n: usize) -> usize {
        let t0 = Instant::now();
        loop {
            let have = self.workers().len();
            if have == n || t0.elapsed() > Duration::from_secs(5) {
                return have;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: i32) {
        assert!(Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success());
    }

    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn stderr(&mut self) -> String {
        std::fs::read_to_string(self.dir.join("master.log")).unwrap_or_default()
    }
}

impl Drop for Pm {
    fn drop(&mut self) {
        let kids = self.workers();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for k in kids {
            let _ = Command::new("kill").arg("-9").arg(k.to_string()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn record(t: u8, id: u16, body: &[u8], out: &mut Vec<u8>) {
    let pad = (8 - body.len() % 8) % 8;
    out.extend_from_slice(&[
        1,
        t,
        (id >> 8) as u8,
        id as u8,
        (body.len() >> 8) as u8,
        body.len() as u8,
        pad as u8,
        0,
    ]);
    out.extend_from_slice(body);
    out.extend(std::iter::repeat_n(0, pad));
}

fn pair(k: &str, v: &str, out: &mut Vec<u8>) {
    out.push(k.len() as u8);
    out.push(v.len() as u8);
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(v.as_bytes());
}

/// One FastCGI request; returns stdout (headers and body) or an error for anything short of a
/// complete response with END_REQUEST.
fn fcgi(sock: &Path, script: &str, query: &str) -> std::io::Result<String> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = Vec::new();
    record(1, 1, &[0, 1, 0, 0, 0, 0, 0, 0], &mut req);
    let mut p = Vec::new();
    pair("REQUEST_METHOD", "GET", &mut p);
    pair("SCRIPT_NAME", script, &mut p);
    pair("QUERY_STRING", query, &mut p);
    pair("REQUEST_URI", &format!("{script}?{query}"), &mut p);
    record(4, 1, &p, &mut req);
    record(4, 1, &[], &mut req);
    record(5, 1, &[], &mut req);
    s.write_all(&req)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= buf.len() {
        let len = (buf[at + 4] as usize) << 8 | buf[at + 5] as usize;
        let pad = buf[at + 6] as usize;
        let t = buf[at + 1];
        if at + 8 + len > buf.len() {
            break;
        }
        if t == 6 {
            out.extend_from_slice(&buf[at + 8..at + 8 + len]);
        }
        if t == 3 {
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        at += 8 + len + pad;
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "no END_REQUEST",
    ))
}

fn request(sock: &Path, query: &str) -> std::io::Result<String> {
    let r = fcgi(sock, "/hello", query)?;
    if r.contains("hello pid=") {
        Ok(r)
    } else {
        Err(std::io::Error::other(format!("bad response {r:?}")))
    }
}

fn pid_of(resp: &str) -> i32 {
    resp.split("pid=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap()
}

/// Runs `threads` clients in a loop until `stop`; returns (ok, failed, pids seen).
fn load(
    sock: &Path,
    threads: usize,
    query: &str,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(u64, u64, Vec<i32>)> {
    let sock = sock.to_path_buf();
    let query = query.to_string();
    std::thread::spawn(move || {
        let pids = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let (sock, query, stop, pids, ok, failed) = (
                    sock.clone(),
                    query.clone(),
                    stop.clone(),
                    pids.clone(),
                    ok.clone(),
                    failed.clone(),
                );
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match request(&sock, &query) {
                            Ok(r) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                                pids.lock().unwrap().insert(pid_of(&r));
                            }
                            Err(e) => {
                                eprintln!("request failed: {e}");
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let p = pids.lock().unwrap().iter().copied().collect();
        (
            ok.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
            p,
        )
    })
}

#[test]
fn static_pool_recycles_with_max_requests_and_loses_nothing() {
    let Some(pm) = Pm::start(&["-n", "4", "--max-requests", "20"], &[]) else {
        return;
    };
    assert_eq!(pm.wait_workers(4), 4);
    let stop = Arc::new(AtomicBool::new(false));
    let h = load(&pm.sock, 8, "sleep=1", stop.clone());
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    let (ok, failed, pids) = h.join().unwrap();
    eprintln!(
        "max_requests=20: {ok} ok, {failed} failed, {} distinct workers",
        pids.len()
    );
    assert_eq!(failed, 0);
    assert!(ok > 500, "{ok}");
    // With a limit of 20 +/- 10%, every ~20 requests a worker is replaced.
    assert!(
        pids.len() as u64 >= ok / 25,
        "{} workers for {ok} requests",
        pids.len()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(pm.wait_workers(4), 4);
}

#[test]
fn killed_worker_is_replaced_within_a_second() {
    let Some(pm) = Pm::start(&["-n", "3"], &[]) else {
        return;
    };
    assert_eq!(pm.wait_workers(3), 3);
    let before = pm.workers();
    let victim = before[1];
    let t0 = Instant::now();
    assert!(Command::new("kill")
        .arg("-9")
        .arg(victim.to_string())
        .status()
        .unwrap()
        .success());
    loop {
        let now = pm.workers();
        if now.len() == 3 && !now.contains(&victim) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "not replaced within 1 s: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("replaced in {:?}", t0.elapsed());
    for _ in 0..10 {
        request(&pm.sock, "").unwrap();
    }
}

#[test]
fn crash_loop_backs_off_but_keeps_trying() {
    // A program that exits at once with an error.
    let dir = std::env::temp_dir().join(format!("fcgi-rs-pm-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("s.sock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fcgi-rs-pm"))
        .arg("-s")
        .arg(&sock)
        .args(["-n", "1", "--", "/bin/sh", "-c", "exit 3"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let still_running = child.try_wait().unwrap().is_none();
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let starts = err.matches("exited with code 3").count();
    eprintln!("{starts} exits in 2.5 s");
    assert!(still_running, "the master must not give up");
    // Without backoff this would be thousands; with 0, 100, 200, 400, 800 ms... it is a handful.
    assert!((3..=10).contains(&starts), "{err}");
    assert!(err.contains("next start in"), "{err}");
}

#[test]
fn quit_drains_in_flight_requests() {
    let Some(mut pm) = Pm::start(&["-n", "3"], &[]) else {
        return;
    };
    let sock = pm.sock.clone();
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let sock = sock.clone();
            std::thread::spawn(move || request(&sock, "sleep=1500"))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    pm.signal(libc_sig("QUIT"));
    for h in hs {
        let r = h.join().unwrap();
        assert!(r.is_ok(), "in-flight request lost: {r:?}");
    }
    let st = pm
        .wait_exit(Duration::from_secs(5))
        .expect("master exits after the drain");
    assert!(st.success(), "{st:?}");
    eprintln!("drained and exited in {:?}", t0.elapsed());
    assert!(t0.elapsed() >= Duration::from_millis(1000));
    assert!(!pm.sock.exists(), "socket file removed");
}

#[test]
fn reload_under_load_loses_nothing_and_does_not_stall() {
    let Some(mut pm) = Pm::start(&["-n", "4"], &[]) else {
        return;
    };
    assert_eq!(pm.wait_workers(4), 4);
    let gen1 = pm.workers();
    let stop = Arc::new(AtomicBool::new(false));
    let h = load(&pm.sock, 6, "sleep=20", stop.clone());
    // A long request in flight across the reload.
    let sock = pm.sock.clone();
    let long = std::thread::spawn(move || request(&sock, "sleep=2500"));
    std::thread::sleep(Duration::from_millis(800));
    pm.signal(libc_sig("USR2"));
    // A trivial request right after the reload must not wait for the long one.
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    request(&pm.sock, "").unwrap();
    let probe = t.elapsed();
    std::thread::sleep(Duration::from_millis(1200));
    pm.signal(libc_sig("HUP"));
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let (ok, failed, _) = h.join().unwrap();
    assert!(
        long.join().unwrap().is_ok(),
        "the long request survives the reload"
    );
    eprintln!("reload x2: {ok} ok, {failed} failed; probe after USR2 took {probe:?}");
    assert_eq!(failed, 0);
    assert!(
        probe < Duration::from_millis(500),
        "reload stalled new requests: {probe:?}"
    );
    assert_eq!(pm.wait_workers(4), 4);
    let gen3 = pm.workers();
    assert!(
        gen3.iter().all(|p| !gen1.contains(p)),
        "old generation gone"
    );
    let err = {
        pm.signal(libc_sig("TERM"));
        pm.wait_exit(Duration::from_secs(5));
        pm.stderr()
    };
    assert!(err.contains("reloading"), "{err}");
}

#[test]
fn status_and_ping_on_status_listen() {
    let Some(pm) = Pm::start(
        &[
            "-n",
            "4",
            "--status-path",
            "/status",
            "--ping-path",
            "/ping",
        ],
        &["--status-listen", "@DIR/status.sock"],
    ) else {
        return;
    };
    let ssock = pm.dir.join("status.sock");
    for _ in 0..5 {
        request(&pm.sock, "").unwrap();
    }
    let ping = fcgi(&ssock, "/ping", "").unwrap();
    assert!(ping.starts_with("Content-Type: text/plain\r\n"), "{ping}");
    assert!(ping.contains("Cache-Control: no-cache, no-store, must-revalidate, max-age=0\r\n"));
    assert!(ping.ends_with("\r\n\r\npong"));
    // Idle workers are seen as idle (blocked in accept) within a maintenance pass.
    std::thread::sleep(Duration::from_millis(400));
    let st = fcgi(&ssock, "/status", "").unwrap();
    assert!(
        st.starts_with("Content-Type: text/plain;charset=UTF-8\r\n"),
        "{st}"
    );
    assert!(
        st.contains("\r\n\r\npool:                 www\nprocess manager:      static\n"),
        "{st}"
    );
    assert!(st.contains("\ntotal processes:      4\n"), "{st}");
    assert!(st.contains("\nidle processes:       4\n"), "{st}");
    assert!(st.contains("\nlisten queue len:     511\n"), "{st}");
    let js = fcgi(&ssock, "/status", "json&full").unwrap();
    assert!(js.contains("Content-Type: application/json\r\n"));
    assert_eq!(js.matches("\"pid\":").count(), 4, "{js}");
    let om = fcgi(&ssock, "/status", "openmetrics").unwrap();
    assert!(
        om.contains("\nphpfpm_total_processes 4\n") && om.ends_with("# EOF\n"),
        "{om}"
    );
    let nf = fcgi(&ssock, "/other", "").unwrap();
    assert!(nf.starts_with("Status: 404"), "{nf}");
    // A busy worker shows as active while it works.
    let sock = pm.sock.clone();
    let h = std::thread::spawn(move || request(&sock, "sleep=800"));
    std::thread::sleep(Duration::from_millis(400));
    let st = fcgi(&ssock, "/status", "").unwrap();
    assert!(st.contains("\nactive processes:     1\n"), "{st}");
    h.join().unwrap().unwrap();
}

fn libc_sig(name: &str) -> i32 {
    match name {
        "QUIT" => 3,
        "HUP" => 1,
        "TERM" => 15,
        "USR2" => 12,
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------------------
// Worker output (catch_workers_output) and listen.allowed_clients, with tests/c/pm_output.c
// under the command: fcgi-rs-pm is started like any FastCGI program, its socket on fd 0.

use common::client::Request;
use common::pm::{
    ask, ask_from, ask_said_lines, check_said_lines, recycle_workers, said, wait_log, wait_ready,
};
use common::procs::{App, ListenKind, SpawnOpts};
use common::tools;

fn command_pool(program: &Path, kind: ListenKind, args: &[&str], env: &[(&str, &str)]) -> App {
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.push("--".into());
    args.push(program.display().to_string());
    let opts = SpawnOpts {
        args,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..SpawnOpts::default()
    };
    App::spawn_program(Path::new(env!("CARGO_BIN_EXE_fcgi-rs-pm")), kind, &opts)
}

#[test]
fn command_catches_output_of_a_libfcgi_program() {
    let Some(prog) = tools::test_program_libfcgi("pm_output") else {
        return;
    };
    let app = command_pool(&prog, ListenKind::Unix, &["-n", "2", "--catch-output"], &[]);
    wait_ready(&app, None);
    let mut want = ask_said_lines(app.addr(), 4);
    let (tp, _) = ask(app.addr(), "lines=0&tail=1").unwrap();
    want.push(said("www", tp, "stdout", &format!("tail from {tp}")));
    let log = wait_log(&app, &want);
    eprintln!("{} caught lines", check_said_lines(&log));
    // Undecorated.
    let raw = command_pool(
        &prog,
        ListenKind::Unix,
        &["-n", "1", "--catch-output", "--raw-output"],
        &[],
    );
    wait_ready(&raw, None);
    let (pid, n) = ask(raw.addr(), "lines=1").unwrap();
    let line = format!("err 1/{n} from {pid}");
    let log = wait_log(&raw, std::slice::from_ref(&line));
    assert!(log.lines().any(|l| l == line), "{log}");
    assert!(!log.contains("said into"), "{log}");
    // Without the option: the master's own stderr, lines as written.
    let plain = command_pool(&prog, ListenKind::Unix, &["-n", "1"], &[]);
    wait_ready(&plain, None);
    let (pid, n) = ask(plain.addr(), "lines=1").unwrap();
    let line = format!("err 1/{n} from {pid}");
    let log = wait_log(&plain, std::slice::from_ref(&line));
    assert!(log.lines().any(|l| l == line), "{log}");
    assert!(!log.contains("said into"), "{log}");
}

#[test]
fn command_output_pipes_do_not_leak_across_recycling() {
    let Some(prog) = tools::test_program_libfcgi("pm_output") else {
        return;
    };
    let app = command_pool(
        &prog,
        ListenKind::Unix,
        &[
            "-n",
            "2",
            "--max-requests",
            "2",
            "--jitter",
            "0",
            "--catch-output",
        ],
        &[],
    );
    wait_ready(&app, None);
    // The program leaves after 2 requests: a request may find its worker gone.
    let r = recycle_workers(&app, 200);
    assert!(r.workers >= 90, "recycled: {}", r.workers);
    assert_eq!(
        r.before.len(),
        r.after.len(),
        "{:?}\n{:?}",
        r.before,
        r.after
    );
}

#[test]
fn command_allowed_clients() {
    let allowed: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let refused_gets_nothing = |app: &App| {
        let mut c = common::client::Conn::connect(app.addr()).unwrap();
        c.send(&Request::http("GET", "/out?lines=0")).unwrap();
        let got = c.read_raw(Duration::from_secs(3));
        assert!(got.bytes.is_empty(), "answered a refused client");
        assert!(got.closed || got.error.is_some(), "not closed");
    };
    // A program linked with fcgi_rs: refused with a warning, which the pool catches. The
    // pool setting wins over the variable in the master's environment.
    let ours = command_pool(
        &tools::test_program("pm_output"),
        ListenKind::Tcp,
        &[
            "-n",
            "2",
            "--allowed-clients",
            "127.0.0.2",
            "--catch-output",
        ],
        &[("FCGI_WEB_SERVER_ADDRS", "127.0.0.1")],
    );
    wait_ready(&ours, Some(allowed));
    refused_gets_nothing(&ours);
    for _ in 0..4 {
        ask_from(ours.addr(), allowed, "lines=0").unwrap();
    }
    let log = wait_log(&ours, &["warning: connection from 127.0.0.1:".to_string()]);
    let line = log
        .lines()
        .find(|l| l.contains("warning: connection from 127.0.0.1:"))
        .unwrap();
    assert!(
        line.contains("] WARNING: [pool www] child ")
            && line.ends_with(" refused: not in FCGI_WEB_SERVER_ADDRS\""),
        "{line}"
    );
    eprintln!("{line}");
    // An unmodified libfcgi program gets the same list (libfcgi closes silently).
    if let Some(prog) = tools::test_program_libfcgi("pm_output") {
        let theirs = command_pool(
            &prog,
            ListenKind::Tcp,
            &["-n", "1", "--allowed-clients", "127.0.0.2"],
            &[],
        );
        wait_ready(&theirs, Some(allowed));
        refused_gets_nothing(&theirs);
        ask_from(theirs.addr(), allowed, "lines=0").unwrap();
    }
}
