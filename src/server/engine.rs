//! The accept engine: one per listen socket, shared by every thread that accepts on it.
//!
//! It watches the listen socket and every idle kept-alive connection in one epoll set and
//! hands the calling thread whichever produces a complete request head first. A thread never
//! blocks on one idle connection while others wait (libfcgi does, and stalls behind nginx's
//! `fastcgi_keep_conn on`), and no lock is held while waiting.
//!
//! Idle connections are registered edge-triggered, once for their lifetime. A connection in
//! service stays registered; an event for it marks its slot `pending`, and the thread that
//! returns the connection sees the mark and looks at it again, so no arrival is lost and
//! no thread spins on a connection it does not own.

use super::addrs::WebServerAddrs;
use crate::conn::{ConnError, Connection, Fate, Transport};
use crate::limits::Limits;
use crate::protocol::GetValuesAnswer;
use crate::sys::net::{self, Epoll, Peer};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A connected socket as a [`Transport`]. `None` once closed (the object is recycled).
#[derive(Debug, Default)]
pub struct SocketIo {
    fd: Option<OwnedFd>,
}

impl SocketIo {
    pub fn new(fd: OwnedFd) -> Self {
        SocketIo { fd: Some(fd) }
    }

    /// The descriptor number, or -1 once closed.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, |f| f.as_raw_fd())
    }

    /// Takes the descriptor out (the transport is closed from then on).
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        self.fd.take()
    }
}

impl Transport for SocketIo {
    fn recv(&mut self, buf: &mut [u8], wait: bool) -> io::Result<usize> {
        loop {
            match net::recv(self.raw_fd(), buf, wait) {
                // A waiting read only ends with EAGAIN when the direct-read timeout (see
                // `AcceptEngine::accept`) is set on the socket; a request body read waits on.
                Err(e) if wait && e.kind() == io::ErrorKind::WouldBlock => {
                    net::wait_readable(self.raw_fd())
                }
                r => return r,
            }
        }
    }
    fn recv_bounded(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        net::recv(self.raw_fd(), buf, true)
    }
    fn send_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        net::send_vectored(self.raw_fd(), bufs)
    }
}

/// A connection as the engine hands it out: the state machine plus the engine's bookkeeping.
#[derive(Debug)]
pub struct Served {
    pub conn: Connection<SocketIo>,
    slot: Option<u32>,
    peer: Peer,
    /// SO_RCVTIMEO is set for direct reads.
    direct_timeout: bool,
}

impl Served {
    pub fn peer(&self) -> Peer {
        self.peer
    }
    pub fn raw_fd(&self) -> RawFd {
        self.conn.transport().raw_fd()
    }
}

/// Why `accept` returned without a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptError {
    /// SIGUSR1/SIGTERM (or `FCGX_ShutdownPending`) asked for a graceful stop.
    Shutdown,
    /// A signal interrupted the wait and the caller asked to see that (`FCGI_FAIL_ACCEPT_ON_INTR`).
    Interrupted,
    /// The listen socket failed (`errno`).
    Os(i32),
}

const TOKEN_LISTEN: u64 = 0;
const TOKEN_WAKE: u64 = 1;
const TOKEN_KICK: u64 = 2;
const TOKEN_FIRST_SLOT: u64 = 3;
/// How long a direct read (see `AcceptEngine::accept`) waits before the connection goes back
/// to the event loop.
pub const DIRECT_WAIT: Duration = Duration::from_millis(1);
/// In direct mode the event loop still runs once every this many requests.
const DIRECT_LISTEN_EVERY: u32 = 16;
/// How long a draining engine waits for another request on the connections it holds.
pub const DRAIN_QUIET: Duration = Duration::from_millis(100);
/// Recycled connection objects kept for reuse (their buffers are the expensive part).
const SPARE_MAX: usize = 64;

#[derive(Debug)]
enum Slot {
    Free,
    Idle(Box<Served>, Instant),
    Busy { pending: bool },
}

