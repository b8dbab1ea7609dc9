//! Output framing: STDOUT/STDERR bytes become records in one reusable buffer.
//!
//! Small responses stay in the buffer until the request ends and leave in a single write
//! together with the stream EOF records and END_REQUEST. Large writes bypass the buffer:
//! their bytes go to the kernel by `writev` straight from the caller's slice, framed by
//! headers built on the stack.

use super::transport::{send_all, Transport};
use crate::protocol::{encode_end_request, Header, ProtocolStatus, RecordType};
use std::io::{self, IoSlice};

/// Content bytes per record: the largest multiple of 8 a record can carry, so full records
/// need no padding.
pub const RECORD_CONTENT_MAX: usize = 65528;
/// Buffered bytes that trigger a write.
pub const FLUSH_AT: usize = 64 * 1024;
/// Writes at least this large skip the buffer.
pub const DIRECT_WRITE_MIN: usize = 32 * 1024;
/// Records per `writev` on the direct path (16 × 64 KiB).
const DIRECT_BATCH: usize = 16;
const ZEROS: [u8; 8] = [0; 8];

/// The two output streams of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutStream {
    Stdout,
    Stderr,
}

impl OutStream {
    fn record_type(self) -> RecordType {
        match self {
            OutStream::Stdout => RecordType::STDOUT,
            OutStream::Stderr => RecordType::STDERR,
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
pub struct OutputFramer {
    buf: Vec<u8>,
    /// The record being filled: its stream and where its header placeholder sits.
    open: Option<(OutStream, usize)>,
    used: [bool; 2],
    closed: [bool; 2],
    request_id: u16,
}

impl OutputFramer {
    pub fn new() -> Self {
        OutputFramer {
            buf: Vec::with_capacity(FLUSH_AT + RECORD_CONTENT_MAX),
            open: None,
            used: [false; 2],
            closed: [false; 2],
            request_id: 0,
        }
    }

    /// Starts a new request; the buffer keeps its capacity.
    pub fn reset(&mut self, request_id: u16) {
        self.buf.clear();
        self.open = None;
        self.used = [false; 2];
        self.closed = [false; 2];
        self.request_id = request_id;
    }

    pub fn is_closed(&self, s: OutStream) -> bool {
        self.closed[s.index()]
    }

    /// Appends `data` to stream `s`, writing when enough is buffered.
    pub fn write<T: Transport + ?Sized>(
        &mut self,
        io: &mut T,
        s: OutStream,
        data: &[u8],
    ) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.used[s.index()] = true;
        if data.len() >= DIRECT_WRITE_MIN {
            return self.write_direct(io, s, data);
        }
        let mut rest = data;
        while !rest.is_empty() {
            let start = match self.open {
                Some((open_s, start)) if open_s == s => start,
                _ => {
                    self.close_open();
                    let start = self.buf.len();
                    self.buf.extend_from_slice(&[0; 8]);
                    self.open = Some((s, start));
                    start
                }
            };
            let room = RECORD_CONTENT_MAX - (self.buf.len() - start - 8);
            let n = room.min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if n == room {
                self.close_open();
            }
        }
        if self.buf.len() >= FLUSH_AT {
            self.flush(io)?;
        }
        Ok(())
    }

    /// Frames `data` as records and hands it to the kernel with the buffered bytes in front,
    /// without copying it.
    fn write_direct<T: Transport + ?Sized>(
        &mut self,
        io: &mut T,
        s: OutStream,
        data: &[u8],
    ) -> io::Result<()> {
        self.close_open();
        let mut headers = [[0u8; 8]; DIRECT_BATCH];
        let mut rest = data;
        while !rest.is_empty() {
            let mut chunks: [&[u8]; DIRECT_BATCH] = [&[]; DIRECT_BATCH];
            let mut count = 0;
            while count < DIRECT_BATCH && !rest.is_empty() {
                let n = rest.len().min(RECORD_CONTENT_MAX);
                let h = Header::new(s.record_type(), self.request_id, n as u16);
                headers[count] = h.encode();
                chunks[count] = &rest[..n];
                rest = &rest[n..];
                count += 1;
            }
            let mut slices: [IoSlice<'_>; 1 + 3 * DIRECT_BATCH] =
                [IoSlice::new(&[]); 1 + 3 * DIRECT_BATCH];
            slices[0] = IoSlice::new(&self.buf);
            for i in 0..count {
                let pad = crate::protocol::padding_for(chunks[i].len());
                slices[1 + 3 * i] = IoSlice::new(&headers[i]);
                slices[2 + 3 * i] = IoSlice::new(chunks[i]);
                slices[3 + 3 * i] = IoSlice::new(&ZEROS[..pad]);
            }
            send_all(io, &mut slices[..1 + 3 * count])?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Finishes the open record: fills in its header and pads it to a multiple of 8.
    fn close_open(&mut self) {
        let Some((s, start)) = self.open.take() else {
            return;
        };
        let len = self.buf.len() - start - 8;
        if len == 0 {
            self.buf.truncate(start);
            return;
        }
        let h = Header::new(s.record_type(), self.request_id, len as u16);
        self.buf[start..start + 8].copy_from_slice(&h.encode());
        self.buf
            .extend_from_slice(&ZEROS[..h.padding_length as usize]);
    }

    /// Sends everything buffered. An empty buffer writes nothing (no empty record either).
    pub fn flush<T: Transport + ?Sized>(&mut self, io: &mut T) -> io::Result<()> {
        self.close_open();
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = send_all(io, &mut [IoSlice::new(&self.buf)]);
        self.buf.clear();
        r
    }

    /// Appends stream `s`'s EOF record. As libfcgi, an unused STDERR gets no EOF record.
    pub fn close_stream(&mut self, s: OutStream) {
        if self.closed[s.index()] {
            return;
        }
        self.close_open();
        self.closed[s.index()] = true;
        if s == OutStream::Stderr && !self.used[s.index()] {
            return;
        }
        self.buf
            .extend_from_slice(&Header::new(s.record_type(), self.request_id, 0).encode());
    }

    /// Appends the end of the request in libfcgi's order — STDERR EOF (if STDERR was used),
    /// STDOUT EOF, END_REQUEST — and sends it all in one write with whatever is buffered.
    pub fn end_request<T: Transport + ?Sized>(
        &mut self,
        io: &mut T,
        app_status: i32,
    ) -> io::Result<()> {
        self.close_stream(OutStream::Stderr);
        self.close_stream(OutStream::Stdout);
        self.buf.extend_from_slice(&encode_end_request(
            self.request_id,
            app_status,
            ProtocolStatus::RequestComplete,
        ));
        self.flush(io)
    }

    /// Drops buffered output (the peer is gone or the request was aborted).
    pub fn discard(&mut self) {
        self.buf.clear();
        self.open = None;
    }
}

impl Default for OutputFramer {
    fn default() -> Self {
        Self::new()
    }
}

/// A standalone record stream (`FCGX_CreateWriter`): bytes written become records of one
/// type and request id, `record_max` content bytes at most; closing sends the empty EOF
/// record. Used by clients such as cgi-fcgi to send PARAMS and STDIN.
#[derive(Debug)]
pub struct RecordStreamWriter {
    record_type: RecordType,
    request_id: u16,
    record_max: usize,
    buf: Vec<u8>,
}

impl RecordStreamWriter {
    /// `buffer_len` follows libfcgi: the buffer is clamped to 32..=65536 bytes, rounded up to
    /// a multiple of 8, and holds one record with its 8-byte header.
    pub fn new(record_type: RecordType, request_id: u16, buffer_len: usize) -> Self {
        let len = (buffer_len.clamp(32, 65536) + 7) & !7;
        RecordStreamWriter {
            record_type,
            request_id,
            record_max: len - 8,
            buf: Vec::with_capacity(len),
        }
    }

    pub fn write<T: Transport + ?Sized>(&mut self, io: &mut T, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = (self.record_max - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == self.record_max {
                self.flush(io)?;
            }
        }
        Ok(())
    }

    /// Sends the buffered bytes as one record (nothing when empty).
    pub fn flush<T: Transport + ?Sized>(&mut self, io: &mut T) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let h = Header::new(self.record_type, self.request_id, self.buf.len() as u16);
        let r = send_all(
            io,
            &mut [
                IoSlice::new(&h.encode()),
                IoSlice::new(&self.buf),
                IoSlice::new(&ZEROS[..h.padding_length as usize]),
            ],
        );
        self.buf.clear();
        r
    }

    /// Flushes, then sends the stream's EOF record.
    pub fn close<T: Transport + ?Sized>(&mut self, io: &mut T) -> io::Result<()> {
        self.flush(io)?;
        send_all(
            io,
            &mut [IoSlice::new(
                &Header::new(self.record_type, self.request_id, 0).encode(),
            )],
        )
    }
}
