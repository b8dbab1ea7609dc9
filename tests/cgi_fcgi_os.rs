//! Debian's unmodified `/usr/bin/cgi-fcgi` on our `libfcgi.so.0`: it uses our `OS_*` layer
//! (connect, listen, spawn, the asynchronous I/O loop) and five `FCGX_*` functions.
//!
//! Each mode runs twice, once with the dynamic loader pointed at `build/compat` (our library;
//! the loader's `--library-path`, so the environment cgi-fcgi forwards as params stays the
//! same) and once plainly (Debian's libfcgi), and the two must produce the same stdout,
//! stderr and exit code:
//! - `-bind -connect ADDR` against a running responder (Unix and TCP);
//! - `-start -connect ADDR APP N`, then `-bind -connect ADDR` (Unix path and `:port`);
//! - `-connect ADDR APP`: starts the application the first time, binds the second.
//!
//! The responder is a small C program compiled here against Debian's libfcgi, so only
//! cgi-fcgi's side changes between runs. Processes spawned by cgi-fcgi record their pids in a
//! directory and are killed when the test ends (they also give up after two minutes).

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::paths;
use common::procs::{free_port, send_signal, App, ListenKind, SpawnOpts, TempDir};

const CGI_FCGI: &str = "/usr/bin/cgi-fcgi";
const LD_SO: &str = "/lib64/ld-linux-x86-64.so.2";
const TIMEOUT: Duration = Duration::from_secs(20);

const RESPONDER_C: &str = r#"
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    FCGX_Stream *in, *out, *err;
    FCGX_ParamArray envp;
    const char *dir = getenv("RESPONDER_PID_DIR");
    char buf[4096];
    alarm(120);
    if (dir != NULL) {
        snprintf(buf, sizeof buf, "%s/%ld", dir, (long)getpid());
        FILE *f = fopen(buf, "w");
        if (f != NULL)
            fclose(f);
    }
    while (FCGX_Accept(&in, &out, &err, &envp) >= 0) {
        long n = 0;
        int got;
        char **p;
        const char *status;
        FCGX_PutS("Content-type: text/plain\r\n\r\nparams:\n", out);
        for (p = envp; *p != NULL; p++)
            FCGX_FPrintF(out, "%s\n", *p);
        FCGX_PutS("body:\n", out);
        while ((got = FCGX_GetStr(buf, sizeof buf, in)) > 0) {
            FCGX_PutStr(buf, got, out);
            n += got;
        }
        FCGX_FPrintF(out, "\nbody length %ld\n", n);
        FCGX_FPrintF(err, "responder: %ld bytes in\n", n);
        status = FCGX_GetParam("APP_STATUS", envp);
        if (status != NULL)
            FCGX_SetExitStatus(atoi(status), out);
    }
    return 0;
}
"#;

/// The responder, compiled once per test into its own directory.
struct Responder {
    _dir: TempDir,
    exe: PathBuf,
}

fn responder() -> Responder {
    let dir = TempDir::new("responder");
    let src = dir.join("responder.c");
    std::fs::write(&src, RESPONDER_C).unwrap();
    let exe = dir.join("responder");
    let out = Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .arg("-lfcgi")
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "compiling the responder: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Responder { _dir: dir, exe }
}

/// Processes that recorded their pid in this directory are killed on drop.
struct PidDir(TempDir);

impl PidDir {
    fn new() -> PidDir {
        PidDir(TempDir::new("pids"))
    }

    fn path(&self) -> String {
        self.0.path().display().to_string()
    }

    fn pids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = std::fs::read_dir(self.0.path())
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    fn wait_count(&self, n: usize) -> usize {
        common::wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
            (self.pids().len() >= n).then_some(())
        });
        self.pids().len()
    }
}

impl Drop for PidDir {
    fn drop(&mut self) {
        for pid in self.pids() {
            send_signal(pid, "KILL");
        }
    }
}

fn compat_dir() -> PathBuf {
    let dir = paths::build_dir().join("compat");
    paths::require(&dir.join("libfcgi.so.0"));
    dir
}

