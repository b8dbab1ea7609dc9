//! The static-archive shell of the C library. All exports live in `fcgi_rs::capi`; this crate
//! only forces them into a `staticlib` so the Makefile can link `libfcgi_rs.so.0`,
//! `libfcgi.so.0` and `libfcgi_rs.a` from one archive with an explicit export list.

pub use fcgi_rs::capi;
