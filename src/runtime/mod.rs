//! Decides what to run from the configuration and the function folder: a plain init, a proxied
//! command, a custom `bootstrap`, or warm workers of a language runtime calling a handler.
//!
//! Architecture invariant: this is the only module that knows file names and languages; the
//! supervisor receives a ready-made [`Launch`].

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use std::time::Duration;

use crate::config::fyml::{Router, Timer};
use crate::config::{Config, ConfigError, Runtime};
use crate::exit::StartError;

mod adapters;
mod azure;
mod detect;
pub mod languages;
mod targets;

pub use azure::azure_layout;

use detect::{entry_file, runtime_of, BOOTSTRAP};
pub use targets::refresh_argv;
use targets::{from_descriptor, handlers, service, Origin};

/// What the supervisor starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// `fnshim -- CMD` without PORT: a transparent init.
    Init { argv: Vec<OsString> },
    /// A server started on a private port and reverse-proxied.
    Proxy(ProxyTarget),
    /// Warm workers of a language runtime, each running an adapter that calls the handler.
    Handlers(Service),
}

/// The handler functions one fnshim serves: one from the environment, or those of an `f.yml`
/// with its routes and timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub functions: Vec<HandlerTarget>,
    /// `None`: the only function serves every path.
    pub router: Option<Router>,
    /// f.yml timers that are enabled, with the index of their function.
    pub timers: Vec<(usize, Timer)>,
}

impl Service {
    fn single(target: HandlerTarget) -> Service {
        Service {
            functions: vec![target],
            router: None,
            timers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerTarget {
    /// The function's name in the context (FUNCTION_NAME, the f.yml key, or the folder's name).
    pub name: String,
    pub runtime: Runtime,
    /// The language runtime's executable (`node`, `python3`, …), as found on PATH.
    pub binary: PathBuf,
    pub argv: Vec<OsString>,
    /// Extra environment for the workers: f.yml's `environment`, installed dependencies'
    /// locations.
    pub env: Vec<(String, String)>,
    /// The language's own protocol variables (FNSHIM_DART_VERSION), set after the others.
    pub protocol_env: Vec<(String, String)>,
    pub folder: PathBuf,
    pub entry: PathBuf,
    pub handler: String,
    /// The export each worker runs once before its first invocation, when the entry has it.
    pub initializer: String,
    pub workers: usize,
    pub concurrency: usize,
    pub timeout: Duration,
    pub init_timeout: Duration,
    /// MEMORY_SIZE or f.yml's `memorySize`, for the context (the cgroup limit when unset).
    pub memory_mb: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    pub argv: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    /// Custom mode logs the bootstrap's output; command mode passes stdio straight through.
    pub capture_output: bool,
    /// Command mode exits with the child's code; custom mode with 0 after a clean stop.
    pub command_mode: bool,
}

pub fn resolve(config: &Config) -> Result<Launch, StartError> {
    if let Some(argv) = &config.command {
        return Ok(match config.port {
            None => Launch::Init { argv: argv.clone() },
            Some(_) => Launch::Proxy(ProxyTarget {
                argv: argv.clone(),
                cwd: None,
                capture_output: false,
                command_mode: true,
            }),
        });
    }
    let folder = function_folder(config.function_path.as_deref())?;
    let descriptor = folder.join("f.yml");
    let descriptor = descriptor.is_file().then_some(descriptor);
    if let Some(descriptor) = &descriptor {
        if config.function_entry.is_none() && !folder.join(BOOTSTRAP).is_file() {
            return from_descriptor(config, descriptor, folder);
        }
    }
    let azure = matches!(config.platform, crate::config::Platform::Azure { .. });
    if azure && config.function_entry.is_none() && !folder.join(BOOTSTRAP).is_file() {
        if let Some(defs) = azure::functions(config, &folder)? {
            return service(config, &defs, folder, Origin::Azure);
        }
    }
    let entry = entry_file(config, &folder)?;
    if descriptor.is_some() {
        tracing::warn!(
            entry = %entry.display(),
            "f.yml is not used: FUNCTION_ENTRY or a bootstrap names the one function to run"
        );
    }
    match runtime_of(config, &entry) {
        Runtime::Custom => custom(entry, folder),
        runtime => {
            handlers(config, runtime, entry, folder).map(|t| Launch::Handlers(Service::single(t)))
        }
    }
}

/// A program on PATH (as a shell finds it).
pub fn find_program(name: &str, search_path: Option<&str>) -> Option<PathBuf> {
    adapters::find_on_path(name, search_path)
}

/// The function's name when FUNCTION_NAME is unset: its folder's name.
pub fn folder_name(folder: &Path) -> String {
    folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "function".into())
}

/// The container's memory limit in MB, from cgroup v2 or v1; `None` when unlimited.
pub fn memory_limit_mb() -> Option<u64> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|file| {
        std::fs::read_to_string(file)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    })
    .filter(|bytes| *bytes < 1 << 50)
    .map(|bytes| bytes >> 20)
}

