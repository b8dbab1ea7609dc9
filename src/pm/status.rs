//! The status and ping pages, in php-fpm's five formats (plain text, `json`, `xml`, `html`,
//! `openmetrics`, each with or without `full`), with its field names, order and Content-Types,
//! so existing exporters and monitoring templates work unchanged.
//!
//! Rendering is a pure function of a [`PoolStatus`] snapshot: a worker can answer inside its
//! own request loop (the scoreboard is shared), and the master can answer on its own socket.
//!
//! Differences from php-fpm, on purpose: two extra pool fields after `slow requests`
//! (`terminated requests`, `respawns`); `?openmetrics&full` adds per-process series; the
//! listen-queue fields are also filled for unix sockets; the HTML title and the OpenMetrics
//! HELP sentences are our own wording.

use std::fmt::Write as _;

use super::scoreboard::State;

/// Pool-wide figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    pub pool: String,
    pub process_manager: String,
    /// Epoch seconds.
    pub start_time: u64,
    pub start_since: u64,
    pub accepted_conn: u64,
    pub listen_queue: u64,
    pub max_listen_queue: u64,
    pub listen_queue_len: u64,
    pub idle_processes: u64,
    pub active_processes: u64,
    pub total_processes: u64,
    pub max_active_processes: u64,
    pub max_children_reached: u64,
    pub slow_requests: u64,
    pub terminated_requests: u64,
    pub respawns: u64,
    pub processes: Vec<ProcStatus>,
}

/// One worker, as in php-fpm's `full` view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStatus {
    pub pid: u32,
    pub state: State,
    pub start_time: u64,
    pub start_since: u64,
    pub requests: u64,
    /// µs: of the request in progress, or of the last one when idle.
    pub request_duration: u64,
    pub request_method: String,
    pub request_uri: String,
    pub content_length: u64,
    pub user: String,
    pub script: String,
    /// CPU use of the last request in hundredths of a percent.
    pub last_request_cpu_x100: u64,
    pub last_request_memory: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Xml,
    Html,
    OpenMetrics,
}

/// What the query string asks for: `?json`, `?xml&full`, `?full`...
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    pub format: Format,
    pub full: bool,
}

impl Query {
    pub fn parse(query_string: &str) -> Query {
        let keys: Vec<&str> = query_string
            .split('&')
            .map(|kv| kv.split_once('=').map_or(kv, |(k, _)| k))
            .collect();
        let has = |k: &str| keys.contains(&k);
        let format = if has("html") {
            Format::Html
        } else if has("json") {
            Format::Json
        } else if has("xml") {
            Format::Xml
        } else if has("openmetrics") {
            Format::OpenMetrics
        } else {
            Format::Text
        };
        Query {
            format,
            full: has("full"),
        }
    }
}

/// A rendered page: CGI-style headers plus a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

pub const EXPIRES: &str = "Thu, 01 Jan 1970 00:00:00 GMT";
pub const CACHE_CONTROL: &str = "no-cache, no-store, must-revalidate, max-age=0";

impl Response {
    /// The bytes a FastCGI responder writes to stdout: headers, blank line, body
    /// (no body for HEAD).
    pub fn cgi_bytes(&self, head: bool) -> Vec<u8> {
        let mut out = String::with_capacity(self.body.len() + 160);
        if self.status != 200 {
            let _ = write!(out, "Status: {}\r\n", self.status);
        }
        let _ = write!(
            out,
            "Content-Type: {}\r\nExpires: {EXPIRES}\r\nCache-Control: {CACHE_CONTROL}\r\n\r\n",
            self.content_type
        );
        if !head {
            out.push_str(&self.body);
        }
        out.into_bytes()
    }
}

/// The ping page: `pong` (or `ping.response`), text/plain, not cacheable.
pub fn ping(response: &str) -> Response {
    Response {
        status: 200,
        content_type: "text/plain",
        body: response.to_string(),
    }
}

pub fn content_type(f: Format) -> &'static str {
    match f {
        Format::Text => "text/plain;charset=UTF-8",
        Format::Json => "application/json",
        Format::Xml => "text/xml;charset=UTF-8",
        Format::Html => "text/html;charset=UTF-8",
        Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
    }
}

pub fn render(s: &PoolStatus, q: Query) -> Response {
    let body = match q.format {
        Format::Text => text(s, q.full),
        Format::Json => json(s, q.full),
        Format::Xml => xml(s, q.full),
        Format::Html => html(s, q.full),
        Format::OpenMetrics => openmetrics(s, q.full),
    };
    Response {
        status: 200,
        content_type: content_type(q.format),
        body,
    }
}

