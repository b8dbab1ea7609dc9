//! Debian's unmodified `/usr/sbin/fcgiwrap` on our library, behind a real nginx.
//!
//! fcgiwrap is a `fcgi_stdio.h` program (`FCGI_Accept`, `FCGI_fread`, `FCGI_fwrite`,
//! `FCGI_printf`, ... and a copy-relocated `_fcgi_sF`) that runs a CGI script per request. It is
//! started with its listen socket on fd 0 and `LD_LIBRARY_PATH=<build>/compat`, where our
//! library carries libfcgi's SONAME; `/proc/PID/maps` must show that library loaded. The same
//! checks then run with Debian's own libfcgi, and the responses must be the same bytes:
//! - GET with a query string (the script prints its CGI variables);
//! - POST of a 1 MiB random body, echoed back byte for byte;
//! - a script writing to stderr (with `-f`, the line reaches nginx's error log over FastCGI);
//! - a script exiting non-zero;
//! - 1000 sequential and 100 concurrent requests, all answered, with no fd leak in fcgiwrap.
//!
//! Skips (with a message) when fcgiwrap or nginx is not installed (packages fcgiwrap, nginx).

#[macro_use]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::http::{self, HttpConn, HttpResponse};
use common::nginx::{self, Nginx, NginxOpts};
use common::paths::{self, Flavor};
use common::procs::{App, ListenKind, SpawnOpts, TempDir};

const FCGIWRAP: &str = "/usr/sbin/fcgiwrap";

/// CGI scripts, written into the document root. The POST echo reads its whole input before
/// writing: fcgiwrap writes the entire request body to the script before it reads the
/// script's output, so a streaming `cat` would deadlock on a full pipe with any library.
const SCRIPTS: &[(&str, &str)] = &[
    (
        "env.sh",
        "#!/bin/sh\n\
         printf 'Content-Type: text/plain\\r\\nX-Script: env\\r\\n\\r\\n'\n\
         for v in GATEWAY_INTERFACE REQUEST_METHOD QUERY_STRING SCRIPT_NAME CONTENT_LENGTH \
         SERVER_PROTOCOL; do eval \"printf '%s=%s\\n' $v \\\"\\$$v\\\"\"; done\n",
    ),
    (
        "post.sh",
        "#!/bin/sh\n\
         tmp=$(mktemp) || exit 1\n\
         cat > \"$tmp\"\n\
         printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\n\
         cat \"$tmp\"\n\
         rm -f \"$tmp\"\n",
    ),
    (
        "stderr.sh",
        "#!/bin/sh\n\
         echo 'fcgiwrap-test: a line on stderr' >&2\n\
         printf 'Content-Type: text/plain\\r\\n\\r\\nstderr done\\n'\n",
    ),
    (
        "fail.sh",
        "#!/bin/sh\n\
         printf 'Status: 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\n\\r\\nfailing\\n'\n\
         exit 3\n",
    ),
    (
        "silent-fail.sh",
        "#!/bin/sh\n\
         exit 4\n",
    ),
];

/// fcgiwrap and an nginx in front of it, serving the scripts of a fresh document root.
struct Site {
    // Field order: nginx stops before fcgiwrap, the document root goes last.
    nginx: Nginx,
    app: App,
    _root: TempDir,
}

fn available() -> bool {
    if !Path::new(FCGIWRAP).exists() {
        eprintln!("skipped: {FCGIWRAP} is not installed (package fcgiwrap)");
        return false;
    }
    if nginx::program().is_none() {
        eprintln!("skipped: nginx is not installed");
        return false;
    }
    true
}

fn compat_lib() -> PathBuf {
    let p = paths::build_dir().join("compat").join("libfcgi.so.0");
    paths::require(&p);
    p.canonicalize().unwrap()
}

fn start(flavor: Flavor) -> Site {
    let root = TempDir::new("fcgiwrap-root");
    for (name, text) in SCRIPTS {
        let p = root.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // -f: the scripts' stderr goes over FastCGI (FCGI_stderr) instead of fcgiwrap's own.
    let mut opts = SpawnOpts {
        args: vec!["-f".into()],
        ..SpawnOpts::default()
    };
    match flavor {
        Flavor::Ours => opts.env.push((
            "LD_LIBRARY_PATH".into(),
            compat_lib().parent().unwrap().display().to_string(),
        )),
        // An inherited LD_LIBRARY_PATH must not point the baseline at some other libfcgi.
        Flavor::Libfcgi => opts.env.push(("LD_LIBRARY_PATH".into(), String::new())),
    }
    let app = App::spawn_program(Path::new(FCGIWRAP), ListenKind::Unix, &opts);
    let mut o = NginxOpts::new(app.addr().clone());
    o.extra_location = format!(
        "      fastcgi_param SCRIPT_FILENAME {}$fastcgi_script_name;\n",
        root.path().display()
    );
    let nginx = Nginx::start(&o);
    Site {
        nginx,
        app,
        _root: root,
    }
}

impl Site {
    fn get(&self, path: &str) -> HttpResponse {
        http::fetch(self.nginx.port(), "GET", path, b"")
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.app.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// The libfcgi.so.0 file fcgiwrap has mapped.
    fn mapped_libfcgi(&self) -> Option<PathBuf> {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.app.pid())).ok()?;
        maps.lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.ends_with("/libfcgi.so.0") || p.contains("/libfcgi.so.0."))
            .map(PathBuf::from)
    }
}

