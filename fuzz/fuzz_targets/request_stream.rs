//! Whole byte streams, as a web server (or anyone who can connect) would send them, through
//! the connection state machine over an in-memory transport, driven the way the C API drives
//! it: read the request head, read the body, write a response, finish, repeat while the
//! connection is kept.
//!
//! Input layout: byte 0 picks the read size of the transport and of the program's reads,
//! byte 1 the limits, the rest is the stream. Checked, besides "no panic, no hang":
//! - the params never exceed the limits, and start with FCGI_ROLE;
//! - the program never reads more body bytes than the stream holds;
//! - everything written back is whole, aligned, version-1 records of the types a FastCGI
//!   application may send, management replies on id 0;
//! - each finished request's STDOUT, in order, is exactly what the program wrote (or nothing,
//!   if the request was aborted), closed by its EOF record, then END_REQUEST for that id.
#![no_main]

use fcgi_rs::conn::{Connection, Fate, MemoryTransport, OutStream};
use fcgi_rs::protocol::{GetValuesAnswer, Header, RecordType, Role, HEADER_LEN};
use fcgi_rs::Limits;
use libfuzzer_sys::fuzz_target;

const ANSWER: GetValuesAnswer = GetValuesAnswer {
    max_conns: 7,
    max_reqs: 7,
    mpxs_conns: false,
};

fn limits_for(sel: u8) -> Limits {
    let mut l = Limits::default();
    if sel & 0x80 != 0 {
        l.max_params_bytes = 32 + (sel as usize & 0x0f) * 64;
        l.max_params = 1 + (sel as usize >> 4 & 0x07);
        l.max_name_len = 1 + (sel as usize & 0x03) * 20;
        l.max_value_len = 1 + (sel as usize >> 2 & 0x03) * 100;
    }
    l
}

/// Parses what the connection wrote since `from`; checks framing; returns (type, id, content).
fn written(out: &[u8]) -> Vec<(RecordType, u16, &[u8])> {
    let mut v = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let h = Header::parse(rest).expect("output ends inside a record header");
        assert_eq!(h.version, 1);
        assert_eq!(rest[7], 0, "reserved byte");
        let total = HEADER_LEN + h.body_len();
        assert!(rest.len() >= total, "output ends inside a record");
        assert_eq!(total % 8, 0, "records are padded to 8 bytes");
        match h.record_type {
            RecordType::STDOUT | RecordType::STDERR | RecordType::END_REQUEST => {
                assert_ne!(h.request_id, 0, "stream record on id 0")
            }
            RecordType::GET_VALUES_RESULT | RecordType::UNKNOWN_TYPE => {
                assert_eq!(h.request_id, 0, "management reply off id 0")
            }
            t => panic!("an application never sends {t:?}"),
        }
        if h.record_type == RecordType::END_REQUEST {
            assert_eq!(h.content_length, 8);
            assert!(rest[HEADER_LEN + 4] <= 3, "protocolStatus");
        }
        v.push((
            h.record_type,
            h.request_id,
            &rest[HEADER_LEN..HEADER_LEN + h.content_length as usize],
        ));
        rest = &rest[total..];
    }
    v
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let chunk = match data[0] & 0x0f {
        0 => 1,
        1 => 3,
        2 => 8,
        3 => 9,
        n => 1 << (n + 2),
    };
    let app_read = [1usize, 7, 512, 8192][(data[0] >> 4 & 3) as usize];
    let limits = limits_for(data[1]);
    let stream = &data[2..];
    // Log lines about hostile input are expected by the thousand here; keep stderr quiet.
    fcgi_rs::log::set_max_level(0);
    let mut conn = Connection::new(MemoryTransport::new(stream.to_vec(), chunk), limits, ANSWER);

    let mut requests = 0usize;
    let mut buf = vec![0u8; app_read];
    loop {
        // Every request consumes at least a BEGIN_REQUEST and a PARAMS EOF record.
        requests += 1;
        assert!(
            requests <= stream.len() / 16 + 1,
            "more requests than the stream can hold"
        );
        let mark = conn.transport().output.len();
        match conn.read_head(true) {
            Ok(true) => {}
            Ok(false) => panic!("a memory transport with EOF never reports WouldBlock"),
            Err(_) => break,
        }
        let id = conn.request_id();
        assert_ne!(id, 0);

        let params = conn.params();
        let (arena, entries) = params.raw();
        assert!(entries.len() <= limits.max_params.max(1));
        assert!(arena.len() <= limits.max_params_bytes.max(32));
        let mut it = params.iter();
        let (n, _) = it.next().expect("FCGI_ROLE comes first");
        assert_eq!(n, b"FCGI_ROLE");
        for (n, v) in it {
            assert!(n.len() <= limits.max_name_len && v.len() <= limits.max_value_len);
        }
        let mut reply = Vec::new();
        for (n, v) in params.iter().take(4) {
            reply.extend_from_slice(n);
            reply.push(b'=');
            reply.extend_from_slice(&v[..v.len().min(100)]);
            reply.push(b'\n');
        }

        // Read the body (and the DATA stream of a FILTER request) the way FCGX_GetStr does.
        let mut body_len = 0usize;
        let mut input_failed = false;
        for pass in 0..2 {
            if pass == 1 && !(conn.role() == Role::Filter && conn.start_filter_data()) {
                break;
            }
            loop {
                match conn.read_input(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        body_len += n;
                        reply.extend_from_slice(&buf[..n.min(16)]);
                    }
                    Err(_) => {
                        input_failed = true;
                        break;
                    }
                }
            }
            if input_failed {
                break;
            }
        }
        assert!(body_len <= stream.len());
        let aborted = conn.is_aborted();

        let _ = conn.write_output(OutStream::Stderr, b"log line\n");
        let mut wrote = Vec::new();
        for piece in reply.chunks(1 + (body_len % 97)) {
            if conn.write_output(OutStream::Stdout, piece).is_ok() {
                wrote.extend_from_slice(piece);
            }
        }
        let fate = conn.finish(body_len as i32);

        // What this request sent: its STDOUT is what the program wrote, then EOF, then END.
        let out = &conn.transport().output[mark..];
        let mine: Vec<_> = written(out).into_iter().filter(|r| r.1 == id).collect();
        let end = mine.last().expect("END_REQUEST sent");
        assert_eq!(
            end.0,
            RecordType::END_REQUEST,
            "END_REQUEST is the last record"
        );
        assert_eq!(
            i32::from_be_bytes(end.2[..4].try_into().unwrap()),
            body_len as i32
        );
        let stdout: Vec<u8> = mine
            .iter()
            .filter(|r| r.0 == RecordType::STDOUT)
            .flat_map(|r| r.2.iter().copied())
            .collect();
        if aborted {
            assert!(stdout.len() <= wrote.len());
        } else {
            assert_eq!(stdout, wrote, "STDOUT differs from what the program wrote");
            let eof = mine
                .iter()
                .rposition(|r| r.0 == RecordType::STDOUT && r.2.is_empty());
            assert_eq!(
                eof,
                Some(mine.len() - 2),
                "STDOUT EOF right before END_REQUEST"
            );
        }
        if let Fate::Close { .. } = fate {
            break;
        }
    }
    // Whatever happened, everything ever written is well-framed.
    written(&conn.transport().output);
});
