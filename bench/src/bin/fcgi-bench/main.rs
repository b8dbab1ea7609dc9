//! fcgi-bench: the side-by-side benchmark runner.
//!
//! Runs the same C responder (`hello`) linked with Debian's libfcgi and with fcgi_rs, the Rust
//! hello example and the floor responder, each started fresh with a unix listen socket on
//! fd 0, under the same loads, alternating between them round after round. Then counts
//! syscalls per request (strace -c) and instructions per request (callgrind), runs both
//! libraries end to end behind nginx with wrk (and php-fpm beside them), times 64 MiB
//! downloads and uploads, and measures memory and heap calls per request. Builds nothing but
//! two small C helpers (the upload sink and the malloc counter) in its temporary directory:
//! run `make`, `cargo build --release -p fcgi-bench` and
//! `cargo build --release --example hello` first. Writes a markdown report and an SVG plot.

mod bodies;
mod memory;
mod nginx;
mod plot;
mod split;

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use fcgi_bench::client::{Target, DEFAULT_PARAMS};
use fcgi_bench::load::{self, Amount, Expect, LoadConfig, LoadResult};

const USAGE: &str = "usage: fcgi-bench [options]
  --quick             a smoke run of about a minute (1 round, short runs, no callgrind,
                      small memory run); the report goes to the temporary directory
  --rounds N          rounds of every load (default 5)
  --duration SECS     measured seconds per run (default 2)
  --warmup SECS       warmup seconds per run (default 0.5)
  --libfcgi PATH      hello linked with libfcgi (default build/bin-libfcgi/hello)
  --fcgi-rs PATH      hello linked with fcgi_rs (default build/bin/hello)
  --rust-hello PATH   the Rust hello example (default: examples/hello next to this program)
  --floor PATH        the floor responder (default: fcgi-floor next to this program)
  --out PATH          the report (default bench/results/latest.md); the plot is written
                      next to it with the extension .svg
  --no-strace         skip the syscall counts
  --no-callgrind      skip the instruction counts
  --no-nginx          skip the end-to-end runs through nginx
  --no-bodies         skip the large bodies
  --no-memory         skip the memory run
  --no-split          skip the split of single-connection request time
  --strace-requests N requests per syscall count (default 2000)
  --callgrind-requests N  requests per instruction count (default 2000)
  --nginx-duration SECS   seconds per wrk run (default 4)
  --body-size BYTES   download and upload size (default 67108864)
  --memory-requests N kept-alive requests of the memory run (default 1000000)
  --wait-quiet SECS   before starting, wait up to SECS for CPU pressure (some avg10) below 10%";

#[derive(Clone)]
struct Opts {
    quick: bool,
    rounds: usize,
    duration: Duration,
    warmup: Duration,
    libfcgi: PathBuf,
    fcgi_rs: PathBuf,
    rust_hello: PathBuf,
    floor: PathBuf,
    out: PathBuf,
    strace: bool,
    callgrind: bool,
    nginx: bool,
    bodies: bool,
    memory: bool,
    split: bool,
    strace_requests: u64,
    callgrind_requests: u64,
    nginx_duration: f64,
    body_size: u64,
    memory_requests: u64,
    wait_quiet: f64,
    argv: Vec<String>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn parse_opts() -> Result<Opts, String> {
    let root = repo_root();
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        quick: false,
        rounds: 5,
        duration: Duration::from_secs(2),
        warmup: Duration::from_millis(500),
        libfcgi: root.join("build/bin-libfcgi/hello"),
        fcgi_rs: root.join("build/bin/hello"),
        rust_hello: exe_dir.join("examples/hello"),
        floor: exe_dir.join("fcgi-floor"),
        out: root.join("bench/results/latest.md"),
        strace: true,
        callgrind: true,
        nginx: true,
        bodies: true,
        memory: true,
        split: true,
        strace_requests: 2000,
        callgrind_requests: 2000,
        nginx_duration: 4.0,
        body_size: 64 << 20,
        memory_requests: 1_000_000,
        wait_quiet: 0.0,
        argv: argv.clone(),
    };
    let (mut rounds, mut duration, mut warmup, mut cg, mut out, mut ngd, mut memn) =
        (None, None, None, None, None, None, None);
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        let secs = |v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64)
                .ok_or(format!("bad seconds: {v}"))
        };
        let num = |v: String| v.parse::<u64>().map_err(|_| format!("bad number: {v}"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--rounds" => rounds = Some(num(val()?)?.max(1) as usize),
            "--duration" => duration = Some(secs(val()?)?),
            "--warmup" => warmup = Some(secs(val()?)?),
            "--libfcgi" => o.libfcgi = val()?.into(),
            "--fcgi-rs" => o.fcgi_rs = val()?.into(),
            "--rust-hello" => o.rust_hello = val()?.into(),
            "--floor" => o.floor = val()?.into(),
            "--out" => out = Some(PathBuf::from(val()?)),
            "--no-strace" => o.strace = false,
            "--no-callgrind" => o.callgrind = false,
            "--no-nginx" => o.nginx = false,
            "--no-bodies" => o.bodies = false,
            "--no-memory" => o.memory = false,
            "--no-split" => o.split = false,
            "--strace-requests" => o.strace_requests = num(val()?)?.max(1),
            "--callgrind-requests" => {
                o.callgrind_requests = num(val()?)?.max(8);
                cg = Some(());
            }
            "--nginx-duration" => ngd = Some(secs(val()?)?.as_secs_f64()),
            "--body-size" => o.body_size = num(val()?)?.max(1),
            "--memory-requests" => memn = Some(num(val()?)?.max(1)),
            "--wait-quiet" => o.wait_quiet = secs(val()?)?.as_secs_f64(),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if o.quick {
        o.rounds = 1;
        o.duration = Duration::from_millis(400);
        o.warmup = Duration::from_millis(100);
        o.strace_requests = o.strace_requests.min(300);
        o.nginx_duration = 1.0;
        o.memory_requests = 20_000;
        o.out = std::env::temp_dir().join("fcgi-bench-quick.md");
        if cg.is_none() {
            o.callgrind = false;
        }
    }
    o.rounds = rounds.unwrap_or(o.rounds);
    o.duration = duration.unwrap_or(o.duration);
    o.warmup = warmup.unwrap_or(o.warmup);
    o.nginx_duration = ngd.unwrap_or(o.nginx_duration);
    o.memory_requests = memn.unwrap_or(o.memory_requests);
    if let Some(p) = out {
        o.out = p;
    }
    Ok(o)
}

/// One of the responders under test.
#[derive(Clone)]
struct Server {
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// A responder process with its own listen socket, stopped on drop.
struct Running {
    child: Child,
    target: Target,
}

impl Running {
    fn start(s: &Server, dir: &Path, seq: &mut u32, prefix: &[String]) -> Result<Running, String> {
        *seq += 1;
        let path = dir.join(format!("s{seq}.sock"));
        let l = UnixListener::bind(&path).map_err(|e| format!("bind: {e}"))?;
        let log = File::create(dir.join(format!("s{seq}.log"))).map_err(|e| e.to_string())?;
        let mut cmd = if prefix.is_empty() {
            Command::new(&s.program)
        } else {
            let mut c = Command::new(&prefix[0]);
            c.args(&prefix[1..]).arg(&s.program);
            c
        };
        cmd.args(&s.args)
            .envs(s.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::from(OwnedFd::from(l)))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        // A program being rebuilt at this moment cannot be run; wait a little for it.
        let mut tries = 0;
        let child = loop {
            match cmd.spawn() {
                Ok(c) => break c,
                Err(e) if tries < 40 => {
                    tries += 1;
                    eprintln!("{}: {e}; retrying", shown(&s.program));
                    thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(format!("{}: {e}", shown(&s.program))),
            }
        };
        Ok(Running {
            child,
            target: Target::Unix(path),
        })
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    fn stop(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        if let Ok(Some(st)) = self.child.try_wait() {
            return Some(st);
        }
        signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            thread::sleep(Duration::from_millis(5));
        }
        signal(self.pid(), libc::SIGKILL);
        let _ = self.child.wait();
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(1));
    }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) takes no pointers; `pid` is a child we started and have not reaped.
    unsafe { libc::kill(pid, sig) };
}

#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    conns: usize,
    keep_alive: bool,
    /// Responder and client threads all on [`ONE_CPU`]. Otherwise the scheduler places them,
    /// and on this 2-CPU machine each request and each answer then wakes the other, idle CPU.
    one_cpu: bool,
}

