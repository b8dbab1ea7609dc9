//! The libfcgi-compatible C ABI (filled in by the C ABI commit).
