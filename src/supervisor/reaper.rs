//! The single place that waits on child processes: spawns register here, and every exit status
//! (of our own children and of adopted orphans) is collected by `waitpid(-1)`.
//!
//! Architecture invariant: no other code calls `wait`/`waitpid` or uses `tokio::process`; the
//! registry lock is held across both `spawn` and `waitpid`, so a fast-exiting child can never be
//! reaped before it is registered, and std's own wait after a failed `exec` never races us.

use std::collections::HashMap;
use std::io;
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::{oneshot, watch};

/// A raw wait status, as `waitpid` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitStatus(pub i32);

impl WaitStatus {
    /// The exit code a shell (and tini) would report: the code, or 128 + the signal number.
    pub fn code(self) -> i32 {
        if libc::WIFEXITED(self.0) {
            libc::WEXITSTATUS(self.0)
        } else if libc::WIFSIGNALED(self.0) {
            128 + libc::WTERMSIG(self.0)
        } else {
            1
        }
    }

    pub fn signal(self) -> Option<i32> {
        libc::WIFSIGNALED(self.0).then(|| libc::WTERMSIG(self.0))
    }
}

impl std::fmt::Display for WaitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.signal() {
            Some(sig) => write!(f, "killed by {} ({sig})", super::control::name(sig)),
            None => write!(f, "exit code {}", self.code()),
        }
    }
}

#[derive(Default)]
pub struct Reaper {
    waiting: Mutex<HashMap<i32, oneshot::Sender<WaitStatus>>>,
    /// Bumped after every pass that reaped at least one child.
    changes: watch::Sender<u64>,
}

impl Reaper {
    pub fn new() -> Reaper {
        Reaper::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, oneshot::Sender<WaitStatus>>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Spawns `command` and registers it; the receiver yields its wait status once it exits.
    pub fn spawn(
        &self,
        command: &mut Command,
    ) -> io::Result<(Child, oneshot::Receiver<WaitStatus>)> {
        let mut waiting = self.lock();
        let child = command.spawn()?;
        let (tx, rx) = oneshot::channel();
        waiting.insert(child.id() as i32, tx);
        Ok((child, rx))
    }

    /// Collects every exited child without blocking. Returns whether any child is left.
    pub fn reap(&self) -> bool {
        let mut waiting = self.lock();
        let mut reaped = false;
        let left = loop {
            let mut status = 0;
            // SAFETY: waitpid writes only into `status`.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            match pid {
                0 => break true,
                -1 if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => continue,
                -1 => break false,
                _ => {
                    reaped = true;
                    match waiting.remove(&pid) {
                        Some(tx) => {
                            let _ = tx.send(WaitStatus(status));
                        }
                        None => {
                            tracing::debug!(pid, status = %WaitStatus(status), "reaped an orphan")
                        }
                    }
                }
            }
        };
        drop(waiting);
        // Only a real change wakes waiters: a bump on every call would make them spin.
        if reaped {
            self.changes.send_modify(|n| *n += 1);
        }
        left
    }

    /// Changes whenever a child is reaped (to wait for leftovers without polling).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::control::TERMINATE;

    #[test]
    fn codes_follow_the_shell_convention() {
        assert_eq!(WaitStatus(42 << 8).code(), 42);
        assert_eq!(WaitStatus(0).code(), 0);
        assert_eq!(WaitStatus(TERMINATE).code(), 143);
        assert_eq!(WaitStatus(libc::SIGKILL).code(), 137);
        assert_eq!(WaitStatus(TERMINATE).to_string(), "killed by SIGTERM (15)");
        assert_eq!(WaitStatus(3 << 8).to_string(), "exit code 3");
    }
}
