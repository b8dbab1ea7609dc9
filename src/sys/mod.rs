//! The small OS module: the only place outside `capi/` with `unsafe`. Thin, documented
//! wrappers over the system calls the safe layers need and that `std`/`socket2` do not offer.

pub mod net;
pub mod process;

/// Sets the calling thread's `errno` (the C ABI reports errors this way).
pub fn set_errno(value: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid for the
    // thread's lifetime.
    unsafe { *libc::__errno_location() = value };
}

/// The calling thread's `errno`.
#[cfg_attr(not(feature = "capi"), allow(dead_code))]
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
