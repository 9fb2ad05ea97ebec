//! Plain init mode (`fnshim -- CMD` without PORT): run one child, pass signals on, reap
//! everything, and exit with the child's own code, like tini but with a SIGKILL deadline.

use std::ffi::OsString;
use std::time::Duration;

use libc::c_int;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::process::{self, Spec};
use super::reaper::Reaper;
use super::{leftovers, signals};
use crate::exit;

pub struct InitOptions {
    pub argv: Vec<OsString>,
    pub shutdown_timeout: Duration,
    pub grace: Duration,
}

pub async fn run(
    reaper: &Reaper,
    options: InitOptions,
    mut events: mpsc::UnboundedReceiver<c_int>,
) -> i32 {
    let spec = Spec {
        argv: &options.argv,
        cwd: None,
        env: Vec::new(),
        capture_output: false,
        // SAFETY: isatty has no preconditions.
        take_terminal: unsafe { libc::isatty(libc::STDIN_FILENO) } == 1,
        worker_id: 1,
        tail: None,
    };
    let mut child = match process::spawn(reaper, spec) {
        Ok(child) => child,
        Err(error) => {
            let path = options
                .argv
                .first()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            tracing::error!(%error, path, "cannot execute the command");
            return exit::exec_code(&error);
        }
    };
    tracing::debug!(pid = child.pid, "command started");
    let mut kill_at: Option<Instant> = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            Some(sig) = events.recv() => {
                kill_at = on_signal(&child, sig, kill_at, options.shutdown_timeout);
            }
            _ = sleep_until(kill_at.unwrap_or_else(Instant::now)), if kill_at.is_some() => {
                tracing::warn!(pid = child.pid, "the command outlived SHUTDOWN_TIMEOUT; sending SIGKILL");
                child.signal(libc::SIGKILL);
                kill_at = None;
            }
        }
    };
    tracing::debug!(pid = child.pid, %status, "command exited");
    leftovers::stop_all(reaper, child.pid, options.grace).await;
    status.code()
}

/// TERM starts the SIGKILL countdown; a second TERM, or INT after it, kills at once; the rest
/// are passed on unchanged. Returns the new countdown.
fn on_signal(
    child: &process::Child,
    sig: c_int,
    kill_at: Option<Instant>,
    budget: Duration,
) -> Option<Instant> {
    let stopping = kill_at.is_some();
    match sig {
        libc::SIGTERM | libc::SIGINT if stopping => {
            tracing::warn!(
                signal = signals::name(sig),
                "second stop signal; sending SIGKILL"
            );
            child.signal(libc::SIGKILL);
            kill_at
        }
        libc::SIGTERM => {
            tracing::info!(signal = "SIGTERM", "stopping the command");
            child.signal(libc::SIGTERM);
            Some(Instant::now() + budget)
        }
        other => {
            child.signal(other);
            kill_at
        }
    }
}
