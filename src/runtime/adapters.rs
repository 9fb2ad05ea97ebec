//! The language adapters (`languages/`), embedded in the binary, written to the cache folder at
//! start, and the command line that runs each one as a warm worker.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::config::Runtime;
use crate::exit::StartError;

/// The JS adapter, run as it is by both: written as `worker.cjs` for Node and `worker.mjs` for
/// Deno, so that each loads it the way it starts fastest (it has no `import` or `export`).
const JS: &str = include_str!("../../languages/js/worker.js");
const PYTHON: &str = include_str!("../../languages/python/worker.py");
const DART_TEMPLATE: &str = include_str!("../../languages/dart/worker.dart.tmpl");

/// The program a runtime's workers run, with its arguments.
pub fn worker_command(
    runtime: Runtime,
    cache: &Path,
    folder: &Path,
    entry: &Path,
    handler: &str,
    binary: PathBuf,
) -> Result<Vec<OsString>, StartError> {
    let adapters = cache.join("adapters");
    let file = |name: &str, text: &str| write_if_changed(&adapters.join(name), text);
    Ok(match runtime {
        Runtime::Node => vec![binary.into(), file("worker.cjs", JS)?.into()],
        Runtime::Deno => {
            let flags = ["run", "--allow-all", "--no-prompt", "--unstable-detect-cjs"];
            let mut argv: Vec<OsString> = vec![binary.into()];
            argv.extend(flags.map(OsString::from));
            // Deno looks for its configuration beside the main module, which is the adapter:
            // name the function's own deno.json so that its imports map applies.
            let config = ["deno.json", "deno.jsonc"]
                .iter()
                .map(|name| folder.join(name))
                .find(|p| p.is_file());
            if let Some(config) = config {
                argv.push(format!("--config={}", config.display()).into());
            }
            argv.push(file("worker.mjs", JS)?.into());
            argv
        }
        Runtime::Python => vec![
            binary.into(),
            "-u".into(),
            file("worker.py", PYTHON)?.into(),
        ],
        Runtime::Dart => {
            let program = dart_program(entry, handler);
            let mut argv = vec![binary.into(), "run".into()];
            // The generated program lives outside the function's package: point it at the
            // package's resolved dependencies so that the user's `package:` imports work.
            let packages = entry
                .parent()
                .map(|dir| dir.join(".dart_tool/package_config.json"));
            if let Some(packages) = packages.filter(|p| p.is_file()) {
                argv.push(format!("--packages={}", packages.display()).into());
            }
            argv.push(file("worker.dart", &program)?.into());
            argv
        }
        Runtime::Custom => unreachable!("custom functions are proxied, not run by an adapter"),
    })
}

/// The generated Dart worker: the template with the user's library and handler filled in.
fn dart_program(entry: &Path, handler: &str) -> String {
    DART_TEMPLATE
        .replace("{{ENTRY_URI}}", &format!("file://{}", entry.display()))
        .replace("{{HANDLER}}", handler)
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

/// The executable's name for each runtime.
pub fn binary_name(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Node => "node",
        Runtime::Deno => "deno",
        Runtime::Python => "python3",
        Runtime::Dart => "dart",
        Runtime::Custom => "bootstrap",
    }
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

    #[test]
    fn node_and_deno_run_the_same_adapter_text() {
        let cache = tempfile::tempdir().unwrap();
        let adapter = |runtime, binary: &str| {
            let entry = Path::new("/fn/index.js");
            let folder = Path::new("/fn");
            let argv = worker_command(
                runtime,
                cache.path(),
                folder,
                entry,
                "handler",
                binary.into(),
            );
            PathBuf::from(argv.unwrap().last().unwrap())
        };
        let (node, deno) = (
            adapter(Runtime::Node, "node"),
            adapter(Runtime::Deno, "deno"),
        );
        assert_eq!(node.extension(), Some("cjs".as_ref()));
        assert_eq!(deno.extension(), Some("mjs".as_ref()));
        for written in [node, deno] {
            assert_eq!(std::fs::read_to_string(&written).unwrap(), JS);
        }
        let module_syntax = |l: &str| l.starts_with("import ") || l.starts_with("export ");
        assert!(
            !JS.lines().any(module_syntax),
            "the adapter must stay both CommonJS and ESM"
        );
    }

    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn adapters_are_written_once_and_commands_built() {
        let cache = tempfile::tempdir().unwrap();
        let entry = Path::new("/fn/main.py");
        let argv = worker_command(
            Runtime::Python,
            cache.path(),
            Path::new("/fn"),
            entry,
            "handler",
            "python3".into(),
        )
        .unwrap();
        assert_eq!(argv[..2], [OsString::from("python3"), OsString::from("-u")]);
        let adapter = PathBuf::from(&argv[2]);
        assert_eq!(std::fs::read_to_string(&adapter).unwrap(), PYTHON);
        let deno = worker_command(
            Runtime::Deno,
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
            Runtime::Deno,
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
    fn the_dart_program_imports_the_users_library() {
        let program = dart_program(Path::new("/app/function/main.dart"), "handler");
        assert!(
            program.contains("import 'file:///app/function/main.dart' as fn;"),
            "{program}"
        );
        assert!(program.contains("fn.handler;"));
        assert!(!program.contains("{{"));
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
