//! Shared parts of the benchmark suite: a small blocking FastCGI client ([`client`]) and the
//! load engine ([`load`]) used by both `fcgi-load` and the `fcgi-bench` runner.

pub mod client;
pub mod load;
