//! The scoreboard: pool counters and one slot per worker, in shared memory created by the
//! master before it forks (a memfd, so a program the command `exec`s can map it too).
//!
//! Everything is an `AtomicU64` word. Each worker writes only its own slot; numbers are single
//! atomic stores, and the request strings (method, URI, script, user) are written under a
//! per-slot sequence counter so readers (the master, or any worker rendering the status page)
//! never see a torn string and never block the writer.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{fence, AtomicU64, Ordering::*};

use super::config::PmMode;
use super::status::{PoolStatus, ProcStatus};
use crate::sys::process::SharedWords;

const MAGIC: u64 = 0x6663_6769_5f72_7301; // "fcgi_rs" v1

// pool header words
const H_MAGIC: usize = 0;
const H_NSLOTS: usize = 1;
const H_START: usize = 2;
const H_ACCEPTED: usize = 3;
const H_MAX_ACTIVE: usize = 4;
const H_MAX_CHILDREN_REACHED: usize = 5;
const H_SLOW: usize = 6;
const H_TERMINATED: usize = 7;
const H_RESPAWNS: usize = 8;
const H_MAX_LISTEN_QUEUE: usize = 9;
const H_PM: usize = 10;
const H_LISTEN_QUEUE_LEN: usize = 11;
const H_LISTEN_QUEUE: usize = 12;
const H_NAME: usize = 16; // length word + 8 data words
const NAME_WORDS: usize = 8;
const HEADER_WORDS: usize = 32;

// slot words
const S_PID: usize = 0;
const S_STATE: usize = 1;
const S_FLAGS: usize = 2;
const S_START_US: usize = 3;
const S_REQUESTS: usize = 4;
const S_REQ_START_US: usize = 5;
const S_REQ_DURATION_US: usize = 6;
const S_CONTENT_LENGTH: usize = 7;
const S_SEQ: usize = 8;
const S_LAST_CPU: usize = 9;
const S_LAST_MEM: usize = 10;
const S_MAX_REQUESTS: usize = 11;
const S_GENERATION: usize = 12;
const S_LENS: usize = 13;
const S_PROBED: usize = 14;
const S_METHOD: usize = 16;
const METHOD_WORDS: usize = 2;
const S_URI: usize = S_METHOD + METHOD_WORDS;
const URI_WORDS: usize = 64;
const S_SCRIPT: usize = S_URI + URI_WORDS;
const SCRIPT_WORDS: usize = 32;
const S_USER: usize = S_SCRIPT + SCRIPT_WORDS;
const USER_WORDS: usize = 8;
const SLOT_WORDS: usize = 128;
const _: () = assert!(S_USER + USER_WORDS <= SLOT_WORDS);

/// The longest stored request URI, in bytes (longer ones are cut at a character boundary).
pub const MAX_URI: usize = URI_WORDS * 8;

/// Slot flag: the master asks the worker to leave after its current request.
pub const FLAG_EXIT: u64 = 1;
/// Slot flag: the worker runs fcgi_rs and keeps its slot up to date.
pub const FLAG_ATTACHED: u64 = 2;

/// A worker's state, with php-fpm's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Idle = 0,
    ReadingHeaders = 1,
    GettingInfo = 2,
    Running = 3,
    Ending = 4,
    Finishing = 5,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::ReadingHeaders => "Reading headers",
            State::GettingInfo => "Getting request information",
            State::Running => "Running",
            State::Ending => "Ending",
            State::Finishing => "Finishing",
        }
    }

    fn from_word(w: u64) -> State {
        match w {
            1 => State::ReadingHeaders,
            2 => State::GettingInfo,
            3 => State::Running,
            4 => State::Ending,
            5 => State::Finishing,
            _ => State::Idle,
        }
    }
}

/// Wall-clock microseconds since the epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[derive(Debug)]
pub struct Scoreboard {
    mem: SharedWords,
}

