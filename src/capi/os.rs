//! The `OS_*` layer of libfcgi's `fcgios.h`: the 18 internal functions that libfcgi exports and
//! that Debian's `cgi-fcgi` (and a few other programs) call directly.
//!
//! Same signatures and the semantics callers rely on, with these deliberate differences:
//! - the asynchronous I/O table is serviced with `poll()`, not `select()`, so descriptors of
//!   any number work (libfcgi's `FD_SETSIZE` limit, CVE-2012-6687);
//! - nothing here calls `exit()`: address, `bind`, `listen`, `fork` and `poll` failures return
//!   -1 with `errno` set;
//! - `OS_Read`, `OS_Write` and `OS_Accept` retry `EINTR` (for `OS_Accept`, unless the caller
//!   asked to fail on it or a shutdown is pending);
//! - `OS_CreateLocalIpcFd` and `OS_FcgiConnect` also take `[v6addr]:port`;
//! - `OS_SpawnChild` gives the child `/dev/null` as fds 1 and 2 instead of closing them;
//! - `OS_Accept` does not hold idle Unix-socket connections to a 2-second first-byte timeout.
//!
//! Like libfcgi's, the asynchronous table is meant for one thread (cgi-fcgi's event loop); it is
//! nevertheless guarded by a lock, and completion procedures run without the lock held, so a
//! procedure may schedule the next operation.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::os::fd::{IntoRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use parking_lot::Mutex;
use socket2::{SockAddr, Socket, Type};

use crate::server::ListenAddr;

use crate::sys::set_errno;

/// `typedef void *ClientData;`
pub type ClientData = *mut c_void;
/// `typedef void (*OS_AsyncProc)(ClientData clientData, int len);`
pub type OS_AsyncProc = Option<unsafe extern "C" fn(ClientData, c_int)>;

const STDIN_FILENO: c_int = 0;

// ---------------------------------------------------------------------------------------------
// Process-wide state. The shutdown flag and the signal handlers are the engine's own (the same
// ones `FCGX_ShutdownPending` and the accept engine use).

static LIB_INITIALIZED: AtomicBool = AtomicBool::new(false);
/// `LIBFCGI_OS_CLOSE_POLL_TIMEOUT` (ms), read by `OS_LibInit`.
static CLOSE_POLL_TIMEOUT_MS: AtomicI32 = AtomicI32::new(2000);

/// libfcgi's `atoi` reading of a millisecond setting, with its default.
fn env_millis(name: &str, default: i32) -> i32 {
    match std::env::var(name) {
        Ok(v) => c_atoi(&v).unwrap_or(0),
        Err(_) => default,
    }
}

/// C `atoi`: optional leading whitespace and sign, then digits; trailing text ignored.
/// `None` when there are no digits (atoi's 0).
fn c_atoi(s: &str) -> Option<i32> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for b in digits[..end].bytes() {
        v = (v * 10 + i64::from(b - b'0')).min(i64::from(u32::MAX) + 1);
    }
    Some(if neg { -v } else { v } as i32)
}

