//! The `fcgi_stdio.h` layer end to end: `c-examples/echo-stdio.c` (a stdio program: `getchar`,
//! `fread`, `printf`, `fwrite`, `fprintf(stderr)`, `getenv`, `environ`) run
//! - behind our FastCGI client, byte for byte against the same source linked with libfcgi;
//! - behind a real nginx (unix and TCP, with and without `fastcgi_keep_conn`), 1 MiB bodies;
//! - as a plain CGI program (body on a pipe): one response, then `FCGI_Accept` returns -1;
//! - with C99 printf conversions, which libfcgi's own formatter drops (a deliberate fix).
//!
//! Also: printing after `FCGI_Accept` has failed (shutdown while idle) must not touch the freed
//! streams of the last request (libfcgi's use-after-free), and our headers `fcgi_stdio.h`,
//! `fcgios.h`, `fcgi_config.h`, `fcgimisc.h` declare the same prototypes and macro names as
//! libfcgi's installed ones.
//!
//! Needs `make` (both builds of echo-stdio), nginx, libfcgi-dev and a C compiler.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::client::{Conn, Request, Response};
use common::http::HttpConn;
use common::nginx::{Nginx, NginxOpts};
use common::paths::{self, Flavor};
use common::procs::{App, ListenKind, SpawnOpts, TempDir};

const PROGRAM: &str = "echo-stdio";