impl Scoreboard {
    /// Creates a zeroed scoreboard with `nslots` worker slots.
    pub fn create(pool: &str, pm: PmMode, nslots: usize) -> io::Result<Scoreboard> {
        let mem = SharedWords::create(HEADER_WORDS + nslots * SLOT_WORDS)?;
        let sb = Scoreboard { mem };
        let w = sb.mem.words();
        w[H_NSLOTS].store(nslots as u64, Relaxed);
        w[H_START].store(now_us() / 1_000_000, Relaxed);
        w[H_PM].store(pm as u64, Relaxed);
        store_str(&w[H_NAME..H_NAME + 1 + NAME_WORDS], pool);
        w[H_MAGIC].store(MAGIC, Release);
        Ok(sb)
    }

    /// Maps a scoreboard passed as an fd (by the command to a program it runs).
    pub fn attach(fd: OwnedFd) -> io::Result<Scoreboard> {
        let mem = SharedWords::from_fd(fd)?;
        let w = mem.words();
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "not an fcgi_rs scoreboard");
        if w.len() < HEADER_WORDS || w[H_MAGIC].load(Acquire) != MAGIC {
            return Err(bad());
        }
        let n = w[H_NSLOTS].load(Relaxed) as usize;
        if w.len() < HEADER_WORDS + n * SLOT_WORDS {
            return Err(bad());
        }
        Ok(Scoreboard { mem })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.mem.fd()
    }

    fn h(&self, i: usize) -> &AtomicU64 {
        &self.mem.words()[i]
    }

    pub fn nslots(&self) -> usize {
        self.h(H_NSLOTS).load(Relaxed) as usize
    }

    pub fn slot(&self, i: usize) -> Slot<'_> {
        let base = HEADER_WORDS + i * SLOT_WORDS;
        Slot {
            w: &self.mem.words()[base..base + SLOT_WORDS],
        }
    }

    pub fn pool_name(&self) -> String {
        load_str(&self.mem.words()[H_NAME..H_NAME + 1 + NAME_WORDS])
    }

    pub fn start_time(&self) -> u64 {
        self.h(H_START).load(Relaxed)
    }

    pub fn add_accepted(&self) {
        self.h(H_ACCEPTED).fetch_add(1, Relaxed);
    }
    pub fn add_max_children_reached(&self) {
        self.h(H_MAX_CHILDREN_REACHED).fetch_add(1, Relaxed);
    }
    pub fn add_slow(&self) {
        self.h(H_SLOW).fetch_add(1, Relaxed);
    }
    pub fn add_terminated(&self) {
        self.h(H_TERMINATED).fetch_add(1, Relaxed);
    }
    pub fn add_respawn(&self) {
        self.h(H_RESPAWNS).fetch_add(1, Relaxed);
    }
    /// Records the current listen queue (and its size) as the master last measured it.
    pub fn set_listen_queue(&self, queue: u32, len: u32) {
        self.h(H_LISTEN_QUEUE).store(queue as u64, Relaxed);
        self.h(H_LISTEN_QUEUE_LEN).store(len as u64, Relaxed);
        self.h(H_MAX_LISTEN_QUEUE).fetch_max(queue as u64, Relaxed);
    }
    /// Raises "max active processes" to the current count of busy workers.
    pub fn note_active(&self) {
        let active = (0..self.nslots())
            .filter(|&i| {
                let s = self.slot(i);
                s.pid() != 0 && s.state() != State::Idle
            })
            .count() as u64;
        self.h(H_MAX_ACTIVE).fetch_max(active, Relaxed);
    }

    /// Finds a free slot and prepares it for a worker about to be forked.
    pub fn claim(&self, max_requests: u64, generation: u64) -> Option<usize> {
        (0..self.nslots()).find(|&i| {
            let s = self.slot(i);
            if s.w[S_PID]
                .compare_exchange(0, u64::MAX, AcqRel, Relaxed)
                .is_ok()
            {
                s.reset(max_requests, generation);
                true
            } else {
                false
            }
        })
    }

    /// A consistent-enough copy for the status page: numbers are each exact, strings are never
    /// torn. `now_us` is passed in so rendering is a pure function of the snapshot.
    pub fn snapshot(&self, now_us: u64) -> PoolStatus {
        let mut procs = Vec::new();
        for i in 0..self.nslots() {
            let s = self.slot(i);
            let pid = s.pid();
            if pid == 0 {
                continue;
            }
            procs.push(s.status(now_us));
        }
        let idle = procs.iter().filter(|p| p.state == State::Idle).count() as u64;
        let total = procs.len() as u64;
        let pm = match self.h(H_PM).load(Relaxed) {
            1 => PmMode::Dynamic,
            2 => PmMode::Ondemand,
            _ => PmMode::Static,
        };
        let start = self.start_time();
        PoolStatus {
            pool: self.pool_name(),
            process_manager: pm.name().to_string(),
            start_time: start,
            start_since: (now_us / 1_000_000).saturating_sub(start),
            accepted_conn: self.h(H_ACCEPTED).load(Relaxed),
            listen_queue: self.h(H_LISTEN_QUEUE).load(Relaxed),
            max_listen_queue: self.h(H_MAX_LISTEN_QUEUE).load(Relaxed),
            listen_queue_len: self.h(H_LISTEN_QUEUE_LEN).load(Relaxed),
            idle_processes: idle,
            active_processes: total - idle,
            total_processes: total,
            max_active_processes: self.h(H_MAX_ACTIVE).load(Relaxed).max(total - idle),
            max_children_reached: self.h(H_MAX_CHILDREN_REACHED).load(Relaxed),
            slow_requests: self.h(H_SLOW).load(Relaxed),
            terminated_requests: self.h(H_TERMINATED).load(Relaxed),
            respawns: self.h(H_RESPAWNS).load(Relaxed),
            processes: procs,
        }
    }
}

