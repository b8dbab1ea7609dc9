//! Listen sockets, the accept engine and signals (filled in by the engine commit).