fn errno() -> c_int {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn fail(err: &io::Error) -> c_int {
    set_errno(err.raw_os_error().unwrap_or(libc::EINVAL));
    -1
}

/// `int OS_LibInit(int stdioFds[3])`: idempotent; `stdioFds` is unused on Unix.
#[no_mangle]
pub unsafe extern "C" fn OS_LibInit(_stdioFds: *mut c_int) -> c_int {
    if LIB_INITIALIZED.load(Ordering::SeqCst) {
        return 0;
    }
    CLOSE_POLL_TIMEOUT_MS.store(
        env_millis("LIBFCGI_OS_CLOSE_POLL_TIMEOUT", 2000),
        Ordering::SeqCst,
    );
    AIO.lock().slots.clear();
    // The engine's handlers (SIGUSR1/SIGTERM: graceful stop; SIGPIPE: no-op), installed only
    // where the application left the default; installing them again is harmless.
    crate::sys::net::install_signal_handlers();
    LIB_INITIALIZED.store(true, Ordering::SeqCst);
    0
}

/// `void OS_LibShutdown(void)`: drops every pending asynchronous operation.
#[no_mangle]
pub unsafe extern "C" fn OS_LibShutdown() {
    AIO.lock().slots.clear();
    LIB_INITIALIZED.store(false, Ordering::SeqCst);
}

/// `void OS_ShutdownPending(void)`: async-signal-safe; makes `OS_Accept` return.
#[no_mangle]
pub unsafe extern "C" fn OS_ShutdownPending() {
    crate::server::request_shutdown();
}

// ---------------------------------------------------------------------------------------------
// Addresses: the forms FCGX_OpenSocket takes (`crate::server::parse_addr`).

/// A listening socket for `addr`, inheritable like libfcgi's (cgi-fcgi hands it to the
/// applications it starts).
fn open_listen(addr: &str, backlog: c_int) -> io::Result<RawFd> {
    let fd = crate::server::open_socket(addr, backlog)?.into_raw_fd();
    if let Err(e) = crate::sys::process::set_cloexec(fd, false) {
        // SAFETY: `fd` was just created here and is owned by nobody else.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    Ok(fd)
}

/// Where to connect for `addr`: an empty or `*` host means this machine (libfcgi connects to
/// `localhost`); a host name resolves to its first IPv4 address, else its first address.
fn connect_addr(addr: &str) -> io::Result<SockAddr> {
    Ok(match crate::server::parse_addr(addr) {
        ListenAddr::Unix(path) => {
            SockAddr::unix(&path).map_err(|_| io::Error::from_raw_os_error(libc::ENAMETOOLONG))?
        }
        ListenAddr::Tcp(SocketAddr::V4(v4)) if v4.ip().is_unspecified() => {
            SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, v4.port()))
        }
        ListenAddr::Tcp(sa) => SockAddr::from(sa),
        ListenAddr::TcpHost(host, port) => {
            let all: Vec<SocketAddr> = (host.as_str(), port).to_socket_addrs()?.collect();
            let pick = all.iter().find(|a| a.is_ipv4()).or(all.first());
            SockAddr::from(*pick.ok_or_else(|| io::Error::from_raw_os_error(libc::EADDRNOTAVAIL))?)
        }
    })
}

/// A connected socket to `addr`; the descriptor is inheritable, like libfcgi's.
fn connect_to(addr: &str) -> io::Result<RawFd> {
    let sa = connect_addr(addr)?;
    let sock = Socket::new_raw(sa.domain(), Type::STREAM, None)?;
    match sock.connect(&sa) {
        Ok(()) => Ok(sock.into_raw_fd()),
        // The connection proceeds in the background; wait for its outcome.
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            finish_interrupted_connect(sock.into_raw_fd())
        }
        Err(e) => Err(e),
    }
}

fn finish_interrupted_connect(fd: RawFd) -> io::Result<RawFd> {
    let outcome = loop {
        match crate::sys::process::poll(&[(fd, libc::POLLOUT)], -1) {
            Ok(_) => break sock_error(fd),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        }
    };
    match outcome {
        Ok(()) => Ok(fd),
        Err(e) => {
            // SAFETY: `fd` is the socket created above and owned by nobody else.
            unsafe { libc::close(fd) };
            Err(e)
        }
    }
}

fn sock_error(fd: RawFd) -> io::Result<()> {
    let mut err: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: `err`/`len` are valid out-pointers of the sizes given.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut c_int).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    if err != 0 {
        return Err(io::Error::from_raw_os_error(err));
    }
    Ok(())
}

/// Reads a C string argument; NULL or non-UTF-8 is `EINVAL`.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn arg_str<'a>(p: *const c_char) -> io::Result<&'a str> {
    if p.is_null() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: caller guarantees a NUL-terminated string that outlives the call.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `int OS_CreateLocalIpcFd(const char *bindPath, int backlog)`: a listening socket on
/// `host:port` (TCP, `SO_REUSEADDR`; empty host or `*` = any address), `[v6]:port`, or a Unix
/// socket path (unlinked first). Returns the fd, or -1 with errno set.
#[no_mangle]
pub unsafe extern "C" fn OS_CreateLocalIpcFd(bindPath: *const c_char, backlog: c_int) -> c_int {
    // SAFETY: the C contract: bindPath is a NUL-terminated string.
    let r = unsafe { arg_str(bindPath) }.and_then(|a| open_listen(a, backlog));
    r.unwrap_or_else(|e| fail(&e))
}

/// `int OS_FcgiConnect(char *bindPath)`: a connected socket to an application listening on
/// `bindPath` (same forms; an empty host is `localhost`), or -1 (typically nothing listens).
#[no_mangle]
pub unsafe extern "C" fn OS_FcgiConnect(bindPath: *mut c_char) -> c_int {
    // SAFETY: the C contract: bindPath is a NUL-terminated string.
    let r = unsafe { arg_str(bindPath) }.and_then(connect_to);
    r.unwrap_or_else(|e| fail(&e))
}

