//! Record header and fixed-body parsing/encoding invariants, plus the management answers
//! (GET_VALUES_RESULT, UNKNOWN_TYPE) built from arbitrary queries.
#![no_main]

use fcgi_rs::protocol::{
    encode_end_request, encode_get_values_result, encode_unknown_type, pairs, BeginRequest,
    GetValuesAnswer, Header, ProtocolStatus, RecordType, GET_VALUES_RESULT_MAX, HEADER_LEN,
    MAX_CONNS, MAX_REQS, MPXS_CONNS, VERSION_1,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Parsing: never more than 8 bytes looked at, None exactly when fewer are there.
    let parsed = Header::parse(data);
    assert_eq!(parsed.is_some(), data.len() >= HEADER_LEN);
    if let Some(h) = parsed {
        let enc = h.encode();
        // Every field survives; only the reserved byte is normalised to zero.
        assert_eq!(&enc[..7], &data[..7]);
        assert_eq!(enc[7], 0);
        assert_eq!(Header::parse(&enc), Some(h));
        assert_eq!(
            h.body_len(),
            h.content_length as usize + h.padding_length as usize
        );
        assert_eq!(h.is_management(), h.request_id == 0);
        // A record type name is total (log lines must not panic on any byte).
        let _ = h.record_type.name();

        // Headers we build ourselves are always aligned and round-trip.
        let ours = Header::new(h.record_type, h.request_id, h.content_length);
        assert_eq!(ours.version, VERSION_1);
        assert!(ours.padding_length < 8);
        assert_eq!(ours.body_len() % 8, 0);
        assert_eq!(Header::parse(&ours.encode()), Some(ours));

        // Fixed bodies: BEGIN_REQUEST parses only from exactly 8 bytes.
        let body = &data[HEADER_LEN..];
        let b = BeginRequest::parse(body);
        assert_eq!(b.is_some(), body.len() == 8);
        if let Some(b) = b {
            assert_eq!(b.role, u16::from_be_bytes([body[0], body[1]]));
            assert_eq!(b.keep_conn(), body[2] & 1 != 0);
            let rec = BeginRequest::encode_record(h.request_id, b.role, b.flags);
            let rh = Header::parse(&rec).unwrap();
            assert_eq!(rh.record_type, RecordType::BEGIN_REQUEST);
            assert_eq!(
                (rh.request_id, rh.content_length, rh.padding_length),
                (h.request_id, 8, 0)
            );
            assert_eq!(BeginRequest::parse(&rec[8..]), Some(b));
        }

        let status = [
            ProtocolStatus::RequestComplete,
            ProtocolStatus::CantMpxConn,
            ProtocolStatus::Overloaded,
            ProtocolStatus::UnknownRole,
        ][data[1] as usize & 3];
        let app = i32::from_be_bytes([data[2], data[3], data[4], data[5]]);
        let end = encode_end_request(h.request_id, app, status);
        let eh = Header::parse(&end).unwrap();
        assert_eq!(eh.record_type, RecordType::END_REQUEST);
        assert_eq!((eh.request_id, eh.content_length), (h.request_id, 8));
        assert_eq!(i32::from_be_bytes(end[8..12].try_into().unwrap()), app);
        assert_eq!(end[12], status as u8);

        let unk = encode_unknown_type(h.record_type);
        let uh = Header::parse(&unk).unwrap();
        assert_eq!(
            (uh.record_type, uh.request_id, uh.content_length),
            (RecordType::UNKNOWN_TYPE, 0, 8)
        );
        assert_eq!(unk[8], h.record_type.0);
    }

    // GET_VALUES: any query gives a bounded, aligned, well-formed answer naming each known
    // variable at most once (libfcgi overflowed a stack array on repeated names).
    let answer = GetValuesAnswer {
        max_conns: data.len() as u32 * 977,
        max_reqs: u32::MAX - data.len() as u32,
        mpxs_conns: data.len() & 1 == 0,
    };
    let mut out = [0u8; GET_VALUES_RESULT_MAX];
    let query_ok = pairs(data).all(|p| p.is_ok());
    match encode_get_values_result(data, &answer, &mut out) {
        Err(_) => assert!(!query_ok),
        Ok(n) => {
            assert!(query_ok);
            assert!(n <= GET_VALUES_RESULT_MAX && n % 8 == 0);
            let h = Header::parse(&out[..n]).unwrap();
            assert_eq!(
                (h.record_type, h.request_id),
                (RecordType::GET_VALUES_RESULT, 0)
            );
            assert_eq!(HEADER_LEN + h.body_len(), n);
            let body = &out[HEADER_LEN..HEADER_LEN + h.content_length as usize];
            let known = [MAX_CONNS, MAX_REQS, MPXS_CONNS];
            let mut seen = [false; 3];
            for p in pairs(body) {
                let (name, value) = p.expect("our own answer parses");
                let i = known
                    .iter()
                    .position(|k| *k == name)
                    .expect("only known names");
                assert!(!seen[i], "a name answered twice");
                seen[i] = true;
                let expect = match i {
                    0 => answer.max_conns.to_string(),
                    1 => answer.max_reqs.to_string(),
                    _ => (answer.mpxs_conns as u32).to_string(),
                };
                assert_eq!(value, expect.as_bytes());
            }
            for (i, k) in known.iter().enumerate() {
                let asked = pairs(data).any(|p| p.map(|(n, _)| n == *k).unwrap_or(false));
                assert_eq!(seen[i], asked, "answered iff asked");
            }
        }
    }
});