/// `22/Nov/2026:16:25:45 +0000` in local time.
pub fn format_time(epoch: u64) -> String {
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = crate::sys::process::local_time(epoch as i64);
    let off = t.gmtoff;
    let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} {sign}{:02}{:02}",
        t.day,
        MON[t.month as usize % 12],
        t.year,
        t.hour,
        t.min,
        t.sec,
        off / 3600,
        off / 60 % 60
    )
}

fn cpu(x100: u64) -> String {
    format!("{}.{:02}", x100 / 100, x100 % 100)
}

/// A value of the pool section: a number or a string.
enum V<'a> {
    N(u64),
    S(&'a str),
    T(u64),
}

fn pool_fields(s: &PoolStatus) -> Vec<(&'static str, V<'_>)> {
    vec![
        ("pool", V::S(&s.pool)),
        ("process manager", V::S(&s.process_manager)),
        ("start time", V::T(s.start_time)),
        ("start since", V::N(s.start_since)),
        ("accepted conn", V::N(s.accepted_conn)),
        ("listen queue", V::N(s.listen_queue)),
        ("max listen queue", V::N(s.max_listen_queue)),
        ("listen queue len", V::N(s.listen_queue_len)),
        ("idle processes", V::N(s.idle_processes)),
        ("active processes", V::N(s.active_processes)),
        ("total processes", V::N(s.total_processes)),
        ("max active processes", V::N(s.max_active_processes)),
        ("max children reached", V::N(s.max_children_reached)),
        ("slow requests", V::N(s.slow_requests)),
        ("terminated requests", V::N(s.terminated_requests)),
        ("respawns", V::N(s.respawns)),
    ]
}

/// Per-process fields; `cpu` is pre-formatted (a number with two decimals).
enum P<'a> {
    N(u64),
    S(&'a str),
    T(u64),
    F(String),
}

fn proc_fields<'a>(p: &'a ProcStatus, uri_label: &'static str) -> Vec<(&'static str, P<'a>)> {
    vec![
        ("pid", P::N(p.pid as u64)),
        ("state", P::S(p.state.name())),
        ("start time", P::T(p.start_time)),
        ("start since", P::N(p.start_since)),
        ("requests", P::N(p.requests)),
        ("request duration", P::N(p.request_duration)),
        ("request method", P::S(&p.request_method)),
        (uri_label, P::S(&p.request_uri)),
        ("content length", P::N(p.content_length)),
        ("user", P::S(&p.user)),
        ("script", P::S(&p.script)),
        ("last request cpu", P::F(cpu(p.last_request_cpu_x100))),
        ("last request memory", P::N(p.last_request_memory)),
    ]
}

fn text(s: &PoolStatus, full: bool) -> String {
    let mut o = String::with_capacity(512);
    for (k, v) in pool_fields(s) {
        let label = format!("{k}:");
        let _ = match v {
            V::N(n) => writeln!(o, "{label:<22}{n}"),
            V::S(x) => writeln!(o, "{label:<22}{x}"),
            V::T(t) => writeln!(o, "{label:<22}{}", format_time(t)),
        };
    }
    if full {
        for p in &s.processes {
            o.push_str("\n************************\n");
            for (k, v) in proc_fields(p, "request URI") {
                let label = format!("{k}:");
                let _ = match v {
                    P::N(n) => writeln!(o, "{label:<22}{n}"),
                    P::S(x) => writeln!(o, "{label:<22}{x}"),
                    P::T(t) => writeln!(o, "{label:<22}{}", format_time(t)),
                    P::F(f) => writeln!(o, "{label:<22}{f}"),
                };
            }
        }
    }
    o
}

fn json_str(o: &mut String, s: &str) {
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '/' => o.push_str("\\/"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

fn json(s: &PoolStatus, full: bool) -> String {
    let mut o = String::from("{");
    for (i, (k, v)) in pool_fields(s).into_iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        json_str(&mut o, k);
        o.push(':');
        match v {
            V::N(n) | V::T(n) => {
                let _ = write!(o, "{n}");
            }
            V::S(x) => json_str(&mut o, x),
        }
    }
    if full {
        o.push_str(", \"processes\":[");
        for (j, p) in s.processes.iter().enumerate() {
            if j > 0 {
                o.push(',');
            }
            o.push('{');
            for (i, (k, v)) in proc_fields(p, "request uri").into_iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                json_str(&mut o, k);
                o.push(':');
                match v {
                    P::N(n) | P::T(n) => {
                        let _ = write!(o, "{n}");
                    }
                    P::S(x) => json_str(&mut o, x),
                    P::F(f) => o.push_str(&f),
                }
            }
            o.push('}');
        }
        o.push(']');
    }
    o.push('}');
    o
}

