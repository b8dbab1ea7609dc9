//! The connection state machine driven from memory, split at every byte boundary that matters.

use super::*;
use crate::protocol::{encode_pair, pairs, BeginRequest, KEEP_CONN};

const ANSWER: GetValuesAnswer = GetValuesAnswer {
    max_conns: 10,
    max_reqs: 2,
    mpxs_conns: false,
};

fn record(t: RecordType, id: u16, content: &[u8]) -> Vec<u8> {
    let mut v = Header::new(t, id, content.len() as u16).encode().to_vec();
    v.extend_from_slice(content);
    v.resize(v.len() + crate::protocol::padding_for(content.len()), 0);
    v
}

fn request(id: u16, keep: bool, params: &[(&str, &str)], stdin: &[u8]) -> Vec<u8> {
    let mut v = BeginRequest::encode_record(id, 1, if keep { KEEP_CONN } else { 0 }).to_vec();
    let mut body = Vec::new();
    for (n, val) in params {
        encode_pair(n.as_bytes(), val.as_bytes(), &mut body);
    }
    // Split the params into 5-byte records so pairs straddle records.
    for c in body.chunks(5) {
        v.extend(record(RecordType::PARAMS, id, c));
    }
    v.extend(record(RecordType::PARAMS, id, b""));
    for c in stdin.chunks(1000) {
        v.extend(record(RecordType::STDIN, id, c));
    }
    v.extend(record(RecordType::STDIN, id, b""));
    v
}

fn conn(input: Vec<u8>, chunk: usize) -> Connection<MemoryTransport> {
    Connection::new(
        MemoryTransport::new(input, chunk),
        Limits::default(),
        ANSWER,
    )
}

/// Parses the records a connection wrote: (type, id, content).
fn records(out: &[u8]) -> Vec<(u8, u16, Vec<u8>)> {
    let mut v = Vec::new();
    let mut rest = out;
    while let Some(h) = Header::parse(rest) {
        let c = rest[8..8 + h.content_length as usize].to_vec();
        assert_eq!((8 + h.body_len()) % 8, 0, "records are padded to 8");
        v.push((h.record_type.0, h.request_id, c));
        rest = &rest[8 + h.body_len()..];
    }
    assert!(rest.is_empty());
    v
}

fn read_all(c: &mut Connection<MemoryTransport>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut buf = [0u8; 333];
    loop {
        let n = c.read_input(&mut buf).unwrap();
        if n == 0 {
            return body;
        }
        body.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn one_request_any_split() {
    let stdin: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let input = request(1, false, &[("A", "1"), ("LONG", &"x".repeat(300))], &stdin);
    for chunk in [1, 3, 8, 100, 100_000] {
        let mut c = conn(input.clone(), chunk);
        assert!(c.read_head(true).unwrap());
        let names: Vec<_> = c.params().iter().map(|(n, _)| n.to_vec()).collect();
        assert_eq!(
            names,
            vec![b"FCGI_ROLE".to_vec(), b"A".to_vec(), b"LONG".to_vec()]
        );
        assert_eq!(read_all(&mut c), stdin, "chunk {chunk}");
        assert!(c.input_eof());
        c.write_output(OutStream::Stdout, b"Content-Type: text/plain\r\n\r\nhi")
            .unwrap();
        assert_eq!(c.finish(0), Fate::Close { linger: false });
        let recs = records(&c.transport().output);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1], (6, 1, vec![]));
        assert_eq!(recs[2].0, 3);
    }
}

#[test]
fn pipelined_kept_alive_requests_are_all_served() {
    let mut input = request(1, true, &[("N", "first")], b"one");
    input.extend(request(1, true, &[("N", "second")], b"two"));
    let mut c = conn(input, 100_000);
    for (n, body) in [(&b"first"[..], &b"one"[..]), (b"second", b"two")] {
        assert!(c.read_head(true).unwrap());
        assert_eq!(c.params().get(b"N"), Some(n));
        assert_eq!(read_all(&mut c), body);
        assert_eq!(c.finish(0), Fate::Keep);
    }
    assert!(matches!(c.read_head(true), Err(ConnError::Closed)));
}

