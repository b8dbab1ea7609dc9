//! The read buffer of one connection. Bytes read ahead stay here across requests, so a
//! pipelined or kept-alive request that arrived with the previous one is never lost.

use super::transport::Transport;
use std::io;

/// Default capacity: any BEGIN_REQUEST or GET_VALUES record a web server sends fits, and
/// one read takes a whole typical request head plus body chunk.
pub const READ_BUF_LEN: usize = 16 * 1024;

#[derive(Debug)]
pub struct ReadBuf {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    pub fn new(capacity: usize) -> Self {
        ReadBuf {
            buf: vec![0; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// One read into the free space (moving unread bytes to the front first if needed).
    /// Returns the bytes read; `Ok(0)` is a closed peer.
    pub fn fill<T: Transport + ?Sized>(&mut self, io: &mut T, wait: bool) -> io::Result<usize> {
        self.fill_by(|buf| io.recv(buf, wait))
    }

    /// [`ReadBuf::fill`] with the read supplied by the caller.
    pub fn fill_by(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.end == self.buf.len() {
            if self.start == 0 {
                return Err(io::Error::other("read buffer full"));
            }
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }
}
