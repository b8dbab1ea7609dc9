//! A FastCGI client for tests, built on `fcgi_rs::protocol`.
//!
//! ```ignore
//! mod common;
//! use common::client::{Addr, Conn, Request, Role};
//!
//! let mut conn = Conn::connect(&addr)?;                 // Addr::Unix(path) or Addr::Tcp(sockaddr)
//! // One request, built like a web server would:
//! let req = Request::http("POST", "/echo?x=1")           // REQUEST_METHOD, QUERY_STRING, ...
//!     .param("HTTP_HOST", "example")
//!     .stdin(b"hello".to_vec())                          // also sets CONTENT_LENGTH
//!     .keep_conn(true)
//!     .params_record_max(7)                              // split PARAMS into 7-byte records
//!     .stdin_chunk(2);                                   // STDIN records of 2 bytes
//! let resp = conn.request(&req)?;                        // waits for END_REQUEST (timeout 10 s)
//! assert_eq!(resp.app_status, 0);
//! assert_eq!(resp.header("Status").as_deref(), Some("200 OK"));
//! let body: &[u8] = resp.body();                         // stdout after the CGI headers
//!
//! // Keep-alive reuse: call `request` again on the same `conn` (keep_conn(true) each time).
//! // Pipelining: write both, then read both.
//! conn.send(&Request::http("GET", "/a").id(1).keep_conn(true))?;
//! conn.send(&Request::http("GET", "/b").id(1).keep_conn(true))?;
//! let (a, b) = (conn.recv(1)?, conn.recv(1)?);
//!
//! // Management records.
//! let values = conn.get_values(&["FCGI_MAX_CONNS", "FCGI_MPXS_CONNS"])?;
//!
//! // Raw mode, for hostile input: any bytes, then whatever comes back.
//! let mut raw = Conn::connect(&addr)?;
//! raw.write_raw(&record(RecordType::BEGIN_REQUEST.0, 1, &[0, 1, 0, 0, 0, 0, 0, 0]))?;
//! raw.write_raw(&[1, 4, 0, 1, 0xff, 0xff, 0, 0])?;      // a truncated PARAMS record
//! let got = raw.read_raw(Duration::from_secs(1));       // until the peer closes or 1 s passes
//! println!("closed={} records={:?}", got.closed, got.records());
//! ```
//!
//! Building blocks for hand-made byte streams: [`record`] (one record, padded),
//! [`record_unpadded`], [`stream`] (content split into records plus the empty EOF record),
//! [`begin`], [`encode_pairs`], [`parse_records`].
//!
//! Writes of more than 64 KiB in [`Conn::send`] happen on a background thread, so a large
//! request body and a large response can cross without deadlocking; [`Conn::recv`] reads
//! concurrently. Every read carries a deadline ([`Conn::set_timeout`], default 10 s).

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fcgi_rs::protocol::{encode_pair, pairs, BeginRequest, HEADER_LEN, KEEP_CONN};
pub use fcgi_rs::protocol::{Header, RecordType, Role};

/// Where a FastCGI application listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl Addr {
    /// The address as `FCGX_OpenSocket`, `cgi-fcgi -connect` and nginx's `fastcgi_pass`
    /// (without the `unix:` prefix) spell it: a path, or `host:port`.
    pub fn to_libfcgi_string(&self) -> String {
        match self {
            Addr::Unix(p) => p.display().to_string(),
            Addr::Tcp(a) => a.to_string(),
        }
    }

    /// The address as nginx's `fastcgi_pass` / `server` wants it.
    pub fn to_nginx_string(&self) -> String {
        match self {
            Addr::Unix(p) => format!("unix:{}", p.display()),
            Addr::Tcp(a) => a.to_string(),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_nginx_string())
    }
}

/// One whole record with padding to a multiple of 8. Panics if `content` exceeds 65535.
pub fn record(record_type: u8, request_id: u16, content: &[u8]) -> Vec<u8> {
    let len = u16::try_from(content.len()).expect("record content above 65535 bytes");
    let h = Header::new(RecordType(record_type), request_id, len);
    let mut out = Vec::with_capacity(HEADER_LEN + h.body_len());
    out.extend_from_slice(&h.encode());
    out.extend_from_slice(content);
    out.resize(out.len() + h.padding_length as usize, 0);
    out
}

