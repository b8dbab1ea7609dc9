//! fcgi-bench: the side-by-side benchmark runner.
//!
//! Runs the same C responder (`hello`) linked with Debian's libfcgi and with fcgi_rs, and the
//! floor responder, each started fresh with a unix listen socket on fd 0, under the same loads,
//! alternating between them round after round. Then counts syscalls per request (strace -c)
//! and instructions per request (callgrind). Builds nothing: run `make` and
//! `cargo build --release -p fcgi-bench` first. Writes a markdown report and prints it.

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
  --quick             a smoke run of a few seconds (1 round, short runs, no callgrind)
  --rounds N          rounds of every load (default 5)
  --duration SECS     measured seconds per run (default 2)
  --warmup SECS       warmup seconds per run (default 0.5)
  --libfcgi PATH      hello linked with libfcgi (default build/bin-libfcgi/hello)
  --fcgi-rs PATH      hello linked with fcgi_rs (default build/bin/hello)
  --floor PATH        the floor responder (default: fcgi-floor next to this program)
  --out PATH          the report (default bench/results/latest.md)
  --no-strace         skip the syscall counts
  --no-callgrind      skip the instruction counts
  --strace-requests N requests per syscall count (default 2000)
  --callgrind-requests N  requests per instruction count (default 2000)";

struct Opts {
    quick: bool,
    rounds: usize,
    duration: Duration,
    warmup: Duration,
    libfcgi: PathBuf,
    fcgi_rs: PathBuf,
    floor: PathBuf,
    out: PathBuf,
    strace: bool,
    callgrind: bool,
    strace_requests: u64,
    callgrind_requests: u64,
    argv: Vec<String>,
}

fn parse_opts() -> Result<Opts, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
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
        floor: exe_dir.join("fcgi-floor"),
        out: root.join("bench/results/latest.md"),
        strace: true,
        callgrind: true,
        strace_requests: 2000,
        callgrind_requests: 2000,
        argv: argv.clone(),
    };
    let (mut rounds, mut duration, mut warmup, mut cg) = (None, None, None, None);
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
            "--floor" => o.floor = val()?.into(),
            "--out" => o.out = val()?.into(),
            "--no-strace" => o.strace = false,
            "--no-callgrind" => o.callgrind = false,
            "--strace-requests" => o.strace_requests = num(val()?)?.max(1),
            "--callgrind-requests" => {
                o.callgrind_requests = num(val()?)?.max(8);
                cg = Some(());
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if o.quick {
        o.rounds = 1;
        o.duration = Duration::from_millis(400);
        o.warmup = Duration::from_millis(100);
        o.strace_requests = o.strace_requests.min(300);
        if cg.is_none() {
            o.callgrind = false;
        }
    }
    o.rounds = rounds.unwrap_or(o.rounds);
    o.duration = duration.unwrap_or(o.duration);
    o.warmup = warmup.unwrap_or(o.warmup);
    Ok(o)
}

/// One of the responders under test.
struct Server {
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
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
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "new connection per request, 1 client",
        conns: 1,
        keep_alive: false,
    },
    Scenario {
        name: "kept-alive, 1 connection",
        conns: 1,
        keep_alive: true,
    },
    Scenario {
        name: "kept-alive, 4 connections",
        conns: 4,
        keep_alive: true,
    },
    Scenario {
        name: "kept-alive, 16 connections",
        conns: 16,
        keep_alive: true,
    },
];

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
    }
}

