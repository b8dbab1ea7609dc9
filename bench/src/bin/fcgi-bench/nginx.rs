//! End to end: `wrk` against nginx, which passes every request to a pool of 2 FastCGI workers
//! on a unix socket: libfcgi's hello under spawn-fcgi, fcgi_rs's hello under its own process
//! manager, and php-fpm running a one-line script. nginx reaches the same socket through two
//! locations, one with a new upstream connection per request and one with upstream keepalive.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{median, signal};

pub const WORKERS: usize = 2;
pub const WRK_THREADS: usize = 2;
pub const WRK_CONNS: usize = 32;
/// nginx's upstream keepalive cache, per nginx worker.
pub const KEEPALIVE: usize = 16;

#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Libfcgi,
    FcgiRs,
    PhpFpm,
}

pub struct Backend {
    pub label: &'static str,
    pub kind: Kind,
    pub program: PathBuf,
}

pub const MODES: [(&str, &str); 2] = [
    ("/plain", "new upstream connection per request"),
    ("/ka", "upstream keepalive 16, fastcgi_keep_conn on"),
];

#[derive(Default, Clone)]
pub struct Wrk {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    pub non2xx: u64,
    pub socket_errors: u64,
}

/// All rounds of one (backend, mode) pair.
#[derive(Default)]
pub struct Cell {
    pub runs: Vec<Wrk>,
    pub error: Option<String>,
}

impl Cell {
    pub fn med(&self, f: impl Fn(&Wrk) -> f64) -> f64 {
        let mut v: Vec<f64> = self.runs.iter().map(f).collect();
        median(&mut v)
    }
    pub fn best(&self) -> f64 {
        self.runs.iter().map(|r| r.rps).fold(0.0, f64::max)
    }
}

