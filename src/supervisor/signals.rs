//! Signal masking and the one thread that receives every signal and drives the reaper.
//!
//! Architecture invariant: signals are blocked in `main` before any thread exists, so every
//! thread inherits the mask and only `sigwaitinfo` here ever sees them; nothing installs handlers.

use std::io;
use std::sync::Arc;

use libc::c_int;
use tokio::sync::mpsc;

use super::reaper::Reaper;

/// Signals passed on to the worker's process group as they arrive (SPEC §7, plus CONT).
pub const FORWARDED: [c_int; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
];

fn handled_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset only write into the local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in FORWARDED.iter().chain(&[libc::SIGTERM, libc::SIGCHLD]) {
            libc::sigaddset(&mut set, *sig);
        }
        set
    }
}

/// Blocks the handled signals in the calling (main) thread and resets their dispositions to the
/// default, so that a SIG_IGN inherited from our parent neither swallows them nor leaks to children.
/// Must be the first act of `main`: a signal that arrives before this would be lost or fatal.
pub fn block() {
    let set = handled_set();
    // SAFETY: plain libc calls on a valid, initialised set; no handlers are installed.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        for sig in FORWARDED.iter().chain(&[libc::SIGTERM, libc::SIGCHLD]) {
            libc::signal(*sig, libc::SIG_DFL);
        }
    }
}

/// Starts the signal thread. SIGCHLD makes it reap; every other signal is sent to the returned
/// channel, which the supervisor reads (the sender lets fnshim stop itself the same way, after
/// a local `check` or `invoke`). The thread lives as long as the process.
pub fn start(
    reaper: Arc<Reaper>,
) -> io::Result<(mpsc::UnboundedSender<c_int>, mpsc::UnboundedReceiver<c_int>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let inject = tx.clone();
    let set = handled_set();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let _ = reaper.reap();
            loop {
                // SAFETY: `set` is valid; a null siginfo pointer is allowed.
                let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
                match sig {
                    -1 => continue, // EINTR
                    libc::SIGCHLD => {
                        reaper.reap();
                    }
                    _ => {
                        let _ = tx.send(sig);
                    }
                }
            }
        })?;
    Ok((inject, rx))
}

/// The conventional name of a signal, for log lines.
pub fn name(sig: c_int) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGWINCH => "SIGWINCH",
        _ => "signal",
    }
}

/// Sends `sig` to a whole process group. ESRCH (the group is gone) is not an error worth a word.
pub fn kill_group(pgid: i32, sig: c_int) {
    if pgid > 0 {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(-pgid, sig) };
    }
}
