//! RUNTIME_CONFIG: settings from a YAML file (lower-case keys), the environment winning over
//! it, and a file with an unknown key or bad YAML refused with exit 64.

use super::*;

const SLOW: &str =
    "import time\ndef handler(event, context):\n    time.sleep(1)\n    return 'slept'\n";

/// Writes `yaml` to a file and points RUNTIME_CONFIG at it; the folder lives as long as the shim.
fn with_config(yaml: &str, env: &[(&str, &str)], wait: bool) -> (Served, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, yaml).unwrap();
    let mut all = vec![
        ("RUNTIME_CONFIG", file.to_str().unwrap()),
        ("FUNCTION_WORKERS", "1"),
    ];
    all.extend_from_slice(env);
    let served = if wait {
        serve(&[("main.py", SLOW)], &all)
    } else {
        start(&[("main.py", SLOW)], &all)
    };
    (served, dir)
}

#[test]
fn settings_come_from_the_file() {
    let (served, _file) = with_config("function_timeout: 300ms\n", &[], true);
    assert_error(&served.get("/"), 504, "TimeoutError", &served);
}

#[test]
fn the_environment_wins_over_the_file() {
    let (served, _file) = with_config(
        "function_timeout: 300ms\n",
        &[("FUNCTION_TIMEOUT", "10s")],
        true,
    );
    let r = served.get("/");
    assert_eq!(r.status, 200, "{r}{served}");
}

#[test]
fn an_unknown_key_or_bad_yaml_is_exit_64() {
    let (unknown, _a) = with_config("function_timout: 1s\n", &[], false);
    assert_eq!(unknown.wait_code(SLOW_START), 64, "{unknown}");
    assert!(
        unknown.stderr().contains("function_timout"),
        "names the key{unknown}"
    );
    let (malformed, _b) = with_config("port: 9000\n  oops: [\n", &[], false);
    assert_eq!(malformed.wait_code(SLOW_START), 64, "{malformed}");
    assert!(
        malformed.stderr().contains("line 2"),
        "gives the line{malformed}"
    );
    let missing = start(
        &[("main.py", SLOW)],
        &[("RUNTIME_CONFIG", "/nonexistent/config.yaml")],
    );
    assert_eq!(missing.wait_code(SLOW_START), 64, "{missing}");
}
