//! Where the time of a single-connection request goes: the wall time per request split into
//! the responder's CPU time, the client's CPU time, and the rest, during which neither runs
//! (a request or an answer travelling to a sleeping task: the wakeup latency).
//!
//! The responder's time comes from `/proc/PID/task/*/schedstat` (nanoseconds on a CPU, and
//! how many times it was put on a CPU); the client's from `getrusage(RUSAGE_SELF)`, which
//! also counts the load threads after they exit.

use std::path::Path;
use std::time::Duration;

use fcgi_bench::load::{self, Expect};

use super::{placement, requests_cfg, start_warm, Scenario, Server};

/// One responder under one load.
pub struct Split {
    pub requests: u64,
    /// Per request, in microseconds.
    pub wall_us: f64,
    pub responder_us: f64,
    pub client_us: f64,
    /// Times the responder was put on a CPU, per request.
    pub responder_runs: f64,
}

impl Split {
    /// Wall time not covered by either side's CPU time. The two sides overlap a little (the
    /// responder finishes its request while the client already reads the answer), so this is
    /// a lower bound of the time spent waking up.
    pub fn neither_us(&self) -> f64 {
        (self.wall_us - self.responder_us - self.client_us).max(0.0)
    }
}

/// (nanoseconds on a CPU, times put on a CPU), summed over the process's threads.
fn schedstat(pid: i32) -> Result<(u64, u64), String> {
    let dir = format!("/proc/{pid}/task");
    let mut on_cpu = 0u64;
    let mut runs = 0u64;
    for e in std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))? {
        let p = e.map_err(|e| e.to_string())?.path().join("schedstat");
        // A thread may exit between the listing and the read; it is then not counted.
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let f: Vec<u64> = text
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() < 3 {
            return Err(format!("{}: unexpected {text:?}", p.display()));
        }
        on_cpu += f[0];
        runs += f[2];
    }
    Ok((on_cpu, runs))
}

/// This process's user + system CPU time, exited threads included.
fn own_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct it is given and keeps no pointer to it.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Starts `s` placed as `sc` says, warms it up, then measures `n` requests.
pub fn measure(
    s: &Server,
    dir: &Path,
    seq: &mut u32,
    sc: Scenario,
    n: u64,
    expect: &Expect,
) -> Result<Split, String> {
    let r = start_warm(s, dir, seq, sc, &placement(sc), 2000, expect)?;
    let (cpu0, runs0) = schedstat(r.pid())?;
    let own0 = own_cpu();
    let res = load::run(&requests_cfg(&r.target, sc, n, expect));
    let own1 = own_cpu();
    let (cpu1, runs1) = schedstat(r.pid())?;
    drop(r);
    if res.errors > 0 || res.requests == 0 {
        return Err(format!("{} errors: {:?}", res.errors, res.error_samples));
    }
    let per = |x: f64| x / res.requests as f64;
    Ok(Split {
        requests: res.requests,
        wall_us: per(res.elapsed.as_secs_f64() * 1e6),
        responder_us: per((cpu1 - cpu0) as f64 / 1e3),
        client_us: per((own1 - own0).as_secs_f64() * 1e6),
        responder_runs: per((runs1 - runs0) as f64),
    })
}
