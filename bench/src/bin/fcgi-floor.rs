//! fcgi-floor: the least a FastCGI responder can do, as the floor for the benchmarks.
//!
//! Single-threaded; one epoll set watches the listen socket and every kept connection. A request is
//! read with one `read` (bytes of a partial request are kept until the rest arrives) and answered
//! with one pre-built `write`: a STDOUT record with a fixed body, the empty STDOUT record and
//! END_REQUEST. Without FCGI_KEEP_CONN the connection is closed after the answer.
//!
//! The listen socket is fd 0 (as spawn-fcgi and web servers pass it) or `-s PATH`.

use std::io;
use std::process::ExitCode;

use fcgi_rs::protocol::{
    encode_end_request, BeginRequest, Header, ProtocolStatus, RecordType, HEADER_LEN,
};

const USAGE: &str = "usage: fcgi-floor [-s PATH] [-b BODY | -f FILE]
  -s PATH   listen on this unix socket (default: the listen socket on fd 0)
  -b BODY   the STDOUT body (\\r and \\n escapes allowed)
  -f FILE   the STDOUT body, read from FILE";

const DEFAULT_BODY: &[u8] = b"Content-Type: text/plain\r\n\r\nHello, world!\n";

/// Room for any single record (header, 65535 content, 255 padding) plus read-ahead.
const BUF_LEN: usize = 80 * 1024;

/// Per-connection state, kept in a slot indexed by fd and reused (no allocation once warm).
struct Conn {
    open: bool,
    buf: Vec<u8>,
    len: usize,
    request_id: u16,
    keep_conn: bool,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fcgi-floor: {e}");
            ExitCode::from(1)
        }
    }
}

fn real_main() -> Result<(), String> {
    let mut path = None;
    let mut body = DEFAULT_BODY.to_vec();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-s" => path = Some(args.next().ok_or(USAGE)?),
            "-b" => {
                body = args
                    .next()
                    .ok_or(USAGE)?
                    .replace("\\r", "\r")
                    .replace("\\n", "\n")
                    .into_bytes()
            }
            "-f" => {
                let f = args.next().ok_or(USAGE)?;
                body = std::fs::read(&f).map_err(|e| format!("{f}: {e}"))?;
            }
            _ => return Err(USAGE.into()),
        }
    }
    if body.is_empty() || body.len() > 65535 {
        return Err("the body must be 1 to 65535 bytes".into());
    }
    let listen_fd = match path {
        Some(p) => listen_unix(&p).map_err(|e| format!("{p}: {e}"))?,
        None => 0,
    };
    let response = build_response(&body);
    serve(listen_fd, &response).map_err(|e| e.to_string())
}

/// STDOUT(body) + empty STDOUT + END_REQUEST, for request id 1; other ids are patched in.
fn build_response(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let h = Header::new(RecordType::STDOUT, 1, body.len() as u16);
    out.extend_from_slice(&h.encode());
    out.extend_from_slice(body);
    out.resize(out.len() + h.padding_length as usize, 0);
    out.extend_from_slice(&Header::new(RecordType::STDOUT, 1, 0).encode());
    out.extend_from_slice(&encode_end_request(1, 0, ProtocolStatus::RequestComplete));
    out
}

/// Offsets of the three request-id fields in [`build_response`]'s output.
fn id_offsets(resp: &[u8]) -> [usize; 3] {
    let first = HEADER_LEN + Header::parse(resp).map_or(0, |h| h.body_len());
    [2, first + 2, first + HEADER_LEN + 2]
}

