//! Library set-up and the request life cycle: `FCGX_Init` … `FCGX_Accept_r` … `FCGX_Finish_r`.

use super::state::{self, RequestState, StreamKind, Target};
use super::types::*;
use crate::server::{self, AcceptError};
use crate::sys;
use std::ffi::{c_char, c_int, CStr};
use std::os::fd::IntoRawFd;
use std::sync::atomic::{AtomicBool, AtomicI8, Ordering};

static INITIALIZED: AtomicBool = AtomicBool::new(false);
/// Cached FastCGI detection: -1 unknown, 0 CGI, 1 FastCGI.
static IS_FASTCGI: AtomicI8 = AtomicI8::new(-1);

/// Error of `FCGX_Accept_r` before `FCGX_Init` (libfcgi's value).
const NOT_INITIALIZED: c_int = -9998;

/// The request used by `FCGX_Accept`/`FCGX_Finish` and the fcgi_stdio layer. Like libfcgi's,
/// it is not thread-safe: those APIs are for single-threaded programs.
pub(crate) struct GlobalRequest(std::cell::UnsafeCell<FCGX_Request>);
// SAFETY: the single-threaded APIs that use it are documented as not thread-safe, as in
// libfcgi; the cell only gives out a raw pointer.
unsafe impl Sync for GlobalRequest {}
pub(crate) static THE_REQUEST: GlobalRequest =
    GlobalRequest(std::cell::UnsafeCell::new(FCGX_Request::zeroed()));
static THE_REQUEST_READY: AtomicBool = AtomicBool::new(false);

impl GlobalRequest {
    pub(crate) fn get(&self) -> *mut FCGX_Request {
        self.0.get()
    }
}

/// Initialises the library. Idempotent and thread-safe. Returns 0.
#[no_mangle]
pub extern "C" fn FCGX_Init() -> c_int {
    if !INITIALIZED.swap(true, Ordering::AcqRel) {
        // A pool configured by the environment forks here (the master never returns):
        // workers come back with the pool's socket on fd 0.
        crate::pm::hooks::enter_once();
        // Limits are read from the environment once, here.
        server::with_limits(|_| ());
        if sys::net::adopt_systemd_socket() {
            crate::log::info(format_args!(
                "using the listen socket passed by systemd (LISTEN_FDS)"
            ));
        }
    }
    0
}

/// 1 when the program runs as a plain CGI program, 0 under FastCGI: as libfcgi, FastCGI means
/// fd 0 is a listening socket (`getpeername` fails with ENOTCONN). A socket passed by systemd
/// socket activation counts too (`FCGX_Init` moves it to fd 0), and so does the socket the
/// process manager gives its workers (on fd 0).
#[no_mangle]
pub extern "C" fn FCGX_IsCGI() -> c_int {
    FCGX_Init();
    let mut v = IS_FASTCGI.load(Ordering::Acquire);
    if v < 0 {
        v = sys::net::is_unconnected_socket(FCGI_LISTENSOCK_FILENO) as i8;
        IS_FASTCGI.store(v, Ordering::Release);
    }
    (v == 0) as c_int
}

/// Opens a listen socket: `host:port`, `:port`, `*:port`, `[v6addr]:port` or a unix socket
/// path. Returns the descriptor, or -1 with `errno` set (libfcgi called `exit()` instead).
#[no_mangle]
pub unsafe extern "C" fn FCGX_OpenSocket(path: *const c_char, backlog: c_int) -> c_int {
    if path.is_null() {
        sys::set_errno(libc::EINVAL);
        return -1;
    }
    // SAFETY: the caller passes a NUL-terminated string.
    let path = unsafe { CStr::from_ptr(path) };
    let Ok(path) = path.to_str() else {
        sys::set_errno(libc::EINVAL);
        return -1;
    };
    match server::open_socket(path, backlog) {
        Ok(fd) => {
            let fd = fd.into_raw_fd();
            if fd == FCGI_LISTENSOCK_FILENO {
                IS_FASTCGI.store(1, Ordering::Release);
            }
            fd
        }
        Err(e) => {
            crate::log::error(format_args!("cannot listen on {path}: {e}"));
            sys::set_errno(state::io_errno(&e));
            -1
        }
    }
}

