//! Processes: the single reaper, signal handling, and one lifecycle engine (`control`,
//! `lifecycle`, `shutdown`) that the plain init, the proxied worker, the handler workers and the
//! install steps are written with.
//!
//! Module dependencies run one way: `control` (what signals mean) ← `reaper` ← `signals` (the
//! thread); `lifecycle` and `shutdown` build on those, and the modes build on them. `worker`
//! names nothing here: a handler slot hands each connection the way to kill its worker.

pub(crate) mod bootstraps;
pub mod control;
pub(crate) mod handlers;
pub(crate) mod init;
mod leftovers;
pub(crate) mod lifecycle;
pub(crate) mod process;
pub(crate) mod proxy;
mod ready_check;
pub(crate) mod reaper;
mod shutdown;
pub mod signals;
mod slots;

/// Marks this process as a child subreaper when it is not PID 1, so orphans are reparented to
/// it and reaped here rather than by the host's init. Returns false if the kernel refused.
pub fn become_subreaper() -> bool {
    // SAFETY: getpid/prctl with these arguments have no memory-safety preconditions.
    unsafe { libc::getpid() == 1 || libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}