/// One whole record without padding.
pub fn record_unpadded(record_type: u8, request_id: u16, content: &[u8]) -> Vec<u8> {
    let len = u16::try_from(content.len()).expect("record content above 65535 bytes");
    let mut h = Header::new(RecordType(record_type), request_id, len);
    h.padding_length = 0;
    let mut out = h.encode().to_vec();
    out.extend_from_slice(content);
    out
}

/// `content` as a stream: records of at most `chunk` content bytes (1..=65535), then the empty
/// record that ends the stream.
pub fn stream(record_type: u8, request_id: u16, content: &[u8], chunk: usize) -> Vec<u8> {
    let chunk = chunk.clamp(1, 0xffff);
    let mut out = Vec::with_capacity(content.len() + content.len() / chunk * 16 + 16);
    for piece in content.chunks(chunk) {
        out.extend_from_slice(&record(record_type, request_id, piece));
    }
    out.extend_from_slice(&record(record_type, request_id, &[]));
    out
}

/// A BEGIN_REQUEST record.
pub fn begin(request_id: u16, role: u16, keep_conn: bool) -> [u8; 16] {
    BeginRequest::encode_record(request_id, role, if keep_conn { KEEP_CONN } else { 0 })
}

/// Name-value pairs encoded back to back (a PARAMS or GET_VALUES body).
pub fn encode_pairs<N: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(N, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in pairs {
        encode_pair(n.as_ref(), v.as_ref(), &mut out);
    }
    out
}

/// A record read back from the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub header: Header,
    pub content: Vec<u8>,
}

impl Record {
    pub fn record_type(&self) -> u8 {
        self.header.record_type.0
    }
}

/// Splits `bytes` into whole records; returns them and the number of trailing bytes that do
/// not form a whole record.
pub fn parse_records(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(h) = Header::parse(rest) {
        let total = HEADER_LEN + h.body_len();
        if rest.len() < total {
            break;
        }
        out.push(Record {
            header: h,
            content: rest[HEADER_LEN..HEADER_LEN + h.content_length as usize].to_vec(),
        });
        rest = &rest[total..];
    }
    (out, rest.len())
}

/// A request to send. Build with [`Request::new`] or [`Request::http`] and the setters.
#[derive(Clone, Debug)]
pub struct Request {
    pub id: u16,
    /// Raw role number (1 responder, 2 authorizer, 3 filter; anything else for hostile tests).
    pub role: u16,
    pub keep_conn: bool,
    /// Pairs in the order they are sent. Duplicates are sent as given.
    pub params: Vec<(Vec<u8>, Vec<u8>)>,
    pub stdin: Vec<u8>,
    /// The FILTER data stream; `None` sends no DATA records at all.
    pub data: Option<Vec<u8>>,
    /// Largest content of one PARAMS record; smaller values split pairs across records.
    pub params_record_max: usize,
    /// Content bytes per STDIN record.
    pub stdin_chunk: usize,
    /// Content bytes per DATA record.
    pub data_chunk: usize,
    /// Send the empty STDIN record that ends stdin (default true).
    pub stdin_eof: bool,
}

impl Default for Request {
    fn default() -> Self {
        Request::new()
    }
}

impl Request {
    /// A responder request, id 1, no keep_conn, no params, empty stdin.
    pub fn new() -> Request {
        Request {
            id: 1,
            role: Role::Responder as u16,
            keep_conn: false,
            params: Vec::new(),
            stdin: Vec::new(),
            data: None,
            params_record_max: 0xffff,
            stdin_chunk: 0xffff,
            data_chunk: 0xffff,
            stdin_eof: true,
        }
    }

