//! One connection to a web server (filled in by the engine commit).
