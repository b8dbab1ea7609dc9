//! The worker side: what the engine calls around each request when the process manager runs
//! (in-library workers forked from the program, or programs the command runs that link
//! fcgi_rs and find `FCGI_RS_PM_WORKER` in their environment).

use std::sync::Arc;

use super::scoreboard::{now_us, RequestInfo, Scoreboard, State};
use super::status::{self, Query};

/// Environment variable the command sets for the programs it runs: `FD:SLOT` of the scoreboard.
pub const ENV_WORKER: &str = "FCGI_RS_PM_WORKER";
/// The status page path, the ping path and its answer, passed with [`ENV_WORKER`].
pub const ENV_STATUS_PATH: &str = "FCGI_RS_PM_STATUS_PATH";
pub const ENV_PING_PATH: &str = "FCGI_RS_PM_PING_PATH";
pub const ENV_PING_RESPONSE: &str = "FCGI_RS_PM_PING_RESPONSE";
/// The request limit for this worker (already randomised), for any program that wants it.
pub const ENV_MAX_REQUESTS: &str = "FCGI_RS_MAX_REQUESTS";

/// One worker's link to its pool. Cheap to call on every request: atomics only, no locks, no
/// allocation except when rendering a status page.
#[derive(Debug)]
pub struct Worker {
    sb: Arc<Scoreboard>,
    slot: usize,
    master_pid: i32,
    status_path: Option<String>,
    ping_path: Option<String>,
    ping_response: String,
    served: u64,
    max_requests: u64,
    cpu_at_start: u64,
    wall_at_start: u64,
}

impl Worker {
    pub(crate) fn new(
        sb: Arc<Scoreboard>,
        slot: usize,
        master_pid: i32,
        status_path: Option<String>,
        ping_path: Option<String>,
        ping_response: String,
    ) -> Worker {
        let s = sb.slot(slot);
        s.set_pid(std::process::id());
        s.set_attached();
        s.set_state(State::Idle);
        let max_requests = s.max_requests();
        Worker {
            sb,
            slot,
            master_pid,
            status_path,
            ping_path,
            ping_response,
            served: 0,
            max_requests,
            cpu_at_start: 0,
            wall_at_start: 0,
        }
    }

    /// In a program the command started: attach to the scoreboard named by
    /// `FCGI_RS_PM_WORKER` (and remove the variables so this program's own children do not).
    pub fn from_env() -> Option<Worker> {
        let v = std::env::var(ENV_WORKER).ok()?;
        std::env::remove_var(ENV_WORKER);
        let (fd, slot) = v.split_once(':')?;
        let fd: i32 = fd.parse().ok()?;
        let slot: usize = slot.parse().ok()?;
        if fd < 3 {
            return None;
        }
        let _ = crate::sys::process::set_cloexec(fd, true);
        let sb = Scoreboard::attach(crate::sys::process::adopt_fd(fd)).ok()?;
        if slot >= sb.nslots() {
            return None;
        }
        let take = |k: &str| {
            let v = std::env::var(k).ok().filter(|v| !v.is_empty());
            std::env::remove_var(k);
            v
        };
        let status_path = take(ENV_STATUS_PATH);
        let ping_path = take(ENV_PING_PATH);
        let ping_response = take(ENV_PING_RESPONSE).unwrap_or_else(|| "pong".into());
        Some(Worker::new(
            Arc::new(sb),
            slot,
            crate::sys::process::getppid(),
            status_path,
            ping_path,
            ping_response,
        ))
    }

    /// A connection was accepted (counts `accepted conn`).
    pub fn accepted(&self) {
        self.sb.add_accepted();
        self.sb.slot(self.slot).set_state(State::ReadingHeaders);
    }

    /// The request's params are in: record what the status page shows.
    /// `uri` is REQUEST_URI (path and query string), `script` SCRIPT_FILENAME, `user`
    /// REMOTE_USER; empty strings show as `-`.
    pub fn request_started(
        &mut self,
        method: &str,
        uri: &str,
        script: &str,
        user: &str,
        content_length: u64,
    ) {
        let now = now_us();
        self.wall_at_start = now;
        self.cpu_at_start = crate::sys::process::self_usage().0;
        let s = self.sb.slot(self.slot);
        s.request_started(
            &RequestInfo {
                method,
                uri,
                script,
                user,
                content_length,
            },
            now,
        );
        self.sb.note_active();
    }

    /// The response is complete (after `FCGX_Finish_r` or the next accept).
    pub fn request_finished(&mut self) {
        let now = now_us();
        let (cpu, rss) = crate::sys::process::self_usage();
        let wall = now.saturating_sub(self.wall_at_start).max(1);
        let pct_x100 = cpu.saturating_sub(self.cpu_at_start).saturating_mul(10_000) / wall;
        self.sb.slot(self.slot).request_finished(now, pct_x100, rss);
        self.served += 1;
    }

    /// True when the worker should leave its accept loop (before accepting again): the master
    /// asked (reload, graceful stop, idle kill), `pm.max_requests` was reached, or the master
    /// is gone.
    pub fn should_stop(&self) -> bool {
        (self.max_requests > 0 && self.served >= self.max_requests)
            || self.sb.slot(self.slot).exit_requested()
            || crate::sys::process::getppid() != self.master_pid
    }

    /// If the request is for the status or ping page, the complete CGI response (headers and
    /// body) to write to stdout; otherwise `None` and the program handles the request.
    /// `path` is SCRIPT_NAME (or the path part of REQUEST_URI), `query` QUERY_STRING.
    pub fn intercept(&self, method: &str, path: &str, query: &str) -> Option<Vec<u8>> {
        let head = method.eq_ignore_ascii_case("HEAD");
        if self.ping_path.as_deref() == Some(path) {
            return Some(status::ping(&self.ping_response).cgi_bytes(head));
        }
        if self.status_path.as_deref() == Some(path) {
            let snap = self.sb.snapshot(now_us());
            return Some(status::render(&snap, Query::parse(query)).cgi_bytes(head));
        }
        None
    }

    pub fn requests_served(&self) -> u64 {
        self.served
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.sb.slot(self.slot).set_state(State::Finishing);
    }
}