    /// A responder request with the CGI params a web server sends for `method uri`
    /// (`REQUEST_METHOD`, `REQUEST_URI`, `SCRIPT_NAME`, `QUERY_STRING`, `SERVER_PROTOCOL`, ...).
    /// `CONTENT_LENGTH` follows [`Request::stdin`].
    pub fn http(method: &str, uri: &str) -> Request {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        Request::new()
            .param("GATEWAY_INTERFACE", "CGI/1.1")
            .param("SERVER_SOFTWARE", "fcgi_rs-test")
            .param("SERVER_PROTOCOL", "HTTP/1.1")
            .param("REQUEST_METHOD", method)
            .param("REQUEST_URI", uri)
            .param("SCRIPT_NAME", path)
            .param("QUERY_STRING", query)
            .param("SERVER_NAME", "localhost")
            .param("SERVER_PORT", "80")
            .param("REMOTE_ADDR", "127.0.0.1")
    }

    pub fn id(mut self, id: u16) -> Self {
        self.id = id;
        self
    }

    pub fn role(mut self, role: Role) -> Self {
        self.role = role as u16;
        self
    }

    pub fn raw_role(mut self, role: u16) -> Self {
        self.role = role;
        self
    }

    pub fn keep_conn(mut self, on: bool) -> Self {
        self.keep_conn = on;
        self
    }

    /// Appends a param (a later `param` with the same name is a duplicate, not a replacement;
    /// use [`Request::set_param`] to replace).
    pub fn param(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.params
            .push((name.as_ref().to_vec(), value.as_ref().to_vec()));
        self
    }

    /// Replaces the value of `name` (first occurrence), or appends it.
    pub fn set_param(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        let (n, v) = (name.as_ref(), value.as_ref());
        match self.params.iter_mut().find(|(k, _)| k == n) {
            Some(p) => p.1 = v.to_vec(),
            None => self.params.push((n.to_vec(), v.to_vec())),
        }
        self
    }

    /// Removes every param called `name`.
    pub fn remove_param(mut self, name: impl AsRef<[u8]>) -> Self {
        self.params.retain(|(k, _)| k != name.as_ref());
        self
    }

    /// Sets the request body and `CONTENT_LENGTH` (removed for an empty body).
    pub fn stdin(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.stdin = body.into();
        if self.stdin.is_empty() {
            self.remove_param("CONTENT_LENGTH")
        } else {
            let n = self.stdin.len().to_string();
            self.set_param("CONTENT_LENGTH", n)
        }
    }

    /// Sets the body without touching `CONTENT_LENGTH`.
    pub fn stdin_raw(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.stdin = body.into();
        self
    }

    /// Sets the FILTER data stream and `FCGI_DATA_LENGTH`.
    pub fn data(mut self, data: impl Into<Vec<u8>>) -> Self {
        let d = data.into();
        let n = d.len().to_string();
        self.data = Some(d);
        self.set_param("FCGI_DATA_LENGTH", n)
    }

    pub fn params_record_max(mut self, n: usize) -> Self {
        self.params_record_max = n.clamp(1, 0xffff);
        self
    }

    pub fn stdin_chunk(mut self, n: usize) -> Self {
        self.stdin_chunk = n.clamp(1, 0xffff);
        self
    }

    pub fn data_chunk(mut self, n: usize) -> Self {
        self.data_chunk = n.clamp(1, 0xffff);
        self
    }

    pub fn stdin_eof(mut self, on: bool) -> Self {
        self.stdin_eof = on;
        self
    }

    /// The request as bytes on the wire: BEGIN_REQUEST, PARAMS records and their EOF,
    /// STDIN records and (if enabled) their EOF, DATA records and their EOF.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&begin(self.id, self.role, self.keep_conn));
        let nv = encode_pairs(&self.params);
        out.extend_from_slice(&stream(
            RecordType::PARAMS.0,
            self.id,
            &nv,
            self.params_record_max,
        ));
        if self.stdin_eof {
            out.extend_from_slice(&stream(
                RecordType::STDIN.0,
                self.id,
                &self.stdin,
                self.stdin_chunk,
            ));
        } else {
            for piece in self.stdin.chunks(self.stdin_chunk) {
                out.extend_from_slice(&record(RecordType::STDIN.0, self.id, piece));
            }
        }
        if let Some(d) = &self.data {
            out.extend_from_slice(&stream(RecordType::DATA.0, self.id, d, self.data_chunk));
        }
        out
    }
}

