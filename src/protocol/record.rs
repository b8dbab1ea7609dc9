//! Record header and the fixed-size record bodies.

/// Length of every record header.
pub const HEADER_LEN: usize = 8;
/// The only protocol version there is.
pub const VERSION_1: u8 = 1;
/// Largest content a record can carry (16-bit length field).
pub const MAX_CONTENT_LEN: usize = 0xffff;
/// Request id of management records.
pub const NULL_REQUEST_ID: u16 = 0;
/// `flags` bit of BEGIN_REQUEST: keep the connection open after this request.
pub const KEEP_CONN: u8 = 1;
/// Content length of a BEGIN_REQUEST body.
pub const BEGIN_BODY_LEN: usize = 8;
/// Length of a whole END_REQUEST record (header + 8-byte body, no padding).
pub const END_REQUEST_RECORD_LEN: usize = 16;

/// A record type byte. Kept open (not an enum) because any byte may arrive and unknown
/// management types must be echoed back in an UNKNOWN_TYPE reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordType(pub u8);

impl RecordType {
    pub const BEGIN_REQUEST: Self = Self(1);
    pub const ABORT_REQUEST: Self = Self(2);
    pub const END_REQUEST: Self = Self(3);
    pub const PARAMS: Self = Self(4);
    pub const STDIN: Self = Self(5);
    pub const STDOUT: Self = Self(6);
    pub const STDERR: Self = Self(7);
    pub const DATA: Self = Self(8);
    pub const GET_VALUES: Self = Self(9);
    pub const GET_VALUES_RESULT: Self = Self(10);
    pub const UNKNOWN_TYPE: Self = Self(11);

    /// Name for log lines.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "BEGIN_REQUEST",
            2 => "ABORT_REQUEST",
            3 => "END_REQUEST",
            4 => "PARAMS",
            5 => "STDIN",
            6 => "STDOUT",
            7 => "STDERR",
            8 => "DATA",
            9 => "GET_VALUES",
            10 => "GET_VALUES_RESULT",
            11 => "UNKNOWN_TYPE",
            _ => "unknown",
        }
    }
}

/// The role a BEGIN_REQUEST asks the application to play.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Responder = 1,
    Authorizer = 2,
    Filter = 3,
}

impl Role {
    pub fn from_u16(v: u16) -> Option<Role> {
        match v {
            1 => Some(Role::Responder),
            2 => Some(Role::Authorizer),
            3 => Some(Role::Filter),
            _ => None,
        }
    }

    /// The `FCGI_ROLE` value libfcgi puts first in every request environment.
    pub fn env_name(self) -> &'static str {
        match self {
            Role::Responder => "RESPONDER",
            Role::Authorizer => "AUTHORIZER",
            Role::Filter => "FILTER",
        }
    }
}

/// `protocolStatus` of END_REQUEST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolStatus {
    RequestComplete = 0,
    CantMpxConn = 1,
    Overloaded = 2,
    UnknownRole = 3,
}

/// A record header. `padding_length` is what the peer sent; we never require alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub record_type: RecordType,
    pub request_id: u16,
    pub content_length: u16,
    pub padding_length: u8,
}

impl Header {
    /// A header for `content_length` bytes, padded so the whole record is a multiple of 8
    /// (what the specification recommends and libfcgi does).
    pub fn new(record_type: RecordType, request_id: u16, content_length: u16) -> Header {
        Header {
            version: VERSION_1,
            record_type,
            request_id,
            content_length,
            padding_length: padding_for(content_length as usize) as u8,
        }
    }

    /// Parses the first 8 bytes of `buf`; `None` if fewer are there.
    pub fn parse(buf: &[u8]) -> Option<Header> {
        let b: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header {
            version: b[0],
            record_type: RecordType(b[1]),
            request_id: u16::from_be_bytes([b[2], b[3]]),
            content_length: u16::from_be_bytes([b[4], b[5]]),
            padding_length: b[6],
        })
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let id = self.request_id.to_be_bytes();
        let len = self.content_length.to_be_bytes();
        [
            self.version,
            self.record_type.0,
            id[0],
            id[1],
            len[0],
            len[1],
            self.padding_length,
            0,
        ]
    }

    /// Content plus padding: the bytes that follow this header.
    pub fn body_len(&self) -> usize {
        self.content_length as usize + self.padding_length as usize
    }

    pub fn is_management(&self) -> bool {
        self.request_id == NULL_REQUEST_ID
    }
}

/// Zero bytes needed after `content_len` bytes to reach a multiple of 8.
pub fn padding_for(content_len: usize) -> usize {
    (8 - (content_len & 7)) & 7
}

/// The body of a BEGIN_REQUEST record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BeginRequest {
    /// Raw role number; see [`Role::from_u16`].
    pub role: u16,
    pub flags: u8,
}

impl BeginRequest {
    /// Parses a BEGIN_REQUEST body; `None` unless it is exactly 8 bytes.
    pub fn parse(content: &[u8]) -> Option<BeginRequest> {
        if content.len() != BEGIN_BODY_LEN {
            return None;
        }
        Some(BeginRequest {
            role: u16::from_be_bytes([content[0], content[1]]),
            flags: content[2],
        })
    }

    pub fn keep_conn(&self) -> bool {
        self.flags & KEEP_CONN != 0
    }

    /// Encodes a whole BEGIN_REQUEST record (for clients and tests).
    pub fn encode_record(request_id: u16, role: u16, flags: u8) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&Header::new(RecordType::BEGIN_REQUEST, request_id, 8).encode());
        out[8..10].copy_from_slice(&role.to_be_bytes());
        out[10] = flags;
        out
    }
}

/// Encodes a whole END_REQUEST record.
pub fn encode_end_request(
    request_id: u16,
    app_status: i32,
    status: ProtocolStatus,
) -> [u8; END_REQUEST_RECORD_LEN] {
    let mut out = [0u8; END_REQUEST_RECORD_LEN];
    out[..8].copy_from_slice(&Header::new(RecordType::END_REQUEST, request_id, 8).encode());
    out[8..12].copy_from_slice(&app_status.to_be_bytes());
    out[12] = status as u8;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = Header::new(RecordType::STDOUT, 0x1234, 13);
        assert_eq!(h.padding_length, 3);
        let bytes = h.encode();
        assert_eq!(bytes, [1, 6, 0x12, 0x34, 0, 13, 3, 0]);
        assert_eq!(Header::parse(&bytes), Some(h));
        assert_eq!(Header::parse(&bytes[..7]), None);
    }

    #[test]
    fn begin_request_body() {
        let rec = BeginRequest::encode_record(1, 1, KEEP_CONN);
        let h = Header::parse(&rec).unwrap();
        assert_eq!(h.record_type, RecordType::BEGIN_REQUEST);
        let b = BeginRequest::parse(&rec[8..16]).unwrap();
        assert_eq!(b.role, 1);
        assert!(b.keep_conn());
        assert_eq!(BeginRequest::parse(&rec[8..15]), None);
    }

    #[test]
    fn end_request_layout() {
        let rec = encode_end_request(7, -2, ProtocolStatus::UnknownRole);
        assert_eq!(&rec[..8], &[1, 3, 0, 7, 0, 8, 0, 0]);
        assert_eq!(&rec[8..12], &(-2i32).to_be_bytes());
        assert_eq!(rec[12], 3);
    }

    #[test]
    fn padding() {
        assert_eq!(padding_for(0), 0);
        assert_eq!(padding_for(1), 7);
        assert_eq!(padding_for(8), 0);
        assert_eq!(padding_for(65535), 1);
    }
}
