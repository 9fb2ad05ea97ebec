//! DART_AOT: the worker a language's table entry can build into one executable (Dart's
//! `dart compile exe`), built once and cached by a hash of the function's sources.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{file_part, fnv, io_failure, run, Step, StepError};
use crate::runtime::languages::{Aot, Language};
use crate::runtime::HandlerTarget;
use crate::supervisor::control::Controls;
use crate::supervisor::reaper::Reaper;

/// Builds the worker with the language's AOT command once per version of the sources, and
/// returns the target that runs the executable instead. The worker's last argument is the
/// adapter (the generated program), hashed with the sources.
pub async fn build_aot(
    reaper: &Reaper,
    cache: &Path,
    language: &Language,
    aot: &Aot,
    mut target: HandlerTarget,
    limit: Duration,
    events: &mut Controls,
) -> Result<HandlerTarget, StepError> {
    let Some(source) = target.argv.last().map(PathBuf::from) else {
        return Ok(target);
    };
    let is_source = |name: &str| is_source(language, aot, name);
    let key = sources_hash(&source, &target.folder, &is_source);
    let folder = cache
        .join(format!("{}-aot", language.binary))
        .join(format!("{key:016x}"));
    let executable = folder.join("worker");
    if executable.is_file() {
        let name = aot.name;
        tracing::info!(executable = %executable.display(), "using the cached {name} AOT build");
    } else {
        let unwritable = io_failure("cannot create", &folder);
        std::fs::create_dir_all(&folder).map_err(&unwritable)?;
        let partial = folder.join(format!("worker.partial{}", std::process::id()));
        let Some(argv) = (aot.command)(&target.argv, &partial) else {
            return Ok(target);
        };
        let step = Step {
            what: aot.what,
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

/// A file of the function the build depends on: one with the language's extensions, or one of
/// the build's other inputs (a lock file).
fn is_source(language: &Language, aot: &Aot, name: &str) -> bool {
    let extension = name.rsplit_once('.').map(|(_, ext)| ext);
    extension.is_some_and(|ext| language.extensions.contains(&ext)) || aot.inputs.contains(&name)
}

/// A hash of the generated program and every source of the function.
fn sources_hash(program: &Path, folder: &Path, is_source: &dyn Fn(&str) -> bool) -> u64 {
    let mut files = Vec::new();
    collect_sources(folder, is_source, &mut files);
    files.sort();
    fnv(std::iter::once(program.to_path_buf())
        .chain(files)
        .map(|file| file_part(&file)))
}

fn collect_sources(folder: &Path, is_source: &dyn Fn(&str) -> bool, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() && !name.starts_with('.') && name != "build" {
            collect_sources(&path, is_source, files);
        } else if is_source(name) {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::languages::DART;

    #[test]
    fn the_hash_follows_the_sources() {
        // Names built from the table: only runtime knows languages' file names.
        let aot = DART.aot.as_ref().unwrap();
        let is_source = |name: &str| is_source(&DART, aot, name);
        let source = |stem: &str| format!("{stem}.{}", DART.extensions[0]);
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join(source("worker"));
        std::fs::write(&program, "main() {}").unwrap();
        let function = dir.path().join("fn");
        std::fs::create_dir_all(function.join("lib")).unwrap();
        std::fs::write(function.join(source("main")), "a").unwrap();
        let first = sources_hash(&program, &function, &is_source);
        assert_eq!(first, sources_hash(&program, &function, &is_source));
        std::fs::write(function.join("lib").join(source("util")), "b").unwrap();
        let second = sources_hash(&program, &function, &is_source);
        assert_ne!(first, second);
        std::fs::write(function.join("README.md"), "not a source").unwrap();
        assert_eq!(second, sources_hash(&program, &function, &is_source));
        std::fs::write(function.join(aot.inputs[0]), "x").unwrap();
        assert_ne!(second, sources_hash(&program, &function, &is_source));
    }
}