// ---------------------------------------------------------------------------------------------
// Blocking I/O.

/// `int OS_Read(int fd, char *buf, size_t len)`: `read`, retried on EINTR.
#[no_mangle]
pub unsafe extern "C" fn OS_Read(fd: c_int, buf: *mut c_char, len: usize) -> c_int {
    let len = len.min(c_int::MAX as usize);
    loop {
        // SAFETY: the C contract: buf points to at least len writable bytes.
        let n = unsafe { libc::read(fd, buf.cast(), len) };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        return n as c_int;
    }
}

/// `int OS_Write(int fd, char *buf, size_t len)`: `write`, retried on EINTR.
#[no_mangle]
pub unsafe extern "C" fn OS_Write(fd: c_int, buf: *mut c_char, len: usize) -> c_int {
    let len = len.min(c_int::MAX as usize);
    loop {
        // SAFETY: the C contract: buf points to at least len readable bytes.
        let n = unsafe { libc::write(fd, buf.cast_const().cast(), len) };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        return n as c_int;
    }
}

// ---------------------------------------------------------------------------------------------
// Asynchronous I/O table, serviced by OS_DoIo.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    Read,
    Write,
}

#[derive(Clone, Copy)]
struct Slot {
    fd: c_int,
    dir: Dir,
    buf: *mut c_void,
    len: c_int,
    proc_: unsafe extern "C" fn(ClientData, c_int),
    client: ClientData,
    /// Distinguishes this registration from a later one on the same fd and direction.
    seq: u64,
}

struct AioTable {
    slots: Vec<Slot>,
    next_seq: u64,
}

// SAFETY: the raw pointers are the caller's buffers and client data, only handed back to the
// caller's own procedure and to read/write; the table itself never dereferences them.
unsafe impl Send for AioTable {}

static AIO: Mutex<AioTable> = Mutex::new(AioTable {
    slots: Vec::new(),
    next_seq: 0,
});

fn schedule(
    fd: c_int,
    dir: Dir,
    buf: *mut c_void,
    len: c_int,
    proc_: OS_AsyncProc,
    client: ClientData,
) -> c_int {
    let Some(proc_) = proc_ else {
        set_errno(libc::EINVAL);
        return -1;
    };
    if fd < 0 || len < 0 || (buf.is_null() && len > 0) {
        set_errno(libc::EINVAL);
        return -1;
    }
    let mut t = AIO.lock();
    if t.slots.iter().any(|s| s.fd == fd && s.dir == dir) {
        // libfcgi asserts here: one operation per fd and direction at a time.
        set_errno(libc::EBUSY);
        return -1;
    }
    t.next_seq += 1;
    let seq = t.next_seq;
    t.slots.push(Slot {
        fd,
        dir,
        buf,
        len,
        proc_,
        client,
        seq,
    });
    0
}

fn unschedule(fd: c_int, dir: Option<Dir>) {
    AIO.lock()
        .slots
        .retain(|s| !(s.fd == fd && dir.is_none_or(|d| d == s.dir)));
}

/// `int OS_AsyncReadStdin(void *buf, int len, OS_AsyncProc procPtr, ClientData clientData)`:
/// schedules a read of up to `len` bytes from fd 0; `OS_DoIo` calls `procPtr(clientData, n)`
/// with read's result once fd 0 is readable.
#[no_mangle]
pub unsafe extern "C" fn OS_AsyncReadStdin(
    buf: *mut c_void,
    len: c_int,
    procPtr: OS_AsyncProc,
    clientData: ClientData,
) -> c_int {
    schedule(STDIN_FILENO, Dir::Read, buf, len, procPtr, clientData)
}

/// `int OS_AsyncRead(int fd, int offset, void *buf, int len, OS_AsyncProc, ClientData)`:
/// as `OS_AsyncReadStdin` for any fd; `offset` is ignored on Unix, as in libfcgi.
#[no_mangle]
pub unsafe extern "C" fn OS_AsyncRead(
    fd: c_int,
    _offset: c_int,
    buf: *mut c_void,
    len: c_int,
    procPtr: OS_AsyncProc,
    clientData: ClientData,
) -> c_int {
    schedule(fd, Dir::Read, buf, len, procPtr, clientData)
}