/// The `env` section of an echo-stdio response: the environ entries, in order.
fn env_lines(body: &str) -> Vec<String> {
    let mut lines = body.lines();
    let count: usize = lines
        .by_ref()
        .find_map(|l| l.strip_prefix("env "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no env line in {body:?}"));
    lines.take(count).map(str::to_string).collect()
}

/// The body bytes echoed after the `body N` line.
fn echoed_body(stdout: &[u8]) -> &[u8] {
    let text = stdout;
    let mut at = 0;
    while let Some(nl) = text[at..].iter().position(|&b| b == b'\n') {
        let line = &text[at..at + nl];
        at += nl + 1;
        if line.starts_with(b"body ") {
            return &text[at..];
        }
    }
    panic!(
        "no body line in {:?}",
        String::from_utf8_lossy(&stdout[..stdout.len().min(2000)])
    );
}

/// Panics with the first differing line when `ours` and `theirs` differ.
fn assert_same(ours: &[u8], theirs: &[u8], what: &str) {
    if ours == theirs {
        return;
    }
    let a: Vec<&[u8]> = ours.split_inclusive(|&c| c == b'\n').collect();
    let b: Vec<&[u8]> = theirs.split_inclusive(|&c| c == b'\n').collect();
    let i = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let show = |v: &[&[u8]]| {
        v.get(i)
            .map(|l| String::from_utf8_lossy(&l[..l.len().min(200)]).into_owned())
    };
    panic!(
        "{what}: fcgi_rs and libfcgi differ at line {i} ({} vs {} bytes): ours {:?}, libfcgi {:?}",
        ours.len(),
        theirs.len(),
        show(&a),
        show(&b)
    );
}

/// A fixed sequence of requests over the FastCGI client; returns every response for the
/// differential comparison after checking each one.
fn client_session(flavor: Flavor) -> Vec<Response> {
    let app = App::spawn(flavor, PROGRAM, &[], ListenKind::Unix);
    let mut out = Vec::new();

    // 1. GET with a query string, no body, own connection.
    let req = Request::http("GET", "/stdio/path?alpha=1&beta=two");
    let r = Conn::connect(app.addr()).unwrap().request(&req).unwrap();
    let text = r.stdout_str();
    assert_eq!(r.app_status, 0, "{text}");
    assert_eq!(r.header("Content-Type").as_deref(), Some("text/plain"));
    assert!(text.contains("\nrequest 1\n"), "{text}");
    assert!(text.contains("\nmethod GET\n"), "{text}");
    assert!(text.contains("\nquery alpha=1&beta=two\n"), "{text}");
    assert!(text.contains("\ngetchar 0 fread 0 extra 0\n"), "{text}");
    // environ is exactly the params, in the order sent, after FCGI_ROLE.
    let mut want = vec!["FCGI_ROLE=RESPONDER".to_string()];
    for (n, v) in &req.params {
        want.push(format!(
            "{}={}",
            String::from_utf8_lossy(n),
            String::from_utf8_lossy(v)
        ));
    }
    assert_eq!(env_lines(&text), want);
    assert!(echoed_body(&r.stdout).is_empty());
    assert_eq!(r.stderr_str(), "echo-stdio: request 1, 0 body bytes\n");
    out.push(r);

    // 2-4. Kept-alive connection: bodies read with getchar then fread, in small records.
    let mut conn = Conn::connect(app.addr()).unwrap();
    for (i, len) in [(2usize, 11usize), (3, 5000), (4, 100_000)] {
        let body = common::pseudo_random_bytes(len, i as u64);
        let req = Request::http("POST", "/stdio/post?n=2")
            .param("CONTENT_TYPE", "application/octet-stream")
            .stdin(body.clone())
            .stdin_chunk(777)
            .keep_conn(true);
        let r = conn
            .request(&req)
            .unwrap_or_else(|e| panic!("request {i} ({len} bytes): {e}"));
        let text = String::from_utf8_lossy(&r.stdout).into_owned();
        assert!(text.contains(&format!("\nrequest {i}\n")), "{text:.300}");
        assert!(
            text.contains(&format!("\ncontent_length {len}\n")),
            "{text:.300}"
        );
        let by_getchar = (len / 2).min(4096);
        assert!(
            text.contains(&format!(
                "\ngetchar {by_getchar} fread {} extra 0\n",
                len - by_getchar
            )),
            "{text:.400}"
        );
        assert!(
            echoed_body(&r.stdout) == body.as_slice(),
            "body {i} differs"
        );
        assert_eq!(
            r.stderr_str(),
            format!("echo-stdio: request {i}, {len} body bytes\n")
        );
        out.push(r);
    }

    // libfcgi would now block reading the idle kept-alive connection and never accept the
    // next one (reference §5); fcgi_rs watches both, so only ours keeps it open meanwhile.
    let mut kept = (flavor == Flavor::Ours).then_some(conn);

    // 5. More stdin than CONTENT_LENGTH announces: the rest is read one by one as "extra".
    let req = Request::http("POST", "/stdio/extra")
        .stdin(b"0123456789".to_vec())
        .set_param("CONTENT_LENGTH", "4");
    let r = Conn::connect(app.addr()).unwrap().request(&req).unwrap();
    let text = r.stdout_str();
    assert!(text.contains("\ngetchar 2 fread 2 extra 6\n"), "{text}");
    assert_eq!(echoed_body(&r.stdout), b"0123");
    out.push(r);

    // 6. The kept-alive connection of 2-4, idle during 5, serves one more request.
    if let Some(conn) = kept.as_mut() {
        let req = Request::http("POST", "/after-idle")
            .stdin(b"tail".to_vec())
            .keep_conn(true);
        let r = conn.request(&req).unwrap();
        assert!(
            r.stdout_str().contains("\nrequest 6\n"),
            "{}",
            r.stdout_str()
        );
        assert_eq!(echoed_body(&r.stdout), b"tail");
    }
    out
}

fn fastcgi_client(flavor: Flavor) {
    client_session(flavor);
}

both_flavors!(fastcgi_client);

/// Same requests, same bytes on stdout and stderr, same status, with either library.
#[test]
fn fastcgi_same_bytes_as_libfcgi() {
    let ours = client_session(Flavor::Ours);
    let theirs = client_session(Flavor::Libfcgi);
    assert_eq!(ours.len(), theirs.len());
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_same(&a.stdout, &b.stdout, &format!("request {i}"));
        assert_eq!(a.stderr_str(), b.stderr_str(), "request {i}");
        assert_eq!(
            (a.app_status, a.protocol_status),
            (b.app_status, b.protocol_status)
        );
    }
}

const C99_LINE: &str = "c99 zu=3 lld=-1234567890123 f= 3.14 end\n";

fn c99_request(flavor: Flavor) -> String {
    let app = App::spawn(flavor, PROGRAM, &[], ListenKind::Unix);
    let req = Request::http("POST", "/stdio?c99").stdin(b"abc".to_vec());
    let r = Conn::connect(app.addr()).unwrap().request(&req).unwrap();
    assert_eq!(echoed_body(&r.stdout), b"abc");
    r.stdout_str()
}

/// `%zu`, `%lld`, `%5.2f` through `printf` → `FCGI_printf`: formatted as by C's printf.
#[test]
fn c99_printf_ours() {
    let text = c99_request(Flavor::Ours);
    assert!(text.contains(&format!("\n{C99_LINE}")), "{text}");
}

/// The baseline: libfcgi's own formatter gives up at `%zu` and prints nothing more of that
/// call (reference §5, defect 4), so the line is cut short. This is why the comparison above
/// avoids the c99 path; if libfcgi ever prints the whole line, the fix note in
/// docs/drop-in.md is out of date.
#[test]
fn c99_printf_libfcgi_truncates() {
    let text = c99_request(Flavor::Libfcgi);
    assert!(!text.contains(C99_LINE), "{text}");
    assert!(text.contains("\nbody 3\nabc"), "{text}");
}

// ---- nginx ------------------------------------------------------------------------------------

/// One session through nginx; returns the bodies without the REMOTE_PORT and SERVER_PORT
/// lines (they change with every run).
fn nginx_session(flavor: Flavor, kind: ListenKind, keep: bool) -> Vec<Vec<u8>> {
    let app = App::spawn(flavor, PROGRAM, &[], kind);
    let mut o = NginxOpts::new(app.addr().clone());
    if keep {
        o = o.keep_conn(4);
    }
    let ng = Nginx::start(&o);
    let mut c = HttpConn::connect(ng.port()).unwrap();
    let mut bodies = Vec::new();

    let r = c.request("GET", "/cgi/echo?x=1&y=%20z", &[], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    let text = r.body_str();
    assert!(text.contains("\nquery x=1&y=%20z\n"), "{text}");
    let env = env_lines(&text);
    assert_eq!(env.first().map(String::as_str), Some("FCGI_ROLE=RESPONDER"));
    for want in [
        "REQUEST_METHOD=GET",
        "QUERY_STRING=x=1&y=%20z",
        "REQUEST_URI=/cgi/echo?x=1&y=%20z",
        "SCRIPT_NAME=/cgi/echo",
    ] {
        assert!(env.iter().any(|e| e == want), "{want} missing: {env:?}");
    }
    bodies.push(r.body);

    for (seed, len) in [(7u64, 1 << 20), (8, 1), (9, 65_536)] {
        let body = common::pseudo_random_bytes(len, seed);
        let r = c.request("POST", "/cgi/post", &[], &body).unwrap();
        assert_eq!(r.status, 200);
        assert!(
            echoed_body(&r.body) == body.as_slice(),
            "{len}-byte body differs"
        );
        bodies.push(r.body);
    }
    assert!(
        ng.error_log()
            .contains("echo-stdio: request 4, 65536 body bytes"),
        "stderr lines reach nginx's error log:\n{}",
        ng.error_log()
    );
    bodies
        .into_iter()
        .map(|b| {
            let mut out = Vec::new();
            for line in b.split_inclusive(|&c| c == b'\n') {
                if !line.starts_with(b"REMOTE_PORT=") && !line.starts_with(b"SERVER_PORT=") {
                    out.extend_from_slice(line);
                }
            }
            out
        })
        .collect()
}

fn behind_nginx(flavor: Flavor) {
    for (kind, keep) in [
        (ListenKind::Unix, false),
        (ListenKind::Unix, true),
        (ListenKind::Tcp, true),
    ] {
        nginx_session(flavor, kind, keep);
    }
}

both_flavors!(behind_nginx);

#[test]
fn nginx_same_bytes_as_libfcgi() {
    let ours = nginx_session(Flavor::Ours, ListenKind::Unix, true);
    let theirs = nginx_session(Flavor::Libfcgi, ListenKind::Unix, true);
    assert_eq!(ours.len(), theirs.len());
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_same(a, b, &format!("response {i}"));
    }
}

// ---- plain CGI ---------------------------------------------------------------------------------

/// Runs `program` as a CGI program: exactly `env` as the environment, `body` on a pipe.
fn run_cgi(program: &Path, env: &[(&str, &str)], body: &[u8]) -> common::cgi_fcgi::CgiOutput {
    let run = common::cgi_fcgi::run_command(
        &mut Command::new(program),
        env,
        body,
        Duration::from_secs(20),
    );
    assert!(
        !run.timed_out,
        "{} did not exit as a CGI program",
        program.display()
    );
    run
}

fn cgi_run(flavor: Flavor, body: &[u8]) -> common::cgi_fcgi::CgiOutput {
    let len = body.len().to_string();
    let env = [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REQUEST_METHOD", "POST"),
        ("QUERY_STRING", "cgi=1"),
        ("CONTENT_LENGTH", len.as_str()),
        ("SCRIPT_NAME", "/cgi-bin/echo-stdio"),
    ];
    let run = run_cgi(&paths::example(flavor, PROGRAM), &env, body);
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(
        run.code,
        Some(0),
        "{text:.300}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        text.starts_with("Content-Type: text/plain\r\n\r\nrequest 1\n"),
        "{text:.300}"
    );
    assert!(text.contains("\nmethod POST\n"), "{text:.300}");
    assert!(text.contains("\nquery cgi=1\n"), "{text:.300}");
    let mut env_want: Vec<String> = env.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let mut env_got = env_lines(&text);
    env_want.sort();
    env_got.sort();
    assert_eq!(env_got, env_want);
    assert!(echoed_body(&run.stdout) == body, "CGI body differs");
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        format!("echo-stdio: request 1, {} body bytes\n", body.len())
    );
    // Exactly one response: the second FCGI_Accept returned -1.
    assert_eq!(text.matches("Content-Type:").count(), 1);
    run
}

