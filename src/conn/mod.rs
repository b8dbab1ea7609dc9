//! One connection to a web server, serving one request at a time.
//!
//! [`Connection`] is a state machine over a [`Transport`]: it reads records into its
//! [`ReadBuf`], answers management records itself, builds the request head (BEGIN_REQUEST +
//! PARAMS) into its [`ParamsArena`], then streams STDIN/DATA to the program on demand and frames
//! the program's output. It never blocks unless asked to (`wait`), so the accept engine can
//! watch many idle connections at once.

mod output;
mod params;
mod readbuf;
mod transport;

pub use output::{
    OutStream, OutputFramer, RecordStreamWriter, DIRECT_WRITE_MIN, FLUSH_AT, RECORD_CONTENT_MAX,
};
pub use params::{Entry, ParamsArena};
pub use readbuf::{ReadBuf, READ_BUF_LEN};
pub use transport::{send_all, MemoryTransport, Transport};

use crate::limits::Limits;
use crate::protocol::{
    encode_end_request, encode_get_values_result, encode_unknown_type, BeginRequest,
    GetValuesAnswer, Header, NvError, PairDecoder, ProtocolStatus, RecordType, Role,
    GET_VALUES_RESULT_MAX, HEADER_LEN, VERSION_1,
};
use std::fmt;
use std::io::{self, IoSlice};

/// Why a connection cannot go on. The engine logs everything but `Closed` and `Done`.
#[derive(Debug)]
pub enum ConnError {
    /// The peer closed the connection between requests: the normal end of a connection.
    Closed,
    /// The connection was finished on purpose (e.g. after refusing an unknown role without
    /// FCGI_KEEP_CONN).
    Done,
    Io(io::Error),
    Protocol(ProtocolError),
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnError::Closed => f.write_str("peer closed the connection"),
            ConnError::Done => f.write_str("connection finished"),
            ConnError::Io(e) => write!(f, "I/O error: {e}"),
            ConnError::Protocol(p) => write!(f, "protocol error: {p}"),
        }
    }
}

impl From<ProtocolError> for ConnError {
    fn from(p: ProtocolError) -> Self {
        ConnError::Protocol(p)
    }
}

/// A peer that broke the FastCGI protocol. Each variant says what it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    UnsupportedVersion(u8),
    BeginRequestIdZero,
    BeginRequestLength(u16),
    /// A record that must be handled whole is larger than the read buffer.
    RecordTooLarge {
        record_type: u8,
        len: usize,
    },
    Params(NvError),
    GetValues,
    /// A record of this type for the active request, where it is not allowed.
    Unexpected {
        record_type: u8,
        during: &'static str,
    },
    /// The peer closed in the middle of a record or request.
    ClosedMidRequest,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v}"),
            ProtocolError::BeginRequestIdZero => f.write_str("BEGIN_REQUEST with request id 0"),
            ProtocolError::BeginRequestLength(n) => {
                write!(f, "BEGIN_REQUEST body of {n} bytes (must be 8)")
            }
            ProtocolError::RecordTooLarge { record_type, len } => {
                write!(
                    f,
                    "{} record of {len} bytes is larger than the read buffer",
                    RecordType(*record_type).name()
                )
            }
            ProtocolError::Params(e) => write!(f, "bad PARAMS: {e}"),
            ProtocolError::GetValues => f.write_str("malformed GET_VALUES body"),
            ProtocolError::Unexpected {
                record_type,
                during,
            } => write!(
                f,
                "unexpected {} record (type {record_type}) during {during}",
                RecordType(*record_type).name()
            ),
            ProtocolError::ClosedMidRequest => {
                f.write_str("peer closed the connection in the middle of a request")
            }
        }
    }
}

/// An error on the request's input stream, as the C API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputError {
    /// The web server sent ABORT_REQUEST.
    Aborted,
    /// The peer broke the protocol (libfcgi's `FCGX_PROTOCOL_ERROR`).
    Protocol,
    /// A system error (`errno`).
    Os(i32),
}

