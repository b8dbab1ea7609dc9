//! A throwaway nginx in front of a FastCGI application.
//!
//! ```ignore
//! let ng = Nginx::start(&NginxOpts::new(app.addr().clone()).keep_conn(8));
//! let r = http::fetch(ng.port(), "GET", "/echo?x=1", b"")?;
//! assert!(ng.error_log().contains("FastCGI sent in stderr"));
//! ```
//!
//! The configuration, pid file, logs and temp paths all live in a fresh temporary directory;
//! nginx listens on a free 127.0.0.1 port and is stopped (with its workers) on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::client::Addr;
use super::procs::{self, TempDir};

/// How to run nginx.
#[derive(Clone, Debug)]
pub struct NginxOpts {
    pub upstream: Addr,
    /// `fastcgi_keep_conn on` with an upstream `keepalive N` pool; `None` = one connection per
    /// request.
    pub keepalive: Option<u32>,
    /// Worker processes; 0 runs a single process (`master_process off`).
    pub workers: u32,
    /// `fastcgi_request_buffering` (nginx reads the whole body before contacting the app).
    pub request_buffering: bool,
    /// `fastcgi_read_timeout` / `fastcgi_send_timeout`, seconds.
    pub upstream_timeout_s: u32,
    /// Extra directives inside `location /`.
    pub extra_location: String,
}

impl NginxOpts {
    pub fn new(upstream: Addr) -> NginxOpts {
        NginxOpts {
            upstream,
            keepalive: None,
            workers: 0,
            request_buffering: true,
            upstream_timeout_s: 30,
            extra_location: String::new(),
        }
    }

    /// `fastcgi_keep_conn on` and `keepalive n` in the upstream block.
    pub fn keep_conn(mut self, n: u32) -> Self {
        self.keepalive = Some(n);
        self
    }

    pub fn workers(mut self, n: u32) -> Self {
        self.workers = n;
        self
    }

    pub fn request_buffering(mut self, on: bool) -> Self {
        self.request_buffering = on;
        self
    }

    pub fn upstream_timeout(mut self, secs: u32) -> Self {
        self.upstream_timeout_s = secs;
        self
    }
}

/// The nginx program, if installed.
pub fn program() -> Option<std::path::PathBuf> {
    super::paths::system_program(&["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"])
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn config(dir: &TempDir, port: u16, o: &NginxOpts) -> String {
    let d = dir.path().display();
    let mut c = String::new();
    if o.workers == 0 {
        c.push_str("master_process off;\nworker_processes 1;\n");
    } else {
        c.push_str(&format!(
            "master_process on;\nworker_processes {};\n",
            o.workers
        ));
        if running_as_root() {
            // Workers would otherwise switch to an unprivileged user that cannot reach the
            // application's socket in our private temp directory.
            c.push_str("user root;\n");
        }
    }
    c.push_str(&format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n"
    ));
    c.push_str("http {\n");
    c.push_str(&format!(
        "  access_log off;\n  client_body_temp_path {d}/body;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         proxy_temp_path {d}/proxy;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         client_max_body_size 256m;\n  client_body_buffer_size 1m;\n  keepalive_requests 1000000;\n  \
         keepalive_timeout 60s;\n"
    ));
    c.push_str(&format!(
        "  upstream app {{\n    server {};\n",
        o.upstream.to_nginx_string()
    ));
    if let Some(n) = o.keepalive {
        c.push_str(&format!("    keepalive {n};\n"));
    }
    c.push_str("  }\n");
    c.push_str(&format!(
        "  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n"
    ));
    c.push_str("      fastcgi_pass app;\n");
    if o.keepalive.is_some() {
        c.push_str("      fastcgi_keep_conn on;\n");
    }
    c.push_str(&format!(
        "      fastcgi_request_buffering {};\n",
        if o.request_buffering { "on" } else { "off" }
    ));
    c.push_str(&format!(
        "      fastcgi_read_timeout {t}s;\n      fastcgi_send_timeout {t}s;\n      \
         fastcgi_connect_timeout 5s;\n",
        t = o.upstream_timeout_s
    ));
    for (name, value) in [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_SOFTWARE", "nginx"),
        ("QUERY_STRING", "$query_string"),
        ("REQUEST_METHOD", "$request_method"),
        ("CONTENT_TYPE", "$content_type"),
        ("CONTENT_LENGTH", "$content_length"),
        ("SCRIPT_NAME", "$fastcgi_script_name"),
        ("REQUEST_URI", "$request_uri"),
        ("DOCUMENT_URI", "$document_uri"),
        ("SERVER_PROTOCOL", "$server_protocol"),
        ("REMOTE_ADDR", "$remote_addr"),
        ("REMOTE_PORT", "$remote_port"),
        ("SERVER_ADDR", "$server_addr"),
        ("SERVER_PORT", "$server_port"),
        ("SERVER_NAME", "$server_name"),
    ] {
        c.push_str(&format!("      fastcgi_param {name} {value};\n"));
    }
    c.push_str(&o.extra_location);
    c.push_str("    }\n  }\n}\n");
    c
}

/// A running nginx; stopped on drop.
#[derive(Debug)]
pub struct Nginx {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
}

impl Nginx {
    /// Starts nginx and waits until it accepts connections. Panics if it cannot start.
    pub fn start(o: &NginxOpts) -> Nginx {
        let prog = program().expect("nginx is not installed");
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let dir = TempDir::new("nginx");
            let port = procs::free_port();
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, config(&dir, port, o)).expect("write nginx.conf");
            let child = Command::new(&prog)
                .arg("-p")
                .arg(dir.path())
                .arg("-e")
                .arg(dir.join("error.log"))
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(
                    std::fs::File::create(dir.join("stderr.log")).expect("stderr log"),
                ))
                .spawn()
                .expect("spawn nginx");
            let mut ng = Nginx {
                child: Some(child),
                port,
                dir,
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let exited = ng
                    .child
                    .as_mut()
                    .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
                // nginx writes its pid file only after it has bound its listen socket, so a
                // connection is known to reach this nginx, not whatever else took the port
                // between `free_port` and nginx's bind (nginx then exits with EADDRINUSE).
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                if !exited
                    && ng.dir.join("nginx.pid").exists()
                    && std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100))
                        .is_ok()
                {
                    return ng;
                }
                if exited || Instant::now() >= deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            last_log = format!(
                "{}{}",
                ng.error_log(),
                std::fs::read_to_string(ng.dir.join("stderr.log")).unwrap_or_default()
            );
        }
        panic!("nginx did not start; its log says:\n{last_log}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The contents of nginx's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// The configuration nginx was started with.
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("nginx.conf")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        let workers = procs::children_of(pid);
        // Fast shutdown: the master stops its workers and exits.
        procs::send_signal(pid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        for w in workers {
            // Only if that pid is still an nginx process (pids can be reused).
            let comm = std::fs::read_to_string(format!("/proc/{w}/comm")).unwrap_or_default();
            if comm.trim() == "nginx" {
                procs::send_signal(w, "KILL");
            }
        }
    }
}
