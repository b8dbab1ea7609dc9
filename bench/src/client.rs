//! A minimal blocking FastCGI client: pre-encoded requests, a response reader that keeps
//! read-ahead bytes, and checks on every response.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fcgi_rs::protocol::{
    encode_pair, BeginRequest, Header, RecordType, HEADER_LEN, KEEP_CONN, MAX_CONTENT_LEN,
};

/// The request id every request uses (one request at a time per connection).
pub const REQUEST_ID: u16 = 1;

/// The responder role number.
const ROLE_RESPONDER: u16 = 1;

/// Where the server listens.
#[derive(Clone, Debug)]
pub enum Target {
    Unix(PathBuf),
    Tcp(String),
}

impl Target {
    /// `host:port` is TCP; anything else is a unix socket path.
    pub fn parse(s: &str) -> Target {
        let looks_tcp = !s.contains('/')
            && s.rsplit_once(':')
                .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if looks_tcp {
            Target::Tcp(s.to_string())
        } else {
            Target::Unix(PathBuf::from(s))
        }
    }

    /// Connects, with `poll` as the read timeout used to notice a stop request.
    pub fn connect(&self, poll: Duration) -> io::Result<Stream> {
        match self {
            Target::Unix(p) => {
                let s = UnixStream::connect(p)?;
                s.set_read_timeout(Some(poll))?;
                Ok(Stream::Unix(s))
            }
            Target::Tcp(a) => {
                let s = TcpStream::connect(a.as_str())?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(poll))?;
                Ok(Stream::Tcp(s))
            }
        }
    }
}

/// A connected socket of either family.
#[derive(Debug)]
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The parameters nginx's stock `fastcgi_params` plus a few request headers produce, in the
/// order nginx sends them.
pub const NGINX_PARAMS: &[(&str, &str)] = &[
    ("SCRIPT_FILENAME", "/var/www/html/index.fcgi"),
    ("QUERY_STRING", "id=42&sort=desc"),
    ("REQUEST_METHOD", "GET"),
    ("CONTENT_TYPE", ""),
    ("CONTENT_LENGTH", ""),
    ("SCRIPT_NAME", "/index.fcgi"),
    ("REQUEST_URI", "/index.fcgi?id=42&sort=desc"),
    ("DOCUMENT_URI", "/index.fcgi"),
    ("DOCUMENT_ROOT", "/var/www/html"),
    ("SERVER_PROTOCOL", "HTTP/1.1"),
    ("REQUEST_SCHEME", "http"),
    ("GATEWAY_INTERFACE", "CGI/1.1"),
    ("SERVER_SOFTWARE", "nginx/1.22.1"),
    ("REMOTE_ADDR", "127.0.0.1"),
    ("REMOTE_PORT", "51234"),
    ("SERVER_ADDR", "127.0.0.1"),
    ("SERVER_PORT", "80"),
    ("SERVER_NAME", "localhost"),
    ("REDIRECT_STATUS", "200"),
    ("HTTP_HOST", "localhost"),
    (
        "HTTP_USER_AGENT",
        "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0",
    ),
    (
        "HTTP_ACCEPT",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
];

/// Default parameter count: the whole nginx-like set.
pub const DEFAULT_PARAMS: usize = NGINX_PARAMS.len();

/// What one request looks like.
#[derive(Clone, Copy, Debug)]
pub struct RequestSpec {
    /// Number of PARAMS pairs (the nginx-like set, then `HTTP_X_PAD_n` pairs beyond it).
    pub params: usize,
    /// Bytes of STDIN.
    pub body: usize,
    /// Set FCGI_KEEP_CONN.
    pub keep_conn: bool,
}

/// Encodes a whole request: BEGIN_REQUEST, PARAMS, empty PARAMS, STDIN, empty STDIN.
pub fn build_request(spec: &RequestSpec) -> Vec<u8> {
    let mut pairs = Vec::new();
    let body_len = spec.body.to_string();
    for i in 0..spec.params {
        match NGINX_PARAMS.get(i) {
            Some(&(name, value)) => {
                let value = match (name, spec.body) {
                    ("REQUEST_METHOD", n) if n > 0 => "POST",
                    ("CONTENT_TYPE", n) if n > 0 => "application/x-www-form-urlencoded",
                    ("CONTENT_LENGTH", n) if n > 0 => body_len.as_str(),
                    _ => value,
                };
                encode_pair(name.as_bytes(), value.as_bytes(), &mut pairs);
            }
            None => {
                let name = format!("HTTP_X_PAD_{i}");
                encode_pair(name.as_bytes(), b"padding-value-0123456789", &mut pairs);
            }
        }
    }
    let flags = if spec.keep_conn { KEEP_CONN } else { 0 };
    let mut out = Vec::with_capacity(64 + pairs.len() + spec.body + spec.body / 8);
    out.extend_from_slice(&BeginRequest::encode_record(
        REQUEST_ID,
        ROLE_RESPONDER,
        flags,
    ));
    push_stream(&mut out, RecordType::PARAMS, &pairs);
    let body = vec![b'x'; spec.body];
    push_stream(&mut out, RecordType::STDIN, &body);
    out
}

/// Appends `data` as records of `kind` (each at most 65528 bytes, padded to 8), then the
/// empty record that ends the stream.
fn push_stream(out: &mut Vec<u8>, kind: RecordType, data: &[u8]) {
    let chunk_max = MAX_CONTENT_LEN & !7;
    for chunk in data.chunks(chunk_max) {
        let h = Header::new(kind, REQUEST_ID, chunk.len() as u16);
        out.extend_from_slice(&h.encode());
        out.extend_from_slice(chunk);
        out.resize(out.len() + h.padding_length as usize, 0);
    }
    out.extend_from_slice(&Header::new(kind, REQUEST_ID, 0).encode());
}

/// Why a request failed.
#[derive(Debug)]
pub enum ClientError {
    Connect(io::Error),
    Io(io::Error),
    /// The server closed the connection before END_REQUEST.
    Eof,
    /// A record we did not expect, or a bad END_REQUEST.
    Protocol(String),
    /// No END_REQUEST within the per-request timeout.
    Timeout,
    /// The run ended while this request was still waiting (a starved connection).
    Abandoned,
    /// STDOUT was empty.
    EmptyStdout,
    /// STDOUT differed from the expected body.
    BodyMismatch,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect(e) => write!(f, "connect: {e}"),
            ClientError::Io(e) => write!(f, "i/o: {e}"),
            ClientError::Eof => f.write_str("connection closed before END_REQUEST"),
            ClientError::Protocol(m) => write!(f, "protocol: {m}"),
            ClientError::Timeout => f.write_str("request timed out"),
            ClientError::Abandoned => f.write_str("still waiting when the run ended"),
            ClientError::EmptyStdout => f.write_str("empty stdout"),
            ClientError::BodyMismatch => f.write_str("stdout differs from the expected body"),
        }
    }
}

