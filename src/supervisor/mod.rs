//! Processes: the single reaper, signal handling, the plain-init loop, and the lifecycle of a
//! proxied worker (start, readiness, restart with backoff, drain and stop).

pub mod handlers;
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

/// The drain of a shutdown: waits until no client connection is open, or `until`. Other signals
/// are passed on through `forward`; a second stop signal ends the drain early and returns true
/// (the caller then SIGKILLs its workers).
pub(crate) async fn drain(
    app: &crate::server::App,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<libc::c_int>,
    until: tokio::time::Instant,
    forward: impl Fn(libc::c_int),
) -> bool {
    let connections = app.connections.clone();
    let drained = tokio::time::timeout_at(until, connections.idle());
    tokio::pin!(drained);
    loop {
        tokio::select! {
            result = &mut drained => {
                if result.is_err() {
                    tracing::warn!(in_flight = app.in_flight.current(), "drain deadline reached");
                }
                return false;
            }
            Some(sig) = events.recv() => match sig {
                libc::SIGTERM | libc::SIGINT => {
                    tracing::warn!("second stop signal; sending SIGKILL");
                    return true;
                }
                other => forward(other),
            },
        }
    }
}