fn have_cgi_fcgi() -> bool {
    if Path::new(CGI_FCGI).exists() && Path::new(LD_SO).exists() {
        return true;
    }
    panic!("{CGI_FCGI} (package libfcgi-bin) or {LD_SO} is missing");
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Lib {
    Ours,
    Debian,
}

#[derive(Debug, PartialEq)]
struct Out {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: Option<i32>,
}

/// The command line that runs cgi-fcgi on the chosen library.
fn cgi_fcgi_command(lib: Lib) -> Command {
    match lib {
        Lib::Ours => {
            let mut c = Command::new(LD_SO);
            c.arg("--library-path").arg(compat_dir()).arg(CGI_FCGI);
            c
        }
        Lib::Debian => Command::new(CGI_FCGI),
    }
}

/// Runs a prepared command with exactly `env`, feeding `stdin`; killed after `TIMEOUT`.
fn run_with(mut cmd: Command, env: &[(&str, String)], stdin: &[u8]) -> Out {
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn cgi-fcgi");
    let mut sin = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let w = std::thread::spawn(move || {
        let _ = sin.write_all(&input);
    });
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let ro = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let re = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "cgi-fcgi {:?} did not finish within {TIMEOUT:?}",
                cmd.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = w.join();
    Out {
        stdout: ro.join().unwrap(),
        stderr: re.join().unwrap(),
        code: status.code(),
    }
}

fn cgi_fcgi(lib: Lib, args: &[&str], env: &[(&str, String)], stdin: &[u8]) -> Out {
    let mut cmd = cgi_fcgi_command(lib);
    cmd.args(args);
    run_with(cmd, env, stdin)
}

/// The CGI environment of a request with `body`, answered with `APP_STATUS`.
fn request_env(body: &[u8], status: i32) -> Vec<(&'static str, String)> {
    vec![
        ("GATEWAY_INTERFACE", "CGI/1.1".into()),
        (
            "REQUEST_METHOD",
            if body.is_empty() { "GET" } else { "POST" }.into(),
        ),
        ("QUERY_STRING", "a=1&b=two".into()),
        ("CONTENT_LENGTH", body.len().to_string()),
        ("APP_STATUS", status.to_string()),
        ("HTTP_X_LONG", "v".repeat(3000)),
    ]
}

/// What the responder must have said for `body` and `status`.
fn check_answer(what: &str, out: &Out, body: &[u8], status: i32) {
    assert_eq!(
        out.code,
        Some(status),
        "{what}: exit code (stderr: {})",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("Content-type: text/plain\r\n\r\nparams:\n"),
        "{what}: {text:.200}"
    );
    assert!(text.contains("\nFCGI_ROLE=RESPONDER\n"), "{what}: params");
    assert!(
        text.contains(&format!("\nCONTENT_LENGTH={}\n", body.len())),
        "{what}: params"
    );
    let tail = format!("\nbody length {}\n", body.len());
    assert!(text.ends_with(&tail), "{what}: tail of {text:.200}");
    let start = out.stdout.len() - tail.len() - body.len();
    assert_eq!(
        &out.stdout[start..start + body.len()],
        body,
        "{what}: echoed body"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("responder: {} bytes in\n", body.len()),
        "{what}: stderr"
    );
}

fn assert_same(what: &str, ours: &Out, debian: &Out) {
    assert!(
        ours == debian,
        "{what}: our library and Debian's differ\n--- ours: code {:?}, {} bytes, stderr {:?}\n{:.400}\n--- Debian: code {:?}, {} bytes, stderr {:?}\n{:.400}",
        ours.code,
        ours.stdout.len(),
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&ours.stdout),
        debian.code,
        debian.stdout.len(),
        String::from_utf8_lossy(&debian.stderr),
        String::from_utf8_lossy(&debian.stdout),
    );
}

