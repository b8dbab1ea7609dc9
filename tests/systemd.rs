//! systemd socket activation: the listen socket arrives as fd 3 with `LISTEN_PID` and
//! `LISTEN_FDS`, and fd 0 is not a socket. libfcgi only looks at fd 0, so an unmodified
//! program falls back to CGI mode there; with fcgi_rs the same program serves FastCGI.

mod common;

use common::client::Addr;
use common::paths::{self, Flavor};
use common::procs::TempDir;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `echo-stdio` of `flavor` under `systemd-socket-activate` on a unix socket and sends
/// one request with Debian's cgi-fcgi. Returns its stdout, or `None` when the tools are absent.
fn activate_and_ask(flavor: Flavor) -> Option<String> {
    let activate = paths::system_program(&["/usr/bin/systemd-socket-activate"])?;
    common::cgi_fcgi::program()?;
    let dir = TempDir::new("systemd");
    let sock = dir.join("app.sock");
    let mut child = Command::new(activate)
        .arg("-l")
        .arg(&sock)
        .arg(paths::example(flavor, "echo-stdio"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate starts");
    common::wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        sock.exists().then_some(())
    })
    .expect("socket created");
    let out = common::cgi_fcgi::run(
        &Addr::Unix(sock.clone()),
        &[("QUERY_STRING", "via=systemd"), ("REQUEST_METHOD", "GET")],
        b"",
        Duration::from_secs(5),
    );
    let _ = child.kill();
    let _ = child.wait();
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn socket_activated_program_serves_fastcgi() {
    let Some(ours) = activate_and_ask(Flavor::Ours) else {
        eprintln!("skipping: systemd-socket-activate or cgi-fcgi not installed");
        return;
    };
    assert!(
        ours.contains("query via=systemd"),
        "served as FastCGI: {ours:?}"
    );
    if let Some(theirs) = activate_and_ask(Flavor::Libfcgi) {
        println!(
            "[libfcgi] under socket activation cgi-fcgi got {} bytes: {theirs:?}",
            theirs.len()
        );
    }
}