fn plain_cgi(flavor: Flavor) {
    cgi_run(flavor, b"");
    cgi_run(flavor, b"hello, cgi");
    cgi_run(flavor, &common::pseudo_random_bytes(300_000, 3));
}

both_flavors!(plain_cgi);

#[test]
fn plain_cgi_same_bytes_as_libfcgi() {
    let body = common::pseudo_random_bytes(70_000, 4);
    let ours = cgi_run(Flavor::Ours, &body);
    let theirs = cgi_run(Flavor::Libfcgi, &body);
    assert_same(&ours.stdout, &theirs.stdout, "CGI stdout");
    assert_eq!(ours.stderr, theirs.stderr);
}

// ---- after FCGI_Accept fails -----------------------------------------------------------------

/// Serves requests; a request whose query is "stop" calls FCGX_ShutdownPending. After the loop
/// (FCGI_Accept < 0) it prints to stdout and stderr, which libfcgi still points at the freed
/// streams of the last request, reports the return values on the real fd 2 and exits 7.
const AFTER_ACCEPT_C: &str = r#"
#include "fcgi_stdio.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    char line[200];
    int served = 0, rc, a, b, c;

    while ((rc = FCGI_Accept()) >= 0) {
        const char *q = getenv("QUERY_STRING");
        served++;
        printf("Content-Type: text/plain\r\n\r\nserved %d\n", served);
        if (q != NULL && strcmp(q, "stop") == 0)
            FCGX_ShutdownPending();
    }
    a = printf("after the loop %d\n", served);
    b = fprintf(stderr, "after the loop, stderr\n");
    c = fflush(stdout);
    snprintf(line, sizeof line, "accept=%d printf=%d fprintf=%d fflush=%d\n", rc, a, b, c);
    if (write(2, line, strlen(line)) < 0)
        return 1;
    return 7;
}
"#;

