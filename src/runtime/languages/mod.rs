//! The language table: everything fnshim knows about a handler language (its binary, entry
//! files, extensions, adapter, worker command line, dependency install and build), one entry per
//! language. Detection, adapters, installs and the supervisor read it instead of matching on the
//! language; adding a language is one entry here and one adapter file in `languages/`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::config::{Config, Runtime};
use crate::exit::StartError;

mod dart;
mod js;
mod python;

pub use dart::DART;
pub use js::{DENO, NODE};
pub use python::PYTHON;

/// Every language, in the order a `file.export` handler's extensions are tried (f.yml,
/// FUNCTION_HANDLER).
pub const LANGUAGES: [&Language; 4] = [&NODE, &DENO, &PYTHON, &DART];

/// The same languages in the order their entry files are looked for (SPEC §2: a Dart package
/// wins over JS it may have generated).
const ENTRY_ORDER: [&Language; 4] = [&DART, &NODE, &DENO, &PYTHON];

/// One handler language.
pub struct Language {
    pub runtime: Runtime,
    /// The runtime's executable, looked up on PATH.
    pub binary: &'static str,
    /// Entry files (relative to FUNCTION_PATH) detected when FUNCTION_ENTRY is unset.
    pub entries: &'static [&'static str],
    /// Extensions of its sources: the entry's extension picks the language.
    pub extensions: &'static [&'static str],
    /// Claims its extensions only when its binary is installed, and then before the others
    /// (Deno for `.ts`).
    pub preferred_when_installed: bool,
    /// One invocation at a time per process: a worker per CPU, concurrency 1 by default.
    pub one_at_a_time: bool,
    /// The adapter's file name in CACHE_DIR/adapters and its text for one function.
    pub adapter: (&'static str, fn(entry: &Path, handler: &str) -> String),
    /// The worker's command line, given the written adapter.
    pub worker: fn(&Worker) -> Vec<OsString>,
    /// Folders the runtime or its installer create in the function folder: never copied from
    /// the function, and kept in a copy when the installer installs into the folder.
    pub generated: &'static [&'static str],
    /// A check of the configuration against the installed runtime before anything starts.
    pub check: Option<Check>,
    /// Protocol variables of this language only, from the configuration.
    pub worker_env: fn(&Config) -> Vec<(String, String)>,
    pub install: Option<Installer>,
    /// DART_AOT's build of the worker into an executable.
    pub aot: Option<Aot>,
}

/// A check of the configuration against the runtime's binary.
pub type Check = fn(&Config, binary: &Path) -> Result<(), StartError>;

/// An install's command line and environment.
pub type InstallLine = (Vec<OsString>, Vec<(&'static str, String)>);

/// What a worker command line is built from.
pub struct Worker<'a> {
    pub binary: PathBuf,
    pub adapter: PathBuf,
    pub folder: &'a Path,
    pub entry: &'a Path,
}

/// A dependency installer.
pub struct Installer {
    /// The files that make it install; the first one found names the install in the log.
    pub manifests: &'static [&'static str],
    /// Files of the function folder hashed into the stamp (with the binaries and the mirror).
    pub stamp_files: &'static [&'static str],
    /// The installing program on PATH; `None`: the runtime's own binary.
    pub program: Option<&'static str>,
    /// The step's name in the log and in `/_/ready`.
    pub what: &'static str,
    pub place: Place,
    /// The mirror setting it honours (NPM_MIRROR, …).
    pub mirror: fn(&Config) -> Option<&str>,
    /// The command line and environment of the install.
    pub command: fn(&InstallCommand) -> InstallLine,
    /// Of the install's environment, what the workers need too (the caches it filled).
    pub shared_env: &'static [&'static str],
    /// Whether the function folder already holds the installed packages (baked into an image
    /// at build time, as Lambda wants: its folder is read-only and cold starts are short).
    pub baked: fn(&Path) -> bool,
}

/// Where an installer puts the packages.
pub enum Place {
    /// Into the function folder (a read-only one is copied first). The stamp is a file there,
    /// or with `None` one in CACHE_DIR/stamps named after the runtime and the folder.
    Folder {
        stamp: Option<&'static str>,
        /// INSTALL_DEPS=always removes the generated folders first (the installer would
        /// otherwise trust its own record of what they hold).
        clean_on_always: bool,
    },
    /// Into CACHE_DIR/`folder`/<stamp>, named to the workers by the variable `env`.
    Cache {
        folder: &'static str,
        env: &'static str,
    },
}

/// What an install command line is built from.
pub struct InstallCommand<'a> {
    pub program: PathBuf,
    pub folder: &'a Path,
    /// The manifest found, in `folder`.
    pub manifest: &'a Path,
    /// Where the packages go with [`Place::Cache`].
    pub into: Option<&'a Path>,
    pub mirror: Option<&'a str>,
    /// A folder of CACHE_DIR for the installer's own cache.
    pub cache: &'a dyn Fn(&str) -> String,
}

/// A build of the worker into one executable, cached by a hash of the function's sources.
pub struct Aot {
    /// The language as the log names its build.
    pub name: &'static str,
    /// The step's name in the log; `announce` the one in `/_/ready`.
    pub what: &'static str,
    pub announce: &'static str,
    /// Files besides those with the language's extensions that change the build.
    pub inputs: &'static [&'static str],
    /// The build's command line from the worker's, writing `output`.
    pub command: fn(worker: &[OsString], output: &Path) -> Option<Vec<OsString>>,
}

