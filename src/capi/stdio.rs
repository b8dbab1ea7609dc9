//! fcgi_stdio.h (being built). `_fcgi_sF` is defined now: the printf shims refer to it.

use super::types::FCGI_FILE;

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
