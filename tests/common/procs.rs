//! Temporary directories, listen sockets, and example processes that die with their handle.
//!
//! ```ignore
//! let app = App::spawn(Flavor::Ours, "echo", &[], ListenKind::Unix);
//! let mut conn = client::Conn::connect(app.addr()).unwrap();
//! // ... the process is killed when `app` goes out of scope, even if the test panics.
//! ```

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::client::Addr;
use super::paths::{self, Flavor};

/// A directory removed (with its contents) on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "fcgirs-{tag}-{}-{}-{nanos:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Which kind of listen socket to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenKind {
    /// A unix socket in a fresh temporary directory.
    Unix,
    /// TCP on 127.0.0.1, port chosen by the kernel.
    Tcp,
    /// TCP on ::1, port chosen by the kernel.
    Tcp6,
}

/// Creates a listen socket of `kind`. Returns the socket (to hand to a child as fd 0), the
/// address clients connect to, and the directory holding a unix socket (keep it alive).
pub fn listen(kind: ListenKind, dir: &TempDir) -> (OwnedFd, Addr) {
    match kind {
        ListenKind::Unix => {
            let path = dir.join("app.sock");
            let l = UnixListener::bind(&path).expect("bind unix listener");
            (OwnedFd::from(l), Addr::Unix(path))
        }
        ListenKind::Tcp | ListenKind::Tcp6 => {
            let bind = if kind == ListenKind::Tcp {
                "127.0.0.1:0"
            } else {
                "[::1]:0"
            };
            let l = TcpListener::bind(bind).expect("bind tcp listener");
            let addr = l.local_addr().expect("local addr");
            (OwnedFd::from(l), Addr::Tcp(addr))
        }
    }
}

/// Options for [`App::spawn_with`].
#[derive(Clone, Debug, Default)]
pub struct SpawnOpts {
    /// Extra command-line arguments.
    pub args: Vec<String>,
    /// Extra environment variables (the rest of the environment is inherited).
    pub env: Vec<(String, String)>,
    /// Let the program open its own socket with `-s ADDR` instead of inheriting fd 0.
    pub self_bound: bool,
}

/// The exit status of `child` if it exits within `timeout` (it is left running otherwise).
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A running example (or any FastCGI program) with its listen socket. Killed on drop.
#[derive(Debug)]
pub struct App {
    child: Option<Child>,
    addr: Addr,
    stderr_path: PathBuf,
    name: String,
    dir: TempDir,
}

impl App {
    /// Runs the example `name` of `flavor` with a fresh listen socket of `kind` on its fd 0.
    pub fn spawn(flavor: Flavor, name: &str, args: &[&str], kind: ListenKind) -> App {
        let opts = SpawnOpts {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..SpawnOpts::default()
        };
        App::spawn_with(flavor, name, kind, &opts)
    }

    /// Like [`App::spawn`], with environment and self-bound socket options.
    pub fn spawn_with(flavor: Flavor, name: &str, kind: ListenKind, opts: &SpawnOpts) -> App {
        let program = paths::example(flavor, name);
        App::spawn_program(&program, kind, opts)
    }

    /// Runs any program as a FastCGI application listening on a fresh socket of `kind`.
    pub fn spawn_program(program: &Path, kind: ListenKind, opts: &SpawnOpts) -> App {
        let dir = TempDir::new("app");
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stderr_path = dir.join("stderr.log");
        let stderr = File::create(&stderr_path).expect("create stderr log");
        let mut cmd = Command::new(program);
        cmd.args(&opts.args)
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr));
        let addr = if opts.self_bound {
            let addr = match kind {
                ListenKind::Unix => Addr::Unix(dir.join("app.sock")),
                ListenKind::Tcp | ListenKind::Tcp6 => {
                    // Pick a free port, release it, let the program bind it.
                    let bind = if kind == ListenKind::Tcp {
                        "127.0.0.1:0"
                    } else {
                        "[::1]:0"
                    };
                    let l = TcpListener::bind(bind).expect("bind tcp");
                    Addr::Tcp(l.local_addr().unwrap())
                }
            };
            cmd.arg("-s")
                .arg(addr.to_libfcgi_string())
                .stdin(Stdio::null());
            addr
        } else {
            let (fd, addr) = listen(kind, &dir);
            cmd.stdin(Stdio::from(fd));
            addr
        };
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        let app = App {
            child: Some(child),
            addr,
            stderr_path,
            name,
            dir,
        };
        if opts.self_bound {
            let ok = super::wait_for(Duration::from_secs(5), Duration::from_millis(10), || {
                app.addr.probe().then_some(())
            });
            assert!(
                ok.is_some(),
                "{} never started listening on {}",
                app.name,
                app.addr
            );
        }
        app
    }

    pub fn addr(&self) -> &Addr {
        &self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The temporary directory of this app (holds its socket and stderr log).
    pub fn dir(&self) -> &TempDir {
        &self.dir
    }

    /// Whether the process is still running (not exited, not a zombie).
    pub fn is_alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Exit status if the process has exited within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_child(self.child.as_mut()?, timeout)
    }

    /// Resident set size in KiB (`VmRSS` of `/proc/PID/status`).
    pub fn vm_rss_kb(&self) -> Option<u64> {
        proc_status_field(self.pid(), "VmRSS:")
    }

    /// Sends a signal with the `kill` program (`sig` like "TERM", "USR1").
    pub fn signal(&self, sig: &str) {
        send_signal(self.pid(), sig);
    }

    /// Everything the process wrote to its stderr so far.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stderr_path).unwrap_or_default()).into_owned()
    }

    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends `sig` ("TERM", "KILL", "USR1", ...) to `pid` using the `kill` program.
pub fn send_signal(pid: u32, sig: &str) {
    if pid == 0 {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A numeric field (first number after `field`) of `/proc/PID/status`.
pub fn proc_status_field(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// Pids whose parent is `ppid` (from `/proc/*/stat`).
pub fn children_of(ppid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name is in parentheses and may hold spaces: parse after the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let _state = f.next();
        if f.next().and_then(|p| p.parse::<u32>().ok()) == Some(ppid) {
            out.push(pid);
        }
    }
    out
}

impl Addr {
    /// True if a connection to this address succeeds now.
    pub fn probe(&self) -> bool {
        match self {
            Addr::Unix(p) => UnixStream::connect(p).is_ok(),
            Addr::Tcp(a) => TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok(),
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound then released; another process may take it, so
/// callers that start a server on it should retry on failure).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().map(|a: SocketAddr| a.port()).unwrap()
}

/// Error if `r` failed; used to make io errors readable in panics.
pub fn ctx<T>(r: io::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}
