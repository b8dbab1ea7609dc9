//! Steady state allocates nothing per request (DESIGN.md, "Performance rules").
//!
//! `build/bin/hello` (linked with our library) runs with an LD_PRELOAD shim
//! (`tests/c/malloc_count.c`) that counts every malloc-family call into a shared file mapping.
//! After a warmup, 20000 more requests must not change any counter: once on one kept-alive
//! connection, once with a new connection per request.
//!
//! `FCGI_ALLOC_TEST_BIN=PATH` runs the same test against another responder, e.g.
//! `build/bin-libfcgi/hello`, which allocates per request and so makes this test fail: that is
//! how the test itself is checked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::client::{Conn, Request};
use common::paths::{self, Flavor};
use common::procs::{App, ListenKind, SpawnOpts, TempDir};

const WARMUP: usize = 2000;
const MEASURED: usize = 20000;

const NAMES: [&str; 8] = [
    "malloc",
    "calloc",
    "realloc",
    "free",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "valloc",
];
const MAGIC: u64 = u64::from_le_bytes(*b"MALLOCNT");

fn responder() -> PathBuf {
    match std::env::var_os("FCGI_ALLOC_TEST_BIN") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            paths::require(&p);
            p
        }
        _ => paths::example(Flavor::Ours, "hello"),
    }
}

fn build_shim(dir: &TempDir) -> PathBuf {
    let src = paths::repo_root().join("tests/c/malloc_count.c");
    let out = dir.join("malloc_count.so");
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("run cc");
    assert!(st.success(), "building the malloc counting shim failed");
    out
}

fn read_counts(path: &Path) -> Option<[u64; 8]> {
    let b = std::fs::read(path).ok()?;
    if b.len() < 72 || u64::from_ne_bytes(b[..8].try_into().ok()?) != MAGIC {
        return None;
    }
    let mut c = [0u64; 8];
    for (i, v) in c.iter_mut().enumerate() {
        *v = u64::from_ne_bytes(b[8 + 8 * i..16 + 8 * i].try_into().ok()?);
    }
    Some(c)
}

/// The counters once they have stopped moving (the responder finished its last request).
fn settled_counts(path: &Path) -> [u64; 8] {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = read_counts(path).expect("the shim's counter file");
    let mut stable_since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = read_counts(path).expect("the shim's counter file");
        if now != last {
            last = now;
            stable_since = Instant::now();
        } else if stable_since.elapsed() >= Duration::from_millis(150) {
            return now;
        }
        if Instant::now() >= deadline {
            return now;
        }
    }
}

fn request(keep_conn: bool) -> Request {
    Request::http("GET", "/hello?id=42&sort=desc")
        .param("SCRIPT_FILENAME", "/var/www/html/hello")
        .param("SERVER_SOFTWARE", "nginx")
        .param("REMOTE_ADDR", "127.0.0.1")
        .param("REMOTE_PORT", "51234")
        .param("SERVER_NAME", "localhost")
        .param("HTTP_HOST", "localhost")
        .param("HTTP_USER_AGENT", "alloc-free-test/1.0")
        .param("HTTP_ACCEPT", "*/*")
        .keep_conn(keep_conn)
}

fn check(resp: &common::client::Response) {
    assert_eq!(resp.protocol_status, 0);
    assert_eq!(resp.app_status, 0);
    assert!(!resp.stdout.is_empty(), "empty stdout");
}

fn kept_alive(app: &App, conn: &mut Option<Conn>, n: usize) {
    let req = request(true);
    let c = conn.get_or_insert_with(|| Conn::connect(app.addr()).expect("connect"));
    for _ in 0..n {
        check(&c.request(&req).expect("kept-alive request"));
    }
}

fn new_connections(app: &App, n: usize) {
    let req = request(false);
    for _ in 0..n {
        let mut c = Conn::connect(app.addr()).expect("connect");
        check(&c.request(&req).expect("request on a new connection"));
    }
}

fn delta_report(before: &[u64; 8], after: &[u64; 8]) -> (u64, String) {
    let mut total = 0;
    let mut parts = Vec::new();
    for i in 0..8 {
        let d = after[i].wrapping_sub(before[i]);
        total += d;
        if d > 0 {
            parts.push(format!("{} {d}", NAMES[i]));
        }
    }
    (total, parts.join(", "))
}

#[test]
fn steady_state_allocates_nothing() {
    let program = responder();
    let dir = TempDir::new("alloc");
    let shim = build_shim(&dir);
    let counts = dir.join("counts.bin");
    let opts = SpawnOpts {
        env: vec![
            ("LD_PRELOAD".into(), shim.to_string_lossy().into_owned()),
            (
                "MALLOC_COUNT_FILE".into(),
                counts.to_string_lossy().into_owned(),
            ),
        ],
        ..SpawnOpts::default()
    };
    let app = App::spawn_program(&program, ListenKind::Unix, &opts);

    // Kept-alive: one connection throughout.
    let mut conn = None;
    kept_alive(&app, &mut conn, WARMUP);
    let a = settled_counts(&counts);
    kept_alive(&app, &mut conn, MEASURED);
    let b = settled_counts(&counts);
    drop(conn);
    let (kept_total, kept_detail) = delta_report(&a, &b);

    // A new connection per request.
    new_connections(&app, WARMUP);
    let c = settled_counts(&counts);
    new_connections(&app, MEASURED);
    let d = settled_counts(&counts);
    let (new_total, new_detail) = delta_report(&c, &d);

    // The counts since start-up show the shim is really counting in this process.
    eprintln!(
        "{}: heap calls since start {}; over {MEASURED} requests after {WARMUP} warmup: kept-alive {kept_total} [{kept_detail}], new connection {new_total} [{new_detail}]",
        program.display(),
        d.iter().sum::<u64>()
    );
    assert_eq!(
        kept_total, 0,
        "kept-alive steady state made {kept_total} heap calls over {MEASURED} requests ({kept_detail})"
    );
    assert_eq!(
        new_total, 0,
        "new-connection steady state made {new_total} heap calls over {MEASURED} requests ({new_detail})"
    );
}