/// What happens to a connection once its request is finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Kept open for the next request (FCGI_KEEP_CONN and no error).
    Keep,
    /// To be closed; `linger` when the peer may still be sending input, so closing at once
    /// could reset the connection before the peer has read the response.
    Close { linger: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitBegin,
    Params,
    Active,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sink {
    Params,
    Input,
    Skip,
}

#[derive(Clone, Copy, Debug)]
enum Cursor {
    Header,
    Body {
        record_type: u8,
        sink: Sink,
        content_left: usize,
        pad_left: usize,
    },
}

#[derive(Debug)]
struct InputState {
    /// STDIN, or DATA after `start_filter_data`.
    kind: RecordType,
    eof: bool,
    stdin_eof: bool,
    error: Option<InputError>,
}

impl InputState {
    fn new() -> Self {
        InputState {
            kind: RecordType::STDIN,
            eof: false,
            stdin_eof: false,
            error: None,
        }
    }
}

/// How long [`Connection::read_head`] may wait for bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeadWait {
    No,
    Bounded,
    Forever,
}

/// Result of one processing step over buffered bytes.
enum Step {
    /// Something was consumed; go on.
    Progress,
    /// More bytes are needed.
    NeedMore,
    /// The request head is complete.
    HeadReady,
}

/// One connection; see the module docs.
#[derive(Debug)]
pub struct Connection<T: Transport> {
    io: T,
    rbuf: ReadBuf,
    cursor: Cursor,
    phase: Phase,
    request_id: u16,
    role: Role,
    keep_conn: bool,
    params: ParamsArena,
    decoder: PairDecoder,
    input: InputState,
    out: OutputFramer,
    /// The output failed; nothing more is written on this connection.
    out_broken: bool,
    limits: Limits,
    answer: GetValuesAnswer,
}

impl<T: Transport> Connection<T> {
    pub fn new(io: T, limits: Limits, answer: GetValuesAnswer) -> Self {
        Connection {
            io,
            rbuf: ReadBuf::new(READ_BUF_LEN),
            cursor: Cursor::Header,
            phase: Phase::AwaitBegin,
            request_id: 0,
            role: Role::Responder,
            keep_conn: false,
            params: ParamsArena::new(),
            decoder: PairDecoder::new(),
            input: InputState::new(),
            out: OutputFramer::new(),
            out_broken: false,
            limits,
            answer,
        }
    }

    /// Makes a recycled connection object serve a new transport (keeps every buffer).
    pub fn reuse(&mut self, io: T, limits: Limits, answer: GetValuesAnswer) {
        self.io = io;
        self.rbuf.clear();
        self.cursor = Cursor::Header;
        self.phase = Phase::AwaitBegin;
        self.params.clear();
        self.decoder.reset();
        self.input = InputState::new();
        self.out.reset(0);
        self.out_broken = false;
        self.limits = limits;
        self.answer = answer;
    }

    pub fn transport(&self) -> &T {
        &self.io
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.io
    }

    pub fn set_answer(&mut self, answer: GetValuesAnswer) {
        self.answer = answer;
    }

    pub fn request_id(&self) -> u16 {
        self.request_id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn keep_conn(&self) -> bool {
        self.keep_conn
    }

    pub fn params(&self) -> &ParamsArena {
        &self.params
    }

    pub fn params_mut(&mut self) -> &mut ParamsArena {
        &mut self.params
    }

    /// True while a request head has been delivered and not yet finished.
    pub fn in_request(&self) -> bool {
        self.phase == Phase::Active
    }

    /// Whether bytes of a next request are already buffered (a pipelined request).
    pub fn has_buffered_input(&self) -> bool {
        !self.rbuf.is_empty()
    }

    // ----- reading the request head -------------------------------------------------------

    /// Advances towards a complete request head. Returns `Ok(true)` when BEGIN_REQUEST and all
    /// PARAMS have arrived, `Ok(false)` when more bytes are needed and `wait` is false (or the
    /// transport would block). Management records met on the way are answered.
    pub fn read_head(&mut self, wait: bool) -> Result<bool, ConnError> {
        self.read_head_by(if wait {
            HeadWait::Forever
        } else {
            HeadWait::No
        })
    }

    /// [`Connection::read_head`], waiting for bytes at most as long as the transport's
    /// [`Transport::recv_bounded`] does.
    pub fn read_head_bounded(&mut self) -> Result<bool, ConnError> {
        self.read_head_by(HeadWait::Bounded)
    }

    fn read_head_by(&mut self, wait: HeadWait) -> Result<bool, ConnError> {
        debug_assert!(self.phase != Phase::Active);
        loop {
            match self.step()? {
                Step::HeadReady => return Ok(true),
                Step::Progress => continue,
                Step::NeedMore => match self.fill_head(wait) {
                    Ok(0) => {
                        let idle = self.phase == Phase::AwaitBegin
                            && self.rbuf.is_empty()
                            && matches!(self.cursor, Cursor::Header);
                        return Err(if idle {
                            ConnError::Closed
                        } else {
                            ProtocolError::ClosedMidRequest.into()
                        });
                    }
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) => return Err(ConnError::Io(e)),
                },
            }
        }
    }

