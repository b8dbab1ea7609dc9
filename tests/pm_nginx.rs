//! The process manager's acceptance tests behind a real nginx.
//!
//! Every pool here is an **unmodified C example** (`echo`, built by `make` and linked with
//! our library) that gets its pool purely from configuration: `FCGI_RS_PM` in its
//! environment makes its first `FCGX_Init` fork a pool and turn the process into the master
//! (library mode). Workers answer `/status` and `/ping` themselves.
//!
//! Each scenario runs twice: nginx opening one upstream connection per request, and nginx
//! keeping upstream connections (`keepalive 16` + `fastcgi_keep_conn on`). HTTP clients count
//! every non-200 answer and every error they see; nothing is retried by the tests.
//!
//! Scenarios run one at a time (a lock) so that their timings do not depend on each other.
//! Each prints one `RESULT` line (see `cargo test --test pm_nginx -- --nocapture`) with the
//! request and failure counts quoted in docs/process-manager.md.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, Instant};

use common::client::{Addr, Conn, Request};
use common::http::{fetch, HttpConn, HttpResponse};
use common::nginx::{Nginx, NginxOpts};
use common::paths::{self, Flavor};
use common::procs::{self, TempDir};
use common::wait_for;

/// `plain` (no upstream keepalive) and `keepalive` (`keepalive 16`, `fastcgi_keep_conn on`).
macro_rules! both_upstreams {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn plain() {
                super::$name(None)
            }
            #[test]
            fn keepalive() {
                super::$name(Some(16))
            }
        }
    )+};
}

both_upstreams!(
    max_requests_recycling,
    reloads_under_load,
    graceful_stop_drains,
    kill_busy_worker,
    terminate_timeout,
    dynamic_grows_and_shrinks,
    ondemand_grows_and_shrinks,
    status_page_formats,
);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn mode(ka: Option<u32>) -> &'static str {
    if ka.is_some() {
        "keepalive"
    } else {
        "plain"
    }
}

// ---------------------------------------------------------------------------------------
// The pool: build/bin/echo with FCGI_RS_PM, killed (with its workers) on drop.

struct Pool {
    child: Option<Child>,
    sock: PathBuf,
    dir: TempDir,
}

impl Pool {
    /// Starts the echo example as the master of a pool described by `spec` (the short form,
    /// e.g. `static:4,pm.max_requests=20`); status, ping and the socket are added here.
    fn start(spec: &str) -> Pool {
        let program = paths::example(Flavor::Ours, "echo");
        let dir = TempDir::new("pm-nginx");
        let sock = dir.join("app.sock");
        let env = format!(
            "{spec},pm.status_path=/status,ping.path=/ping,listen={},listen.mode=0666",
            sock.display()
        );
        let log = File::create(dir.join("master.log")).expect("master log");
        let child = Command::new(&program)
            .env("FCGI_RS_PM", &env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        let pool = Pool {
            child: Some(child),
            sock,
            dir,
        };
        let up = wait_for(Duration::from_secs(5), Duration::from_millis(10), || {
            pool.sock.exists().then_some(())
        });
        assert!(up.is_some(), "no socket; log:\n{}", pool.log());
        pool
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn addr(&self) -> Addr {
        Addr::Unix(self.sock.clone())
    }

    fn workers(&self) -> BTreeSet<u32> {
        procs::children_of(self.pid()).into_iter().collect()
    }

    fn signal(&self, sig: &str) {
        procs::send_signal(self.pid(), sig);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("master.log")).unwrap_or_default()
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        procs::wait_child(self.child.as_mut()?, timeout)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        let mut workers: BTreeSet<u32> = procs::children_of(pid).into_iter().collect();
        procs::send_signal(pid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            workers.extend(procs::children_of(pid));
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        for w in workers {
            // Only a pid that is still one of our echo processes (pids can be reused).
            let comm = std::fs::read_to_string(format!("/proc/{w}/comm")).unwrap_or_default();
            if comm.trim() == "echo" {
                procs::send_signal(w, "KILL");
            }
        }
    }
}

fn nginx(pool: &Pool, ka: Option<u32>) -> Nginx {
    let mut o = NginxOpts::new(pool.addr());
    o.keepalive = ka;
    Nginx::start(&o)
}

/// Waits until `/ping` answers `pong` through nginx (curl -f style: a 502 is not ready).
fn wait_ready(ng: &Nginx, pool: &Pool) {
    let ok = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        fetch(ng.port(), "GET", "/ping", b"")
            .ok()
            .filter(|r| r.status == 200 && r.body_str().trim() == "pong")
    });
    assert!(
        ok.is_some(),
        "pool never answered /ping through nginx; master log:\n{}\nnginx log:\n{}",
        pool.log(),
        ng.error_log()
    );
}

