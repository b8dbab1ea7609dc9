//! The params arena: one reusable block of `NAME=VALUE\0` strings, built straight from the
//! read buffer, plus the position of each entry. No allocation per param, and none per
//! request once the block has grown to the largest request seen.

use crate::limits::Limits;
use crate::protocol::{NvError, PairEvent, Role};

/// Where one `NAME=VALUE\0` string sits in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub start: u32,
    pub name_len: u32,
    pub value_len: u32,
}

impl Entry {
    fn name_range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.name_len as usize
    }
    fn value_range(&self) -> std::ops::Range<usize> {
        let v = self.start as usize + self.name_len as usize + 1;
        v..v + self.value_len as usize
    }
}

#[derive(Debug, Default)]
pub struct ParamsArena {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    /// The pair being decoded: its entry is pushed when the pair ends.
    pending: Option<Entry>,
}

impl ParamsArena {
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the arena, keeping its capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.pending = None;
    }

    /// libfcgi puts `FCGI_ROLE=<role>` first in every request environment; programs (and
    /// `FCGI_Accept`-based CGI code) look it up, so we do the same.
    pub fn push_role(&mut self, role: Role) {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(b"FCGI_ROLE=");
        self.bytes.extend_from_slice(role.env_name().as_bytes());
        self.bytes.push(0);
        self.entries.push(Entry {
            start,
            name_len: 9,
            value_len: role.env_name().len() as u32,
        });
    }

    /// Applies one decoder event. Limits are checked at `Start`, before a byte is stored, so a
    /// hostile length can never make the arena reserve more than the limit.
    pub fn apply(&mut self, ev: PairEvent<'_>, limits: &Limits) -> Result<(), NvError> {
        match ev {
            PairEvent::Start {
                name_len,
                value_len,
            } => {
                let (n, v) = (name_len as usize, value_len as usize);
                self.check(n, v, limits)?;
                self.bytes.reserve(n + v + 2);
                self.pending = Some(Entry {
                    start: self.bytes.len() as u32,
                    name_len,
                    value_len,
                });
            }
            PairEvent::Name(piece) => self.bytes.extend_from_slice(piece),
            PairEvent::Value(piece) => {
                if self.bytes.len() == self.value_start() {
                    self.bytes.push(b'=');
                }
                self.bytes.extend_from_slice(piece)
            }
            PairEvent::End => {
                let entry = self.pending.take().expect("End follows Start");
                if self.bytes.len() == self.value_start_of(&entry) {
                    self.bytes.push(b'='); // empty value
                }
                self.bytes.push(0);
                self.entries.push(entry);
            }
        }
        Ok(())
    }

    /// Fast path for a PARAMS body that is all in memory: stores every complete pair of
    /// `content` directly and returns how many bytes it consumed (a pair split across records
    /// is left for the streaming decoder). Only call it between pairs.
    pub fn append_pairs(&mut self, content: &[u8], limits: &Limits) -> Result<usize, NvError> {
        // Each stored pair takes at most as many bytes as its encoding (lengths take at least
        // two bytes, `=` and NUL exactly two), so one reservation covers the whole record.
        self.bytes.reserve(content.len());
        let mut at = 0;
        loop {
            let rest = &content[at..];
            let Some((name_len, a)) = read_len(rest) else {
                break;
            };
            let Some((value_len, b)) = read_len(&rest[a..]) else {
                break;
            };
            let (n, v) = (name_len as usize, value_len as usize);
            let head = a + b;
            if rest.len() - head < n || rest.len() - head - n < v {
                break;
            }
            self.check(n, v, limits)?;
            let start = self.bytes.len() as u32;
            self.bytes.extend_from_slice(&rest[head..head + n]);
            self.bytes.push(b'=');
            self.bytes.extend_from_slice(&rest[head + n..head + n + v]);
            self.bytes.push(0);
            self.entries.push(Entry {
                start,
                name_len,
                value_len,
            });
            at += head + n + v;
        }
        Ok(at)
    }

    fn check(&self, n: usize, v: usize, limits: &Limits) -> Result<(), NvError> {
        if n > limits.max_name_len {
            return Err(NvError::Refused("param name longer than max_name_len"));
        }
        if v > limits.max_value_len {
            return Err(NvError::Refused("param value longer than max_value_len"));
        }
        if self.entries.len() >= limits.max_params {
            return Err(NvError::Refused("more params than max_params"));
        }
        // n and v are each bounded above, so this sum cannot overflow.
        if self.bytes.len() + n + v + 2 > limits.max_params_bytes {
            return Err(NvError::Refused("params larger than max_params_bytes"));
        }
        Ok(())
    }

    fn value_start(&self) -> usize {
        self.pending
            .as_ref()
            .map_or(usize::MAX, |e| self.value_start_of(e))
    }

    fn value_start_of(&self, e: &Entry) -> usize {
        e.start as usize + e.name_len as usize
    }

    /// Number of params, `FCGI_ROLE` included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first param named `name` (exact, case-sensitive, as libfcgi).
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Params in arrival order, `FCGI_ROLE` first.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.entries
            .iter()
            .map(|e| (&self.bytes[e.name_range()], &self.bytes[e.value_range()]))
    }

    /// The arena block and the entries, for building a C `envp` array over it.
    pub fn raw(&self) -> (&[u8], &[Entry]) {
        (&self.bytes, &self.entries)
    }

    /// The same, with the block writable: C programs receive `char **envp` and may write
    /// into the strings.
    pub fn raw_mut(&mut self) -> (&mut [u8], &[Entry]) {
        (&mut self.bytes, &self.entries)
    }
}

