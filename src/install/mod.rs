//! Install and build steps before the first worker starts (SPEC §6). Each step is a child of the
//! one reaper, bounded by INSTALL_TIMEOUT, with its output streamed to the log (worker 0); a
//! failure names the command, its exit status and the last lines it wrote (exit 69).
//!
//! The steps: dependency install (`deps`: npm, pip, deno, pub) and the Dart AOT build
//! (`dart`), each cached so that a restart with unchanged inputs skips it.

mod baked;
mod dart;
mod deps;

pub use baked::dependencies_baked;
pub use dart::dart_aot;
pub use deps::{install_dependencies, DepsSettings};

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libc::c_int;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::timeout;

use crate::exit::StartError;
use crate::supervisor::process::{self, Spec, Tail};
use crate::supervisor::reaper::Reaper;

/// Why a step did not complete.
#[derive(Debug)]
pub enum StepError {
    Failed(StartError),
    /// A stop signal arrived; the step was killed.
    Stopped(c_int),
}

/// One command run to completion before serving.
pub struct Step<'a> {
    pub what: &'a str,
    pub argv: Vec<OsString>,
    pub cwd: &'a PathBuf,
    pub env: Vec<(&'static str, String)>,
}

pub async fn run(
    reaper: &Reaper,
    step: Step<'_>,
    limit: Duration,
    events: &mut UnboundedReceiver<c_int>,
) -> Result<(), StepError> {
    let command = shell_words(&step.argv);
    let tail = Tail::default();
    let spec = Spec {
        argv: &step.argv,
        cwd: Some(step.cwd),
        env: step
            .env
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        capture_output: true,
        take_terminal: false,
        worker_id: 0,
        tail: Some(tail.clone()),
    };
    let fail = |why: String| StepError::Failed(StartError::Unavailable(why));
    let mut child = process::spawn(reaper, spec).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => fail(format!(
            "{}: {} is not installed (not found on PATH)",
            step.what,
            program(&step.argv)
        )),
        _ => fail(format!("{}: cannot run `{command}`: {error}", step.what)),
    })?;
    tracing::info!(pid = child.pid, command, "{}", step.what);
    let status = loop {
        tokio::select! {
            finished = timeout(limit, child.wait()) => match finished {
                Ok(status) => break status,
                Err(_) => {
                    child.signal(libc::SIGKILL);
                    child.wait().await;
                    let limit = humantime::format_duration(limit);
                    return Err(fail(format!("{}: `{command}` did not finish within INSTALL_TIMEOUT ({limit}){}", step.what, last_lines(&tail))));
                }
            },
            Some(sig) = events.recv() => match sig {
                libc::SIGTERM | libc::SIGINT => {
                    child.signal(libc::SIGKILL);
                    child.wait().await;
                    return Err(StepError::Stopped(sig));
                }
                other => child.signal(other),
            },
        }
    };
    // The relay tasks may still hold the last lines: give them a moment to land in the tail.
    tokio::time::sleep(Duration::from_millis(20)).await;
    match status.code() {
        0 => Ok(()),
        _ => Err(fail(format!(
            "{}: `{command}` failed ({status}){}",
            step.what,
            last_lines(&tail)
        ))),
    }
}

fn last_lines(tail: &Tail) -> String {
    let lines = tail.lock().unwrap_or_else(|p| p.into_inner());
    match lines.is_empty() {
        true => String::new(),
        false => format!(
            "; its last lines:\n{}",
            lines.iter().cloned().collect::<Vec<_>>().join("\n")
        ),
    }
}

fn program(argv: &[OsString]) -> String {
    argv.first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn shell_words(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// FNV-1a, 64 bits: a stable key for caches across fnshim versions and machines.
pub(crate) fn fnv(parts: impl IntoIterator<Item = Vec<u8>>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.into_iter().chain([0xff]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A file's name and contents, for a cache key (nothing when it does not exist).
pub(crate) fn file_part(path: &Path) -> Vec<u8> {
    let mut part = path.to_string_lossy().into_owned().into_bytes();
    part.extend(std::fs::read(path).unwrap_or_default());
    part
}

fn io_failure(what: &str, path: &Path) -> impl Fn(std::io::Error) -> StepError {
    let context = format!("{what} {}", path.display());
    move |error| StepError::Failed(StartError::Unavailable(format!("{context}: {error}")))
}
