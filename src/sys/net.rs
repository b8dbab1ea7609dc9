//! Socket, epoll, eventfd and signal calls for the connection and server layers.

use std::io::{self, IoSlice};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

/// Retries `f` while it fails with EINTR; maps -1 to the OS error.
fn retry<F: FnMut() -> isize>(mut f: F) -> io::Result<usize> {
    loop {
        let r = f();
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `recv`, non-blocking for this call only when `wait` is false.
pub fn recv(fd: RawFd, buf: &mut [u8], wait: bool) -> io::Result<usize> {
    let flags = if wait { 0 } else { libc::MSG_DONTWAIT };
    // SAFETY: buf is a valid writable region of buf.len() bytes for the duration of the call.
    let r = retry(|| unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) });
    match r {
        // Not a socket (a pipe handed over by a test or an old spawner): plain read.
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => {
            // SAFETY: as above.
            retry(|| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
        }
        r => r,
    }
}

/// `sendmsg` with MSG_NOSIGNAL (a closed peer is EPIPE, never SIGPIPE); `writev` for
/// descriptors that are not sockets.
pub fn send_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let iovcnt = bufs.len().min(libc::UIO_MAXIOV as usize);
    // SAFETY: msghdr is plain data; zeroed is a valid "no name, no control" header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is ABI-compatible with iovec (guaranteed by std on Unix).
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iovcnt;
    // SAFETY: msg points at iovcnt valid iovecs borrowed for the duration of the call.
    let r = retry(|| unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) });
    match r {
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => {
            // SAFETY: same iovec array, same lifetime.
            retry(|| unsafe { libc::writev(fd, bufs.as_ptr().cast(), iovcnt as i32) })
        }
        r => r,
    }
}

/// The address of a connected peer, for filtering and log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Unix,
    Inet(SocketAddr),
    Other,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Unix => f.write_str("unix peer"),
            Peer::Inet(a) => write!(f, "{a}"),
            Peer::Other => f.write_str("peer"),
        }
    }
}

fn peer_from(storage: &libc::sockaddr_storage) -> Peer {
    match storage.ss_family as i32 {
        libc::AF_UNIX => Peer::Unix,
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Peer::Inet(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Peer::Inet(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                0,
                a.sin6_scope_id,
            )))
        }
        _ => Peer::Other,
    }
}

/// `accept4` with close-on-exec: the connection never leaks into programs the application
/// starts (fcgiwrap's CGI children, for one). The new socket is blocking.
pub fn accept(listen: RawFd) -> io::Result<(OwnedFd, Peer)> {
    // SAFETY: zeroed sockaddr_storage is valid; len tells accept4 its size.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage/len are valid for writing; listen is a descriptor number (a bad one
    // is an error return, not undefined behaviour).
    let fd = retry(|| unsafe {
        libc::accept4(
            listen,
            &mut storage as *mut _ as *mut libc::sockaddr,
            &mut len,
            libc::SOCK_CLOEXEC,
        ) as isize
    })?;
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    Ok((fd, peer_from(&storage)))
}

/// libfcgi's FastCGI test: `getpeername` fails with ENOTCONN exactly when `fd` is a
/// listening (never connected) socket.
#[cfg_attr(not(feature = "capi"), allow(dead_code))]
pub fn is_unconnected_socket(fd: RawFd) -> bool {
    // SAFETY: as in peer_of.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage/len valid for writing.
    let r =
        unsafe { libc::getpeername(fd, &mut storage as *mut _ as *mut libc::sockaddr, &mut len) };
    r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOTCONN)
}

fn sockopt_int(fd: RawFd, level: i32, name: i32) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v/len are valid for writing an int option.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            &mut v as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    if r == 0 {
        Ok(v)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The socket's address family (`AF_UNIX`, `AF_INET`, `AF_INET6`), or an error for a
/// descriptor that is not a socket.
pub fn socket_domain(fd: RawFd) -> io::Result<i32> {
    sockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)
}

pub fn is_listening(fd: RawFd) -> bool {
    matches!(
        sockopt_int(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN),
        Ok(1)
    )
}

