//! Gives the heap's free pages back to the system after a burst. glibc keeps freed memory for
//! later (RSS stayed at ~7 MiB after a 64-connection load, against ~4 MiB idle), and fnshim's
//! one thread has one arena, so one `malloc_trim(0)` returns nearly all of it.
//!
//! Nothing is polled: whatever gives back a lot of memory at once says so (`settled`: the last
//! client connection closed, the last spare upstream connection went); the keeper waits
//! `QUIET`, then trims if nothing is in use. Fully idle, no timer is armed.

use std::time::Duration;

use tokio::sync::Notify;

static SETTLED: Notify = Notify::const_new();

/// How long after the last sign of a burst ending the heap is trimmed: more of it may end.
const QUIET: Duration = Duration::from_secs(1);

/// Something that held memory has gone (many signs in a row make one trim).
pub fn settled() {
    SETTLED.notify_one();
}

/// Runs for the whole serve: after each `settled`, once `QUIET` has passed, gives the free
/// pages back if `idle()` says nothing is in use now.
pub async fn keeper(idle: impl Fn() -> bool) {
    loop {
        SETTLED.notified().await;
        tokio::time::sleep(QUIET).await;
        if idle() {
            trim();
        }
    }
}

fn trim() {
    // SAFETY: malloc_trim only walks glibc's own heap; it has no preconditions.
    unsafe { libc::malloc_trim(0) };
}
