//! Management records (request id 0): GET_VALUES and UNKNOWN_TYPE.

use super::nv::pairs;
use super::record::{Header, RecordType, NULL_REQUEST_ID};

pub const MAX_CONNS: &[u8] = b"FCGI_MAX_CONNS";
pub const MAX_REQS: &[u8] = b"FCGI_MAX_REQS";
pub const MPXS_CONNS: &[u8] = b"FCGI_MPXS_CONNS";

/// Upper bound of a whole GET_VALUES_RESULT record. Each known name is answered at most once
/// however often it is asked (libfcgi appended one answer per occurrence into a 64-byte stack
/// array and overflowed it), so the answer has a fixed maximum size.
pub const GET_VALUES_RESULT_MAX: usize = 8 + 3 * (2 + 15 + 10) + 7;

/// The values this application reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetValuesAnswer {
    pub max_conns: u32,
    pub max_reqs: u32,
    pub mpxs_conns: bool,
}

/// A GET_VALUES body that is not a valid name-value sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetValuesError;

impl std::fmt::Display for GetValuesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed GET_VALUES body")
    }
}

/// Writes the whole GET_VALUES_RESULT record answering `query` into `out`; returns its length.
/// Unknown names are left out, as the specification says.
pub fn encode_get_values_result(
    query: &[u8],
    answer: &GetValuesAnswer,
    out: &mut [u8; GET_VALUES_RESULT_MAX],
) -> Result<usize, GetValuesError> {
    let mut asked = [false; 3];
    for pair in pairs(query) {
        let (name, _) = pair.map_err(|_| GetValuesError)?;
        if let Some(i) = [MAX_CONNS, MAX_REQS, MPXS_CONNS]
            .iter()
            .position(|k| *k == name)
        {
            asked[i] = true;
        }
    }
    let mut len = 8;
    let mut digits = [0u8; 10];
    let values = [answer.max_conns, answer.max_reqs, answer.mpxs_conns as u32];
    for (i, name) in [MAX_CONNS, MAX_REQS, MPXS_CONNS].iter().enumerate() {
        if !asked[i] {
            continue;
        }
        let value = decimal(values[i], &mut digits);
        out[len] = name.len() as u8;
        out[len + 1] = value.len() as u8;
        len += 2;
        out[len..len + name.len()].copy_from_slice(name);
        len += name.len();
        out[len..len + value.len()].copy_from_slice(value);
        len += value.len();
    }
    let header = Header::new(
        RecordType::GET_VALUES_RESULT,
        NULL_REQUEST_ID,
        (len - 8) as u16,
    );
    out[..8].copy_from_slice(&header.encode());
    let total = len + header.padding_length as usize;
    out[len..total].fill(0);
    Ok(total)
}

fn decimal(mut v: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// The whole UNKNOWN_TYPE record answering a management record of type `record_type`.
pub fn encode_unknown_type(record_type: RecordType) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&Header::new(RecordType::UNKNOWN_TYPE, NULL_REQUEST_ID, 8).encode());
    out[8] = record_type.0;
    out
}

#[cfg(test)]
mod tests {
    use super::super::nv::encode_pair;
    use super::*;

    fn query(names: &[&[u8]]) -> Vec<u8> {
        let mut q = Vec::new();
        for n in names {
            encode_pair(n, b"", &mut q);
        }
        q
    }

    #[test]
    fn answers_known_names_once_each() {
        let answer = GetValuesAnswer {
            max_conns: 1024,
            max_reqs: 4,
            mpxs_conns: false,
        };
        let mut out = [0u8; GET_VALUES_RESULT_MAX];
        let q = query(&[
            MPXS_CONNS, b"NOPE", MAX_REQS, MPXS_CONNS, MPXS_CONNS, MPXS_CONNS, MAX_CONNS,
        ]);
        let n = encode_get_values_result(&q, &answer, &mut out).unwrap();
        assert_eq!(n % 8, 0);
        let h = Header::parse(&out).unwrap();
        assert_eq!(h.record_type, RecordType::GET_VALUES_RESULT);
        let body = &out[8..8 + h.content_length as usize];
        let got: Vec<_> = pairs(body).map(|p| p.unwrap()).collect();
        assert_eq!(
            got,
            vec![
                (MAX_CONNS, &b"1024"[..]),
                (MAX_REQS, &b"4"[..]),
                (MPXS_CONNS, &b"0"[..])
            ]
        );
    }

    #[test]
    fn largest_answer_fits() {
        let answer = GetValuesAnswer {
            max_conns: u32::MAX,
            max_reqs: u32::MAX,
            mpxs_conns: true,
        };
        let mut out = [0u8; GET_VALUES_RESULT_MAX];
        let q = query(&[MAX_CONNS, MAX_REQS, MPXS_CONNS]);
        assert!(encode_get_values_result(&q, &answer, &mut out).is_ok());
        assert!(encode_get_values_result(&[0x80], &answer, &mut out).is_err());
    }
}
