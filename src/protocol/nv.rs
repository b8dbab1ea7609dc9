//! Name-value pairs (PARAMS, GET_VALUES, GET_VALUES_RESULT bodies).
//!
//! A length is one byte (`0..=127`) or four bytes with the high bit set (31 bits). A PARAMS
//! stream may split a pair, even a length, across records, so the request path uses the
//! streaming [`PairDecoder`]; single-record bodies use the borrowing [`pairs`] iterator.

use std::fmt;

/// Why a name-value stream was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NvError {
    /// The stream ended inside a pair.
    Truncated,
    /// A sink refused a pair (a limit was reached); the reason comes from the sink.
    Refused(&'static str),
}

impl fmt::Display for NvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NvError::Truncated => f.write_str("name-value stream ends inside a pair"),
            NvError::Refused(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for NvError {}

/// What the streaming decoder reports, in order, for each pair.
#[derive(Debug, PartialEq, Eq)]
pub enum PairEvent<'a> {
    /// Both lengths are known; nothing of the pair has been copied yet. This is where a sink
    /// enforces its limits, before any byte of the pair is stored.
    Start { name_len: u32, value_len: u32 },
    /// A piece of the name (pieces arrive in order; together they are `name_len` bytes).
    Name(&'a [u8]),
    /// A piece of the value.
    Value(&'a [u8]),
    /// The pair is complete.
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NameLen,
    ValueLen,
    Name,
    Value,
}

/// Incremental decoder: feed it record contents in order, it calls the sink with events.
#[derive(Clone, Debug)]
pub struct PairDecoder {
    state: State,
    len_buf: [u8; 4],
    len_have: u8,
    name_len: u32,
    value_len: u32,
    left: u32,
}

impl Default for PairDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl PairDecoder {
    pub const fn new() -> Self {
        PairDecoder {
            state: State::NameLen,
            len_buf: [0; 4],
            len_have: 0,
            name_len: 0,
            value_len: 0,
            left: 0,
        }
    }

    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// True when the bytes fed so far end exactly between two pairs.
    pub fn is_at_boundary(&self) -> bool {
        self.state == State::NameLen && self.len_have == 0
    }

    /// Decodes `input`, calling `sink` for every event. Stops at the first error the sink
    /// returns; the decoder must then be reset before reuse.
    pub fn feed<F>(&mut self, mut input: &[u8], mut sink: F) -> Result<(), NvError>
    where
        F: FnMut(PairEvent<'_>) -> Result<(), NvError>,
    {
        while !input.is_empty() {
            match self.state {
                State::NameLen | State::ValueLen => {
                    let Some(len) = self.take_len(&mut input) else {
                        continue;
                    };
                    if self.state == State::NameLen {
                        self.name_len = len;
                        self.state = State::ValueLen;
                        continue;
                    }
                    self.value_len = len;
                    sink(PairEvent::Start {
                        name_len: self.name_len,
                        value_len: self.value_len,
                    })?;
                    self.left = self.name_len;
                    self.state = State::Name;
                    self.finish_empty_parts(&mut sink)?;
                }
                State::Name | State::Value => {
                    let n = (self.left as usize).min(input.len());
                    let (piece, rest) = input.split_at(n);
                    input = rest;
                    self.left -= n as u32;
                    if self.state == State::Name {
                        sink(PairEvent::Name(piece))?;
                    } else {
                        sink(PairEvent::Value(piece))?;
                    }
                    self.finish_empty_parts(&mut sink)?;
                }
            }
        }
        Ok(())
    }

    /// Advances past parts that are complete (or empty): name → value → end of pair.
    fn finish_empty_parts<F>(&mut self, sink: &mut F) -> Result<(), NvError>
    where
        F: FnMut(PairEvent<'_>) -> Result<(), NvError>,
    {
        if self.state == State::Name && self.left == 0 {
            self.state = State::Value;
            self.left = self.value_len;
        }
        if self.state == State::Value && self.left == 0 {
            self.state = State::NameLen;
            sink(PairEvent::End)?;
        }
        Ok(())
    }

    /// Collects one length (1 or 4 bytes) from `input`; `None` if more bytes are needed.
    fn take_len(&mut self, input: &mut &[u8]) -> Option<u32> {
        if self.len_have == 0 {
            let first = input[0];
            *input = &input[1..];
            if first & 0x80 == 0 {
                return Some(first as u32);
            }
            self.len_buf[0] = first & 0x7f;
            self.len_have = 1;
        }
        while self.len_have < 4 {
            let (&b, rest) = input.split_first()?;
            *input = rest;
            self.len_buf[self.len_have as usize] = b;
            self.len_have += 1;
        }
        self.len_have = 0;
        Some(u32::from_be_bytes(self.len_buf))
    }
}

/// Borrowing iterator over the pairs of one complete body.
pub fn pairs(body: &[u8]) -> Pairs<'_> {
    Pairs { rest: body }
}

/// See [`pairs`].
#[derive(Clone, Debug)]
pub struct Pairs<'a> {
    rest: &'a [u8],
}

impl<'a> Pairs<'a> {
    fn len(&mut self) -> Option<usize> {
        let first = *self.rest.first()?;
        if first & 0x80 == 0 {
            self.rest = &self.rest[1..];
            return Some(first as usize);
        }
        let b: [u8; 4] = self.rest.get(..4)?.try_into().ok()?;
        self.rest = &self.rest[4..];
        Some((u32::from_be_bytes(b) & 0x7fff_ffff) as usize)
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), NvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let parsed = (|| {
            let nl = self.len()?;
            let vl = self.len()?;
            // Both lengths are bounded by the body we hold, so this cannot overflow or over-read.
            if nl > self.rest.len() || vl > self.rest.len() - nl {
                return None;
            }
            let (name, rest) = self.rest.split_at(nl);
            let (value, rest) = rest.split_at(vl);
            self.rest = rest;
            Some((name, value))
        })();
        match parsed {
            Some(p) => Some(Ok(p)),
            None => {
                self.rest = &[];
                Some(Err(NvError::Truncated))
            }
        }
    }
}

fn len_bytes(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        4
    }
}

