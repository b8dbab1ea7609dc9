//! Debian's `cgi-fcgi -bind -connect ADDR` as a one-shot FastCGI client: it sends its whole
//! environment as params and `CONTENT_LENGTH` bytes of its stdin, copies the response to its
//! stdout/stderr and exits with the application's `appStatus`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::client::Addr;

/// What cgi-fcgi produced.
#[derive(Clone, Debug)]
pub struct CgiOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Exit code, `None` if killed by a signal or by the timeout.
    pub code: Option<i32>,
    pub timed_out: bool,
}

/// The cgi-fcgi program, if installed.
pub fn program() -> Option<PathBuf> {
    super::paths::system_program(&["/usr/bin/cgi-fcgi"])
}

/// Runs `cgi-fcgi -bind -connect addr` with exactly `env` as its environment and `stdin` as
/// its input; kills it after `timeout`.
pub fn run(addr: &Addr, env: &[(&str, &str)], stdin: &[u8], timeout: Duration) -> CgiOutput {
    let prog = program().expect("cgi-fcgi is not installed (package libfcgi-bin)");
    let mut cmd = Command::new(prog);
    cmd.arg("-bind")
        .arg("-connect")
        .arg(addr.to_libfcgi_string());
    run_command(&mut cmd, env, stdin, timeout)
}

/// Runs any command the way a web server runs a CGI program: exactly `env` as the
/// environment, `stdin` written on a pipe, stdout and stderr collected; killed after
/// `timeout`.
pub fn run_command(
    cmd: &mut Command,
    env: &[(&str, &str)],
    stdin: &[u8],
    timeout: Duration,
) -> CgiOutput {
    let mut child = cmd
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut sin = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let w = std::thread::spawn(move || {
        let _ = sin.write_all(&input);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let ro = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let re = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = super::procs::wait_child(&mut child, timeout);
    let timed_out = status.is_none();
    if timed_out {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = w.join();
    CgiOutput {
        stdout: ro.join().unwrap_or_default(),
        stderr: re.join().unwrap_or_default(),
        code: status.and_then(|s| s.code()),
        timed_out,
    }
}
