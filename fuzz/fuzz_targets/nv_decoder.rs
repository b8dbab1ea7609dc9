//! The streaming name-value decoder against arbitrary bytes, split at arbitrary points.
//!
//! Input layout: byte 0 picks the limits the sink enforces, bytes 1..3 seed the split points,
//! the rest is the PARAMS stream. Checked:
//! - events arrive in the order Start, Name*, Value*, End, and the pieces add up to the
//!   announced lengths (so a sink can rely on `Start` to bound what follows);
//! - a sink that refuses at `Start` stops the decoder before any byte of that pair is handed
//!   over, so memory held is bounded by the limits, never by lengths read from the wire;
//! - however the stream is split, the result equals decoding it in one piece, and equals the
//!   borrowing `pairs()` iterator on the whole body (same pairs, truncation at the same place).
#![no_main]

use fcgi_rs::protocol::{pairs, NvError, PairDecoder, PairEvent};
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy)]
struct Limits {
    name: u32,
    value: u32,
    total: usize,
    count: usize,
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// All pairs decoded; `bool` = the stream ended exactly on a pair boundary.
    Done(Vec<(Vec<u8>, Vec<u8>)>, bool),
    /// The sink refused a pair for reason `.1`; `.0` are the pairs completed before it.
    Refused(Vec<(Vec<u8>, Vec<u8>)>, &'static str),
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Expect {
    Start,
    Name,
    Value,
}

struct Sink {
    limits: Limits,
    expect: Expect,
    name_left: u32,
    value_left: u32,
    total: usize,
    held: usize,
    cur: (Vec<u8>, Vec<u8>),
    done: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Sink {
    fn new(limits: Limits) -> Sink {
        Sink {
            limits,
            expect: Expect::Start,
            name_left: 0,
            value_left: 0,
            total: 0,
            held: 0,
            cur: (Vec::new(), Vec::new()),
            done: Vec::new(),
        }
    }

    fn on(&mut self, ev: PairEvent<'_>) -> Result<(), NvError> {
        match ev {
            PairEvent::Start {
                name_len,
                value_len,
            } => {
                assert!(self.expect == Expect::Start, "Start inside a pair");
                assert!(
                    name_len <= 0x7fff_ffff && value_len <= 0x7fff_ffff,
                    "31-bit lengths"
                );
                if name_len > self.limits.name {
                    return Err(NvError::Refused("name"));
                }
                if value_len > self.limits.value {
                    return Err(NvError::Refused("value"));
                }
                if self.done.len() >= self.limits.count {
                    return Err(NvError::Refused("count"));
                }
                let need = name_len as usize + value_len as usize + 2;
                if need > self.limits.total - self.total {
                    return Err(NvError::Refused("total"));
                }
                self.total += need;
                self.name_left = name_len;
                self.value_left = value_len;
                self.expect = Expect::Name;
            }
            PairEvent::Name(p) => {
                assert!(self.expect == Expect::Name, "Name piece out of order");
                assert!(!p.is_empty(), "empty Name piece");
                assert!(
                    p.len() <= self.name_left as usize,
                    "Name longer than announced"
                );
                self.name_left -= p.len() as u32;
                self.held += p.len();
                self.cur.0.extend_from_slice(p);
            }
            PairEvent::Value(p) => {
                assert!(self.name_left == 0, "Value before the name is complete");
                assert!(self.expect != Expect::Start, "Value outside a pair");
                assert!(!p.is_empty(), "empty Value piece");
                assert!(
                    p.len() <= self.value_left as usize,
                    "Value longer than announced"
                );
                self.expect = Expect::Value;
                self.value_left -= p.len() as u32;
                self.held += p.len();
                self.cur.1.extend_from_slice(p);
            }
            PairEvent::End => {
                assert!(self.expect != Expect::Start, "End outside a pair");
                assert!(
                    self.name_left == 0 && self.value_left == 0,
                    "End before all bytes"
                );
                self.expect = Expect::Start;
                self.held += 2;
                self.done.push(std::mem::take(&mut self.cur));
            }
        }
        // What the sink holds never exceeds what it agreed to at Start.
        assert!(self.held <= self.total);
        Ok(())
    }
}

fn decode(pieces: &[&[u8]], limits: Limits) -> Outcome {
    let mut d = PairDecoder::new();
    let mut sink = Sink::new(limits);
    for p in pieces {
        if let Err(e) = d.feed(p, |ev| sink.on(ev)) {
            match e {
                NvError::Refused(why) => return Outcome::Refused(sink.done, why),
                NvError::Truncated => panic!("feed never reports truncation itself"),
            }
        }
    }
    let boundary = d.is_at_boundary();
    if boundary {
        assert!(
            sink.expect == Expect::Start,
            "decoder at a boundary, sink inside a pair"
        );
    }
    Outcome::Done(sink.done, boundary)
}

fn splits(body: &[u8], mut seed: u32) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    seed |= 1;
    while !rest.is_empty() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        // Mostly tiny pieces (lengths split inside), sometimes empty, sometimes large.
        let n = match seed % 8 {
            0 => 0,
            1..=4 => (seed >> 8) as usize % 5,
            5 | 6 => (seed >> 8) as usize % 64,
            _ => (seed >> 8) as usize % 4096,
        };
        let (a, b) = rest.split_at(n.min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let sel = data[0];
    let seed = u16::from_le_bytes([data[1], data[2]]) as u32 | ((sel as u32) << 16);
    let body = &data[3..];
    let limits = if sel & 0x80 == 0 {
        Limits {
            name: 0x7fff_ffff,
            value: 0x7fff_ffff,
            total: usize::MAX / 2,
            count: usize::MAX,
        }
    } else {
        Limits {
            name: 1 + (sel & 0x0f) as u32 * 8,
            value: 1 + ((sel >> 4) & 0x07) as u32 * 32,
            total: 64 + (sel as usize & 0x3f) * 16,
            count: 1 + (sel as usize & 0x07),
        }
    };

    let whole = decode(&[body], limits);
    let pieces = splits(body, seed);
    assert_eq!(pieces.iter().map(|p| p.len()).sum::<usize>(), body.len());
    assert_eq!(decode(&pieces, limits), whole, "split decoding differs");
    let singles: Vec<&[u8]> = body.chunks(1).collect();
    if body.len() <= 512 {
        assert_eq!(
            decode(&singles, limits),
            whole,
            "byte-at-a-time decoding differs"
        );
    }

    // The borrowing iterator on the whole body agrees with the streaming decoder.
    let mut reference = Vec::new();
    let mut truncated = false;
    for p in pairs(body) {
        match p {
            Ok((n, v)) => reference.push((n.to_vec(), v.to_vec())),
            Err(e) => {
                assert_eq!(e, NvError::Truncated);
                truncated = true;
            }
        }
    }
    match whole {
        Outcome::Done(got, boundary) => {
            assert_eq!(got, reference);
            assert_eq!(boundary, !truncated);
        }
        Outcome::Refused(got, _) => {
            assert!(got.len() <= reference.len());
            assert_eq!(&got[..], &reference[..got.len()]);
        }
    }
});
