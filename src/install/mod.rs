//! Install and build steps before the first worker starts (SPEC §6). Each step is a child of the
//! one reaper, bounded by INSTALL_TIMEOUT, with its output streamed to the log (worker 0); a
//! failure names the command, its exit status and the last lines it wrote (exit 69).
//!
//! The steps: dependency install (`deps`: npm, pip, deno, pub) and the DART_AOT build (`aot`),
//! each as the language table says, each cached so that a restart with unchanged inputs skips it.

mod aot;
mod baked;
mod deps;
mod prepare;

pub use aot::build_aot;
pub use deps::install_dependencies;
pub(crate) use prepare::prepare_workers;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use crate::exit::{self, StartError};
use crate::supervisor::control::Controls;
use crate::supervisor::lifecycle::{run_child, Ended};
use crate::supervisor::process::{self, Child, Spec, Tail};
use crate::supervisor::reaper::Reaper;

/// Why a step did not complete.
#[derive(Debug)]
pub enum StepError {
    Failed(StartError),
    /// A stop arrived; the step was killed.
    Stopped,
}

/// One command run to completion before serving.
pub struct Step<'a> {
    pub what: &'a str,
    pub argv: Vec<OsString>,
    pub cwd: &'a PathBuf,
    pub env: Vec<(&'static str, String)>,
}

/// Runs `step` until it exits, INSTALL_TIMEOUT (`limit`) passes or a stop arrives; signals
/// are passed on to it meanwhile. A step that passes the limit or is stopped is SIGKILLed.
pub async fn run(
    reaper: &Reaper,
    step: Step<'_>,
    limit: Duration,
    controls: &mut Controls,
) -> Result<(), StepError> {
    let command = shell_words(&step.argv);
    let tail = Tail::default();
    let mut child = spawn(reaper, &step, &tail)?;
    tracing::info!(pid = child.pid, command, "{}", step.what);
    let status = match run_child(&mut child, controls, Some(Instant::now() + limit)).await {
        Ended::Exited(status) => status,
        Ended::Deadline => {
            kill(&mut child).await;
            let limit = humantime::format_duration(limit);
            let why = format!(
                "{}: `{command}` did not finish within INSTALL_TIMEOUT ({limit}){}",
                step.what,
                last_lines(&tail)
            );
            return Err(failed(why));
        }
        Ended::Stop(_) => {
            kill(&mut child).await;
            return Err(StepError::Stopped);
        }
    };
    // The relay tasks may still hold the last lines: give them a moment to land in the tail.
    tokio::time::sleep(Duration::from_millis(20)).await;
    match status.code() {
        exit::OK => Ok(()),
        _ => Err(failed(format!(
            "{}: `{command}` failed ({status}){}",
            step.what,
            last_lines(&tail)
        ))),
    }
}

fn failed(why: String) -> StepError {
    StepError::Failed(StartError::Unavailable(why))
}

/// Starts the step as a child of the reaper, its output to the log and to `tail`.
fn spawn(reaper: &Reaper, step: &Step<'_>, tail: &Tail) -> Result<Child, StepError> {
    let spec = Spec {
        argv: &step.argv,
        cwd: Some(step.cwd),
        env: step
            .env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        capture_output: true,
        take_terminal: false,
        worker_id: 0,
        tail: Some(tail.clone()),
    };
    process::spawn(reaper, spec).map_err(|error| failed(not_started(step.what, &step.argv, &error)))
}

async fn kill(child: &mut Child) {
    child.signal(libc::SIGKILL);
    child.wait().await;
}

/// Why a step's program did not start.
fn not_started(what: &str, argv: &[OsString], error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => format!(
            "{what}: {} is not installed (not found on PATH)",
            program(argv)
        ),
        _ => format!("{what}: cannot run `{}`: {error}", shell_words(argv)),
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
