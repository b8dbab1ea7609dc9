//! One request, as a Rust program sees it.

use crate::conn::{Connection, InputError, OutStream};
use crate::protocol::Role;
use crate::server::{AcceptEngine, Served, SocketIo};
use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

/// A request being served. Dropping it finishes it: buffered output, the stream ends and
/// END_REQUEST leave in one write, and the connection goes back to the server.
#[derive(Debug)]
pub struct Request {
    served: Option<Box<Served>>,
    engine: Arc<AcceptEngine>,
    app_status: i32,
}

/// What went wrong with a request, carried inside the [`io::Error`]s the request's streams
/// and response helpers return (errors of the operating system stay plain OS errors).
///
/// ```no_run
/// # fn f(req: &mut fcgi_rs::Request) {
/// use std::io::Read;
/// use fcgi_rs::RequestError;
///
/// let mut body = Vec::new();
/// if let Err(e) = req.stdin().read_to_end(&mut body) {
///     match RequestError::of(&e) {
///         Some(RequestError::Aborted) => { /* the client went away: stop working */ }
///         _ => eprintln!("reading the body: {e}"),
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The web server sent ABORT_REQUEST. [`io::ErrorKind::ConnectionAborted`].
    Aborted,
    /// The web server broke the protocol on the body, or closed the connection before the
    /// body ended. [`io::ErrorKind::InvalidData`].
    Protocol,
    /// [`Request::data`] without the FILTER role, or before stdin was read to its end.
    /// [`io::ErrorKind::InvalidInput`].
    NotFilterData,
    /// A header name or value given to [`Request::start_response`] contains a CR, LF or NUL
    /// byte, or a name is empty or has `:` or whitespace. Nothing was written.
    /// [`io::ErrorKind::InvalidInput`].
    InvalidHeader,
    /// A status outside 100..=999 given to [`Request::start_response`]. Nothing was
    /// written. [`io::ErrorKind::InvalidInput`].
    InvalidStatus,
}

impl RequestError {
    /// The [`RequestError`] inside `e`, if it came from this crate's request handling.
    pub fn of(e: &io::Error) -> Option<&RequestError> {
        e.get_ref()?.downcast_ref()
    }

    fn kind(self) -> io::ErrorKind {
        match self {
            RequestError::Aborted => io::ErrorKind::ConnectionAborted,
            RequestError::Protocol => io::ErrorKind::InvalidData,
            RequestError::NotFilterData
            | RequestError::InvalidHeader
            | RequestError::InvalidStatus => io::ErrorKind::InvalidInput,
        }
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RequestError::Aborted => "the web server aborted the request",
            RequestError::Protocol => "FastCGI protocol error on the request body",
            RequestError::NotFilterData => "DATA needs the FILTER role and stdin read to its end",
            RequestError::InvalidHeader => "invalid response header name or value",
            RequestError::InvalidStatus => "response status outside 100..=999",
        })
    }
}

impl std::error::Error for RequestError {}

impl From<RequestError> for io::Error {
    fn from(e: RequestError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

fn input_error(e: InputError) -> io::Error {
    match e {
        InputError::Aborted => RequestError::Aborted.into(),
        InputError::Protocol => RequestError::Protocol.into(),
        InputError::Os(e) => io::Error::from_raw_os_error(e),
    }
}

fn valid_header(name: &[u8], value: &[u8]) -> bool {
    !name.is_empty()
        && !name
            .iter()
            .any(|&b| b == b':' || b.is_ascii_whitespace() || b.is_ascii_control())
        && !value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0))
}

impl Request {
    pub(crate) fn new(served: Box<Served>, engine: Arc<AcceptEngine>) -> Request {
        Request {
            served: Some(served),
            engine,
            app_status: 0,
        }
    }

    fn conn(&self) -> &Connection<SocketIo> {
        &self.served.as_ref().expect("request in progress").conn
    }

    fn conn_mut(&mut self) -> &mut Connection<SocketIo> {
        &mut self.served.as_mut().expect("request in progress").conn
    }

    /// The role the web server asked for (almost always [`Role::Responder`]).
    pub fn role(&self) -> Role {
        self.conn().role()
    }

    /// The FastCGI request id the web server chose (for log lines; 1 with nginx).
    pub fn request_id(&self) -> u16 {
        self.conn().request_id()
    }

    /// Whether the web server asked to keep the connection open after this request
    /// (`FCGI_KEEP_CONN`, nginx's `fastcgi_keep_conn on`).
    pub fn keep_conn(&self) -> bool {
        self.conn().keep_conn()
    }