/// Compiles `src` against our headers and library, or against libfcgi's.
fn compile(flavor: Flavor, dir: &TempDir, name: &str, src: &str) -> PathBuf {
    let c = dir.join(&format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let exe = dir.join(name);
    let mut cmd = Command::new("cc");
    cmd.arg("-std=c99")
        .arg("-O1")
        .arg("-g")
        .arg("-o")
        .arg(&exe)
        .arg(&c);
    match flavor {
        Flavor::Ours => {
            let lib = paths::build_dir().join("lib");
            paths::require(&lib.join("libfcgi_rs.so"));
            cmd.arg(format!(
                "-I{}",
                paths::repo_root().join("include").display()
            ))
            .arg(format!("-L{}", lib.display()))
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-lfcgi_rs");
        }
        Flavor::Libfcgi => {
            cmd.arg("-lfcgi");
        }
    }
    let out = cmd.output().expect("run cc");
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// How the after-accept program ended, and what it wrote to its real stderr.
fn after_accept(
    flavor: Flavor,
    stop_by_signal: bool,
) -> (Option<std::process::ExitStatus>, String) {
    let dir = TempDir::new("after-accept");
    let exe = compile(flavor, &dir, "after_accept", AFTER_ACCEPT_C);
    let mut app = App::spawn_program(&exe, ListenKind::Unix, &SpawnOpts::default());
    let r = Conn::connect(app.addr())
        .unwrap()
        .request(&Request::http("GET", "/?x"))
        .unwrap();
    assert!(r.stdout_str().ends_with("served 1\n"), "{}", r.stdout_str());
    if stop_by_signal {
        // Idle in FCGI_Accept: SIGTERM asks for a graceful stop.
        std::thread::sleep(Duration::from_millis(200));
        app.signal("TERM");
    } else {
        let r = Conn::connect(app.addr())
            .unwrap()
            .request(&Request::http("GET", "/?stop"))
            .unwrap();
        assert!(r.stdout_str().ends_with("served 2\n"), "{}", r.stdout_str());
    }
    let status = app.wait_exit(Duration::from_secs(10));
    (status, app.stderr_text())
}

fn printing_after_failed_accept_is_safe(stop_by_signal: bool) {
    let (status, stderr) = after_accept(Flavor::Ours, stop_by_signal);
    let status = status.expect("the program did not leave its accept loop");
    assert_eq!(status.code(), Some(7), "{status:?}; stderr:\n{stderr}");
    // The standard streams are detached: the writes fail cleanly (EOF), nothing is sent.
    assert!(
        stderr.contains("printf=-1 fprintf=-1 fflush=-1"),
        "{stderr}"
    );
    assert!(stderr.contains("accept=-"), "FCGI_Accept failed: {stderr}");
    // Same program on libfcgi, for the record (reference §3.8: use-after-free, often SIGSEGV).
    let (st, err) = after_accept(Flavor::Libfcgi, stop_by_signal);
    eprintln!("libfcgi: {st:?}; stderr: {err:?}");
}

#[test]
fn print_after_shutdown_pending() {
    printing_after_failed_accept_is_safe(false);
}

#[test]
fn print_after_sigterm_while_idle() {
    printing_after_failed_accept_is_safe(true);
}

// ---- headers -----------------------------------------------------------------------------------

const HEADER_TU: &str = "#include \"fcgi_config.h\"\n#include <fcgi_stdio.h>\n\
                         #include <fcgios.h>\n#include <fcgimisc.h>\nint fcgi_rs_unused;\n";

/// The `FCGI_*`/`OS_*` prototypes a translation unit declares (gcc `-aux-info`).
fn prototypes(dir: &TempDir, ours: bool) -> Vec<String> {
    let src = dir.join("tu.c");
    std::fs::write(&src, HEADER_TU).unwrap();
    let aux = dir.join(if ours { "ours.aux" } else { "theirs.aux" });
    let mut cmd = Command::new("gcc");
    if ours {
        cmd.arg(format!(
            "-I{}",
            paths::repo_root().join("include").display()
        ));
    }
    let st = cmd
        .arg("-c")
        .arg(&src)
        .arg("-aux-info")
        .arg(&aux)
        .arg("-o")
        .arg(dir.join("tu.o"))
        .status()
        .unwrap();
    assert!(st.success());
    let mut v: Vec<String> = std::fs::read_to_string(&aux)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once("*/").map(|(_, decl)| decl.trim().to_string()))
        .filter(|d| {
            let name = d.split('(').next().unwrap_or("");
            name.contains(" FCGI_") || name.contains("*FCGI_") || name.contains(" OS_")
        })
        .collect();
    v.sort();
    v
}

/// Macro definitions (`name -> value`) a translation unit gets beyond the system headers.
fn macros(dir: &TempDir, ours: bool) -> std::collections::BTreeMap<String, String> {
    let base = "#include <stdio.h>\n#include <sys/types.h>\n#include <sys/time.h>\n\
                #include <errno.h>\n#include <assert.h>\n";
    let defs = |text: &str| -> std::collections::BTreeMap<String, String> {
        let src = dir.join("m.c");
        std::fs::write(&src, text).unwrap();
        let mut cmd = Command::new("gcc");
        if ours {
            cmd.arg(format!(
                "-I{}",
                paths::repo_root().join("include").display()
            ));
        }
        let out = cmd.arg("-E").arg("-dM").arg(&src).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("#define "))
            .map(|l| {
                let (name, value) = l.split_once(' ').unwrap_or((l, ""));
                (
                    name.to_string(),
                    value.split_whitespace().collect::<String>(),
                )
            })
            .collect()
    };
    let system = defs(base);
    defs(&format!("{base}{HEADER_TU}"))
        .into_iter()
        .filter(|(n, _)| !system.contains_key(n))
        .collect()
}

