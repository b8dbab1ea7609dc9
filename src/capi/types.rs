//! The C structures of fcgiapp.h, laid out exactly as libfcgi's (x86_64 and every LP64/ILP32
//! target: only pointers and ints). Sizes and offsets are asserted at compile time.

use std::ffi::{c_char, c_int, c_void};
use std::mem::{offset_of, size_of};

pub type FCGX_ParamArray = *mut *mut c_char;

pub const FCGX_UNSUPPORTED_VERSION: c_int = -2;
pub const FCGX_PROTOCOL_ERROR: c_int = -3;
pub const FCGX_PARAMS_ERROR: c_int = -4;
pub const FCGX_CALL_SEQ_ERROR: c_int = -5;
pub const FCGI_FAIL_ACCEPT_ON_INTR: c_int = 1;
pub const FCGI_LISTENSOCK_FILENO: c_int = 0;
pub const EOF: c_int = -1;

/// `FCGX_Stream`: 72 bytes. Our stream state hangs off `data`; the buffer pointers stay NULL
/// (programs only ever use the functions), the flags mirror the stream's state.
#[repr(C)]
#[derive(Debug)]
pub struct FCGX_Stream {
    pub rdNext: *mut u8,
    pub wrNext: *mut u8,
    pub stop: *mut u8,
    pub stopUnget: *mut u8,
    pub isReader: c_int,
    pub isClosed: c_int,
    pub wasFCloseCalled: c_int,
    pub FCGI_errno: c_int,
    pub fillBuffProc: Option<unsafe extern "C" fn(*mut FCGX_Stream)>,
    pub emptyBuffProc: Option<unsafe extern "C" fn(*mut FCGX_Stream, c_int)>,
    pub data: *mut c_void,
}

impl FCGX_Stream {
    pub const fn zeroed() -> Self {
        FCGX_Stream {
            rdNext: std::ptr::null_mut(),
            wrNext: std::ptr::null_mut(),
            stop: std::ptr::null_mut(),
            stopUnget: std::ptr::null_mut(),
            isReader: 0,
            isClosed: 0,
            wasFCloseCalled: 0,
            FCGI_errno: 0,
            fillBuffProc: None,
            emptyBuffProc: None,
            data: std::ptr::null_mut(),
        }
    }
}

/// `FCGX_Request`: 80 bytes of application memory. Our per-request state is reached through
/// `paramsPtr`; nothing is written outside these fields.
#[repr(C)]
#[derive(Debug)]
pub struct FCGX_Request {
    pub requestId: c_int,
    pub role: c_int,
    pub in_: *mut FCGX_Stream,
    pub out: *mut FCGX_Stream,
    pub err: *mut FCGX_Stream,
    pub envp: *mut *mut c_char,
    pub paramsPtr: *mut c_void,
    pub ipcFd: c_int,
    pub isBeginProcessed: c_int,
    pub keepConnection: c_int,
    pub appStatus: c_int,
    pub nWriters: c_int,
    pub flags: c_int,
    pub listen_sock: c_int,
    pub detached: c_int,
}

impl FCGX_Request {
    pub const fn zeroed() -> Self {
        FCGX_Request {
            requestId: 0,
            role: 0,
            in_: std::ptr::null_mut(),
            out: std::ptr::null_mut(),
            err: std::ptr::null_mut(),
            envp: std::ptr::null_mut(),
            paramsPtr: std::ptr::null_mut(),
            ipcFd: 0,
            isBeginProcessed: 0,
            keepConnection: 0,
            appStatus: 0,
            nWriters: 0,
            flags: 0,
            listen_sock: 0,
            detached: 0,
        }
    }
}

/// `FCGI_FILE` of fcgi_stdio.h: 16 bytes, read directly by programs through macros.
#[repr(C)]
#[derive(Debug)]
pub struct FCGI_FILE {
    pub stdio_stream: *mut libc::FILE,
    pub fcgx_stream: *mut FCGX_Stream,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<FCGX_Stream>() == 72);
    assert!(offset_of!(FCGX_Stream, rdNext) == 0);
    assert!(offset_of!(FCGX_Stream, wrNext) == 8);
    assert!(offset_of!(FCGX_Stream, stop) == 16);
    assert!(offset_of!(FCGX_Stream, stopUnget) == 24);
    assert!(offset_of!(FCGX_Stream, isReader) == 32);
    assert!(offset_of!(FCGX_Stream, isClosed) == 36);
    assert!(offset_of!(FCGX_Stream, wasFCloseCalled) == 40);
    assert!(offset_of!(FCGX_Stream, FCGI_errno) == 44);
    assert!(offset_of!(FCGX_Stream, fillBuffProc) == 48);
    assert!(offset_of!(FCGX_Stream, emptyBuffProc) == 56);
    assert!(offset_of!(FCGX_Stream, data) == 64);

    assert!(size_of::<FCGX_Request>() == 80);
    assert!(offset_of!(FCGX_Request, requestId) == 0);
    assert!(offset_of!(FCGX_Request, role) == 4);
    assert!(offset_of!(FCGX_Request, in_) == 8);
    assert!(offset_of!(FCGX_Request, out) == 16);
    assert!(offset_of!(FCGX_Request, err) == 24);
    assert!(offset_of!(FCGX_Request, envp) == 32);
    assert!(offset_of!(FCGX_Request, paramsPtr) == 40);
    assert!(offset_of!(FCGX_Request, ipcFd) == 48);
    assert!(offset_of!(FCGX_Request, isBeginProcessed) == 52);
    assert!(offset_of!(FCGX_Request, keepConnection) == 56);
    assert!(offset_of!(FCGX_Request, appStatus) == 60);
    assert!(offset_of!(FCGX_Request, nWriters) == 64);
    assert!(offset_of!(FCGX_Request, flags) == 68);
    assert!(offset_of!(FCGX_Request, listen_sock) == 72);
    assert!(offset_of!(FCGX_Request, detached) == 76);

    assert!(size_of::<FCGI_FILE>() == 16);
    assert!(offset_of!(FCGI_FILE, stdio_stream) == 0);
    assert!(offset_of!(FCGI_FILE, fcgx_stream) == 8);
};
