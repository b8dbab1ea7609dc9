//! For the process-manager tests that run `tests/c/pm_output.c` in a pool: requests, the
//! master's log, and a process's open descriptors.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use super::client::{Addr, Conn, Request};
use super::procs::{self, App};
use super::wait_for;

/// Parses pm_output's answer `out pid=PID n=N`.
fn parse_answer(body: &str) -> io::Result<(u32, u64)> {
    let rest = body
        .split("out pid=")
        .nth(1)
        .ok_or_else(|| io::Error::other(format!("unexpected answer {body:?}")))?;
    let mut it = rest.split_whitespace();
    let pid = it.next().and_then(|p| p.parse().ok());
    let n = it
        .next()
        .and_then(|n| n.strip_prefix("n="))
        .and_then(|n| n.parse().ok());
    match (pid, n) {
        (Some(p), Some(n)) => Ok((p, n)),
        _ => Err(io::Error::other(format!("unexpected answer {body:?}"))),
    }
}

/// One request to pm_output with `query`; returns the answering worker's pid and its request
/// count.
pub fn ask(addr: &Addr, query: &str) -> io::Result<(u32, u64)> {
    let mut c = Conn::connect(addr)?;
    let r = c.request(&Request::http("GET", &format!("/out?{query}")))?;
    parse_answer(&r.stdout_str())
}

/// [`ask`] from the local address `source` (TCP).
pub fn ask_from(addr: &Addr, source: IpAddr, query: &str) -> io::Result<(u32, u64)> {
    let mut c = Conn::connect_from(addr, source)?;
    let r = c.request(&Request::http("GET", &format!("/out?{query}")))?;
    parse_answer(&r.stdout_str())
}

/// Waits (5 s at most) until a request from `source` (or the default address) is answered.
pub fn wait_ready(app: &App, source: Option<IpAddr>) {
    let up = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        match source {
            Some(s) => ask_from(app.addr(), s, "lines=0"),
            None => ask(app.addr(), "lines=0"),
        }
        .ok()
    });
    assert!(
        up.is_some(),
        "the pool never answered; log:\n{}",
        app.stderr_text()
    );
}

/// The master's log (the app's stderr) once it holds every string of `want` (waits 10 s at
/// most, then panics showing what is missing).
pub fn wait_log(app: &App, want: &[String]) -> String {
    let got = wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
        let log = app.stderr_text();
        want.iter().all(|w| log.contains(w.as_str())).then_some(log)
    });
    got.unwrap_or_else(|| {
        let log = app.stderr_text();
        let missing: Vec<_> = want.iter().filter(|w| !log.contains(w.as_str())).collect();
        panic!("missing from the log: {missing:?}\nlog:\n{log}")
    })
}

/// php-fpm's form of a caught line: `[pool NAME] child PID said into STREAM: "TEXT"`.
pub fn said(pool: &str, pid: u32, stream: &str, text: &str) -> String {
    format!("[pool {pool}] child {pid} said into {stream}: \"{text}\"")
}

/// Asks pm_output `asks` times for two lines on each stream and returns the decorated log
/// lines (pool `www`) those answers promise.
pub fn ask_said_lines(addr: &Addr, asks: usize) -> Vec<String> {
    let mut want = Vec::new();
    for _ in 0..asks {
        let (pid, n) = ask(addr, "lines=2").unwrap();
        for i in 1..=2 {
            want.push(said(
                "www",
                pid,
                "stdout",
                &format!("out {i}/{n} from {pid}"),
            ));
            want.push(said(
                "www",
                pid,
                "stderr",
                &format!("err {i}/{n} from {pid}"),
            ));
        }
    }
    want
}

/// Every caught line of the log carries the time and the warning level in front, and (for
/// pm_output's own lines, which end in `from PID`) the child pid of the prefix is the pid
/// the program printed. Returns how many caught lines there are.
pub fn check_said_lines(log: &str) -> usize {
    let mut n = 0;
    for line in log.lines().filter(|l| l.contains(" said into std")) {
        n += 1;
        assert!(
            line.starts_with('[') && line.contains("] WARNING: [pool "),
            "{line}"
        );
        let prefix_pid = line
            .split(" child ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .unwrap_or("");
        if let Some(text_pid) = line
            .strip_suffix('"')
            .and_then(|l| l.rsplit(" from ").next())
            .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
        {
            assert_eq!(prefix_pid, text_pid, "{line}");
        }
    }
    n
}

/// Open descriptors of `pid`: (number, what `/proc/PID/fd/N` links to).
pub fn fds(pid: u32) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in rd.flatten() {
            let Some(n) = e.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let link = std::fs::read_link(e.path())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            out.push((n, link));
        }
    }
    out.sort();
    out
}

/// What [`recycle_workers`] saw.
pub struct Recycled {
    /// The master's descriptors with its two workers settled, before and after.
    pub before: Vec<(i32, String)>,
    pub after: Vec<(i32, String)>,
    /// Distinct worker pids that answered.
    pub workers: usize,
    /// Requests that found their worker gone (a program that exits after its last request).
    pub failed: usize,
}

/// Sends `requests` requests to a two-worker pm_output pool that recycles its workers, and
/// takes the master's descriptors before and after (each time once both workers are up).
pub fn recycle_workers(app: &App, requests: usize) -> Recycled {
    let master = app.pid();
    let settle = || {
        std::thread::sleep(Duration::from_millis(300));
        wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
            (procs::children_of(master).len() == 2).then_some(())
        })
        .expect("two workers");
    };
    for _ in 0..10 {
        ask(app.addr(), "lines=1").unwrap();
    }
    settle();
    let before = fds(master);
    let mut pids = std::collections::BTreeSet::new();
    let mut failed = 0;
    for _ in 0..requests {
        match ask(app.addr(), "lines=1") {
            Ok((p, _)) => {
                pids.insert(p);
            }
            Err(_) => failed += 1,
        }
    }
    settle();
    let after = fds(master);
    eprintln!(
        "master fds: {} before, {} after {} workers ({failed} requests failed)",
        before.len(),
        after.len(),
        pids.len()
    );
    Recycled {
        before,
        after,
        workers: pids.len(),
        failed,
    }
}
