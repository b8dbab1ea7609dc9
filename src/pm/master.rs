//! The master: owns the listen sockets, forks workers, keeps the pools at their size, enforces
//! timeouts, and handles signals through a self-pipe. Single-threaded.
//!
//! Workers get the pool's socket on fd 0 (so unmodified libfcgi programs find it), fds 1 and 2
//! on pipes the master reads (`catch_workers_output`) or on the master's own, default signal
//! dispositions and, when the master dies, SIGTERM. In library mode [`run`] returns in
//! each worker; in command mode the worker `exec`s the pool's `command`.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::{Config, EnvValue, ListenAddr, LogLevel, PmMode, PoolConfig};
use super::listen::{self, Listener};
use super::notify::Notifier;
use super::scoreboard::{now_us, Scoreboard, State};
use super::status::{self, Query};
use super::worker::{self, Worker};
use crate::sys::process::{self as sys, ExitKind, Fork};

/// What each worker runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Workers return from [`run`] into the calling program.
    Library,
    /// Workers `exec` the pool's `command` with the socket on fd 0.
    Command,
}

/// What `listen.allowed_clients` becomes in a worker's environment.
const ENV_WEB_SERVER_ADDRS: &str = "FCGI_WEB_SERVER_ADDRS";

const TICK: Duration = Duration::from_millis(100);
const MAINTENANCE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
const STABLE_AFTER: Duration = Duration::from_secs(10);
const KILL_GRACE: Duration = Duration::from_secs(1);
/// After `request_terminate_timeout`, how long a worker gets between SIGTERM and SIGKILL.
/// Short: libfcgi programs (and this library) take SIGTERM as "finish the request, then
/// stop", so only SIGKILL actually ends the overdue request.
const TERMINATE_GRACE: Duration = Duration::from_millis(100);

/// Runs the process manager. In the master this returns only on error at start-up (after a
/// stop the master process exits); in each worker (library mode) it returns the worker's
/// context. In command mode workers never return (they `exec`).
pub fn run(config: Config, mode: Mode) -> io::Result<Worker> {
    let mut m = Master::start(config, mode)?;
    if let Some(w) = m.spawn_initial()? {
        return Ok(w);
    }
    m.notifier.send(&format!(
        "READY=1\nSTATUS=Ready to handle connections\nMAINPID={}",
        std::process::id()
    ));
    m.log(LogLevel::Notice, "ready to handle connections".into());
    match m.event_loop()? {
        Some(w) => Ok(w),
        None => {
            m.cleanup();
            std::process::exit(0)
        }
    }
}

struct Log {
    path: Option<PathBuf>,
    file: Option<File>,
    level: LogLevel,
}

impl Log {
    fn open(path: Option<PathBuf>, level: LogLevel) -> io::Result<Log> {
        let file = match &path {
            Some(p) => Some(File::options().create(true).append(true).open(p)?),
            None => None,
        };
        Ok(Log { path, file, level })
    }

    fn reopen(&mut self) {
        if let Some(p) = &self.path {
            if let Ok(f) = File::options().create(true).append(true).open(p) {
                self.file = Some(f);
            }
        }
    }

    fn write(&mut self, level: LogLevel, msg: &str) {
        self.write_parts(level, true, &[msg.as_bytes()]);
    }

    /// One line made of `parts` (raw bytes, written as they are), with the time and level
    /// in front when `decorate`. Lines below the configured level are dropped.
    fn write_parts(&mut self, level: LogLevel, decorate: bool, parts: &[&[u8]]) {
        if level < self.level {
            return;
        }
        let mut line = Vec::with_capacity(64 + parts.iter().map(|p| p.len()).sum::<usize>());
        if decorate {
            let name = match level {
                LogLevel::Debug => "DEBUG",
                LogLevel::Notice => "NOTICE",
                LogLevel::Warning => "WARNING",
                LogLevel::Error => "ERROR",
                LogLevel::Alert => "ALERT",
            };
            line.extend_from_slice(
                format!("[{}] {name}: ", log_time(now_us() / 1_000_000)).as_bytes(),
            );
        }
        for p in parts {
            line.extend_from_slice(p);
        }
        line.push(b'\n');
        match &mut self.file {
            Some(f) => drop(f.write_all(&line)),
            None => drop(io::stderr().write_all(&line)),
        }
    }
}

/// `catch_workers_output`: the longest line logged as one message. Longer lines are logged
/// in pieces of this size; a last line without a newline is logged when the worker closes
/// the stream or exits.
pub const OUTPUT_LINE_MAX: usize = 1024;
/// How much the master reads from one worker's pipe per pass of its loop, so that a worker
/// writing without pause cannot keep it from its other work.
const OUTPUT_READ_BUDGET: usize = 64 * 1024;
/// At a worker's exit, the most that is still read from its pipes (a process the worker
/// started may hold them open and go on writing).
const OUTPUT_EXIT_BUDGET: usize = 1024 * 1024;
const STREAM_NAMES: [&str; 2] = ["stdout", "stderr"];

/// The master's end of one of a worker's output pipes, and the start of a line not yet
/// complete.
#[derive(Debug)]
struct Output {
    pipe: File,
    buf: Vec<u8>,
}

/// Calls `emit` for each complete line at the front of `buf` (without its newline) and for
/// each [`OUTPUT_LINE_MAX`] bytes of a longer one, then for what is left when `eof`; removes
/// what was emitted.
fn split_lines(buf: &mut Vec<u8>, eof: bool, mut emit: impl FnMut(&[u8])) {
    let mut start = 0;
    loop {
        let rest = &buf[start..];
        let window = &rest[..rest.len().min(OUTPUT_LINE_MAX + 1)];
        if let Some(p) = memchr::memchr(b'\n', window) {
            emit(&rest[..p]);
            start += p + 1;
        } else if rest.len() > OUTPUT_LINE_MAX {
            emit(&rest[..OUTPUT_LINE_MAX]);
            start += OUTPUT_LINE_MAX;
        } else {
            break;
        }
    }
    if eof && start < buf.len() {
        emit(&buf[start..]);
        start = buf.len();
    }
    buf.drain(..start);
}

/// Logs one line a worker wrote: `[pool NAME] child PID said into stderr: "LINE"` at
/// warning level, or the line alone (no time, no level) when `decorate_workers_output = no`.
fn log_worker_line(log: &mut Log, cfg: &PoolConfig, pid: i32, stream: usize, line: &[u8]) {
    if cfg.decorate_workers_output {
        let head = format!(
            "[pool {}] child {pid} said into {}: \"",
            cfg.name, STREAM_NAMES[stream]
        );
        log.write_parts(LogLevel::Warning, true, &[head.as_bytes(), line, b"\""]);
    } else {
        log.write_parts(LogLevel::Warning, false, &[line]);
    }
}

/// `22-Nov-2026 16:25:52`, local time.
fn log_time(epoch: u64) -> String {
    let s = status::format_time(epoch); // 22/Nov/2026:16:25:52 +0000
    let (date, rest) = s.split_at(11);
    format!(
        "{}-{}-{} {}",
        &date[0..2],
        &date[3..6],
        &date[7..11],
        &rest[1..9]
    )
}