/// The CPU of the one-CPU scenarios.
const ONE_CPU: usize = 0;

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "new connection per request, 1 client",
        conns: 1,
        keep_alive: false,
        one_cpu: false,
    },
    Scenario {
        name: "kept-alive, 1 connection",
        conns: 1,
        keep_alive: true,
        one_cpu: false,
    },
    Scenario {
        name: "kept-alive, 4 connections",
        conns: 4,
        keep_alive: true,
        one_cpu: false,
    },
    Scenario {
        name: "kept-alive, 16 connections",
        conns: 16,
        keep_alive: true,
        one_cpu: false,
    },
    Scenario {
        name: "kept-alive, 64 connections",
        conns: 64,
        keep_alive: true,
        one_cpu: false,
    },
    Scenario {
        name: "new connection per request, 1 client, one CPU",
        conns: 1,
        keep_alive: false,
        one_cpu: true,
    },
    Scenario {
        name: "kept-alive, 1 connection, one CPU",
        conns: 1,
        keep_alive: true,
        one_cpu: true,
    },
];

/// Indexes into [`SCENARIOS`] of the single-connection loads.
const SC_NEW: usize = 0;
const SC_KEPT: usize = 1;
const SC_NEW_ONE_CPU: usize = 5;
const SC_KEPT_ONE_CPU: usize = 6;

fn load_cfg(
    target: &Target,
    sc: Scenario,
    amount: Amount,
    warmup: Duration,
    expect: &Expect,
) -> LoadConfig {
    LoadConfig {
        target: target.clone(),
        conns: sc.conns,
        keep_alive: sc.keep_alive,
        params: DEFAULT_PARAMS,
        body: 0,
        amount,
        warmup,
        expect: expect.clone(),
        timeout: Duration::from_secs(10),
        cpu: sc.one_cpu.then_some(ONE_CPU),
    }
}

/// The command prefix that starts a responder for `sc`.
fn placement(sc: Scenario) -> Vec<String> {
    if sc.one_cpu {
        vec!["taskset".into(), "-c".into(), ONE_CPU.to_string()]
    } else {
        Vec::new()
    }
}