/// Zeroes the request and sets its listen socket and flags. Always returns 0.
#[no_mangle]
pub unsafe extern "C" fn FCGX_InitRequest(
    request: *mut FCGX_Request,
    sock: c_int,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller passes its own 80-byte request (or NULL).
    let Some(req) = (unsafe { state::request(request) }) else {
        return 0;
    };
    *req = FCGX_Request::zeroed();
    req.listen_sock = sock;
    req.flags = flags;
    req.ipcFd = -1;
    0
}

/// Finishes the previous request on `request`, then waits for the next one. Returns 0, or a
/// negative value: -9998 without `FCGX_Init`, `-EINTR` after SIGUSR1/SIGTERM, `-errno` when
/// the listen socket fails (e.g. `-ENOTSOCK` when it is not a socket).
#[no_mangle]
pub unsafe extern "C" fn FCGX_Accept_r(request: *mut FCGX_Request) -> c_int {
    if !INITIALIZED.load(Ordering::Acquire) {
        return NOT_INITIALIZED;
    }
    // SAFETY: forwarded caller contract.
    unsafe { FCGX_Finish_r(request) };
    // SAFETY: the caller passes its own request (or NULL).
    let Some(req) = (unsafe { state::request(request) }) else {
        return -libc::EINVAL;
    };
    // SAFETY: paramsPtr is NULL or ours.
    let st = match unsafe { state::state_of(req) } {
        Some(st) => st,
        None => {
            let st = Box::leak(RequestState::new_boxed());
            req.paramsPtr = st as *mut RequestState as *mut _;
            st
        }
    };
    if st.engine.as_ref().map(|e| e.listen_fd()) != Some(req.listen_sock) {
        if let Some(old) = st.engine.take() {
            old.unregister_worker();
        }
        match server::engine_for(req.listen_sock) {
            Ok(e) => {
                e.register_worker();
                st.engine = Some(e);
            }
            Err(e) => return -state::io_errno(&e),
        }
    }
    let engine = st.engine.clone().expect("set above");
    let served = loop {
        if crate::pm::hooks::should_stop() {
            engine.begin_drain();
        }
        let mut served = match engine.accept(req.flags & FCGI_FAIL_ACCEPT_ON_INTR != 0) {
            Ok(s) => s,
            Err(AcceptError::Shutdown) | Err(AcceptError::Interrupted) => return -libc::EINTR,
            Err(AcceptError::Os(e)) => return -e,
        };
        if !crate::pm::hooks::on_request(&mut served.conn) {
            break served;
        }
        // A status or ping page, answered by the library: the program never sees it.
        let fate = served.conn.finish(0);
        engine.release(served, fate);
        crate::pm::hooks::on_finished();
    };
    let served = st.served.insert(served);
    // Build envp over the params arena: pointers into one block, no copy.
    st.envp.clear();
    let fd = served.raw_fd();
    let (bytes, entries) = served.conn.params_mut().raw_mut();
    let base = bytes.as_mut_ptr();
    for e in entries {
        // SAFETY: every entry's start lies inside the arena block.
        st.envp
            .push(unsafe { base.add(e.start as usize) } as *mut c_char);
    }
    st.envp.push(std::ptr::null_mut());
    let conn = &served.conn;
    req.requestId = conn.request_id() as c_int;
    req.role = conn.role() as c_int;
    req.keepConnection = conn.keep_conn() as c_int;
    req.isBeginProcessed = 1;
    // libfcgi never resets appStatus between requests, so a status stuck to later requests;
    // each request starts at 0 here.
    req.appStatus = 0;
    req.nWriters = 2;
    req.ipcFd = fd;
    req.detached = 0;
    req.envp = st.envp.as_mut_ptr();
    st.req = request;
    st.open_streams();
    req.in_ = st.stream_ptr(StreamKind::In);
    req.out = st.stream_ptr(StreamKind::Out);
    req.err = st.stream_ptr(StreamKind::Err);
    0
}