/// `int OS_AsyncWrite(int fd, int offset, void *buf, int len, OS_AsyncProc, ClientData)`:
/// schedules one `write` of up to `len` bytes once `fd` is writable; the procedure gets its
/// result (which may be short). `offset` is ignored on Unix.
#[no_mangle]
pub unsafe extern "C" fn OS_AsyncWrite(
    fd: c_int,
    _offset: c_int,
    buf: *mut c_void,
    len: c_int,
    procPtr: OS_AsyncProc,
    clientData: ClientData,
) -> c_int {
    schedule(fd, Dir::Write, buf, len, procPtr, clientData)
}

/// Milliseconds for poll from a `struct timeval *` (NULL = wait without limit), rounded up.
///
/// # Safety
/// `tmo` is NULL or points to a valid timeval.
unsafe fn timeout_ms(tmo: *const libc::timeval) -> c_int {
    if tmo.is_null() {
        return -1;
    }
    // SAFETY: the caller guarantees a valid timeval.
    let tv = unsafe { *tmo };
    let ms = i128::from(tv.tv_sec.max(0)) * 1000 + (i128::from(tv.tv_usec.max(0)) + 999) / 1000;
    ms.min(i128::from(c_int::MAX)) as c_int
}

/// `int OS_DoIo(struct timeval *tmo)`: waits (at most `tmo`, or without limit when NULL) until
/// some scheduled operation can proceed, performs every ready one (one `read` or `write` each)
/// and calls its procedure with the result. Each operation completes once; a procedure may
/// schedule the next one. Returns 0, or -1 with errno set if `poll` fails (EINTR counts as 0).
#[no_mangle]
pub unsafe extern "C" fn OS_DoIo(tmo: *mut libc::timeval) -> c_int {
    // SAFETY: the C contract: tmo is NULL or a valid timeval.
    let timeout = unsafe { timeout_ms(tmo) };
    let pending: Vec<Slot> = AIO.lock().slots.clone();

    // One pollfd per fd, in ascending fd order (libfcgi walks its fd sets upward).
    let mut fds: Vec<(RawFd, i16)> = Vec::new();
    for s in &pending {
        let ev = match s.dir {
            Dir::Read => libc::POLLIN,
            Dir::Write => libc::POLLOUT,
        };
        match fds.iter_mut().find(|(fd, _)| *fd == s.fd) {
            Some(entry) => entry.1 |= ev,
            None => fds.push((s.fd, ev)),
        }
    }
    fds.sort_unstable_by_key(|&(fd, _)| fd);
    if fds.is_empty() && timeout < 0 {
        // Nothing could ever complete; do not block forever.
        return 0;
    }
    let revents = match crate::sys::process::poll(&fds, timeout) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return 0,
        Err(e) => return fail(&e),
    };

    let trouble = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
    for (&(fd, _), &rev) in fds.iter().zip(revents.iter()) {
        if rev == 0 {
            continue;
        }
        for dir in [Dir::Read, Dir::Write] {
            let ready = match dir {
                Dir::Read => rev & (libc::POLLIN | trouble) != 0,
                Dir::Write => rev & (libc::POLLOUT | trouble) != 0,
            };
            if !ready {
                continue;
            }
            let Some(snap) = pending.iter().find(|s| s.fd == fd && s.dir == dir) else {
                continue;
            };
            // Still the same registration? An earlier procedure may have closed or replaced it.
            let slot = {
                let mut t = AIO.lock();
                match t.slots.iter().position(|s| s.seq == snap.seq) {
                    Some(i) => t.slots.remove(i),
                    None => continue,
                }
            };
            let n = loop {
                let r = match dir {
                    // SAFETY: the buffer was registered by the caller for `len` bytes and must
                    // stay valid until the procedure runs (the OS_Async* contract).
                    Dir::Read => unsafe { libc::read(slot.fd, slot.buf, slot.len as usize) },
                    // SAFETY: as above, `len` readable bytes.
                    Dir::Write => unsafe {
                        libc::write(slot.fd, slot.buf.cast_const(), slot.len as usize)
                    },
                };
                if r < 0 && errno() == libc::EINTR {
                    continue;
                }
                break r as c_int;
            };
            // SAFETY: the caller's procedure, called with its own client data, as registered.
            unsafe { (slot.proc_)(slot.client, n) };
        }
    }
    0
}

// ---------------------------------------------------------------------------------------------
// Closing.

