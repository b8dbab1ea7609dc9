//! Deterministic property tests of the wire-format layer: fixed seeds, thousands of cases,
//! a fraction of a second. The fuzz targets under `fuzz/` explore the same properties without
//! bounds; these keep them checked in every `cargo test`.

use fcgi_rs::protocol::{
    encode_get_values_result, encode_pair, encoded_pair_len, pairs, BeginRequest, GetValuesAnswer,
    Header, NvError, PairDecoder, PairEvent, RecordType, GET_VALUES_RESULT_MAX, HEADER_LEN,
    MAX_CONNS, MAX_CONTENT_LEN, MAX_REQS, MPXS_CONNS,
};
use std::path::Path;

/// splitmix64: small, fast, good enough to spread cases; fixed seeds keep runs reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// A length with the interesting edges well represented: 0, the 127/128 switch between
    /// one- and four-byte encodings, and now and then something larger than a record.
    fn len(&mut self) -> usize {
        match self.below(10) {
            0 => 0,
            1 => 127 + self.below(3), // 127, 128, 129
            2 => self.below(300),
            3 if self.below(8) == 0 => {
                let extra = self.below(20_000);
                60_000 + extra
            }
            _ => self.below(24),
        }
    }
}

type PairList = Vec<(Vec<u8>, Vec<u8>)>;

fn random_pairs(rng: &mut Rng) -> PairList {
    let n = rng.below(12);
    (0..n)
        .map(|_| {
            let (nl, vl) = (rng.len(), rng.len());
            (rng.bytes(nl), rng.bytes(vl))
        })
        .collect()
}

fn encode_all(list: &PairList) -> Vec<u8> {
    let mut body = Vec::new();
    for (n, v) in list {
        let before = body.len();
        encode_pair(n, v, &mut body);
        assert_eq!(body.len() - before, encoded_pair_len(n, v));
    }
    body
}

/// Collects decoder events into pairs, checking their order on the way.
#[derive(Default)]
struct Collect {
    out: PairList,
    cur: Option<(Vec<u8>, Vec<u8>, u32, u32)>,
}

impl Collect {
    fn on(&mut self, ev: PairEvent<'_>) -> Result<(), NvError> {
        match ev {
            PairEvent::Start {
                name_len,
                value_len,
            } => {
                assert!(self.cur.is_none(), "Start inside a pair");
                self.cur = Some((Vec::new(), Vec::new(), name_len, value_len));
            }
            PairEvent::Name(p) => {
                let c = self.cur.as_mut().expect("Name outside a pair");
                assert!(c.1.is_empty(), "Name after Value");
                c.0.extend_from_slice(p);
                assert!(c.0.len() <= c.2 as usize);
            }
            PairEvent::Value(p) => {
                let c = self.cur.as_mut().expect("Value outside a pair");
                assert_eq!(c.0.len(), c.2 as usize, "Value before the whole name");
                c.1.extend_from_slice(p);
                assert!(c.1.len() <= c.3 as usize);
            }
            PairEvent::End => {
                let (n, v, nl, vl) = self.cur.take().expect("End outside a pair");
                assert_eq!((n.len(), v.len()), (nl as usize, vl as usize));
                self.out.push((n, v));
            }
        }
        Ok(())
    }
}

/// Frames `body` as PARAMS records of random sizes (with random padding), ending with the
/// empty EOF record, the way a web server sends it.
fn frame_params(rng: &mut Rng, body: &[u8], request_id: u16) -> Vec<u8> {
    let mut stream = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let max = match rng.below(3) {
            0 => 1 + rng.below(8),
            1 => 1 + rng.below(300),
            _ => MAX_CONTENT_LEN,
        };
        let (chunk, r) = rest.split_at(max.min(rest.len()));
        rest = r;
        let mut h = Header::new(RecordType::PARAMS, request_id, chunk.len() as u16);
        h.padding_length = rng.below(256) as u8;
        stream.extend_from_slice(&h.encode());
        stream.extend_from_slice(chunk);
        stream.extend(std::iter::repeat_n(0u8, h.padding_length as usize));
    }
    stream.extend_from_slice(&Header::new(RecordType::PARAMS, request_id, 0).encode());
    stream
}

