//! Dart: a program generated from `languages/dart/worker.dart.tmpl` that imports the user's
//! library, `dart pub get`, the DART_VERSION check and DART_AOT's `dart compile exe`.

use std::ffi::OsString;
use std::path::Path;

use super::{Aot, Installer, Language, Place, Worker};
use crate::config::{Config, Runtime};
use crate::exit::StartError;

const TEMPLATE: &str = include_str!("../../../languages/dart/worker.dart.tmpl");

/// The package's resolved dependencies, relative to the entry's folder.
pub(super) const PACKAGE_CONFIG: &str = ".dart_tool/package_config.json";

pub const DART: Language = Language {
    runtime: Runtime::Dart,
    binary: "dart",
    entries: &["main.dart", "bin/main.dart"],
    extensions: &["dart"],
    preferred_when_installed: false,
    one_at_a_time: false,
    adapter: ("worker.dart", program),
    worker,
    generated: &[".dart_tool"],
    check: Some(check_version),
    worker_env: |config| {
        let version = config.dart_version.clone().unwrap_or_default();
        vec![("FNSHIM_DART_VERSION".into(), version)]
    },
    install: Some(Installer {
        manifests: &["pubspec.yaml"],
        stamp_files: &["pubspec.yaml", "pubspec.lock"],
        program: None,
        what: "dart pub get",
        place: Place::Folder {
            stamp: Some(".dart_tool/.fnshim-stamp"),
            clean_on_always: false,
        },
        mirror: |config| config.pub_mirror.as_deref(),
        command: |c| {
            let argv = vec![c.program.clone().into(), "pub".into(), "get".into()];
            let mut env = vec![("PUB_CACHE", (c.cache)("pub-cache"))];
            env.extend(c.mirror.map(|url| ("PUB_HOSTED_URL", url.to_owned())));
            (argv, env)
        },
        shared_env: &["PUB_CACHE"],
        baked: |folder| folder.join(".dart_tool").is_dir(),
    }),
    aot: Some(Aot {
        name: "Dart",
        what: "building the Dart worker (DART_AOT)",
        announce: "building the Dart worker (dart compile exe)",
        inputs: &["pubspec.lock"],
        command: compile,
    }),
};

/// The generated Dart worker: the template with the user's library, handler and shutdown
/// hook filled in.
fn program(entry: &Path, handler: &str) -> String {
    let source = std::fs::read_to_string(entry).unwrap_or_default();
    let shutdown = match declares_shutdown(&source) {
        true => "fn.shutdown",
        false => "null",
    };
    TEMPLATE
        .replace("{{ENTRY_URI}}", &format!("file://{}", entry.display()))
        .replace("{{HANDLER}}", handler)
        .replace("{{SHUTDOWN}}", shutdown)
}

/// Whether a library declares a top-level `shutdown` function (`Future<void> shutdown() async`,
/// `void shutdown()`, `shutdown()`): Dart cannot look an optional function up at run time, so
/// the generated program names it only when it is there.
fn declares_shutdown(source: &str) -> bool {
    source.lines().any(|line| {
        let Some(at) = line.find("shutdown(").or_else(|| line.find("shutdown (")) else {
            return false;
        };
        let before = &line[..at];
        let typed = before.is_empty() || before.ends_with(' ');
        let only_a_type = before
            .chars()
            .all(|c| c.is_alphanumeric() || " <>?,_".contains(c));
        !line.starts_with(char::is_whitespace) && typed && only_a_type
    })
}

fn worker(w: &Worker) -> Vec<OsString> {
    let mut argv = vec![w.binary.clone().into(), "run".into()];
    // The generated program lives outside the function's package: point it at the package's
    // resolved dependencies so that the user's `package:` imports work.
    let packages = w.entry.parent().map(|dir| dir.join(PACKAGE_CONFIG));
    if let Some(packages) = packages.filter(|p| p.is_file()) {
        argv.push(format!("--packages={}", packages.display()).into());
    }
    argv.push(w.adapter.clone().into());
    argv
}

/// `dart compile exe` of the program `dart run` would run, with the same `--packages`.
fn compile(worker: &[OsString], output: &Path) -> Option<Vec<OsString>> {
    let (dart, source) = (worker.first()?, worker.last()?);
    let mut argv: Vec<OsString> = vec![dart.clone(), "compile".into(), "exe".into()];
    argv.extend(
        worker
            .iter()
            .filter(|a| a.to_string_lossy().starts_with("--packages="))
            .cloned(),
    );
    argv.extend([source.clone(), "-o".into(), output.into()]);
    Some(argv)
}

/// DART_VERSION against the SDK's `version` file (`<sdk>/bin/dart` beside `<sdk>/version`),
/// before any `pub get`: `3.5` accepts 3.5.x. An SDK without that file is left to the worker's
/// own check, which compares with `Platform.version`.
fn check_version(config: &Config, binary: &Path) -> Result<(), StartError> {
    let Some(expected) = &config.dart_version else {
        return Ok(());
    };
    let sdk = std::fs::canonicalize(binary)
        .ok()
        .and_then(|dart| Some(dart.parent()?.parent()?.to_path_buf()));
    let Some(sdk) = sdk else { return Ok(()) };
    let Ok(actual) = std::fs::read_to_string(sdk.join("version")) else {
        return Ok(());
    };
    let actual = actual.trim();
    if actual == expected || actual.starts_with(&format!("{expected}.")) {
        return Ok(());
    }
    Err(StartError::Load(format!(
        "DART_VERSION is {expected} but the Dart SDK in {} is {actual}: run the image dartserverless/runtime:{expected}, or unset DART_VERSION",
        sdk.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dart_program_imports_the_users_library() {
        let program = program(Path::new("/app/function/main.dart"), "handler");
        assert!(
            program.contains("import 'file:///app/function/main.dart' as fn;"),
            "{program}"
        );
        assert!(program.contains("fn.handler;"));
        assert!(program.contains("_shutdown = null;"));
        assert!(!program.contains("{{"));
    }

    #[test]
    fn a_top_level_shutdown_function_is_found() {
        assert!(declares_shutdown("Future<void> shutdown() async {\n}"));
        assert!(declares_shutdown("void shutdown() {}"));
        assert!(declares_shutdown("shutdown() => print('bye');"));
        assert!(!declares_shutdown("  void shutdown() {} // a method"));
        assert!(!declares_shutdown("final x = server.shutdown();"));
        assert!(!declares_shutdown("Object? handler(e, c) => e;"));
    }
}