/// What came back for one request.
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `appStatus` of END_REQUEST.
    pub app_status: i32,
    /// `protocolStatus` of END_REQUEST (0 = REQUEST_COMPLETE, 1 = CANT_MPX_CONN, ...).
    pub protocol_status: u8,
    /// Every record header of this request, in arrival order (END_REQUEST last).
    pub records: Vec<Header>,
    pub stdout_eof: bool,
    pub stderr_eof: bool,
}

impl Response {
    /// Where the CGI header block ends and the body starts in `stdout`.
    fn split(&self) -> (usize, usize) {
        let s = &self.stdout;
        let crlf = s
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| (i, i + 4));
        let lf = s.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2));
        match (crlf, lf) {
            (Some(a), Some(b)) => {
                if a.0 <= b.0 {
                    a
                } else {
                    b
                }
            }
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => (s.len(), s.len()),
        }
    }

    /// The CGI headers (`Name: value` lines before the first empty line) of stdout.
    pub fn headers(&self) -> Vec<(String, String)> {
        let (end, _) = self.split();
        String::from_utf8_lossy(&self.stdout[..end])
            .split('\n')
            .filter_map(|l| {
                let l = l.trim_end_matches('\r');
                let (n, v) = l.split_once(':')?;
                Some((n.trim().to_string(), v.trim().to_string()))
            })
            .collect()
    }

    /// First CGI header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Stdout after the CGI header block.
    pub fn body(&self) -> &[u8] {
        &self.stdout[self.split().1..]
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Content lengths of the records of `record_type`, in order.
    pub fn record_lengths(&self, record_type: RecordType) -> Vec<u16> {
        self.records
            .iter()
            .filter(|h| h.record_type == record_type)
            .map(|h| h.content_length)
            .collect()
    }
}

/// What [`Conn::read_raw`] saw.
#[derive(Clone, Debug, Default)]
pub struct RawRead {
    /// Every byte received (including anything already buffered by earlier reads).
    pub bytes: Vec<u8>,
    /// The peer closed the connection (EOF, reset or broken pipe).
    pub closed: bool,
    /// The error that ended reading, if any (a reset shows up here and in `closed`).
    pub error: Option<io::ErrorKind>,
}

impl RawRead {
    /// The whole records in `bytes`.
    pub fn records(&self) -> Vec<Record> {
        parse_records(&self.bytes).0
    }
}

#[derive(Debug)]
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }

    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(d),
            Stream::Tcp(s) => s.set_read_timeout(d),
        }
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tcp(s) => s.shutdown(how),
        }
    }
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

/// Writes above this size go through a background thread.
const INLINE_WRITE_MAX: usize = 64 * 1024;