/// GET through nginx on a fresh connection; the status code (0 = client-side error) and the
/// time it took.
fn timed(port: u16, method: &str, path: &str) -> (u16, Duration, Option<HttpResponse>) {
    let t = Instant::now();
    match fetch(port, method, path, b"") {
        Ok(r) => (r.status, t.elapsed(), Some(r)),
        Err(_) => (0, t.elapsed(), None),
    }
}

fn x_pid(r: &HttpResponse) -> Option<u32> {
    r.header("X-Pid").and_then(|v| v.parse().ok())
}

// ---------------------------------------------------------------------------------------
// Steady load: a few client threads on kept-alive connections to nginx.

#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    ok: u64,
    non_200: BTreeMap<u16, u64>,
    errors: Vec<String>,
    pids: BTreeSet<u32>,
    max_latency: Duration,
}

impl Tally {
    fn failed(&self) -> u64 {
        self.non_200.values().sum::<u64>() + self.errors.len() as u64
    }

    fn merge(&mut self, o: Tally) {
        self.requests += o.requests;
        self.ok += o.ok;
        for (k, v) in o.non_200 {
            *self.non_200.entry(k).or_default() += v;
        }
        self.errors.extend(o.errors);
        self.pids.extend(o.pids);
        self.max_latency = self.max_latency.max(o.max_latency);
    }
}

struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Tally>>,
}

impl Load {
    /// `n` clients sending GET `path` back to back until [`Load::finish`].
    fn start(port: u16, n: usize, path: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                let path = path.to_string();
                std::thread::spawn(move || {
                    let mut t = Tally::default();
                    let mut conn: Option<HttpConn> = None;
                    while !stop.load(Ordering::Relaxed) {
                        let c = match conn.as_mut() {
                            Some(c) => c,
                            None => match HttpConn::connect(port) {
                                Ok(c) => conn.insert(c),
                                Err(e) => {
                                    t.requests += 1;
                                    t.errors.push(format!("connect: {e}"));
                                    sleep(Duration::from_millis(10));
                                    continue;
                                }
                            },
                        };
                        c.set_timeout(Duration::from_secs(15));
                        let start = Instant::now();
                        let r = c.request("GET", &path, &[], b"");
                        t.requests += 1;
                        t.max_latency = t.max_latency.max(start.elapsed());
                        match r {
                            Ok(r) if r.status == 200 && r.body.starts_with(b"params:") => {
                                t.ok += 1;
                                if let Some(p) = x_pid(&r) {
                                    t.pids.insert(p);
                                }
                            }
                            Ok(r) => *t.non_200.entry(r.status).or_default() += 1,
                            Err(e) => {
                                t.errors.push(e.to_string());
                                conn = None;
                                continue;
                            }
                        }
                        if c.is_closed() {
                            conn = None;
                        }
                    }
                    t
                })
            })
            .collect();
        Load { stop, threads }
    }

    fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Tally::default();
        for h in self.threads {
            all.merge(h.join().expect("load thread"));
        }
        all
    }
}

