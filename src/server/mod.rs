//! Listen sockets, the accept engine and signals.

use crate::limits::Limits;
use parking_lot::Mutex;

static LIMITS: Mutex<Option<Limits>> = Mutex::new(None);

/// Runs `f` on the process-wide limits (initialised from the environment on first use).
pub fn with_limits<R>(f: impl FnOnce(&mut Limits) -> R) -> R {
    let mut guard = LIMITS.lock();
    f(guard.get_or_insert_with(Limits::from_env))
}
