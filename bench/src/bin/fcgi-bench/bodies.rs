//! Large bodies: one request that downloads a large response (`large_output?size=N`) and one
//! that uploads a large body to a program that only reads it (`bench/c/sink.c`), each on a new
//! connection, timed from the first byte written to END_REQUEST read.

use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use fcgi_bench::client::{Target, NGINX_PARAMS, REQUEST_ID};
use fcgi_rs::protocol::{encode_pair, BeginRequest, Header, RecordType, HEADER_LEN};

use super::{median, Running, Server};

/// One direction of one library: MB/s of every round.
pub struct Bulk {
    pub label: &'static str,
    pub direction: &'static str,
    pub mbps: Vec<f64>,
    pub error: Option<String>,
}

impl Bulk {
    pub fn median(&self) -> f64 {
        let mut v = self.mbps.clone();
        median(&mut v)
    }
    pub fn best(&self) -> f64 {
        self.mbps.iter().copied().fold(0.0, f64::max)
    }
}

/// The request head: BEGIN_REQUEST (no keep-conn), the nginx-like PARAMS with `query` as
/// QUERY_STRING and `upload` as CONTENT_LENGTH, and the empty PARAMS record.
fn head(query: &str, upload: u64) -> Vec<u8> {
    let len = upload.to_string();
    let mut pairs = Vec::new();
    for &(name, value) in NGINX_PARAMS {
        let value = match name {
            "QUERY_STRING" => query,
            "REQUEST_METHOD" if upload > 0 => "POST",
            "CONTENT_LENGTH" if upload > 0 => len.as_str(),
            _ => value,
        };
        encode_pair(name.as_bytes(), value.as_bytes(), &mut pairs);
    }
    let mut out = BeginRequest::encode_record(REQUEST_ID, 1, 0).to_vec();
    for chunk in pairs.chunks(65528) {
        let h = Header::new(RecordType::PARAMS, REQUEST_ID, chunk.len() as u16);
        out.extend_from_slice(&h.encode());
        out.extend_from_slice(chunk);
        out.resize(out.len() + h.padding_length as usize, 0);
    }
    out.extend_from_slice(&Header::new(RecordType::PARAMS, REQUEST_ID, 0).encode());
    out
}

/// One request: sends `upload` body bytes, reads the whole response. Returns the STDOUT
/// byte count, the first 256 bytes of STDOUT and the time taken.
fn transfer(sock: &Path, query: &str, upload: u64) -> Result<(u64, Vec<u8>, Duration), String> {
    let mut s = UnixStream::connect(sock).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    s.write_all(&head(query, upload))
        .map_err(|e| format!("write: {e}"))?;
    // STDIN as full records of 65528 bytes (a multiple of 8, so no padding), then the rest.
    const CHUNK: usize = 65528;
    let mut rec = Header::new(RecordType::STDIN, REQUEST_ID, CHUNK as u16)
        .encode()
        .to_vec();
    rec.resize(HEADER_LEN + CHUNK, b'x');
    let mut left = upload;
    while left >= CHUNK as u64 {
        s.write_all(&rec).map_err(|e| format!("write: {e}"))?;
        left -= CHUNK as u64;
    }
    if left > 0 {
        let h = Header::new(RecordType::STDIN, REQUEST_ID, left as u16);
        let mut last = h.encode().to_vec();
        last.resize(HEADER_LEN + left as usize + h.padding_length as usize, b'x');
        s.write_all(&last).map_err(|e| format!("write: {e}"))?;
    }
    s.write_all(&Header::new(RecordType::STDIN, REQUEST_ID, 0).encode())
        .map_err(|e| format!("write: {e}"))?;

    let mut r = BufReader::with_capacity(256 * 1024, s);
    let mut scratch = vec![0u8; 65536 + 256];
    let mut first = Vec::new();
    let mut stdout = 0u64;
    loop {
        let mut hb = [0u8; HEADER_LEN];
        r.read_exact(&mut hb).map_err(|e| format!("read: {e}"))?;
        let h = Header::parse(&hb).ok_or("short header")?;
        let n = h.content_length as usize + h.padding_length as usize;
        r.read_exact(&mut scratch[..n])
            .map_err(|e| format!("read: {e}"))?;
        let content = &scratch[..h.content_length as usize];
        match h.record_type {
            RecordType::STDOUT => {
                if first.len() < 256 {
                    let k = (256 - first.len()).min(content.len());
                    first.extend_from_slice(&content[..k]);
                }
                stdout += content.len() as u64;
            }
            RecordType::END_REQUEST => break,
            _ => {}
        }
    }
    Ok((stdout, first, start.elapsed()))
}

