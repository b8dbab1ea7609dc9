//! Conversions to and from the `http` crate's types (feature `http`).

use super::request::{Request, Stdout};
use std::fmt;
use std::io::{self, Write};

/// Why [`Request::to_http`] could not build an [`http::Request`] from the params.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// `REQUEST_METHOD` is absent.
    MissingMethod,
    /// `REQUEST_METHOD` is not a valid HTTP method token.
    InvalidMethod,
    /// `REQUEST_URI` (or `SCRIPT_NAME`, `PATH_INFO`, `QUERY_STRING`) is not a valid URI.
    InvalidUri,
    /// A header param (`HTTP_*`, `CONTENT_TYPE`, `CONTENT_LENGTH`) has a name or value
    /// `http` refuses; the param's name.
    InvalidHeader(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::MissingMethod => f.write_str("REQUEST_METHOD is missing"),
            HttpError::InvalidMethod => f.write_str("REQUEST_METHOD is not a valid method"),
            HttpError::InvalidUri => f.write_str("the request URI is not valid"),
            HttpError::InvalidHeader(p) => write!(f, "param {p} is not a valid header"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for io::Error {
    fn from(e: HttpError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

fn version(protocol: Option<&[u8]>) -> http::Version {
    match protocol {
        Some(b"HTTP/0.9") => http::Version::HTTP_09,
        Some(b"HTTP/1.0") => http::Version::HTTP_10,
        Some(b"HTTP/2.0") | Some(b"HTTP/2") => http::Version::HTTP_2,
        Some(b"HTTP/3.0") | Some(b"HTTP/3") => http::Version::HTTP_3,
        _ => http::Version::HTTP_11,
    }
}

/// `HTTP_ACCEPT_LANGUAGE` → `accept-language`; `CONTENT_TYPE` and `CONTENT_LENGTH` are
/// headers without the prefix in CGI.
fn header_name(param: &[u8]) -> Option<Vec<u8>> {
    let name = match param {
        b"CONTENT_TYPE" | b"CONTENT_LENGTH" => param,
        _ => param.strip_prefix(b"HTTP_")?,
    };
    Some(
        name.iter()
            .map(|&b| {
                if b == b'_' {
                    b'-'
                } else {
                    b.to_ascii_lowercase()
                }
            })
            .collect(),
    )
}

impl Request {
    /// The request head as an [`http::Request<()>`] (feature `http`); read the body from
    /// [`Request::stdin`].
    ///
    /// The method is `REQUEST_METHOD`; the URI is `REQUEST_URI` when present (nginx and
    /// Apache send it), else `SCRIPT_NAME` + `PATH_INFO` + `?QUERY_STRING`; the version is
    /// `SERVER_PROTOCOL` (HTTP/1.1 when absent or unknown); the headers are the `HTTP_*`
    /// params plus `CONTENT_TYPE` and `CONTENT_LENGTH` (when not empty), with `_` read as
    /// `-`. Other params (`SCRIPT_FILENAME`, `REMOTE_ADDR`, ...) stay on [`Request::param`].
    ///
    /// ```no_run
    /// # fn f(req: &mut fcgi_rs::Request) -> std::io::Result<()> {
    /// let head = req.to_http()?;
    /// if head.method() == http::Method::POST {
    ///     let kind = head.headers().get(http::header::CONTENT_TYPE);
    ///     // ...
    /// }
    /// # Ok(()) }
    /// ```
    pub fn to_http(&self) -> Result<http::Request<()>, HttpError> {
        let method = self
            .param_bytes(b"REQUEST_METHOD")
            .ok_or(HttpError::MissingMethod)?;
        let method = http::Method::from_bytes(method).map_err(|_| HttpError::InvalidMethod)?;
        let uri = match self.param_bytes(b"REQUEST_URI").filter(|u| !u.is_empty()) {
            Some(u) => u.to_vec(),
            None => {
                let mut u = Vec::new();
                u.extend_from_slice(self.param_bytes(b"SCRIPT_NAME").unwrap_or_default());
                u.extend_from_slice(self.param_bytes(b"PATH_INFO").unwrap_or_default());
                if u.is_empty() {
                    u.push(b'/');
                }
                if let Some(q) = self.param_bytes(b"QUERY_STRING").filter(|q| !q.is_empty()) {
                    u.push(b'?');
                    u.extend_from_slice(q);
                }
                u
            }
        };
        let uri = http::Uri::try_from(uri).map_err(|_| HttpError::InvalidUri)?;
        let mut req = http::Request::new(());
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.version_mut() = version(self.param_bytes(b"SERVER_PROTOCOL"));
        let headers = req.headers_mut();
        for (param, value) in self.params() {
            let Some(name) = header_name(param) else {
                continue;
            };
            if value.is_empty() && (param == b"CONTENT_TYPE" || param == b"CONTENT_LENGTH") {
                continue;
            }
            let bad = || HttpError::InvalidHeader(String::from_utf8_lossy(param).into_owned());
            let name = http::HeaderName::from_bytes(&name).map_err(|_| bad())?;
            let value = http::HeaderValue::from_bytes(value).map_err(|_| bad())?;
            headers.append(name, value);
        }
        Ok(req)
    }

    /// Writes the status and headers of an [`http::Response`] head (feature `http`),
    /// ready for the body on the returned stream.
    pub fn start_http(&mut self, head: &http::response::Parts) -> io::Result<Stdout<'_>> {
        let mut out = self.stdout();
        let status = head.status;
        write!(
            out,
            "Status: {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )?;
        // `http`'s names and values never hold CR or LF, so they cannot split the response.
        for (name, value) in &head.headers {
            out.write_all(name.as_str().as_bytes())?;
            out.write_all(b": ")?;
            out.write_all(value.as_bytes())?;
            out.write_all(b"\r\n")?;
        }
        out.write_all(b"\r\n")?;
        Ok(out)
    }

    /// Sends a whole [`http::Response`] (feature `http`): status, headers, body.
    ///
    /// ```no_run
    /// # fn f(req: &mut fcgi_rs::Request) -> std::io::Result<()> {
    /// let resp = http::Response::builder()
    ///     .status(201)
    ///     .header("Content-Type", "application/json")
    ///     .body(r#"{"ok":true}"#)
    ///     .expect("valid response");
    /// req.send_http(resp)
    /// # }
    /// ```
    pub fn send_http<B: AsRef<[u8]>>(&mut self, response: http::Response<B>) -> io::Result<()> {
        let (head, body) = response.into_parts();
        self.start_http(&head)?.write_all(body.as_ref())
    }
}
