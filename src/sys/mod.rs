//! The small OS module: the only place outside `capi/` with `unsafe`. Thin, documented
//! wrappers over the system calls the safe layers need and that `std`/`socket2` do not offer.