/// One worker's slot.
#[derive(Clone, Copy, Debug)]
pub struct Slot<'a> {
    w: &'a [AtomicU64],
}

/// Request details for [`Slot::request_started`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestInfo<'a> {
    pub method: &'a str,
    /// Path with the query string.
    pub uri: &'a str,
    /// SCRIPT_FILENAME
    pub script: &'a str,
    /// REMOTE_USER
    pub user: &'a str,
    pub content_length: u64,
}

impl<'a> Slot<'a> {
    fn reset(&self, max_requests: u64, generation: u64) {
        for (i, w) in self.w.iter().enumerate() {
            if i != S_PID && i != S_SEQ {
                w.store(0, Relaxed);
            }
        }
        self.w[S_START_US].store(now_us(), Relaxed);
        self.w[S_MAX_REQUESTS].store(max_requests, Relaxed);
        self.w[S_GENERATION].store(generation, Relaxed);
    }

    /// 0 = free; `u64::MAX` while claimed but not yet forked.
    pub fn pid(&self) -> u32 {
        match self.w[S_PID].load(Acquire) {
            u64::MAX => 0,
            p => p as u32,
        }
    }
    pub fn set_pid(&self, pid: u32) {
        self.w[S_PID].store(pid as u64, Release);
    }
    /// Frees the slot (after the master reaped its worker).
    pub fn release(&self) {
        self.w[S_PID].store(0, Release);
    }
    /// The worker's state: as it reports it when attached, else as the master last observed
    /// it from outside ([`Slot::set_observed_state`]).
    pub fn state(&self) -> State {
        if self.attached() {
            State::from_word(self.w[S_STATE].load(Acquire))
        } else {
            State::from_word(self.w[S_PROBED].load(Acquire))
        }
    }
    /// Master side, for workers that do not report themselves (unmodified programs).
    pub fn set_observed_state(&self, s: State) {
        self.w[S_PROBED].store(s as u64, Release);
    }
    pub fn set_state(&self, s: State) {
        self.w[S_STATE].store(s as u64, Release);
    }
    pub fn flags(&self) -> u64 {
        self.w[S_FLAGS].load(Acquire)
    }
    pub fn request_exit(&self) {
        self.w[S_FLAGS].fetch_or(FLAG_EXIT, AcqRel);
    }
    pub fn exit_requested(&self) -> bool {
        self.flags() & FLAG_EXIT != 0
    }
    pub fn set_attached(&self) {
        self.w[S_FLAGS].fetch_or(FLAG_ATTACHED, AcqRel);
    }
    pub fn attached(&self) -> bool {
        self.flags() & FLAG_ATTACHED != 0
    }
    pub fn requests(&self) -> u64 {
        self.w[S_REQUESTS].load(Relaxed)
    }
    pub fn max_requests(&self) -> u64 {
        self.w[S_MAX_REQUESTS].load(Relaxed)
    }
    pub fn generation(&self) -> u64 {
        self.w[S_GENERATION].load(Relaxed)
    }
    /// Start of the request in progress (µs since the epoch), or `None` when idle.
    pub fn busy_since(&self) -> Option<u64> {
        if self.state() == State::Idle {
            return None;
        }
        match self.w[S_REQ_START_US].load(Acquire) {
            0 => None,
            t => Some(t),
        }
    }

