//! The pre-fork process manager (being built).