/// Connections stay boxed everywhere: a `Box<Served>` moves between threads, slots and the
/// C layer as one pointer, and its buffers never move.
#[derive(Debug)]
#[allow(clippy::vec_box)]
struct EngineState {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Connections whose next request head is already complete (pipelined requests).
    ready: VecDeque<Box<Served>>,
    spare: Vec<Box<Served>>,
    open: usize,
    next_sweep: Instant,
    /// The only open connection, kept out of the event loop while it is busy (see `accept`).
    direct: Option<Box<Served>>,
    direct_reads: u32,
    /// Events taken by one wait and not handled yet (see `accept`).
    events: VecDeque<u64>,
}

impl EngineState {
    fn alloc_slot(&mut self) -> u32 {
        if let Some(i) = self.free.pop() {
            return i;
        }
        self.slots.push(Slot::Free);
        (self.slots.len() - 1) as u32
    }

    fn idle_count(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Idle(..)))
            .count()
    }
}

#[derive(Debug)]
pub struct AcceptEngine {
    listen_fd: RawFd,
    epoll: Epoll,
    state: Mutex<EngineState>,
    limits: Limits,
    addrs: Option<WebServerAddrs>,
    workers: AtomicU32,
    draining: AtomicBool,
    /// Wakes the threads waiting in this engine when it starts draining: one unit each.
    kick: OwnedFd,
    /// Threads inside `accept` now.
    in_accept: AtomicU32,
}

impl AcceptEngine {
    /// An engine for `listen_fd` (which stays owned by the program: the engine never closes
    /// it). Fails with ENOTSOCK when it is not a socket, as libfcgi's accept does.
    pub fn new(
        listen_fd: RawFd,
        limits: Limits,
        addrs: Option<WebServerAddrs>,
    ) -> io::Result<AcceptEngine> {
        net::socket_domain(listen_fd)?;
        net::set_nonblocking(listen_fd)?;
        let epoll = Epoll::new()?;
        epoll.add(listen_fd, TOKEN_LISTEN, net::EV_IN)?;
        epoll.add(net::wake_fd(), TOKEN_WAKE, net::EV_IN)?;
        let kick = net::semaphore_eventfd()?;
        epoll.add(kick.as_raw_fd(), TOKEN_KICK, net::EV_IN)?;
        Ok(AcceptEngine {
            listen_fd,
            epoll,
            state: Mutex::new(EngineState {
                slots: Vec::new(),
                free: Vec::new(),
                ready: VecDeque::new(),
                spare: Vec::new(),
                open: 0,
                next_sweep: Instant::now(),
                direct: None,
                direct_reads: 0,
                events: VecDeque::with_capacity(net::EVENT_BATCH),
            }),
            limits,
            addrs,
            workers: AtomicU32::new(0),
            draining: AtomicBool::new(false),
            kick,
            in_accept: AtomicU32::new(0),
        })
    }

    pub fn listen_fd(&self) -> RawFd {
        self.listen_fd
    }

    /// Counts a request object (thread) accepting on this engine: FCGI_MAX_REQS reports how
    /// many requests this process can serve at once.
    pub fn register_worker(&self) {
        self.workers.fetch_add(1, Ordering::Relaxed);
    }

