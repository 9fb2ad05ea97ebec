//! Plain init mode (`fnshim -- CMD` without PORT): run one child, pass signals on, reap
//! everything, and exit with the child's own code, like tini but with a SIGKILL deadline.

use std::ffi::OsString;
use std::time::Duration;

use tokio::time::Instant;

use super::control::{self, Controls};
use super::leftovers;
use super::lifecycle::{run_child, Ended};
use super::process::{self, Spec};
use super::reaper::Reaper;
use crate::exit;

pub struct InitOptions {
    pub argv: Vec<OsString>,
    pub shutdown_timeout: Duration,
    pub grace: Duration,
}

/// A stop is passed on and starts the SHUTDOWN_TIMEOUT countdown to SIGKILL; a second stop
/// kills at once; SIGINT alone is only passed on (`Controls::pass_interrupts_on`).
pub async fn run(reaper: &Reaper, options: InitOptions, mut controls: Controls) -> i32 {
    controls.pass_interrupts_on();
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
        match run_child(&mut child, &mut controls, kill_at).await {
            Ended::Exited(status) => break status,
            Ended::Stop(stop) if stop.forced => {
                let signal = control::name(stop.signal);
                tracing::warn!(signal, "second stop signal; sending SIGKILL");
                child.signal(libc::SIGKILL);
            }
            Ended::Stop(stop) => {
                let signal = control::name(stop.signal);
                tracing::info!(signal, "stopping the command");
                child.signal(stop.signal);
                kill_at = Some(Instant::now() + options.shutdown_timeout);
            }
            Ended::Deadline => {
                tracing::warn!(
                    pid = child.pid,
                    "the command outlived SHUTDOWN_TIMEOUT; sending SIGKILL"
                );
                child.signal(libc::SIGKILL);
                kill_at = None;
            }
        }
    };
    tracing::debug!(pid = child.pid, %status, "command exited");
    leftovers::stop_all(reaper, child.pid, options.grace).await;
    status.code()
}
