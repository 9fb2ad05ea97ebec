//! Node and Deno: one JS adapter (`languages/js/worker.js`, no `import` or `export`, run as it
//! is: `worker.cjs` for Node, `worker.mjs` for Deno, each the way it starts fastest), npm and
//! `deno install`.

use std::ffi::OsString;

use super::{InstallCommand, InstallLine, Installer, Language, Place, Worker};
use crate::config::Runtime;

const JS: &str = include_str!("../../../languages/js/worker.js");

/// npm's lock files: with one, `npm ci` follows it.
pub(super) const NPM_LOCKS: [&str; 2] = ["package-lock.json", "npm-shrinkwrap.json"];

/// Deno's configuration files, which the workers are pointed at.
pub(super) const DENO_CONFIGS: [&str; 2] = ["deno.json", "deno.jsonc"];

pub const NODE: Language = Language {
    runtime: Runtime::Node,
    binary: "node",
    entries: &["index.js", "index.mjs", "index.cjs", "index.ts", "main.ts"],
    extensions: &["js", "mjs", "cjs", "ts"],
    preferred_when_installed: false,
    one_at_a_time: false,
    adapter: ("worker.cjs", |_, _| JS.to_owned()),
    worker: |w| vec![w.binary.clone().into(), w.adapter.clone().into()],
    generated: &["node_modules"],
    check: None,
    worker_env: |_| Vec::new(),
    install: Some(Installer {
        manifests: &["package.json"],
        stamp_files: &["package.json", NPM_LOCKS[0], NPM_LOCKS[1]],
        program: Some("npm"),
        what: "npm install",
        place: Place::Folder {
            stamp: Some("node_modules/.fnshim-stamp"),
            clean_on_always: true,
        },
        mirror: |config| config.npm_mirror.as_deref(),
        command: npm,
        shared_env: &[],
        baked: |folder| folder.join("node_modules").is_dir(),
    }),
    aot: None,
};

/// Deno runs the same adapter as an ES module; it takes `.ts` files when it is installed.
pub const DENO: Language = Language {
    runtime: Runtime::Deno,
    binary: "deno",
    entries: &[],
    extensions: &["ts"],
    preferred_when_installed: true,
    adapter: ("worker.mjs", |_, _| JS.to_owned()),
    worker: deno_worker,
    install: Some(Installer {
        manifests: &[DENO_CONFIGS[0], DENO_CONFIGS[1], "package.json"],
        // Not deno.lock: the worker updates it itself.
        stamp_files: &[DENO_CONFIGS[0], DENO_CONFIGS[1], "package.json"],
        program: None,
        what: "deno install",
        place: Place::Folder {
            stamp: None,
            clean_on_always: false,
        },
        mirror: |_| None,
        command: |c| {
            let argv = vec![c.program.clone().into(), "install".into()];
            (argv, vec![("DENO_DIR", (c.cache)("deno"))])
        },
        shared_env: &["DENO_DIR"],
        baked: |folder| folder.join("node_modules").is_dir(),
    }),
    ..NODE
};

fn deno_worker(w: &Worker) -> Vec<OsString> {
    let flags = ["run", "--allow-all", "--no-prompt", "--unstable-detect-cjs"];
    let mut argv: Vec<OsString> = vec![w.binary.clone().into()];
    argv.extend(flags.map(OsString::from));
    // Deno looks for its configuration beside the main module, which is the adapter: name the
    // function's own deno.json so that its imports map applies.
    let config = DENO_CONFIGS
        .iter()
        .map(|name| w.folder.join(name))
        .find(|p| p.is_file());
    if let Some(config) = config {
        argv.push(format!("--config={}", config.display()).into());
    }
    argv.push(w.adapter.clone().into());
    argv
}

fn npm(c: &InstallCommand) -> InstallLine {
    let locked = NPM_LOCKS.iter().any(|lock| c.folder.join(lock).is_file());
    // `npm ci` follows the user's lock file; without one, `npm install` must not write one
    // either: it would be stale (and make `npm ci` fail) once the user edits the manifest, and
    // the function folder is the user's.
    let verb: &[&str] = if locked {
        &["ci"]
    } else {
        &["install", "--no-package-lock"]
    };
    let mut argv: Vec<OsString> = vec![c.program.clone().into()];
    argv.extend(verb.iter().map(OsString::from));
    argv.extend(["--omit=dev", "--no-audit", "--no-fund", "--loglevel=warn"].map(OsString::from));
    if let Some(url) = c.mirror {
        argv.push(format!("--registry={url}").into());
    }
    let env = vec![
        ("npm_config_cache", (c.cache)("npm-cache")),
        ("npm_config_update_notifier", "false".into()),
    ];
    (argv, env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_and_deno_run_the_same_adapter_text() {
        let (node, deno) = (NODE.adapter, DENO.adapter);
        let (entry, handler) = (std::path::Path::new("/fn/index.js"), "handler");
        assert_eq!((node.0, deno.0), ("worker.cjs", "worker.mjs"));
        assert_eq!((node.1)(entry, handler), (deno.1)(entry, handler));
        let text = (node.1)(entry, handler);
        assert!(!text
            .lines()
            .any(|l| l.starts_with("import ") || l.starts_with("export ")));
    }
}
