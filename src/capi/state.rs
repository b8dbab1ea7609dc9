//! Our state behind the C structures, and the one place that turns the raw pointers C hands
//! us into references.

use super::types::{FCGX_Request, FCGX_Stream, FCGX_PROTOCOL_ERROR};
use crate::conn::{InputError, OutStream, RecordStreamWriter};
use crate::server::{AcceptEngine, FdIo, Served};
use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    In = 0,
    Out = 1,
    Err = 2,
}

impl StreamKind {
    pub fn out_stream(self) -> Option<OutStream> {
        match self {
            StreamKind::In => None,
            StreamKind::Out => Some(OutStream::Stdout),
            StreamKind::Err => Some(OutStream::Stderr),
        }
    }
}

/// What `FCGX_Stream.data` points at.
#[derive(Debug)]
pub struct StreamData {
    pub kind: StreamKind,
    pub owner: Owner,
}

#[derive(Debug)]
pub enum Owner {
    Request(*mut RequestState),
    Writer(FdIo, RecordStreamWriter),
}

/// Per-`FCGX_Request` state, allocated on its first accept and reused for every request after
/// (so steady state allocates nothing). `FCGX_Request.paramsPtr` points here.
#[derive(Debug)]
pub struct RequestState {
    /// The application's request struct for the current request.
    pub req: *mut FCGX_Request,
    pub engine: Option<Arc<AcceptEngine>>,
    pub served: Option<Box<Served>>,
    pub envp: Vec<*mut c_char>,
    pub streams: [FCGX_Stream; 3],
    pub data: [StreamData; 3],
    /// A byte given back with `FCGX_UnGetChar`.
    pub pushback: Option<u8>,
}

impl RequestState {
    pub fn new_boxed() -> Box<RequestState> {
        let mut state = Box::new(RequestState {
            req: std::ptr::null_mut(),
            engine: None,
            served: None,
            envp: Vec::new(),
            streams: [
                FCGX_Stream::zeroed(),
                FCGX_Stream::zeroed(),
                FCGX_Stream::zeroed(),
            ],
            data: [StreamKind::In, StreamKind::Out, StreamKind::Err].map(|kind| StreamData {
                kind,
                owner: Owner::Request(std::ptr::null_mut()),
            }),
            pushback: None,
        });
        let me: *mut RequestState = &mut *state;
        for i in 0..3 {
            state.data[i].owner = Owner::Request(me);
            state.streams[i].data = &mut state.data[i] as *mut StreamData as *mut c_void;
            state.streams[i].isReader = (i == 0) as c_int;
        }
        state
    }

    pub fn stream_ptr(&mut self, kind: StreamKind) -> *mut FCGX_Stream {
        &mut self.streams[kind as usize]
    }

    /// Resets the three streams for a new request.
    pub fn open_streams(&mut self) {
        for s in &mut self.streams {
            s.isClosed = 0;
            s.wasFCloseCalled = 0;
            s.FCGI_errno = 0;
        }
        self.pushback = None;
    }

    /// Marks the streams closed when the request ends (calls on them then fail cleanly).
    pub fn close_streams(&mut self) {
        for s in &mut self.streams {
            s.isClosed = 1;
        }
        self.pushback = None;
    }
}

/// A stream made by `FCGX_CreateWriter`; `stream` is first so the `FCGX_Stream*` handed out is
/// also the address of the whole allocation.
#[repr(C)]
#[derive(Debug)]
pub struct WriterStream {
    pub stream: FCGX_Stream,
    pub data: StreamData,
}

/// What a stream pointer from C refers to.
#[allow(missing_debug_implementations)]
pub enum Target<'a> {
    Request(&'a mut RequestState, StreamKind),
    Writer(
        &'a mut FCGX_Stream,
        &'a mut FdIo,
        &'a mut RecordStreamWriter,
    ),
}

/// # Safety
/// `stream` is NULL or a stream this library handed out and has not freed.
pub unsafe fn target<'a>(stream: *mut FCGX_Stream) -> Option<Target<'a>> {
    if stream.is_null() {
        return None;
    }
    // SAFETY: caller guarantees a live stream of ours; `data` is always set by us.
    let data = unsafe { (*stream).data } as *mut StreamData;
    if data.is_null() {
        return None;
    }
    // SAFETY: `data` points at the StreamData that belongs to this stream.
    let data = unsafe { &mut *data };
    match &mut data.owner {
        // SAFETY: a request stream's owner is the live RequestState that contains it; no other
        // reference to it exists while a C call into this library runs on this request.
        Owner::Request(state) => Some(Target::Request(unsafe { &mut **state }, data.kind)),
        Owner::Writer(io, w) => {
            // SAFETY: a writer stream is the first field of its WriterStream allocation.
            let stream = unsafe { &mut *stream };
            Some(Target::Writer(stream, io, w))
        }
    }
}

/// # Safety
/// `req` is NULL or points at an `FCGX_Request` (80 bytes) the application owns.
pub unsafe fn request<'a>(req: *mut FCGX_Request) -> Option<&'a mut FCGX_Request> {
    // SAFETY: per the contract above.
    unsafe { req.as_mut() }
}

/// The state hanging off a request, if it has one.
///
/// # Safety
/// `paramsPtr` is NULL or was set by this library.
pub unsafe fn state_of<'a>(req: &FCGX_Request) -> Option<&'a mut RequestState> {
    // SAFETY: we only ever store a leaked Box<RequestState> in paramsPtr.
    unsafe { (req.paramsPtr as *mut RequestState).as_mut() }
}

/// Records the first error of a stream and closes it, as libfcgi does.
pub fn set_error(stream: &mut FCGX_Stream, err: c_int) {
    if stream.FCGI_errno == 0 {
        stream.FCGI_errno = err;
    }
    stream.isClosed = 1;
}

pub fn input_errno(e: InputError) -> c_int {
    match e {
        InputError::Aborted => libc::ECONNABORTED,
        InputError::Protocol => FCGX_PROTOCOL_ERROR,
        InputError::Os(e) => e,
    }
}

pub fn io_errno(e: &std::io::Error) -> c_int {
    e.raw_os_error().unwrap_or(libc::EIO)
}