fn is_closed_kind(k: io::ErrorKind) -> bool {
    matches!(
        k,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

/// A connection to a FastCGI application.
#[derive(Debug)]
pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    pending: VecDeque<Record>,
    timeout: Duration,
    writer: Option<JoinHandle<io::Result<()>>>,
    eof: bool,
}

impl Conn {
    /// Connects (5 s connect timeout on TCP). Reads time out after 10 s by default.
    pub fn connect(addr: &Addr) -> io::Result<Conn> {
        let stream = match addr {
            Addr::Unix(p) => Stream::Unix(UnixStream::connect(p)?),
            Addr::Tcp(a) => {
                let s = TcpStream::connect_timeout(a, Duration::from_secs(5))?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
        };
        Ok(Conn {
            stream,
            buf: Vec::new(),
            pending: VecDeque::new(),
            timeout: Duration::from_secs(10),
            writer: None,
            eof: false,
        })
    }

    /// Connects over TCP from the local address `source` (port chosen by the kernel), e.g.
    /// 127.0.0.2: Linux answers on every 127/8 address, so a test can be a second client
    /// host.
    pub fn connect_from(addr: &Addr, source: std::net::IpAddr) -> io::Result<Conn> {
        let Addr::Tcp(to) = addr else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a source address needs a TCP peer",
            ));
        };
        let sock = socket2::Socket::new(
            socket2::Domain::for_address(*to),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        sock.bind(&SocketAddr::new(source, 0).into())?;
        sock.connect_timeout(&(*to).into(), Duration::from_secs(5))?;
        let s = TcpStream::from(sock);
        s.set_nodelay(true)?;
        Ok(Conn {
            stream: Stream::Tcp(s),
            buf: Vec::new(),
            pending: VecDeque::new(),
            timeout: Duration::from_secs(10),
            writer: None,
            eof: false,
        })
    }

    /// The longest any single `recv`/`read_record`/`get_values` waits.
    pub fn set_timeout(&mut self, d: Duration) {
        self.timeout = d;
    }

    /// Builder form of [`Conn::set_timeout`].
    pub fn with_timeout(mut self, d: Duration) -> Conn {
        self.timeout = d;
        self
    }

    /// Waits for a background write started by [`Conn::send`] and returns its result.
    pub fn finish_writes(&mut self) -> io::Result<()> {
        match self.writer.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("writer panicked"))),
            None => Ok(()),
        }
    }

    /// Sends bytes as they are (after any earlier background write completes).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.finish_writes()?;
        self.stream.write_all(bytes)
    }

    /// Sends bytes on a background thread and returns at once; the next write or
    /// [`Conn::finish_writes`] waits for it.
    pub fn write_raw_background(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        self.finish_writes()?;
        let mut s = self.stream.try_clone()?;
        self.writer = Some(std::thread::spawn(move || s.write_all(&bytes)));
        Ok(())
    }

    /// Writes a whole request (large ones in the background, see the module docs).
    pub fn send(&mut self, req: &Request) -> io::Result<()> {
        let bytes = req.encode();
        if bytes.len() > INLINE_WRITE_MAX {
            self.write_raw_background(bytes)
        } else {
            self.write_raw(&bytes)
        }
    }

    /// Sends `req` and reads its response.
    pub fn request(&mut self, req: &Request) -> io::Result<Response> {
        self.send(req)?;
        let resp = self.recv(req.id)?;
        // The application answered; a write still pending means it ended the request
        // without reading all of stdin, which is allowed. Do not block on it here.
        if self.writer.as_ref().is_some_and(|h| h.is_finished()) {
            self.finish_writes()?;
        }
        Ok(resp)
    }

    /// Half-closes: the application sees EOF on its next read.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.finish_writes()?;
        self.stream.shutdown(Shutdown::Write)
    }

    /// Reads one record, waiting at most until `deadline`.
    fn read_record_until(&mut self, deadline: Instant) -> io::Result<Record> {
        loop {
            if let Some(h) = Header::parse(&self.buf) {
                let total = HEADER_LEN + h.body_len();
                if self.buf.len() >= total {
                    let content =
                        self.buf[HEADER_LEN..HEADER_LEN + h.content_length as usize].to_vec();
                    self.buf.drain(..total);
                    return Ok(Record { header: h, content });
                }
            }
            if self.eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "peer closed the connection ({} stray bytes)",
                        self.buf.len()
                    ),
                ));
            }
            self.fill(deadline)?;
        }
    }

    /// One read into `buf`; `TimedOut` past the deadline; sets `eof` on a close.
    fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        let now = Instant::now();
        if now >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "timed out waiting for the peer",
            ));
        }
        self.stream.set_read_timeout(Some(deadline - now))?;
        let mut tmp = [0u8; 65536];
        match self.stream.read(&mut tmp) {
            Ok(0) => {
                self.eof = true;
                Ok(0)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "timed out waiting for the peer",
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => {
                if is_closed_kind(e.kind()) {
                    self.eof = true;
                }
                Err(e)
            }
        }
    }

    /// Reads the next record (also ones queued by `recv` for other request ids).
    pub fn read_record(&mut self) -> io::Result<Record> {
        if let Some(r) = self.pending.pop_front() {
            return Ok(r);
        }
        let deadline = Instant::now() + self.timeout;
        self.read_record_until(deadline)
    }

    /// Reads the response of request `id`, up to and including its END_REQUEST. Records of
    /// other ids (and management records) are queued for [`Conn::read_record`].
    pub fn recv(&mut self, id: u16) -> io::Result<Response> {
        let deadline = Instant::now() + self.timeout;
        let mut resp = Response::default();
        let mut queued = std::mem::take(&mut self.pending);
        loop {
            let rec = match queued.iter().position(|r| r.header.request_id == id) {
                Some(i) => queued.remove(i).expect("index in range"),
                None => match self.read_record_until(deadline) {
                    Ok(r) => r,
                    Err(e) => {
                        self.pending = queued;
                        return Err(io::Error::new(
                            e.kind(),
                            format!(
                                "{e} (request {id}: got {} stdout, {} stderr bytes, {} records so far)",
                                resp.stdout.len(),
                                resp.stderr.len(),
                                resp.records.len()
                            ),
                        ));
                    }
                },
            };
            if rec.header.request_id != id {
                queued.push_back(rec);
                continue;
            }
            resp.records.push(rec.header);
            match rec.header.record_type {
                RecordType::STDOUT if rec.content.is_empty() => resp.stdout_eof = true,
                RecordType::STDOUT => resp.stdout.extend_from_slice(&rec.content),
                RecordType::STDERR if rec.content.is_empty() => resp.stderr_eof = true,
                RecordType::STDERR => resp.stderr.extend_from_slice(&rec.content),
                RecordType::END_REQUEST => {
                    if rec.content.len() >= 5 {
                        let c = &rec.content;
                        resp.app_status = i32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                        resp.protocol_status = c[4];
                    }
                    self.pending = queued;
                    return Ok(resp);
                }
                _ => {}
            }
        }
    }

    /// Sends FCGI_GET_VALUES for `names` and returns the pairs of the GET_VALUES_RESULT.
    pub fn get_values(&mut self, names: &[&str]) -> io::Result<Vec<(String, String)>> {
        let body: Vec<(&str, &str)> = names.iter().map(|n| (*n, "")).collect();
        self.write_raw(&record(RecordType::GET_VALUES.0, 0, &encode_pairs(&body)))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let rec = self.read_record_until(deadline)?;
            if rec.header.record_type == RecordType::GET_VALUES_RESULT {
                let mut out = Vec::new();
                for p in pairs(&rec.content) {
                    let (n, v) = p.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    out.push((
                        String::from_utf8_lossy(n).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    ));
                }
                return Ok(out);
            }
            self.pending.push_back(rec);
        }
    }

    /// Reads whatever arrives until the peer closes or `wait` has passed. Bytes already
    /// buffered (but not consumed as records) come first.
    pub fn read_raw(&mut self, wait: Duration) -> RawRead {
        let deadline = Instant::now() + wait;
        let mut out = RawRead::default();
        while !self.eof {
            match self.fill(deadline) {
                Ok(_) => {}
                Err(e) => {
                    if e.kind() != io::ErrorKind::TimedOut {
                        out.error = Some(e.kind());
                    }
                    break;
                }
            }
        }
        for r in self.pending.drain(..) {
            out.bytes.extend_from_slice(&record_unpadded(
                r.header.record_type.0,
                r.header.request_id,
                &r.content,
            ));
        }
        out.bytes.append(&mut self.buf);
        out.closed = self.eof;
        out
    }

    /// Reads and discards until the peer closes; true if it did within `wait`.
    pub fn wait_closed(&mut self, wait: Duration) -> bool {
        self.read_raw(wait).closed
    }

    /// True once a read has seen the peer close.
    pub fn peer_closed(&self) -> bool {
        self.eof
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Unblocks a background writer stuck on a peer that stopped reading.
        let _ = self.stream.shutdown(Shutdown::Both);
        let _ = self.finish_writes();
    }
}
