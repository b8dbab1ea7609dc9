//! fcgi_rs's own C extensions, all under the `fcgi_rs_` prefix. `include/fcgi_rs.h` is
//! generated from this file by cbindgen.

use std::ffi::{c_char, c_int, CStr};

/// Sets one library limit by name before or between requests.
///
/// Names: `max_params_bytes`, `max_params`, `max_name_len`, `max_value_len`,
/// `idle_timeout_ms`, `max_conns`, `linger_timeout_ms`. The same limits can be set with
/// `FCGI_RS_<NAME>` environment variables. Returns 0, or -1 with `errno = EINVAL` for an
/// unknown name or a bad value. Takes effect for listen sockets first used after the call.
#[no_mangle]
pub unsafe extern "C" fn fcgi_rs_set_limit(name: *const c_char, value: u64) -> c_int {
    if name.is_null() {
        crate::sys::set_errno(libc::EINVAL);
        return -1;
    }
    // SAFETY: the caller passes a NUL-terminated string (checked non-null above).
    let name = unsafe { CStr::from_ptr(name) };
    let Ok(name) = name.to_str() else {
        crate::sys::set_errno(libc::EINVAL);
        return -1;
    };
    match crate::server::with_limits(|l| l.set(name, value)) {
        Ok(()) => 0,
        Err(_) => {
            crate::sys::set_errno(libc::EINVAL);
            -1
        }
    }
}

/// The library version as a static NUL-terminated string, e.g. `"0.1.0"`.
#[no_mangle]
pub extern "C" fn fcgi_rs_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
