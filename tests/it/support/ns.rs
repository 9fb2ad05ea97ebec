//! The PID 1 namespace mode: `unshare --pid --fork --mount-proc --kill-child` in front of the
//! shim, finding the shim's host pid below unshare, signalling PID 1 from inside with
//! `nsenter`, and the watchdog that kills a run which outlives its bound.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::procs::{descendants, kill_tree};
use super::{wait_for, POLL, SHIM, STARTUP};

/// How the shim becomes PID 1 of a new PID namespace.
#[derive(Default)]
pub(super) struct Namespace {
    /// The root directory of the namespace (holding `/fnshim`); `/proc` is not mounted then.
    pub root: Option<PathBuf>,
}

impl Namespace {
    /// `unshare` and its options, to which the wrapper (if any) and the shim are appended.
    pub fn prefix(&self) -> Vec<String> {
        let mut argv: Vec<String> = ["unshare", "--pid", "--fork", "--kill-child"]
            .map(String::from)
            .into();
        argv.push(match &self.root {
            Some(dir) => format!("--root={}", dir.display()),
            None => "--mount-proc".into(),
        });
        argv
    }

    /// The shim's path as the namespace sees it.
    pub fn shim(&self) -> String {
        match self.root {
            Some(_) => "/fnshim".into(),
            None => SHIM.into(),
        }
    }
}

/// The shim's host pid: the only child of `unshare`. `None` when it never appeared (or
/// exited before it was seen).
pub(super) fn shim_pid(unshare: i32) -> Option<i32> {
    // Generous: a loaded machine can take seconds to fork (the wait ends as soon as it is seen).
    let pid = wait_for(STARTUP, || {
        let below = descendants(unshare);
        below.iter().find(|p| p.ppid == unshare).map(|p| p.pid)
    });
    // One poll more once it is seen, as the PID 1 harness this replaces did: B8 signals at
    // once, and without the pause more of its TERMs reach unshare's child before it has
    // exec'd fnshim, where PID 1 with default dispositions drops them (7/150 lost, measured).
    thread::sleep(POLL);
    pid
}

/// Sends `sig` (as `kill` spells it, e.g. `-TERM`) to PID 1 from inside the namespace.
pub(super) fn nsenter_kill_1(unshare: i32, sig: &str) -> Result<(), Output> {
    let out = Command::new("nsenter")
        .arg(format!("--target={unshare}"))
        .arg(format!("--pid=/proc/{unshare}/ns/pid_for_children"))
        .args(["kill", sig, "1"])
        .output()
        .expect("run nsenter");
    // `kill` runs inside the namespace, so when the signal makes PID 1 exit the kernel may
    // SIGKILL it before it has exited by itself: that outcome is a success too.
    let killed = out.status.signal() == Some(libc::SIGKILL);
    if out.status.success() || killed {
        Ok(())
    } else {
        Err(out)
    }
}

/// Kills the whole tree of a run if it is still going after its limit, unless disarmed.
pub(super) struct Watchdog {
    fired: Arc<AtomicBool>,
    disarm: Mutex<Option<Sender<()>>>,
}

impl Watchdog {
    pub fn arm(top: i32, limit: Duration) -> Watchdog {
        let fired = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<()>();
        let flag = fired.clone();
        thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                flag.store(true, Ordering::SeqCst);
                kill_tree(top);
            }
        });
        Watchdog {
            fired,
            disarm: Mutex::new(Some(tx)),
        }
    }

    pub fn disarm(&self) {
        if let Some(tx) = self.disarm.lock().unwrap().take() {
            let _ = tx.send(());
        }
    }

    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}