/// A minimal record reader over a stream that arrives in random read sizes: buffers until a
/// whole header is there, then hands the content to the decoder as it arrives (without
/// waiting for the whole record), skips padding, stops at the empty PARAMS record.
fn read_params(rng: &mut Rng, stream: &[u8]) -> PairList {
    let mut d = PairDecoder::new();
    let mut sink = Collect::default();
    let mut hdr = Vec::new();
    let mut content_left = 0usize;
    let mut padding_left = 0usize;
    let mut pos = 0;
    let mut eof = false;
    while pos < stream.len() && !eof {
        let max = if rng.below(2) == 0 { 16 } else { 70_000 };
        let n = 1 + rng.below(max);
        let mut read = &stream[pos..(pos + n).min(stream.len())];
        pos += read.len();
        while !read.is_empty() && !eof {
            if content_left > 0 {
                let take = content_left.min(read.len());
                d.feed(&read[..take], |ev| sink.on(ev)).unwrap();
                content_left -= take;
                read = &read[take..];
            } else if padding_left > 0 {
                let take = padding_left.min(read.len());
                padding_left -= take;
                read = &read[take..];
            } else {
                let take = (HEADER_LEN - hdr.len()).min(read.len());
                hdr.extend_from_slice(&read[..take]);
                read = &read[take..];
                if let Some(h) = Header::parse(&hdr) {
                    assert_eq!(h.record_type, RecordType::PARAMS);
                    hdr.clear();
                    content_left = h.content_length as usize;
                    padding_left = h.padding_length as usize;
                    eof = content_left == 0;
                }
            }
        }
    }
    assert!(eof, "the EOF record was read");
    assert_eq!(pos, stream.len(), "nothing left over after EOF");
    assert!(d.is_at_boundary(), "stream ends between pairs");
    sink.out
}