    fn fill_head(&mut self, wait: HeadWait) -> io::Result<usize> {
        let io = &mut self.io;
        match wait {
            HeadWait::No => self.rbuf.fill(io, false),
            HeadWait::Forever => self.rbuf.fill(io, true),
            HeadWait::Bounded => self.rbuf.fill_by(|b| io.recv_bounded(b)),
        }
    }

    /// Processes buffered bytes: at most one header, or one stretch of a record body.
    fn step(&mut self) -> Result<Step, ConnError> {
        match self.cursor {
            Cursor::Header => self.on_header(),
            Cursor::Body {
                record_type,
                sink,
                content_left,
                pad_left,
            } => {
                if content_left > 0 {
                    let avail = self.rbuf.len().min(content_left);
                    if avail == 0 {
                        return Ok(Step::NeedMore);
                    }
                    match sink {
                        // Input bytes are taken by the reader, not here.
                        Sink::Input => return Ok(Step::NeedMore),
                        Sink::Params => {
                            let Connection {
                                rbuf,
                                decoder,
                                params,
                                limits,
                                ..
                            } = self;
                            let mut chunk = &rbuf.data()[..avail];
                            if decoder.is_at_boundary() {
                                // Whole pairs straight from the buffer; only a pair that
                                // continues in the next record goes through the decoder.
                                let done = params
                                    .append_pairs(chunk, limits)
                                    .map_err(ProtocolError::Params)?;
                                chunk = &chunk[done..];
                            }
                            decoder
                                .feed(chunk, |ev| params.apply(ev, limits))
                                .map_err(ProtocolError::Params)?;
                        }
                        Sink::Skip => {}
                    }
                    self.rbuf.consume(avail);
                    self.set_body(record_type, sink, content_left - avail, pad_left);
                    return Ok(Step::Progress);
                }
                let avail = self.rbuf.len().min(pad_left);
                if avail == 0 && pad_left > 0 {
                    return Ok(Step::NeedMore);
                }
                self.rbuf.consume(avail);
                self.set_body(record_type, sink, 0, pad_left - avail);
                Ok(Step::Progress)
            }
        }
    }

    fn set_body(&mut self, record_type: u8, sink: Sink, content_left: usize, pad_left: usize) {
        self.cursor = if content_left == 0 && pad_left == 0 {
            Cursor::Header
        } else {
            Cursor::Body {
                record_type,
                sink,
                content_left,
                pad_left,
            }
        };
    }

    /// Consumes the header and starts streaming the record body into `sink`.
    fn start_body(&mut self, h: &Header, sink: Sink) {
        self.rbuf.consume(HEADER_LEN);
        self.set_body(
            h.record_type.0,
            sink,
            h.content_length as usize,
            h.padding_length as usize,
        );
    }

    /// The whole record (header, content, padding) if it is buffered.
    fn whole_record(&self, h: &Header) -> Result<Option<usize>, ProtocolError> {
        let total = HEADER_LEN + h.body_len();
        if total > self.rbuf.capacity() {
            return Err(ProtocolError::RecordTooLarge {
                record_type: h.record_type.0,
                len: h.content_length as usize,
            });
        }
        Ok((self.rbuf.len() >= total).then_some(total))
    }

    fn send_now(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        send_all(&mut self.io, &mut [IoSlice::new(bytes)]).map_err(ConnError::Io)
    }