pub struct Report {
    pub backends: Vec<&'static str>,
    /// cells[backend][mode]
    pub cells: Vec<Vec<Cell>>,
    pub nginx_version: String,
    pub php_version: String,
    pub error: Option<String>,
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn nginx_conf(dir: &Path, port: u16, sock: &Path, script: &Path) -> String {
    let d = dir.display();
    let upstream = |name: &str, extra: &str| {
        format!(
            "    upstream {name} {{\n        server unix:{};\n{extra}    }}\n",
            sock.display()
        )
    };
    let location = |path: &str, up: &str, extra: &str| {
        format!(
            "        location = {path} {{\n            include /etc/nginx/fastcgi_params;\n            \
             fastcgi_param SCRIPT_FILENAME {};\n            fastcgi_pass {up};\n{extra}        }}\n",
            script.display()
        )
    };
    format!(
        "user root;\nworker_processes {WORKERS};\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
         events {{\n    worker_connections 4096;\n}}\n\
         http {{\n    access_log off;\n    client_body_temp_path {d}/nginx-tmp/body;\n    \
         fastcgi_temp_path {d}/nginx-tmp/fastcgi;\n    proxy_temp_path {d}/nginx-tmp/proxy;\n    \
         uwsgi_temp_path {d}/nginx-tmp/uwsgi;\n    scgi_temp_path {d}/nginx-tmp/scgi;\n\
         {}{}    server {{\n        listen 127.0.0.1:{port};\n{}{}    }}\n}}\n",
        upstream("plain", ""),
        upstream("ka", &format!("        keepalive {KEEPALIVE};\n")),
        location("/plain", "plain", ""),
        location("/ka", "ka", "            fastcgi_keep_conn on;\n"),
    )
}

fn php_fpm_conf(dir: &Path, sock: &Path) -> String {
    let d = dir.display();
    format!(
        "[global]\npid = {d}/php-fpm.pid\nerror_log = {d}/php-fpm.log\ndaemonize = no\n\n\
         [hello]\nuser = root\ngroup = root\nlisten = {}\nlisten.mode = 0666\n\
         pm = static\npm.max_children = {WORKERS}\n",
        sock.display()
    )
}

/// A running backend pool; stopped (every process) on drop.
struct Pool {
    child: Option<Child>,
    pids: Vec<i32>,
    sock: PathBuf,
}

impl Pool {
    fn start(b: &Backend, dir: &Path, sock: &Path) -> Result<Pool, String> {
        let _ = std::fs::remove_file(sock);
        let log = std::fs::File::create(dir.join(format!("{}.log", b.label)))
            .map_err(|e| e.to_string())?;
        let mut pool = Pool {
            child: None,
            pids: Vec::new(),
            sock: sock.to_path_buf(),
        };
        match b.kind {
            Kind::Libfcgi => {
                let pidfile = dir.join("spawn-fcgi.pid");
                let _ = std::fs::remove_file(&pidfile);
                let st = Command::new("spawn-fcgi")
                    .arg("-s")
                    .arg(sock)
                    .args(["-M", "0666", "-F", &WORKERS.to_string(), "-P"])
                    .arg(&pidfile)
                    .arg("--")
                    .arg(&b.program)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::from(log))
                    .status()
                    .map_err(|e| format!("spawn-fcgi: {e}"))?;
                let text = std::fs::read_to_string(&pidfile).unwrap_or_default();
                pool.pids = text
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect();
                if !st.success() || pool.pids.len() != WORKERS {
                    return Err(format!("spawn-fcgi exited with {st}, pids {:?}", pool.pids));
                }
            }
            Kind::FcgiRs => {
                let child = Command::new(&b.program)
                    .env(
                        "FCGI_RS_PM",
                        format!(
                            "static:{WORKERS},listen={},listen.mode=0666",
                            sock.display()
                        ),
                    )
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::from(log))
                    .spawn()
                    .map_err(|e| format!("{}: {e}", b.program.display()))?;
                pool.child = Some(child);
            }
            Kind::PhpFpm => {
                let conf = dir.join("php-fpm.conf");
                std::fs::write(&conf, php_fpm_conf(dir, sock)).map_err(|e| e.to_string())?;
                let child = Command::new(&b.program)
                    .args(["-F", "-R", "-y"])
                    .arg(&conf)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::from(log))
                    .spawn()
                    .map_err(|e| format!("{}: {e}", b.program.display()))?;
                pool.child = Some(child);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(sock).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{}: the socket never accepted", b.label));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(pool)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for &p in &self.pids {
            signal(p, libc::SIGTERM);
        }
        if let Some(c) = &mut self.child {
            signal(c.id() as i32, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
            signal(c.id() as i32, libc::SIGKILL);
            let _ = c.wait();
        }
        // spawn-fcgi's children are not ours to wait for: poll until they are gone.
        let deadline = Instant::now() + Duration::from_secs(5);
        for &p in &self.pids {
            // SAFETY: kill(2) with signal 0 only checks that the process exists.
            while unsafe { libc::kill(p, 0) } == 0 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            signal(p, libc::SIGKILL);
        }
        let _ = std::fs::remove_file(&self.sock);
    }
}