fn body_start(first: &[u8]) -> usize {
    first
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| p + 4)
}

/// The label of the reference transfer: the same bytes through a connected unix socket pair
/// with no FastCGI and no responder process, to show what moving them costs on this machine.
pub const SOCKET_COPY: &str = "bare socket";

/// Moves `size` bytes through a unix socket pair: one thread writes 64 KiB at a time, this one
/// reads with a 256 KiB buffer, as the bench client does. Two copies per byte, nothing else.
fn socket_copy(size: u64) -> Result<Duration, String> {
    let (mut tx, mut rx) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let start = Instant::now();
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let chunk = vec![b'x'; 65536];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            tx.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        Ok(())
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    while got < size {
        match rx.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let took = start.elapsed();
    writer
        .join()
        .map_err(|_| "writer panicked".to_string())?
        .map_err(|e| format!("write: {e}"))?;
    if got != size {
        return Err(format!("{got} bytes arrived, expected {size}"));
    }
    Ok(took)
}

/// Runs `rounds` transfers of `size` bytes for every group (a direction and one program per
/// library), alternating the libraries, every transfer on a freshly started responder.
pub fn run(
    groups: &[(&'static str, Vec<Server>)],
    dir: &Path,
    seq: &mut u32,
    size: u64,
    rounds: usize,
) -> Vec<Bulk> {
    let mut out: Vec<Bulk> = Vec::new();
    let mut ceiling = Bulk {
        label: SOCKET_COPY,
        direction: SOCKET_COPY,
        mbps: Vec::new(),
        error: None,
    };
    for _ in 0..rounds {
        match socket_copy(size) {
            Ok(t) => ceiling.mbps.push(size as f64 / t.as_secs_f64() / 1e6),
            Err(e) => {
                ceiling.error = Some(e);
                break;
            }
        }
    }
    out.push(ceiling);
    for (direction, servers) in groups {
        let direction: &'static str = direction;
        let base = out.len();
        for s in servers {
            out.push(Bulk {
                label: s.label,
                direction,
                mbps: Vec::new(),
                error: None,
            });
        }
        for round in 0..rounds {
            for k in 0..servers.len() {
                let i = (k + round) % servers.len();
                let b = &mut out[base + i];
                if b.error.is_some() {
                    continue;
                }
                let r = Running::start(&servers[i], dir, seq, &[]).and_then(|r| {
                    let Target::Unix(p) = &r.target else {
                        return Err("not a unix socket".into());
                    };
                    let res = if direction.starts_with("download") {
                        transfer(p, &format!("size={size}"), 0).and_then(|(n, first, t)| {
                            let body = n.saturating_sub(body_start(&first) as u64);
                            if body == size {
                                Ok(t)
                            } else {
                                Err(format!("{body} body bytes, expected {size}"))
                            }
                        })
                    } else {
                        transfer(p, "", size).and_then(|(_, first, t)| {
                            let text = String::from_utf8_lossy(&first[body_start(&first)..])
                                .trim()
                                .to_string();
                            if text == size.to_string() {
                                Ok(t)
                            } else {
                                Err(format!("the sink counted {text:?}, expected {size}"))
                            }
                        })
                    };
                    drop(r);
                    res
                });
                match r {
                    Ok(t) => {
                        let mbps = size as f64 / t.as_secs_f64() / 1e6;
                        eprintln!("bodies | {direction} | {:<8} | {mbps:.0} MB/s", b.label);
                        b.mbps.push(mbps);
                    }
                    Err(e) => b.error = Some(e),
                }
            }
        }
    }
    out
}