fn load_cmd(sc: Scenario, o: &Opts) -> String {
    format!(
        "fcgi-load -u $SOCK -c {} {}{} -w {} -d {} -e \"$EXPECTED\" --json",
        sc.conns,
        if sc.keep_alive { "-k" } else { "-n" },
        if sc.one_cpu {
            format!(" -a {ONE_CPU}")
        } else {
            String::new()
        },
        o.warmup.as_secs_f64(),
        o.duration.as_secs_f64()
    )
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// All rounds of one (scenario, server) pair.
#[derive(Default)]
struct Cell {
    runs: Vec<LoadResult>,
}

impl Cell {
    fn med(&self, f: impl Fn(&LoadResult) -> f64) -> f64 {
        let mut v: Vec<f64> = self.runs.iter().map(f).collect();
        median(&mut v)
    }
    fn rps(&self) -> f64 {
        self.med(|r| r.rps)
    }
    /// The highest req/s of any round: other work on the machine only ever lowers it.
    fn best(&self) -> f64 {
        self.runs.iter().map(|r| r.rps).fold(0.0, f64::max)
    }
    /// The round with the median req/s (the lower middle one for an even count).
    fn median_run(&self) -> Option<&LoadResult> {
        let mut v: Vec<&LoadResult> = self.runs.iter().collect();
        v.sort_by(|a, b| a.rps.total_cmp(&b.rps));
        v.get(v.len().saturating_sub(1) / 2).copied()
    }
}

fn main() -> ExitCode {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("fcgi-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fcgi-bench: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(o: &Opts) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("fcgi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = run_in(o, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn mode_name(sc: Scenario) -> String {
    if sc.keep_alive {
        "kept-alive".into()
    } else {
        "new connection".into()
    }
}

/// A path as the report shows it: relative to the repository, or just the file name.
fn shown(p: &Path) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if let Some(root) = root.parent() {
        if let Ok(rel) = p.strip_prefix(root) {
            return rel.display().to_string();
        }
    }
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A load of exactly `n` requests, without warmup.
fn requests_cfg(target: &Target, sc: Scenario, n: u64, expect: &Expect) -> LoadConfig {
    load_cfg(target, sc, Amount::Requests(n), Duration::ZERO, expect)
}

/// Starts `s` (under `prefix`) and sends it `warm` requests of `sc`, all of which must be
/// answered.
fn start_warm(
    s: &Server,
    dir: &Path,
    seq: &mut u32,
    sc: Scenario,
    prefix: &[String],
    warm: u64,
    expect: &Expect,
) -> Result<Running, String> {
    let r = Running::start(s, dir, seq, prefix)?;
    let w = load::run(&requests_cfg(&r.target, sc, warm, expect));
    if w.errors > 0 || w.requests == 0 {
        return Err(format!("warmup failed: {:?}", w.error_samples));
    }
    Ok(r)
}

struct SyscallCount {
    total: u64,
    requests: u64,
    /// (syscall, calls), most frequent first.
    calls: Vec<(String, u64)>,
}

/// Starts `s`, warms it up, attaches `strace -c -f`, sends `n` requests, detaches.
fn strace_count(
    s: &Server,
    dir: &Path,
    seq: &mut u32,
    sc: Scenario,
    n: u64,
    expect: &Expect,
) -> Result<SyscallCount, String> {
    let r = start_warm(s, dir, seq, sc, &[], 200, expect)?;
    let out = dir.join(format!("strace-{}.txt", *seq));
    let mut st = Command::new("strace")
        .args(["-c", "-f", "-o"])
        .arg(&out)
        .args(["-p", &r.pid().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("strace: {e}"))?;
    let stderr = st.stderr.take().ok_or("strace stderr")?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("attached") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(5)).is_err() {
        signal(st.id() as i32, libc::SIGKILL);
        let _ = st.wait();
        return Err("strace did not attach".into());
    }
    thread::sleep(Duration::from_millis(50));
    let res = load::run(&requests_cfg(&r.target, sc, n, expect));
    thread::sleep(Duration::from_millis(50));
    signal(st.id() as i32, libc::SIGINT);
    let _ = st.wait();
    drop(r);
    if res.errors > 0 {
        return Err(format!("{} errors: {:?}", res.errors, res.error_samples));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("strace output: {e}"))?;
    let mut calls = Vec::new();
    let mut total = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if !(5..=6).contains(&f.len()) || f[0].parse::<f64>().is_err() {
            continue;
        }
        let (Ok(c), name) = (f[3].parse::<u64>(), f[f.len() - 1]) else {
            continue;
        };
        if name == "total" {
            total = c;
        } else {
            calls.push((name.to_string(), c));
        }
    }
    calls.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(SyscallCount {
        total,
        requests: res.requests,
        calls,
    })
}

/// Instructions per request: two runs under callgrind with `n/4` and `n` requests; the
/// difference cancels start-up and shutdown.
fn callgrind_count(
    s: &Server,
    dir: &Path,
    seq: &mut u32,
    sc: Scenario,
    n: u64,
    expect: &Expect,
) -> Result<f64, String> {
    let counts = [n / 4, n];
    let mut ir = [0u64; 2];
    for (i, &k) in counts.iter().enumerate() {
        let out = dir.join(format!("callgrind-{}-{i}.out", *seq + 1));
        let prefix = vec![
            "valgrind".to_string(),
            "--tool=callgrind".to_string(),
            format!("--callgrind-out-file={}", out.display()),
        ];
        let mut r = Running::start(s, dir, seq, &prefix)?;
        let mut cfg = requests_cfg(&r.target, sc, k, expect);
        cfg.timeout = Duration::from_secs(60);
        let res = load::run(&cfg);
        r.stop(Duration::from_secs(30));
        if res.errors > 0 || res.requests != k {
            return Err(format!(
                "{} of {k} answered, errors {:?}",
                res.requests, res.error_samples
            ));
        }
        let text = std::fs::read_to_string(&out).map_err(|e| format!("callgrind output: {e}"))?;
        ir[i] = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("summary:")
                    .or_else(|| l.strip_prefix("totals:"))
            })
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or("no totals in the callgrind output")?;
    }
    Ok((ir[1] as f64 - ir[0] as f64) / (counts[1] - counts[0]) as f64)
}

/// `/proc/pressure/cpu` "some avg60": the share of the last minute in which some runnable
/// task waited for a CPU. Other work on the machine shows up here.
fn cpu_pressure() -> String {
    std::fs::read_to_string("/proc/pressure/cpu")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("some"))
                .and_then(|l| l.split_whitespace().find_map(|f| f.strip_prefix("avg60=")))
                .map(|v| format!("{v}%"))
        })
        .unwrap_or_else(|| "n/a".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let cmd = |c: &str, a: &[&str]| {
        Command::new(c)
            .args(a)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_default();
    let libfcgi = cmd("dpkg-query", &["-W", "-f=${Version}", "libfcgi0ldbl"]);
    let libfcgi = if libfcgi.is_empty() {
        cmd("dpkg-query", &["-W", "-f=${Version}", "libfcgi0t64"])
    } else {
        libfcgi
    };
    format!(
        "- CPU: {cpu}, {cores} cores (nproc)\n- OS: {os}, kernel {}\n- libfcgi: Debian package {}\n- date: {}\n",
        cmd("uname", &["-r"]),
        if libfcgi.is_empty() { "?".to_string() } else { libfcgi },
        cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    )
}

/// "some avg10" of `/proc/pressure/cpu`, in percent.
fn pressure_avg10() -> Option<f64> {
    std::fs::read_to_string("/proc/pressure/cpu")
        .ok()?
        .lines()
        .find(|l| l.starts_with("some"))?
        .split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()
}

/// "avg10 X%, avg60 Y%" of CPU pressure right now.
fn pressure_now() -> String {
    format!(
        "avg10 {}, avg60 {}",
        pressure_avg10().map_or("n/a".into(), |v| format!("{v:.2}%")),
        cpu_pressure()
    )
}

/// Everything one run measured.
struct Results {
    servers: Vec<Server>,
    cells: Vec<Vec<Cell>>,
    strace_rows: Vec<(String, String, Result<SyscallCount, String>)>,
    cg_rows: Vec<(String, String, Result<f64, String>)>,
    nginx: Option<nginx::Report>,
    bodies: Vec<bodies::Bulk>,
    memory: Vec<memory::Memory>,
    splits: Vec<(String, String, Result<split::Split, String>)>,
    /// (section, CPU pressure before, after)
    pressure: Vec<(String, String, String)>,
    notes: Vec<String>,
    took: Duration,
}

fn cc(args: &[&str]) -> Result<(), String> {
    let out = Command::new("cc")
        .args(args)
        .output()
        .map_err(|e| format!("cc: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cc {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn section<T>(
    pressure: &mut Vec<(String, String, String)>,
    name: &str,
    f: impl FnOnce() -> T,
) -> T {
    let before = pressure_now();
    eprintln!("== {name} (CPU pressure {before})");
    let t = f();
    pressure.push((name.to_string(), before, pressure_now()));
    t
}

fn run_in(o: &Opts, dir: &Path) -> Result<String, String> {
    let started = Instant::now();
    let mut notes: Vec<String> = Vec::new();
    let mut pressure = Vec::new();
    let mut seq = 0u32;

    if o.wait_quiet > 0.0 {
        let deadline = Instant::now() + Duration::from_secs_f64(o.wait_quiet);
        let waited = Instant::now();
        while pressure_avg10().is_some_and(|p| p >= 10.0) && Instant::now() < deadline {
            thread::sleep(Duration::from_secs(5));
        }
        notes.push(format!(
            "waited {:.0} s for CPU pressure below 10% (`--wait-quiet {}`); at the start: {}",
            waited.elapsed().as_secs_f64(),
            o.wait_quiet,
            pressure_now()
        ));
    }

    // Which responders exist.
    let mut servers: Vec<Server> = Vec::new();
    for (label, p) in [
        ("libfcgi", &o.libfcgi),
        ("fcgi_rs", &o.fcgi_rs),
        ("fcgi_rs Rust", &o.rust_hello),
    ] {
        if p.exists() {
            servers.push(Server {
                label,
                program: p.clone(),
                args: vec![],
                env: vec![],
            });
        } else {
            notes.push(format!(
                "{label}: `{}` not found (run `make` and `cargo build --release --example hello`); its figures are pending.",
                shown(p)
            ));
        }
    }
    if !o.floor.exists() {
        return Err(format!(
            "{} not found: cargo build --release -p fcgi-bench",
            o.floor.display()
        ));
    }

    // Learn every responder's answer; every later response must match it byte for byte. The
    // floor answers the C hello's bytes.
    let mut expects: Vec<Expect> = Vec::new();
    let mut c_body: Option<Vec<u8>> = None;
    let mut keep = Vec::new();
    for s in servers {
        let r = Running::start(&s, dir, &mut seq, &[])?;
        match load::probe(&r.target, DEFAULT_PARAMS, Duration::from_secs(5)) {
            Ok(b) if !b.is_empty() => {
                if c_body.is_none() && s.label != "fcgi_rs Rust" {
                    c_body = Some(b.clone());
                }
                expects.push(Expect::Exact(b));
                keep.push(s);
            }
            Ok(_) => notes.push(format!("{}: empty answer to the probe request.", s.label)),
            Err(e) => notes.push(format!("{}: probe request failed: {e}", s.label)),
        }
    }
    let mut servers = keep;
    let mut floor = Server {
        label: "floor",
        program: o.floor.clone(),
        args: vec![],
        env: vec![],
    };
    if let Some(b) = &c_body {
        let f = dir.join("expected.body");
        std::fs::write(&f, b).map_err(|e| e.to_string())?;
        floor.args = vec!["-f".into(), f.to_string_lossy().into_owned()];
        expects.push(Expect::Exact(b.clone()));
    } else {
        expects.push(Expect::NonEmpty);
    }
    servers.push(floor);

    // Throughput and latency: every round runs every scenario on every server, rotating the
    // order of the servers from round to round.
    let ns = servers.len();
    let mut cells: Vec<Vec<Cell>> = SCENARIOS
        .iter()
        .map(|_| (0..ns).map(|_| Cell::default()).collect())
        .collect();
    section(&mut pressure, "throughput and latency", || {
        for round in 0..o.rounds {
            for (si, sc) in SCENARIOS.iter().enumerate() {
                for k in 0..ns {
                    let vi = (k + round) % ns;
                    let s = &servers[vi];
                    let mut r = match Running::start(s, dir, &mut seq, &placement(*sc)) {
                        Ok(r) => r,
                        Err(e) => {
                            notes.push(format!(
                                "round {}, {}, {}: not run: {e}",
                                round + 1,
                                sc.name,
                                s.label
                            ));
                            continue;
                        }
                    };
                    let cfg = load_cfg(
                        &r.target,
                        *sc,
                        Amount::Duration(o.duration),
                        o.warmup,
                        &expects[vi],
                    );
                    let res = load::run(&cfg);
                    r.stop(Duration::from_secs(1));
                    eprintln!(
                        "round {} | {:<40} | {:<12} | {}",
                        round + 1,
                        sc.name,
                        s.label,
                        res.to_kv()
                    );
                    cells[si][vi].runs.push(res);
                }
            }
        }
    });

    // Where the time of a single-connection request goes.
    let mut splits = Vec::new();
    if o.split {
        section(&mut pressure, "time split", || {
            for si in [SC_KEPT, SC_NEW, SC_KEPT_ONE_CPU, SC_NEW_ONE_CPU] {
                let sc = SCENARIOS[si];
                for (vi, s) in servers.iter().enumerate() {
                    if s.label == "fcgi_rs Rust" {
                        continue;
                    }
                    let n = if o.quick { 2000 } else { 20_000 };
                    let r = split::measure(s, dir, &mut seq, sc, n, &expects[vi]);
                    splits.push((s.label.to_string(), sc.name.to_string(), r));
                }
            }
        });
    }

    // Syscalls per request.
    let mut strace_rows: Vec<(String, String, Result<SyscallCount, String>)> = Vec::new();
    if o.strace {
        section(&mut pressure, "syscalls", || {
            for sc in [SCENARIOS[SC_KEPT], SCENARIOS[SC_NEW]] {
                for (vi, s) in servers.iter().enumerate() {
                    let r = strace_count(s, dir, &mut seq, sc, o.strace_requests, &expects[vi]);
                    strace_rows.push((s.label.to_string(), mode_name(sc), r));
                }
            }
        });
    }

    // Instructions per request.
    let mut cg_rows: Vec<(String, String, Result<f64, String>)> = Vec::new();
    if o.callgrind {
        section(&mut pressure, "instructions", || {
            for sc in [SCENARIOS[SC_KEPT], SCENARIOS[SC_NEW]] {
                for (vi, s) in servers.iter().enumerate() {
                    let r =
                        callgrind_count(s, dir, &mut seq, sc, o.callgrind_requests, &expects[vi]);
                    cg_rows.push((s.label.to_string(), mode_name(sc), r));
                }
            }
        });
    }

    // End to end through nginx.
    let mut nginx_report = None;
    if o.nginx {
        let mut backends = Vec::new();
        for (label, kind, p) in [
            (
                "libfcgi + spawn-fcgi",
                nginx::Kind::Libfcgi,
                o.libfcgi.clone(),
            ),
            (
                "fcgi_rs + its process manager",
                nginx::Kind::FcgiRs,
                o.fcgi_rs.clone(),
            ),
            ("php-fpm", nginx::Kind::PhpFpm, PathBuf::from("php-fpm8.2")),
        ] {
            let found = p.exists() || Command::new(&p).arg("-v").output().is_ok();
            if found {
                backends.push(nginx::Backend {
                    label,
                    kind,
                    program: p,
                });
            } else {
                notes.push(format!(
                    "{label}: `{}` not found; not run behind nginx.",
                    shown(&p)
                ));
            }
        }
        let rounds = if o.quick { 1 } else { 3 };
        let warm = 1.0;
        nginx_report = Some(section(&mut pressure, "nginx", || {
            nginx::run(&backends, dir, rounds, o.nginx_duration, warm)
        }));
    }

    // Large bodies.
    let mut bulk = Vec::new();
    if o.bodies {
        // (direction, program per library): large_output, then the two bench helpers.
        let mut groups: Vec<(&'static str, Vec<Server>)> = vec![
            ("download, large_output", Vec::new()),
            ("download, source", Vec::new()),
            ("upload, sink", Vec::new()),
        ];
        let include = repo_root().join("include");
        for (label, hello) in [("libfcgi", &o.libfcgi), ("fcgi_rs", &o.fcgi_rs)] {
            let server = |program: PathBuf| Server {
                label,
                program,
                args: vec![],
                env: vec![],
            };
            let bin = hello.parent().unwrap_or(Path::new(".")).to_path_buf();
            let lo = bin.join("large_output");
            if lo.exists() {
                groups[0].1.push(server(lo));
            } else {
                notes.push(format!("{label}: `{}` not found (run `make`).", shown(&lo)));
            }
            for (gi, name) in [(1, "source"), (2, "sink")] {
                let exe = dir.join(format!("{name}-{label}"));
                let src = repo_root().join(format!("bench/c/{name}.c"));
                let (s, src) = (exe.display().to_string(), src.display().to_string());
                let built = if label == "libfcgi" {
                    cc(&["-O2", "-o", &s, &src, "-lfcgi"])
                } else {
                    let lib = bin.parent().unwrap_or(Path::new(".")).join("lib");
                    let lib = lib.display().to_string();
                    cc(&[
                        "-O2",
                        &format!("-I{}", include.display()),
                        "-o",
                        &s,
                        &src,
                        &format!("-L{lib}"),
                        "-lfcgi_rs",
                        &format!("-Wl,-rpath,{lib}"),
                    ])
                };
                match built {
                    Ok(()) => groups[gi].1.push(server(exe)),
                    Err(e) => notes.push(format!("{label}: bench/c/{name}.c did not build: {e}")),
                }
            }
        }
        let rounds = if o.quick { 1 } else { 5 };
        bulk = section(&mut pressure, "large bodies", || {
            bodies::run(&groups, dir, &mut seq, o.body_size, rounds)
        });
    }

    // Memory and heap calls.
    let mut mem = Vec::new();
    if o.memory {
        let shim = dir.join("malloc_count.so");
        let src = repo_root().join("tests/c/malloc_count.c");
        match cc(&[
            "-shared",
            "-fPIC",
            "-O2",
            "-o",
            &shim.display().to_string(),
            &src.display().to_string(),
        ]) {
            Ok(()) => {
                mem = section(&mut pressure, "memory", || {
                    servers
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.label == "libfcgi" || s.label == "fcgi_rs")
                        .map(|(vi, s)| {
                            memory::measure(
                                s,
                                &shim,
                                dir,
                                &mut seq,
                                o.memory_requests,
                                20_000.min(o.memory_requests),
                                &expects[vi],
                            )
                        })
                        .collect()
                });
            }
            Err(e) => notes.push(format!("the malloc counting shim did not build: {e}")),
        }
    }

    let res = Results {
        servers,
        cells,
        strace_rows,
        cg_rows,
        nginx: nginx_report,
        bodies: bulk,
        memory: mem,
        splits,
        pressure,
        notes,
        took: started.elapsed(),
    };
    let plot_path = o.out.with_extension("svg");
    let report = render(o, &res, &plot_path);
    if let Some(parent) = o.out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&plot_path, throughput_plot(&res, o))
        .map_err(|e| format!("{}: {e}", plot_path.display()))?;
    std::fs::write(&o.out, &report).map_err(|e| format!("{}: {e}", o.out.display()))?;
    Ok(report)
}

fn throughput_plot(r: &Results, o: &Opts) -> String {
    let kept: Vec<usize> = SCENARIOS
        .iter()
        .enumerate()
        .filter(|(_, s)| s.keep_alive && !s.one_cpu)
        .map(|(i, _)| i)
        .collect();
    let xs: Vec<String> = kept
        .iter()
        .map(|&i| SCENARIOS[i].conns.to_string())
        .collect();
    let xs: Vec<&str> = xs.iter().map(String::as_str).collect();
    let colors = [
        ("floor", "#888888", true),
        ("libfcgi", "#d62728", false),
        ("fcgi_rs", "#1f77b4", false),
        ("fcgi_rs Rust", "#2ca02c", true),
    ];
    let series: Vec<plot::Series> = colors
        .iter()
        .filter_map(|&(label, color, dashed)| {
            let vi = r.servers.iter().position(|s| s.label == label)?;
            Some(plot::Series {
                label: if label == "fcgi_rs Rust" {
                    "fcgi_rs (Rust hello)"
                } else {
                    label
                },
                color,
                dashed,
                values: kept
                    .iter()
                    .map(|&si| {
                        let c = &r.cells[si][vi];
                        (!c.runs.is_empty()).then(|| c.rps())
                    })
                    .collect(),
            })
        })
        .collect();
    plot::svg(
        "hello, kept-alive connections: requests/s (median of rounds)",
        &format!(
            "{} round(s) of {} s; libfcgi serves only one of several connections",
            o.rounds,
            o.duration.as_secs_f64()
        ),
        &xs,
        "kept-alive client connections",
        &series,
    )
}

/// `a / b` for the report; a backend that answered nothing (b = 0) is named as such.
fn ratio_text(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "∞ (it answered none)".into()
    }
}