/// One HTTP/1.0 GET; the status line and body.
fn http_get(port: u16, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn parse_duration_ms(v: &str) -> f64 {
    let (num, scale) = if let Some(x) = v.strip_suffix("us") {
        (x, 0.001)
    } else if let Some(x) = v.strip_suffix("ms") {
        (x, 1.0)
    } else if let Some(x) = v.strip_suffix('s') {
        (x, 1000.0)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().map_or(0.0, |n| n * scale)
}

pub fn parse_wrk(text: &str) -> Wrk {
    let mut w = Wrk::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["50%", v] => w.p50_ms = parse_duration_ms(v),
            ["99%", v] => w.p99_ms = parse_duration_ms(v),
            ["Requests/sec:", v] => w.rps = v.parse().unwrap_or(0.0),
            [n, "requests", "in", ..] => w.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => w.non2xx = n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                w.socket_errors = rest
                    .iter()
                    .filter_map(|x| x.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    w
}

fn wrk(port: u16, path: &str, secs: f64) -> Result<Wrk, String> {
    let out = Command::new("wrk")
        .args([
            "-t",
            &WRK_THREADS.to_string(),
            "-c",
            &WRK_CONNS.to_string(),
            "-d",
            &format!("{}s", secs.ceil().max(1.0) as u64),
            "--latency",
        ])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // A backend that answers nothing in the whole run (libfcgi stalled behind upstream
    // keepalive) is a measurement of 0 req/s, not a failure of the run.
    if !out.status.success() || !text.contains("Requests/sec:") {
        return Err(format!(
            "wrk: no summary: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse_wrk(&text))
}

fn version(cmd: &str, arg: &str) -> String {
    Command::new(cmd)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            let t = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            t.lines().next().unwrap_or("").trim().to_string()
        })
        .unwrap_or_default()
}

pub fn run(backends: &[Backend], dir: &Path, rounds: usize, secs: f64, warm: f64) -> Report {
    let mut rep = Report {
        backends: backends.iter().map(|b| b.label).collect(),
        cells: backends
            .iter()
            .map(|_| MODES.iter().map(|_| Cell::default()).collect())
            .collect(),
        nginx_version: version("nginx", "-v")
            .trim_start_matches("nginx version: ")
            .to_string(),
        php_version: backends
            .iter()
            .find(|b| b.kind == Kind::PhpFpm)
            .map(|b| version(&b.program.display().to_string(), "-v"))
            .unwrap_or_default(),
        error: None,
    };
    if let Err(e) = run_into(&mut rep, backends, dir, rounds, secs, warm) {
        rep.error = Some(e);
    }
    rep
}

fn run_into(
    rep: &mut Report,
    backends: &[Backend],
    dir: &Path,
    rounds: usize,
    secs: f64,
    warm: f64,
) -> Result<(), String> {
    let dir = dir.join("nginx");
    std::fs::create_dir_all(dir.join("nginx-tmp")).map_err(|e| e.to_string())?;
    let sock = dir.join("app.sock");
    let script = dir.join("hello.php");
    std::fs::write(&script, "<?php echo \"Hello, world!\\n\";\n").map_err(|e| e.to_string())?;
    let port = free_port()?;
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(&dir, port, &sock, &script)).map_err(|e| e.to_string())?;
    let mut nginx = Command::new("nginx")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(dir.join("nginx-error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("nginx: {e}"))?;
    let stop_nginx = |n: &mut Child| {
        signal(n.id() as i32, libc::SIGTERM);
        let _ = n.wait();
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline || matches!(nginx.try_wait(), Ok(Some(_))) {
            stop_nginx(&mut nginx);
            let log = std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default();
            return Err(format!("nginx did not start: {}", log.trim()));
        }
        thread::sleep(Duration::from_millis(20));
    }
    for round in 0..rounds {
        for k in 0..backends.len() {
            let bi = (k + round) % backends.len();
            let b = &backends[bi];
            if rep.cells[bi].iter().all(|c| c.error.is_some()) {
                continue;
            }
            let pool = match Pool::start(b, &dir, &sock) {
                Ok(p) => p,
                Err(e) => {
                    for c in &mut rep.cells[bi] {
                        c.error = Some(e.clone());
                    }
                    continue;
                }
            };
            for (mi, (path, _)) in MODES.iter().enumerate() {
                if rep.cells[bi][mi].error.is_some() {
                    continue;
                }
                let ok = http_get(port, path).map_err(|e| format!("GET {path}: {e}"));
                let ok = ok.and_then(|t| {
                    if t.starts_with("HTTP/1.1 200") && t.contains("Hello, world!") {
                        Ok(())
                    } else {
                        Err(format!(
                            "GET {path}: unexpected answer {:?}",
                            t.chars().take(200).collect::<String>()
                        ))
                    }
                });
                let res = ok
                    .and_then(|_| wrk(port, path, warm))
                    .and_then(|_| wrk(port, path, secs));
                match res {
                    Ok(w) => {
                        eprintln!(
                            "round {} | nginx {:<6} | {:<8} | {:.0} req/s p50 {:.2} ms p99 {:.2} ms non-2xx {} socket errors {}",
                            round + 1,
                            path,
                            b.label,
                            w.rps,
                            w.p50_ms,
                            w.p99_ms,
                            w.non2xx,
                            w.socket_errors
                        );
                        rep.cells[bi][mi].runs.push(w);
                    }
                    Err(e) => rep.cells[bi][mi].error = Some(e),
                }
            }
            drop(pool);
        }
    }
    stop_nginx(&mut nginx);
    Ok(())
}