pub fn set_nodelay(fd: RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: a valid int option value; failure is harmless (the option is an optimisation).
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &one as *const _ as *const libc::c_void,
            4,
        );
    }
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor number; errors are reported, not undefined.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK != 0 {
        return Ok(());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Closes `fd` after letting the peer read everything: no more writes from us, then wait
/// (at most `timeout`) for the peer to close while discarding what it still sends. Used
/// only when unread input may remain, where a plain close could reset the connection.
pub fn lingering_close(fd: OwnedFd, timeout: Duration) {
    let raw = fd.as_raw_fd();
    // SAFETY: shutdown on our own descriptor.
    unsafe { libc::shutdown(raw, libc::SHUT_WR) };
    let deadline = std::time::Instant::now() + timeout;
    let mut sink = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let mut pfd = libc::pollfd {
            fd: raw,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if r <= 0 && !(r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted) {
            break;
        }
        match recv(raw, &mut sink, false) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        }
    }
    drop(fd);
}

/// An epoll instance.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

pub const EV_IN: u32 = libc::EPOLLIN as u32;
pub const EV_EDGE: u32 = libc::EPOLLET as u32;
pub const EV_RDHUP: u32 = libc::EPOLLRDHUP as u32;

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor we own.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn add(&self, fd: RawFd, token: u64, events: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: ev is a valid epoll_event for the call.
        if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn delete(&self, fd: RawFd) {
        // SAFETY: a null event is allowed for EPOLL_CTL_DEL since Linux 2.6.9.
        unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    /// Waits for at most `max` events (and at most [`EVENT_BATCH`]) into `batch`; 0 on
    /// timeout. EINTR is returned, not retried: it is how a shutdown signal reaches a waiting
    /// thread.
    pub fn wait(&self, batch: &mut EventBatch, max: usize, timeout_ms: i32) -> io::Result<usize> {
        let max = max.clamp(1, EVENT_BATCH);
        // SAFETY: `batch.events` has room for EVENT_BATCH >= max events.
        let r = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                batch.events.as_mut_ptr(),
                max as i32,
                timeout_ms,
            )
        };
        if r < 0 {
            batch.len = 0;
            return Err(io::Error::last_os_error());
        }
        batch.len = r as usize;
        Ok(batch.len)
    }
}

/// The most events one [`Epoll::wait`] returns.
pub const EVENT_BATCH: usize = 64;

/// The events of one [`Epoll::wait`], kept on the caller's stack (no allocation).
pub struct EventBatch {
    events: [libc::epoll_event; EVENT_BATCH],
    len: usize,
}

impl Default for EventBatch {
    fn default() -> Self {
        EventBatch {
            events: [libc::epoll_event { events: 0, u64: 0 }; EVENT_BATCH],
            len: 0,
        }
    }
}

impl EventBatch {
    /// How many events the last wait returned.
    pub fn count(&self) -> usize {
        self.len
    }

    /// The tokens of the events the last wait returned.
    pub fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.events[..self.len].iter().map(|e| e.u64)
    }
}

// ----- shutdown signals ---------------------------------------------------------------------

static SHUTDOWN: AtomicBool = AtomicBool::new(false);
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// The eventfd that becomes readable (and stays readable) once shutdown is requested, so
/// every thread waiting in any accept engine wakes up.
pub fn wake_fd() -> RawFd {
    let fd = WAKE_FD.load(Ordering::Acquire);
    if fd >= 0 {
        return fd;
    }
    // SAFETY: plain syscall.
    let new = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    match WAKE_FD.compare_exchange(-1, new, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            if SHUTDOWN.load(Ordering::Acquire) {
                signal_wake();
            }
            new
        }
        Err(existing) => {
            // SAFETY: our own unused descriptor.
            unsafe { libc::close(new) };
            existing
        }
    }
}

fn signal_wake() {
    let fd = WAKE_FD.load(Ordering::Acquire);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: write(2) is async-signal-safe; 8 bytes from a valid u64.
        unsafe { libc::write(fd, &one as *const u64 as *const libc::c_void, 8) };
    }
}

