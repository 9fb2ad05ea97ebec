//! Gives the heap's free pages back to the system after a burst. glibc keeps freed memory for
//! later (RSS stayed at ~7 MiB after a 64-connection load, against ~4 MiB idle), and fnshim's
//! one thread has one arena, so one `malloc_trim(0)` returns nearly all of it.
//!
//! Nothing is polled: whatever gives back a lot of memory at once says so: the last client
//! connection closed (`settled`, which counts only if invocations were served since the last
//! trim: an admin or readiness call arms nothing) or the last spare upstream connection went
//! (`freed`); the keeper waits `QUIET`, then trims if no client connection is open. Fully
//! idle, no timer is armed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

static SETTLED: Notify = Notify::const_new();
static FREED: AtomicBool = AtomicBool::new(false);

/// How long after the last sign of a burst ending the heap is trimmed: more of it may end.
const QUIET: Duration = Duration::from_secs(1);

/// The last client connection closed (many in a row make one trim).
pub fn settled() {
    SETTLED.notify_one();
}

/// Memory that requests left behind has gone (the last spare upstream connection).
pub fn freed() {
    FREED.store(true, Ordering::Release);
    SETTLED.notify_one();
}

/// Runs for the whole serve: after each sign, once `QUIET` has passed, gives the free pages
/// back if `idle()` says no client connection is open. `served()` counts the invocations.
pub async fn keeper(idle: impl Fn() -> bool, served: impl Fn() -> u64) {
    let mut trimmed_at = 0;
    loop {
        SETTLED.notified().await;
        let freed = FREED.swap(false, Ordering::AcqRel);
        if !freed && served() == trimmed_at {
            continue;
        }
        tokio::time::sleep(QUIET).await;
        if idle() {
            trimmed_at = served();
            trim();
        }
    }
}

fn trim() {
    // SAFETY: malloc_trim only walks glibc's own heap; it has no preconditions.
    unsafe { libc::malloc_trim(0) };
}