#[test]
fn headers_match_libfcgi() {
    for h in ["fcgi_stdio.h", "fcgios.h", "fcgi_config.h", "fcgimisc.h"] {
        if !Path::new("/usr/include").join(h).exists() {
            eprintln!("skipped: /usr/include/{h} is missing (package libfcgi-dev)");
            return;
        }
    }
    let dir = TempDir::new("stdio-headers");
    let ours = prototypes(&dir, true);
    let theirs = prototypes(&dir, false);
    assert_eq!(ours.len(), 39 + 18, "{ours:#?}");
    assert_eq!(ours, theirs);

    let ours = macros(&dir, true);
    let theirs = macros(&dir, false);
    let names = |m: &std::collections::BTreeMap<String, String>| -> Vec<String> {
        m.keys()
            .filter(|n| n.as_str() != "FCGI_RS_FCGI_CONFIG_H")
            .cloned()
            .collect()
    };
    assert_eq!(names(&ours), names(&theirs));
    // The stdio redirections and the value macros are the same tokens; only the
    // parenthesisation of the accessor macros and OS_SetErrno may differ.
    for (name, value) in &theirs {
        let ours_v = &ours[name];
        let strip = |s: &str| s.replace(['(', ')'], "");
        let same = match name.as_str() {
            "X_OK" => ours_v == "0x01" || ours_v == "1",
            _ => strip(ours_v) == strip(value),
        };
        assert!(same, "{name}: ours {ours_v:?}, libfcgi {value:?}");
    }
    // C++ sees the same declarations with C linkage, and -Wall -Wextra -pedantic is quiet.
    let src = dir.join("tu.cpp");
    std::fs::write(&src, HEADER_TU).unwrap();
    let out = Command::new("g++")
        .arg(format!(
            "-I{}",
            paths::repo_root().join("include").display()
        ))
        .args(["-Wall", "-Wextra", "-pedantic", "-Werror", "-fsyntax-only"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
