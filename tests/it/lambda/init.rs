//! A function that cannot be loaded: the error is posted to `/init/error` (the emulator hands
//! it to the waiting caller) and fnshim exits 65.

use super::*;

fn init_error_is_posted_then_exit_65(files: &[(&str, &str)], expected: &str) {
    let emulator = Emulator::start();
    // The emulator answers /init/error only while an invocation waits for it.
    let mut waiting = emulator.invoke_later(&json!({"first": true}));
    let function = Function::empty();
    write_all(&function, files);
    let cache = cache_dir();
    let shim = in_lambda(&emulator, &cache)
        .env("LAMBDA_TASK_ROOT", function.path().to_str().unwrap())
        .env("_HANDLER", "app.handler")
        .spawn();
    assert_eq!(shim.wait_code(SLOW_START), 65, "{shim}");
    let response = waiting.read_response("POST").unwrap();
    let error = answer(&response, &shim);
    assert_eq!(error["errorType"], "Runtime.InitError", "{error}{shim}");
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains(expected), "{error}{shim}");
    assert!(
        shim.logs()
            .iter()
            .any(|l| l["message"] == "posted the init error to the Lambda Runtime API"),
        "{shim}"
    );
}

#[test]
fn a_missing_node_export_is_an_init_error() {
    init_error_is_posted_then_exit_65(&[("app.js", "exports.other = () => 1;\n")], "handler");
}

#[test]
fn a_python_syntax_error_is_an_init_error() {
    init_error_is_posted_then_exit_65(
        &[("app.py", "def handler(event, context)\n  return 1\n")],
        "app.py",
    );
}

#[test]
fn a_missing_handler_file_is_an_init_error() {
    init_error_is_posted_then_exit_65(&[("other.js", "exports.handler = () => 1;\n")], "app");
}

#[test]
fn a_missing_deno_export_is_an_init_error() {
    init_error_is_posted_then_exit_65(
        &[("app.ts", "export const other = (): number => 1;\n")],
        "handler",
    );
}

#[test]
fn a_bootstrap_that_dies_at_start_is_an_init_error() {
    let emulator = Emulator::start();
    let mut waiting = emulator.invoke_later(&json!({"first": true}));
    let function = Function::upstream(&[("UPSTREAM_EXIT_DURING_INIT", "3")]);
    let cache = cache_dir();
    let shim = in_lambda(&emulator, &cache).function(&function).spawn();
    assert_eq!(shim.wait_code(STARTUP), 65, "{shim}");
    let error = answer(&waiting.read_response("POST").unwrap(), &shim);
    assert_eq!(error["errorType"], "Runtime.InitError", "{error}{shim}");
}