/// Finishes the current request: remaining output, EOF records and END_REQUEST leave in one
/// write; the connection is kept for the web server's next request or closed.
#[no_mangle]
pub unsafe extern "C" fn FCGX_Finish_r(request: *mut FCGX_Request) {
    // SAFETY: the caller passes its own request (or NULL).
    let Some(req) = (unsafe { state::request(request) }) else {
        return;
    };
    // SAFETY: paramsPtr is NULL or ours.
    let Some(st) = (unsafe { state::state_of(req) }) else {
        return;
    };
    if let Some(mut served) = st.served.take() {
        let fate = served.conn.finish(req.appStatus);
        let fate = match fate {
            crate::conn::Fate::Close { .. } if req.detached != 0 => {
                crate::conn::Fate::Close { linger: false }
            }
            f => f,
        };
        if let Some(engine) = &st.engine {
            engine.release(served, fate);
        }
        crate::pm::hooks::on_finished();
    }
    st.close_streams();
    req.in_ = std::ptr::null_mut();
    req.out = std::ptr::null_mut();
    req.err = std::ptr::null_mut();
    req.envp = std::ptr::null_mut();
    req.ipcFd = -1;
    req.isBeginProcessed = 0;
}

/// Releases the request's streams and state. With `close`, an unfinished connection is
/// closed; without, its descriptor is left open for the program (as libfcgi).
#[no_mangle]
pub unsafe extern "C" fn FCGX_Free(request: *mut FCGX_Request, close: c_int) {
    // SAFETY: the caller passes its own request (or NULL).
    let Some(req) = (unsafe { state::request(request) }) else {
        return;
    };
    if req.paramsPtr.is_null() {
        return;
    }
    // SAFETY: paramsPtr holds a leaked Box<RequestState> of ours; we take it back once.
    let mut st = unsafe { Box::from_raw(req.paramsPtr as *mut RequestState) };
    req.paramsPtr = std::ptr::null_mut();
    if let Some(mut served) = st.served.take() {
        if close == 0 {
            // The program keeps the descriptor (libfcgi leaves ipcFd open).
            if let Some(fd) = served.conn.transport_mut().take_fd() {
                let _ = fd.into_raw_fd();
            }
        }
        if let Some(engine) = &st.engine {
            engine.release(served, crate::conn::Fate::Close { linger: false });
        }
    }
    if let Some(engine) = st.engine.take() {
        engine.unregister_worker();
    }
    req.in_ = std::ptr::null_mut();
    req.out = std::ptr::null_mut();
    req.err = std::ptr::null_mut();
    req.envp = std::ptr::null_mut();
    if close != 0 {
        req.ipcFd = -1;
    }
}

/// The single-threaded form of `FCGX_Accept_r` on fd 0.
#[no_mangle]
pub unsafe extern "C" fn FCGX_Accept(
    in_: *mut *mut FCGX_Stream,
    out: *mut *mut FCGX_Stream,
    err: *mut *mut FCGX_Stream,
    envp: *mut FCGX_ParamArray,
) -> c_int {
    FCGX_Init();
    let req = THE_REQUEST.get();
    if !THE_REQUEST_READY.swap(true, Ordering::AcqRel) {
        // SAFETY: our own static request.
        unsafe { FCGX_InitRequest(req, FCGI_LISTENSOCK_FILENO, 0) };
    }
    // SAFETY: our own static request.
    let rc = unsafe { FCGX_Accept_r(req) };
    if rc >= 0 {
        // SAFETY: out-pointers supplied by the caller (NULL ones are skipped); req is ours.
        unsafe {
            let r = &*req;
            if !in_.is_null() {
                *in_ = r.in_;
            }
            if !out.is_null() {
                *out = r.out;
            }
            if !err.is_null() {
                *err = r.err;
            }
            if !envp.is_null() {
                *envp = r.envp;
            }
        }
    }
    rc
}

