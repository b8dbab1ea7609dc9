//! The FastCGI wire format: record headers, record bodies, name-value pairs.
//!
//! Everything here works on byte slices. Parsing borrows from its input and reports how many
//! more bytes it needs instead of consuming a partial record; encoding writes into buffers the
//! caller owns. Every length read from the wire is checked before it is used, so no input can
//! make this layer index out of bounds, allocate, or panic.
#![forbid(unsafe_code)]

mod management;
mod nv;
mod record;

pub use management::{
    encode_get_values_result, encode_unknown_type, GetValuesAnswer, GetValuesError,
    GET_VALUES_RESULT_MAX, MAX_CONNS, MAX_REQS, MPXS_CONNS,
};
pub use nv::{encode_pair, encoded_pair_len, pairs, NvError, PairDecoder, PairEvent, Pairs};
pub use record::{
    encode_end_request, padding_for, BeginRequest, Header, ProtocolStatus, RecordType, Role,
    BEGIN_BODY_LEN, END_REQUEST_RECORD_LEN, HEADER_LEN, KEEP_CONN, MAX_CONTENT_LEN,
    NULL_REQUEST_ID, VERSION_1,
};
