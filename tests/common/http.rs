//! A small HTTP/1.1 client on `std::net::TcpStream`: keep-alive, Content-Length and chunked
//! responses, read-until-close. Enough to drive nginx without curl.
//!
//! ```ignore
//! let mut c = HttpConn::connect(port)?;
//! let r = c.request("GET", "/echo?x=1", &[], b"")?;         // keep-alive
//! let r = c.request("POST", "/echo", &[("Connection", "close")], &body)?;
//! assert_eq!(r.status, 200);
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A parsed HTTP response.
#[derive(Clone, Debug, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP connection (reused while the server keeps it alive).
#[derive(Debug)]
pub struct HttpConn {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
    closed: bool,
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "HTTP response timed out")
}

impl HttpConn {
    /// Connects to 127.0.0.1:`port`. Responses time out after 30 s by default.
    pub fn connect(port: u16) -> io::Result<HttpConn> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        Ok(HttpConn {
            stream,
            buf: Vec::new(),
            timeout: Duration::from_secs(30),
            closed: false,
        })
    }

    pub fn set_timeout(&mut self, d: Duration) {
        self.timeout = d;
    }

    /// True once the server closed the connection (a new one is needed).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Sends one request and reads its response. `Host` and `Content-Length` (for a
    /// non-empty body or a POST/PUT) are added.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<HttpResponse> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let deadline = Instant::now() + self.timeout;
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        let (resp, wres) = if bytes.len() <= 64 * 1024 {
            // Fits in the socket buffer: write inline.
            let wres = self.stream.write_all(&bytes);
            (self.read_response(method == "HEAD", deadline), wres)
        } else {
            // Write a large body on a thread so a server answering early cannot deadlock us.
            let mut w = self.stream.try_clone()?;
            let writer = std::thread::spawn(move || w.write_all(&bytes));
            let resp = self.read_response(method == "HEAD", deadline);
            if resp.is_err() {
                let _ = self.stream.shutdown(std::net::Shutdown::Both);
            }
            let wres = writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("writer panicked")));
            (resp, wres)
        };
        let resp = resp?;
        if let Err(e) = wres {
            // The server may answer (e.g. 413) before reading the whole body.
            if resp.status < 400 {
                return Err(e);
            }
        }
        let close = resp
            .header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if close {
            self.closed = true;
        }
        Ok(resp)
    }

    fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        let now = Instant::now();
        if now >= deadline {
            return Err(timed_out());
        }
        self.stream.set_read_timeout(Some(deadline - now))?;
        let mut tmp = [0u8; 65536];
        loop {
            return match self.stream.read(&mut tmp) {
                Ok(0) => {
                    self.closed = true;
                    Ok(0)
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    Ok(n)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    Err(timed_out())
                }
                Err(e) => Err(e),
            };
        }
    }

    fn need(&mut self, n: usize, deadline: Instant) -> io::Result<()> {
        while self.buf.len() < n {
            if self.fill(deadline)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed mid-response",
                ));
            }
        }
        Ok(())
    }

    fn read_line(&mut self, deadline: Instant) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.fill(deadline)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed mid-headers",
                ));
            }
        }
    }

    fn read_response(&mut self, head_only: bool, deadline: Instant) -> io::Result<HttpResponse> {
        let status_line = self.read_line(deadline)?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad status line {status_line:?}"),
                )
            })?;
        let mut resp = HttpResponse {
            status,
            ..HttpResponse::default()
        };
        loop {
            let line = self.read_line(deadline)?;
            if line.is_empty() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                resp.headers
                    .push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
            return Ok(resp);
        }
        let chunked = resp
            .header("Transfer-Encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            loop {
                let line = self.read_line(deadline)?;
                let size_hex = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_hex, 16).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad chunk size {line:?}"),
                    )
                })?;
                if size == 0 {
                    // Trailers, then the empty line.
                    while !self.read_line(deadline)?.is_empty() {}
                    break;
                }
                self.need(size + 2, deadline)?;
                resp.body.extend_from_slice(&self.buf[..size]);
                self.buf.drain(..size + 2);
            }
        } else if let Some(len) = resp
            .header("Content-Length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            self.need(len, deadline)?;
            resp.body = self.buf.drain(..len).collect();
        } else {
            while self.fill(deadline)? > 0 {}
            resp.body = std::mem::take(&mut self.buf);
            self.closed = true;
        }
        Ok(resp)
    }
}

/// One request on a fresh connection with `Connection: close`.
pub fn fetch(port: u16, method: &str, path: &str, body: &[u8]) -> io::Result<HttpResponse> {
    let mut c = HttpConn::connect(port)?;
    c.request(method, path, &[("Connection", "close")], body)
}