#[derive(Debug)]
struct Rec {
    slot: usize,
    started: Instant,
    idle_since: Option<Instant>,
    last_requests: u64,
    exit_asked: Option<Instant>,
    idle_kill: bool,
    term_sent: Option<Instant>,
    kill_sent: bool,
    slow_logged: u64,
    /// `catch_workers_output`: the read ends of the worker's stdout and stderr pipes (each
    /// closed at end of file or when the worker exits).
    output: [Option<Output>; 2],
}

struct Pool {
    cfg: Arc<PoolConfig>,
    sb: Arc<Scoreboard>,
    listener: Rc<Listener>,
    status_listener: Option<Rc<Listener>>,
    workers: BTreeMap<i32, Rec>,
    generation: u64,
    spawn_rate: u32,
    fail_streak: u32,
    next_spawn_at: Instant,
    ondemand_hold: Instant,
    pending_replacements: u32,
    draining_since: Option<Instant>,
    drain_term_sent: bool,
    drain_kill_sent: bool,
    slowlog: Option<File>,
    last_full_warning: Option<Instant>,
}

struct Stop {
    graceful: bool,
    term_at: Instant,
    kill_at: Instant,
    term_sent: bool,
    kill_sent: bool,
}

struct Master {
    cfg: Config,
    mode: Mode,
    pools: Vec<Pool>,
    draining: Vec<Pool>,
    sig: File,
    log: Log,
    notifier: Notifier,
    inherited: Vec<OwnedFd>,
    stop: Option<Stop>,
    abnormal: VecDeque<Instant>,
    pid: i32,
    rng: u64,
    last_maintenance: Instant,
    last_status_notify: Instant,
    last_watchdog: Instant,
    generation: u64,
    pid_file: Option<PathBuf>,
    /// When the event loop last ran its maintenance pass.
    last_pass: Instant,
}

fn signame(s: i32) -> &'static str {
    match s {
        libc::SIGTERM => "SIGTERM",
        libc::SIGKILL => "SIGKILL",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGHUP => "SIGHUP",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        _ => "signal",
    }
}

/// For a worker that does not report to the scoreboard (an unmodified libfcgi program): idle
/// when it is blocked in `accept` on fd 0, as `/proc/PID/syscall` shows. `None` if unknown.
fn probe_idle(pid: i32) -> Option<bool> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    let mut it = s.split_whitespace();
    let nr = it.next()?;
    if nr == "running" {
        return Some(false);
    }
    let nr: i64 = nr.parse().ok()?;
    let a0 = i64::from_str_radix(it.next()?.trim_start_matches("0x"), 16).ok()?;
    Some((nr == libc::SYS_accept || nr == libc::SYS_accept4) && a0 == 0)
}

