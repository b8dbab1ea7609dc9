//! Process-level system calls for the process manager: fork/exec/wait, signals through a
//! self-pipe, the shared scoreboard memory, credentials, limits, listen-queue figures and
//! local time. Every function here is a thin, safe wrapper; the `pm` layer holds the logic.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

// ---------------------------------------------------------------------------------------------
// Shared memory

/// An array of `AtomicU64` words in a `MAP_SHARED` mapping of a memfd: shared with every
/// process forked after it is created, and with programs they `exec` when the fd is passed on.
#[derive(Debug)]
pub struct SharedWords {
    ptr: *mut AtomicU64,
    len: usize,
    fd: OwnedFd,
}

// SAFETY: the mapping is only reached through `&[AtomicU64]`, and atomics are Sync.
unsafe impl Send for SharedWords {}
// SAFETY: as above.
unsafe impl Sync for SharedWords {}

impl SharedWords {
    /// Creates a zero-filled mapping of `len` words (at least one).
    pub fn create(len: usize) -> io::Result<SharedWords> {
        let len = len.max(1);
        let name = c"fcgi_rs-scoreboard";
        // SAFETY: `name` is a valid C string; MFD_CLOEXEC keeps the fd from leaking into
        // programs we exec unless the caller clears the flag on purpose.
        let raw = cvt(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) })?;
        // SAFETY: `raw` was just returned by memfd_create and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let bytes = len
            .checked_mul(8)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: plain syscall on an fd we own.
        cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), bytes as libc::off_t) })?;
        Self::map(fd, len)
    }

    /// Maps an existing scoreboard fd (inherited across `exec`). Takes ownership of `fd`.
    pub fn from_fd(fd: OwnedFd) -> io::Result<SharedWords> {
        let meta = std::fs::File::from(fd.try_clone()?).metadata()?;
        let len = (meta.len() / 8) as usize;
        if len == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidData));
        }
        Self::map(fd, len)
    }

    fn map(fd: OwnedFd, len: usize) -> io::Result<SharedWords> {
        // SAFETY: a fresh shared mapping of a file of at least len*8 bytes; no existing memory
        // is affected (addr = NULL).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len * 8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SharedWords {
            ptr: p.cast(),
            len,
            fd,
        })
    }

    pub fn words(&self) -> &[AtomicU64] {
        // SAFETY: the mapping is page-aligned, len*8 bytes long, lives until Drop, and any bit
        // pattern is a valid AtomicU64; all access goes through atomic operations.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }
}

impl Drop for SharedWords {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mapped in `map`; no references outlive `self`.
        unsafe { libc::munmap(self.ptr.cast(), self.len * 8) };
    }
}

// ---------------------------------------------------------------------------------------------
// fork / exec / wait / kill

#[derive(Debug, PartialEq, Eq)]
pub enum Fork {
    Parent(i32),
    Child,
}

/// `fork(2)`. In the child only async-signal-safe work is strictly safe if the parent had other
/// threads; the process manager's master is single-threaded while it forks.
pub fn fork() -> io::Result<Fork> {
    // SAFETY: fork has no memory-safety preconditions; see the note above for threads.
    let pid = cvt(unsafe { libc::fork() })?;
    Ok(if pid == 0 {
        Fork::Child
    } else {
        Fork::Parent(pid)
    })
}

/// `execvp` (or `execvpe` with an explicit environment). Returns only on failure.
pub fn exec(argv: &[CString], env: Option<&[CString]>) -> io::Error {
    if argv.is_empty() {
        return io::Error::from(io::ErrorKind::InvalidInput);
    }
    let mut args: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    args.push(std::ptr::null());
    match env {
        None => {
            // SAFETY: argv is a NULL-terminated array of valid C strings that outlive the call.
            unsafe { libc::execvp(args[0], args.as_ptr()) };
        }
        Some(env) => {
            let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
            envp.push(std::ptr::null());
            // SAFETY: both arrays are NULL-terminated arrays of valid C strings.
            unsafe { libc::execvpe(args[0], args.as_ptr(), envp.as_ptr()) };
        }
    }
    io::Error::last_os_error()
}

/// `_exit(2)`: leave a forked child without running the parent's atexit handlers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    Code(i32),
    Signal(i32),
}

/// Reaps one exited child without blocking.
pub fn reap_any() -> Option<(i32, ExitKind)> {
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    let kind = if libc::WIFSIGNALED(status) {
        ExitKind::Signal(libc::WTERMSIG(status))
    } else {
        ExitKind::Code(libc::WEXITSTATUS(status))
    };
    Some((pid, kind))
}

pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: plain syscall; pid > 0 so it never targets a process group.
    cvt(unsafe { libc::kill(pid, sig) }).map(drop)
}

pub fn getppid() -> i32 {
    // SAFETY: no preconditions.
    unsafe { libc::getppid() }
}

/// Asks the kernel to send `sig` to this process when its parent dies.
pub fn set_parent_death_signal(sig: i32) {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number; no pointers.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
}

pub fn setsid() {
    // SAFETY: no preconditions; failure (already a leader) is harmless.
    unsafe { libc::setsid() };
}

// ---------------------------------------------------------------------------------------------
// file descriptors

pub fn dup2(old: RawFd, new: RawFd) -> io::Result<()> {
    // SAFETY: dup2 only manipulates the fd table; callers pass fds they own.
    cvt(unsafe { libc::dup2(old, new) }).map(drop)
}

/// Closes a raw fd the caller owns and no Rust object wraps.
pub fn close_raw(fd: RawFd) {
    // SAFETY: callers guarantee no OwnedFd/File refers to `fd`.
    unsafe { libc::close(fd) };
}

pub fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an fd the caller holds.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, new) }).map(drop)
}

pub fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an fd the caller holds.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, new) }).map(drop)
}

/// A pipe, both ends close-on-exec: `(read end, write end)`. The read end is non-blocking
/// (the master never waits on it); the write end, which a worker gets as fd 1 or 2, stays
/// blocking (O_NONBLOCK is set per end, not per pipe).
pub fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid 2-int out array.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 just returned these fds; nothing else owns them.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    set_nonblocking(r.as_raw_fd(), true)?;
    Ok((r, w))
}

/// Whether `fd` is an open descriptor of this process.
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; an unused number gives EBADF.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    r >= 0
}

/// Puts `fd` on descriptor number `target` (without close-on-exec, so a program `exec`ed
/// later keeps it) and closes the original. Works when `fd` already is `target`.
pub fn move_fd(fd: OwnedFd, target: RawFd) -> io::Result<()> {
    use std::os::fd::IntoRawFd;
    if fd.as_raw_fd() == target {
        set_cloexec(target, false)?;
        let _ = fd.into_raw_fd(); // stays open as `target`
        return Ok(());
    }
    dup2(fd.as_raw_fd(), target)
}

/// Whether `fd` is open and a socket in the listening state (`SO_ACCEPTCONN`).
pub fn is_listening_socket(fd: RawFd) -> bool {
    let mut v: libc::c_int = 0;
    let mut l = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v/l are valid out-pointers of the advertised size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut v as *mut libc::c_int).cast(),
            &mut l,
        )
    };
    r == 0 && v != 0
}

/// Takes ownership of an inherited fd (fd 0 from spawn-fcgi, fds 3.. from systemd).
/// The caller must make sure nothing else in the process owns it.
pub fn adopt_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: documented precondition: the inherited fd is open and owned by no other object.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `poll(2)` on `(fd, events)` pairs; returns the revents in the same order.
pub fn poll(fds: &[(RawFd, i16)], timeout_ms: i32) -> io::Result<Vec<i16>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of p.len() pollfd structs.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(p.iter().map(|x| x.revents).collect())
}

/// The kernel's current accept queue and backlog of a TCP listening socket (`TCP_INFO`:
/// `tcpi_unacked` and `tcpi_sacked` hold them for sockets in LISTEN state).
pub fn tcp_listen_queue(fd: RawFd) -> Option<(u32, u32)> {
    // SAFETY: tcp_info is plain old data; zero is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut l = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: info/l are valid out-pointers of the advertised size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut l,
        )
    };
    if r != 0 || info.tcpi_state != 10 {
        return None; // 10 = TCP_LISTEN
    }
    Some((info.tcpi_unacked, info.tcpi_sacked))
}

// ---------------------------------------------------------------------------------------------
// signals: a self-pipe

static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; errno is saved and restored around it.
        unsafe {
            let e = *libc::__errno_location();
            libc::write(fd, (&b as *const u8).cast(), 1);
            *libc::__errno_location() = e;
        }
    }
}

/// Creates a non-blocking pipe and routes `signals` to it, one byte (the signal number) each.
/// Returns the read end.
pub fn install_signal_pipe(signals: &[i32]) -> io::Result<OwnedFd> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid 2-int out array.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 just returned these fds; we own them.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let old = SIGNAL_PIPE.swap(w.as_raw_fd(), Ordering::SeqCst);
    std::mem::forget(w); // lives for the process (or until uninstall_signal_pipe)
    if old >= 0 {
        close_raw(old);
    }
    for &s in signals {
        // SAFETY: sigaction is zeroable; the handler only calls async-signal-safe functions.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            cvt(libc::sigaction(s, &sa, std::ptr::null_mut()))?;
        }
    }
    Ok(r)
}