fn escape_markup(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#039;"),
            c => o.push(c),
        }
    }
    o
}

fn xml(s: &PoolStatus, full: bool) -> String {
    let mut o = String::from("<?xml version=\"1.0\" ?>\n<status>\n");
    for (k, v) in pool_fields(s) {
        let tag = k.replace(' ', "-");
        let val = match v {
            V::N(n) | V::T(n) => n.to_string(),
            V::S(x) => escape_markup(x),
        };
        let _ = writeln!(o, "<{tag}>{val}</{tag}>");
    }
    if full {
        o.push_str("<processes>\n");
        for p in &s.processes {
            o.push_str("<process>");
            for (k, v) in proc_fields(p, "request uri") {
                let tag = k.replace(' ', "-");
                let val = match v {
                    P::N(n) | P::T(n) => n.to_string(),
                    P::S(x) => escape_markup(x),
                    P::F(f) => f,
                };
                let _ = write!(o, "<{tag}>{val}</{tag}>");
            }
            o.push_str("</process>\n");
        }
        o.push_str("</processes>\n");
    }
    o.push_str("</status>");
    o
}

fn html(s: &PoolStatus, full: bool) -> String {
    let mut o = String::from(
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n\
         <html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n\
         <head><title>fcgi_rs pool status</title></head>\n<body>\n<table>\n",
    );
    for (k, v) in pool_fields(s) {
        let val = match v {
            V::N(n) => n.to_string(),
            V::S(x) => escape_markup(x),
            V::T(t) => format_time(t),
        };
        let _ = writeln!(o, "<tr><th>{k}</th><td>{val}</td></tr>");
    }
    o.push_str("</table>\n");
    if full {
        o.push_str("<table border=\"1\">\n<tr>");
        if let Some(p) = s.processes.first() {
            for (k, _) in proc_fields(p, "request uri") {
                let _ = write!(o, "<th>{k}</th>");
            }
        } else {
            for k in [
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
            ] {
                let _ = write!(o, "<th>{k}</th>");
            }
        }
        o.push_str("</tr>\n");
        for p in &s.processes {
            o.push_str("<tr>");
            for (_, v) in proc_fields(p, "request uri") {
                let val = match v {
                    P::N(n) => n.to_string(),
                    P::S(x) => escape_markup(x),
                    P::T(t) => format_time(t),
                    P::F(f) => f,
                };
                let _ = write!(o, "<td>{val}</td>");
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table>");
    }
    o.push_str("</body></html>");
    o
}

fn label_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn openmetrics(s: &PoolStatus, full: bool) -> String {
    let mut o = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = write!(
            o,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    };
    let up_help = format!(
        "Whether pool {} (process manager {}) answered.",
        label_value(&s.pool),
        s.process_manager
    );
    metric("phpfpm_up", "gauge", &up_help, 1);
    metric(
        "phpfpm_start_since",
        "counter",
        "Seconds since the pool started.",
        s.start_since,
    );
    metric(
        "phpfpm_accepted_connections",
        "counter",
        "Connections the pool accepted.",
        s.accepted_conn,
    );
    metric(
        "phpfpm_listen_queue",
        "gauge",
        "Connections waiting in the listen queue.",
        s.listen_queue,
    );
    metric(
        "phpfpm_max_listen_queue",
        "counter",
        "Largest listen queue seen since the pool started.",
        s.max_listen_queue,
    );
    metric(
        "phpfpm_listen_queue_length",
        "gauge",
        "Size of the listen queue (backlog).",
        s.listen_queue_len,
    );
    metric(
        "phpfpm_idle_processes",
        "gauge",
        "Workers waiting for a request.",
        s.idle_processes,
    );
    metric(
        "phpfpm_active_processes",
        "gauge",
        "Workers serving a request.",
        s.active_processes,
    );
    metric(
        "phpfpm_total_processes",
        "gauge",
        "Idle plus active workers.",
        s.total_processes,
    );
    metric(
        "phpfpm_max_active_processes",
        "counter",
        "Most workers active at once since the pool started.",
        s.max_active_processes,
    );
    metric(
        "phpfpm_max_children_reached",
        "counter",
        "Times the pool wanted a worker beyond pm.max_children (dynamic and ondemand).",
        s.max_children_reached,
    );
    metric(
        "phpfpm_slow_requests",
        "counter",
        "Requests that ran longer than request_slowlog_timeout.",
        s.slow_requests,
    );
    metric(
        "phpfpm_terminated_requests",
        "counter",
        "Requests ended by request_terminate_timeout.",
        s.terminated_requests,
    );
    metric(
        "phpfpm_respawns",
        "counter",
        "Workers started to replace one that exited.",
        s.respawns,
    );
    if full && !s.processes.is_empty() {
        type Get = fn(&ProcStatus) -> u64;
        let series: [(&str, &str, &str, Get); 6] = [
            (
                "phpfpm_process_start_since",
                "gauge",
                "Seconds since the worker started.",
                |p| p.start_since,
            ),
            (
                "phpfpm_process_requests",
                "counter",
                "Requests the worker served.",
                |p| p.requests,
            ),
            (
                "phpfpm_process_request_duration",
                "gauge",
                "Microseconds of the current request, or of the last one when idle.",
                |p| p.request_duration,
            ),
            (
                "phpfpm_process_last_request_cpu",
                "gauge",
                "CPU use of the last request, in hundredths of a percent.",
                |p| p.last_request_cpu_x100,
            ),
            (
                "phpfpm_process_last_request_memory",
                "gauge",
                "Peak resident memory after the last request, in bytes.",
                |p| p.last_request_memory,
            ),
            (
                "phpfpm_process_content_length",
                "gauge",
                "Request body length of the current or last request.",
                |p| p.content_length,
            ),
        ];
        let _ = write!(
            o,
            "# HELP phpfpm_process_state The worker's state (1 for the state it is in).\n# TYPE phpfpm_process_state gauge\n"
        );
        for p in &s.processes {
            let _ = writeln!(
                o,
                "phpfpm_process_state{{pid=\"{}\",state=\"{}\"}} 1",
                p.pid,
                p.state.name()
            );
        }
        for (name, kind, help, get) in series {
            let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
            for p in &s.processes {
                let _ = writeln!(o, "{name}{{pid=\"{}\"}} {}", p.pid, get(p));
            }
        }
    }
    o.push_str("# EOF\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PoolStatus {
        let proc_ = |pid, state, uri: &str, script: &str, dur| ProcStatus {
            pid,
            state,
            start_time: 1795364745,
            start_since: 7,
            requests: 8,
            request_duration: dur,
            request_method: "GET".into(),
            request_uri: uri.into(),
            content_length: 0,
            user: "-".into(),
            script: script.into(),
            last_request_cpu_x100: 0,
            last_request_memory: 2097152,
        };
        PoolStatus {
            pool: "www".into(),
            process_manager: "static".into(),
            start_time: 1795364745,
            start_since: 7,
            accepted_conn: 24,
            listen_queue: 0,
            max_listen_queue: 0,
            listen_queue_len: 511,
            idle_processes: 2,
            active_processes: 2,
            total_processes: 4,
            max_active_processes: 2,
            max_children_reached: 0,
            slow_requests: 1,
            terminated_requests: 0,
            respawns: 0,
            processes: vec![
                proc_(17625, State::Idle, "/status?json&full", "-", 139),
                proc_(
                    17628,
                    State::Running,
                    "/slow.php?s=3",
                    "/srv/www/slow.php",
                    1693542,
                ),
            ],
        }
    }

    /// The php-fpm samples, when the project's reference directory is next to the crate.
    fn reference(name: &str) -> Option<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/reference/php-fpm-status-samples");
        std::fs::read_to_string(dir.join(name)).ok()
    }

    /// Field names in order, read from one of our bodies or a sample body.
    fn text_keys(body: &str) -> Vec<String> {
        body.lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect()
    }

    const POOL_KEYS: [&str; 14] = [
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
    ];

    #[test]
    fn query_parsing() {
        assert_eq!(
            Query::parse(""),
            Query {
                format: Format::Text,
                full: false
            }
        );
        assert_eq!(
            Query::parse("full"),
            Query {
                format: Format::Text,
                full: true
            }
        );
        assert_eq!(
            Query::parse("json&full"),
            Query {
                format: Format::Json,
                full: true
            }
        );
        assert_eq!(
            Query::parse("xml"),
            Query {
                format: Format::Xml,
                full: false
            }
        );
        assert_eq!(
            Query::parse("html&full=1"),
            Query {
                format: Format::Html,
                full: true
            }
        );
        assert_eq!(
            Query::parse("openmetrics"),
            Query {
                format: Format::OpenMetrics,
                full: false
            }
        );
        assert!(!Query::parse("fully").full);
    }

    #[test]
    fn text_matches_php_fpm_layout() {
        let r = render(
            &sample(),
            Query {
                format: Format::Text,
                full: false,
            },
        );
        assert_eq!(r.content_type, "text/plain;charset=UTF-8");
        let keys = text_keys(&r.body);
        assert_eq!(&keys[..14], &POOL_KEYS);
        assert_eq!(&keys[14..], &["terminated requests", "respawns"]);
        assert!(r
            .body
            .starts_with("pool:                 www\nprocess manager:      static\n"));
        assert!(r.body.contains("\nlisten queue len:     511\n"));
        if let Some(sample) = reference("status.body") {
            let ours: Vec<String> = r
                .body
                .lines()
                .take(14)
                .map(|l| l[..22].to_string())
                .collect();
            let theirs: Vec<String> = sample.lines().map(|l| l[..22].to_string()).collect();
            assert_eq!(ours, theirs, "labels and padding as php-fpm");
        }
        let t = format_time(1795364745);
        assert_eq!(t.len(), "22/Nov/2026:16:25:45 +0000".len());
    }

    #[test]
    fn text_full_matches_sample_structure() {
        let r = render(
            &sample(),
            Query {
                format: Format::Text,
                full: true,
            },
        );
        let procs: Vec<&str> = r.body.split("\n************************\n").collect();
        assert_eq!(procs.len(), 3);
        assert!(
            procs[2].starts_with("pid:                  17628\nstate:                Running\n")
        );
        assert!(procs[2].contains("request URI:          /slow.php?s=3\n"));
        assert!(procs[2].ends_with("last request cpu:     0.00\nlast request memory:  2097152\n"));
        if let Some(sample) = reference("status_full.body") {
            let s_procs: Vec<&str> = sample.split("\n************************\n").collect();
            let labels = |b: &str| b.lines().map(|l| l[..22].to_string()).collect::<Vec<_>>();
            assert_eq!(labels(procs[1]), labels(s_procs[1]));
            assert!(sample.ends_with('\n') && r.body.ends_with('\n'));
        }
    }

    #[test]
    fn json_matches_sample() {
        let r = render(
            &sample(),
            Query {
                format: Format::Json,
                full: true,
            },
        );
        assert_eq!(r.content_type, "application/json");
        assert!(r.body.starts_with("{\"pool\":\"www\",\"process manager\":\"static\",\"start time\":1795364745,\"start since\":7,"));
        assert!(r.body.contains("\"slow requests\":1,\"terminated requests\":0,\"respawns\":0, \"processes\":[{\"pid\":17625,"));
        assert!(r.body.contains("\"request uri\":\"\\/status?json&full\""));
        assert!(r
            .body
            .contains("\"last request cpu\":0.00,\"last request memory\":2097152}"));
        assert!(r.body.ends_with("}]}"));
        if let Some(sample) = reference("status_json_full.body") {
            // Same keys in the same order (ours adds two pool keys).
            let keys = |b: &str| {
                b.split('"')
                    .collect::<Vec<_>>()
                    .windows(2)
                    .filter(|w| w[1].starts_with(':'))
                    .map(|w| w[0].to_string())
                    .collect::<Vec<_>>()
            };
            let k_ours: Vec<String> = keys(&r.body)
                .into_iter()
                .filter(|k| k != "terminated requests" && k != "respawns")
                .collect();
            let k_theirs = keys(&sample);
            assert_eq!(k_ours[..14], k_theirs[..14]);
            assert_eq!(k_ours[14..27], k_theirs[14..27], "process keys");
        }
        let plain = render(
            &sample(),
            Query {
                format: Format::Json,
                full: false,
            },
        );
        assert!(plain.body.ends_with("\"respawns\":0}"));
    }

    #[test]
    fn xml_matches_sample() {
        let r = render(
            &sample(),
            Query {
                format: Format::Xml,
                full: true,
            },
        );
        assert_eq!(r.content_type, "text/xml;charset=UTF-8");
        assert!(r.body.starts_with("<?xml version=\"1.0\" ?>\n<status>\n<pool>www</pool>\n<process-manager>static</process-manager>\n"));
        assert!(r
            .body
            .contains("<request-uri>/status?json&amp;full</request-uri>"));
        assert!(r.body.ends_with("</process>\n</processes>\n</status>"));
        if let Some(sample) = reference("status_xml_full.body") {
            let tags = |b: &str| {
                b.split('<')
                    .filter(|t| !t.starts_with('/') && !t.starts_with('?'))
                    .map(|t| t.split('>').next().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
            };
            let ours: Vec<String> = tags(&r.body)
                .into_iter()
                .filter(|t| t != "terminated-requests" && t != "respawns")
                .collect();
            let theirs = tags(&sample);
            assert_eq!(ours[..18], theirs[..18]);
        }
    }

    #[test]
    fn html_matches_sample() {
        let r = render(
            &sample(),
            Query {
                format: Format::Html,
                full: true,
            },
        );
        assert_eq!(r.content_type, "text/html;charset=UTF-8");
        assert!(r.body.contains("<tr><th>pool</th><td>www</td></tr>\n"));
        assert!(r
            .body
            .contains("</table>\n<table border=\"1\">\n<tr><th>pid</th><th>state</th>"));
        assert!(r.body.contains("<td>/status?json&amp;full</td>"));
        assert!(r.body.ends_with("</tr>\n</table></body></html>"));
        if let Some(sample) = reference("status_html_full.body") {
            let head: Vec<&str> = sample.lines().take(2).collect();
            let ours: Vec<&str> = r.body.lines().take(2).collect();
            assert_eq!(head, ours, "doctype and html element");
            let th = |b: &str| {
                b.lines()
                    .find(|l| l.starts_with("<tr><th>pid"))
                    .unwrap_or("")
                    .to_string()
            };
            assert_eq!(th(&r.body), th(&sample));
        }
        let r = render(
            &sample(),
            Query {
                format: Format::Html,
                full: false,
            },
        );
        assert!(r.body.ends_with("</table>\n</body></html>"));
    }

    #[test]
    fn openmetrics_names_types_and_full_series() {
        let r = render(
            &sample(),
            Query {
                format: Format::OpenMetrics,
                full: false,
            },
        );
        assert_eq!(
            r.content_type,
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert!(r.body.ends_with("# EOF\n"));
        let types = |b: &str| {
            b.lines()
                .filter_map(|l| l.strip_prefix("# TYPE "))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let ours = types(&r.body);
        if let Some(sample) = reference("status_openmetrics.body") {
            let theirs = types(&sample);
            assert_eq!(
                ours[..12],
                theirs[..],
                "php-fpm metric names and types, in order"
            );
        }
        assert!(r.body.contains("\nphpfpm_listen_queue_length 511\n"));
        assert!(!r.body.contains("pid="));
        let full = render(
            &sample(),
            Query {
                format: Format::OpenMetrics,
                full: true,
            },
        );
        assert!(full
            .body
            .contains("phpfpm_process_state{pid=\"17628\",state=\"Running\"} 1\n"));
        assert!(full
            .body
            .contains("phpfpm_process_request_duration{pid=\"17628\"} 1693542\n"));
        assert!(full.body.ends_with("# EOF\n"));
    }

    #[test]
    fn headers_and_ping() {
        let p = ping("pong");
        let bytes = String::from_utf8(p.cgi_bytes(false)).unwrap();
        assert_eq!(
            bytes,
            "Content-Type: text/plain\r\nExpires: Thu, 01 Jan 1970 00:00:00 GMT\r\nCache-Control: no-cache, no-store, must-revalidate, max-age=0\r\n\r\npong"
        );
        assert!(String::from_utf8(p.cgi_bytes(true))
            .unwrap()
            .ends_with("\r\n\r\n"));
        if let Some(h) = reference("status.hdr") {
            assert!(
                h.contains(&format!("Expires: {EXPIRES}"))
                    && h.contains(&format!("Cache-Control: {CACHE_CONTROL}"))
            );
        }
        for (f, file) in [
            (Format::Text, "status.hdr"),
            (Format::Json, "status_json.hdr"),
            (Format::Xml, "status_xml.hdr"),
            (Format::Html, "status_html.hdr"),
            (Format::OpenMetrics, "status_openmetrics.hdr"),
        ] {
            if let Some(h) = reference(file) {
                let want = format!("Content-Type: {}", content_type(f));
                assert!(h.lines().any(|l| l.trim_end() == want), "{file}");
            }
        }
    }
}