impl Master {
    fn start(cfg: Config, mode: Mode) -> io::Result<Master> {
        // Workers get fds 0-2 replaced (the socket, pipes or /dev/null): keep those numbers
        // taken, so that nothing the master opens lands there and is overwritten in a worker.
        // (A socket inherited on fd 0 is already open and left as it is.)
        for fd in 0..=2 {
            if !sys::fd_is_open(fd) {
                let null = File::options().read(true).write(true).open("/dev/null")?;
                sys::move_fd(OwnedFd::from(null), fd)?;
            }
        }
        sys::ignore_sigpipe();
        let log = Log::open(cfg.global.error_log.clone(), cfg.global.log_level)?;
        let sig = File::from(sys::install_signal_pipe(&[
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGHUP,
            libc::SIGCHLD,
        ])?);
        let notifier = Notifier::from_env();
        let mut m = Master {
            mode,
            pools: Vec::new(),
            draining: Vec::new(),
            sig,
            log,
            notifier,
            inherited: listen::take_inherited(),
            stop: None,
            abnormal: VecDeque::new(),
            pid: std::process::id() as i32,
            rng: now_us() ^ ((std::process::id() as u64) << 32) | 1,
            last_maintenance: Instant::now(),
            last_status_notify: Instant::now(),
            last_watchdog: Instant::now(),
            generation: 1,
            pid_file: None,
            last_pass: Instant::now(),
            cfg: cfg.clone(),
        };
        for pc in &cfg.pools {
            if mode == Mode::Command && pc.command.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "[pool {}] no command to run (set 'command' or give one after --)",
                        pc.name
                    ),
                ));
            }
            let p = m.new_pool(pc.clone())?;
            m.pools.push(p);
        }
        if cfg.global.daemonize {
            m.daemonize()?;
        }
        if let Some(p) = &cfg.global.pid {
            std::fs::write(p, format!("{}\n", m.pid))?;
            m.pid_file = Some(p.clone());
        }
        Ok(m)
    }

    fn daemonize(&mut self) -> io::Result<()> {
        match sys::fork()? {
            Fork::Parent(_) => sys::exit_now(0),
            Fork::Child => {}
        }
        sys::setsid();
        self.pid = std::process::id() as i32;
        let null = File::options().read(true).write(true).open("/dev/null")?;
        for fd in [1, 2] {
            if fd == 2 && self.log.file.is_none() {
                continue;
            }
            sys::dup2(null.as_raw_fd(), fd)?;
        }
        Ok(())
    }

    fn log(&mut self, level: LogLevel, msg: String) {
        self.log.write(level, &msg);
    }

    fn rand(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn find_listener(&self, name: &str, addr: &ListenAddr, status: bool) -> Option<Rc<Listener>> {
        self.pools.iter().chain(self.draining.iter()).find_map(|p| {
            if p.cfg.name != name {
                return None;
            }
            if status {
                p.status_listener
                    .as_ref()
                    .filter(|l| &l.addr == addr)
                    .cloned()
            } else if &p.listener.addr == addr {
                Some(p.listener.clone())
            } else {
                None
            }
        })
    }

    fn new_pool(&mut self, cfg: PoolConfig) -> io::Result<Pool> {
        let listener = match self.find_listener(&cfg.name, &cfg.listen, false) {
            Some(l) => l,
            None => Rc::new(listen::open(&cfg, &mut self.inherited)?),
        };
        let status_listener = match &cfg.status_listen {
            None => None,
            Some(a) if *a == cfg.listen => None,
            Some(a) => Some(match self.find_listener(&cfg.name, a, true) {
                Some(l) => l,
                None => {
                    let l = listen::open_addr(a, &cfg, &mut self.inherited)?;
                    sys::set_nonblocking(l.fd(), true)?;
                    Rc::new(l)
                }
            }),
        };
        if !cfg.listen_allowed_clients.is_empty() && listener.is_unix() {
            self.log(
                LogLevel::Notice,
                format!(
                    "[pool {}] listen.allowed_clients applies to TCP sockets only; ignored for this unix socket",
                    cfg.name
                ),
            );
        }
        // Room for a full new generation while an old one drains.
        let sb = Scoreboard::create(&cfg.name, cfg.pm, cfg.max_children as usize * 2 + 1)?;
        // Filled now, not at the first maintenance pass, so that a status page answered in
        // the pool's first moments does not show a zero `listen queue len`.
        if let Some((q, len)) = listener.queue() {
            sb.set_listen_queue(q, len);
        }
        let slowlog = match &cfg.slowlog {
            Some(p) => Some(File::options().create(true).append(true).open(p)?),
            None => None,
        };
        let now = Instant::now();
        Ok(Pool {
            cfg: Arc::new(cfg),
            sb: Arc::new(sb),
            listener,
            status_listener,
            workers: BTreeMap::new(),
            generation: self.generation,
            spawn_rate: 1,
            fail_streak: 0,
            next_spawn_at: now,
            ondemand_hold: now,
            pending_replacements: 0,
            draining_since: None,
            drain_term_sent: false,
            drain_kill_sent: false,
            slowlog,
            last_full_warning: None,
        })
    }

    fn spawn_initial(&mut self) -> io::Result<Option<Worker>> {
        for ix in 0..self.pools.len() {
            let n = match self.pools[ix].cfg.pm {
                PmMode::Static => self.pools[ix].cfg.max_children,
                PmMode::Dynamic => self.pools[ix].cfg.start_servers,
                PmMode::Ondemand => 0,
            };
            for _ in 0..n {
                if let Some(w) = self.spawn(ix)? {
                    return Ok(Some(w));
                }
            }
        }
        Ok(None)
    }

    /// Forks one worker for live pool `ix`. `Ok(Some)` means we are that worker (library mode).
    fn spawn(&mut self, ix: usize) -> io::Result<Option<Worker>> {
        let base = self.pools[ix].cfg.max_requests;
        let jitter = self.pools[ix].cfg.max_requests_jitter as u64;
        let max_requests = if base > 0 && jitter > 0 {
            let span = base * jitter / 100;
            let r = self.rand() % (2 * span + 1);
            (base + r).saturating_sub(span).max(1)
        } else {
            base
        };
        let pool = &mut self.pools[ix];
        let Some(slot) = pool.sb.claim(max_requests, pool.generation) else {
            return Ok(None);
        };
        let replacement = pool.pending_replacements > 0;
        if self.mode == Mode::Library {
            // The child is this program and reports its own state from its first instant.
            pool.sb.slot(slot).set_attached();
        }
        // catch_workers_output: the worker's stdout and stderr become these pipes.
        let pipes = if pool.cfg.catch_workers_output {
            match sys::pipe_cloexec().and_then(|o| Ok([o, sys::pipe_cloexec()?])) {
                Ok(p) => Some(p),
                Err(e) => {
                    pool.sb.slot(slot).release();
                    let name = pool.cfg.name.clone();
                    self.log(
                        LogLevel::Error,
                        format!("[pool {name}] cannot create the output pipes: {e}"),
                    );
                    return Ok(None);
                }
            }
        } else {
            None
        };
        match sys::fork() {
            Err(e) => {
                pool.sb.slot(slot).release();
                let name = pool.cfg.name.clone();
                self.log(LogLevel::Error, format!("[pool {name}] fork failed: {e}"));
                Ok(None)
            }
            Ok(Fork::Child) => Ok(Some(self.become_worker(ix, slot, max_requests, pipes))),
            Ok(Fork::Parent(pid)) => {
                // Keep the read ends only: with a write end open here the pipe would never
                // report end of file.
                let output = match pipes {
                    Some([(out_r, out_w), (err_r, err_w)]) => {
                        drop((out_w, err_w));
                        [out_r, err_r].map(|r| {
                            Some(Output {
                                pipe: File::from(r),
                                buf: Vec::new(),
                            })
                        })
                    }
                    None => [None, None],
                };
                pool.sb.slot(slot).set_pid(pid as u32);
                if replacement {
                    pool.pending_replacements -= 1;
                    pool.sb.add_respawn();
                }
                let now = Instant::now();
                pool.workers.insert(
                    pid,
                    Rec {
                        slot,
                        started: now,
                        idle_since: None,
                        last_requests: 0,
                        exit_asked: None,
                        idle_kill: false,
                        term_sent: None,
                        kill_sent: false,
                        slow_logged: 0,
                        output,
                    },
                );
                let name = pool.cfg.name.clone();
                self.log(
                    LogLevel::Debug,
                    format!("[pool {name}] child {pid} started"),
                );
                Ok(None)
            }
        }
    }

    /// In the forked child: set up the process, then `exec` (command) or return (library).
    fn become_worker(
        &mut self,
        ix: usize,
        slot: usize,
        max_requests: u64,
        pipes: Option<[(OwnedFd, OwnedFd); 2]>,
    ) -> Worker {
        sys::reset_signals_in_child();
        sys::set_parent_death_signal(libc::SIGTERM);
        if sys::getppid() != self.pid {
            sys::exit_now(1);
        }
        let pool = &self.pools[ix];
        let cfg = pool.cfg.clone();
        let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
            let _ = writeln!(
                io::stderr(),
                "fcgi-rs-pm: [pool {}] worker {}: {what}: {e}",
                cfg.name,
                std::process::id()
            );
            sys::exit_now(70)
        };
        if let Err(e) = sys::dup2(pool.listener.fd(), 0) {
            fail("putting the socket on fd 0", &e);
        }
        if let Some(n) = cfg.rlimit_files {
            if let Err(e) = sys::set_rlimit(sys::RlimitKind::Files, n) {
                fail("rlimit_files", &e);
            }
        }
        if let Some(n) = cfg.rlimit_core {
            if let Err(e) = sys::set_rlimit(sys::RlimitKind::Core, n) {
                fail("rlimit_core", &e);
            }
        }
        if sys::geteuid() == 0 && (cfg.user.is_some() || cfg.group.is_some()) {
            let (uid, mut gid) = match cfg.user.as_deref().map(sys::lookup_user).transpose() {
                Ok(Some(u)) => u,
                Ok(None) => (0, 0),
                Err(e) => fail("user", &e),
            };
            if let Some(g) = cfg.group.as_deref() {
                gid = sys::lookup_group(g).unwrap_or_else(|e| fail("group", &e));
            }
            if let Err(e) = sys::set_credentials(uid, gid, cfg.user.as_deref()) {
                fail("dropping privileges", &e);
            }
        }
        if let Some(d) = &cfg.chdir {
            if let Err(e) = std::env::set_current_dir(d) {
                fail("chdir", &e);
            }
        }
        // The environment the worker sees.
        let mut env: Vec<(String, String)> = if cfg.clear_env {
            Vec::new()
        } else {
            std::env::vars()
                .filter(|(k, _)| k != "FCGI_RS_PM" && k != "FCGI_RS_PM_CONFIG")
                .collect()
        };
        for (k, v) in &cfg.env {
            let val = match v {
                EnvValue::Literal(s) => Some(s.clone()),
                EnvValue::FromMaster(from) => std::env::var(from).ok(),
            };
            env.retain(|(n, _)| n != k);
            if let Some(val) = val {
                env.push((k.clone(), val));
            }
        }
        if max_requests > 0 {
            env.push((worker::ENV_MAX_REQUESTS.into(), max_requests.to_string()));
        }
        // listen.allowed_clients is FCGI_WEB_SERVER_ADDRS for the workers: the accept engine
        // (and libfcgi, for unmodified programs) enforces it. It wins over the variable from
        // the master's environment or env[...]. Unix sockets have no client address.
        if !cfg.listen_allowed_clients.is_empty() && !pool.listener.is_unix() {
            env.retain(|(k, _)| k != ENV_WEB_SERVER_ADDRS);
            env.push((
                ENV_WEB_SERVER_ADDRS.into(),
                cfg.listen_allowed_clients.join(","),
            ));
        }
        // fds 1 and 2: the pipes to the master (catch_workers_output). Otherwise they stay the
        // master's own, where php-fpm uses /dev/null: fcgi_rs's warnings from a worker (a
        // refused client, hostile input) must reach a log without any setting.
        // The original stderr is kept (close-on-exec) for a failing exec's message.
        let catching = pipes.is_some();
        let diag = io::stderr().as_fd().try_clone_to_owned().ok();
        let stdio = match pipes {
            Some([(out_r, out_w), (err_r, err_w)]) => {
                drop((out_r, err_r));
                sys::move_fd(out_w, 1).and_then(|()| sys::move_fd(err_w, 2))
            }
            None => Ok(()),
        };
        if let Err(e) = stdio {
            fail("setting up stdout and stderr", &e);
        }
        let sb = pool.sb.clone();
        let master_pid = self.pid;
        match self.mode {
            Mode::Library => {
                let keep: Vec<String> = env.iter().map(|(k, _)| k.clone()).collect();
                for (k, _) in
                    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
                {
                    if !keep.contains(&k) {
                        std::env::remove_var(&k);
                    }
                }
                for (k, v) in &env {
                    std::env::set_var(k, v);
                }
                // Close everything else the master held (the other pools' sockets, the
                // self-pipe is already closed); dropping the master's state does it.
                let w = Worker::new(
                    sb,
                    slot,
                    master_pid,
                    cfg.status_path.clone(),
                    cfg.ping_path.clone(),
                    cfg.ping_response.clone(),
                );
                self.pools.clear();
                self.draining.clear();
                self.inherited.clear();
                drop(diag);
                w
            }
            Mode::Command => {
                let sbfd = sb.fd().as_raw_fd();
                if sys::set_cloexec(sbfd, false).is_ok() {
                    env.push((worker::ENV_WORKER.into(), format!("{sbfd}:{slot}")));
                    if let Some(p) = &cfg.status_path {
                        env.push((worker::ENV_STATUS_PATH.into(), p.clone()));
                    }
                    if let Some(p) = &cfg.ping_path {
                        env.push((worker::ENV_PING_PATH.into(), p.clone()));
                        env.push((worker::ENV_PING_RESPONSE.into(), cfg.ping_response.clone()));
                    }
                }
                let argv: Vec<_> = cfg.command.iter().map(|a| sys::cstring_lossy(a)).collect();
                let envp: Vec<_> = env
                    .iter()
                    .map(|(k, v)| sys::cstring_lossy(&format!("{k}={v}")))
                    .collect();
                let e = sys::exec(&argv, Some(&envp));
                let msg = format!(
                    "fcgi-rs-pm: [pool {}] cannot run {}: {e}\n",
                    cfg.name, cfg.command[0]
                );
                // Into the master's log when output is caught, else where the master's
                // stderr goes (not /dev/null).
                match diag.filter(|_| !catching) {
                    Some(fd) => drop(File::from(fd).write_all(msg.as_bytes())),
                    None => drop(io::stderr().write_all(msg.as_bytes())),
                }
                sys::exit_now(127)
            }
        }
    }

    // -----------------------------------------------------------------------------------------

    fn event_loop(&mut self) -> io::Result<Option<Worker>> {
        /// Why an fd is in the poll set.
        #[derive(Clone, Copy)]
        enum Watch {
            Signals,
            /// A pool's `pm.status_listen` socket.
            Status(usize),
            /// An ondemand pool's socket: a connection waits and no worker is idle.
            Ondemand(usize),
            /// A worker's stdout (0) or stderr (1) pipe.
            Output(i32, usize),
        }
        loop {
            // What to wait for: the signal pipe, status sockets, ondemand sockets, and the
            // output pipes of workers (catch_workers_output).
            let mut fds: Vec<(i32, i16)> = vec![(self.sig.as_raw_fd(), libc::POLLIN)];
            let mut watch: Vec<Watch> = vec![Watch::Signals];
            let now = Instant::now();
            for (ix, p) in self.pools.iter().enumerate() {
                if let Some(l) = &p.status_listener {
                    fds.push((l.fd(), libc::POLLIN));
                    watch.push(Watch::Status(ix));
                }
                if p.cfg.pm == PmMode::Ondemand
                    && self.stop.is_none()
                    && now >= p.ondemand_hold
                    && (p.workers.len() as u32) < p.cfg.max_children
                    && !p
                        .workers
                        .values()
                        .any(|r| r.idle_since.is_some() && r.exit_asked.is_none())
                {
                    fds.push((p.listener.fd(), libc::POLLIN));
                    watch.push(Watch::Ondemand(ix));
                }
            }
            for p in self.pools.iter().chain(self.draining.iter()) {
                for (&pid, rec) in &p.workers {
                    for (stream, out) in rec.output.iter().enumerate() {
                        if let Some(out) = out {
                            fds.push((out.pipe.as_raw_fd(), libc::POLLIN));
                            watch.push(Watch::Output(pid, stream));
                        }
                    }
                }
            }
            // Output pipes may wake the loop often: the maintenance pass still runs once
            // per TICK, not once per wake-up.
            let wait = TICK.saturating_sub(self.last_pass.elapsed());
            let ready = match sys::poll(&fds, wait.as_millis() as i32) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => vec![0; fds.len()],
                Err(e) => return Err(e),
            };
            let mut events = false;
            // Worker output first, so that what a worker wrote before exiting is logged
            // before its exit.
            for (k, w) in watch.iter().enumerate() {
                if let (Watch::Output(pid, stream), true) = (*w, ready[k] != 0) {
                    self.read_output(pid, stream, false);
                }
            }
            if ready[0] != 0 {
                events = true;
                let mut buf = [0u8; 64];
                while let Ok(n) = self.sig.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    for &s in &buf[..n] {
                        if let Some(w) = self.on_signal(s as i32)? {
                            return Ok(Some(w));
                        }
                    }
                }
            }
            events |= self.reap() > 0;
            for (k, w) in watch.iter().enumerate() {
                if ready[k] == 0 {
                    continue;
                }
                match *w {
                    Watch::Status(ix) if ix < self.pools.len() => {
                        events = true;
                        self.serve_status(ix);
                    }
                    Watch::Ondemand(ix) if ix < self.pools.len() => {
                        events = true;
                        self.pools[ix].ondemand_hold = Instant::now() + Duration::from_millis(300);
                        if let Some(w) = self.spawn(ix)? {
                            return Ok(Some(w));
                        }
                    }
                    _ => {}
                }
            }
            if events || self.last_pass.elapsed() >= TICK {
                self.last_pass = Instant::now();
                if let Some(w) = self.maintain()? {
                    return Ok(Some(w));
                }
            }
            if self.stop.is_some()
                && self.pools.iter().all(|p| p.workers.is_empty())
                && self.draining.is_empty()
            {
                self.log(LogLevel::Notice, "all workers gone, exiting".into());
                return Ok(None);
            }
        }
    }

    /// Reads what worker `pid` wrote to its stdout (`stream` 0) or stderr (1) and logs the
    /// complete lines. Never blocks (the pipe is non-blocking) and reads a bounded amount per
    /// call. At end of file, or at the worker's exit (`at_exit`), logs the unfinished last
    /// line too and closes the pipe.
    fn read_output(&mut self, pid: i32, stream: usize, at_exit: bool) {
        let Some(pool) = self
            .pools
            .iter_mut()
            .chain(self.draining.iter_mut())
            .find(|p| p.workers.contains_key(&pid))
        else {
            return;
        };
        // Disjoint fields of the pool: its settings are read while a worker record changes.
        let cfg = &pool.cfg;
        let Some(rec) = pool.workers.get_mut(&pid) else {
            return;
        };
        let Some(out) = rec.output[stream].as_mut() else {
            return;
        };
        let log = &mut self.log;
        let budget = if at_exit {
            OUTPUT_EXIT_BUDGET
        } else {
            OUTPUT_READ_BUDGET
        };
        let mut chunk = [0u8; 16 * 1024];
        let mut total = 0;
        let mut closed = false;
        while total < budget {
            match (&out.pipe).read(&mut chunk) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    total += n;
                    out.buf.extend_from_slice(&chunk[..n]);
                    split_lines(&mut out.buf, false, |line| {
                        log_worker_line(log, cfg, pid, stream, line)
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    closed = e.kind() != io::ErrorKind::WouldBlock;
                    break;
                }
            }
        }
        if closed || at_exit {
            split_lines(&mut out.buf, true, |line| {
                log_worker_line(log, cfg, pid, stream, line)
            });
            rec.output[stream] = None;
        }
    }

    fn on_signal(&mut self, s: i32) -> io::Result<Option<Worker>> {
        match s {
            libc::SIGCHLD => {}
            libc::SIGTERM | libc::SIGINT => self.begin_stop(false, signame(s)),
            libc::SIGQUIT => self.begin_stop(true, "SIGQUIT"),
            libc::SIGUSR1 => {
                self.log.reopen();
                for p in self.pools.iter_mut() {
                    if let Some(path) = &p.cfg.slowlog {
                        p.slowlog = File::options().create(true).append(true).open(path).ok();
                    }
                }
                self.log(
                    LogLevel::Notice,
                    "received SIGUSR1: log files reopened".into(),
                );
            }
            libc::SIGUSR2 | libc::SIGHUP if self.stop.is_none() => {
                self.log(
                    LogLevel::Notice,
                    format!("received {}: reloading", signame(s)),
                );
                return self.reload();
            }
            _ => {}
        }
        Ok(None)
    }

    fn begin_stop(&mut self, graceful: bool, why: &str) {
        let now = Instant::now();
        let pct = self.cfg.global.process_control_timeout;
        if let Some(st) = &mut self.stop {
            if !graceful && st.graceful {
                // A fast stop overrides a graceful one in progress.
                st.graceful = false;
                st.term_at = now;
                st.kill_at = now + KILL_GRACE.min(pct.max(Duration::from_millis(100)));
            }
            return;
        }
        self.notifier.send("STOPPING=1");
        if graceful {
            self.log(
                LogLevel::Notice,
                format!(
                    "received {why}: finishing (draining for up to {}s)",
                    pct.as_secs()
                ),
            );
            self.stop = Some(Stop {
                graceful,
                term_at: now + pct,
                kill_at: now + pct + KILL_GRACE,
                term_sent: false,
                kill_sent: false,
            });
            for ix in 0..self.pools.len() {
                self.ask_all_to_exit(ix, false);
            }
            self.stop_accepting();
        } else {
            self.log(LogLevel::Notice, format!("received {why}: terminating"));
            self.stop = Some(Stop {
                graceful,
                term_at: now,
                kill_at: now + KILL_GRACE.min(pct.max(Duration::from_millis(100))),
                term_sent: false,
                kill_sent: false,
            });
            self.stop_accepting();
        }
    }

    /// No new connections once a stop began: workers asked to exit take none, so one left
    /// waiting in the backlog would only be reset when the master exits.
    fn stop_accepting(&self) {
        for p in self.pools.iter().chain(self.draining.iter()) {
            p.listener.stop_accepting();
        }
    }

    /// Asks every worker of a pool (live `ix`, or draining when `draining`) to exit after its
    /// current request: a flag in the scoreboard; a signal only to idle workers and to workers
    /// that do not read the scoreboard (libfcgi programs treat SIGUSR1 as "stop after this").
    fn ask_all_to_exit(&mut self, ix: usize, draining: bool) {
        let pool = if draining {
            &mut self.draining[ix]
        } else {
            &mut self.pools[ix]
        };
        let now = Instant::now();
        for (&pid, rec) in pool.workers.iter_mut() {
            ask_exit(&pool.sb, pid, rec, now);
        }
    }

    fn reload(&mut self) -> io::Result<Option<Worker>> {
        let new_cfg = match &self.cfg.source {
            Some(src) => match Config::from_file(src) {
                Ok(c) => c,
                Err(e) => {
                    self.log(
                        LogLevel::Error,
                        format!("reload refused, keeping the running configuration: {e}"),
                    );
                    return Ok(None);
                }
            },
            None => self.cfg.clone(),
        };
        self.notifier.send("RELOADING=1");
        self.generation += 1;
        let mut fresh = Vec::new();
        for pc in &new_cfg.pools {
            match self.new_pool(pc.clone()) {
                Ok(p) => fresh.push(p),
                Err(e) => {
                    self.log(
                        LogLevel::Error,
                        format!("reload refused: [pool {}] {e}", pc.name),
                    );
                    self.notifier.send("READY=1");
                    return Ok(None);
                }
            }
        }
        let old = std::mem::replace(&mut self.pools, fresh);
        let now = Instant::now();
        for mut p in old {
            p.draining_since = Some(now);
            self.draining.push(p);
            let ix = self.draining.len() - 1;
            self.ask_all_to_exit(ix, true);
        }
        self.draining.retain(|p| !p.workers.is_empty());
        let keep_source = self.cfg.source.clone();
        self.cfg = new_cfg;
        self.cfg.source = keep_source;
        self.log.level = self.cfg.global.log_level;
        if let Some(w) = self.spawn_initial()? {
            return Ok(Some(w));
        }
        self.notifier.send("READY=1\nSTATUS=Reloaded");
        self.log(
            LogLevel::Notice,
            format!(
                "generation {} started; the previous one drains",
                self.generation
            ),
        );
        Ok(None)
    }

    /// Reaps every exited worker; returns how many.
    fn reap(&mut self) -> usize {
        let mut n = 0;
        while let Some((pid, kind)) = sys::reap_any() {
            self.on_exit(pid, kind);
            n += 1;
        }
        n
    }

    fn on_exit(&mut self, pid: i32, kind: ExitKind) {
        // What it wrote last (and a last line without a newline), then its pipes are closed.
        self.read_output(pid, 0, true);
        self.read_output(pid, 1, true);
        let stopping = self.stop.is_some();
        let (pool, live) = match self.pools.iter_mut().find(|p| p.workers.contains_key(&pid)) {
            Some(p) => (p, true),
            None => match self
                .draining
                .iter_mut()
                .find(|p| p.workers.contains_key(&pid))
            {
                Some(p) => (p, false),
                None => return,
            },
        };
        let rec = pool.workers.remove(&pid).expect("present");
        pool.sb.slot(rec.slot).release();
        let lived = rec.started.elapsed();
        let expected = rec.exit_asked.is_some()
            || rec.idle_kill
            || rec.term_sent.is_some()
            || stopping
            || !live;
        let how = match kind {
            ExitKind::Code(c) => format!("exited with code {c}"),
            ExitKind::Signal(s) => format!("exited on signal {s} ({})", signame(s)),
        };
        let abnormal = !expected && kind != ExitKind::Code(0);
        let name = pool.cfg.name.clone();
        let now = Instant::now();
        if live && !stopping {
            if abnormal {
                pool.fail_streak = if lived < STABLE_AFTER {
                    pool.fail_streak + 1
                } else {
                    1
                };
                let delay = if pool.fail_streak <= 1 {
                    Duration::ZERO
                } else {
                    (Duration::from_millis(100) * (1u32 << (pool.fail_streak - 2).min(16)))
                        .min(BACKOFF_CAP)
                };
                pool.next_spawn_at = now + delay;
                if !delay.is_zero() {
                    self.log.write(
                        LogLevel::Warning,
                        &format!(
                            "[pool {name}] workers keep failing; next start in {} ms",
                            delay.as_millis()
                        ),
                    );
                }
            } else if lived >= STABLE_AFTER || kind == ExitKind::Code(0) {
                pool.fail_streak = 0;
            }
            if !rec.idle_kill {
                pool.pending_replacements += 1;
            }
        }
        let level = if abnormal {
            LogLevel::Warning
        } else {
            LogLevel::Notice
        };
        self.log.write(
            level,
            &format!(
                "[pool {name}] child {pid} {how} after {:.3} seconds",
                lived.as_secs_f64()
            ),
        );
        self.draining.retain(|p| !p.workers.is_empty());
        if abnormal {
            self.note_abnormal();
        }
    }

    /// php-fpm's emergency restart, but counting every abnormal exit (not only SIGSEGV/SIGBUS).
    fn note_abnormal(&mut self) {
        let th = self.cfg.global.emergency_restart_threshold as usize;
        let iv = self.cfg.global.emergency_restart_interval;
        if th == 0 || iv.is_zero() {
            return;
        }
        let now = Instant::now();
        self.abnormal.push_back(now);
        while self
            .abnormal
            .front()
            .is_some_and(|t| now.duration_since(*t) > iv)
        {
            self.abnormal.pop_front();
        }
        if self.abnormal.len() >= th {
            self.abnormal.clear();
            self.log(
                LogLevel::Alert,
                format!(
                    "{th} workers exited abnormally within {}s: emergency restart",
                    iv.as_secs()
                ),
            );
            // The reload runs from the loop: queue it as if USR2 arrived.
            let _ = sys::kill(self.pid, libc::SIGUSR2);
        }
    }

    fn maintain(&mut self) -> io::Result<Option<Worker>> {
        let now = Instant::now();
        let now_u = now_us();
        let tick = now.duration_since(self.last_maintenance) >= MAINTENANCE;
        if tick {
            self.last_maintenance = now;
        }
        // Observe workers; timeouts.
        let mut lines: Vec<(LogLevel, String)> = Vec::new();
        for pool in self.pools.iter_mut().chain(self.draining.iter_mut()) {
            let cfg = pool.cfg.clone();
            if let Some((q, len)) = pool.listener.queue() {
                pool.sb.set_listen_queue(q, len);
            }
            for (&pid, rec) in pool.workers.iter_mut() {
                let slot = pool.sb.slot(rec.slot);
                if !slot.attached() {
                    match probe_idle(pid) {
                        Some(true) => slot.set_observed_state(State::Idle),
                        Some(false) => slot.set_observed_state(State::Running),
                        None => {}
                    }
                }
                let reqs = slot.requests();
                let idle = slot.state() == State::Idle;
                if !idle || reqs != rec.last_requests {
                    rec.idle_since = if idle { Some(now) } else { None };
                    rec.last_requests = reqs;
                } else if rec.idle_since.is_none() {
                    rec.idle_since = Some(now);
                }
                // An idle kill that did not take within a tick escalates (php-fpm does too).
                if rec.idle_kill
                    && tick
                    && idle
                    && !rec.kill_sent
                    && rec.exit_asked.is_some_and(|t| now - t >= MAINTENANCE)
                {
                    let _ = sys::kill(pid, libc::SIGKILL);
                    rec.kill_sent = true;
                }
                let Some(since) = slot.busy_since() else {
                    continue;
                };
                let elapsed = Duration::from_micros(now_u.saturating_sub(since));
                let slow = cfg.request_slowlog_timeout;
                if !slow.is_zero() && elapsed >= slow && rec.slow_logged != since {
                    rec.slow_logged = since;
                    pool.sb.add_slow();
                    let (m, u, sc, _, _, _) = slot.strings();
                    lines.push((
                        LogLevel::Warning,
                        format!(
                            "[pool {}] child {pid}, script '{sc}' (request: \"{m} {u}\") executing too slow ({:.6} sec), logging",
                            cfg.name,
                            elapsed.as_secs_f64()
                        ),
                    ));
                    if let Some(f) = &mut pool.slowlog {
                        let _ = f.write_all(
                            format!(
                                "[{}]  [pool {}] pid {pid}\nrequest_method = {m}\nrequest_uri = {u}\nscript_filename = {sc}\nelapsed = {:.6} sec\n\n",
                                log_time(now_u / 1_000_000),
                                cfg.name,
                                elapsed.as_secs_f64()
                            )
                            .as_bytes(),
                        );
                    }
                }
                let term = cfg.request_terminate_timeout;
                if !term.is_zero() && elapsed >= term && rec.term_sent.is_none() {
                    rec.term_sent = Some(now);
                    pool.sb.add_terminated();
                    let (m, u, sc, _, _, _) = slot.strings();
                    lines.push((
                        LogLevel::Warning,
                        format!(
                            "[pool {}] child {pid}, script '{sc}' (request: \"{m} {u}\") execution timed out ({:.6} sec), terminating",
                            cfg.name,
                            elapsed.as_secs_f64()
                        ),
                    ));
                    let _ = sys::kill(pid, libc::SIGTERM);
                }
                if let Some(t) = rec.term_sent {
                    if !rec.kill_sent && now - t >= TERMINATE_GRACE {
                        rec.kill_sent = true;
                        let _ = sys::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        for (l, m) in lines {
            self.log(l, m);
        }
        // Draining generations: escalate after process_control_timeout.
        let pct = self.cfg.global.process_control_timeout;
        for pool in self.draining.iter_mut() {
            let since = pool.draining_since.unwrap_or(now);
            if !pool.drain_term_sent && now - since >= pct {
                pool.drain_term_sent = true;
                for &pid in pool.workers.keys() {
                    let _ = sys::kill(pid, libc::SIGTERM);
                }
            }
            if !pool.drain_kill_sent && now - since >= pct + KILL_GRACE {
                pool.drain_kill_sent = true;
                for &pid in pool.workers.keys() {
                    let _ = sys::kill(pid, libc::SIGKILL);
                }
            }
        }
        // Stopping: escalate, spawn nothing.
        if let Some(st) = &mut self.stop {
            let mut sig = None;
            if !st.term_sent && now >= st.term_at {
                st.term_sent = true;
                sig = Some(libc::SIGTERM);
            } else if !st.kill_sent && now >= st.kill_at {
                st.kill_sent = true;
                sig = Some(libc::SIGKILL);
            }
            if let Some(s) = sig {
                for p in self.pools.iter().chain(self.draining.iter()) {
                    for &pid in p.workers.keys() {
                        let _ = sys::kill(pid, s);
                    }
                }
            }
            return Ok(None);
        }
        // Keep each pool at its size.
        for ix in 0..self.pools.len() {
            if let Some(w) = self.size_pool(ix, tick)? {
                return Ok(Some(w));
            }
        }
        if tick {
            self.notify_periodic(now);
        }
        Ok(None)
    }

    fn size_pool(&mut self, ix: usize, tick: bool) -> io::Result<Option<Worker>> {
        let now = Instant::now();
        let cfg = self.pools[ix].cfg.clone();
        let counts = |p: &Pool| {
            let total = p
                .workers
                .values()
                .filter(|r| r.exit_asked.is_none())
                .count() as u32;
            let idle = p
                .workers
                .values()
                .filter(|r| r.exit_asked.is_none() && r.idle_since.is_some())
                .count() as u32;
            (total, idle)
        };
        match cfg.pm {
            PmMode::Static => {
                while counts(&self.pools[ix]).0 < cfg.max_children
                    && now >= self.pools[ix].next_spawn_at
                {
                    let before = self.pools[ix].workers.len();
                    if let Some(w) = self.spawn(ix)? {
                        return Ok(Some(w));
                    }
                    if self.pools[ix].workers.len() == before {
                        break; // no slot or fork failed
                    }
                }
            }
            PmMode::Dynamic => {
                let (total, idle) = counts(&self.pools[ix]);
                // Replace crashed workers at once (down to min spare) even between ticks.
                let replace_now =
                    idle < cfg.min_spare_servers && self.pools[ix].pending_replacements > 0;
                if !(tick || replace_now) {
                    return Ok(None);
                }
                if idle > cfg.max_spare_servers {
                    // Stop the idle worker that has been running longest.
                    let pool = &mut self.pools[ix];
                    let victim = pool
                        .workers
                        .iter()
                        .filter(|(_, r)| r.idle_since.is_some() && r.exit_asked.is_none())
                        .min_by_key(|(_, r)| r.started)
                        .map(|(&pid, _)| pid);
                    if let Some(pid) = victim {
                        let rec = pool.workers.get_mut(&pid).expect("present");
                        rec.idle_kill = true;
                        ask_exit(&pool.sb, pid, rec, now);
                    }
                    pool.spawn_rate = 1;
                } else if idle < cfg.min_spare_servers {
                    if total >= cfg.max_children {
                        self.max_children_reached(ix);
                        self.pools[ix].spawn_rate = 1;
                    } else if now >= self.pools[ix].next_spawn_at {
                        let n = self.pools[ix]
                            .spawn_rate
                            .min(cfg.min_spare_servers - idle)
                            .min(cfg.max_children - total);
                        for _ in 0..n {
                            if let Some(w) = self.spawn(ix)? {
                                return Ok(Some(w));
                            }
                        }
                        if self.pools[ix].spawn_rate >= 8 {
                            let msg = format!(
                                "[pool {}] seems busy (you may need to increase pm.start_servers, or pm.min/max_spare_servers), spawning {n} children, there are {idle} idle, and {total} total children",
                                cfg.name
                            );
                            self.log(LogLevel::Warning, msg);
                        }
                        let p2 = &mut self.pools[ix];
                        if p2.spawn_rate < cfg.max_spawn_rate {
                            p2.spawn_rate = (p2.spawn_rate * 2).min(cfg.max_spawn_rate);
                        }
                    }
                } else {
                    self.pools[ix].spawn_rate = 1;
                }
            }
            PmMode::Ondemand => {
                if !tick {
                    return Ok(None);
                }
                let (total, idle) = counts(&self.pools[ix]);
                let pool = &mut self.pools[ix];
                let victim = pool
                    .workers
                    .iter()
                    .filter(|(_, r)| {
                        r.exit_asked.is_none()
                            && r.idle_since
                                .is_some_and(|t| now - t >= cfg.process_idle_timeout)
                    })
                    .min_by_key(|(_, r)| r.idle_since)
                    .map(|(&pid, _)| pid);
                if let Some(pid) = victim {
                    let rec = pool.workers.get_mut(&pid).expect("present");
                    rec.idle_kill = true;
                    ask_exit(&pool.sb, pid, rec, now);
                }
                if idle == 0
                    && total >= cfg.max_children
                    && pool.listener.queue().is_some_and(|q| q.0 > 0)
                {
                    self.max_children_reached(ix);
                }
            }
        }
        Ok(None)
    }

    fn max_children_reached(&mut self, ix: usize) {
        let now = Instant::now();
        let p = &mut self.pools[ix];
        p.sb.add_max_children_reached();
        if p.last_full_warning
            .is_none_or(|t| now - t >= Duration::from_secs(10))
        {
            p.last_full_warning = Some(now);
            let msg = format!(
                "[pool {}] server reached pm.max_children setting ({}), consider raising it",
                p.cfg.name, p.cfg.max_children
            );
            self.log(LogLevel::Warning, msg);
        }
    }

    fn notify_periodic(&mut self, now: Instant) {
        if !self.notifier.enabled() {
            return;
        }
        if let Some(wd) = self.notifier.watchdog {
            if now - self.last_watchdog >= wd {
                self.last_watchdog = now;
                self.notifier.send("WATCHDOG=1");
            }
        }
        if now - self.last_status_notify >= Duration::from_secs(10) {
            self.last_status_notify = now;
            let (mut active, mut idle, mut reqs, mut slow) = (0, 0, 0, 0);
            for p in &self.pools {
                let s = p.sb.snapshot(now_us());
                active += s.active_processes;
                idle += s.idle_processes;
                reqs += s.accepted_conn;
                slow += s.slow_requests;
            }
            self.notifier.send(&format!(
                "STATUS=Processes active: {active}, idle: {idle}, Requests: {reqs}, slow: {slow}"
            ));
        }
    }

    /// Answers one connection on a pool's `pm.status_listen` socket (status and ping pages).
    fn serve_status(&mut self, ix: usize) {
        let pool = &self.pools[ix];
        let Some(l) = &pool.status_listener else {
            return;
        };
        let Ok((conn, _)) = l.sock.accept() else {
            return;
        };
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
        let _ = conn.set_write_timeout(Some(Duration::from_millis(500)));
        let mut stream = &conn;
        let Some(req) = read_fcgi_request(&mut stream) else {
            return;
        };
        let param = |k: &str| {
            req.params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let method = param("REQUEST_METHOD");
        let mut path = param("SCRIPT_NAME").to_string();
        if path.is_empty() {
            path = param("DOCUMENT_URI").to_string();
        }
        if path.is_empty() {
            path = param("REQUEST_URI")
                .split('?')
                .next()
                .unwrap_or("")
                .to_string();
        }
        let head = method.eq_ignore_ascii_case("HEAD");
        let body = if pool.cfg.ping_path.as_deref() == Some(path.as_str()) {
            status::ping(&pool.cfg.ping_response).cgi_bytes(head)
        } else if pool.cfg.status_path.as_deref() == Some(path.as_str()) {
            let snap = pool.sb.snapshot(now_us());
            status::render(&snap, Query::parse(param("QUERY_STRING"))).cgi_bytes(head)
        } else {
            status::Response {
                status: 404,
                content_type: "text/plain",
                body: "File not found.\n".into(),
            }
            .cgi_bytes(head)
        };
        let _ = stream.write_all(&fcgi_response(req.id, &body));
    }

    fn cleanup(&mut self) {
        for p in self.pools.iter() {
            p.listener.cleanup();
            if let Some(l) = &p.status_listener {
                l.cleanup();
            }
        }
        if let Some(p) = &self.pid_file {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn ask_exit(sb: &Scoreboard, pid: i32, rec: &mut Rec, now: Instant) {
    if rec.exit_asked.is_some() {
        return;
    }
    let slot = sb.slot(rec.slot);
    slot.request_exit();
    rec.exit_asked = Some(now);
    if !slot.attached() || slot.state() == State::Idle {
        let _ = sys::kill(pid, libc::SIGUSR1);
    }
}

struct FcgiRequest {
    id: u16,
    params: Vec<(String, String)>,
}

/// Reads one request (BEGIN_REQUEST, PARAMS, STDIN to their ends) from a status connection.
fn read_fcgi_request(s: &mut impl Read) -> Option<FcgiRequest> {
    use crate::protocol::{pairs, Header, RecordType, HEADER_LEN};
    let mut buf = Vec::with_capacity(1024);
    let mut params_raw = Vec::new();
    let mut id = None;
    let (mut params_done, mut stdin_done) = (false, false);
    let mut tmp = [0u8; 4096];
    while !(params_done && stdin_done) {
        while let Some(h) = Header::parse(&buf) {
            let total = HEADER_LEN + h.body_len();
            if buf.len() < total {
                break;
            }
            let content = &buf[HEADER_LEN..HEADER_LEN + h.content_length as usize];
            match h.record_type {
                RecordType::BEGIN_REQUEST => id = Some(h.request_id),
                RecordType::PARAMS if content.is_empty() => params_done = true,
                RecordType::PARAMS => params_raw.extend_from_slice(content),
                RecordType::STDIN if content.is_empty() => stdin_done = true,
                _ => {}
            }
            buf.drain(..total);
            if params_raw.len() > 1 << 20 {
                return None;
            }
        }
        if params_done && stdin_done {
            break;
        }
        let n = s.read(&mut tmp).ok()?;
        if n == 0 {
            // A peer that sends no stdin end still gets its answer.
            if params_done {
                break;
            }
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let params = pairs(&params_raw)
        .filter_map(|r| r.ok())
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    Some(FcgiRequest { id: id?, params })
}

/// STDOUT records with `body`, the empty STDOUT, and END_REQUEST.
fn fcgi_response(id: u16, body: &[u8]) -> Vec<u8> {
    use crate::protocol::{padding_for, Header, RecordType};
    let mut out = Vec::with_capacity(body.len() + 64);
    for chunk in body.chunks(0xfff8) {
        out.extend_from_slice(&Header::new(RecordType::STDOUT, id, chunk.len() as u16).encode());
        out.extend_from_slice(chunk);
        out.resize(out.len() + padding_for(chunk.len()), 0);
    }
    out.extend_from_slice(&Header::new(RecordType::STDOUT, id, 0).encode());
    out.extend_from_slice(&Header::new(RecordType::END_REQUEST, id, 8).encode());
    out.extend_from_slice(&[0u8; 8]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_time_format() {
        let t = log_time(1795364745);
        assert_eq!(t.len(), "22-Nov-2026 16:25:45".len());
        assert_eq!(&t[2..3], "-");
        assert_eq!(&t[6..7], "-");
    }

    fn lines(buf: &mut Vec<u8>, eof: bool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        split_lines(buf, eof, |l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn output_lines_are_split_bounded_and_flushed_at_eof() {
        let mut buf = b"one\n\ntwo\nthr".to_vec();
        assert_eq!(
            lines(&mut buf, false),
            vec![b"one".to_vec(), b"".to_vec(), b"two".to_vec()]
        );
        assert_eq!(buf, b"thr");
        buf.extend_from_slice(b"ee\nfour");
        assert_eq!(lines(&mut buf, false), vec![b"three".to_vec()]);
        assert_eq!(lines(&mut buf, true), vec![b"four".to_vec()]);
        assert!(buf.is_empty());
        assert!(lines(&mut buf, true).is_empty());
        // Exactly OUTPUT_LINE_MAX bytes and a newline: one line. Without the newline yet: wait.
        let mut buf = vec![b'a'; OUTPUT_LINE_MAX];
        assert!(lines(&mut buf, false).is_empty());
        buf.push(b'\n');
        assert_eq!(lines(&mut buf, false), vec![vec![b'a'; OUTPUT_LINE_MAX]]);
        // Longer: pieces of OUTPUT_LINE_MAX, the rest when its newline comes.
        let mut buf = vec![b'b'; 2 * OUTPUT_LINE_MAX + 10];
        let got = lines(&mut buf, false);
        assert_eq!(got, vec![vec![b'b'; OUTPUT_LINE_MAX]; 2]);
        assert_eq!(buf.len(), 10);
        buf.extend_from_slice(b"\nnext\n");
        assert_eq!(
            lines(&mut buf, false),
            vec![vec![b'b'; 10], b"next".to_vec()]
        );
    }

    #[test]
    fn worker_lines_decorated_or_raw() {
        let dir = std::env::temp_dir().join(format!("fcgi-rs-pm-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("error.log");
        let mut log = Log::open(Some(path.clone()), LogLevel::Notice).unwrap();
        let mut cfg = PoolConfig::new("www");
        log_worker_line(&mut log, &cfg, 42, 1, b"oops \"quoted\"");
        log_worker_line(&mut log, &cfg, 42, 0, b"\xffraw bytes");
        cfg.decorate_workers_output = false;
        log_worker_line(&mut log, &cfg, 42, 1, b"plain line");
        log.level = LogLevel::Error;
        log_worker_line(&mut log, &cfg, 42, 1, b"below the level");
        let text = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let text = String::from_utf8_lossy(&text);
        let l: Vec<&str> = text.lines().collect();
        assert_eq!(l.len(), 3, "{text}");
        assert!(
            l[0].starts_with('[')
                && l[0].ends_with(
                    "] WARNING: [pool www] child 42 said into stderr: \"oops \"quoted\"\""
                ),
            "{}",
            l[0]
        );
        assert!(
            l[1].ends_with(
                "] WARNING: [pool www] child 42 said into stdout: \"\u{fffd}raw bytes\""
            ),
            "{}",
            l[1]
        );
        assert_eq!(l[2], "plain line");
    }

    #[test]
    fn status_request_round_trip() {
        use crate::protocol::{encode_pair, Header, RecordType};
        let mut req = Vec::new();
        req.extend_from_slice(&Header::new(RecordType::BEGIN_REQUEST, 1, 8).encode());
        req.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        let mut p = Vec::new();
        encode_pair(b"SCRIPT_NAME", b"/status", &mut p);
        encode_pair(b"QUERY_STRING", b"json", &mut p);
        req.extend_from_slice(&Header::new(RecordType::PARAMS, 1, p.len() as u16).encode());
        req.extend_from_slice(&p);
        req.resize(req.len() + crate::protocol::padding_for(p.len()), 0);
        req.extend_from_slice(&Header::new(RecordType::PARAMS, 1, 0).encode());
        req.extend_from_slice(&Header::new(RecordType::STDIN, 1, 0).encode());
        let r = read_fcgi_request(&mut &req[..]).unwrap();
        assert_eq!(r.id, 1);
        assert_eq!(
            r.params,
            vec![
                ("SCRIPT_NAME".into(), "/status".into()),
                ("QUERY_STRING".into(), "json".into())
            ]
        );
        let out = fcgi_response(1, b"hello");
        assert_eq!(out.len(), 8 + 8 + 8 + 16);
    }
}