    /// A param by name, as bytes (names are case-sensitive; the first of duplicates wins).
    /// Params may hold any bytes; this is the way to read those that are not UTF-8.
    pub fn param_bytes(&self, name: &[u8]) -> Option<&[u8]> {
        self.conn().params().get(name)
    }

    /// A param by name, when its value is UTF-8 (`None` when absent or not UTF-8).
    ///
    /// ```no_run
    /// # fn f(req: &fcgi_rs::Request) {
    /// let method = req.param("REQUEST_METHOD").unwrap_or("GET");
    /// # }
    /// ```
    pub fn param(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(self.param_bytes(name.as_bytes())?).ok()
    }

    /// Every param in arrival order, `FCGI_ROLE` first (as the C library's `envp`).
    ///
    /// ```no_run
    /// # fn f(req: &fcgi_rs::Request) {
    /// for (name, value) in req.params() {
    ///     println!("{}={}", String::from_utf8_lossy(name), String::from_utf8_lossy(value));
    /// }
    /// # }
    /// ```
    pub fn params(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.conn().params().iter()
    }

    /// The request body, streamed from the connection as it is read (never buffered whole):
    /// [`Read`] and [`BufRead`]. Reading fails with [`RequestError::Aborted`] once the web
    /// server sends ABORT_REQUEST, and with [`RequestError::Protocol`] when the connection
    /// breaks mid-body.
    ///
    /// ```no_run
    /// # fn f(req: &mut fcgi_rs::Request) -> std::io::Result<()> {
    /// use std::io::BufRead;
    /// for line in req.stdin().lines() {
    ///     let line = line?;
    ///     // one line of the body at a time
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stdin(&mut self) -> Stdin<'_> {
        Stdin { req: self }
    }

    /// FILTER role: the DATA stream (the file to filter), available once
    /// [`Request::stdin`] has been read to its end; else [`RequestError::NotFilterData`].
    pub fn data(&mut self) -> io::Result<Stdin<'_>> {
        if !self.conn_mut().start_filter_data() {
            return Err(RequestError::NotFilterData.into());
        }
        Ok(Stdin { req: self })
    }

    /// The response stream (CGI-style: headers, a blank line, then the body). Output is
    /// buffered and framed into records; a small response leaves in one `write` together
    /// with the end of the request. [`Write::flush`] sends what is buffered now.
    pub fn stdout(&mut self) -> Stdout<'_> {
        Stdout {
            req: self,
            stream: OutStream::Stdout,
        }
    }

    /// Error output for the web server's log (nginx logs it as "FastCGI sent in stderr").
    pub fn stderr(&mut self) -> Stderr<'_> {
        Stdout {
            req: self,
            stream: OutStream::Stderr,
        }
    }

    /// The application status sent in END_REQUEST (0 unless set).
    pub fn set_exit_status(&mut self, status: i32) {
        self.app_status = status;
    }

    /// Whether the web server sent ABORT_REQUEST for this request (as far as the records
    /// read so far show: the abort is seen while reading the body, or at the latest when the
    /// request ends). After it, the body reads as [`RequestError::Aborted`] and output is
    /// discarded by the web server: a handler may stop early.
    pub fn is_aborted(&self) -> bool {
        self.conn().is_aborted()
    }

    /// Writes the status line and headers, ready for the body on the returned stream.
    ///
    /// A status outside 100..=999 or a header that could split the response (CR, LF or NUL
    /// in a value; an empty name, or `:`, whitespace or control bytes in one) is refused
    /// with [`RequestError::InvalidStatus`] or [`RequestError::InvalidHeader`] before
    /// anything is written.
    ///
    /// ```no_run
    /// # fn f(req: &mut fcgi_rs::Request) -> std::io::Result<()> {
    /// use std::io::Write;
    /// let mut out = req.start_response(200, &[("Content-Type", "text/csv")])?;
    /// for i in 0..1000 {
    ///     writeln!(out, "{i},{}", i * i)?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn start_response(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
    ) -> io::Result<Stdout<'_>> {
        if !(100..=999).contains(&status) {
            return Err(RequestError::InvalidStatus.into());
        }
        if headers
            .iter()
            .any(|(n, v)| !valid_header(n.as_bytes(), v.as_bytes()))
        {
            return Err(RequestError::InvalidHeader.into());
        }
        let mut out = self.stdout();
        // The head is gathered on the stack and leaves in as few writes as it takes (one for
        // ordinary headers): each write to the stream has a fixed cost, formatting more so.
        let mut head = HeadBuf::new(&mut out);
        let digits = [
            b'0' + (status / 100) as u8,
            b'0' + (status / 10 % 10) as u8,
            b'0' + (status % 10) as u8,
        ];
        for part in [
            b"Status: ".as_slice(),
            &digits,
            b" ",
            reason(status).as_bytes(),
        ] {
            head.put(part)?;
        }
        head.put(b"\r\n")?;
        for (name, value) in headers {
            for part in [name.as_bytes(), b": ", value.as_bytes(), b"\r\n"] {
                head.put(part)?;
            }
        }
        head.put(b"\r\n")?;
        head.flush()?;
        Ok(out)
    }

    /// A whole response at once: status, headers and body (checked as in
    /// [`Request::start_response`]).
    ///
    /// ```no_run
    /// # fn f(req: &mut fcgi_rs::Request) -> std::io::Result<()> {
    /// req.respond(404, &[("Content-Type", "text/plain")], b"no such page\n")
    /// # }
    /// ```
    pub fn respond(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        self.start_response(status, headers)?.write_all(body)
    }

    /// Ends the request now: the rest of the output, the end of both streams and
    /// END_REQUEST leave, and the connection goes back to the server (or is closed). Dropping
    /// the request does the same. Unread body bytes are skipped, never an error.
    pub fn finish(mut self) -> io::Result<()> {
        self.finish_inner()
    }

    fn finish_inner(&mut self) -> io::Result<()> {
        let Some(mut served) = self.served.take() else {
            return Ok(());
        };
        let fate = served.conn.finish(self.app_status);
        self.engine.release(served, fate);
        crate::pm::hooks::on_finished();
        Ok(())
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        let _ = self.finish_inner();
    }
}

