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
    worker: node_worker,
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

/// `node worker.cjs`, with `--experimental-strip-types` for a TypeScript entry on a Node that
/// has type stripping behind that flag (22.6 to 22.17, 23.0 to 23.5; it is on by default from
/// 22.18 and 23.6). On an older Node the adapter answers `UnsupportedRuntime`.
fn node_worker(w: &Worker) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![w.binary.clone().into()];
    let typescript = w
        .entry
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "ts" | "mts" | "cts"));
    if typescript && node_version(&w.binary).is_some_and(strips_types_with_the_flag) {
        argv.push("--experimental-strip-types".into());
    }
    argv.push(w.adapter.clone().into());
    argv
}

/// Whether this Node version strips types only when asked to.
fn strips_types_with_the_flag((major, minor): (u32, u32)) -> bool {
    matches!((major, minor), (22, 6..=17) | (23, 0..=5))
}

/// The installed Node's `major.minor`, from `node --version` (run once per start, and only
/// for a TypeScript entry, before any worker or the reaper runs).
fn node_version(binary: &std::path::Path) -> Option<(u32, u32)> {
    let out = std::process::Command::new(binary)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    parse_node_version(std::str::from_utf8(&out.stdout).ok()?)
}

/// `v22.12.0` → (22, 12).
fn parse_node_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().strip_prefix('v')?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

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
    fn type_stripping_takes_the_flag_only_where_it_is_needed() {
        assert_eq!(parse_node_version("v22.6.0\n"), Some((22, 6)));
        assert_eq!(parse_node_version("24.1"), None);
        let needs = |v: &str| parse_node_version(v).is_some_and(strips_types_with_the_flag);
        assert!(needs("v22.6.0") && needs("v22.17.1") && needs("v23.5.0"));
        for v in ["v20.20.2", "v22.5.1", "v22.18.0", "v23.6.0", "v24.22.3"] {
            assert!(!needs(v), "{v}");
        }
    }

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