/// Async-signal-safe: marks shutdown and wakes waiting threads.
pub fn request_shutdown() {
    SHUTDOWN.store(true, Ordering::Release);
    signal_wake();
}

pub fn shutdown_requested() -> bool {
    SHUTDOWN.load(Ordering::Acquire)
}

extern "C" fn on_shutdown_signal(_: libc::c_int) {
    let saved = io::Error::last_os_error().raw_os_error().unwrap_or(0);
    request_shutdown();
    crate::sys::set_errno(saved);
}

extern "C" fn on_sigpipe(_: libc::c_int) {}

/// Installs libfcgi's signal behaviour: SIGUSR1 and SIGTERM request a graceful stop, SIGPIPE
/// is caught by a no-op handler (so a closed peer is EPIPE; unlike SIG_IGN, a handler does
/// not survive `exec`, so programs the application starts get the default back). Each is
/// installed only where the application left the default (for SIGUSR1/SIGTERM also where it
/// ignores them, as libfcgi). SA_RESTART, so the application's own blocking calls are not
/// cut short by these signals (libfcgi installs them without, and loses request bodies).
pub fn install_signal_handlers() {
    let install = |sig: i32, handler: extern "C" fn(libc::c_int), replace_ignore: bool| {
        // SAFETY: sigaction with a null new action only reads the current disposition.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                return;
            }
            let current = old.sa_sigaction;
            if current != libc::SIG_DFL && !(replace_ignore && current == libc::SIG_IGN) {
                return;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = handler as usize;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    };
    wake_fd();
    install(libc::SIGUSR1, on_shutdown_signal, true);
    install(libc::SIGTERM, on_shutdown_signal, true);
    install(libc::SIGPIPE, on_sigpipe, false);
}

/// systemd socket activation for programs that expect the listen socket on fd 0 (libfcgi's
/// convention): when `LISTEN_PID` is this process and `LISTEN_FDS` names a listening socket
/// at fd 3 while fd 0 is not one, fd 3 is duplicated onto fd 0 (what `StandardInput=socket`
/// would have done) and the variables are removed so children do not misread them.
/// Returns whether it did.
#[cfg_attr(not(feature = "capi"), allow(dead_code))]
pub fn adopt_systemd_socket() -> bool {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        == Some(std::process::id());
    let fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if !pid_ok || fds == 0 || !is_listening(3) || is_listening(0) {
        return false;
    }
    // SAFETY: dup2 onto fd 0 replaces whatever stdin was (not a listening socket, checked).
    if unsafe { libc::dup2(3, 0) } != 0 {
        return false;
    }
    for v in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(v);
    }
    true
}

/// A non-blocking eventfd in semaphore mode: each read takes one unit.
pub fn semaphore_eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall.
    let fd = unsafe {
        libc::eventfd(
            0,
            libc::EFD_CLOEXEC | libc::EFD_NONBLOCK | libc::EFD_SEMAPHORE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds `n` units to an eventfd.
pub fn eventfd_post(fd: RawFd, n: u64) {
    // SAFETY: 8 bytes from a valid u64.
    unsafe { libc::write(fd, &n as *const u64 as *const libc::c_void, 8) };
}

/// Takes one unit from a semaphore eventfd (nothing happens when it has none).
pub fn eventfd_take(fd: RawFd) {
    let mut v: u64 = 0;
    // SAFETY: 8 writable bytes.
    unsafe { libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
}

/// Sets SO_RCVTIMEO: a blocking receive gives up with EAGAIN after `d`.
pub fn set_recv_timeout(fd: RawFd, d: Duration) {
    let tv = libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: a valid timeval for the option; failure leaves reads unbounded, which is safe.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
}

/// Waits until `fd` is readable (or has an error or hang-up), retrying on EINTR.
pub fn wait_readable(fd: RawFd) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    while unsafe { libc::poll(&mut pfd, 1, -1) } < 0
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
}