/// In a freshly forked worker: every signal back to its default action, an empty mask, and
/// the master's self-pipe closed.
pub fn reset_signals_in_child() {
    let old = SIGNAL_PIPE.swap(-1, Ordering::SeqCst);
    if old >= 0 {
        close_raw(old);
    }
    for s in [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGHUP,
        libc::SIGCHLD,
        libc::SIGPIPE,
    ] {
        // SAFETY: resetting a disposition to SIG_DFL has no preconditions.
        unsafe { libc::signal(s, libc::SIG_DFL) };
    }
    // SAFETY: set is a valid sigset_t; an empty mask unblocks everything.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Ignores SIGPIPE in this process (the master writes to sockets peers may close).
pub fn ignore_sigpipe() {
    // SAFETY: setting SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

// ---------------------------------------------------------------------------------------------
// credentials and limits

/// uid and primary gid of a user name (or numeric id).
pub fn lookup_user(name: &str) -> io::Result<(u32, u32)> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: passwd is zeroable plain data.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the sizes given; results point into `buf`.
    let r = unsafe { libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
    if r == 0 && !out.is_null() {
        return Ok((pw.pw_uid, pw.pw_gid));
    }
    if let Ok(uid) = name.parse::<u32>() {
        return Ok((uid, uid));
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("unknown user '{name}'"),
    ))
}

pub fn lookup_group(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: group is zeroable plain data.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the sizes given.
    let r = unsafe { libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut out) };
    if r == 0 && !out.is_null() {
        return Ok(gr.gr_gid);
    }
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("unknown group '{name}'"),
    ))
}

/// Drops to `uid`/`gid` (with supplementary groups of `user_name` when given).
pub fn set_credentials(uid: u32, gid: u32, user_name: Option<&str>) -> io::Result<()> {
    // SAFETY: plain syscalls with integer arguments or a valid C string.
    unsafe {
        cvt(libc::setgid(gid))?;
        match user_name.and_then(|n| CString::new(n).ok()) {
            Some(n) => cvt(libc::initgroups(n.as_ptr(), gid))?,
            None => cvt(libc::setgroups(0, std::ptr::null()))?,
        };
        cvt(libc::setuid(uid))?;
    }
    Ok(())
}

pub fn geteuid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() }
}

/// `setrlimit` with soft = hard = `value` (`u64::MAX` = unlimited).
pub fn set_rlimit(resource: RlimitKind, value: u64) -> io::Result<()> {
    let v = if value == u64::MAX {
        libc::RLIM_INFINITY
    } else {
        value as libc::rlim_t
    };
    let lim = libc::rlimit {
        rlim_cur: v,
        rlim_max: v,
    };
    let res = match resource {
        RlimitKind::Files => libc::RLIMIT_NOFILE,
        RlimitKind::Core => libc::RLIMIT_CORE,
    };
    // SAFETY: lim is a valid rlimit struct.
    cvt(unsafe { libc::setrlimit(res, &lim) }).map(drop)
}

#[derive(Clone, Copy, Debug)]
pub enum RlimitKind {
    Files,
    Core,
}

/// CPU time used by this process so far (user + system, µs) and its peak RSS in bytes.
pub fn self_usage() -> (u64, u64) {
    // SAFETY: rusage is zeroable plain data; the pointer is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    (
        us(ru.ru_utime) + us(ru.ru_stime),
        ru.ru_maxrss as u64 * 1024,
    )
}

// ---------------------------------------------------------------------------------------------
// time

/// Broken-down local time, as `localtime_r` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 0..=11
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    /// Seconds east of UTC.
    pub gmtoff: i64,
}

pub fn local_time(epoch: i64) -> LocalTime {
    let t = epoch as libc::time_t;
    // SAFETY: tm is zeroable plain data; localtime_r writes only into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid.
    let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
    if !ok {
        return LocalTime {
            year: 1970,
            month: 0,
            day: 1,
            hour: 0,
            min: 0,
            sec: 0,
            gmtoff: 0,
        };
    }
    LocalTime {
        year: tm.tm_year + 1900,
        month: tm.tm_mon as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        min: tm.tm_min as u32,
        sec: tm.tm_sec as u32,
        gmtoff: tm.tm_gmtoff,
    }
}

/// A C string from a Rust string, replacing interior NULs (which cannot be passed) by '?'.
pub fn cstring_lossy(s: &str) -> CString {
    CString::new(s.replace('\0', "?")).unwrap_or_default()
}
