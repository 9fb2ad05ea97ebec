//! The language adapters (`languages/`), embedded in the binary through the language table,
//! written to the cache folder at start, and the command line that runs each one as a worker.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::languages::{Language, Worker};
use crate::exit::StartError;

/// The program a language's workers run, with its arguments; writes the adapter first.
pub fn worker_command(
    language: &Language,
    cache: &Path,
    folder: &Path,
    entry: &Path,
    handler: &str,
    binary: PathBuf,
) -> Result<Vec<OsString>, StartError> {
    let (name, text) = language.adapter;
    let adapter = write_if_changed(&cache.join("adapters").join(name), &text(entry, handler))?;
    Ok((language.worker)(&Worker {
        binary,
        adapter,
        folder,
        entry,
    }))
}

/// Writes `text` to `path` unless it already holds exactly that (a read-only image layer or a
/// warm restart then costs one read).
fn write_if_changed(path: &Path, text: &str) -> Result<PathBuf, StartError> {
    if std::fs::read(path).is_ok_and(|current| current == text.as_bytes()) {
        return Ok(path.to_path_buf());
    }
    let unwritable = |error: std::io::Error| {
        StartError::Config(vec![crate::config::ConfigError {
            key: "CACHE_DIR".into(),
            value: path
                .parent()
                .and_then(Path::parent)
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            reason: format!("fnshim cannot write its adapters there: {error}"),
        }])
    };
    std::fs::create_dir_all(path.parent().unwrap_or(path)).map_err(unwritable)?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, text).map_err(unwritable)?;
    std::fs::rename(&temporary, path).map_err(unwritable)?;
    Ok(path.to_path_buf())
}

/// Looks a program up on PATH, as a shell would.
pub fn find_on_path(name: &str, search_path: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    search_path?
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::runtime::languages;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn adapters_are_written_once_and_commands_built() {
        let cache = tempfile::tempdir().unwrap();
        let entry = Path::new("/fn/main.py");
        let argv = worker_command(
            &languages::PYTHON,
            cache.path(),
            Path::new("/fn"),
            entry,
            "handler",
            "python3".into(),
        )
        .unwrap();
        assert_eq!(argv[..2], [OsString::from("python3"), OsString::from("-u")]);
        let adapter = PathBuf::from(&argv[2]);
        assert_eq!(
            std::fs::read_to_string(&adapter).unwrap(),
            (languages::PYTHON.adapter.1)(entry, "handler")
        );
        let deno = worker_command(
            &languages::DENO,
            cache.path(),
            Path::new("/fn"),
            entry,
            "handler",
            "deno".into(),
        )
        .unwrap();
        assert_eq!(deno[1], "run");
        let function = tempfile::tempdir().unwrap();
        std::fs::write(function.path().join("deno.json"), "{}").unwrap();
        let configured = worker_command(
            &languages::DENO,
            cache.path(),
            function.path(),
            entry,
            "handler",
            "deno".into(),
        )
        .unwrap();
        let flag = format!("--config={}", function.path().join("deno.json").display());
        assert!(configured.contains(&OsString::from(flag)), "{configured:?}");
    }

    #[test]
    fn path_lookup_finds_executables_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tool"), "").unwrap();
        let path = dir.path().to_str().unwrap().to_owned();
        assert_eq!(find_on_path("tool", Some(&path)), None);
        std::fs::set_permissions(
            dir.path().join("tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_eq!(
            find_on_path("tool", Some(&path)),
            Some(dir.path().join("tool"))
        );
        assert_eq!(find_on_path("tool", None), None);
    }
}