    /// Worker side: a request was accepted and its params read.
    pub fn request_started(&self, r: &RequestInfo<'_>, now_us: u64) {
        let seq = self.w[S_SEQ].load(Relaxed);
        self.w[S_SEQ].store(seq.wrapping_add(1) | 1, Relaxed);
        fence(Release);
        let lens = store_bytes(&self.w[S_METHOD..S_METHOD + METHOD_WORDS], r.method) as u64
            | (store_bytes(&self.w[S_URI..S_URI + URI_WORDS], r.uri) as u64) << 16
            | (store_bytes(&self.w[S_SCRIPT..S_SCRIPT + SCRIPT_WORDS], r.script) as u64) << 32
            | (store_bytes(&self.w[S_USER..S_USER + USER_WORDS], r.user) as u64) << 48;
        self.w[S_LENS].store(lens, Relaxed);
        self.w[S_CONTENT_LENGTH].store(r.content_length, Relaxed);
        self.w[S_REQ_START_US].store(now_us.max(1), Relaxed);
        self.w[S_REQ_DURATION_US].store(0, Relaxed);
        self.w[S_LAST_CPU].store(0, Relaxed);
        self.w[S_LAST_MEM].store(0, Relaxed);
        self.w[S_SEQ].store((seq.wrapping_add(1) | 1).wrapping_add(1), Release);
        self.set_state(State::Running);
    }

    /// Worker side: the response is complete. `cpu_percent_x100` and `memory` describe it.
    pub fn request_finished(&self, now_us: u64, cpu_percent_x100: u64, memory: u64) {
        let start = self.w[S_REQ_START_US].load(Relaxed);
        self.w[S_REQ_DURATION_US].store(now_us.saturating_sub(start).max(1), Relaxed);
        self.w[S_LAST_CPU].store(cpu_percent_x100, Relaxed);
        self.w[S_LAST_MEM].store(memory, Relaxed);
        self.w[S_REQUESTS].fetch_add(1, Relaxed);
        self.set_state(State::Idle);
    }