#[test]
fn unread_body_is_skipped_before_the_next_request() {
    let mut input = request(1, true, &[], &vec![7u8; 40_000]);
    input.extend(request(1, true, &[("N", "2")], b""));
    let mut c = conn(input, 4096);
    assert!(c.read_head(true).unwrap());
    assert_eq!(c.finish(0), Fate::Keep);
    assert!(c.read_head(true).unwrap());
    assert_eq!(c.params().get(b"N"), Some(&b"2"[..]));
}

#[test]
fn management_records_are_answered_and_never_leak() {
    let mut body = Vec::new();
    encode_pair(b"A", b"1", &mut body);
    let mut q = Vec::new();
    for _ in 0..400 {
        encode_pair(b"FCGI_MPXS_CONNS", b"", &mut q);
    }
    let mut input = BeginRequest::encode_record(1, 1, 0).to_vec();
    input.extend(record(RecordType::PARAMS, 1, &body[..2]));
    input.extend(record(RecordType(77), 0, b"\x03\x03FOObled"));
    input.extend(record(RecordType::GET_VALUES, 0, &q));
    input.extend(record(RecordType::PARAMS, 1, &body[2..]));
    input.extend(record(RecordType::PARAMS, 1, b""));
    input.extend(record(RecordType::STDIN, 1, b""));
    let mut c = conn(input, 7);
    assert!(c.read_head(true).unwrap());
    let params: Vec<_> = c
        .params()
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(
        params,
        vec![
            (b"FCGI_ROLE".to_vec(), b"RESPONDER".to_vec()),
            (b"A".to_vec(), b"1".to_vec())
        ]
    );
    let recs = records(&c.transport().output);
    assert_eq!(recs[0], (11, 0, vec![77, 0, 0, 0, 0, 0, 0, 0]));
    assert_eq!(recs[1].0, 10);
    let answered: Vec<_> = pairs(&recs[1].2).map(|p| p.unwrap()).collect();
    assert_eq!(answered, vec![(&b"FCGI_MPXS_CONNS"[..], &b"0"[..])]);
}

#[test]
fn second_begin_gets_cant_mpx_and_unknown_role_is_refused() {
    let mut input = BeginRequest::encode_record(1, 1, KEEP_CONN).to_vec();
    input.extend(BeginRequest::encode_record(2, 1, 0));
    input.extend(record(RecordType::PARAMS, 1, b""));
    let mut c = conn(input, 3);
    assert!(c.read_head(true).unwrap());
    assert_eq!(
        records(&c.transport().output),
        vec![(3, 2, vec![0, 0, 0, 0, 1, 0, 0, 0])]
    );

    let mut input = BeginRequest::encode_record(5, 9, 0).to_vec();
    input.extend(record(RecordType::PARAMS, 5, b""));
    let mut c = conn(input, 100);
    assert!(matches!(c.read_head(true), Err(ConnError::Done)));
    assert_eq!(
        records(&c.transport().output),
        vec![(3, 5, vec![0, 0, 0, 0, 3, 0, 0, 0])]
    );
}

