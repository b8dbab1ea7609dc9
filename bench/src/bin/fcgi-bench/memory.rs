//! Memory: resident set size of a worker when idle and after many kept-alive requests, and
//! heap calls per request counted by the LD_PRELOAD shim `tests/c/malloc_count.c`.

use std::path::Path;
use std::time::Duration;

use fcgi_bench::client::DEFAULT_PARAMS;
use fcgi_bench::load::{self, Amount, Expect, LoadConfig};

use super::{Running, Server};

pub struct Memory {
    pub label: &'static str,
    /// VmRSS in KiB: after start (idle, one probe request served), after the warmup, after
    /// the long run.
    pub rss_idle: u64,
    pub rss_warm: u64,
    pub rss_end: u64,
    pub requests: u64,
    pub warmup: u64,
    /// Allocating calls (malloc, calloc, realloc, the aligned ones) and frees per request.
    pub allocs_keep: f64,
    pub frees_keep: f64,
    pub allocs_new: f64,
    pub frees_new: f64,
    pub new_requests: u64,
    pub error: Option<String>,
}

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// (allocating calls, frees) from the shim's counter file.
fn counts(file: &Path) -> Result<(u64, u64), String> {
    let b = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let word = |i: usize| {
        b.get(i * 8..i * 8 + 8)
            .map(|w| u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])))
            .unwrap_or(0)
    };
    if word(0) != u64::from_le_bytes(*b"MALLOCNT") {
        return Err("the malloc counter file has no magic".into());
    }
    // malloc, calloc, realloc, free, posix_memalign, aligned_alloc, memalign, valloc
    let allocs = word(1) + word(2) + word(3) + word(5) + word(6) + word(7) + word(8);
    Ok((allocs, word(4)))
}

fn cfg(r: &Running, keep_alive: bool, n: u64, expect: &Expect) -> LoadConfig {
    LoadConfig {
        target: r.target.clone(),
        conns: 1,
        keep_alive,
        params: DEFAULT_PARAMS,
        body: 0,
        amount: Amount::Requests(n),
        warmup: Duration::ZERO,
        expect: expect.clone(),
        timeout: Duration::from_secs(10),
        cpu: None,
    }
}

/// One library: start with the shim preloaded, probe, wait, read RSS; warm up; run `n`
/// kept-alive requests; read RSS and counts; then `n_new` requests with a new connection each.
pub fn measure(
    s: &Server,
    shim: &Path,
    dir: &Path,
    seq: &mut u32,
    n: u64,
    n_new: u64,
    expect: &Expect,
) -> Memory {
    let mut m = Memory {
        label: s.label,
        rss_idle: 0,
        rss_warm: 0,
        rss_end: 0,
        requests: n,
        warmup: 10_000,
        allocs_keep: 0.0,
        frees_keep: 0.0,
        allocs_new: 0.0,
        frees_new: 0.0,
        new_requests: n_new,
        error: None,
    };
    if let Err(e) = measure_into(&mut m, s, shim, dir, seq, expect) {
        m.error = Some(e);
    }
    m
}

fn measure_into(
    m: &mut Memory,
    s: &Server,
    shim: &Path,
    dir: &Path,
    seq: &mut u32,
    expect: &Expect,
) -> Result<(), String> {
    let file = dir.join(format!("malloc-count-{}", *seq + 1));
    let mut s = s.clone();
    s.env
        .push(("LD_PRELOAD".into(), shim.display().to_string()));
    s.env
        .push(("MALLOC_COUNT_FILE".into(), file.display().to_string()));
    let r = Running::start(&s, dir, seq, &[])?;
    let check = |res: &load::LoadResult, want: u64| {
        if res.errors > 0 || res.requests != want {
            Err(format!(
                "{} of {want} answered, errors {:?}",
                res.requests, res.error_samples
            ))
        } else {
            Ok(())
        }
    };
    let one = load::run(&cfg(&r, false, 1, expect));
    check(&one, 1)?;
    std::thread::sleep(Duration::from_millis(300));
    m.rss_idle = rss_kib(r.pid());
    check(&load::run(&cfg(&r, true, m.warmup, expect)), m.warmup)?;
    m.rss_warm = rss_kib(r.pid());
    let c0 = counts(&file)?;
    let res = load::run(&cfg(&r, true, m.requests, expect));
    check(&res, m.requests)?;
    let c1 = counts(&file)?;
    m.rss_end = rss_kib(r.pid());
    m.allocs_keep = (c1.0 - c0.0) as f64 / m.requests as f64;
    m.frees_keep = (c1.1 - c0.1) as f64 / m.requests as f64;
    let res = load::run(&cfg(&r, false, m.new_requests, expect));
    check(&res, m.new_requests)?;
    let c2 = counts(&file)?;
    m.allocs_new = (c2.0 - c1.0) as f64 / m.new_requests as f64;
    m.frees_new = (c2.1 - c1.1) as f64 / m.new_requests as f64;
    eprintln!(
        "memory | {:<8} | rss idle {} KiB, warm {} KiB, after {} requests {} KiB | allocs/req kept-alive {:.2}, new conn {:.2}",
        m.label, m.rss_idle, m.rss_warm, m.requests, m.rss_end, m.allocs_keep, m.allocs_new
    );
    Ok(())
}
