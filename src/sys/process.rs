//! Process-level system calls for the process manager (being built).