/// `int OS_Close(int fd, int shutdown)`: forgets the fd's scheduled operations; with `shutdown`
/// non-zero, half-closes the sending side and drains input until the peer closes or
/// `LIBFCGI_OS_CLOSE_POLL_TIMEOUT` ms (default 2000) pass without data; then closes.
#[no_mangle]
pub unsafe extern "C" fn OS_Close(fd: c_int, shutdown: c_int) -> c_int {
    if fd == -1 {
        return 0;
    }
    unschedule(fd, None);
    if shutdown != 0 {
        // SAFETY: shutdown on a caller-owned fd; failure (not a connected socket) is harmless.
        if unsafe { libc::shutdown(fd, libc::SHUT_WR) } == 0 {
            let wait = CLOSE_POLL_TIMEOUT_MS.load(Ordering::SeqCst);
            let mut trash = [0u8; 1024];
            loop {
                match crate::sys::process::poll(&[(fd, libc::POLLIN)], wait) {
                    Ok(r) if r[0] != 0 => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    _ => break,
                }
                // SAFETY: `trash` is a valid writable buffer of its length.
                let n = unsafe { libc::read(fd, trash.as_mut_ptr().cast(), trash.len()) };
                if n <= 0 {
                    break;
                }
            }
        }
    }
    // SAFETY: closing the caller's fd, as asked.
    unsafe { libc::close(fd) }
}

/// `int OS_CloseRead(int fd)`: forgets a scheduled read and shuts down the receiving side.
#[no_mangle]
pub unsafe extern "C" fn OS_CloseRead(fd: c_int) -> c_int {
    unschedule(fd, Some(Dir::Read));
    // SAFETY: shutdown on a caller-owned fd.
    unsafe { libc::shutdown(fd, libc::SHUT_RD) }
}

/// `int OS_IpcClose(int ipcFd, int shutdown)`: `OS_Close`.
#[no_mangle]
pub unsafe extern "C" fn OS_IpcClose(ipcFd: c_int, shutdown: c_int) -> c_int {
    // SAFETY: same contract as OS_Close.
    unsafe { OS_Close(ipcFd, shutdown) }
}

// ---------------------------------------------------------------------------------------------
// Accepting, probing, flags, spawning.

