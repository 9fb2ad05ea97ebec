//! Dependency install at start-up (SPEC §6): real npm, pip and deno against the real
//! registries, on functions written into temp folders; shared helpers live here.
//!
//! Each `App` keeps its function folder and its CACHE_DIR across starts, so that a test can
//! start the same function twice and see what the second start reuses.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::{fnshim, wait_for, Conn, Function, Request, Shim, ShimCmd};

mod deno;
mod failures;
mod modes;
mod node;
mod python;
mod readonly;

/// Registries can be slow: an install gets a minute before a test gives up on it.
const INSTALL: Duration = Duration::from_secs(60);
/// A start that fails must fail within an install's bound too.
const EXIT: Duration = Duration::from_secs(90);

/// The variables that tell npm, pip and Deno which certificate authorities to trust.
const TRUST: [&str; 7] = [
    "NODE_EXTRA_CA_CERTS",
    "DENO_CERT",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "HTTPS_PROXY",
];

/// A function folder and a private CACHE_DIR that outlive the shims started on them.
struct App {
    function: Function,
    cache: tempfile::TempDir,
}

impl App {
    fn new(files: &[(&str, &str)]) -> App {
        let app = App {
            function: Function::empty(),
            cache: tempfile::Builder::new()
                .prefix("fnshim-cache-")
                .tempdir()
                .unwrap(),
        };
        app.write(files);
        app
    }

    /// Writes (or overwrites) files, creating their folders.
    fn write(&self, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = self.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
    }

    fn path(&self) -> &Path {
        self.function.path()
    }

    fn cache(&self) -> &Path {
        self.cache.path()
    }

    fn cmd(&self, env: &[(&str, &str)]) -> ShimCmd {
        let mut cmd = fnshim()
            .function(&self.function)
            .env("CACHE_DIR", self.cache().to_str().unwrap());
        // A machine behind a TLS-inspecting proxy names its CA here; the installers and Deno's
        // workers need it to reach the registries.
        for key in TRUST {
            if let Ok(value) = std::env::var(key) {
                cmd = cmd.env(key, &value);
            }
        }
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    fn start(&self, env: &[(&str, &str)]) -> Shim {
        self.cmd(env).spawn()
    }

    /// Starts fnshim and waits until `/_/ready` is 200 (the install included).
    fn serve(&self, env: &[(&str, &str)]) -> Shim {
        let shim = self.start(env);
        wait_ready(&shim, self);
        shim
    }

    /// Starts, checks that `GET /` answers 200 and returns its JSON, then stops the shim.
    fn serve_once(&self, env: &[(&str, &str)]) -> (Shim, Value) {
        let shim = self.serve(env);
        let body = get_json(&shim, self);
        stop(&shim, self);
        (shim, body)
    }

    /// Starts fnshim and waits for it to exit; returns it with its exit code.
    fn fail(&self, env: &[(&str, &str)]) -> (Shim, i32) {
        let shim = self.start(env);
        let code = shim.wait_code(EXIT);
        (shim, code)
    }

    /// Writes a lock file for the current package.json with npm itself (no install).
    fn lock(&self) {
        let npm_cache = self.cache().join("npm-cache");
        let out = std::process::Command::new("npm")
            .args(["install", "--package-lock-only", "--no-audit", "--no-fund"])
            .env("npm_config_cache", &npm_cache)
            .current_dir(self.path())
            .output()
            .expect("npm must be on PATH");
        assert!(
            out.status.success(),
            "npm install --package-lock-only in {}: {}\n---- stdout\n{}\n---- stderr\n{}",
            self.path().display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The function's files (not installed packages), for failure reports.
impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "---- function files in {}", self.path().display())?;
        for entry in std::fs::read_dir(self.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            match std::fs::read_to_string(entry.path()) {
                Ok(text) if text.len() < 4000 => writeln!(f, "== {name}\n{text}")?,
                _ => writeln!(f, "== {name} (not shown)")?,
            }
        }
        writeln!(f, "---- CACHE_DIR {}", self.cache().display())
    }
}

fn wait_ready(shim: &Shim, app: &impl fmt::Display) {
    let port = shim.port();
    let ready = wait_for(INSTALL, || {
        if shim.try_status().is_some() {
            panic!("fnshim exited before it was ready{shim}{app}");
        }
        let r = Conn::connect(port).and_then(|mut c| c.request(&Request::get("/_/ready")));
        r.ok().filter(|r| r.status == 200)
    });
    assert!(
        ready.is_some(),
        "GET /_/ready never answered 200{shim}{app}"
    );
}

fn get_json(shim: &Shim, app: &impl fmt::Display) -> Value {
    let r = shim.get("/");
    assert_eq!(r.status, 200, "{r}{shim}{app}");
    r.json()
}

fn stop(shim: &Shim, app: &impl fmt::Display) {
    shim.signal(libc::SIGTERM);
    assert_eq!(shim.wait_code(INSTALL), 0, "{shim}{app}");
}

/// The log lines whose message is `message`.
fn lines(shim: &Shim, message: &str) -> Vec<Value> {
    shim.logs()
        .into_iter()
        .filter(|l| l["message"] == message)
        .collect()
}

/// Whether the installer step `what` ("npm install", "pip install", "deno install") ran.
fn ran(shim: &Shim, what: &str) -> bool {
    lines(shim, what).iter().any(|l| l["command"].is_string())
}

/// The command line of step `what`; fails the test when it did not run.
fn command(shim: &Shim, what: &str) -> String {
    let found = lines(shim, what)
        .into_iter()
        .find_map(|l| l["command"].as_str().map(String::from));
    found.unwrap_or_else(|| panic!("no {what:?} step in the log{shim}"))
}

fn up_to_date(shim: &Shim) -> bool {
    shim.logs().iter().any(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("dependencies are up to date"))
    })
}

/// `took_us` of the "dependencies ready" line.
fn took_us(shim: &Shim) -> u64 {
    let line = lines(shim, "dependencies ready").into_iter().next();
    line.and_then(|l| l["took_us"].as_u64())
        .unwrap_or_else(|| panic!("no \"dependencies ready\" line with took_us{shim}"))
}

/// The message of the ERROR line fnshim logs when start-up fails.
fn failure(shim: &Shim) -> String {
    let line = shim
        .logs()
        .into_iter()
        .rev()
        .find(|l| l["level"] == "ERROR");
    line.and_then(|l| l["message"].as_str().map(String::from))
        .unwrap_or_else(|| panic!("no ERROR line{shim}"))
}

/// Asserts that the second start skipped the installer and was much faster than the first.
fn assert_skipped(first: &Shim, second: &Shim, what: &str, app: &App) {
    assert!(ran(first, what), "the first start runs {what}{first}{app}");
    assert!(
        !ran(second, what),
        "an unchanged function skips {what}{second}{app}"
    );
    assert!(
        up_to_date(second),
        "says the dependencies are up to date{second}{app}"
    );
    let (cold, warm) = (took_us(first), took_us(second));
    assert!(
        warm < cold / 5,
        "the stamp check ({warm} µs) should cost far less than the install ({cold} µs){second}"
    );
}

/// Whether a `sleep <nap>` process is alive.
fn sleeping(nap: &str) -> bool {
    let wanted = format!("sleep\0{nap}\0");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .is_ok_and(|c| c.ends_with(wanted.as_bytes()))
        })
}