fn load_cmd(sc: Scenario, o: &Opts) -> String {
    format!(
        "fcgi-load -u $SOCK -c {} {} -w {} -d {} -e \"$EXPECTED\" --json",
        sc.conns,
        if sc.keep_alive { "-k" } else { "-n" },
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

fn run_in(o: &Opts, dir: &Path) -> Result<String, String> {
    let started = Instant::now();
    let pressure_before = cpu_pressure();
    let mut notes: Vec<String> = Vec::new();
    let mut seq = 0u32;

    // Which responders exist.
    let mut servers: Vec<Server> = Vec::new();
    for (label, p) in [("libfcgi", &o.libfcgi), ("fcgi_rs", &o.fcgi_rs)] {
        if p.exists() {
            servers.push(Server {
                label,
                program: p.clone(),
                args: vec![],
            });
        } else {
            notes.push(format!(
                "{label}: `{}` not found (run `make`); its figures are pending.",
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

    // Learn the expected body from the first C responder; the floor answers the same bytes.
    let mut expected: Option<Vec<u8>> = None;
    for s in &servers {
        let r = Running::start(s, dir, &mut seq, &[])?;
        match load::probe(&r.target, DEFAULT_PARAMS, Duration::from_secs(5)) {
            Ok(b) if !b.is_empty() => {
                expected = Some(b);
                break;
            }
            Ok(_) => notes.push(format!("{}: empty answer to the probe request.", s.label)),
            Err(e) => notes.push(format!("{}: probe request failed: {e}", s.label)),
        }
    }
    let mut floor = Server {
        label: "floor",
        program: o.floor.clone(),
        args: vec![],
    };
    if let Some(b) = &expected {
        let f = dir.join("expected.body");
        std::fs::write(&f, b).map_err(|e| e.to_string())?;
        floor.args = vec!["-f".into(), f.to_string_lossy().into_owned()];
    }
    servers.push(floor);
    let expect = match &expected {
        Some(b) => Expect::Exact(b.clone()),
        None => Expect::NonEmpty,
    };

    // Throughput and latency: every round runs every scenario on every server, rotating the
    // order of the servers from round to round.
    let ns = servers.len();
    let mut cells: Vec<Vec<Cell>> = SCENARIOS
        .iter()
        .map(|_| (0..ns).map(|_| Cell::default()).collect())
        .collect();
    for round in 0..o.rounds {
        for (si, sc) in SCENARIOS.iter().enumerate() {
            for k in 0..ns {
                let vi = (k + round) % ns;
                let s = &servers[vi];
                let mut r = match Running::start(s, dir, &mut seq, &[]) {
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
                    &expect,
                );
                let res = load::run(&cfg);
                r.stop(Duration::from_secs(1));
                eprintln!(
                    "round {} | {:<40} | {:<8} | {}",
                    round + 1,
                    sc.name,
                    s.label,
                    res.to_kv()
                );
                cells[si][vi].runs.push(res);
            }
        }
    }

    // Syscalls per request.
    let mut strace_rows: Vec<(String, String, Result<SyscallCount, String>)> = Vec::new();
    if o.strace {
        for sc in [SCENARIOS[1], SCENARIOS[0]] {
            for s in &servers {
                let r = strace_count(s, dir, &mut seq, sc, o.strace_requests, &expect);
                strace_rows.push((s.label.to_string(), mode_name(sc), r));
            }
        }
    }

    // Instructions per request.
    let mut cg_rows: Vec<(String, String, Result<f64, String>)> = Vec::new();
    if o.callgrind {
        for sc in [SCENARIOS[1], SCENARIOS[0]] {
            for s in &servers {
                let r = callgrind_count(s, dir, &mut seq, sc, o.callgrind_requests, &expect);
                cg_rows.push((s.label.to_string(), mode_name(sc), r));
            }
        }
    }

    notes.push(format!(
        "CPU pressure (PSI some avg60) before the run {pressure_before}, after it {}: the share of time runnable tasks waited for a CPU; well above 0 means other work shared the machine and req/s and latency are noisy.",
        cpu_pressure()
    ));
    let report = render(
        o,
        &servers,
        &cells,
        &strace_rows,
        &cg_rows,
        &notes,
        started.elapsed(),
    );
    if let Some(parent) = o.out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&o.out, &report).map_err(|e| format!("{}: {e}", o.out.display()))?;
    Ok(report)
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
    let r = Running::start(s, dir, seq, &[])?;
    let warm = load::run(&load_cfg(
        &r.target,
        sc,
        Amount::Requests(200),
        Duration::ZERO,
        expect,
    ));
    if warm.errors > 0 || warm.requests == 0 {
        return Err(format!("warmup failed: {:?}", warm.error_samples));
    }
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
    let res = load::run(&load_cfg(
        &r.target,
        sc,
        Amount::Requests(n),
        Duration::ZERO,
        expect,
    ));
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
        let mut cfg = load_cfg(&r.target, sc, Amount::Requests(k), Duration::ZERO, expect);
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

fn render(
    o: &Opts,
    servers: &[Server],
    cells: &[Vec<Cell>],
    strace_rows: &[(String, String, Result<SyscallCount, String>)],
    cg_rows: &[(String, String, Result<f64, String>)],
    notes: &[String],
    took: Duration,
) -> String {
    let mut m = String::new();
    let idx = |l: &str| servers.iter().position(|s| s.label == l);
    let (i_lib, i_rs, i_floor) = (idx("libfcgi"), idx("fcgi_rs"), idx("floor"));
    let _ = writeln!(m, "# fcgi_rs benchmark report\n");
    let _ = writeln!(m, "## Machine\n\n{}", machine());
    let _ = writeln!(m, "## Commands\n");
    let _ = writeln!(
        m,
        "- runner: `fcgi-bench{}{}` (took {:.0} s)",
        if o.argv.is_empty() { "" } else { " " },
        o.argv.join(" "),
        took.as_secs_f64()
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
        load_cmd(SCENARIOS[1], o),
        DEFAULT_PARAMS,
        o.rounds
    );
    for n in notes {
        let _ = writeln!(m, "- note: {n}");
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
    let _ = writeln!(m, "\n### Ratios of req/s: median (best)\n");
    let _ = writeln!(
        m,
        "| load | fcgi_rs / libfcgi | fcgi_rs / floor | libfcgi / floor |"
    );
    let _ = writeln!(m, "|---|---:|---:|---:|");
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
            "| {} | {} | {} | {} |",
            sc.name,
            ratio(si, i_rs, i_lib),
            ratio(si, i_rs, i_floor),
            ratio(si, i_lib, i_floor)
        );
    }

    if !strace_rows.is_empty() {
        let _ = writeln!(m, "\n## Syscalls per request\n");
        let _ = writeln!(
            m,
            "`strace -c -f -p PID` attached after 200 warmup requests, detached after {} requests \
             on 1 client connection (the same loads as above). Per request:\n",
            o.strace_requests
        );
        let _ = writeln!(m, "| responder | mode | syscalls/request | breakdown |");
        let _ = writeln!(m, "|---|---|---:|---|");
        for (label, mode, r) in strace_rows {
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
    if !cg_rows.is_empty() {
        let _ = writeln!(m, "\n## Instructions per request\n");
        let _ = writeln!(
            m,
            "`valgrind --tool=callgrind` (whole process, every thread): runs of {} and {} requests on \
             1 client connection; the difference of the two totals over the difference of the counts.\n",
            o.callgrind_requests / 4,
            o.callgrind_requests
        );
        let _ = writeln!(m, "| responder | mode | instructions/request |");
        let _ = writeln!(m, "|---|---|---:|");
        for (label, mode, r) in cg_rows {
            match r {
                Ok(v) => {
                    let _ = writeln!(m, "| {label} | {mode} | {v:.0} |");
                }
                Err(e) => {
                    let _ = writeln!(m, "| {label} | {mode} | failed: {e} |");
                }
            }
        }
    }
    let _ = writeln!(
        m,
        "\nClient and responders share the machine's cores; figures compare responders under the same \
         client, they are not absolute capacity."
    );
    m
}