/// `int OS_IsFcgi(int sock)`: 1 when `getpeername(sock)` fails with ENOTCONN (a listening
/// socket: FastCGI), else 0 (pipe, file, tty, closed fd, connected socket: CGI).
#[no_mangle]
pub unsafe extern "C" fn OS_IsFcgi(sock: c_int) -> c_int {
    // SAFETY: sockaddr_storage is plain old data.
    let mut sa: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    set_errno(0);
    // SAFETY: `sa`/`len` are a valid out-buffer and its size.
    let r = unsafe {
        libc::getpeername(
            sock,
            (&mut sa as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    c_int::from(r != 0 && errno() == libc::ENOTCONN)
}

/// `void OS_SetFlags(int fd, int flags)`: adds `flags` to the file status flags (e.g.
/// O_NONBLOCK). Failures are ignored (libfcgi exits).
#[no_mangle]
pub unsafe extern "C" fn OS_SetFlags(fd: c_int, flags: c_int) {
    // SAFETY: F_GETFL/F_SETFL take no pointers.
    let cur = unsafe { libc::fcntl(fd, libc::F_GETFL, 0) };
    if cur >= 0 {
        // SAFETY: as above.
        unsafe { libc::fcntl(fd, libc::F_SETFL, cur | flags) };
    }
}

extern "C" {
    /// glibc's `inet_addr` (not bound by the libc crate): numbers-and-dots, network order,
    /// `INADDR_NONE` on error. Used as is so the accepted forms are exactly libfcgi's.
    fn inet_addr(cp: *const c_char) -> u32;
}

/// Whether a TCP peer may connect, per `FCGI_WEB_SERVER_ADDRS` rules: a comma-separated list
/// of `inet_addr` forms; empty means everyone.
fn peer_allowed(peer: u32, list: &[u8]) -> bool {
    if list.is_empty() {
        return true;
    }
    list.split(|&b| b == b',').any(|entry| {
        let Ok(c) = CString::new(entry) else {
            return false;
        };
        // SAFETY: `c` is a valid NUL-terminated string.
        let a = unsafe { inet_addr(c.as_ptr()) };
        a != libc::INADDR_NONE && a == peer
    })
}

/// `int OS_Accept(int listen_sock, int fail_on_intr, const char *webServerAddrs)`: accepts a
/// connection. Retries EINTR (unless `fail_on_intr` or a shutdown is pending) and the
/// transient errors EPROTO, ECONNABORTED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH.
/// IPv4 peers get TCP_NODELAY and are checked against `webServerAddrs` (a refused one is closed
/// and accept continues). Returns the fd, or -1 with errno set.
#[no_mangle]
pub unsafe extern "C" fn OS_Accept(
    listen_sock: c_int,
    fail_on_intr: c_int,
    webServerAddrs: *const c_char,
) -> c_int {
    let allowed: Vec<u8> = if webServerAddrs.is_null() {
        Vec::new()
    } else {
        // SAFETY: the C contract: NULL or a NUL-terminated string.
        unsafe { CStr::from_ptr(webServerAddrs) }
            .to_bytes()
            .to_vec()
    };
    loop {
        if crate::server::shutdown_requested() {
            set_errno(libc::EINTR);
            return -1;
        }
        // SAFETY: sockaddr_storage is plain old data.
        let mut sa: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `sa`/`len` are a valid out-buffer and its size.
        let fd = unsafe {
            libc::accept(
                listen_sock,
                (&mut sa as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        };
        if fd < 0 {
            let e = errno();
            let retry = match e {
                libc::EINTR => fail_on_intr == 0 && !crate::server::shutdown_requested(),
                libc::EPROTO
                | libc::ECONNABORTED
                | libc::ECONNRESET
                | libc::ETIMEDOUT
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH => true,
                _ => false,
            };
            if retry {
                continue;
            }
            set_errno(e);
            return -1;
        }
        if c_int::from(sa.ss_family) == libc::AF_INET {
            let one: c_int = 1;
            // SAFETY: `one` is a valid int option value of the size given.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&one as *const c_int).cast(),
                    std::mem::size_of::<c_int>() as libc::socklen_t,
                )
            };
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: libc::sockaddr_in = unsafe { *(&sa as *const libc::sockaddr_storage).cast() };
            if !peer_allowed(sin.sin_addr.s_addr, &allowed) {
                // SAFETY: `fd` was just accepted and is ours.
                unsafe { libc::close(fd) };
                continue;
            }
        }
        return fd;
    }
}

/// `int OS_SpawnChild(char *execPath, int listenFd)`: forks; the child gets `listenFd` as fd 0,
/// `/dev/null` as fds 1 and 2, and execs `execPath` with no arguments. Returns 0 in the parent,
/// or -1 with errno set if the fork fails; a failed exec exits the child with errno.
#[no_mangle]
pub unsafe extern "C" fn OS_SpawnChild(execPath: *mut c_char, listenFd: c_int) -> c_int {
    if execPath.is_null() {
        set_errno(libc::EINVAL);
        return -1;
    }
    let devnull = c"/dev/null";
    // SAFETY: fork has no memory-safety preconditions; the child below only makes
    // async-signal-safe calls (close, dup2, fcntl, open, execv, _exit) on memory prepared before it.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return -1;
    }
    if pid > 0 {
        return 0;
    }
    // Child.
    // SAFETY: plain descriptor calls and execv with a NUL-terminated argv built from the
    // caller's string; nothing here allocates or takes locks.
    unsafe {
        if listenFd != 0 {
            libc::dup2(listenFd, 0);
            libc::close(listenFd);
        } else {
            // dup2 clears close-on-exec; without it, make sure fd 0 survives the exec.
            let fl = libc::fcntl(0, libc::F_GETFD);
            if fl >= 0 {
                libc::fcntl(0, libc::F_SETFD, fl & !libc::FD_CLOEXEC);
            }
        }
        let null = libc::open(devnull.as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        } else {
            libc::close(1);
            libc::close(2);
        }
        let argv: [*const c_char; 2] = [execPath.cast_const(), std::ptr::null()];
        libc::execv(execPath.cast_const(), argv.as_ptr());
        libc::_exit(*libc::__errno_location());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_like_c() {
        assert_eq!(c_atoi(" 42abc"), Some(42));
        assert_eq!(c_atoi("-7"), Some(-7));
        assert_eq!(c_atoi("x"), None);
        assert_eq!(c_atoi(""), None);
    }

    #[test]
    fn web_server_addrs_like_inet_addr() {
        let lo = u32::from_ne_bytes([127, 0, 0, 1]);
        assert!(peer_allowed(lo, b""));
        assert!(peer_allowed(lo, b"10.1.2.3,127.0.0.1"));
        assert!(!peer_allowed(lo, b" 127.0.0.1"));
        assert!(peer_allowed(lo, b"127.0.0.1 "));
        assert!(!peer_allowed(lo, b"10.0.0.1"));
    }
}