/// Bytes [`encode_pair`] appends for this pair.
pub fn encoded_pair_len(name: &[u8], value: &[u8]) -> usize {
    len_bytes(name.len()) + len_bytes(value.len()) + name.len() + value.len()
}

/// Appends one encoded pair to `out`. Lengths above 31 bits cannot be encoded; callers keep
/// pairs far below that (a record holds at most 65535 bytes).
pub fn encode_pair(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    for len in [name.len(), value.len()] {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            out.extend_from_slice(&((len as u32 & 0x7fff_ffff) | 0x8000_0000).to_be_bytes());
        }
    }
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    fn decode_all(chunks: &[&[u8]]) -> Result<Pairs, NvError> {
        let mut d = PairDecoder::new();
        let mut out = Vec::new();
        let mut cur = (Vec::new(), Vec::new());
        for c in chunks {
            d.feed(c, |ev| {
                match ev {
                    PairEvent::Start { .. } => cur = (Vec::new(), Vec::new()),
                    PairEvent::Name(p) => cur.0.extend_from_slice(p),
                    PairEvent::Value(p) => cur.1.extend_from_slice(p),
                    PairEvent::End => out.push(std::mem::take(&mut cur)),
                }
                Ok(())
            })?;
        }
        if !d.is_at_boundary() {
            return Err(NvError::Truncated);
        }
        Ok(out)
    }

    #[test]
    fn one_and_four_byte_lengths() {
        let long = vec![b'v'; 300];
        let mut body = Vec::new();
        encode_pair(b"A", b"1", &mut body);
        encode_pair(b"LONG", &long, &mut body);
        encode_pair(b"", b"", &mut body);
        assert_eq!(
            body.len(),
            encoded_pair_len(b"A", b"1") + encoded_pair_len(b"LONG", &long) + 2
        );
        let got: Vec<_> = pairs(&body).map(|r| r.unwrap()).collect();
        assert_eq!(
            got,
            vec![
                (&b"A"[..], &b"1"[..]),
                (&b"LONG"[..], &long[..]),
                (&b""[..], &b""[..])
            ]
        );
        // The streaming decoder agrees, whatever the split, down to single bytes.
        let whole = decode_all(&[&body]).unwrap();
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(decode_all(&bytes).unwrap(), whole);
        for split in 0..body.len() {
            assert_eq!(
                decode_all(&[&body[..split], &body[split..]]).unwrap(),
                whole
            );
        }
    }

    #[test]
    fn truncated_streams_are_reported() {
        let mut body = Vec::new();
        encode_pair(b"NAME", b"VALUE", &mut body);
        for cut in 1..body.len() {
            assert_eq!(
                decode_all(&[&body[..cut]]),
                Err(NvError::Truncated),
                "cut {cut}"
            );
            assert!(pairs(&body[..cut]).any(|r| r.is_err()));
        }
    }

    #[test]
    fn huge_lengths_reach_the_sink_before_any_copy() {
        // The CVE-2025-23016 shape: two 0x7fffffff lengths and no data.
        let body = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let mut d = PairDecoder::new();
        let mut seen = None;
        let r = d.feed(&body, |ev| {
            if let PairEvent::Start {
                name_len,
                value_len,
            } = ev
            {
                seen = Some((name_len, value_len));
                return Err(NvError::Refused("too long"));
            }
            Ok(())
        });
        assert_eq!(r, Err(NvError::Refused("too long")));
        assert_eq!(seen, Some((0x7fff_ffff, 0x7fff_ffff)));
        assert_eq!(pairs(&body).next(), Some(Err(NvError::Truncated)));
    }
}
