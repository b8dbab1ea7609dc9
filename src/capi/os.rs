//! The `OS_*` layer of fcgios.h (being built).