/// nginx error-log lines by kind (for the report; clients see the outcome).
fn nginx_log_summary(ng: &Nginx) -> String {
    let log = ng.error_log();
    let kinds = [
        ("prematurely closed", "upstream prematurely closed"),
        ("reset", "(104: Connection reset by peer)"),
        ("refused", "(111: Connection refused)"),
        ("no socket", "(2: No such file or directory)"),
        ("timed out", "timed out"),
    ];
    let parts: Vec<String> = kinds
        .iter()
        .map(|(label, needle)| (label, log.lines().filter(|l| l.contains(needle)).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(l, n)| format!("{l}={n}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(",")
    }
}

fn report(scenario: &str, ka: Option<u32>, t: &Tally, ng: &Nginx, extra: &str) {
    eprintln!(
        "RESULT {scenario} [{}]: requests={} failed={} non200={:?} errors={} max_latency={:?} nginx_log={} {extra}",
        mode(ka),
        t.requests,
        t.failed(),
        t.non_200,
        t.errors.len(),
        t.max_latency,
        nginx_log_summary(ng),
    );
    for e in t.errors.iter().take(5) {
        eprintln!("  client error: {e}");
    }
}

// ---------------------------------------------------------------------------------------
// Status pages, parsed.

/// One status page reduced to php-fpm's field names: pool fields and, with `full`, one map
/// per process.
#[derive(Debug, Default)]
struct Page {
    pool: BTreeMap<String, String>,
    procs: Vec<BTreeMap<String, String>>,
}

impl Page {
    fn num(&self, k: &str) -> u64 {
        let v = self
            .pool
            .get(k)
            .unwrap_or_else(|| panic!("no field {k:?} in {:?}", self.pool));
        v.parse()
            .unwrap_or_else(|_| panic!("field {k:?} is {v:?}, not a number"))
    }
}

fn status_json(ng: &Nginx, query: &str) -> Page {
    let r = fetch(ng.port(), "GET", &format!("/status?{query}"), b"").expect("status");
    assert_eq!(r.status, 200, "{}", r.body_str());
    parse_json(&r.body_str())
}

/// A tiny JSON reader for the status page: an object of numbers and strings, with an array
/// `processes` of such objects.
fn parse_json(s: &str) -> Page {
    struct P<'a> {
        b: &'a [u8],
        i: usize,
    }
    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn eat(&mut self, c: u8) {
            self.ws();
            assert_eq!(
                self.b.get(self.i).copied(),
                Some(c),
                "JSON: expected {:?} at {} in {}",
                c as char,
                self.i,
                String::from_utf8_lossy(self.b)
            );
            self.i += 1;
        }
        fn peek(&mut self) -> u8 {
            self.ws();
            self.b.get(self.i).copied().unwrap_or(0)
        }
        fn string(&mut self) -> String {
            self.eat(b'"');
            let mut o = Vec::new();
            while self.b[self.i] != b'"' {
                if self.b[self.i] == b'\\' {
                    self.i += 1;
                    o.push(match self.b[self.i] {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        c => c,
                    });
                } else {
                    o.push(self.b[self.i]);
                }
                self.i += 1;
            }
            self.i += 1;
            String::from_utf8(o).expect("utf-8")
        }
        fn scalar(&mut self) -> String {
            if self.peek() == b'"' {
                return self.string();
            }
            let start = self.i;
            while self.i < self.b.len()
                && (self.b[self.i] == b'.' || self.b[self.i].is_ascii_digit())
            {
                self.i += 1;
            }
            assert!(self.i > start, "JSON: no value at {start}");
            String::from_utf8_lossy(&self.b[start..self.i]).into_owned()
        }
        fn object(&mut self, page: &mut Page, top: bool) -> BTreeMap<String, String> {
            let mut m = BTreeMap::new();
            self.eat(b'{');
            while self.peek() != b'}' {
                let k = self.string();
                self.eat(b':');
                if top && k == "processes" {
                    self.eat(b'[');
                    while self.peek() != b']' {
                        let p = self.object(page, false);
                        page.procs.push(p);
                        if self.peek() == b',' {
                            self.i += 1;
                        }
                    }
                    self.eat(b']');
                } else {
                    let v = self.scalar();
                    assert!(m.insert(k.clone(), v).is_none(), "JSON: duplicate {k}");
                }
                if self.peek() == b',' {
                    self.i += 1;
                }
            }
            self.eat(b'}');
            m
        }
    }
    let mut page = Page::default();
    let mut p = P {
        b: s.as_bytes(),
        i: 0,
    };
    page.pool = p.object(&mut page, true);
    assert_eq!(p.peek(), 0, "JSON: trailing bytes in {s}");
    page
}

type Parser = fn(&str) -> Page;

/// Plain text: `name:   value` lines; processes after `****` separators.
fn parse_text(s: &str) -> Page {
    fn fields(b: &str) -> BTreeMap<String, String> {
        b.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap_or_else(|| panic!("text: {l:?}"));
                (k.to_string(), v.trim().to_string())
            })
            .collect()
    }
    let mut blocks = s.split("\n************************\n");
    Page {
        pool: fields(blocks.next().unwrap_or("")),
        procs: blocks.map(fields).collect(),
    }
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(a) = rest.find(open) {
        let after = &rest[a + open.len()..];
        let Some(b) = after.find(close) else { break };
        out.push(&after[..b]);
        rest = &after[b + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&amp;", "&")
}

/// XML: `<tag-name>value</tag-name>` under `<status>`, processes under `<process>`.
fn parse_xml(s: &str) -> Page {
    assert!(s.starts_with("<?xml version=\"1.0\" ?>\n<status>\n"), "{s}");
    assert!(s.ends_with("</status>"), "{s}");
    let xml_fields = |b: &str| -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut rest = b.trim();
        while let Some(stripped) = rest.strip_prefix('<') {
            let end = stripped.find('>').expect("tag end");
            let tag = &stripped[..end];
            let close = format!("</{tag}>");
            let body = &stripped[end + 1..];
            let vend = body.find(&close).unwrap_or_else(|| panic!("no {close}"));
            m.insert(tag.replace('-', " "), unescape(&body[..vend]));
            rest = body[vend + close.len()..].trim_start();
        }
        m
    };
    let inner = &s["<?xml version=\"1.0\" ?>\n<status>\n".len()..s.len() - "</status>".len()];
    let (head, procs) = match inner.find("<processes>") {
        Some(i) => (&inner[..i], &inner[i..]),
        None => (inner, ""),
    };
    Page {
        pool: xml_fields(head),
        procs: between(procs, "<process>", "</process>")
            .into_iter()
            .map(xml_fields)
            .collect(),
    }
}