#[test]
fn cgi_fcgi_really_loads_our_library() {
    have_cgi_fcgi();
    let compat = compat_dir();
    let ours = std::fs::canonicalize(compat.join("libfcgi.so.0")).unwrap();

    // What the loader resolves, as ldd would say.
    let list = Command::new(LD_SO)
        .arg("--list")
        .arg("--library-path")
        .arg(&compat)
        .arg(CGI_FCGI)
        .output()
        .expect("ld.so --list");
    let text = String::from_utf8_lossy(&list.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("libfcgi.so.0"))
        .expect("libfcgi.so.0 in ld.so --list");
    assert!(
        line.contains(&compat.join("libfcgi.so.0").display().to_string()),
        "{line}"
    );

    // And what a running cgi-fcgi has mapped: hold it connected to a silent listener.
    let dir = TempDir::new("silent");
    let sock = dir.join("silent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut cmd = cgi_fcgi_command(Lib::Ours);
    cmd.args(["-bind", "-connect"])
        .arg(&sock)
        .env_clear()
        .env("CONTENT_LENGTH", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    listener.set_nonblocking(true).unwrap();
    let conn = common::wait_for(Duration::from_secs(10), Duration::from_millis(10), || {
        listener.accept().ok()
    });
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", child.id())).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(conn.is_some(), "cgi-fcgi never connected");
    assert!(
        maps.contains(&ours.display().to_string()),
        "our libfcgi.so.0 is not mapped:\n{maps}"
    );
    assert!(
        !maps
            .lines()
            .any(|l| l.ends_with("/x86_64-linux-gnu/libfcgi.so.0.0.0")),
        "Debian's libfcgi is mapped too:\n{maps}"
    );
}

#[test]
fn bind_mode_matches_libfcgi() {
    have_cgi_fcgi();
    let resp = responder();
    let bodies: [(&str, Vec<u8>, i32); 3] = [
        ("no body", Vec::new(), 0),
        ("small body", b"hello from stdin".to_vec(), 7),
        ("300 kB body", common::pseudo_random_bytes(300_000, 3), 42),
    ];
    for kind in [ListenKind::Unix, ListenKind::Tcp] {
        let app = App::spawn_program(&resp.exe, kind, &SpawnOpts::default());
        let addr = app.addr().to_libfcgi_string();
        for (what, body, status) in &bodies {
            let env = request_env(body, *status);
            let what = format!("-bind -connect {kind:?}, {what}");
            let ours = cgi_fcgi(Lib::Ours, &["-bind", "-connect", &addr], &env, body);
            check_answer(&what, &ours, body, *status);
            let debian = cgi_fcgi(Lib::Debian, &["-bind", "-connect", &addr], &env, body);
            assert_same(&what, &ours, &debian);
        }
    }
}

#[test]
fn bind_mode_reports_a_missing_application_like_libfcgi() {
    have_cgi_fcgi();
    let dir = TempDir::new("nobody");
    let addr = dir.join("nobody.sock").display().to_string();
    let env = request_env(b"", 0);
    let ours = cgi_fcgi(Lib::Ours, &["-bind", "-connect", &addr], &env, b"");
    let debian = cgi_fcgi(Lib::Debian, &["-bind", "-connect", &addr], &env, b"");
    assert_ne!(ours.code, Some(0));
    assert_same("-bind with nothing listening", &ours, &debian);
}

#[test]
fn start_mode_then_bind_matches_libfcgi() {
    have_cgi_fcgi();
    let resp = responder();
    let exe = resp.exe.display().to_string();
    let body = common::pseudo_random_bytes(70_000, 5);
    let env = request_env(&body, 3);
    for form in ["unix", "tcp"] {
        let mut outs = Vec::new();
        for lib in [Lib::Ours, Lib::Debian] {
            let dir = TempDir::new("start");
            let (start_addr, bind_addr) = match form {
                "unix" => {
                    let p = dir.join("app.sock").display().to_string();
                    (p.clone(), p)
                }
                _ => {
                    let port = free_port();
                    (format!(":{port}"), format!("127.0.0.1:{port}"))
                }
            };
            let pids = PidDir::new();
            let start_env = vec![("RESPONDER_PID_DIR", pids.path())];
            let started = cgi_fcgi(
                lib,
                &["-start", "-connect", &start_addr, &exe, "2"],
                &start_env,
                b"",
            );
            assert_eq!(
                started.code,
                Some(0),
                "{lib:?} -start {form}: {:?}",
                String::from_utf8_lossy(&started.stderr)
            );
            assert!(
                started.stdout.is_empty() && started.stderr.is_empty(),
                "{lib:?} -start {form}: output"
            );
            assert_eq!(
                pids.wait_count(2),
                2,
                "{lib:?} -start {form}: spawned applications"
            );

            let what = format!("{lib:?}: -start {form} then -bind");
            let out = cgi_fcgi(lib, &["-bind", "-connect", &bind_addr], &env, &body);
            check_answer(&what, &out, &body, 3);
            // A second request reaches the pool as well.
            let again = cgi_fcgi(lib, &["-bind", "-connect", &bind_addr], &env, &body);
            assert_eq!(again, out, "{what}: second request");
            outs.push(out);
        }
        assert_same(&format!("-start {form} then -bind"), &outs[0], &outs[1]);
    }
}

#[test]
fn connect_mode_starts_then_binds_like_libfcgi() {
    have_cgi_fcgi();
    let resp = responder();
    let exe = resp.exe.display().to_string();
    // The environment (pid directory included) is forwarded as params, so it is shared.
    let pids = PidDir::new();
    let body = b"connect mode body".to_vec();
    let mut env = request_env(&body, 5);
    env.push(("RESPONDER_PID_DIR", pids.path()));

    let mut firsts = Vec::new();
    let mut seconds = Vec::new();
    for lib in [Lib::Ours, Lib::Debian] {
        let dir = TempDir::new("connect");
        let addr = dir.join("app.sock").display().to_string();
        let before = pids.pids().len();
        let first = cgi_fcgi(lib, &["-connect", &addr, &exe], &env, &body);
        check_answer(&format!("{lib:?}: first -connect"), &first, &body, 5);
        assert_eq!(
            pids.wait_count(before + 1),
            before + 1,
            "{lib:?}: one application started"
        );

        let second = cgi_fcgi(lib, &["-connect", &addr, &exe], &env, &body);
        check_answer(&format!("{lib:?}: second -connect"), &second, &body, 5);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            pids.pids().len(),
            before + 1,
            "{lib:?}: the second -connect must bind, not start"
        );
        firsts.push(first);
        seconds.push(second);
    }
    assert_same("-connect (start)", &firsts[0], &firsts[1]);
    assert_same("-connect (bind)", &seconds[0], &seconds[1]);
}

#[test]
fn descriptors_above_1023_work() {
    // libfcgi's select() loop cannot watch fds >= FD_SETSIZE; ours polls. The shell fills
    // fds 3..1100 so cgi-fcgi's socket lands above 1023.
    have_cgi_fcgi();
    let resp = responder();
    let app = App::spawn_program(&resp.exe, ListenKind::Unix, &SpawnOpts::default());
    let addr = app.addr().to_libfcgi_string();
    let body = common::pseudo_random_bytes(100_000, 9);
    let env = request_env(&body, 9);
    let script = |lib_path: &str| {
        format!(
        "ulimit -n 4096 || exit 99; i=3; while [ $i -le 1100 ]; do eval \"exec $i</dev/null\"; i=$((i+1)); done; \
         exec {LD_SO} --library-path '{lib_path}' {CGI_FCGI} -bind -connect '{addr}'"
    )
    };
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script(&compat_dir().display().to_string()));
    let mut env_with_path = env.clone();
    env_with_path.push(("PATH", "/usr/bin:/bin".into()));
    // (bash adds a few variables of its own, which cgi-fcgi forwards; check_answer allows that.)
    let out = run_with(cmd, &env_with_path, &body);
    check_answer("fds above 1023", &out, &body, 9);

    // The same setup with Debian's libfcgi (its select() loop) does not get through: proof
    // that the descriptors really were above 1023.
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(script("/nonexistent"));
    let debian = run_with(cmd, &env_with_path, &body);
    assert_ne!(
        debian.code,
        Some(9),
        "Debian's cgi-fcgi unexpectedly coped with fd > 1023"
    );
}

#[test]
fn bind_mode_against_the_echo_example_matches_libfcgi() {
    // The project's echo example (our library on both sides of the socket when cgi-fcgi runs
    // on ours); a fresh instance per run, so request counters agree.
    have_cgi_fcgi();
    let echo = paths::example(paths::Flavor::Ours, "echo");
    let body = common::pseudo_random_bytes(20_000, 13)
        .iter()
        .map(|b| b'a' + b % 26)
        .collect::<Vec<u8>>();
    let env = request_env(&body, 0);
    let mut outs = Vec::new();
    for lib in [Lib::Ours, Lib::Debian] {
        let app = App::spawn_program(&echo, ListenKind::Unix, &SpawnOpts::default());
        let addr = app.addr().to_libfcgi_string();
        let out = cgi_fcgi(lib, &["-bind", "-connect", &addr], &env, &body);
        assert_eq!(
            out.code,
            Some(0),
            "{lib:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("QUERY_STRING=a=1&b=two"),
            "{lib:?}: {text:.300}"
        );
        outs.push(out);
    }
    assert_same("-bind against echo", &outs[0], &outs[1]);
}