/// One name-value length (1 byte, or 4 with the high bit set) and its encoded size.
fn read_len(b: &[u8]) -> Option<(u32, usize)> {
    let first = *b.first()?;
    if first & 0x80 == 0 {
        return Some((first as u32, 1));
    }
    let four: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some((u32::from_be_bytes(four) & 0x7fff_ffff, 4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{encode_pair, PairDecoder};

    #[test]
    fn builds_env_strings() {
        let mut body = Vec::new();
        encode_pair(b"A", b"1", &mut body);
        encode_pair(b"EMPTY", b"", &mut body);
        encode_pair(b"", b"noname", &mut body);
        let mut arena = ParamsArena::new();
        arena.push_role(Role::Responder);
        let limits = Limits::default();
        let mut d = PairDecoder::new();
        for b in body.chunks(3) {
            d.feed(b, |ev| arena.apply(ev, &limits)).unwrap();
        }
        let (bytes, entries) = arena.raw();
        let strings: Vec<&[u8]> = entries
            .iter()
            .map(|e| {
                let s = &bytes[e.start as usize..];
                &s[..s.iter().position(|&b| b == 0).unwrap()]
            })
            .collect();
        assert_eq!(
            strings,
            vec![&b"FCGI_ROLE=RESPONDER"[..], b"A=1", b"EMPTY=", b"=noname"]
        );
        assert_eq!(arena.get(b"A"), Some(&b"1"[..]));
        assert_eq!(arena.get(b"EMPTY"), Some(&b""[..]));
        assert_eq!(arena.get(b"nope"), None);
    }

    #[test]
    fn limits_refuse_before_reserving() {
        let limits = Limits {
            max_params_bytes: 100,
            max_params: 3,
            ..Limits::default()
        };
        let mut arena = ParamsArena::new();
        let big = PairEvent::Start {
            name_len: 0x7fff_ffff,
            value_len: 0x7fff_ffff,
        };
        assert!(arena.apply(big, &limits).is_err());
        let medium = PairEvent::Start {
            name_len: 60,
            value_len: 60,
        };
        assert!(arena.apply(medium, &limits).is_err());
        assert!(arena.bytes.capacity() < 1024);
        for _ in 0..3 {
            arena
                .apply(
                    PairEvent::Start {
                        name_len: 0,
                        value_len: 0,
                    },
                    &limits,
                )
                .unwrap();
            arena.apply(PairEvent::End, &limits).unwrap();
        }
        assert!(arena
            .apply(
                PairEvent::Start {
                    name_len: 0,
                    value_len: 0
                },
                &limits
            )
            .is_err());
    }
}
