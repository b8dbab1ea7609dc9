//! The stream functions of fcgiapp.h: reading the request body, writing the response.

use super::state::{self, Owner, StreamData, StreamKind, Target, WriterStream};
use super::types::*;
use crate::conn::RecordStreamWriter;
use crate::protocol::RecordType;
use crate::server::FdIo;
use std::ffi::{c_char, c_int, CStr};

/// Reads from a request's input stream into `buf`; updates the stream flags.
fn read_into(st: &mut state::RequestState, buf: &mut [u8]) -> usize {
    let mut n = 0;
    if buf.is_empty() {
        return 0;
    }
    if let Some(b) = st.pushback.take() {
        buf[0] = b;
        n = 1;
    }
    let s = &mut st.streams[StreamKind::In as usize];
    let Some(served) = st.served.as_mut() else {
        s.isClosed = 1;
        return n;
    };
    if s.isClosed != 0 {
        return n;
    }
    while n < buf.len() {
        match served.conn.read_input(&mut buf[n..]) {
            Ok(0) => {
                s.isClosed = 1;
                break;
            }
            Ok(k) => n += k,
            Err(e) => {
                state::set_error(s, state::input_errno(e));
                break;
            }
        }
    }
    n
}

fn reader_state<'a>(stream: *mut FCGX_Stream) -> Option<&'a mut state::RequestState> {
    // SAFETY: every exported function below passes the C caller's stream pointer, which the
    // C contract says is NULL or a live stream of ours.
    match unsafe { state::target(stream) }? {
        Target::Request(st, StreamKind::In) => Some(st),
        _ => None,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGX_GetChar(stream: *mut FCGX_Stream) -> c_int {
    let Some(st) = reader_state(stream) else {
        return EOF;
    };
    let mut b = [0u8; 1];
    if read_into(st, &mut b) == 1 {
        b[0] as c_int
    } else {
        EOF
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGX_GetStr(
    str: *mut c_char,
    n: c_int,
    stream: *mut FCGX_Stream,
) -> c_int {
    if n <= 0 || str.is_null() {
        return 0;
    }
    let Some(st) = reader_state(stream) else {
        return 0;
    };
    // SAFETY: the caller provides n writable bytes at str.
    let buf = unsafe { std::slice::from_raw_parts_mut(str as *mut u8, n as usize) };
    read_into(st, buf) as c_int
}

/// Reads up to `n - 1` bytes, stopping after a newline (kept), and NUL-terminates. NULL when
/// nothing could be read.
#[no_mangle]
pub unsafe extern "C" fn FCGX_GetLine(
    str: *mut c_char,
    n: c_int,
    stream: *mut FCGX_Stream,
) -> *mut c_char {
    if n <= 0 || str.is_null() {
        return std::ptr::null_mut();
    }
    let Some(st) = reader_state(stream) else {
        return std::ptr::null_mut();
    };
    // SAFETY: the caller provides n writable bytes at str.
    let buf = unsafe { std::slice::from_raw_parts_mut(str as *mut u8, n as usize) };
    let mut len = 0;
    while len + 1 < buf.len() {
        let mut b = [0u8; 1];
        if read_into(st, &mut b) == 0 {
            break;
        }
        buf[len] = b[0];
        len += 1;
        if b[0] == b'\n' {
            break;
        }
    }
    buf[len] = 0;
    if len == 0 {
        std::ptr::null_mut()
    } else {
        str
    }
}

/// Gives back one byte; the next read returns it. Fails (EOF) on a closed stream, for EOF,
/// or when a byte is already pending.
#[no_mangle]
pub unsafe extern "C" fn FCGX_UnGetChar(c: c_int, stream: *mut FCGX_Stream) -> c_int {
    let Some(st) = reader_state(stream) else {
        return EOF;
    };
    if c == EOF || st.pushback.is_some() || st.streams[0].isClosed != 0 || st.served.is_none() {
        return EOF;
    }
    st.pushback = Some(c as u8);
    c
}

/// EOF (-1) once the input has ended (or failed), else 0.
#[no_mangle]
pub unsafe extern "C" fn FCGX_HasSeenEOF(stream: *mut FCGX_Stream) -> c_int {
    if stream.is_null() {
        return EOF;
    }
    // SAFETY: a live stream of ours.
    if unsafe { (*stream).isClosed } != 0 {
        EOF
    } else {
        0
    }
}

/// Writes `data` to an output stream; `false` (with the stream's error set) on failure.
fn write_to(stream: *mut FCGX_Stream, data: &[u8]) -> bool {
    // SAFETY: see reader_state.
    match unsafe { state::target(stream) } {
        Some(Target::Request(st, kind)) => {
            let Some(out) = kind.out_stream() else {
                return false;
            };
            let s = &mut st.streams[kind as usize];
            if s.isClosed != 0 {
                return false;
            }
            let Some(served) = st.served.as_mut() else {
                s.isClosed = 1;
                return false;
            };
            match served.conn.write_output(out, data) {
                Ok(()) => true,
                Err(e) => {
                    state::set_error(s, state::io_errno(&e));
                    false
                }
            }
        }
        Some(Target::Writer(s, io, w)) => {
            if s.isClosed != 0 {
                return false;
            }
            match w.write(io, data) {
                Ok(()) => true,
                Err(e) => {
                    state::set_error(s, state::io_errno(&e));
                    false
                }
            }
        }
        None => false,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGX_PutChar(c: c_int, stream: *mut FCGX_Stream) -> c_int {
    if write_to(stream, &[c as u8]) {
        c as u8 as c_int
    } else {
        EOF
    }
}

/// Writes `n` bytes; returns `n`, or -1 on error (and for a negative `n`, which libfcgi
/// passed to memcpy as a huge length).
#[no_mangle]
pub unsafe extern "C" fn FCGX_PutStr(
    str: *const c_char,
    n: c_int,
    stream: *mut FCGX_Stream,
) -> c_int {
    if n < 0 || (str.is_null() && n > 0) {
        return -1;
    }
    if n == 0 {
        // SAFETY: see reader_state; only the flag is read.
        return if !stream.is_null() && unsafe { (*stream).isClosed } == 0 {
            0
        } else {
            -1
        };
    }
    // SAFETY: the caller provides n readable bytes at str.
    let data = unsafe { std::slice::from_raw_parts(str as *const u8, n as usize) };
    if write_to(stream, data) {
        n
    } else {
        -1
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGX_PutS(str: *const c_char, stream: *mut FCGX_Stream) -> c_int {
    if str.is_null() {
        return -1;
    }
    // SAFETY: a NUL-terminated string from the caller.
    let len = unsafe { CStr::from_ptr(str) }.to_bytes().len();
    // SAFETY: forwarded.
    unsafe { FCGX_PutStr(str, len as c_int, stream) }
}

/// Sends buffered output now. 0 on success or for readers; -1 when the stream failed
/// (libfcgi returned 0 even for a stream that had already failed).
#[no_mangle]
pub unsafe extern "C" fn FCGX_FFlush(stream: *mut FCGX_Stream) -> c_int {
    // SAFETY: see reader_state.
    match unsafe { state::target(stream) } {
        Some(Target::Request(st, kind)) => {
            if kind == StreamKind::In {
                return 0;
            }
            let s = &mut st.streams[kind as usize];
            if s.FCGI_errno != 0 {
                return -1;
            }
            if s.isClosed != 0 {
                return 0;
            }
            let Some(served) = st.served.as_mut() else {
                return 0;
            };
            match served.conn.flush_output() {
                Ok(()) => 0,
                Err(e) => {
                    state::set_error(s, state::io_errno(&e));
                    -1
                }
            }
        }
        Some(Target::Writer(s, io, w)) => {
            if s.FCGI_errno != 0 {
                return -1;
            }
            match w.flush(io) {
                Ok(()) => 0,
                Err(e) => {
                    state::set_error(s, state::io_errno(&e));
                    -1
                }
            }
        }
        None => 0,
    }
}

/// Closes a stream. For an output stream its EOF record is sent (STDERR's only if anything
/// was written to it, as libfcgi). Returns 0, or EOF if the stream had an error.
#[no_mangle]
pub unsafe extern "C" fn FCGX_FClose(stream: *mut FCGX_Stream) -> c_int {
    // SAFETY: see reader_state.
    let result = match unsafe { state::target(stream) } {
        None => return 0,
        Some(Target::Request(st, kind)) => {
            let s = &mut st.streams[kind as usize];
            if s.wasFCloseCalled == 0 {
                if let (Some(out), Some(served)) = (kind.out_stream(), st.served.as_mut()) {
                    if s.isClosed == 0 {
                        if let Err(e) = served.conn.close_output(out) {
                            state::set_error(s, state::io_errno(&e));
                        }
                    }
                }
                s.wasFCloseCalled = 1;
                s.isClosed = 1;
            }
            s.FCGI_errno
        }
        Some(Target::Writer(s, io, w)) => {
            if s.wasFCloseCalled == 0 {
                if s.isClosed == 0 {
                    if let Err(e) = w.close(io) {
                        state::set_error(s, state::io_errno(&e));
                    }
                }
                s.wasFCloseCalled = 1;
                s.isClosed = 1;
            }
            s.FCGI_errno
        }
    };
    if result == 0 {
        0
    } else {
        EOF
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGX_GetError(stream: *mut FCGX_Stream) -> c_int {
    // SAFETY: a live stream of ours, or NULL.
    unsafe { stream.as_ref() }.map_or(0, |s| s.FCGI_errno)
}

/// Clears the stream's error code (the stream stays closed, as in libfcgi).
#[no_mangle]
pub unsafe extern "C" fn FCGX_ClearError(stream: *mut FCGX_Stream) {
    // SAFETY: a live stream of ours, or NULL.
    if let Some(s) = unsafe { stream.as_mut() } {
        s.FCGI_errno = 0;
    }
}

/// A standalone output stream writing records of `streamType` for `requestId` on `socket`
/// (used by FastCGI clients such as cgi-fcgi to send PARAMS and STDIN).
#[no_mangle]
pub extern "C" fn FCGX_CreateWriter(
    socket: c_int,
    requestId: c_int,
    bufflen: c_int,
    streamType: c_int,
) -> *mut FCGX_Stream {
    let writer = RecordStreamWriter::new(
        RecordType(streamType as u8),
        requestId as u16,
        bufflen.max(0) as usize,
    );
    let ws = Box::new(WriterStream {
        stream: FCGX_Stream::zeroed(),
        data: StreamData {
            kind: StreamKind::Out,
            owner: Owner::Writer(FdIo(socket), writer),
        },
    });
    let ws = Box::leak(ws);
    ws.stream.data = &mut ws.data as *mut StreamData as *mut _;
    &mut ws.stream
}

/// Frees a stream made by `FCGX_CreateWriter` (without flushing it) and sets `*stream` to
/// NULL. Request streams belong to their request and are left alone.
#[no_mangle]
pub unsafe extern "C" fn FCGX_FreeStream(stream: *mut *mut FCGX_Stream) {
    if stream.is_null() {
        return;
    }
    // SAFETY: the caller passes the address of its stream pointer.
    let s = unsafe { *stream };
    if s.is_null() {
        return;
    }
    // SAFETY: a live stream of ours.
    let data = unsafe { (*s).data } as *const StreamData;
    // SAFETY: data belongs to the stream.
    if !data.is_null() && matches!(unsafe { &(*data).owner }, Owner::Writer(..)) {
        // SAFETY: writer streams are leaked Box<WriterStream>s whose first field is the stream.
        drop(unsafe { Box::from_raw(s as *mut WriterStream) });
    }
    // SAFETY: as above.
    unsafe { *stream = std::ptr::null_mut() };
}
