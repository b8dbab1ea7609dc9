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

fn input_error(e: InputError) -> io::Error {
    match e {
        InputError::Aborted => io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "the web server aborted the request",
        ),
        InputError::Protocol => io::Error::new(
            io::ErrorKind::InvalidData,
            "FastCGI protocol error on the request body",
        ),
        InputError::Os(e) => io::Error::from_raw_os_error(e),
    }
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

    /// A param by name, as bytes (names are case-sensitive; the first of duplicates wins).
    pub fn param_bytes(&self, name: &[u8]) -> Option<&[u8]> {
        self.conn().params().get(name)
    }

    /// A param by name, when its value is UTF-8.
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
    pub fn params(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.conn().params().iter()
    }

    /// The request body, streamed from the connection as it is read (never buffered whole).
    pub fn stdin(&mut self) -> Stdin<'_> {
        Stdin { req: self }
    }

    /// FILTER role: the DATA stream, available once [`Request::stdin`] has been read to its
    /// end.
    pub fn data(&mut self) -> io::Result<Stdin<'_>> {
        if !self.conn_mut().start_filter_data() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "DATA needs the FILTER role and stdin read to its end",
            ));
        }
        Ok(Stdin { req: self })
    }

    /// The response stream (CGI-style: headers, a blank line, then the body).
    pub fn stdout(&mut self) -> Stdout<'_> {
        Stdout {
            req: self,
            stream: OutStream::Stdout,
        }
    }

    /// Error output for the web server's log.
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

    /// Whether the web server sent ABORT_REQUEST (the body then reads as an error of kind
    /// `ConnectionAborted`).
    pub fn is_aborted(&self) -> bool {
        self.conn().is_aborted()
    }

    /// Writes the status line and headers, ready for the body on [`Request::stdout`].
    pub fn start_response(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
    ) -> io::Result<Stdout<'_>> {
        let mut out = self.stdout();
        write!(out, "Status: {status} {}\r\n", reason(status))?;
        for (name, value) in headers {
            write!(out, "{name}: {value}\r\n")?;
        }
        out.write_all(b"\r\n")?;
        Ok(out)
    }

    /// A whole response at once: status, headers and body.
    pub fn respond(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        self.start_response(status, headers)?.write_all(body)
    }

    /// Ends the request now (dropping it does the same, ignoring errors).
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
