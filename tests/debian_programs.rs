//! Other Debian programs built against libfcgi, run unchanged on our `libfcgi.so.0`
//! (`<build>/compat`), each compared byte for byte with the same run on Debian's libfcgi:
//! - `/usr/bin/cgi-fcgi -bind -connect` (package libfcgi-bin) in front of echo-stdio: a short
//!   smoke test with a Debian program on both ends; `tests/cgi_fcgi_os.rs` covers cgi-fcgi's
//!   modes in depth;
//! - `/usr/bin/bosixnet_webui` (package bosixnet-webui), an `FCGI_Accept` + `FCGI_printf`
//!   responder with a copy-relocated `_fcgi_sF`, driven by our FastCGI client.
//!
//! A program that is not installed is skipped with a message.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::client::{Conn, Request};
use common::paths::{self, Flavor};
use common::procs::{App, ListenKind, SpawnOpts, TempDir};

const LD_SO: &str = "/lib64/ld-linux-x86-64.so.2";

fn compat_dir() -> PathBuf {
    let p = paths::build_dir().join("compat");
    paths::require(&p.join("libfcgi.so.0"));
    p.canonicalize().unwrap()
}

fn installed(program: &str, package: &str) -> bool {
    let ok = Path::new(program).exists();
    if !ok {
        eprintln!("skipped: {program} is not installed (package {package})");
    }
    ok
}

/// The libfcgi.so.0 a running process has mapped.
fn mapped_libfcgi(pid: u32) -> Option<PathBuf> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("/libfcgi.so.0"))
        .map(PathBuf::from)
}

/// cgi-fcgi with the given library on both ends: cgi-fcgi itself (through the dynamic
/// loader's `--library-path`, so its environment, which it forwards as params, is the same
/// in both runs) and echo-stdio behind it.
fn cgi_fcgi_echo(flavor: Flavor) -> (Vec<u8>, Vec<u8>, Option<i32>) {
    let app = App::spawn(flavor, "echo-stdio", &[], ListenKind::Unix);
    let mut cmd = match flavor {
        Flavor::Ours => {
            let mut c = Command::new(LD_SO);
            c.arg("--library-path")
                .arg(compat_dir())
                .arg("/usr/bin/cgi-fcgi");
            c
        }
        Flavor::Libfcgi => Command::new("/usr/bin/cgi-fcgi"),
    };
    let body = common::pseudo_random_bytes(20_000, 11);
    cmd.args(["-bind", "-connect"])
        .arg(app.addr().to_libfcgi_string());
    let len = body.len().to_string();
    let env = [
        ("REQUEST_METHOD", "POST"),
        ("QUERY_STRING", "from=cgi-fcgi"),
        ("CONTENT_LENGTH", len.as_str()),
    ];
    let out = common::cgi_fcgi::run_command(&mut cmd, &env, &body, Duration::from_secs(20));
    assert!(!out.timed_out, "cgi-fcgi did not finish");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("\nquery from=cgi-fcgi\n"),
        "{flavor:?}: {text:.400}"
    );
    assert!(
        out.stdout.ends_with(&body),
        "{flavor:?}: the body did not come back"
    );
    (out.stdout, out.stderr, out.code)
}

#[test]
fn cgi_fcgi_bind_connect() {
    if !installed("/usr/bin/cgi-fcgi", "libfcgi-bin") {
        return;
    }
    let ours = cgi_fcgi_echo(Flavor::Ours);
    let theirs = cgi_fcgi_echo(Flavor::Libfcgi);
    assert_eq!(ours.2, Some(0));
    assert!(ours.0 == theirs.0, "stdout differs");
    assert_eq!(
        String::from_utf8_lossy(&ours.1),
        String::from_utf8_lossy(&theirs.1)
    );
    assert_eq!(ours.2, theirs.2);
}

const BOSIXNET: &str = "/usr/bin/bosixnet_webui";

/// bosixnet_webui keeps a table of host addresses, updated with `?update=ADDR`.
fn bosixnet_session(flavor: Flavor) -> Vec<Vec<u8>> {
    let dir = TempDir::new("bosixnet");
    let conf = dir.join("webui.conf");
    std::fs::write(&conf, "").unwrap();
    let mut opts = SpawnOpts {
        args: vec![
            "-l".into(),
            dir.join("log").display().to_string(),
            "-c".into(),
            conf.display().to_string(),
        ],
        ..SpawnOpts::default()
    };
    opts.env.push((
        "LD_LIBRARY_PATH".into(),
        match flavor {
            Flavor::Ours => compat_dir().display().to_string(),
            Flavor::Libfcgi => String::new(),
        },
    ));
    let mut app = App::spawn_program(Path::new(BOSIXNET), ListenKind::Unix, &opts);
    let mut out = Vec::new();
    for uri in [
        "/bosixnet/",
        "/bosixnet/alpha?update=fd00::1",
        "/bosixnet/alpha?update=2001:db8:0:0:0:0:0:1",
        "/bosixnet/alpha",
        "/bosixnet/beta?update=2001:db8:0:0:0:0:0:2",
        "/bosixnet/",
    ] {
        let r = Conn::connect(app.addr())
            .unwrap()
            .request(&Request::http("GET", uri))
            .unwrap_or_else(|e| panic!("{flavor:?} {uri}: {e}"));
        assert_eq!(r.app_status, 0);
        assert!(
            r.stdout_str().starts_with("Content-type: text/html"),
            "{flavor:?} {uri}: {}",
            r.stdout_str()
        );
        out.push(r.stdout);
    }
    let text = String::from_utf8_lossy(&out[2]).into_owned();
    assert!(text.contains("2001:db8:0:0:0:0:0:1"), "{text}");
    let text = String::from_utf8_lossy(&out[1]).into_owned();
    assert!(text.contains("not a valid IPv6 address"), "{text}");

    let mapped = mapped_libfcgi(app.pid()).expect("no libfcgi.so.0 mapped");
    if flavor == Flavor::Ours {
        assert_eq!(mapped, compat_dir().join("libfcgi.so.0"));
    } else {
        assert!(!mapped.starts_with(compat_dir()), "{}", mapped.display());
    }
    assert!(app.is_alive(), "bosixnet_webui died: {}", app.stderr_text());
    out
}

#[test]
fn bosixnet_webui() {
    if !installed(BOSIXNET, "bosixnet-webui") {
        return;
    }
    let ours = bosixnet_session(Flavor::Ours);
    let theirs = bosixnet_session(Flavor::Libfcgi);
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "response {i}"
        );
    }
}