/// HTML: `<tr><th>name</th><td>value</td></tr>` rows, then (full) a table with a header row
/// of names and one row of cells per process.
fn parse_html(s: &str) -> Page {
    let tables = between(s, "<table", "</table>");
    assert!(!tables.is_empty(), "{s}");
    let pool = between(tables[0], "<tr>", "</tr>")
        .into_iter()
        .map(|row| {
            let k = between(row, "<th>", "</th>")[0];
            let v = between(row, "<td>", "</td>")[0];
            (k.to_string(), unescape(v))
        })
        .collect();
    let mut procs = Vec::new();
    if let Some(t) = tables.get(1) {
        let rows = between(t, "<tr>", "</tr>");
        let names = between(rows[0], "<th>", "</th>");
        for row in &rows[1..] {
            let cells = between(row, "<td>", "</td>");
            assert_eq!(cells.len(), names.len(), "{row}");
            procs.push(
                names
                    .iter()
                    .zip(cells)
                    .map(|(k, v)| (k.to_string(), unescape(v)))
                    .collect(),
            );
        }
    }
    Page { pool, procs }
}

/// OpenMetrics: metric lines mapped back to php-fpm's names; per-worker series (with
/// `full`) become one map per pid. Checks that every sample has a `# TYPE` and the page
/// ends with `# EOF`.
fn parse_openmetrics(s: &str) -> Page {
    assert!(s.ends_with("# EOF\n"), "{s}");
    let names = [
        ("phpfpm_start_since", "start since"),
        ("phpfpm_accepted_connections", "accepted conn"),
        ("phpfpm_listen_queue", "listen queue"),
        ("phpfpm_max_listen_queue", "max listen queue"),
        ("phpfpm_listen_queue_length", "listen queue len"),
        ("phpfpm_idle_processes", "idle processes"),
        ("phpfpm_active_processes", "active processes"),
        ("phpfpm_total_processes", "total processes"),
        ("phpfpm_max_active_processes", "max active processes"),
        ("phpfpm_max_children_reached", "max children reached"),
        ("phpfpm_slow_requests", "slow requests"),
        ("phpfpm_terminated_requests", "terminated requests"),
        ("phpfpm_respawns", "respawns"),
        ("phpfpm_process_start_since", "start since"),
        ("phpfpm_process_requests", "requests"),
        ("phpfpm_process_request_duration", "request duration"),
        ("phpfpm_process_last_request_memory", "last request memory"),
        ("phpfpm_process_content_length", "content length"),
    ];
    let mut typed = BTreeSet::new();
    let mut page = Page::default();
    let mut per_pid: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE line");
            assert!(matches!(kind, "gauge" | "counter"), "{line}");
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, Some(l.trim_end_matches('}'))),
            None => (series, None),
        };
        assert!(typed.contains(name), "sample before its # TYPE: {line}");
        if name == "phpfpm_up" {
            assert_eq!(value, "1");
            continue;
        }
        let field = names
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f.to_string());
        match labels {
            None => {
                let f = field.unwrap_or_else(|| panic!("unknown metric {name}"));
                page.pool.insert(f, value.to_string());
            }
            Some(l) => {
                let pid = between(l, "pid=\"", "\"")[0].to_string();
                let m = per_pid.entry(pid.clone()).or_default();
                m.insert("pid".into(), pid);
                if name == "phpfpm_process_state" {
                    let st = between(l, "state=\"", "\"")[0];
                    m.insert("state".into(), st.to_string());
                } else if let Some(f) = field {
                    m.insert(f, value.to_string());
                }
            }
        }
    }
    page.procs = per_pid.into_values().collect();
    page
}

// ---------------------------------------------------------------------------------------
// Scenarios.

/// `pm.max_requests = 20` on 4 workers under ~5 s of steady load: nothing fails and workers
/// really are replaced (distinct pids in `X-Pid`, the status page's respawn counter).
fn max_requests_recycling(ka: Option<u32>) {
    let _g = serial();
    let pool = Pool::start("static:4,pm.max_requests=20");
    let ng = nginx(&pool, ka);
    wait_ready(&ng, &pool);
    let load = Load::start(ng.port(), 8, "/?pid=1");
    sleep(Duration::from_secs(5));
    let t = load.finish();
    let st = status_json(&ng, "json");
    report(
        "max_requests=20",
        ka,
        &t,
        &ng,
        &format!("pids={} respawns={}", t.pids.len(), st.num("respawns")),
    );
    assert_eq!(t.failed(), 0, "{:?}\nnginx:\n{}", t.errors, ng.error_log());
    assert!(t.ok >= 200, "only {} requests in 5 s", t.ok);
    // Without recycling there would be 4 pids. A worker leaves after ~20 (±10%) requests;
    // with upstream keepalive a leaving worker still serves what arrives on the connections
    // it holds (a few more), so allow up to 40 per pid.
    let min_pids = (t.ok / 40) as usize;
    assert!(
        t.pids.len() >= min_pids.max(5),
        "{} distinct worker pids for {} requests",
        t.pids.len(),
        t.ok
    );
    assert!(
        st.num("respawns") as usize + 4 >= t.pids.len(),
        "respawns {} vs {} pids",
        st.num("respawns"),
        t.pids.len()
    );
    assert_eq!(st.num("total processes"), 4);
}