/// The table's entry for a runtime; `None` for custom functions (no language).
pub fn of(runtime: Runtime) -> Option<&'static Language> {
    LANGUAGES.into_iter().find(|l| l.runtime == runtime)
}

/// Entry files looked for, in order, after `bootstrap`.
pub fn entry_candidates() -> impl Iterator<Item = &'static str> {
    ENTRY_ORDER
        .into_iter()
        .flat_map(|l| l.entries.iter().copied())
}

/// Extensions a `file.export` handler may name, in the order they are tried.
pub fn handler_extensions() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = Vec::new();
    for ext in LANGUAGES.into_iter().flat_map(|l| l.extensions.iter()) {
        if !all.contains(ext) {
            all.push(ext);
        }
    }
    all
}

/// The language of a source file's extension: one preferred when installed if its binary is
/// (`installed` says so), else the first that claims the extension.
pub fn by_extension(ext: &str, installed: impl Fn(&str) -> bool) -> Option<&'static Language> {
    let claiming = || {
        LANGUAGES
            .into_iter()
            .filter(|l| l.extensions.contains(&ext))
    };
    claiming()
        .find(|l| l.preferred_when_installed && installed(l.binary))
        .or_else(|| claiming().find(|l| !l.preferred_when_installed))
}

/// Folders no copy of a function takes from it (generated ones, and git's).
pub fn not_copied() -> impl Iterator<Item = &'static str> {
    LANGUAGES
        .into_iter()
        .flat_map(|l| l.generated.iter().copied())
        .chain([".git"])
}

/// Folders a copy of a function keeps from one start to the next: what in-folder installers
/// created there.
pub fn kept_in_copies() -> impl Iterator<Item = &'static str> {
    LANGUAGES
        .into_iter()
        .filter(|l| {
            l.install
                .as_ref()
                .is_some_and(|i| matches!(i.place, Place::Folder { .. }))
        })
        .flat_map(|l| l.generated.iter().copied())
}

/// Every file or folder name of the table, for the check that no other module knows them.
#[cfg(test)]
fn file_names() -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for l in LANGUAGES {
        names.extend(l.entries.iter().map(|s| s.to_string()));
        names.extend(l.extensions.iter().map(|e| format!(".{e}")));
        names.extend(l.generated.iter().map(|s| s.to_string()));
        names.push(l.adapter.0.into());
        if let Some(install) = &l.install {
            names.extend(install.manifests.iter().map(|s| s.to_string()));
            names.extend(install.stamp_files.iter().map(|s| s.to_string()));
        }
        if let Some(aot) = &l.aot {
            names.extend(aot.inputs.iter().map(|s| s.to_string()));
        }
    }
    names.extend(js::DENO_CONFIGS.iter().map(|s| s.to_string()));
    names.extend(js::NPM_LOCKS.iter().map(|s| s.to_string()));
    names.push(dart::PACKAGE_CONFIG.into());
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_is_in_both_orders_once() {
        for list in [LANGUAGES, ENTRY_ORDER] {
            for language in LANGUAGES {
                let times = list
                    .iter()
                    .filter(|l| l.runtime == language.runtime)
                    .count();
                assert_eq!(times, 1, "{:?}", language.runtime);
            }
        }
        assert!(of(Runtime::Custom).is_none());
    }

    #[test]
    fn the_orders_are_the_documented_ones() {
        assert_eq!(
            entry_candidates().collect::<Vec<_>>().join(" "),
            "main.dart bin/main.dart index.js index.mjs index.cjs index.ts main.ts main.py handler.py index.py"
        );
        assert_eq!(handler_extensions().join(" "), "js mjs cjs ts py dart");
        let no_deno = |_: &str| false;
        assert_eq!(by_extension("ts", no_deno).unwrap().runtime, Runtime::Node);
        assert_eq!(
            by_extension("ts", |b| b == "deno").unwrap().runtime,
            Runtime::Deno
        );
        assert_eq!(
            by_extension("mjs", |_| true).unwrap().runtime,
            Runtime::Node
        );
        assert!(by_extension("sh", |_| true).is_none());
    }

    /// CI's "no file names of languages outside runtime": no file of `src/` outside
    /// `src/runtime/` names an entry, extension, manifest, lock file or adapter of the table.
    #[test]
    fn no_file_names_of_languages_outside_runtime() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let names = file_names();
        let mut found = Vec::new();
        let mut pending = vec![src.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path == src.join("runtime") {
                    continue;
                }
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for name in names.iter().filter(|name| mentions(&text, name)) {
                    found.push(format!("{}: {name}", path.display()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "only runtime knows these:\n{}",
            found.join("\n")
        );
    }

    /// Whether `text` holds `name`; an extension (`.js`) only as a whole word (not `.json`).
    fn mentions(text: &str, name: &str) -> bool {
        if !name.starts_with('.') || name.contains('_') {
            return text.contains(name);
        }
        text.match_indices(name).any(|(at, _)| {
            let next = text[at + name.len()..].chars().next();
            !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    }

    #[test]
    fn the_scan_sees_extensions_as_words() {
        assert!(mentions("a file.js here", ".js"));
        assert!(!mentions("serde_json and x.json", ".js"));
        assert!(mentions("in .dart_tool", ".dart_tool"));
    }
}
