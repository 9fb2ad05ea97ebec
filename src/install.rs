//! Install and build steps before the first worker starts (SPEC §6). Each step is a child of the
//! one reaper, bounded by INSTALL_TIMEOUT, with its output streamed to the log (worker 0); a
//! failure names the command, its exit status and the last lines it wrote (exit 69).
//!
//! Today's step: the Dart AOT build (`DART_AOT=true`), cached by a hash of the function's
//! sources, so that a restart with unchanged code starts the compiled worker at once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libc::c_int;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::timeout;

use crate::exit::StartError;
use crate::runtime::HandlerTarget;
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
        env: Vec::new(),
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

/// `DART_AOT=true`: compiles the generated worker with `dart compile exe` once per version of
/// the sources, and returns the target that runs the executable instead of `dart run`.
pub async fn dart_aot(
    reaper: &Reaper,
    cache: &Path,
    mut target: HandlerTarget,
    limit: Duration,
    events: &mut UnboundedReceiver<c_int>,
) -> Result<HandlerTarget, StepError> {
    let (dart, source) = match (target.argv.first(), target.argv.last()) {
        (Some(dart), Some(source)) => (dart.clone(), PathBuf::from(source)),
        _ => return Ok(target),
    };
    let key = sources_hash(&source, &target.folder);
    let folder = cache.join("dart-aot").join(format!("{key:016x}"));
    let executable = folder.join("worker");
    if executable.is_file() {
        tracing::info!(executable = %executable.display(), "using the cached Dart AOT build");
    } else {
        let unwritable = |e: std::io::Error| {
            StepError::Failed(StartError::Unavailable(format!(
                "cannot create {}: {e}",
                folder.display()
            )))
        };
        std::fs::create_dir_all(&folder).map_err(unwritable)?;
        let partial = folder.join(format!("worker.partial{}", std::process::id()));
        let mut argv: Vec<OsString> = vec![dart, "compile".into(), "exe".into()];
        argv.extend(
            target
                .argv
                .iter()
                .filter(|a| a.to_string_lossy().starts_with("--packages="))
                .cloned(),
        );
        argv.extend([
            source.into_os_string(),
            "-o".into(),
            partial.clone().into_os_string(),
        ]);
        let step = Step {
            what: "building the Dart worker (DART_AOT)",
            argv,
            cwd: &target.folder,
        };
        run(reaper, step, limit, events).await?;
        std::fs::rename(&partial, &executable).map_err(unwritable)?;
    }
    target.argv = vec![executable.into_os_string()];
    Ok(target)
}

/// FNV-1a over the generated program and every `.dart` file and `pubspec.lock` of the function
/// (paths and contents, in a stable order): a stable key across fnshim versions and machines.
fn sources_hash(program: &Path, folder: &Path) -> u64 {
    let mut files = vec![program.to_path_buf()];
    collect_sources(folder, &mut files);
    files[1..].sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in &files {
        let bytes = file
            .to_string_lossy()
            .into_owned()
            .into_bytes()
            .into_iter()
            .chain(std::fs::read(file).unwrap_or_default());
        for byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn collect_sources(folder: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() && !name.starts_with('.') && name != "build" {
            collect_sources(&path, files);
        } else if name.ends_with(".dart") || name == "pubspec.lock" {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_the_sources() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("worker.dart");
        std::fs::write(&program, "main() {}").unwrap();
        let function = dir.path().join("fn");
        std::fs::create_dir_all(function.join("lib")).unwrap();
        std::fs::write(function.join("main.dart"), "a").unwrap();
        let first = sources_hash(&program, &function);
        assert_eq!(first, sources_hash(&program, &function));
        std::fs::write(function.join("lib/util.dart"), "b").unwrap();
        let second = sources_hash(&program, &function);
        assert_ne!(first, second);
        std::fs::write(function.join("README.md"), "not a source").unwrap();
        assert_eq!(second, sources_hash(&program, &function));
        std::fs::write(function.join("pubspec.lock"), "x").unwrap();
        assert_ne!(second, sources_hash(&program, &function));
    }
}