/// Two reloads (USR2, then HUP) during 200 ms requests: nothing fails. Before that, the
/// stall probe (php-fpm's E11): a trivial request 0.2 s after a reload, while a 4 s request
/// is in flight, is answered at once, and the 4 s request completes.
fn reloads_under_load(ka: Option<u32>) {
    let _g = serial();
    let pool = Pool::start("static:4");
    let ng = nginx(&pool, ka);
    wait_ready(&ng, &pool);
    let port = ng.port();

    let long = std::thread::spawn(move || timed(port, "GET", "/?sleep_ms=4000"));
    sleep(Duration::from_millis(300));
    let gen1 = pool.workers();
    pool.signal("USR2");
    sleep(Duration::from_millis(200));
    let (code, took, _) = timed(port, "GET", "/?trivial=1");
    let (long_code, long_took, _) = long.join().unwrap();
    // The old worker leaves once its request is done (and, with upstream keepalive, once
    // the connections it holds are quiet).
    let gen2 = wait_for(Duration::from_secs(3), Duration::from_millis(50), || {
        let now = pool.workers();
        now.is_disjoint(&gen1).then_some(now)
    })
    .unwrap_or_else(|| pool.workers());
    eprintln!(
        "RESULT reload-latency [{}]: trivial request {code} in {took:?}; 4 s request {long_code} in {long_took:?}",
        mode(ka)
    );
    assert_eq!(code, 200);
    assert!(
        took < Duration::from_millis(500),
        "trivial request took {took:?}"
    );
    assert_eq!(long_code, 200, "the in-flight request was lost");
    assert!(
        gen1.is_disjoint(&gen2),
        "old generation {gen1:?} still running after its drain: {gen2:?}"
    );

    let load = Load::start(port, 8, "/?sleep_ms=200");
    sleep(Duration::from_millis(1200));
    pool.signal("USR2");
    sleep(Duration::from_millis(1500));
    pool.signal("HUP");
    sleep(Duration::from_millis(1500));
    let t = load.finish();
    report("2 reloads, 200 ms requests", ka, &t, &ng, "");
    assert_eq!(t.failed(), 0, "{:?}\nnginx:\n{}", t.errors, ng.error_log());
    assert!(t.ok >= 60, "only {} requests", t.ok);
    assert!(
        pool.log().matches("generation").count() >= 3,
        "{}",
        pool.log()
    );
}

/// Graceful stop (QUIT) with three 2 s requests in flight: all three answered; a connection
/// arriving during the drain is served or refused at connect, never accepted and reset; the
/// master exits and removes its socket.
fn graceful_stop_drains(ka: Option<u32>) {
    let _g = serial();
    let mut pool = Pool::start("static:4");
    let ng = nginx(&pool, ka);
    wait_ready(&ng, &pool);
    let port = ng.port();
    let inflight: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || timed(port, "GET", "/?sleep_ms=2000")))
        .collect();
    sleep(Duration::from_millis(400));
    let quit = Instant::now();
    pool.signal("QUIT");
    sleep(Duration::from_millis(300));

    // Straight at the FastCGI socket: refused at connect, or a complete answer.
    let direct = match Conn::connect(&pool.addr()) {
        Err(_) => "refused".to_string(),
        Ok(c) => {
            let mut c = c.with_timeout(Duration::from_secs(10));
            match c.request(&Request::http("GET", "/?late=direct")) {
                Ok(r) if r.header("Status").as_deref() == Some("200 OK") => "served".into(),
                Ok(r) => panic!("late direct connection answered {:?}", r.stdout_str()),
                Err(e) => panic!("late direct connection accepted, then lost: {e}"),
            }
        }
    };
    // Through nginx: 200, or 502 because the connect was refused.
    let (late, late_took, _) = timed(port, "GET", "/?late=nginx");
    let results: Vec<_> = inflight.into_iter().map(|h| h.join().unwrap()).collect();
    let exit = pool.wait_exit(Duration::from_secs(8));
    let log = ng.error_log();
    eprintln!(
        "RESULT graceful-stop [{}]: in-flight {:?}; late direct: {direct}; late via nginx: {late} in {late_took:?}; master exit {:?} after {:?}; nginx_log={}",
        mode(ka),
        results.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        exit,
        quit.elapsed(),
        nginx_log_summary(&ng)
    );
    for (code, took, _) in &results {
        assert_eq!(*code, 200, "in-flight request lost ({took:?})\n{log}");
    }
    match late {
        200 => {}
        502 => {
            assert!(
                log.contains("connect() to unix:") && !log.contains("(104: Connection reset"),
                "late request: 502 not from a refused connect:\n{log}"
            );
        }
        other => panic!("late request answered {other}\n{log}"),
    }
    assert!(
        !log.contains("(104: Connection reset") && !log.contains("prematurely closed"),
        "a connection was reset:\n{log}"
    );
    let exit = exit.expect("master did not exit within 8 s of QUIT");
    assert!(exit.success(), "master exit {exit:?}\n{}", pool.log());
    assert!(!pool.sock.exists(), "socket file left behind");
}

