//! Signal masking and the one thread that receives every signal and drives the reaper.
//!
//! Architecture invariant: signals are blocked in `main` before any thread exists, so every
//! thread inherits the mask and only `sigwaitinfo` here ever sees them; nothing installs handlers.
//! What a signal means is decided once, by [`Control::from_signal`].

use std::io;
use std::sync::Arc;

use libc::c_int;

use super::control::{Control, ControlSender, FORWARDED, TERMINATE};
use super::reaper::Reaper;

fn handled() -> impl Iterator<Item = c_int> {
    FORWARDED.into_iter().chain([TERMINATE, libc::SIGCHLD])
}

fn handled_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset only write into the local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in handled() {
            libc::sigaddset(&mut set, sig);
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
        for sig in handled() {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

/// Starts the signal thread. SIGCHLD makes it reap; every other signal is decoded into a
/// [`Control`] and sent to `feed` (dropped when there is none: controls injected by a test). The
/// thread lives as long as the process.
pub fn start(reaper: Arc<Reaper>, feed: Option<ControlSender>) -> io::Result<()> {
    let set = handled_set();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let _ = reaper.reap();
            loop {
                // SAFETY: `set` is valid; a null siginfo pointer is allowed.
                let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
                match (sig, &feed) {
                    (-1, _) => continue, // EINTR
                    (libc::SIGCHLD, _) => {
                        reaper.reap();
                    }
                    (sig, Some(feed)) => feed.send(Control::from_signal(sig)),
                    (sig, None) => tracing::debug!(sig, "signal ignored: controls are injected"),
                }
            }
        })?;
    Ok(())
}

/// Sends `sig` to a whole process group. ESRCH (the group is gone) is not an error worth a word.
pub fn kill_group(pgid: i32, sig: c_int) {
    if pgid > 0 {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(-pgid, sig) };
    }
}