    /// Dispatches on the record header at the front of the buffer.
    fn on_header(&mut self) -> Result<Step, ConnError> {
        let Some(h) = Header::parse(self.rbuf.data()) else {
            return Ok(Step::NeedMore);
        };
        if h.version != VERSION_1 {
            return Err(ProtocolError::UnsupportedVersion(h.version).into());
        }
        if h.record_type == RecordType::BEGIN_REQUEST && h.is_management() {
            return Err(ProtocolError::BeginRequestIdZero.into());
        }
        if h.is_management() {
            return self.on_management(&h);
        }
        if h.record_type == RecordType::BEGIN_REQUEST {
            return self.on_begin(&h);
        }
        if self.phase == Phase::AwaitBegin || h.request_id != self.request_id {
            // Leftovers of a finished request, stray empty STDIN records, or records for a
            // request we refused: skipped.
            self.start_body(&h, Sink::Skip);
            return Ok(Step::Progress);
        }
        match h.record_type {
            RecordType::PARAMS if self.phase == Phase::Params => {
                if h.content_length > 0 {
                    self.start_body(&h, Sink::Params);
                    return Ok(Step::Progress);
                }
                if !self.decoder.is_at_boundary() {
                    return Err(ProtocolError::Params(NvError::Truncated).into());
                }
                self.start_body(&h, Sink::Skip);
                self.phase = Phase::Active;
                Ok(Step::HeadReady)
            }
            RecordType::ABORT_REQUEST => {
                self.start_body(&h, Sink::Skip);
                if self.phase == Phase::Params {
                    // The program has not seen this request: end it here.
                    let end =
                        encode_end_request(self.request_id, 0, ProtocolStatus::RequestComplete);
                    self.send_now(&end)?;
                    self.phase = Phase::AwaitBegin;
                    if !self.keep_conn {
                        return Err(ConnError::Done);
                    }
                } else {
                    self.input.error.get_or_insert(InputError::Aborted);
                }
                crate::log::info(format_args!(
                    "request {}: aborted by the web server (ABORT_REQUEST)",
                    self.request_id
                ));
                Ok(Step::Progress)
            }
            t if self.phase == Phase::Active && t == self.input.kind && !self.input.eof => {
                if h.content_length == 0 {
                    self.start_body(&h, Sink::Skip);
                    self.input.eof = true;
                    if t == RecordType::STDIN {
                        self.input.stdin_eof = true;
                    }
                } else {
                    self.start_body(&h, Sink::Input);
                }
                Ok(Step::Progress)
            }
            RecordType::STDIN | RecordType::DATA if h.content_length == 0 => {
                // A repeated EOF, tolerated.
                self.start_body(&h, Sink::Skip);
                Ok(Step::Progress)
            }
            t => Err(ProtocolError::Unexpected {
                record_type: t.0,
                during: if self.phase == Phase::Params {
                    "PARAMS"
                } else {
                    "the request body"
                },
            }
            .into()),
        }
    }

    fn on_management(&mut self, h: &Header) -> Result<Step, ConnError> {
        if h.record_type != RecordType::GET_VALUES {
            // Answer, and skip the content: it never reaches any stream.
            self.send_now(&encode_unknown_type(h.record_type))?;
            self.start_body(h, Sink::Skip);
            return Ok(Step::Progress);
        }
        let Some(total) = self.whole_record(h)? else {
            return Ok(Step::NeedMore);
        };
        let mut reply = [0u8; GET_VALUES_RESULT_MAX];
        let content = &self.rbuf.data()[HEADER_LEN..HEADER_LEN + h.content_length as usize];
        let n = encode_get_values_result(content, &self.answer, &mut reply)
            .map_err(|_| ProtocolError::GetValues)?;
        self.rbuf.consume(total);
        self.send_now(&reply[..n])?;
        Ok(Step::Progress)
    }

    fn on_begin(&mut self, h: &Header) -> Result<Step, ConnError> {
        if h.content_length as usize != crate::protocol::BEGIN_BODY_LEN {
            return Err(ProtocolError::BeginRequestLength(h.content_length).into());
        }
        let Some(total) = self.whole_record(h)? else {
            return Ok(Step::NeedMore);
        };
        let body = BeginRequest::parse(&self.rbuf.data()[HEADER_LEN..HEADER_LEN + 8])
            .expect("8-byte body");
        self.rbuf.consume(total);
        if self.phase != Phase::AwaitBegin {
            // One request at a time per connection.
            let end = encode_end_request(h.request_id, 0, ProtocolStatus::CantMpxConn);
            self.send_now(&end)?;
            return Ok(Step::Progress);
        }
        let Some(role) = Role::from_u16(body.role) else {
            let end = encode_end_request(h.request_id, 0, ProtocolStatus::UnknownRole);
            self.send_now(&end)?;
            crate::log::info(format_args!(
                "refused request with unknown role {}",
                body.role
            ));
            return if body.keep_conn() {
                Ok(Step::Progress)
            } else {
                Err(ConnError::Done)
            };
        };
        self.request_id = h.request_id;
        self.role = role;
        self.keep_conn = body.keep_conn();
        self.params.clear();
        self.params.push_role(role);
        self.decoder.reset();
        self.input = InputState::new();
        self.out.reset(h.request_id);
        self.out_broken = false;
        self.phase = Phase::Params;
        Ok(Step::Progress)
    }

