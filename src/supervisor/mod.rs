//! Processes: the single reaper, signal handling, the plain-init loop, and the lifecycle of a
//! proxied worker (start, readiness, restart with backoff, drain and stop).

pub mod init;
mod leftovers;
pub mod process;
pub mod proxy;
pub mod reaper;
pub mod signals;

/// Marks this process as a child subreaper when it is not PID 1, so orphans are reparented to
/// it and reaped here rather than by the host's init. Returns false if the kernel refused.
pub fn become_subreaper() -> bool {
    // SAFETY: getpid/prctl with these arguments have no memory-safety preconditions.
    unsafe { libc::getpid() == 1 || libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}