/// Reads responses, keeping bytes read past one response for the next.
#[derive(Debug)]
pub struct ResponseReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The STDOUT bytes of the last response.
    pub stdout: Vec<u8>,
    /// The STDERR byte count of the last response.
    pub stderr_len: usize,
}

impl Default for ResponseReader {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseReader {
    pub fn new() -> ResponseReader {
        ResponseReader {
            buf: vec![0; 128 * 1024],
            start: 0,
            end: 0,
            stdout: Vec::with_capacity(64 * 1024),
            stderr_len: 0,
        }
    }

    /// Forgets buffered bytes (for a new connection).
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Reads one response for [`REQUEST_ID`]. `deadline` bounds the wait; `stop` is polled
    /// whenever a read times out and abandons the request when it returns true.
    pub fn read_response(
        &mut self,
        s: &mut Stream,
        deadline: Instant,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), ClientError> {
        self.stdout.clear();
        self.stderr_len = 0;
        loop {
            // Consume every complete record in the buffer.
            while let Some(h) = Header::parse(&self.buf[self.start..self.end]) {
                let total = HEADER_LEN + h.body_len();
                if self.end - self.start < total {
                    break;
                }
                let content = &self.buf
                    [self.start + HEADER_LEN..self.start + HEADER_LEN + h.content_length as usize];
                if h.request_id != REQUEST_ID {
                    return Err(ClientError::Protocol(format!(
                        "{} record for request id {}",
                        h.record_type.name(),
                        h.request_id
                    )));
                }
                match h.record_type {
                    RecordType::STDOUT => self.stdout.extend_from_slice(content),
                    RecordType::STDERR => self.stderr_len += content.len(),
                    RecordType::END_REQUEST => {
                        if content.len() != 8 {
                            return Err(ClientError::Protocol("short END_REQUEST".into()));
                        }
                        let protocol_status = content[4];
                        self.start += total;
                        if protocol_status != 0 {
                            return Err(ClientError::Protocol(format!(
                                "END_REQUEST protocol status {protocol_status}"
                            )));
                        }
                        return Ok(());
                    }
                    other => {
                        return Err(ClientError::Protocol(format!(
                            "unexpected {} record",
                            other.name()
                        )))
                    }
                }
                self.start += total;
            }
            // Need more bytes: compact, then read.
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.end == self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            match s.read(&mut self.buf[self.end..]) {
                Ok(0) => return Err(ClientError::Eof),
                Ok(n) => self.end += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if stop() {
                        return Err(ClientError::Abandoned);
                    }
                    if Instant::now() >= deadline {
                        return Err(ClientError::Timeout);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shape() {
        let r = build_request(&RequestSpec {
            params: DEFAULT_PARAMS,
            body: 0,
            keep_conn: true,
        });
        assert_eq!(r[1], 1);
        assert_eq!(r[10], KEEP_CONN);
        assert_eq!(r.len() % 8, 0);
        // Ends with empty PARAMS then empty STDIN.
        assert_eq!(
            &r[r.len() - 16..r.len() - 8],
            &Header::new(RecordType::PARAMS, 1, 0).encode()
        );
        assert_eq!(
            &r[r.len() - 8..],
            &Header::new(RecordType::STDIN, 1, 0).encode()
        );
    }

    #[test]
    fn big_body_splits() {
        let r = build_request(&RequestSpec {
            params: 3,
            body: 100_000,
            keep_conn: false,
        });
        assert!(r.len() > 100_000);
        assert_eq!(r.len() % 8, 0);
    }

    #[test]
    fn target_parse() {
        assert!(matches!(Target::parse("127.0.0.1:9000"), Target::Tcp(_)));
        assert!(matches!(Target::parse("localhost:9000"), Target::Tcp(_)));
        assert!(matches!(Target::parse("/run/x.sock"), Target::Unix(_)));
        assert!(matches!(Target::parse("x.sock"), Target::Unix(_)));
    }
}