/// The responses that must be identical with either library: (status, selected headers, body).
fn fixed_requests(site: &Site) -> Vec<(u16, Option<String>, Vec<u8>)> {
    let mut out = Vec::new();
    let r = site.get("/env.sh?alpha=1&beta=two%20three");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("X-Script"), Some("env"));
    let text = r.body_str();
    for want in [
        "GATEWAY_INTERFACE=CGI/1.1\n",
        "REQUEST_METHOD=GET\n",
        "QUERY_STRING=alpha=1&beta=two%20three\n",
        "SCRIPT_NAME=/env.sh\n",
        "SERVER_PROTOCOL=HTTP/1.1\n",
    ] {
        assert!(text.contains(want), "{want:?} missing from {text:?}");
    }
    out.push((
        r.status,
        r.header("Content-Type").map(str::to_string),
        r.body,
    ));

    let body = common::pseudo_random_bytes(1 << 20, 0x5eed);
    let r = http::fetch(site.nginx.port(), "POST", "/post.sh", &body).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len());
    assert!(r.body == body, "the 1 MiB body came back changed");
    out.push((
        r.status,
        r.header("Content-Type").map(str::to_string),
        r.body,
    ));

    let r = site.get("/stderr.sh");
    assert_eq!((r.status, r.body_str().as_str()), (200, "stderr done\n"));
    out.push((
        r.status,
        r.header("Content-Type").map(str::to_string),
        r.body,
    ));

    let r = site.get("/fail.sh");
    assert_eq!((r.status, r.body_str().as_str()), (503, "failing\n"));
    out.push((
        r.status,
        r.header("Content-Type").map(str::to_string),
        r.body,
    ));

    // No output at all: fcgiwrap answers with an error page of its own, not a hang.
    let r = site.get("/silent-fail.sh");
    assert!(r.status >= 500, "{} {}", r.status, r.body_str());
    out.push((
        r.status,
        r.header("Content-Type").map(str::to_string),
        r.body,
    ));

    let r = site.get("/no-such-script.sh");
    assert!(r.status >= 400, "{} {}", r.status, r.body_str());
    out.push((
        r.status,
        r.header("Content-Type").map(str::to_string),
        r.body,
    ));
    out
}

fn serves_scripts(flavor: Flavor) {
    if !available() {
        return;
    }
    let site = start(flavor);
    let first = site.get("/env.sh?warm=1");
    assert_eq!(first.status, 200, "{}", first.body_str());

    // The library actually in use.
    let mapped = site
        .mapped_libfcgi()
        .expect("fcgiwrap has no libfcgi.so.0 mapped");
    match flavor {
        Flavor::Ours => assert_eq!(mapped, compat_lib(), "fcgiwrap loaded another libfcgi"),
        Flavor::Libfcgi => assert!(
            mapped.starts_with("/usr/lib") || mapped.starts_with("/lib"),
            "{}",
            mapped.display()
        ),
    }
    let fds_before = site.fd_count();
    assert!(fds_before > 0);

    fixed_requests(&site);
    assert!(
        site.nginx
            .error_log()
            .contains("fcgiwrap-test: a line on stderr"),
        "the script's stderr is not in nginx's error log:\n{}\nfcgiwrap's stderr:\n{}",
        site.nginx.error_log(),
        site.app.stderr_text()
    );

    // 1000 sequential requests over one kept-alive HTTP connection.
    let mut c = HttpConn::connect(site.nginx.port()).unwrap();
    for i in 0..1000 {
        let r = c
            .request("GET", &format!("/env.sh?seq={i}"), &[], b"")
            .unwrap_or_else(|e| panic!("sequential request {i}: {e}"));
        assert_eq!(r.status, 200, "request {i}: {}", r.body_str());
        assert!(
            r.body_str().contains(&format!("QUERY_STRING=seq={i}\n")),
            "request {i}: {}",
            r.body_str()
        );
    }
    drop(c);

    // 100 concurrent requests, each on its own connection.
    let port = site.nginx.port();
    let workers: Vec<_> = (0..100)
        .map(|i| {
            std::thread::spawn(move || {
                let r = http::fetch(port, "GET", &format!("/env.sh?par={i}"), b"")
                    .unwrap_or_else(|e| panic!("concurrent request {i}: {e}"));
                assert_eq!(r.status, 200, "request {i}: {}", r.body_str());
                assert!(r.body_str().contains(&format!("QUERY_STRING=par={i}\n")));
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a concurrent request failed");
    }

    // fcgiwrap closes what it opened for each request (its own and the library's fds).
    let settled = common::wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        (site.fd_count() == fds_before).then_some(())
    });
    // Asserted for ours; libfcgi's lingering closes can keep descriptors open longer than
    // the wait, so for the baseline the figure is only printed.
    match flavor {
        Flavor::Ours => assert!(
            settled.is_some(),
            "fcgiwrap holds {} fds, {} before the load",
            site.fd_count(),
            fds_before
        ),
        Flavor::Libfcgi => println!(
            "[libfcgi] fcgiwrap fds: {} now, {} before the load",
            site.fd_count(),
            fds_before
        ),
    }
    let mut app = site.app;
    assert!(app.is_alive(), "fcgiwrap died: {}", app.stderr_text());
}

both_flavors!(serves_scripts);

#[test]
fn same_responses_as_libfcgi() {
    if !available() {
        return;
    }
    let ours = fixed_requests(&start(Flavor::Ours));
    let theirs = fixed_requests(&start(Flavor::Libfcgi));
    assert_eq!(ours.len(), theirs.len());
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!((a.0, &a.1), (b.0, &b.1), "response {i}");
        assert!(
            a.2 == b.2,
            "response {i}: bodies differ ({} vs {} bytes): {:?} / {:?}",
            a.2.len(),
            b.2.len(),
            String::from_utf8_lossy(&a.2[..a.2.len().min(300)]),
            String::from_utf8_lossy(&b.2[..b.2.len().min(300)])
        );
    }
}