    // ----- request input (STDIN, DATA) -------------------------------------------------------

    /// The input bytes available now without a read, after processing any records in front of
    /// them; an empty slice at EOF. With `wait`, reads (blocking) until at least one byte or
    /// EOF; without, stops at an empty buffer with `Err(None)`.
    fn input_chunk(&mut self, wait: bool) -> Result<&[u8], Option<InputError>> {
        loop {
            if let Some(e) = self.input.error {
                return Err(Some(e));
            }
            if let Cursor::Body {
                sink: Sink::Input,
                content_left,
                ..
            } = self.cursor
            {
                if content_left > 0 && !self.rbuf.is_empty() {
                    let n = content_left.min(self.rbuf.len());
                    return Ok(&self.rbuf.data()[..n]);
                }
            } else if self.input.eof && matches!(self.cursor, Cursor::Header) {
                return Ok(&[]);
            }
            let step = match self.step() {
                Ok(s) => s,
                Err(e) => {
                    let err = match &e {
                        ConnError::Io(io) => InputError::Os(io.raw_os_error().unwrap_or(libc::EIO)),
                        _ => InputError::Protocol,
                    };
                    if let ConnError::Protocol(p) = &e {
                        crate::log::warn(format_args!("request {}: {p}", self.request_id));
                    }
                    self.input.error = Some(err);
                    continue;
                }
            };
            match step {
                Step::Progress => {}
                Step::HeadReady => unreachable!("head is complete while input is read"),
                Step::NeedMore => {
                    if self.input.eof
                        && !matches!(
                            self.cursor,
                            Cursor::Body {
                                sink: Sink::Input,
                                ..
                            }
                        )
                    {
                        // EOF seen; only padding of the EOF record is outstanding.
                        return Ok(&[]);
                    }
                    if !wait {
                        return Err(None);
                    }
                    match self.rbuf.fill(&mut self.io, true) {
                        Ok(0) => self.input.error = Some(InputError::Protocol),
                        Ok(_) => {}
                        Err(e) => {
                            self.input.error =
                                Some(InputError::Os(e.raw_os_error().unwrap_or(libc::EIO)))
                        }
                    }
                }
            }
        }
    }

    /// The input bytes available now, reading (blocking) if none are; empty at EOF.
    pub fn input_buf(&mut self) -> Result<&[u8], InputError> {
        self.input_chunk(true).map_err(|e| e.expect("waiting read"))
    }

    /// Marks `n` bytes of [`Connection::input_buf`] as read.
    pub fn consume_input(&mut self, n: usize) {
        if let Cursor::Body {
            record_type,
            sink: Sink::Input,
            content_left,
            pad_left,
        } = self.cursor
        {
            self.rbuf.consume(n);
            self.set_body(record_type, Sink::Input, content_left - n, pad_left);
        }
    }