/// FUNCTION_PATH as an absolute folder, or why it cannot be one.
pub(crate) fn function_folder(path: Option<&Path>) -> Result<PathBuf, StartError> {
    let bad = |value: String, reason: &str| {
        StartError::Config(vec![ConfigError {
            key: "FUNCTION_PATH".into(),
            value,
            reason: reason.into(),
        }])
    };
    let Some(path) = path else {
        return Err(bad(
            String::new(),
            "is required (the folder holding the function), unless a command follows `--`",
        ));
    };
    let shown = path.display().to_string();
    match std::fs::metadata(path) {
        // Absolute, because the bootstrap runs with this folder as its working directory.
        Ok(meta) if meta.is_dir() => {
            Ok(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
        }
        Ok(_) => Err(bad(shown, "is not a directory")),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(bad(
            shown,
            "does not exist: mount the function's folder there (docker run -v \"$PWD/my-function:/app/function:ro\" …) or set FUNCTION_PATH to an existing folder",
        )),
        Err(error) => Err(bad(shown, &format!("cannot be read: {error}"))),
    }
}

fn custom(entry: PathBuf, folder: PathBuf) -> Result<Launch, StartError> {
    let mode = std::fs::metadata(&entry)
        .map(|m| m.permissions().mode())
        .unwrap_or(0);
    if mode & 0o111 == 0 {
        return Err(StartError::Load(format!(
            "{} is not executable (run `chmod +x` on it)",
            entry.display()
        )));
    }
    Ok(Launch::Proxy(ProxyTarget {
        argv: vec![entry.into_os_string()],
        cwd: Some(folder),
        capture_output: true,
        command_mode: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)], command: Option<Vec<OsString>>) -> Config {
        let env = crate::config::test_env(pairs);
        Config::from_env(&env, command).unwrap()
    }

    fn write(dir: &Path, name: &str, mode: u32) {
        std::fs::write(dir.join(name), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_command_is_an_init_without_port_and_a_proxy_with_it() {
        let argv = Some(vec![OsString::from("sh")]);
        assert!(matches!(
            resolve(&config(&[], argv.clone())),
            Ok(Launch::Init { .. })
        ));
        let proxied = resolve(&config(&[("PORT", "0")], argv)).unwrap();
        assert!(matches!(
            proxied,
            Launch::Proxy(ProxyTarget {
                command_mode: true,
                ..
            })
        ));
    }

    #[test]
    fn an_executable_bootstrap_is_custom_mode() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bootstrap", 0o755);
        let path = dir.path().to_str().unwrap();
        let Launch::Proxy(target) = resolve(&config(&[("FUNCTION_PATH", path)], None)).unwrap()
        else {
            panic!("expected a proxy")
        };
        assert_eq!(target.cwd, Some(dir.path().canonicalize().unwrap()));
        assert!(target.capture_output && !target.command_mode);
    }

    #[test]
    fn folder_and_entry_errors_have_their_codes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap();
        assert_eq!(resolve(&config(&[], None)).unwrap_err().exit_code(), 64);
        assert_eq!(
            resolve(&config(&[("FUNCTION_PATH", "/nonexistent")], None))
                .unwrap_err()
                .exit_code(),
            64
        );
        assert_eq!(
            resolve(&config(&[("FUNCTION_PATH", "/etc/hostname")], None))
                .unwrap_err()
                .exit_code(),
            64
        );
        assert_eq!(
            resolve(&config(&[("FUNCTION_PATH", path)], None))
                .unwrap_err()
                .exit_code(),
            65
        );
        write(dir.path(), "bootstrap", 0o644);
        let error = resolve(&config(&[("FUNCTION_PATH", path)], None)).unwrap_err();
        assert_eq!(error.exit_code(), 65);
        assert!(error.to_string().contains("chmod +x"));
    }

    #[test]
    fn handler_entries_are_detected_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write(dir.path(), "index.js", 0o644);
        let bin = tempfile::tempdir().unwrap();
        let (path, bins, cache_dir) = (
            dir.path().to_str().unwrap(),
            bin.path().to_str().unwrap(),
            cache.path().to_str().unwrap(),
        );
        let base = [
            ("FUNCTION_PATH", path),
            ("CACHE_DIR", cache_dir),
            ("PATH", bins),
        ];
        let error = resolve(&config(&base, None)).unwrap_err();
        assert_eq!(error.exit_code(), 69);
        assert!(error.to_string().contains("node"), "{error}");
        write(bin.path(), "node", 0o755);
        let Launch::Handlers(service) = resolve(&config(&base, None)).unwrap() else {
            panic!("expected handlers")
        };
        let target = &service.functions[0];
        assert_eq!(
            (target.runtime, target.workers, target.concurrency),
            (Runtime::Node, 1, 64)
        );
        let mut with_entry = base.to_vec();
        with_entry.push(("FUNCTION_ENTRY", "nope.py"));
        assert_eq!(
            resolve(&config(&with_entry, None)).unwrap_err().exit_code(),
            65
        );
    }

    #[test]
    fn a_file_dot_export_handler_names_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write(dir.path(), "index.js", 0o644);
        write(dir.path(), "app.py", 0o644);
        write(bin.path(), "python3", 0o755);
        let (path, bins, cache_dir) = (
            dir.path().to_str().unwrap(),
            bin.path().to_str().unwrap(),
            cache.path().to_str().unwrap(),
        );
        let env = |handler| {
            [
                ("FUNCTION_PATH", path),
                ("CACHE_DIR", cache_dir),
                ("PATH", bins),
                ("FUNCTION_HANDLER", handler),
            ]
        };
        let Launch::Handlers(service) = resolve(&config(&env("app.lambda_handler"), None)).unwrap()
        else {
            panic!("expected handlers")
        };
        let target = &service.functions[0];
        assert_eq!(
            target.entry,
            dir.path().canonicalize().unwrap().join("app.py")
        );
        assert_eq!(
            (target.runtime, target.handler.as_str()),
            (Runtime::Python, "lambda_handler")
        );
        let missing = resolve(&config(&env("nope.handler"), None)).unwrap_err();
        assert_eq!(missing.exit_code(), 65);
        assert!(missing.to_string().contains("nope.{js"), "{missing}");
    }
}
