//! The libfcgi-compatible C ABI. The only layer with `extern "C"` functions and raw pointers:
//! it converts pointers once at the boundary (`state`), calls the safe layers, and maps
//! results to libfcgi's return codes.
#![allow(non_snake_case, non_camel_case_types, clippy::missing_safety_doc)]

pub mod ext;
pub mod os;
pub mod request;
pub mod state;
pub mod stdio;
pub mod stream;
pub mod types;
