//! The load engine: one thread and one blocking socket per client connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{build_request, ClientError, RequestSpec, ResponseReader, Stream, Target};

/// How each response's STDOUT is checked (END_REQUEST with status 0 is always required).
#[derive(Clone, Debug)]
pub enum Expect {
    /// Non-empty STDOUT.
    NonEmpty,
    /// Exactly these bytes.
    Exact(Vec<u8>),
}

/// When the run stops.
#[derive(Clone, Copy, Debug)]
pub enum Amount {
    /// Measure for this long (after the warmup).
    Duration(Duration),
    /// Measure exactly this many requests in total (after the warmup).
    Requests(u64),
}

#[derive(Clone, Debug)]
pub struct LoadConfig {
    pub target: Target,
    pub conns: usize,
    /// Persistent connections with FCGI_KEEP_CONN, or a new connection per request.
    pub keep_alive: bool,
    pub params: usize,
    pub body: usize,
    pub amount: Amount,
    /// Requests sent before measuring starts are not counted.
    pub warmup: Duration,
    pub expect: Expect,
    /// A request with no END_REQUEST after this long is an error.
    pub timeout: Duration,
    /// Run every client thread on this CPU only (see [`pin_to_cpu`]).
    pub cpu: Option<usize>,
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct LoadResult {
    /// Requests measured (started after the warmup, answered and checked).
    pub requests: u64,
    pub errors: u64,
    /// Requests unanswered when the run ended after waiting at least 0.5 s (starved
    /// connections).
    pub unanswered: u64,
    /// The first few distinct error messages.
    pub error_samples: Vec<String>,
    /// From the end of the warmup to the last measured answer.
    pub elapsed: Duration,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// Measured requests per client connection (thread).
    pub per_conn: Vec<u64>,
}

impl LoadResult {
    pub fn per_conn_min(&self) -> u64 {
        self.per_conn.iter().copied().min().unwrap_or(0)
    }
    pub fn per_conn_max(&self) -> u64 {
        self.per_conn.iter().copied().max().unwrap_or(0)
    }

    /// The scalar figures, named and formatted once for both output forms.
    fn fields(&self) -> [(&'static str, String); 10] {
        [
            ("requests", self.requests.to_string()),
            ("errors", self.errors.to_string()),
            ("unanswered", self.unanswered.to_string()),
            ("elapsed_s", format!("{:.3}", self.elapsed.as_secs_f64())),
            ("rps", format!("{:.1}", self.rps)),
            ("p50_us", format!("{:.1}", self.p50_us)),
            ("p99_us", format!("{:.1}", self.p99_us)),
            ("max_us", format!("{:.1}", self.max_us)),
            ("conn_min", self.per_conn_min().to_string()),
            ("conn_max", self.per_conn_max().to_string()),
        ]
    }

    /// One line of `key=value` pairs.
    pub fn to_kv(&self) -> String {
        let parts: Vec<String> = self
            .fields()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.join(" ")
    }

    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        let mut parts: Vec<String> = self
            .fields()
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        let per_conn: Vec<String> = self.per_conn.iter().map(|n| n.to_string()).collect();
        let samples: Vec<String> = self.error_samples.iter().map(|s| json_str(s)).collect();
        parts.push(format!("\"per_conn\":[{}]", per_conn.join(",")));
        parts.push(format!("\"error_samples\":[{}]", samples.join(",")));
        format!("{{{}}}", parts.join(","))
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What one connection thread brings back.
struct ThreadResult {
    latencies_ns: Vec<u64>,
    last_done: Option<Instant>,
    errors: u64,
    unanswered: u64,
}

struct Shared {
    cfg: LoadConfig,
    request: Vec<u8>,
    warm_end: Instant,
    /// Duration mode: no request starts after this.
    end: Option<Instant>,
    /// Count mode: tickets handed out after the warmup.
    tickets: AtomicU64,
    /// Set when the run is over; waiting requests are abandoned.
    stop: AtomicBool,
    samples: Mutex<Vec<String>>,
    /// Every thread keeps its connection open until all are done, so a starved connection
    /// stays starved to the end instead of being served once the others close.
    done: Barrier,
}

impl Shared {
    fn stopping(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        self.end.is_some_and(|e| Instant::now() >= e)
    }

    fn note_error(&self, e: &ClientError) {
        let msg = e.to_string();
        let mut s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if s.len() < 5 && !s.contains(&msg) {
            s.push(msg);
        }
    }
}

/// Runs the load and returns what was measured.
pub fn run(cfg: &LoadConfig) -> LoadResult {
    let spec = RequestSpec {
        params: cfg.params,
        body: cfg.body,
        keep_conn: cfg.keep_alive,
    };
    let start = Instant::now();
    let warm_end = start + cfg.warmup;
    let end = match cfg.amount {
        Amount::Duration(d) => Some(warm_end + d),
        Amount::Requests(_) => None,
    };
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        request: build_request(&spec),
        warm_end,
        end,
        tickets: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        samples: Mutex::new(Vec::new()),
        done: Barrier::new(cfg.conns.max(1)),
    });
    let handles: Vec<_> = (0..cfg.conns.max(1))
        .map(|_| {
            let sh = Arc::clone(&shared);
            thread::spawn(move || conn_thread(&sh))
        })
        .collect();
    let results: Vec<ThreadResult> = handles
        .into_iter()
        .map(|h| h.join().expect("load thread panicked"))
        .collect();