/// The request body: [`Read`] and [`BufRead`] over the STDIN (or DATA) records.
#[derive(Debug)]
pub struct Stdin<'a> {
    req: &'a mut Request,
}

impl Read for Stdin<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.req.conn_mut().read_input(buf).map_err(input_error)
    }
}

impl BufRead for Stdin<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.req.conn_mut().input_buf().map_err(input_error)
    }
    fn consume(&mut self, amt: usize) {
        self.req.conn_mut().consume_input(amt)
    }
}

/// An output stream of the request: [`Write`] framed into STDOUT or STDERR records.
#[derive(Debug)]
pub struct Stdout<'a> {
    req: &'a mut Request,
    stream: OutStream,
}

/// The error stream has the same type as [`Stdout`].
pub type Stderr<'a> = Stdout<'a>;

impl Write for Stdout<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let s = self.stream;
        self.req.conn_mut().write_output(s, buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.req.conn_mut().flush_output()
    }
}

/// A response head being gathered: bytes go to `out` only when the buffer is full or at
/// [`HeadBuf::flush`].
struct HeadBuf<'o, W: Write> {
    out: &'o mut W,
    buf: [u8; 512],
    len: usize,
}

impl<'o, W: Write> HeadBuf<'o, W> {
    fn new(out: &'o mut W) -> Self {
        HeadBuf {
            out,
            buf: [0; 512],
            len: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.len + bytes.len() > self.buf.len() {
            self.flush()?;
            if bytes.len() > self.buf.len() {
                return self.out.write_all(bytes);
            }
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let n = std::mem::take(&mut self.len);
        self.out.write_all(&self.buf[..n])
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::HeadBuf;
    use std::io::{self, Write};

    /// Records every write it gets.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn head_leaves_in_one_write_when_it_fits() {
        let mut w = Writes::default();
        let mut h = HeadBuf::new(&mut w);
        for part in [
            &b"Status: 200 OK\r\n"[..],
            b"Content-Type: text/plain\r\n",
            b"\r\n",
        ] {
            h.put(part).unwrap();
        }
        h.flush().unwrap();
        assert_eq!(
            w.0,
            vec![b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n".to_vec()]
        );
    }

    #[test]
    fn long_heads_keep_every_byte_in_order() {
        let long = vec![b'v'; 2000];
        let mut w = Writes::default();
        let mut h = HeadBuf::new(&mut w);
        let parts: Vec<&[u8]> = vec![
            b"Status: 200 OK\r\n",
            b"X-Long: ",
            &long,
            b"\r\n",
            &[b'a'; 300],
            &[b'b'; 300],
            b"\r\n",
        ];
        for p in &parts {
            h.put(p).unwrap();
        }
        h.flush().unwrap();
        assert_eq!(w.0.concat(), parts.concat());
        assert!(w.0.iter().all(|x| !x.is_empty()));
        assert!(w.0.len() <= 4, "{} writes", w.0.len());
    }
}