    /// The strings of the current (or last) request, never torn.
    pub fn strings(&self) -> (String, String, String, String, u64, u64) {
        for _ in 0..1000 {
            let s1 = self.w[S_SEQ].load(Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let lens = self.w[S_LENS].load(Relaxed);
            let m = load_bytes(&self.w[S_METHOD..S_METHOD + METHOD_WORDS], lens as u16);
            let u = load_bytes(&self.w[S_URI..S_URI + URI_WORDS], (lens >> 16) as u16);
            let sc = load_bytes(
                &self.w[S_SCRIPT..S_SCRIPT + SCRIPT_WORDS],
                (lens >> 32) as u16,
            );
            let us = load_bytes(&self.w[S_USER..S_USER + USER_WORDS], (lens >> 48) as u16);
            let cl = self.w[S_CONTENT_LENGTH].load(Relaxed);
            let start = self.w[S_REQ_START_US].load(Relaxed);
            fence(Acquire);
            if self.w[S_SEQ].load(Relaxed) == s1 {
                return (m, u, sc, us, cl, start);
            }
        }
        Default::default()
    }

    fn status(&self, now_us: u64) -> ProcStatus {
        let state = self.state();
        let (method, uri, script, user, content_length, start) = self.strings();
        let duration = if state == State::Idle || start == 0 {
            self.w[S_REQ_DURATION_US].load(Relaxed)
        } else {
            now_us.saturating_sub(start)
        };
        let pstart = self.w[S_START_US].load(Relaxed) / 1_000_000;
        let dash = |s: String| if s.is_empty() { "-".to_string() } else { s };
        ProcStatus {
            pid: self.pid(),
            state,
            start_time: pstart,
            start_since: (now_us / 1_000_000).saturating_sub(pstart),
            requests: self.requests(),
            request_duration: duration,
            request_method: dash(method),
            request_uri: dash(uri),
            content_length,
            user: dash(user),
            script: dash(script),
            last_request_cpu_x100: self.w[S_LAST_CPU].load(Relaxed),
            last_request_memory: self.w[S_LAST_MEM].load(Relaxed),
        }
    }
}

/// Stores `s` (cut to fit, at a character boundary) into `w`; returns the stored length.
fn store_bytes(w: &[AtomicU64], s: &str) -> usize {
    let mut n = s.len().min(w.len() * 8);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    let b = &s.as_bytes()[..n];
    for (i, word) in w.iter().enumerate().take(n.div_ceil(8)) {
        let mut buf = [0u8; 8];
        let chunk = &b[i * 8..(i * 8 + 8).min(n)];
        buf[..chunk.len()].copy_from_slice(chunk);
        word.store(u64::from_le_bytes(buf), Relaxed);
    }
    n
}

fn load_bytes(w: &[AtomicU64], len: u16) -> String {
    let len = (len as usize).min(w.len() * 8);
    let mut out = Vec::with_capacity(len);
    for word in w.iter().take(len.div_ceil(8)) {
        out.extend_from_slice(&word.load(Relaxed).to_le_bytes());
    }
    out.truncate(len);
    String::from_utf8_lossy(&out).into_owned()
}

fn store_str(w: &[AtomicU64], s: &str) {
    let n = store_bytes(&w[1..], s);
    w[0].store(n as u64, Relaxed);
}

fn load_str(w: &[AtomicU64]) -> String {
    load_bytes(&w[1..], w[0].load(Relaxed) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_counters() {
        let sb = Scoreboard::create("www", PmMode::Dynamic, 4).unwrap();
        assert_eq!(sb.pool_name(), "www");
        let a = sb.claim(100, 1).unwrap();
        let b = sb.claim(0, 1).unwrap();
        assert_ne!(a, b);
        sb.slot(a).set_pid(1234);
        sb.slot(b).set_pid(1235);
        sb.slot(a).set_attached();
        sb.slot(b).set_attached();
        let s = sb.slot(a);
        assert_eq!(s.max_requests(), 100);
        s.request_started(
            &RequestInfo {
                method: "GET",
                uri: "/x?y=1",
                script: "/srv/x",
                user: "",
                content_length: 7,
            },
            1_000_000,
        );
        sb.add_accepted();
        sb.note_active();
        let snap = sb.snapshot(1_500_000);
        assert_eq!(snap.process_manager, "dynamic");
        assert_eq!(
            (
                snap.total_processes,
                snap.active_processes,
                snap.idle_processes
            ),
            (2, 1, 1)
        );
        assert_eq!((snap.accepted_conn, snap.max_active_processes), (1, 1));
        let p = snap.processes.iter().find(|p| p.pid == 1234).unwrap();
        assert_eq!(p.state, State::Running);
        assert_eq!(
            (p.request_method.as_str(), p.request_uri.as_str()),
            ("GET", "/x?y=1")
        );
        assert_eq!(
            (p.script.as_str(), p.user.as_str(), p.content_length),
            ("/srv/x", "-", 7)
        );
        assert_eq!(p.request_duration, 500_000);
        s.request_finished(1_250_000, 150, 4096);
        let snap = sb.snapshot(9_000_000);
        let p = snap.processes.iter().find(|p| p.pid == 1234).unwrap();
        assert_eq!(
            (p.state, p.requests, p.request_duration),
            (State::Idle, 1, 250_000)
        );
        assert_eq!(
            (p.last_request_cpu_x100, p.last_request_memory),
            (150, 4096)
        );
        assert_eq!(
            p.request_uri, "/x?y=1",
            "an idle worker shows its last request"
        );
        sb.slot(b).request_exit();
        assert!(sb.slot(b).exit_requested() && !sb.slot(a).exit_requested());
        sb.slot(b).release();
        assert_eq!(sb.snapshot(9_000_000).total_processes, 1);
        // A worker that does not report itself shows what the master observed.
        let c = sb.claim(0, 1).unwrap();
        sb.slot(c).set_pid(1236);
        sb.slot(c).set_observed_state(State::Running);
        sb.slot(c).set_state(State::Idle); // ignored: not attached
        assert_eq!(sb.slot(c).state(), State::Running);
        sb.slot(c).release();
        // all slots: a, plus three more
        assert!(sb.claim(0, 1).is_some() && sb.claim(0, 1).is_some() && sb.claim(0, 1).is_some());
        assert!(sb.claim(0, 1).is_none());
    }

    #[test]
    fn long_and_multibyte_strings_are_cut_at_char_boundaries() {
        let sb = Scoreboard::create("p", PmMode::Static, 1).unwrap();
        let s = sb.slot(sb.claim(0, 0).unwrap());
        let uri = format!("/{}", "é".repeat(400));
        s.request_started(
            &RequestInfo {
                method: "POST",
                uri: &uri,
                ..Default::default()
            },
            1,
        );
        let (m, u, ..) = s.strings();
        assert_eq!(m, "POST");
        assert!(u.len() <= MAX_URI && uri.starts_with(&u) && u.len() > 500);
    }

    #[test]
    fn shared_across_fork_and_readers_never_see_torn_strings() {
        let sb = Scoreboard::create("p", PmMode::Static, 1).unwrap();
        let i = sb.claim(0, 0).unwrap();
        let a = format!("/{}", "a".repeat(300));
        let b = format!("/{}", "b".repeat(100));
        match crate::sys::process::fork().unwrap() {
            crate::sys::process::Fork::Child => {
                let s = sb.slot(i);
                for k in 0..20000 {
                    let uri = if k % 2 == 0 { &a } else { &b };
                    s.request_started(
                        &RequestInfo {
                            method: "GET",
                            uri,
                            ..Default::default()
                        },
                        5,
                    );
                    s.request_finished(6, 0, 0);
                }
                crate::sys::process::exit_now(0);
            }
            crate::sys::process::Fork::Parent(pid) => {
                let s = sb.slot(i);
                let mut seen = 0;
                while s.requests() < 20000 {
                    let (_, u, ..) = s.strings();
                    assert!(u.is_empty() || u == a || u == b, "torn: {u}");
                    seen += 1;
                }
                assert!(seen > 0);
                let mut status = 0;
                // reap
                while crate::sys::process::reap_any().map(|(p, _)| p) != Some(pid) {
                    status += 1;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    assert!(status < 5000);
                }
                assert_eq!(
                    s.requests(),
                    20000,
                    "the child's writes are visible to the parent"
                );
            }
        }
    }
}
