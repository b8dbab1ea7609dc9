//! What a connection needs from its byte stream. The engine uses a socket; tests and fuzzers
//! use [`MemoryTransport`], so the whole request state machine runs without any I/O.

use std::io::{self, IoSlice};

pub trait Transport {
    /// Reads into `buf`. With `wait == false` it must not block: no data is
    /// `ErrorKind::WouldBlock`. `Ok(0)` means the peer closed. EINTR is retried inside.
    fn recv(&mut self, buf: &mut [u8], wait: bool) -> io::Result<usize>;
    /// Writes some of `bufs`, blocking until at least one byte is written. Never raises
    /// SIGPIPE. EINTR is retried inside.
    fn send_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Reads, waiting at most a short time the transport chooses (`WouldBlock` when nothing
    /// came). The default does not wait at all.
    fn recv_bounded(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf, false)
    }
}

/// Writes every byte of `bufs`, however many calls it takes.
pub fn send_all<T: Transport + ?Sized>(io: &mut T, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        let n = io.send_vectored(bufs)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, n);
    }
    Ok(())
}

/// An in-memory peer: reads come from `input` (in `chunk`-sized pieces, to exercise every
/// split), writes go to `output`.
#[derive(Debug, Default)]
pub struct MemoryTransport {
    pub input: Vec<u8>,
    pub pos: usize,
    pub chunk: usize,
    pub output: Vec<u8>,
    /// When the input runs out: `true` reports a closed peer, `false` reports WouldBlock.
    pub eof_at_end: bool,
}

impl MemoryTransport {
    pub fn new(input: Vec<u8>, chunk: usize) -> Self {
        MemoryTransport {
            input,
            pos: 0,
            chunk: chunk.max(1),
            output: Vec::new(),
            eof_at_end: true,
        }
    }
}

impl Transport for MemoryTransport {
    fn recv(&mut self, buf: &mut [u8], _wait: bool) -> io::Result<usize> {
        let left = self.input.len() - self.pos;
        if left == 0 {
            return if self.eof_at_end {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = left.min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }

    fn send_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            self.output.extend_from_slice(b);
            n += b.len();
        }
        Ok(n)
    }
}