    pub fn unregister_worker(&self) {
        let _ = self
            .workers
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| w.checked_sub(1));
    }

    fn answer(&self) -> GetValuesAnswer {
        GetValuesAnswer {
            max_conns: self.limits.max_conns.min(u32::MAX as usize) as u32,
            max_reqs: self.workers.load(Ordering::Relaxed).max(1),
            mpxs_conns: false,
        }
    }

    /// Waits for the next complete request head on any connection of this listen socket.
    ///
    /// Once a stop is requested (SIGTERM/SIGUSR1, [`AcceptEngine::begin_drain`]) it drains:
    /// no new connection is accepted, but requests the web server has already sent (or sends
    /// within [`DRAIN_QUIET`]) on connections this engine holds are still served, so a stopping
    /// worker does not reset kept-alive connections that carry a request. It returns
    /// `Shutdown` after a quiet period with nothing to serve.
    pub fn accept(&self, fail_on_intr: bool) -> Result<Box<Served>, AcceptError> {
        self.in_accept.fetch_add(1, Ordering::AcqRel);
        let r = self.accept_inner(fail_on_intr);
        self.in_accept.fetch_sub(1, Ordering::AcqRel);
        r
    }

    fn accept_inner(&self, fail_on_intr: bool) -> Result<Box<Served>, AcceptError> {
        loop {
            if net::shutdown_requested() {
                self.begin_drain();
            }
            let draining = self.draining.load(Ordering::Acquire);
            let timeout = {
                let mut st = self.state.lock();
                if let Some(s) = st.ready.pop_front() {
                    return Ok(s);
                }
                if let Some(token) = st.events.pop_front() {
                    drop(st);
                    match self.take_event(token)? {
                        Some(ready) => return Ok(ready),
                        None => continue,
                    }
                }
                if let Some(s) = st.direct.take() {
                    st.direct_reads = st.direct_reads.wrapping_add(1);
                    let check_listener = st.direct_reads % DIRECT_LISTEN_EVERY == 0;
                    drop(st);
                    if draining || check_listener {
                        // Back to the event loop, which also watches the listen socket.
                        if let Some(s) = self.park(s) {
                            if let Some(ready) = self.advance(s) {
                                return Ok(ready);
                            }
                        }
                        continue;
                    }
                    match self.read_direct(s) {
                        Some(ready) => return Ok(ready),
                        None => continue,
                    }
                }
                if draining && st.open == 0 {
                    return Err(AcceptError::Shutdown);
                }
                let t = self.sweep_idle(&mut st);
                if draining {
                    DRAIN_QUIET.as_millis() as i32
                } else {
                    t
                }
            };
            // A single accepting thread takes every ready event with one wait and then serves
            // them one by one, reading each request just before serving it (so each answer
            // leaves as early as with one event per wait). With more threads each takes one
            // event, so no thread holds events another, idle thread could serve.
            let max = if self.workers.load(Ordering::Relaxed) <= 1 {
                net::EVENT_BATCH
            } else {
                1
            };
            let mut batch = net::EventBatch::default();
            match self.epoll.wait(&mut batch, max, timeout) {
                Ok(0) if draining => return Err(AcceptError::Shutdown),
                Ok(0) => continue,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    if fail_on_intr && !net::shutdown_requested() {
                        return Err(AcceptError::Interrupted);
                    }
                    continue;
                }
                Err(e) => return Err(AcceptError::Os(e.raw_os_error().unwrap_or(libc::EIO))),
            }
            // Connections are edge-triggered: an event not kept here would not come back.
            let mut tokens = batch.tokens();
            let first = tokens.next();
            if batch.count() > 1 {
                self.state.lock().events.extend(tokens);
            }
            if let Some(token) = first {
                if let Some(ready) = self.take_event(token)? {
                    return Ok(ready);
                }
            }
        }
    }

    /// Handles one event: a new connection, or bytes on an idle one. Returns the connection
    /// when its request head is complete.
    fn take_event(&self, token: u64) -> Result<Option<Box<Served>>, AcceptError> {
        let served = match token {
            TOKEN_WAKE => return Ok(None),
            TOKEN_KICK => {
                net::eventfd_take(self.kick.as_raw_fd());
                return Ok(None);
            }
            // Taken before a drain began: no new connection once draining.
            TOKEN_LISTEN if self.draining.load(Ordering::Acquire) => return Ok(None),
            TOKEN_LISTEN => {
                return Ok(match self.accept_new()? {
                    Some(s) => self.advance_with(s, true),
                    None => None,
                })
            }
            t => match self.take_idle((t - TOKEN_FIRST_SLOT) as usize) {
                Some(s) => s,
                None => return Ok(None),
            },
        };
        Ok(self.advance(served))
    }

    /// Stops taking new connections on this engine (other processes sharing the listen socket
    /// go on accepting); see [`AcceptEngine::accept`].
    pub fn begin_drain(&self) {
        if !self.draining.swap(true, Ordering::AcqRel) {
            self.epoll.delete(self.listen_fd);
            // The process-wide wake descriptor stays readable once shutdown is requested and
            // would spin a draining wait; the threads waiting here are woken by the kick,
            // one unit each, and then wait with the drain timeout.
            self.epoll.delete(net::wake_fd());
            net::eventfd_post(
                self.kick.as_raw_fd(),
                self.in_accept.load(Ordering::Acquire).max(1) as u64,
            );
        }
    }

    /// Accepts one connection from the (non-blocking) listen socket.
    fn accept_new(&self) -> Result<Option<Box<Served>>, AcceptError> {
        let (fd, peer) = match net::accept(self.listen_fd) {
            Ok(c) => c,
            Err(e) => {
                return match e.raw_os_error() {
                    Some(libc::EAGAIN)
                    | Some(libc::ECONNABORTED)
                    | Some(libc::EPROTO)
                    | Some(libc::ECONNRESET)
                    | Some(libc::ETIMEDOUT)
                    | Some(libc::EHOSTUNREACH)
                    | Some(libc::ENETUNREACH) => Ok(None),
                    Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS)
                    | Some(libc::ENOMEM) => {
                        crate::log::error(format_args!("accept: {e}; pausing 10 ms"));
                        std::thread::sleep(Duration::from_millis(10));
                        Ok(None)
                    }
                    other => Err(AcceptError::Os(other.unwrap_or(libc::EIO))),
                };
            }
        };
        if let Some(addrs) = &self.addrs {
            if !addrs.allows(&peer) {
                crate::log::warn(format_args!(
                    "connection from {peer} refused: not in FCGI_WEB_SERVER_ADDRS"
                ));
                return Ok(None);
            }
        }
        if let Peer::Inet(_) = peer {
            net::set_nodelay(fd.as_raw_fd());
        }
        let mut st = self.state.lock();
        if st.open >= self.limits.max_conns && !self.evict_oldest_idle(&mut st) {
            drop(st);
            crate::log::warn(format_args!(
                "connection from {peer} refused: max_conns ({}) reached",
                self.limits.max_conns
            ));
            return Ok(None);
        }
        st.open += 1;
        let spare = st.spare.pop();
        drop(st);
        let io = SocketIo::new(fd);
        let served = match spare {
            Some(mut s) => {
                s.conn.reuse(io, self.limits, self.answer());
                s.slot = None;
                s.peer = peer;
                s.direct_timeout = false;
                s
            }
            None => Box::new(Served {
                conn: Connection::new(io, self.limits, self.answer()),
                slot: None,
                peer,
                direct_timeout: false,
            }),
        };
        Ok(Some(served))
    }

    fn take_idle(&self, idx: usize) -> Option<Box<Served>> {
        let mut st = self.state.lock();
        let slot = st.slots.get_mut(idx)?;
        match std::mem::replace(slot, Slot::Busy { pending: false }) {
            Slot::Idle(s, _) => Some(s),
            Slot::Busy { .. } => {
                *slot = Slot::Busy { pending: true };
                None
            }
            Slot::Free => {
                *slot = Slot::Free;
                None
            }
        }
    }

    /// Reads what is there for this connection; returns it when its request head is
    /// complete, otherwise parks it (or closes it on error).
    fn advance(&self, s: Box<Served>) -> Option<Box<Served>> {
        self.advance_with(s, false)
    }

    /// [`AcceptEngine::advance`]; for a just-accepted connection (`fresh`) whose request has
    /// not fully arrived yet and that is the only one, the rest is read directly (as libfcgi's
    /// blocking read does) instead of registering it and waiting again through the event loop:
    /// one wakeup, by the socket.
    fn advance_with(&self, mut s: Box<Served>, fresh: bool) -> Option<Box<Served>> {
        loop {
            s.conn.set_answer(self.answer());
            match s.conn.read_head(false) {
                Ok(true) => return Some(s),
                Ok(false) if fresh && self.alone_now() => return self.read_direct(s),
                Ok(false) => s = self.park(s)?,
                Err(e) => {
                    self.log_conn_error(&s, &e);
                    self.close(s, false);
                    return None;
                }
            }
        }
    }

    /// Puts a connection that waits for bytes into its slot, registering it on first use.
    /// Returns it back when an event arrived while it was in service.
    fn park(&self, mut s: Box<Served>) -> Option<Box<Served>> {
        let now = Instant::now();
        let mut st = self.state.lock();
        match s.slot {
            None => {
                let idx = st.alloc_slot();
                s.slot = Some(idx);
                let fd = s.raw_fd();
                st.slots[idx as usize] = Slot::Idle(s, now);
                // Registered under the lock, so an immediate event finds the slot filled.
                let token = TOKEN_FIRST_SLOT + idx as u64;
                if let Err(e) = self
                    .epoll
                    .add(fd, token, net::EV_IN | net::EV_EDGE | net::EV_RDHUP)
                {
                    let Slot::Idle(s, _) = std::mem::replace(
                        &mut st.slots[idx as usize],
                        Slot::Busy { pending: false },
                    ) else {
                        unreachable!()
                    };
                    drop(st);
                    crate::log::error(format_args!("epoll registration failed: {e}"));
                    self.close(s, false);
                }
                None
            }
            Some(idx) => {
                let slot = &mut st.slots[idx as usize];
                if let Slot::Busy { pending: true } = slot {
                    *slot = Slot::Busy { pending: false };
                    return Some(s);
                }
                *slot = Slot::Idle(s, now);
                None
            }
        }
    }

    /// Whether direct mode applies: one accepting thread, one open connection, nothing else
    /// waiting to be handled, not draining.
    fn alone(&self, st: &EngineState) -> bool {
        st.open == 1
            && st.ready.is_empty()
            && st.direct.is_none()
            && st.events.is_empty()
            && self.workers.load(Ordering::Relaxed) <= 1
            && !self.draining.load(Ordering::Acquire)
    }

    /// [`AcceptEngine::alone`], taking the state lock for the question only.
    fn alone_now(&self) -> bool {
        self.alone(&self.state.lock())
    }

    /// Direct mode: with one accepting thread and a single open connection, the next request
    /// on that connection is read with a plain blocking `recv` bounded by [`DIRECT_WAIT`], so a
    /// busy kept-alive connection costs one read and one write per request instead of a wait,
    /// a read and a write. When the connection goes quiet it returns to the event loop, and
    /// every [`DIRECT_LISTEN_EVERY`] requests the event loop runs once anyway, so a new
    /// connection waits at most a few requests (or one `DIRECT_WAIT`).
    fn read_direct(&self, mut s: Box<Served>) -> Option<Box<Served>> {
        if !s.direct_timeout {
            net::set_recv_timeout(s.raw_fd(), DIRECT_WAIT);
            s.direct_timeout = true;
        }
        s.conn.set_answer(self.answer());
        match s.conn.read_head_bounded() {
            Ok(true) => Some(s),
            Ok(false) => self.park(s).and_then(|s| self.advance(s)),
            Err(e) => {
                self.log_conn_error(&s, &e);
                self.close(s, false);
                None
            }
        }
    }

    fn log_conn_error(&self, s: &Served, e: &ConnError) {
        match e {
            ConnError::Closed | ConnError::Done => {}
            ConnError::Io(io) if io.raw_os_error() == Some(libc::ECONNRESET) => {}
            _ => crate::log::warn(format_args!("{}: {e}; closing the connection", s.peer)),
        }
    }

    /// Takes back a connection after its request: kept for the next request, or closed.
    pub fn release(&self, s: Box<Served>, fate: Fate) {
        // A draining engine closes each connection once its request is answered (the web server
        // sees a clean close of an idle connection and stops using it).
        let fate = match fate {
            Fate::Keep if self.draining.load(Ordering::Acquire) => Fate::Close { linger: false },
            f => f,
        };
        match fate {
            Fate::Keep => {
                // A pipelined request may already be complete in the buffer.
                let ready = if s.conn.has_buffered_input() {
                    self.advance(s)
                } else {
                    let mut st = self.state.lock();
                    if self.alone(&st) {
                        st.direct = Some(s);
                        return;
                    }
                    drop(st);
                    self.park(s).and_then(|s| self.advance(s))
                };
                if let Some(s) = ready {
                    self.state.lock().ready.push_back(s);
                }
            }
            Fate::Close { linger } => self.close(s, linger),
        }
    }

    fn close(&self, mut s: Box<Served>, linger: bool) {
        let fd = s.conn.transport_mut().take_fd();
        let mut st = self.state.lock();
        if let Some(idx) = s.slot.take() {
            st.slots[idx as usize] = Slot::Free;
            st.free.push(idx);
            if let Some(fd) = &fd {
                // A forked child may hold a copy of the descriptor; deregister explicitly.
                self.epoll.delete(fd.as_raw_fd());
            }
        }
        st.open = st.open.saturating_sub(1);
        if st.spare.len() < SPARE_MAX {
            st.spare.push(s);
        }
        drop(st);
        if let Some(fd) = fd {
            if linger {
                net::lingering_close(fd, self.limits.linger_timeout);
            }
        }
    }

    fn evict_oldest_idle(&self, st: &mut EngineState) -> bool {
        let oldest = st
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                if let Slot::Idle(_, t) = s {
                    Some((i, *t))
                } else {
                    None
                }
            })
            .min_by_key(|(_, t)| *t);
        let Some((idx, _)) = oldest else { return false };
        self.close_slot_locked(st, idx);
        true
    }

    fn close_slot_locked(&self, st: &mut EngineState, idx: usize) {
        if let Slot::Idle(mut s, _) = std::mem::replace(&mut st.slots[idx], Slot::Free) {
            st.free.push(idx as u32);
            if let Some(fd) = s.conn.transport_mut().take_fd() {
                self.epoll.delete(fd.as_raw_fd());
            }
            st.open = st.open.saturating_sub(1);
            s.slot = None;
            if st.spare.len() < SPARE_MAX {
                st.spare.push(s);
            }
        }
    }

    /// Closes connections idle longer than `idle_timeout`; returns how long the next wait
    /// may last (-1: forever, when nothing is idle).
    fn sweep_idle(&self, st: &mut EngineState) -> i32 {
        let now = Instant::now();
        if now >= st.next_sweep {
            st.next_sweep = now + Duration::from_secs(1);
            let expired: Vec<usize> = st
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| match s {
                    Slot::Idle(_, since)
                        if now.duration_since(*since) >= self.limits.idle_timeout =>
                    {
                        Some(i)
                    }
                    _ => None,
                })
                .collect();
            for idx in expired {
                crate::log::info(format_args!(
                    "closing a connection idle for {:?}",
                    self.limits.idle_timeout
                ));
                self.close_slot_locked(st, idx);
            }
        }
        if st.idle_count() == 0 {
            -1
        } else {
            st.next_sweep
                .saturating_duration_since(now)
                .as_millis()
                .clamp(1, 1000) as i32
        }
    }
}

/// A descriptor the caller owns, as a [`Transport`] (for `FCGX_CreateWriter` streams).
#[derive(Debug, Clone, Copy)]
pub struct FdIo(pub RawFd);

impl Transport for FdIo {
    fn recv(&mut self, buf: &mut [u8], wait: bool) -> io::Result<usize> {
        net::recv(self.0, buf, wait)
    }
    fn send_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        net::send_vectored(self.0, bufs)
    }
}