/// One row of the targets table.
struct Goal {
    target: String,
    measured: String,
    met: Option<bool>,
}

fn yes_no(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

fn goals(r: &Results) -> Vec<Goal> {
    let idx = |l: &str| r.servers.iter().position(|s| s.label == l);
    let (lib, rs, floor, rust) = (
        idx("libfcgi"),
        idx("fcgi_rs"),
        idx("floor"),
        idx("fcgi_rs Rust"),
    );
    let rps = |si: usize, v: Option<usize>| {
        v.map(|v| &r.cells[si][v])
            .filter(|c| !c.runs.is_empty())
            .map(Cell::rps)
    };
    let ratio = |si: usize, a: Option<usize>, b: Option<usize>| match (rps(si, a), rps(si, b)) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let mut g = Vec::new();
    // The floor ÷ libfcgi ratio is the most any responder could show in the same run: where it
    // is below a target, the target is out of reach on this machine for that load.
    let fmt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
    for (si, name, want_lib) in [
        (SC_NEW, "new connection", 1.45),
        (SC_KEPT, "kept-alive 1 connection", 1.25),
        (SC_NEW_ONE_CPU, "new connection, one CPU", 1.45),
        (SC_KEPT_ONE_CPU, "kept-alive 1 connection, one CPU", 1.25),
    ] {
        let (a, b) = (ratio(si, rs, lib), ratio(si, rs, floor));
        g.push(Goal {
            target: format!("{name}: ≥ {want_lib}× libfcgi and ≥ 0.9× floor (req/s, median)"),
            measured: format!(
                "{} × libfcgi, {} × floor (floor ÷ libfcgi: {})",
                fmt(a),
                fmt(b),
                fmt(ratio(si, floor, lib))
            ),
            met: a.zip(b).map(|(a, b)| a >= want_lib && b >= 0.9),
        });
    }
    if let Some(v) = rs {
        let p99_1 = r.cells[SC_KEPT][v].med(|x| x.p99_us);
        let mut parts = Vec::new();
        let mut met = !r.cells[SC_KEPT][v].runs.is_empty();
        for (si, sc) in SCENARIOS.iter().enumerate().filter(|(_, s)| s.conns > 1) {
            let c = &r.cells[si][v];
            let (mn, un) = c
                .median_run()
                .map_or((0, 1), |x| (x.per_conn_min(), x.unanswered));
            let p99 = c.med(|x| x.p99_us);
            let ok = !c.runs.is_empty() && mn > 0 && un == 0 && p99 <= 2.0 * p99_1;
            met &= ok;
            parts.push(format!(
                "{}: min {mn} req/conn, p99 {p99:.0} µs = {:.1}×",
                sc.conns,
                if p99_1 > 0.0 { p99 / p99_1 } else { 0.0 }
            ));
        }
        g.push(Goal {
            target: "4–64 kept-alive connections: every connection served, p99 within 2× of the 1-connection p99".into(),
            measured: format!("1-conn p99 {p99_1:.0} µs; {}", parts.join("; ")),
            met: Some(met),
        });
    }
    let cg = |label: &str, mode: &str| {
        r.cg_rows
            .iter()
            .find(|(l, m, _)| l == label && m == mode)
            .and_then(|(_, _, v)| v.as_ref().ok().copied())
    };
    for mode in ["kept-alive", "new connection"] {
        let (a, b) = (cg("fcgi_rs", mode), cg("libfcgi", mode));
        g.push(Goal {
            target: format!("instructions/request ({mode}) ≤ 0.5× libfcgi"),
            measured: match (a, b) {
                (Some(a), Some(b)) => format!("{a:.0} vs {b:.0} = {:.2}×", a / b),
                _ => "-".into(),
            },
            met: a.zip(b).map(|(a, b)| a <= 0.5 * b),
        });
    }
    let sc = |mode: &str| {
        r.strace_rows
            .iter()
            .find(|(l, m, _)| l == "fcgi_rs" && m == mode)
            .and_then(|(_, _, v)| v.as_ref().ok())
            .filter(|c| c.requests > 0)
            .map(|c| c.total as f64 / c.requests as f64)
    };
    let (ka, nc) = (sc("kept-alive"), sc("new connection"));
    g.push(Goal {
        target: "syscalls: 2 per kept-alive request, ≤ 4 per new connection".into(),
        measured: format!(
            "{} kept-alive, {} new connection",
            ka.map_or("-".into(), |v| format!("{v:.2}")),
            nc.map_or("-".into(), |v| format!("{v:.2}"))
        ),
        met: ka.zip(nc).map(|(a, b)| a <= 2.005 && b <= 4.005),
    });
    for dir in ["download, large_output", "download, source", "upload, sink"] {
        let m = |l: &str| {
            r.bodies
                .iter()
                .find(|b| b.label == l && b.direction == dir && !b.mbps.is_empty())
                .map(bodies::Bulk::median)
        };
        let (a, b) = (m("fcgi_rs"), m("libfcgi"));
        let ceiling = r
            .bodies
            .iter()
            .find(|b| b.label == bodies::SOCKET_COPY && !b.mbps.is_empty())
            .map(bodies::Bulk::median);
        g.push(Goal {
            target: format!("large bodies ({dir}, 64 MiB): ≥ 2× libfcgi MB/s"),
            measured: match (a, b) {
                (Some(a), Some(b)) => format!(
                    "{a:.0} vs {b:.0} MB/s = {:.2}× (bare socket ÷ libfcgi: {})",
                    a / b,
                    ceiling.map_or("-".into(), |c| format!("{:.2}", c / b))
                ),
                _ => "-".into(),
            },
            met: a.zip(b).map(|(a, b)| a >= 2.0 * b),
        });
    }
    if let Some(n) = &r.nginx {
        let bi = |l: &str| n.backends.iter().position(|b| b.starts_with(l));
        for (mi, (_, mode)) in nginx::MODES.iter().enumerate() {
            let v = |b: Option<usize>| {
                b.map(|b| &n.cells[b][mi])
                    .filter(|c| !c.runs.is_empty())
                    .map(|c| c.med(|w| w.rps))
            };
            let (rs, lib, php) = (v(bi("fcgi_rs")), v(bi("libfcgi")), v(bi("php-fpm")));
            g.push(Goal {
                target: format!(
                    "through nginx ({mode}), 2 workers: ≥ 2× php-fpm and ≥ libfcgi + spawn-fcgi"
                ),
                measured: format!(
                    "{} × php-fpm, {} × libfcgi",
                    rs.zip(php).map_or("-".into(), |(a, b)| ratio_text(a, b)),
                    rs.zip(lib).map_or("-".into(), |(a, b)| ratio_text(a, b)),
                ),
                met: match (rs, lib, php) {
                    (Some(a), Some(l), Some(p)) => Some(a >= 2.0 * p && a >= l),
                    _ => None,
                },
            });
        }
    }
    let m = r
        .memory
        .iter()
        .find(|m| m.label == "fcgi_rs" && m.error.is_none());
    g.push(Goal {
        target: "zero allocations per request (kept-alive and new connection)".into(),
        measured: m.map_or("-".into(), |m| {
            format!(
                "{:.4} kept-alive, {:.4} new connection (allocating calls per request)",
                m.allocs_keep, m.allocs_new
            )
        }),
        met: m.map(|m| m.allocs_keep == 0.0 && m.allocs_new == 0.0),
    });
    g.push(Goal {
        target: "no RSS growth over 1M requests".into(),
        measured: m.map_or("-".into(), |m| {
            format!(
                "{} KiB after {} warmup requests, {} KiB after {} more",
                m.rss_warm, m.warmup, m.rss_end, m.requests
            )
        }),
        met: m.map(|m| m.rss_end <= m.rss_warm && m.requests >= 1_000_000),
    });
    for (si, name) in [
        (SC_KEPT, "kept-alive 1 connection"),
        (SC_NEW, "new connection"),
    ] {
        let v = ratio(si, rust, rs);
        g.push(Goal {
            target: format!("Rust hello within 5% of the C hello on fcgi_rs ({name})"),
            measured: v.map_or("-".into(), |v| format!("{v:.3}×")),
            met: v.map(|v| v >= 0.95),
        });
    }
    g
}

fn render(o: &Opts, r: &Results, plot_path: &Path) -> String {
    let mut m = String::new();
    let servers = &r.servers;
    let cells = &r.cells;
    let idx = |l: &str| servers.iter().position(|s| s.label == l);
    let (i_lib, i_rs, i_floor, i_rust) = (
        idx("libfcgi"),
        idx("fcgi_rs"),
        idx("floor"),
        idx("fcgi_rs Rust"),
    );
    let _ = writeln!(m, "# fcgi_rs benchmark report\n");
    let _ = writeln!(m, "## Machine\n\n{}", machine());
    let _ = writeln!(m, "## Commands\n");
    let _ = writeln!(
        m,
        "- runner: `fcgi-bench{}{}` (took {:.0} s)",
        if o.argv.is_empty() { "" } else { " " },
        o.argv.join(" "),
        r.took.as_secs_f64()
    );
    for s in servers {
        let _ = writeln!(
            m,
            "- {}: `{}{}{}` started fresh for every run, with a unix listen socket on fd 0",
            s.label,
            shown(&s.program),
            if s.args.is_empty() { "" } else { " " },
            if s.args.is_empty() {
                String::new()
            } else {
                "-f $EXPECTED_BODY_FILE".to_string()
            }
        );
    }
    let _ = writeln!(
        m,
        "- each load is the equivalent of `{}` ({} params per request, the answer checked byte for byte); \
         {} round(s), servers alternated and the order rotated every round; req/s, p50 and p99 are medians over rounds (best: the highest round), per-conn min..max is from the median round",
        load_cmd(SCENARIOS[SC_KEPT], o),
        DEFAULT_PARAMS,
        o.rounds
    );
    for n in &r.notes {
        let _ = writeln!(m, "- note: {n}");
    }
    let _ = writeln!(
        m,
        "\nCPU pressure (`/proc/pressure/cpu`, \"some\": the share of time a runnable task waited for a CPU; \
         well above 0 means other work shared the machine and req/s and latency are noisy):\n"
    );
    let _ = writeln!(m, "| section | before | after |");
    let _ = writeln!(m, "|---|---|---|");
    for (s, a, b) in &r.pressure {
        let _ = writeln!(m, "| {s} | {a} | {b} |");
    }

    let _ = writeln!(m, "\n## Targets\n");
    let _ = writeln!(m, "| target | measured | |");
    let _ = writeln!(m, "|---|---|---|");
    for g in goals(r) {
        let _ = writeln!(m, "| {} | {} | {} |", g.target, g.measured, yes_no(g.met));
    }

    let _ = writeln!(m, "\n## Throughput and latency\n");
    let _ = writeln!(
        m,
        "| load | responder | req/s (median) | req/s (best) | p50 µs | p99 µs | per-conn min..max | errors | unanswered at end |"
    );
    let _ = writeln!(m, "|---|---|---:|---:|---:|---:|---|---:|---:|");
    for (si, sc) in SCENARIOS.iter().enumerate() {
        for (vi, s) in servers.iter().enumerate() {
            let c = &cells[si][vi];
            let (cmin, cmax) = c
                .median_run()
                .map_or((0, 0), |r| (r.per_conn_min(), r.per_conn_max()));
            let errors: u64 = c.runs.iter().map(|r| r.errors).sum();
            let unanswered: u64 = c.runs.iter().map(|r| r.unanswered).sum();
            let _ = writeln!(
                m,
                "| {} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {}..{} | {} | {} |",
                sc.name,
                s.label,
                c.rps(),
                c.best(),
                c.med(|r| r.p50_us),
                c.med(|r| r.p99_us),
                cmin,
                cmax,
                errors,
                unanswered
            );
        }
    }
    let _ = writeln!(
        m,
        "\n![requests/s against kept-alive connections]({})\n",
        plot_path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned())
    );
    let _ = writeln!(m, "### Ratios of req/s: median (best)\n");
    let _ = writeln!(
        m,
        "| load | fcgi_rs / libfcgi | fcgi_rs / floor | libfcgi / floor | Rust hello / C hello (fcgi_rs) |"
    );
    let _ = writeln!(m, "|---|---:|---:|---:|---:|");
    let ratio = |si: usize, a: Option<usize>, b: Option<usize>| match (a, b) {
        (Some(a), Some(b)) if cells[si][b].rps() > 0.0 => {
            let (a, b) = (&cells[si][a], &cells[si][b]);
            let best = if b.best() > 0.0 {
                a.best() / b.best()
            } else {
                0.0
            };
            format!("{:.2} ({best:.2})", a.rps() / b.rps())
        }
        _ => "pending".into(),
    };
    for (si, sc) in SCENARIOS.iter().enumerate() {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} |",
            sc.name,
            ratio(si, i_rs, i_lib),
            ratio(si, i_rs, i_floor),
            ratio(si, i_lib, i_floor),
            ratio(si, i_rust, i_rs)
        );
    }

    if !r.splits.is_empty() {
        let _ = writeln!(m, "\n## Where the time of one request goes\n");
        let _ = writeln!(
            m,
            "One client connection, {} requests after 2000 warmup requests, per request: the wall \
             time, the responder's CPU time (`/proc/PID/task/*/schedstat`), the client's CPU time \
             (`getrusage`), and the rest, when neither runs (a request or an answer on its way to a \
             sleeping task). \"runs\" is how often the responder was put on a CPU per request.\n",
            r.splits
                .iter()
                .find_map(|(_, _, x)| x.as_ref().ok().map(|x| x.requests))
                .unwrap_or(0)
        );
        let _ = writeln!(
            m,
            "| load | responder | wall µs | responder CPU µs | client CPU µs | neither runs µs | runs |"
        );
        let _ = writeln!(m, "|---|---|---:|---:|---:|---:|---:|");
        for (label, load, x) in &r.splits {
            match x {
                Ok(x) => {
                    let _ = writeln!(
                        m,
                        "| {load} | {label} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} |",
                        x.wall_us,
                        x.responder_us,
                        x.client_us,
                        x.neither_us(),
                        x.responder_runs
                    );
                }
                Err(e) => {
                    let _ = writeln!(m, "| {load} | {label} | failed: {e} | | | | |");
                }
            }
        }
    }

    if !r.strace_rows.is_empty() {
        let _ = writeln!(m, "\n## Syscalls per request\n");
        let _ = writeln!(
            m,
            "`strace -c -f -p PID` attached after 200 warmup requests, detached after {} requests \
             on 1 client connection (the same loads as above). Per request:\n",
            o.strace_requests
        );
        let _ = writeln!(m, "| responder | mode | syscalls/request | breakdown |");
        let _ = writeln!(m, "|---|---|---:|---|");
        for (label, mode, r) in &r.strace_rows {
            match r {
                Ok(c) if c.requests > 0 => {
                    let per = |x: u64| x as f64 / c.requests as f64;
                    let parts: Vec<String> = c
                        .calls
                        .iter()
                        .filter(|(_, n)| per(*n) >= 0.005)
                        .map(|(name, n)| format!("{name} {:.2}", per(*n)))
                        .collect();
                    let _ = writeln!(
                        m,
                        "| {label} | {mode} | {:.2} | {} |",
                        per(c.total),
                        parts.join(", ")
                    );
                }
                Ok(_) => {
                    let _ = writeln!(m, "| {label} | {mode} | - | no requests measured |");
                }
                Err(e) => {
                    let _ = writeln!(m, "| {label} | {mode} | - | failed: {e} |");
                }
            }
        }
    }
    if !r.cg_rows.is_empty() {
        let _ = writeln!(m, "\n## Instructions per request\n");
        let _ = writeln!(
            m,
            "`valgrind --tool=callgrind` (whole process, every thread): runs of {} and {} requests on \
             1 client connection; the difference of the two totals over the difference of the counts.\n",
            o.callgrind_requests / 4,
            o.callgrind_requests
        );
        let _ = writeln!(m, "| responder | mode | instructions/request | / libfcgi |");
        let _ = writeln!(m, "|---|---|---:|---:|");
        for (label, mode, v) in &r.cg_rows {
            let base = r
                .cg_rows
                .iter()
                .find(|(l, md, _)| l == "libfcgi" && md == mode)
                .and_then(|(_, _, v)| v.as_ref().ok().copied());
            match v {
                Ok(v) => {
                    let rel = base.map_or("-".into(), |b| format!("{:.2}", v / b));
                    let _ = writeln!(m, "| {label} | {mode} | {v:.0} | {rel} |");
                }
                Err(e) => {
                    let _ = writeln!(m, "| {label} | {mode} | failed: {e} | |");
                }
            }
        }
    }

    if let Some(n) = &r.nginx {
        let _ = writeln!(m, "\n## End to end through nginx\n");
        let _ = writeln!(
            m,
            "`wrk -t{} -c{} -d{}s --latency` against {} (`worker_processes {}`, `user root`, config \
             generated in a temporary directory), after a 1 s warmup run; nginx passes every request \
             over a unix socket to {} FastCGI workers of each backend in turn: `spawn-fcgi -F {} -M 0666 -- \
             build/bin-libfcgi/hello`, `FCGI_RS_PM=static:{},listen=SOCK,listen.mode=0666 build/bin/hello`, \
             and `php-fpm8.2 -F -R -y POOL` with `pm = static`, `pm.max_children = {}` running \
             `<?php echo \"Hello, world!\\n\";` ({}). Location `/plain` opens a new upstream connection \
             per request; `/ka` uses `keepalive {}` and `fastcgi_keep_conn on`. {} round(s), backends rotated; \
             medians over rounds (best in brackets).\n",
            nginx::WRK_THREADS,
            nginx::WRK_CONNS,
            o.nginx_duration.ceil(),
            n.nginx_version,
            nginx::WORKERS,
            nginx::WORKERS,
            nginx::WORKERS,
            nginx::WORKERS,
            nginx::WORKERS,
            n.php_version,
            nginx::KEEPALIVE,
            n.cells
                .iter()
                .flatten()
                .map(|c| c.runs.len())
                .max()
                .unwrap_or(0),
        );
        if let Some(e) = &n.error {
            let _ = writeln!(m, "Not run: {e}\n");
        }
        let _ = writeln!(
            m,
            "| upstream | backend | req/s | p50 ms | p99 ms | non-2xx | socket errors | / php-fpm | / libfcgi |"
        );
        let _ = writeln!(m, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        let find = |p: &str| n.backends.iter().position(|b| b.starts_with(p));
        for (mi, (_, mode)) in nginx::MODES.iter().enumerate() {
            for (bi, b) in n.backends.iter().enumerate() {
                let c = &n.cells[bi][mi];
                if let Some(e) = &c.error {
                    let _ = writeln!(m, "| {mode} | {b} | failed: {e} | | | | | | |");
                    continue;
                }
                let rel = |o: Option<usize>| {
                    o.filter(|&o| !n.cells[o][mi].runs.is_empty())
                        .map(|o| n.cells[o][mi].med(|w| w.rps))
                        .map_or("-".into(), |v| ratio_text(c.med(|w| w.rps), v))
                };
                let _ = writeln!(
                    m,
                    "| {mode} | {b} | {:.0} ({:.0}) | {:.2} | {:.2} | {} | {} | {} | {} |",
                    c.med(|w| w.rps),
                    c.best(),
                    c.med(|w| w.p50_ms),
                    c.med(|w| w.p99_ms),
                    c.runs.iter().map(|w| w.non2xx).sum::<u64>(),
                    c.runs.iter().map(|w| w.socket_errors).sum::<u64>(),
                    rel(find("php-fpm")),
                    rel(find("libfcgi")),
                );
            }
        }
    }

    if !r.bodies.is_empty() {
        let _ = writeln!(m, "\n## Large bodies\n");
        let _ = writeln!(
            m,
            "One request per transfer on a new connection to a freshly started responder, timed from the \
             first byte written to END_REQUEST read; MB = 10^6 bytes. Downloads of `QUERY_STRING=size={}`, the body length checked: \
             `large_output` (the C example; it computes a byte pattern and mixes `FCGX_PutStr` chunk sizes, \
             `FCGX_PutChar` and `FCGX_FPrintF`) and `bench/c/source.c` (`FCGX_PutStr` of one pre-filled \
             64 KiB buffer). Upload: {} bytes of STDIN to `bench/c/sink.c` (reads the body into a 64 KiB \
             buffer, answers its length, which is checked). `source` and `sink` are compiled by the \
             runner against each library. {} round(s), libraries alternated. `bare socket` moves \
             the same bytes with no FastCGI at all, for reference: one thread writes them into a unix \
             socket pair in 64 KiB writes, another reads them.\n",
            o.body_size,
            o.body_size,
            if o.quick { 1 } else { 5 }
        );
        let _ = writeln!(
            m,
            "| direction | library | MB/s (median) | MB/s (best) | fcgi_rs / libfcgi |"
        );
        let _ = writeln!(m, "|---|---|---:|---:|---:|");
        for b in &r.bodies {
            if let Some(e) = &b.error {
                let _ = writeln!(m, "| {} | {} | failed: {e} | | |", b.direction, b.label);
                continue;
            }
            let lib = r
                .bodies
                .iter()
                .find(|x| x.label == "libfcgi" && x.direction == b.direction && !x.mbps.is_empty())
                .map(bodies::Bulk::median);
            let rel = if b.label == "fcgi_rs" {
                lib.map_or("-".into(), |l| format!("{:.2}", b.median() / l))
            } else {
                String::new()
            };
            let _ = writeln!(
                m,
                "| {} | {} | {:.0} | {:.0} | {rel} |",
                b.direction,
                b.label,
                b.median(),
                b.best()
            );
        }
    }

    if !r.memory.is_empty() {
        let _ = writeln!(m, "\n## Memory and heap calls\n");
        let _ = writeln!(
            m,
            "The C hello with `tests/c/malloc_count.c` preloaded (it counts malloc, calloc, realloc, \
             the aligned allocators and free into a shared file). VmRSS from `/proc/PID/status`: idle \
             (started, one request served, 0.3 s later), after 10000 warmup requests, and after {} more \
             kept-alive requests on one connection. Heap calls per request: the counter difference over \
             those {} kept-alive requests, and over {} requests with a new connection each.\n",
            o.memory_requests,
            o.memory_requests,
            20_000.min(o.memory_requests)
        );
        let _ = writeln!(
            m,
            "| library | RSS idle KiB | after warmup KiB | after {} requests KiB | growth KiB | allocs/req kept-alive | frees/req kept-alive | allocs/req new conn | frees/req new conn |",
            o.memory_requests
        );
        let _ = writeln!(m, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for x in &r.memory {
            if let Some(e) = &x.error {
                let _ = writeln!(m, "| {} | failed: {e} | | | | | | | |", x.label);
                continue;
            }
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                x.label,
                x.rss_idle,
                x.rss_warm,
                x.rss_end,
                x.rss_end as i64 - x.rss_warm as i64,
                x.allocs_keep,
                x.frees_keep,
                x.allocs_new,
                x.frees_new
            );
        }
    }
    let _ = writeln!(
        m,
        "\nClient and responders share the machine's cores; figures compare responders under the same \
         client, they are not absolute capacity."
    );
    m
}