    let mut all: Vec<u64> = Vec::new();
    let mut out = LoadResult::default();
    let mut last = warm_end;
    for r in &results {
        out.per_conn.push(r.latencies_ns.len() as u64);
        out.errors += r.errors;
        out.unanswered += r.unanswered;
        all.extend_from_slice(&r.latencies_ns);
        if let Some(t) = r.last_done {
            last = last.max(t);
        }
    }
    out.requests = all.len() as u64;
    out.elapsed = last.saturating_duration_since(warm_end);
    if out.elapsed > Duration::ZERO {
        out.rps = out.requests as f64 / out.elapsed.as_secs_f64();
    }
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[i] as f64 / 1000.0
    };
    out.p50_us = pct(0.50);
    out.p99_us = pct(0.99);
    out.max_us = all.last().map_or(0.0, |&v| v as f64 / 1000.0);
    out.error_samples = shared
        .samples
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    out
}

const POLL: Duration = Duration::from_millis(100);

/// How long a request must have waited to count as unanswered when the run ends.
const ABANDON_AGE: Duration = Duration::from_millis(500);

fn conn_thread(sh: &Shared) -> ThreadResult {
    let cfg = &sh.cfg;
    if let Some(cpu) = cfg.cpu {
        if let Err(e) = pin_to_cpu(cpu) {
            sh.note_error(&ClientError::Io(e));
        }
    }
    let mut res = ThreadResult {
        latencies_ns: Vec::with_capacity(1 << 16),
        last_done: None,
        errors: 0,
        unanswered: 0,
    };
    let mut reader = ResponseReader::new();
    let mut conn: Option<Stream> = None;
    loop {
        if sh.stopping() {
            break;
        }
        let t0 = Instant::now();
        let measured = t0 >= sh.warm_end;
        if measured {
            if let Amount::Requests(n) = cfg.amount {
                if sh.tickets.fetch_add(1, Ordering::Relaxed) >= n {
                    sh.stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
        // Once the run is over, a request is given up only if it has waited a long time (a
        // starved connection), not one merely in flight when a busy machine paused us.
        let stop = || sh.stopping() && t0.elapsed() >= ABANDON_AGE;
        let outcome = one_request(sh, &mut conn, &mut reader, t0, &stop);
        let t1 = Instant::now();
        match outcome {
            Ok(()) => {
                if measured {
                    res.latencies_ns.push((t1 - t0).as_nanos() as u64);
                    res.last_done = Some(t1);
                }
            }
            Err(ClientError::Abandoned) => {
                res.unanswered += 1;
                break;
            }
            Err(e) => {
                if measured {
                    res.errors += 1;
                }
                sh.note_error(&e);
                conn = None;
                reader.reset();
                // Do not spin on a dead server.
                if matches!(e, ClientError::Connect(_)) {
                    thread::sleep(Duration::from_millis(10));
                }
            }
        }
        if !cfg.keep_alive {
            conn = None;
            reader.reset();
        }
    }
    sh.done.wait();
    drop(conn);
    res
}

fn one_request(
    sh: &Shared,
    conn: &mut Option<Stream>,
    reader: &mut ResponseReader,
    t0: Instant,
    stop: &dyn Fn() -> bool,
) -> Result<(), ClientError> {
    use std::io::Write;
    let cfg = &sh.cfg;
    if conn.is_none() {
        *conn = Some(cfg.target.connect(POLL).map_err(ClientError::Connect)?);
    }
    let s = conn.as_mut().expect("connected above");
    s.write_all(&sh.request).map_err(ClientError::Io)?;
    reader.read_response(s, t0 + cfg.timeout, stop)?;
    match &cfg.expect {
        Expect::NonEmpty if reader.stdout.is_empty() => Err(ClientError::EmptyStdout),
        Expect::Exact(b) if reader.stdout != *b => Err(ClientError::BodyMismatch),
        _ => Ok(()),
    }
}

/// Restricts the calling thread to one CPU. With the responder on the same CPU, a request and
/// its answer hand over by a context switch instead of waking another, idle CPU: what remains is
/// the cost of the code and the kernel, without cross-CPU wakeup latency.
pub fn pin_to_cpu(cpu: usize) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET bounds-checks `cpu` against the
    // set's size; sched_setaffinity(0, ...) applies to the calling thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sends one request on a fresh connection and returns its STDOUT (to learn the expected body).
pub fn probe(target: &Target, params: usize, timeout: Duration) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let req = build_request(&RequestSpec {
        params,
        body: 0,
        keep_conn: false,
    });
    let mut s = target.connect(POLL).map_err(|e| format!("connect: {e}"))?;
    s.write_all(&req).map_err(|e| format!("write: {e}"))?;
    let mut r = ResponseReader::new();
    r.read_response(&mut s, Instant::now() + timeout, &|| false)
        .map_err(|e| e.to_string())?;
    Ok(r.stdout.clone())
}
