//! fcgi_stdio.h: the `FCGI_*` stdio replacements and `FCGI_Accept`.
//!
//! Every `FCGI_FILE` wraps either a C `FILE*` (plain files, and the real stdio when the
//! program runs as CGI) or a request stream. Each wrapper dispatches on which one is set, as
//! libfcgi's do, with libfcgi's return values (see the notes on each where they differ from
//! stdio). The four printf-family functions are in the C shim.

use super::request::{
    FCGX_Accept, FCGX_Finish, FCGX_IsCGI, FCGX_SetExitStatus, FCGX_StartFilterData,
};
use super::stream::*;
use super::types::{FCGX_Stream, EOF, FCGI_FILE};
use std::ffi::{c_char, c_int, c_long, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

/// `FCGI_stdin`, `FCGI_stdout`, `FCGI_stderr`: a 48-byte data object that executables may
/// copy-relocate; always accessed through the GOT (no `-Bsymbolic` when linking).
#[no_mangle]
pub static mut _fcgi_sF: [FCGI_FILE; 3] = [
    FCGI_FILE {
        stdio_stream: std::ptr::null_mut(),
        fcgx_stream: std::ptr::null_mut(),
    },
    FCGI_FILE {
        stdio_stream: std::ptr::null_mut(),
        fcgx_stream: std::ptr::null_mut(),
    },
    FCGI_FILE {
        stdio_stream: std::ptr::null_mut(),
        fcgx_stream: std::ptr::null_mut(),
    },
];

extern "C" {
    static mut environ: *mut *mut c_char;
    static mut stdin: *mut libc::FILE;
    static mut stdout: *mut libc::FILE;
    static mut stderr: *mut libc::FILE;
}

static ACCEPT_CALLED: AtomicBool = AtomicBool::new(false);
static IS_CGI: AtomicBool = AtomicBool::new(false);

fn std_file(i: usize) -> *mut FCGI_FILE {
    // SAFETY: taking the address of the static never creates a reference.
    unsafe { (&raw mut _fcgi_sF).cast::<FCGI_FILE>().add(i) }
}

fn is_std_file(fp: *mut FCGI_FILE) -> bool {
    (0..3).any(|i| std_file(i) == fp)
}

/// Points the three standard `FCGI_FILE`s at request streams (or at nothing).
fn set_std_streams(streams: [*mut FCGX_Stream; 3]) {
    for (i, s) in streams.into_iter().enumerate() {
        // SAFETY: fcgi_stdio is single-threaded by contract; plain field writes.
        unsafe {
            (*std_file(i)).stdio_stream = std::ptr::null_mut();
            (*std_file(i)).fcgx_stream = s;
        }
    }
}

extern "C" fn finish_at_exit() {
    FCGI_Finish();
}

/// Accepts the next request and makes it the program's stdin/stdout/stderr and `environ`.
///
/// Run as plain CGI (fd 0 is not a listening socket), the first call returns 0 with the real
/// stdio in place and the second returns -1, so the same loop serves one CGI request.
#[no_mangle]
pub extern "C" fn FCGI_Accept() -> c_int {
    if !ACCEPT_CALLED.swap(true, Ordering::AcqRel) {
        IS_CGI.store(FCGX_IsCGI() != 0, Ordering::Release);
        // SAFETY: registering a plain extern "C" function.
        unsafe { libc::atexit(finish_at_exit) };
        if IS_CGI.load(Ordering::Acquire) {
            // SAFETY: libc's stdio pointers are initialised before main.
            unsafe {
                for (i, f) in [stdin, stdout, stderr].into_iter().enumerate() {
                    (*std_file(i)).stdio_stream = f;
                    (*std_file(i)).fcgx_stream = std::ptr::null_mut();
                }
            }
            return 0;
        }
    } else if IS_CGI.load(Ordering::Acquire) {
        return EOF;
    }
    let (mut i, mut o, mut e) = (
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    let mut envp = std::ptr::null_mut();
    // SAFETY: valid out-pointers.
    let rc = unsafe { FCGX_Accept(&mut i, &mut o, &mut e, &mut envp) };
    if rc < 0 {
        // libfcgi left these pointing at freed streams (a use-after-free on the next printf).
        set_std_streams([std::ptr::null_mut(); 3]);
        return rc;
    }
    set_std_streams([i, o, e]);
    // SAFETY: environ is the process environment pointer; programs such as fcgiwrap and
    // mapserv read the request's params through getenv, as with libfcgi.
    unsafe { environ = envp };
    0
}

/// Finishes the current request; `environ` becomes NULL until the next `FCGI_Accept`.
#[no_mangle]
pub extern "C" fn FCGI_Finish() {
    if !ACCEPT_CALLED.load(Ordering::Acquire) || IS_CGI.load(Ordering::Acquire) {
        return;
    }
    FCGX_Finish();
    set_std_streams([std::ptr::null_mut(); 3]);
    // SAFETY: as in FCGI_Accept.
    unsafe { environ = std::ptr::null_mut() };
}

#[no_mangle]
pub extern "C" fn FCGI_StartFilterData() -> c_int {
    // SAFETY: reading our own static.
    let s = unsafe { (*std_file(0)).fcgx_stream };
    if s.is_null() {
        return -1;
    }
    // SAFETY: a live request stream.
    unsafe { FCGX_StartFilterData(s) }
}

#[no_mangle]
pub extern "C" fn FCGI_SetExitStatus(status: c_int) {
    // SAFETY: reading our own static.
    let s = unsafe { (*std_file(0)).fcgx_stream };
    if !s.is_null() {
        // SAFETY: a live request stream.
        unsafe { FCGX_SetExitStatus(status, s) };
    }
}

/// What an `FCGI_FILE` wraps.
enum Inner {
    Stdio(*mut libc::FILE),
    Fcgx(*mut FCGX_Stream),
    Nothing,
}

/// # Safety
/// `fp` is NULL or an `FCGI_FILE` of ours (one of `_fcgi_sF` or one we allocated).
unsafe fn inner(fp: *mut FCGI_FILE) -> Inner {
    // SAFETY: per the contract.
    let Some(f) = (unsafe { fp.as_ref() }) else {
        return Inner::Nothing;
    };
    if !f.stdio_stream.is_null() {
        Inner::Stdio(f.stdio_stream)
    } else if !f.fcgx_stream.is_null() {
        Inner::Fcgx(f.fcgx_stream)
    } else {
        Inner::Nothing
    }
}

fn wrap(file: *mut libc::FILE) -> *mut FCGI_FILE {
    if file.is_null() {
        return std::ptr::null_mut();
    }
    Box::into_raw(Box::new(FCGI_FILE {
        stdio_stream: file,
        fcgx_stream: std::ptr::null_mut(),
    }))
}

/// Frees an `FCGI_FILE` we allocated; the three standard ones are only emptied.
unsafe fn release(fp: *mut FCGI_FILE) {
    if is_std_file(fp) {
        // SAFETY: one of our statics.
        unsafe {
            (*fp).stdio_stream = std::ptr::null_mut();
            (*fp).fcgx_stream = std::ptr::null_mut();
        }
    } else {
        // SAFETY: allocated by `wrap` with Box.
        drop(unsafe { Box::from_raw(fp) });
    }
}

fn espipe() -> c_int {
    crate::sys::set_errno(libc::ESPIPE);
    -1
}

/// Writes `str: strerror(errno)` to FCGI_stderr — without a newline, as libfcgi does.
#[no_mangle]
pub unsafe extern "C" fn FCGI_perror(str: *const c_char) {
    let saved = crate::sys::errno();
    let err = std_file(2);
    // SAFETY: NUL-terminated strings; err is our static.
    unsafe {
        if !str.is_null() && *str != 0 {
            FCGI_fputs(str, err);
            FCGI_fputs(c": ".as_ptr(), err);
        }
        FCGI_fputs(libc::strerror(saved), err);
    }
    crate::sys::set_errno(saved);
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fopen(path: *const c_char, mode: *const c_char) -> *mut FCGI_FILE {
    // SAFETY: forwarded C strings.
    wrap(unsafe { libc::fopen(path, mode) })
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fclose(fp: *mut FCGI_FILE) -> c_int {
    // SAFETY: fp is NULL or ours.
    let rc = match unsafe { inner(fp) } {
        // SAFETY: a FILE the program opened through us.
        Inner::Stdio(f) => unsafe { libc::fclose(f) },
        // SAFETY: a live request stream.
        Inner::Fcgx(s) => unsafe { FCGX_FClose(s) },
        Inner::Nothing => return EOF,
    };
    // SAFETY: fp is ours.
    unsafe { release(fp) };
    rc
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fflush(fp: *mut FCGI_FILE) -> c_int {
    if fp.is_null() {
        // SAFETY: fflush(NULL) flushes every C stream.
        return unsafe { libc::fflush(std::ptr::null_mut()) };
    }
    // SAFETY: fp is ours.
    match unsafe { inner(fp) } {
        // SAFETY: a valid FILE.
        Inner::Stdio(f) => unsafe { libc::fflush(f) },
        // SAFETY: a live request stream.
        Inner::Fcgx(s) => unsafe { FCGX_FFlush(s) },
        Inner::Nothing => EOF,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_freopen(
    path: *const c_char,
    mode: *const c_char,
    fp: *mut FCGI_FILE,
) -> *mut FCGI_FILE {
    // SAFETY: fp is ours; forwarded C strings.
    unsafe {
        match inner(fp) {
            Inner::Stdio(f) => {
                let nf = libc::freopen(path, mode, f);
                if nf.is_null() {
                    return std::ptr::null_mut();
                }
                (*fp).stdio_stream = nf;
            }
            Inner::Fcgx(s) => {
                FCGX_FClose(s);
                (*fp).fcgx_stream = std::ptr::null_mut();
                let nf = libc::fopen(path, mode);
                if nf.is_null() {
                    return std::ptr::null_mut();
                }
                (*fp).stdio_stream = nf;
            }
            Inner::Nothing => return std::ptr::null_mut(),
        }
    }
    fp
}

/// Request streams are unbuffered from the program's view: -1.
#[no_mangle]
pub unsafe extern "C" fn FCGI_setvbuf(
    fp: *mut FCGI_FILE,
    buf: *mut c_char,
    mode: c_int,
    size: usize,
) -> c_int {
    // SAFETY: fp is ours; a valid FILE.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::setvbuf(f, buf, mode, size) },
        _ => -1,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_setbuf(fp: *mut FCGI_FILE, buf: *mut c_char) {
    // SAFETY: fp is ours; a valid FILE.
    if let Inner::Stdio(f) = unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; `buf` follows setbuf's contract.
        unsafe { libc::setbuf(f, buf) }
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fseek(fp: *mut FCGI_FILE, offset: c_long, whence: c_int) -> c_int {
    // SAFETY: fp is ours; a valid FILE.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::fseek(f, offset, whence) },
        _ => espipe(),
    }
}

/// Returns `int`, as libfcgi's prototype says.
#[no_mangle]
pub unsafe extern "C" fn FCGI_ftell(fp: *mut FCGI_FILE) -> c_int {
    // SAFETY: fp is ours; a valid FILE.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::ftell(f) as c_int },
        _ => espipe(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_rewind(fp: *mut FCGI_FILE) {
    // SAFETY: fp is ours; a valid FILE.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::rewind(f) },
        _ => {
            espipe();
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fgetpos(fp: *mut FCGI_FILE, pos: *mut libc::fpos_t) -> c_int {
    // SAFETY: fp is ours; a valid FILE; pos from the caller.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::fgetpos(f, pos) },
        _ => espipe(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fsetpos(fp: *mut FCGI_FILE, pos: *const libc::fpos_t) -> c_int {
    // SAFETY: fp is ours; a valid FILE; pos from the caller.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::fsetpos(f, pos) },
        _ => espipe(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fgetc(fp: *mut FCGI_FILE) -> c_int {
    // SAFETY: fp is ours; a valid FILE or stream.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::fgetc(f) },
        // SAFETY: `s` is a live request stream of ours; the other arguments are the caller's.
        Inner::Fcgx(s) => unsafe { FCGX_GetChar(s) },
        Inner::Nothing => EOF,
    }
}

#[no_mangle]
pub extern "C" fn FCGI_getchar() -> c_int {
    // SAFETY: our static stdin.
    unsafe { FCGI_fgetc(std_file(0)) }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_ungetc(c: c_int, fp: *mut FCGI_FILE) -> c_int {
    // SAFETY: fp is ours; a valid FILE or stream.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::ungetc(c, f) },
        // SAFETY: `s` is a live request stream of ours; the other arguments are the caller's.
        Inner::Fcgx(s) => unsafe { FCGX_UnGetChar(c, s) },
        Inner::Nothing => EOF,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fgets(
    str: *mut c_char,
    size: c_int,
    fp: *mut FCGI_FILE,
) -> *mut c_char {
    // SAFETY: fp is ours; str has size bytes (caller contract).
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::fgets(str, size, f) },
        // SAFETY: `s` is a live request stream of ours; the other arguments are the caller's.
        Inner::Fcgx(s) => unsafe { FCGX_GetLine(str, size, s) },
        Inner::Nothing => std::ptr::null_mut(),
    }
}

/// Reads a line from FCGI_stdin without its newline. Unbounded by its nature (as C's gets);
/// kept for compatibility only.
#[no_mangle]
pub unsafe extern "C" fn FCGI_gets(str: *mut c_char) -> *mut c_char {
    if str.is_null() {
        return std::ptr::null_mut();
    }
    let mut n = 0usize;
    loop {
        let c = FCGI_getchar();
        if c == EOF {
            if n == 0 {
                return std::ptr::null_mut();
            }
            break;
        }
        if c == b'\n' as c_int {
            break;
        }
        // SAFETY: the caller's buffer is large enough (the gets contract).
        unsafe { *str.add(n) = c as c_char };
        n += 1;
    }
    // SAFETY: as above.
    unsafe { *str.add(n) = 0 };
    str
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fputc(c: c_int, fp: *mut FCGI_FILE) -> c_int {
    // SAFETY: fp is ours; a valid FILE or stream.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::fputc(c, f) },
        // SAFETY: `s` is a live request stream of ours; the other arguments are the caller's.
        Inner::Fcgx(s) => unsafe { FCGX_PutChar(c, s) },
        Inner::Nothing => EOF,
    }
}

#[no_mangle]
pub extern "C" fn FCGI_putchar(c: c_int) -> c_int {
    // SAFETY: our static stdout.
    unsafe { FCGI_fputc(c, std_file(1)) }
}

/// On a request stream returns the number of bytes written (libfcgi), not stdio's 1.
#[no_mangle]
pub unsafe extern "C" fn FCGI_fputs(str: *const c_char, fp: *mut FCGI_FILE) -> c_int {
    // SAFETY: fp is ours; str NUL-terminated.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::fputs(str, f) },
        // SAFETY: `s` is a live request stream of ours; the other arguments are the caller's.
        Inner::Fcgx(s) => unsafe { FCGX_PutS(str, s) },
        Inner::Nothing => EOF,
    }
}

/// On a request stream returns `'\n'` (libfcgi).
#[no_mangle]
pub unsafe extern "C" fn FCGI_puts(str: *const c_char) -> c_int {
    // SAFETY: our static stdout; str NUL-terminated.
    match unsafe { inner(std_file(1)) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe {
            if f == stdout {
                libc::puts(str)
            } else if libc::fputs(str, f) < 0 {
                EOF
            } else {
                libc::fputc(b'\n' as c_int, f)
            }
        },
        // SAFETY: `s` is a live request stream of ours; the other arguments are the caller's.
        Inner::Fcgx(s) => unsafe {
            if FCGX_PutS(str, s) < 0 {
                EOF
            } else {
                FCGX_PutChar(b'\n' as c_int, s)
            }
        },
        Inner::Nothing => EOF,
    }
}

/// Moves `size * nmemb` bytes through an `int`-sized stream call, `op(offset, len) -> done`,
/// as many times as needed; returns the whole items moved (libfcgi truncated the byte count
/// to `int` and turned an error into a huge item count).
fn in_int_chunks(size: usize, nmemb: usize, mut op: impl FnMut(usize, c_int) -> c_int) -> usize {
    let Some(total) = size.checked_mul(nmemb).filter(|&t| t > 0) else {
        return 0;
    };
    let mut done = 0usize;
    while done < total {
        let chunk = (total - done).min(c_int::MAX as usize) as c_int;
        let n = op(done, chunk);
        done += n.max(0) as usize;
        if n < chunk {
            break;
        }
    }
    done / size
}

/// Item-count read. Unlike libfcgi, sizes beyond `int` and errors give correct counts.
#[no_mangle]
pub unsafe extern "C" fn FCGI_fread(
    ptr: *mut c_void,
    size: usize,
    nmemb: usize,
    fp: *mut FCGI_FILE,
) -> usize {
    // SAFETY: fp is ours; ptr has size*nmemb bytes (caller contract).
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::fread(ptr, size, nmemb, f) },
        Inner::Fcgx(s) => in_int_chunks(size, nmemb, |at, chunk| {
            // SAFETY: inside the caller's buffer.
            unsafe { FCGX_GetStr((ptr as *mut c_char).add(at), chunk, s) }
        }),
        Inner::Nothing => 0,
    }
}

/// Item-count write; on error the count of whole items written before it (libfcgi returned
/// a huge value computed from -1).
#[no_mangle]
pub unsafe extern "C" fn FCGI_fwrite(
    ptr: *mut c_void,
    size: usize,
    nmemb: usize,
    fp: *mut FCGI_FILE,
) -> usize {
    // SAFETY: fp is ours; ptr has size*nmemb bytes (caller contract).
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::fwrite(ptr, size, nmemb, f) },
        Inner::Fcgx(s) => in_int_chunks(size, nmemb, |at, chunk| {
            // SAFETY: inside the caller's buffer.
            unsafe { FCGX_PutStr((ptr as *const c_char).add(at), chunk, s) }
        }),
        Inner::Nothing => 0,
    }
}

/// On a request stream: -1 at EOF (libfcgi), else 0.
#[no_mangle]
pub unsafe extern "C" fn FCGI_feof(fp: *mut FCGI_FILE) -> c_int {
    // SAFETY: fp is ours.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::feof(f) },
        // SAFETY: `s` is a live request stream of ours; the other arguments are the caller's.
        Inner::Fcgx(s) => unsafe { FCGX_HasSeenEOF(s) },
        Inner::Nothing => 0,
    }
}

/// On a request stream: the stream's error code (may be negative, as libfcgi).
#[no_mangle]
pub unsafe extern "C" fn FCGI_ferror(fp: *mut FCGI_FILE) -> c_int {
    // SAFETY: fp is ours.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::ferror(f) },
        // SAFETY: `s` is a live request stream of ours; the other arguments are the caller's.
        Inner::Fcgx(s) => unsafe { FCGX_GetError(s) },
        Inner::Nothing => 0,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_clearerr(fp: *mut FCGI_FILE) {
    // SAFETY: fp is ours.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::clearerr(f) },
        // SAFETY: `s` is a live request stream of ours; the other arguments are the caller's.
        Inner::Fcgx(s) => unsafe { FCGX_ClearError(s) },
        Inner::Nothing => {}
    }
}

#[no_mangle]
pub extern "C" fn FCGI_tmpfile() -> *mut FCGI_FILE {
    // SAFETY: plain libc call.
    wrap(unsafe { libc::tmpfile() })
}

/// -1 for a request stream (there is no descriptor behind it).
#[no_mangle]
pub unsafe extern "C" fn FCGI_fileno(fp: *mut FCGI_FILE) -> c_int {
    // SAFETY: fp is ours.
    match unsafe { inner(fp) } {
        // SAFETY: `f` is the C FILE this FCGI_FILE wraps; the other arguments follow the stdio contract.
        Inner::Stdio(f) => unsafe { libc::fileno(f) },
        _ => -1,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fdopen(fd: c_int, mode: *const c_char) -> *mut FCGI_FILE {
    // SAFETY: forwarded.
    wrap(unsafe { libc::fdopen(fd, mode) })
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_popen(cmd: *const c_char, type_: *const c_char) -> *mut FCGI_FILE {
    // SAFETY: forwarded.
    wrap(unsafe { libc::popen(cmd, type_) })
}

/// EOF (and nothing freed) for a request stream, as libfcgi.
#[no_mangle]
pub unsafe extern "C" fn FCGI_pclose(fp: *mut FCGI_FILE) -> c_int {
    // SAFETY: fp is ours.
    match unsafe { inner(fp) } {
        Inner::Stdio(f) => {
            // SAFETY: a FILE from popen; then our wrapper is released.
            let rc = unsafe { libc::pclose(f) };
            // SAFETY: `fp` is an FCGI_FILE of ours, not used after this.
            unsafe { release(fp) };
            rc
        }
        _ => EOF,
    }
}