/// `kill -9` of a busy worker: only its own request fails; a replacement serves within a
/// second. All four workers are kept busy (three 3 s requests besides the victim's), so the
/// probe after the kill can only be served by the replacement. The victim's request is a
/// POST so nginx does not retry it elsewhere.
fn kill_busy_worker(ka: Option<u32>) {
    let _g = serial();
    let pool = Pool::start("static:4");
    let ng = nginx(&pool, ka);
    wait_ready(&ng, &pool);
    let port = ng.port();
    let old = pool.workers();
    assert_eq!(old.len(), 4);

    let victim = std::thread::spawn(move || timed(port, "POST", "/?sleep_ms=3000&victim=1"));
    // Find the worker serving it from the status page.
    let busy = wait_for(Duration::from_secs(3), Duration::from_millis(50), || {
        status_json(&ng, "json&full")
            .procs
            .iter()
            .find(|p| p["request uri"].contains("victim=1") && p["state"] == "Running")
            .map(|p| p["pid"].parse::<u32>().unwrap())
    })
    .expect("victim request never showed on the status page");
    let others: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || timed(port, "GET", "/?sleep_ms=3000")))
        .collect();
    sleep(Duration::from_millis(400));
    procs::send_signal(busy, "KILL");
    let (code, took, resp) = timed(port, "GET", "/?pid=1&probe=1");
    let probe_pid = resp.as_ref().and_then(x_pid);
    let (vcode, _, _) = victim.join().unwrap();
    let others: Vec<_> = others.into_iter().map(|h| h.join().unwrap().0).collect();
    let t = Tally {
        requests: 5,
        ok: [code, vcode]
            .iter()
            .chain(&others)
            .filter(|&&c| c == 200)
            .count() as u64,
        ..Tally::default()
    };
    eprintln!(
        "RESULT kill-9 [{}]: victim {vcode}; others {others:?}; probe sent right after the kill: {code} in {took:?} by pid {probe_pid:?}; {} of 5 ok; nginx_log={}",
        mode(ka),
        t.ok,
        nginx_log_summary(&ng)
    );
    assert_ne!(
        vcode, 200,
        "the killed worker's request cannot have succeeded"
    );
    assert_eq!(others, [200, 200, 200], "{}", ng.error_log());
    assert_eq!(code, 200);
    assert!(
        took < Duration::from_secs(1),
        "replacement answered after {took:?}"
    );
    let p = probe_pid.expect("X-Pid");
    assert!(!old.contains(&p), "probe served by old worker {p}");
    assert!(pool.log().contains("SIGKILL") || pool.log().contains("signal 9"));
}

/// `request_terminate_timeout = 1s` and a 3 s request: it ends (502) right after the timeout
/// (SIGTERM, then SIGKILL 100 ms later: SIGTERM alone is a graceful stop for libfcgi
/// programs), well before the 3 s it wanted; the worker is replaced, `terminated requests` counts it; light load on the other workers loses
/// nothing.
fn terminate_timeout(ka: Option<u32>) {
    let _g = serial();
    let pool = Pool::start("static:3,request_terminate_timeout=1s");
    let ng = nginx(&pool, ka);
    wait_ready(&ng, &pool);
    let old = pool.workers();
    let load = Load::start(ng.port(), 2, "/?sleep_ms=20");
    // POST, so that nginx does not retry it on another connection.
    let (code, took, _) = timed(ng.port(), "POST", "/?sleep_ms=3000");
    sleep(Duration::from_millis(500));
    let t = load.finish();
    let st = status_json(&ng, "json");
    let now = pool.workers();
    report(
        "terminate_timeout=1s",
        ka,
        &t,
        &ng,
        &format!(
            "slow request {code} after {took:?}; terminated requests={}",
            st.num("terminated requests")
        ),
    );
    assert_eq!(code, 502);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1600),
        "ended after {took:?}"
    );
    assert_eq!(st.num("terminated requests"), 1);
    assert!(st.num("respawns") >= 1);
    assert_eq!(now.len(), 3);
    assert_eq!(old.difference(&now).count(), 1, "{old:?} -> {now:?}");
    assert_eq!(t.failed(), 0, "{:?}\nnginx:\n{}", t.errors, ng.error_log());
    assert!(t.ok > 20);
}

/// Polls the status page (through nginx) until `f` holds; the last page.
fn poll_status(ng: &Nginx, timeout: Duration, f: impl Fn(&Page) -> bool) -> (bool, Page) {
    let deadline = Instant::now() + timeout;
    loop {
        let p = status_json(ng, "json");
        if f(&p) || Instant::now() >= deadline {
            return (f(&p), p);
        }
        sleep(Duration::from_millis(200));
    }
}