fn listen_unix(path: &str) -> io::Result<i32> {
    let _ = std::fs::remove_file(path);
    let l = std::os::unix::net::UnixListener::bind(path)?;
    use std::os::fd::IntoRawFd;
    let fd = l.into_raw_fd();
    // SAFETY: `fd` is a valid listening socket we own; raising the backlog has no memory effects.
    if unsafe { libc::listen(fd, 1024) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

fn cvt(r: i32) -> io::Result<i32> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn serve(listen_fd: i32, response: &[u8]) -> io::Result<()> {
    let mut resp = response.to_vec();
    let offsets = id_offsets(&resp);
    let mut resp_id: u16 = 1;

    // SAFETY: fcntl on an fd we were given; F_GETFL/F_SETFL touch no memory of ours.
    unsafe {
        let fl = cvt(libc::fcntl(listen_fd, libc::F_GETFL))?;
        cvt(libc::fcntl(listen_fd, libc::F_SETFL, fl | libc::O_NONBLOCK))?;
    }
    // SAFETY: plain syscall, no pointers.
    let ep = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    epoll_add(ep, listen_fd)?;

    let mut conns: Vec<Conn> = Vec::new();
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
    loop {
        // SAFETY: `events` is a valid writable array of 64 epoll_event.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in &events[..n as usize] {
            let fd = ev.u64 as i32;
            if fd == listen_fd {
                accept_one(ep, listen_fd, &mut conns, &mut resp, &offsets, &mut resp_id)?;
                continue;
            }
            let Some(c) = conns.get_mut(fd as usize) else {
                continue;
            };
            if !c.open {
                continue;
            }
            if !serve_conn(fd, c, &mut resp, &offsets, &mut resp_id) {
                c.open = false;
                // SAFETY: closing a connection fd we accepted and still own.
                unsafe { libc::close(fd) };
            }
        }
    }
}

fn epoll_add(ep: i32, fd: i32) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: fd as u64,
    };
    // SAFETY: `ev` is a valid epoll_event for the duration of the call.
    cvt(unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) }).map(|_| ())
}

/// Accepts one connection (the level-triggered listen event comes back while more wait) and
/// reads it at once: a client usually sends its request right after connecting, so a
/// one-request connection is served without ever entering the epoll set.
fn accept_one(
    ep: i32,
    listen_fd: i32,
    conns: &mut Vec<Conn>,
    resp: &mut [u8],
    offsets: &[usize; 3],
    resp_id: &mut u16,
) -> io::Result<()> {
    // SAFETY: null address pointers are allowed by accept4.
    let fd = unsafe {
        libc::accept4(
            listen_fd,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EAGAIN | libc::EINTR | libc::ECONNABORTED | libc::EMFILE | libc::ENFILE) => {
                Ok(())
            }
            _ => Err(e),
        };
    }
    let i = fd as usize;
    while conns.len() <= i {
        conns.push(Conn {
            open: false,
            buf: Vec::new(),
            len: 0,
            request_id: 0,
            keep_conn: false,
        });
    }
    let c = &mut conns[i];
    if c.buf.is_empty() {
        c.buf = vec![0; BUF_LEN];
    }
    c.len = 0;
    c.keep_conn = false;
    c.open = serve_conn(fd, c, resp, offsets, resp_id) && epoll_add(ep, fd).is_ok();
    if !c.open {
        // SAFETY: closing the fd we just accepted and own.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// One read, then answer every complete request in the buffer. False: close the connection.
fn serve_conn(
    fd: i32,
    c: &mut Conn,
    resp: &mut [u8],
    offsets: &[usize; 3],
    resp_id: &mut u16,
) -> bool {
    let room = &mut c.buf[c.len..];
    // SAFETY: `room` is a valid writable slice of `room.len()` bytes.
    let n = unsafe { libc::read(fd, room.as_mut_ptr().cast(), room.len()) };
    if n == 0 {
        return false;
    }
    if n < 0 {
        let e = io::Error::last_os_error().raw_os_error();
        return matches!(e, Some(libc::EAGAIN) | Some(libc::EINTR));
    }
    c.len += n as usize;
    let mut pos = 0;
    while let Some(h) = Header::parse(&c.buf[pos..c.len]) {
        let total = HEADER_LEN + h.body_len();
        if c.len - pos < total {
            break;
        }
        let content = &c.buf[pos + HEADER_LEN..pos + HEADER_LEN + h.content_length as usize];
        match h.record_type {
            RecordType::BEGIN_REQUEST => {
                c.request_id = h.request_id;
                c.keep_conn = BeginRequest::parse(content).is_some_and(|b| b.keep_conn());
            }
            RecordType::STDIN if h.content_length == 0 => {
                if *resp_id != c.request_id {
                    *resp_id = c.request_id;
                    let id = c.request_id.to_be_bytes();
                    for &o in offsets {
                        resp[o..o + 2].copy_from_slice(&id);
                    }
                }
                // SAFETY: `resp` is a valid readable slice of `resp.len()` bytes.
                let w = unsafe { libc::write(fd, resp.as_ptr().cast(), resp.len()) };
                if w != resp.len() as isize || !c.keep_conn {
                    return false;
                }
            }
            _ => {}
        }
        pos += total;
    }
    if pos > 0 {
        c.buf.copy_within(pos..c.len, 0);
        c.len -= pos;
    }
    // A record that cannot fit is a broken peer.
    c.len < c.buf.len()
}