#[test]
fn hostile_heads_are_protocol_errors() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            {
                let mut v = BeginRequest::encode_record(1, 1, 0).to_vec();
                v[0] = 2;
                v
            },
            "version",
        ),
        (BeginRequest::encode_record(0, 1, 0).to_vec(), "id 0"),
        (
            record(RecordType::BEGIN_REQUEST, 1, &[0, 1, 0, 0, 0]),
            "length",
        ),
        (
            {
                let mut v = BeginRequest::encode_record(1, 1, 0).to_vec();
                v.extend(record(RecordType::PARAMS, 1, &[0xff; 8]));
                v
            },
            "CVE-2025-23016 lengths",
        ),
        (
            {
                let mut v = BeginRequest::encode_record(1, 1, 0).to_vec();
                v.extend(record(RecordType::PARAMS, 1, &[0x90, 0, 0, 0, 0]));
                v.extend(record(RecordType::PARAMS, 1, b""));
                v
            },
            "truncated pair",
        ),
    ];
    for (input, what) in cases {
        let mut c = conn(input, 5);
        match c.read_head(true) {
            Err(ConnError::Protocol(_)) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn abort_surfaces_as_input_error() {
    let mut input = BeginRequest::encode_record(1, 1, KEEP_CONN).to_vec();
    input.extend(record(RecordType::PARAMS, 1, b""));
    input.extend(record(RecordType::STDIN, 1, b"part"));
    input.extend(record(RecordType::ABORT_REQUEST, 1, b""));
    let mut c = conn(input, 100);
    assert!(c.read_head(true).unwrap());
    let mut buf = [0u8; 10];
    assert_eq!(c.read_input(&mut buf), Ok(4));
    assert_eq!(c.read_input(&mut buf), Err(InputError::Aborted));
    c.write_output(OutStream::Stdout, b"dropped").unwrap();
    assert_eq!(c.finish(0), Fate::Keep);
    let recs = records(&c.transport().output);
    assert_eq!(recs.last().unwrap().0, 3, "END_REQUEST still sent");
    assert!(recs.iter().all(|r| r.2 != b"dropped"));
}

#[test]
fn output_framing_small_large_and_stderr_order() {
    let mut input = BeginRequest::encode_record(3, 1, 0).to_vec();
    input.extend(record(RecordType::PARAMS, 3, b""));
    input.extend(record(RecordType::STDIN, 3, b""));
    let mut c = conn(input, 100);
    assert!(c.read_head(true).unwrap());
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    c.write_output(OutStream::Stdout, b"head").unwrap();
    c.write_output(OutStream::Stderr, b"warn").unwrap();
    c.write_output(OutStream::Stdout, &big).unwrap();
    for b in big.chunks(1000) {
        c.write_output(OutStream::Stdout, b).unwrap();
    }
    assert_eq!(c.finish(7), Fate::Close { linger: false });
    let recs = records(&c.transport().output);
    let stdout: Vec<u8> = recs
        .iter()
        .filter(|r| r.0 == 6)
        .flat_map(|r| r.2.clone())
        .collect();
    let mut expect = b"head".to_vec();
    expect.extend(&big);
    expect.extend(&big);
    assert_eq!(stdout, expect);
    assert!(recs
        .iter()
        .all(|r| r.2.len() <= RECORD_CONTENT_MAX && r.1 == 3));
    let tail: Vec<_> = recs
        .iter()
        .rev()
        .take(3)
        .map(|r| (r.0, r.2.len()))
        .collect();
    assert_eq!(
        tail,
        vec![(3, 8), (6, 0), (7, 0)],
        "STDERR EOF, STDOUT EOF, END_REQUEST"
    );
    assert_eq!(&recs.last().unwrap().2[..4], &7i32.to_be_bytes());
}

#[test]
fn filter_reads_data_after_stdin() {
    let mut input = BeginRequest::encode_record(1, 3, 0).to_vec();
    input.extend(record(RecordType::PARAMS, 1, b""));
    input.extend(record(RecordType::STDIN, 1, b"in"));
    input.extend(record(RecordType::STDIN, 1, b""));
    input.extend(record(RecordType::DATA, 1, b"data"));
    input.extend(record(RecordType::DATA, 1, b""));
    let mut c = conn(input, 4);
    assert!(c.read_head(true).unwrap());
    assert_eq!(c.role(), Role::Filter);
    assert!(!c.start_filter_data(), "STDIN not read yet");
    assert_eq!(read_all(&mut c), b"in");
    assert!(c.start_filter_data());
    assert_eq!(read_all(&mut c), b"data");
}