/// Shared by the dynamic and ondemand scenarios: grow to `max` under `clients` concurrent
/// 300 ms requests with `max children reached` counted, then shrink to `floor` workers
/// when idle.
fn grow_and_shrink(name: &str, spec: &str, ka: Option<u32>, max: u64, floor: usize) {
    let _g = serial();
    let pool = Pool::start(spec);
    let ng = nginx(&pool, ka);
    wait_ready(&ng, &pool);
    let before = pool.workers().len();
    let load = Load::start(ng.port(), 8, "/?sleep_ms=300");
    let t0 = Instant::now();
    let (grown, page) = poll_status(&ng, Duration::from_secs(10), |p| {
        p.num("total processes") == max && p.num("max children reached") >= 1
    });
    let grow_time = t0.elapsed();
    let peak = pool.workers().len();
    sleep(Duration::from_millis(500));
    let t = load.finish();
    let t1 = Instant::now();
    let shrunk = wait_for(Duration::from_secs(8), Duration::from_millis(100), || {
        (pool.workers().len() <= floor).then_some(())
    });
    let shrink_time = t1.elapsed();
    let after = pool.workers().len();
    report(
        name,
        ka,
        &t,
        &ng,
        &format!(
            "workers {before} -> {peak} (in {grow_time:?}, max children reached={}) -> {after} (in {shrink_time:?})",
            page.num("max children reached")
        ),
    );
    assert!(
        grown,
        "pool did not reach {max} workers with the cap reported: {page:?}"
    );
    assert_eq!(peak as u64, max, "more workers than pm.max_children");
    assert!(
        shrunk.is_some(),
        "pool did not shrink to {floor} when idle: {after}"
    );
    assert!(
        pool.log().contains("reached pm.max_children setting"),
        "{}",
        pool.log()
    );
    assert_eq!(t.failed(), 0, "{:?}\nnginx:\n{}", t.errors, ng.error_log());
}

/// dynamic, min spare 1, max children 4, max spare 2 (starts with 2).
fn dynamic_grows_and_shrinks(ka: Option<u32>) {
    grow_and_shrink("dynamic:1:4:2", "dynamic:1:4:2", ka, 4, 2);
}

/// ondemand, max children 3, idle timeout 1 s: none at start, none after the idle timeout.
fn ondemand_grows_and_shrinks(ka: Option<u32>) {
    {
        let _g = serial();
        let pool = Pool::start("ondemand:3:1s");
        sleep(Duration::from_millis(300));
        assert!(pool.workers().is_empty(), "ondemand pool started workers");
    }
    grow_and_shrink("ondemand:3:1s", "ondemand:3:1s", ka, 3, 0);
}