#[no_mangle]
pub extern "C" fn FCGX_Finish() {
    // SAFETY: our own static request.
    unsafe { FCGX_Finish_r(THE_REQUEST.get()) }
}

/// Asks the accept loop to stop after the current request (async-signal-safe).
#[no_mangle]
pub extern "C" fn FCGX_ShutdownPending() {
    server::request_shutdown();
}

/// Marks the request as detached (its connection is then closed without lingering).
/// Returns -1 when there is no connection.
#[no_mangle]
pub unsafe extern "C" fn FCGX_Detach(request: *mut FCGX_Request) -> c_int {
    // SAFETY: the caller passes its own request (or NULL).
    let Some(req) = (unsafe { state::request(request) }) else {
        return -1;
    };
    // libfcgi tested `ipcFd <= 0`, refusing a connection on fd 0; only "none" is refused here.
    if req.ipcFd < 0 {
        return -1;
    }
    req.detached = 1;
    0
}

#[no_mangle]
pub unsafe extern "C" fn FCGX_Attach(request: *mut FCGX_Request) -> c_int {
    // SAFETY: the caller passes its own request (or NULL).
    let Some(req) = (unsafe { state::request(request) }) else {
        return -1;
    };
    req.detached = 0;
    0
}

/// The value of param `name` in `envp`, or NULL. Same matching as libfcgi: the first entry
/// that starts with `name` followed by `=`.
#[no_mangle]
pub unsafe extern "C" fn FCGX_GetParam(name: *const c_char, envp: FCGX_ParamArray) -> *mut c_char {
    if name.is_null() || envp.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: name is a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) }.to_bytes();
    let mut p = envp;
    // SAFETY: envp is a NULL-terminated array of NUL-terminated strings (the C contract).
    unsafe {
        while !(*p).is_null() {
            let entry = *p;
            if libc::strncmp(name.as_ptr().cast(), entry, name.len()) == 0
                && *entry.add(name.len()) == b'=' as c_char
            {
                return entry.add(name.len() + 1);
            }
            p = p.add(1);
        }
    }
    std::ptr::null_mut()
}

/// Sets the application status sent in END_REQUEST (any of the request's streams works).
#[no_mangle]
pub unsafe extern "C" fn FCGX_SetExitStatus(status: c_int, stream: *mut FCGX_Stream) {
    // SAFETY: stream is one of ours (or NULL).
    if let Some(Target::Request(st, _)) = unsafe { state::target(stream) } {
        // SAFETY: st.req is the live request this state serves (set at accept).
        if let Some(req) = unsafe { st.req.as_mut() } {
            req.appStatus = status;
        }
    }
}

/// FILTER role: once STDIN has been read to its end, switches `stream` to the DATA stream.
/// Otherwise sets FCGX_CALL_SEQ_ERROR and returns -1.
#[no_mangle]
pub unsafe extern "C" fn FCGX_StartFilterData(stream: *mut FCGX_Stream) -> c_int {
    // SAFETY: stream is one of ours (or NULL).
    let Some(target) = (unsafe { state::target(stream) }) else {
        return -1;
    };
    match target {
        Target::Request(st, StreamKind::In) => {
            let ok = st.pushback.is_none()
                && st
                    .served
                    .as_mut()
                    .is_some_and(|s| s.conn.start_filter_data());
            let s = &mut st.streams[StreamKind::In as usize];
            if ok {
                s.isClosed = 0;
                0
            } else {
                state::set_error(s, FCGX_CALL_SEQ_ERROR);
                -1
            }
        }
        Target::Request(st, kind) => {
            state::set_error(&mut st.streams[kind as usize], FCGX_CALL_SEQ_ERROR);
            -1
        }
        Target::Writer(s, ..) => {
            state::set_error(s, FCGX_CALL_SEQ_ERROR);
            -1
        }
    }
}
