//! `fnshim check` and `fnshim invoke`: the function started on loopback, checked or invoked
//! once, and stopped, with the answer on stdout and the outcome in the exit code.

use super::*;

const ECHO: &str = "def handler(event, context):\n    return {'got': event}\n";

fn local(files: &[(&str, &str)], args: &[&str]) -> (Shim, Function, tempfile::TempDir) {
    let function = Function::empty();
    for (name, text) in files {
        function.write(name, text, 0o644);
    }
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = fnshim()
        .function(&function)
        .env("CACHE_DIR", cache.path().to_str().unwrap());
    for arg in args {
        cmd = cmd.arg(arg);
    }
    (cmd.run(), function, cache)
}

#[test]
fn check_loads_the_function_and_prints_the_resolved_configuration() {
    let (shim, _f, _c) = local(&[("main.py", ECHO)], &["check"]);
    assert_eq!(shim.wait_code(SLOW_START), 0, "{shim}");
    let out = shim.stdout();
    assert!(
        out.contains("mode: handler") && out.contains("runtime: Python"),
        "{shim}"
    );
    assert!(out.contains("ok: the function loaded"), "{shim}");
}

#[test]
fn check_fails_like_a_start_would() {
    let (shim, _f, _c) = local(&[("main.py", "def handler(:\n")], &["check"]);
    assert_eq!(shim.wait_code(SLOW_START), 65, "{shim}");
    assert!(shim.stderr().contains("SyntaxError"), "{shim}");
}

#[test]
fn invoke_sends_the_event_file_and_prints_the_result() {
    let event = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(event.path(), r#"{"order": 42}"#).unwrap();
    let (shim, _f, _c) = local(
        &[("main.py", ECHO)],
        &["invoke", "--event", event.path().to_str().unwrap()],
    );
    assert_eq!(shim.wait_code(SLOW_START), 0, "{shim}");
    let printed: Value =
        serde_json::from_str(shim.stdout().trim()).unwrap_or_else(|e| panic!("{e}{shim}"));
    assert_eq!(printed["got"]["order"], 42, "{shim}");
}

#[test]
fn invoke_as_http_and_a_failing_handler_exits_1() {
    let echo_path = "def handler(event, context):\n    return {'path': event['path'], 'q': event['queryStringParameters']}\n";
    let (shim, _f, _c) = local(
        &[("main.py", echo_path)],
        &["invoke", "--http", "GET", "/items?id=7"],
    );
    assert_eq!(shim.wait_code(SLOW_START), 0, "{shim}");
    let printed: Value =
        serde_json::from_str(shim.stdout().trim()).unwrap_or_else(|e| panic!("{e}{shim}"));
    assert_eq!(
        (printed["path"].as_str(), printed["q"]["id"].as_str()),
        (Some("/items"), Some("7")),
        "{shim}"
    );
    let (failing, _f, _c) = local(
        &[("main.py", "def handler(e, c):\n    raise KeyError('k')\n")],
        &["invoke"],
    );
    assert_eq!(failing.wait_code(SLOW_START), 1, "{failing}");
    assert!(failing.stdout().contains("KeyError"), "{failing}");
}