/// The status page through nginx in all five formats, each with and without `full`,
/// parsed and checked field by field against each other and against what the test did;
/// `/ping` answers `pong`.
fn status_page_formats(ka: Option<u32>) {
    let _g = serial();
    let pool = Pool::start("static:2");
    let ng = nginx(&pool, ka);
    wait_ready(&ng, &pool);
    let port = ng.port();
    let ping = fetch(port, "GET", "/ping", b"").unwrap();
    assert_eq!(ping.status, 200);
    assert_eq!(ping.body_str(), "pong");
    assert!(ping
        .header("Content-Type")
        .is_some_and(|v| v.starts_with("text/plain")));
    for i in 0..10 {
        let r = fetch(port, "GET", &format!("/?n={i}"), b"").unwrap();
        assert_eq!(r.status, 200);
    }
    let workers = pool.workers();
    let pool_names = [
        "pool",
        "process manager",
        "start time",
        "start since",
        "accepted conn",
        "listen queue",
        "max listen queue",
        "listen queue len",
        "idle processes",
        "active processes",
        "total processes",
        "max active processes",
        "max children reached",
        "slow requests",
        "terminated requests",
        "respawns",
    ];
    let proc_names = [
        "pid",
        "state",
        "start time",
        "start since",
        "requests",
        "request duration",
        "request method",
        "request uri",
        "content length",
        "user",
        "script",
        "last request cpu",
        "last request memory",
    ];
    let formats: [(&str, &str, Parser); 5] = [
        ("", "text/plain", parse_text),
        ("json", "application/json", parse_json),
        ("xml", "text/xml", parse_xml),
        ("html", "text/html", parse_html),
        (
            "openmetrics",
            "application/openmetrics-text",
            parse_openmetrics,
        ),
    ];
    // Requests so far: the readiness ping(s), one ping, ten echoes; each status request
    // counts itself.
    let mut last_accepted = None;
    let mut checked = 0;
    for (fmt, ctype, parse) in formats {
        for full in [false, true] {
            let query = match (fmt, full) {
                ("", false) => String::new(),
                ("", true) => "full".into(),
                (f, false) => f.into(),
                (f, true) => format!("{f}&full"),
            };
            let uri = if query.is_empty() {
                "/status".to_string()
            } else {
                format!("/status?{query}")
            };
            let r = fetch(port, "GET", &uri, b"").unwrap();
            assert_eq!(r.status, 200, "{uri}");
            let ct = r.header("Content-Type").unwrap_or("");
            assert!(ct.starts_with(ctype), "{uri}: Content-Type {ct}");
            let body = r.body_str();
            let page = parse(&body);
            let ctx = format!("{uri}:\n{body}");
            // Field names and order as php-fpm's (plus our two counters); OpenMetrics has
            // no pool/manager/time strings.
            let expected: Vec<&str> = if fmt == "openmetrics" {
                pool_names[3..]
                    .iter()
                    .filter(|n| **n != "start time")
                    .copied()
                    .collect()
            } else {
                pool_names.to_vec()
            };
            let got: BTreeSet<&str> = page.pool.keys().map(|s| s.as_str()).collect();
            assert_eq!(got, expected.iter().copied().collect(), "{ctx}");
            if fmt != "openmetrics" {
                assert_eq!(page.pool["pool"], "www", "{ctx}");
                assert_eq!(page.pool["process manager"], "static", "{ctx}");
            }
            assert_eq!(page.num("total processes"), 2, "{ctx}");
            assert_eq!(
                page.num("idle processes") + page.num("active processes"),
                2,
                "{ctx}"
            );
            // The worker answering the page counts as active (as in php-fpm).
            assert!(page.num("active processes") >= 1, "{ctx}");
            assert!(page.num("max active processes") >= 1, "{ctx}");
            for zero in [
                "max children reached",
                "slow requests",
                "terminated requests",
                "respawns",
                "listen queue",
            ] {
                assert_eq!(page.num(zero), 0, "{zero} in {ctx}");
            }
            assert_eq!(page.num("listen queue len"), 511, "{ctx}");
            assert!(page.num("start since") < 60, "{ctx}");
            let accepted = page.num("accepted conn");
            assert!(accepted >= 12, "{ctx}");
            // Requests in sequence: each status request is the only one since the last.
            if let Some(prev) = last_accepted {
                assert_eq!(accepted, prev + 1, "{ctx}");
            }
            last_accepted = Some(accepted);
            if full {
                assert_eq!(page.procs.len(), 2, "{ctx}");
                let pids: BTreeSet<u32> = page
                    .procs
                    .iter()
                    .map(|p| p["pid"].parse().unwrap())
                    .collect();
                assert_eq!(pids, workers, "{ctx}");
                let total: u64 = page
                    .procs
                    .iter()
                    .map(|p| p["requests"].parse::<u64>().unwrap())
                    .sum();
                // Every request was counted by exactly one worker (none was replaced); the
                // request answering this page is in `accepted conn` from its start and in its
                // worker's `requests` once it ends.
                assert_eq!(total + 1, accepted, "{ctx}");
                let running: Vec<_> = page
                    .procs
                    .iter()
                    .filter(|p| p["state"] == "Running")
                    .collect();
                assert_eq!(running.len(), 1, "{ctx}");
                assert!(page
                    .procs
                    .iter()
                    .all(|p| p["state"] == "Running" || p["state"] == "Idle"));
                if fmt != "openmetrics" {
                    for p in &page.procs {
                        let keys: BTreeSet<&str> = p.keys().map(|s| s.as_str()).collect();
                        let want: BTreeSet<&str> = proc_names
                            .iter()
                            .map(|n| {
                                if fmt.is_empty() && *n == "request uri" {
                                    "request URI"
                                } else {
                                    n
                                }
                            })
                            .collect();
                        assert_eq!(keys, want, "{ctx}");
                    }
                    let me = running[0];
                    let uri_key = if fmt.is_empty() {
                        "request URI"
                    } else {
                        "request uri"
                    };
                    assert_eq!(me[uri_key], uri, "{ctx}");
                    assert_eq!(me["request method"], "GET", "{ctx}");
                    assert_eq!(me["content length"], "0", "{ctx}");
                    // The other worker shows its last request, or `-` if it had none (with
                    // upstream keepalive nginx may send everything to one worker).
                    let idle = page.procs.iter().find(|p| p["state"] == "Idle").unwrap();
                    if idle["requests"] == "0" {
                        assert_eq!(idle[uri_key], "-", "{ctx}");
                    } else {
                        assert!(
                            idle[uri_key].starts_with("/?n=")
                                || idle[uri_key].starts_with("/status")
                                || idle[uri_key].starts_with("/ping"),
                            "{ctx}"
                        );
                    }
                } else {
                    for p in &page.procs {
                        for k in ["requests", "start since", "request duration"] {
                            assert!(p.contains_key(k), "{k} in {ctx}");
                        }
                    }
                }
            } else {
                assert!(page.procs.is_empty(), "{ctx}");
            }
            checked += 1;
        }
    }
    eprintln!(
        "RESULT status-formats [{}]: {checked} pages parsed and checked; accepted conn {}; ping pong",
        mode(ka),
        last_accepted.unwrap_or(0)
    );
}