#[test]
fn encoded_pairs_stream_decode_to_the_input() {
    let mut rng = Rng(0x5eed_0001);
    for case in 0..3000 {
        let list = random_pairs(&mut rng);
        let body = encode_all(&list);

        // Borrowing iterator on the whole body.
        let got: PairList = pairs(&body)
            .map(|p| p.map(|(n, v)| (n.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert_eq!(got, list, "pairs(), case {case}");

        // Streaming through records of random size, read in random pieces.
        let id = 1 + rng.below(0xffff) as u16;
        let stream = frame_params(&mut rng, &body, id);
        assert_eq!(read_params(&mut rng, &stream), list, "stream, case {case}");
    }
}

#[test]
fn truncation_is_always_reported() {
    let mut rng = Rng(0x5eed_0002);
    for case in 0..3000 {
        let mut list = random_pairs(&mut rng);
        if list.is_empty() {
            list.push((b"N".to_vec(), b"V".to_vec()));
        }
        let body = encode_all(&list);
        // Offsets where one pair ends and the next begins.
        let mut boundaries = vec![0];
        for (n, v) in &list {
            boundaries.push(boundaries.last().unwrap() + encoded_pair_len(n, v));
        }
        let cut = rng.below(body.len() + 1);
        let prefix = &body[..cut];

        let mut d = PairDecoder::new();
        let mut sink = Collect::default();
        for piece in prefix.chunks(1 + rng.below(40)) {
            d.feed(piece, |ev| sink.on(ev)).unwrap();
        }
        let iter_truncated = pairs(prefix).any(|p| p == Err(NvError::Truncated));
        match boundaries.iter().position(|&b| b == cut) {
            Some(k) => {
                assert!(d.is_at_boundary(), "case {case}: cut {cut} is a boundary");
                assert!(!iter_truncated, "case {case}");
                assert_eq!(sink.out, list[..k], "case {case}");
            }
            None => {
                assert!(
                    !d.is_at_boundary(),
                    "case {case}: cut {cut} inside a pair not reported"
                );
                assert!(
                    iter_truncated,
                    "case {case}: pairs() missed the truncation at {cut}"
                );
                // Pairs completed before the cut are still delivered, in order.
                assert_eq!(sink.out[..], list[..sink.out.len()], "case {case}");
            }
        }
    }
}

/// A sink that accepts any lengths but stores nothing: random bytes announce lengths up to
/// 2 GiB, and the decoder must still never panic or read out of bounds.
fn count_events(d: &mut PairDecoder, data: &[u8]) -> usize {
    let mut n = 0;
    d.feed(data, |_| {
        n += 1;
        Ok(())
    })
    .unwrap();
    n
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x5eed_0003);
    let answer = GetValuesAnswer {
        max_conns: 1,
        max_reqs: 1,
        mpxs_conns: false,
    };
    let mut out = [0u8; GET_VALUES_RESULT_MAX];
    for _ in 0..20_000 {
        let max = if rng.below(10) == 0 { 2000 } else { 40 };
        let len = rng.below(max);
        // Bias towards the high bit so four-byte lengths are common.
        let data: Vec<u8> = (0..len)
            .map(|_| rng.next() as u8 | if rng.below(3) == 0 { 0x80 } else { 0 })
            .collect();

        let mut d = PairDecoder::new();
        let whole = count_events(&mut d, &data);
        let mut d2 = PairDecoder::new();
        let split: usize = data
            .chunks(1 + rng.below(7))
            .map(|c| count_events(&mut d2, c))
            .sum();
        assert!(split >= whole, "splitting can only add Name/Value pieces");
        assert_eq!(d.is_at_boundary(), d2.is_at_boundary());
        let iter_ok = pairs(&data).all(|p| p.is_ok());
        assert_eq!(iter_ok, d.is_at_boundary());

        if let Some(h) = Header::parse(&data) {
            assert_eq!(Header::parse(&h.encode()), Some(h));
            let _ = h.record_type.name();
        } else {
            assert!(data.len() < HEADER_LEN);
        }
        assert_eq!(BeginRequest::parse(&data).is_some(), data.len() == 8);
        let r = encode_get_values_result(&data, &answer, &mut out);
        assert_eq!(r.is_ok(), iter_ok);
        if let Ok(n) = r {
            assert!(n <= GET_VALUES_RESULT_MAX && n % 8 == 0);
        }
    }
}

#[test]
fn decoder_reports_huge_lengths_before_any_byte() {
    // Every length shape from the hostile list reaches the sink as a Start event, before a
    // single name byte, so a sink can refuse it without allocating.
    for (nl, vl) in [
        (0x7fff_ffffu32, 0x7fff_ffffu32),
        (0x7fff_fffe, 0x7fff_fffe),
        (0x1000_0000, 0),
    ] {
        let mut body = Vec::new();
        body.extend_from_slice(&(nl | 0x8000_0000).to_be_bytes());
        body.extend_from_slice(&(vl | 0x8000_0000).to_be_bytes());
        body.extend_from_slice(b"AAAA");
        let mut d = PairDecoder::new();
        let mut events = Vec::new();
        let r = d.feed(&body, |ev| {
            events.push(format!("{ev:?}"));
            match ev {
                PairEvent::Start {
                    name_len,
                    value_len,
                } => {
                    assert_eq!((name_len, value_len), (nl, vl));
                    Err(NvError::Refused("too long"))
                }
                _ => Ok(()),
            }
        });
        assert_eq!(r, Err(NvError::Refused("too long")));
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(pairs(&body).next(), Some(Err(NvError::Truncated)));
    }
}

#[test]
fn get_values_answers_each_asked_name_once() {
    let known: [&[u8]; 3] = [MAX_CONNS, MAX_REQS, MPXS_CONNS];
    let others: [&[u8]; 3] = [b"FCGI_MAX", b"", b"fcgi_mpxs_conns"];
    let answer = GetValuesAnswer {
        max_conns: 1024,
        max_reqs: 7,
        mpxs_conns: true,
    };
    let mut rng = Rng(0x5eed_0004);
    let mut out = [0u8; GET_VALUES_RESULT_MAX];
    for case in 0..3000 {
        // Up to 2000 names: repeated known names are what overflowed libfcgi's stack array.
        let n = if rng.below(10) == 0 {
            2000
        } else {
            rng.below(12)
        };
        let mut query = Vec::new();
        let mut asked = [false; 3];
        for _ in 0..n {
            let i = rng.below(6);
            let name = if i < 3 { known[i] } else { others[i - 3] };
            if i < 3 {
                asked[i] = true;
            }
            let vl = rng.below(3);
            let value = rng.bytes(vl);
            encode_pair(name, &value, &mut query);
        }
        let len = encode_get_values_result(&query, &answer, &mut out).expect("well-formed query");
        assert!(len <= GET_VALUES_RESULT_MAX && len % 8 == 0, "case {case}");
        let h = Header::parse(&out).unwrap();
        assert_eq!(
            (h.record_type, h.request_id),
            (RecordType::GET_VALUES_RESULT, 0)
        );
        assert_eq!(HEADER_LEN + h.body_len(), len);
        let body = &out[HEADER_LEN..HEADER_LEN + h.content_length as usize];
        let got: Vec<(&[u8], &[u8])> = pairs(body).map(|p| p.unwrap()).collect();
        let want: Vec<(&[u8], &[u8])> = known
            .iter()
            .zip([&b"1024"[..], b"7", b"1"])
            .zip(asked)
            .filter(|(_, a)| *a)
            .map(|((k, v), _)| (*k, v))
            .collect();
        assert_eq!(got, want, "case {case}: {n} names asked");
    }
}

/// Walks a byte stream as a sequence of records the way a connection would, and runs every
/// record body through the parser that applies to it. Returns how many whole records it saw.
fn walk_records(data: &[u8]) -> usize {
    let answer = GetValuesAnswer {
        max_conns: 1,
        max_reqs: 1,
        mpxs_conns: false,
    };
    let mut out = [0u8; GET_VALUES_RESULT_MAX];
    let mut params = PairDecoder::new();
    let mut rest = data;
    let mut records = 0;
    while let Some(h) = Header::parse(rest) {
        let body = &rest[HEADER_LEN..];
        let content = &body[..(h.content_length as usize).min(body.len())];
        match h.record_type {
            RecordType::BEGIN_REQUEST => {
                let _ = BeginRequest::parse(content);
                params.reset();
            }
            RecordType::PARAMS => {
                // A sink with libfcgi-like limits refusing big pairs, as the connection does.
                let r = params.feed(content, |ev| match ev {
                    PairEvent::Start {
                        name_len,
                        value_len,
                    } if name_len as u64 + value_len as u64 > 1 << 20 => {
                        Err(NvError::Refused("pair too large"))
                    }
                    _ => Ok(()),
                });
                if r.is_err() {
                    params.reset();
                }
            }
            RecordType::GET_VALUES => {
                let _ = encode_get_values_result(content, &answer, &mut out);
            }
            _ => {
                let _ = pairs(content).count();
            }
        }
        if body.len() < h.body_len() {
            break;
        }
        records += 1;
        rest = &body[h.body_len()..];
    }
    records
}

#[test]
fn corpus_files_parse_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus");
    let mut files = 0;
    let mut records = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/corpus exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") || !path.is_file() {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        records += walk_records(&data);
        // The same bytes as a raw name-value stream and as a GET_VALUES body.
        let _ = count_events(&mut PairDecoder::new(), &data);
        let _ = pairs(&data).count();
        files += 1;
    }
    assert!(
        files >= 10,
        "expected the checked-in regression inputs, found {files}"
    );
    assert!(
        records >= files,
        "the corpus holds record streams ({records} records)"
    );
}
