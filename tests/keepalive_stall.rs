//! The keep-alive stall: a single-threaded application behind nginx with
//! `fastcgi_keep_conn on` and an upstream keepalive pool, several nginx workers (so nginx
//! holds many upstream connections at once), under concurrent load.
//!
//! libfcgi serves one connection at a time and, after a kept-alive request, blocks reading
//! the next request from that same connection while nginx sends new requests on the others,
//! so requests stall until some other request happens to arrive on the blocked connection or
//! a timeout fires. Our accept engine watches every idle connection and the listen socket, so
//! no request waits behind an idle connection. We assert on ours and print libfcgi's figures.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http::HttpConn;
use common::nginx::{Nginx, NginxOpts};
use common::paths::Flavor;
use common::procs::{App, ListenKind};

/// The measurements run one at a time: on a small machine, two loads at once would measure
/// each other.
static SERIAL: Mutex<()> = Mutex::new(());

const CLIENTS: usize = 16;
const LOAD: Duration = Duration::from_secs(3);
/// Longest a single HTTP request may take before it counts as failed (bounds the test when
/// the application stalls).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(4);

#[derive(Debug)]
struct Figures {
    ok: usize,
    failed: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// Time to answer a fresh `Connection: close` request after the load, or the error.
    fresh: Result<Duration, String>,
}

fn measure(flavor: Flavor, kind: ListenKind) -> Figures {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = App::spawn(flavor, "hello", &[], kind);
    let ng = Nginx::start(
        &NginxOpts::new(app.addr().clone())
            .keep_conn(16)
            .workers(2)
            .upstream_timeout(REQUEST_TIMEOUT.as_secs() as u32 + 2),
    );
    let port = ng.port();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut failed = 0usize;
                let mut conn: Option<HttpConn> = None;
                // Bounded both by time and by count.
                for _ in 0..1_000_000 {
                    if stop.load(Ordering::Relaxed) || started.elapsed() >= LOAD {
                        break;
                    }
                    if conn.as_ref().is_none_or(|c| c.is_closed()) {
                        match HttpConn::connect(port) {
                            Ok(mut c) => {
                                c.set_timeout(REQUEST_TIMEOUT);
                                conn = Some(c);
                            }
                            Err(_) => {
                                failed += 1;
                                continue;
                            }
                        }
                    }
                    let c = conn.as_mut().unwrap();
                    let t = Instant::now();
                    match c.request("GET", "/hello", &[], b"") {
                        Ok(r) if r.status == 200 && r.body == b"Hello, world!\n" => {
                            lat.push(t.elapsed())
                        }
                        _ => {
                            failed += 1;
                            conn = None;
                        }
                    }
                }
                (lat, failed)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut failed = 0;
    for h in handles {
        let (l, f) = h.join().unwrap();
        lat.extend(l);
        failed += f;
    }
    stop.store(true, Ordering::Relaxed);
    lat.sort();

    // A fresh request on a new connection right after the load.
    let t = Instant::now();
    let fresh = match HttpConn::connect(port) {
        Ok(mut c) => {
            c.set_timeout(Duration::from_secs(5));
            match c.request("GET", "/fresh", &[("Connection", "close")], b"") {
                Ok(r) if r.status == 200 => Ok(t.elapsed()),
                Ok(r) => Err(format!("status {} after {:?}", r.status, t.elapsed())),
                Err(e) => Err(format!("{e} after {:?}", t.elapsed())),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    Figures {
        ok: lat.len(),
        failed,
        p50: common::percentile(&lat, 50.0),
        p99: common::percentile(&lat, 99.0),
        max: lat.last().copied().unwrap_or_default(),
        fresh,
    }
}

fn report(flavor: Flavor, kind: ListenKind, f: &Figures) {
    println!(
        "{} {:?}: {} ok, {} failed in {:?} with {CLIENTS} clients; p50 {:?} p99 {:?} max {:?}; \
         fresh request: {:?}",
        flavor.label(),
        kind,
        f.ok,
        f.failed,
        LOAD,
        f.p50,
        f.p99,
        f.max,
        f.fresh
    );
}

fn check_ours(kind: ListenKind) {
    let f = measure(Flavor::Ours, kind);
    report(Flavor::Ours, kind, &f);
    assert_eq!(f.failed, 0, "requests failed under keep-alive load: {f:?}");
    assert!(f.ok >= CLIENTS * 10, "too few requests completed: {f:?}");
    assert!(
        f.p99 < Duration::from_millis(50),
        "p99 {:?} >= 50 ms: {f:?}",
        f.p99
    );
    match &f.fresh {
        Ok(d) => assert!(*d < Duration::from_secs(1), "fresh request took {d:?}"),
        Err(e) => panic!("fresh request after the load failed: {e}"),
    }
}

#[test]
fn ours_unix() {
    check_ours(ListenKind::Unix);
}

#[test]
fn ours_tcp() {
    check_ours(ListenKind::Tcp);
}

/// Figures only: libfcgi is expected to stall here.
#[test]
fn libfcgi_figures() {
    let f = measure(Flavor::Libfcgi, ListenKind::Unix);
    report(Flavor::Libfcgi, ListenKind::Unix, &f);
}
