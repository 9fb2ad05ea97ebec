//! DART_AOT's build step against a stand-in `dart` (`tests/fixtures/fake-dart`): compiled once,
//! reused from the cache while the sources are unchanged, rebuilt when they change; a failed or
//! slow build stops start-up with exit 69, the command and the compiler's last lines.

use std::path::{Path, PathBuf};

use super::*;
use crate::support::{fixture, python, ShimCmd};

/// A Dart function whose "compiled" worker runs `handler.py`, with its own cache and PATH.
struct Build {
    function: Function,
    cache: tempfile::TempDir,
    bin: tempfile::TempDir,
    log: PathBuf,
}

impl Build {
    fn new() -> Build {
        let function = Function::empty();
        function.write(
            "main.dart",
            "dynamic handler(event, context) => 'v1';\n",
            0o644,
        );
        function.write(
            "handler.py",
            "def handler(event, context):\n    return {'built': True}\n",
            0o644,
        );
        let bin = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(fixture("fake-dart"), bin.path().join("dart")).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let log = cache.path().join("compiles.log");
        Build {
            function,
            cache,
            bin,
            log,
        }
    }

    fn shim(&self) -> ShimCmd {
        let path = format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let adapter = Path::new(env!("CARGO_MANIFEST_DIR")).join("languages/python/worker.py");
        fnshim()
            .function(&self.function)
            .env("DART_AOT", "true")
            .env("CACHE_DIR", self.cache.path().to_str().unwrap())
            .env("PATH", &path)
            .env("FAKE_DART_LOG", self.log.to_str().unwrap())
            .env("FAKE_DART_PYTHON", python().to_str().unwrap())
            .env("FAKE_DART_ADAPTER", adapter.to_str().unwrap())
    }

    fn compiles(&self) -> usize {
        std::fs::read_to_string(&self.log).map_or(0, |log| log.lines().count())
    }

    /// Starts fnshim, checks the compiled worker answers, and stops it.
    fn serve_once(&self) -> String {
        let shim = self.shim().spawn();
        shim.wait_ready();
        let r = shim.get("/");
        assert_eq!(r.status, 200, "{r}{shim}");
        assert_eq!(r.json()["built"], true, "{r}");
        shim.signal(libc::SIGTERM);
        assert_eq!(shim.wait_code(SLOW_START), 0, "{shim}");
        shim.stderr()
    }
}

#[test]
fn dart_aot_compiles_once_and_reuses_the_build_until_the_sources_change() {
    let build = Build::new();
    build.serve_once();
    assert_eq!(build.compiles(), 1, "the first start compiles");
    let second = build.serve_once();
    assert_eq!(
        build.compiles(),
        1,
        "an unchanged function is not compiled again"
    );
    assert!(
        second.contains("using the cached Dart AOT build"),
        "{second}"
    );
    build.function.write(
        "main.dart",
        "dynamic handler(event, context) => 'v2';\n",
        0o644,
    );
    build.serve_once();
    assert_eq!(build.compiles(), 2, "a changed source is compiled again");
}

#[test]
fn a_failed_dart_build_exits_69_with_the_command_and_its_last_lines() {
    let build = Build::new();
    let shim = build.shim().env("FAKE_DART_FAIL", "1").run();
    assert_eq!(shim.wait_code(SLOW_START), 69, "{shim}");
    let stderr = shim.stderr();
    assert!(stderr.contains("compile exe"), "names the command{shim}");
    assert!(
        stderr.contains("Expected ';' after this"),
        "shows the compiler's last lines{shim}"
    );
    assert!(
        stderr.contains("exit code 254"),
        "gives its exit status{shim}"
    );
}

#[test]
fn a_dart_build_past_install_timeout_exits_69() {
    let build = Build::new();
    let started = Instant::now();
    let shim = build
        .shim()
        .env("FAKE_DART_SLEEP", "30")
        .env("INSTALL_TIMEOUT", "1s")
        .run();
    assert_eq!(shim.wait_code(SLOW_START), 69, "{shim}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}{shim}",
        started.elapsed()
    );
    assert!(shim.stderr().contains("INSTALL_TIMEOUT"), "{shim}");
}

/// A Dart SDK laid out as the official image has it (`bin/dart`, `version`), with the stand-in
/// compiler as its `dart`.
fn sdk(version: &str) -> tempfile::TempDir {
    let sdk = tempfile::tempdir().unwrap();
    std::fs::create_dir(sdk.path().join("bin")).unwrap();
    std::fs::copy(fixture("fake-dart"), sdk.path().join("bin/dart")).unwrap();
    std::fs::write(sdk.path().join("version"), format!("{version}\n")).unwrap();
    sdk
}

#[test]
fn a_dart_version_other_than_the_sdk_stops_start_up_with_65() {
    let build = Build::new();
    let sdk = sdk("3.5.4");
    let path = format!(
        "{}:{}",
        sdk.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let wrong = build
        .shim()
        .env("PATH", &path)
        .env("DART_VERSION", "2.19.0")
        .spawn();
    assert_eq!(wrong.wait_code(Duration::from_secs(10)), 65, "{wrong}");
    let stderr = wrong.stderr();
    assert!(
        stderr.contains("DART_VERSION is 2.19.0") && stderr.contains("is 3.5.4"),
        "{wrong}"
    );
    assert_eq!(build.compiles(), 0, "nothing is built for the wrong SDK");
    let same_minor = build
        .shim()
        .env("PATH", &path)
        .env("DART_VERSION", "3.5")
        .spawn();
    same_minor.wait_ready();
    assert_eq!(same_minor.get("/").json()["built"], true, "{same_minor}");
}