    /// Reads up to `buf.len()` input bytes, blocking until at least one is there; 0 at EOF.
    /// Large reads of a body that is not buffered go straight into `buf` (no double copy).
    pub fn read_input(&mut self, buf: &mut [u8]) -> Result<usize, InputError> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Cursor::Body {
            record_type,
            sink: Sink::Input,
            content_left,
            pad_left,
        } = self.cursor
        {
            if self.rbuf.is_empty()
                && content_left >= buf.len().min(READ_BUF_LEN)
                && buf.len() >= 4096
            {
                let want = buf.len().min(content_left);
                return match self.io.recv(&mut buf[..want], true) {
                    Ok(0) => Err(*self.input.error.insert(InputError::Protocol)),
                    Ok(n) => {
                        self.set_body(record_type, Sink::Input, content_left - n, pad_left);
                        Ok(n)
                    }
                    Err(e) => Err(*self
                        .input
                        .error
                        .insert(InputError::Os(e.raw_os_error().unwrap_or(libc::EIO)))),
                };
            }
        }
        let chunk = self
            .input_chunk(true)
            .map_err(|e| e.expect("waiting read"))?;
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        self.consume_input(n);
        Ok(n)
    }

    /// Reads one input byte; `Ok(None)` at EOF.
    pub fn read_input_byte(&mut self) -> Result<Option<u8>, InputError> {
        let chunk = self
            .input_chunk(true)
            .map_err(|e| e.expect("waiting read"))?;
        let Some(&b) = chunk.first() else {
            return Ok(None);
        };
        self.consume_input(1);
        Ok(Some(b))
    }

    /// Whether the current input stream has reached its EOF record.
    pub fn input_eof(&self) -> bool {
        self.input.eof
    }

    pub fn input_error(&self) -> Option<InputError> {
        self.input.error
    }

    pub fn input_kind(&self) -> RecordType {
        self.input.kind
    }

    pub fn is_aborted(&self) -> bool {
        self.input.error == Some(InputError::Aborted)
    }

    /// FILTER role: after STDIN has reached EOF, switch the input to the DATA stream.
    pub fn start_filter_data(&mut self) -> bool {
        if self.role != Role::Filter || self.input.kind != RecordType::STDIN || !self.input.eof {
            return false;
        }
        self.input.kind = RecordType::DATA;
        self.input.eof = false;
        true
    }

    /// Skips input that is already buffered, without reading: tells whether the end of the
    /// request's input has been seen (then closing the socket cannot reset the connection).
    fn drain_buffered_input(&mut self) -> bool {
        loop {
            if let Some(e) = self.input.error {
                // After ABORT_REQUEST the web server sends nothing more for this request.
                return e == InputError::Aborted;
            }
            match self.input_chunk(false) {
                Ok([]) => {
                    if self.input.kind == RecordType::DATA || self.input.stdin_eof {
                        return true;
                    }
                    // STDIN ended but a FILTER request's DATA may follow: keep looking.
                    if !self.start_filter_data() {
                        return true;
                    }
                }
                Ok(chunk) => {
                    let n = chunk.len();
                    self.consume_input(n);
                }
                Err(_) => return false,
            }
        }
    }

    // ----- request output ------------------------------------------------------------------

    /// Writes program output to STDOUT or STDERR.
    pub fn write_output(&mut self, s: OutStream, data: &[u8]) -> io::Result<()> {
        if self.out_broken || self.out.is_closed(s) {
            return Err(io::Error::from_raw_os_error(libc::EPIPE));
        }
        self.out
            .write(&mut self.io, s, data)
            .inspect_err(|_| self.out_broken = true)
    }

    /// Sends buffered output now.
    pub fn flush_output(&mut self) -> io::Result<()> {
        if self.out_broken {
            return Err(io::Error::from_raw_os_error(libc::EPIPE));
        }
        self.out
            .flush(&mut self.io)
            .inspect_err(|_| self.out_broken = true)
    }

    /// Closes one output stream (its EOF record is sent with what is buffered).
    pub fn close_output(&mut self, s: OutStream) -> io::Result<()> {
        if self.out_broken {
            return Err(io::Error::from_raw_os_error(libc::EPIPE));
        }
        self.out.close_stream(s);
        self.flush_output()
    }

    pub fn output_closed(&self, s: OutStream) -> bool {
        self.out.is_closed(s)
    }

    /// Ends the request: remaining output, EOF records and END_REQUEST in one write. Returns
    /// what should happen to the connection.
    pub fn finish(&mut self, app_status: i32) -> Fate {
        if self.phase != Phase::Active {
            return Fate::Close { linger: false };
        }
        let input_done = self.drain_buffered_input();
        self.phase = Phase::AwaitBegin;
        if self.is_aborted() {
            self.out.discard();
        }
        if !self.out_broken {
            self.out_broken = self.out.end_request(&mut self.io, app_status).is_err();
        }
        self.out.reset(0);
        let input_ok = matches!(self.input.error, None | Some(InputError::Aborted));
        if self.keep_conn && !self.out_broken && input_ok {
            if let Cursor::Body {
                record_type,
                content_left,
                pad_left,
                ..
            } = self.cursor
            {
                // The rest of an unread body is skipped as it arrives.
                self.cursor = Cursor::Body {
                    record_type,
                    sink: Sink::Skip,
                    content_left,
                    pad_left,
                };
            }
            Fate::Keep
        } else {
            Fate::Close {
                linger: !input_done && !self.out_broken,
            }
        }
    }
}

#[cfg(test)]
mod tests;
