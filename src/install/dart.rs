//! `DART_AOT=true`: the generated Dart worker compiled once with `dart compile exe`, cached by a
//! hash of the function's sources.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{file_part, fnv, io_failure, run, Step, StepError};
use crate::runtime::HandlerTarget;
use crate::supervisor::control::Controls;
use crate::supervisor::reaper::Reaper;

/// `DART_AOT=true`: compiles the generated worker with `dart compile exe` once per version of
/// the sources, and returns the target that runs the executable instead of `dart run`.
pub async fn dart_aot(
    reaper: &Reaper,
    cache: &Path,
    mut target: HandlerTarget,
    limit: Duration,
    events: &mut Controls,
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
        let unwritable = io_failure("cannot create", &folder);
        std::fs::create_dir_all(&folder).map_err(&unwritable)?;
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
            env: Vec::new(),
        };
        run(reaper, step, limit, events).await?;
        std::fs::rename(&partial, &executable).map_err(&unwritable)?;
    }
    target.argv = vec![executable.into_os_string()];
    Ok(target)
}

/// A hash of the generated program and every `.dart` file and `pubspec.lock` of the function.
fn sources_hash(program: &Path, folder: &Path) -> u64 {
    let mut files = Vec::new();
    collect_sources(folder, &mut files);
    files.sort();
    fnv(std::iter::once(program.to_path_buf())
        .chain(files)
        .map(|file| file_part(&file)))
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
