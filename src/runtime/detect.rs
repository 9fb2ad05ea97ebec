//! Which file is the function's entry and which language runs it: FUNCTION_ENTRY,
//! FUNCTION_HANDLER's `file.export`, or the table's entry files; FUNCTION_RUNTIME or the
//! entry's extension.

use std::path::{Path, PathBuf};

use super::adapters;
use super::languages;
use crate::config::{Config, Runtime};
use crate::exit::StartError;

/// Looked for before any language's entry files.
pub(super) const BOOTSTRAP: &str = "bootstrap";

/// The source file a `file.export` handler names: `file` with a handler extension (or as given).
pub(super) fn handler_file(config: &Config, folder: &Path, file: &str) -> Option<PathBuf> {
    languages::handler_extensions()
        .iter()
        .map(|ext| folder.join(format!("{file}.{ext}")))
        .chain([folder.join(file)])
        .find(|candidate| candidate.is_file() && runtime_of(config, candidate) != Runtime::Custom)
}

/// The extensions a `file.export` handler may have, for messages: `js,mjs,…`.
pub(super) fn extensions_shown() -> String {
    languages::handler_extensions().join(",")
}

/// FUNCTION_HANDLER as Lambda and Function Compute write it, `file.export` (`index.handler`,
/// `src/app.main`), or a bare export name.
pub(super) fn split_handler(handler: &str) -> (Option<&str>, &str) {
    match handler.rsplit_once('.') {
        Some((file, export)) if !file.is_empty() && !export.is_empty() => (Some(file), export),
        _ => (None, handler),
    }
}

pub(super) fn entry_file(config: &Config, folder: &Path) -> Result<PathBuf, StartError> {
    if let (None, (Some(file), _)) = (
        &config.function_entry,
        split_handler(&config.function_handler),
    ) {
        return handler_file(config, folder, file).ok_or_else(|| {
            StartError::Load(format!(
                "FUNCTION_HANDLER {}: no {file}.{{{}}} in {}",
                config.function_handler,
                extensions_shown(),
                folder.display()
            ))
        });
    }
    if let Some(entry) = &config.function_entry {
        let path = folder.join(entry);
        return match path.exists() {
            true => Ok(path),
            false => Err(StartError::Load(format!(
                "FUNCTION_ENTRY {} does not exist",
                path.display()
            ))),
        };
    }
    let candidates: Vec<&str> = [BOOTSTRAP]
        .into_iter()
        .chain(languages::entry_candidates())
        .collect();
    candidates
        .iter()
        .map(|name| folder.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            StartError::Load(format!(
                "no entry in {}: looked for {}; set FUNCTION_ENTRY",
                folder.display(),
                candidates.join(", ")
            ))
        })
}

/// FUNCTION_RUNTIME wins; otherwise the entry's extension decides (a language preferred when
/// installed, as Deno for `.ts`, if it is), and anything else is custom.
pub(super) fn runtime_of(config: &Config, entry: &Path) -> Runtime {
    if let Some(runtime) = config.function_runtime {
        return runtime;
    }
    let installed =
        |binary: &str| adapters::find_on_path(binary, config.search_path.as_deref()).is_some();
    entry
        .extension()
        .and_then(|e| e.to_str())
        .and_then(|ext| languages::by_extension(ext, installed))
        .map_or(Runtime::Custom, |language| language.runtime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, mode: u32) {
        std::fs::write(dir.join(name), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn typescript_prefers_deno_when_installed() {
        let dir = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        write(dir.path(), "index.ts", 0o644);
        write(bin.path(), "node", 0o755);
        let search = bin.path().to_str().unwrap().to_owned();
        let env = HashMap::from([("PATH".to_string(), search)]);
        let base = Config::from_env(&env, None).unwrap();
        assert_eq!(
            runtime_of(&base, &dir.path().join("index.ts")),
            Runtime::Node
        );
        write(bin.path(), "deno", 0o755);
        assert_eq!(
            runtime_of(&base, &dir.path().join("index.ts")),
            Runtime::Deno
        );
    }
}
