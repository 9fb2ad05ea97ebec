//! Dependencies in Lambda: used as baked into the image, installed (with a warning) only
//! when the image lacks them.

use super::*;

const INDEX: &str = "exports.handler = async () => ({ ok: true });\n";
const PACKAGE: &str = r#"{"name": "fn", "version": "1.0.0", "dependencies": {}}"#;

fn served(node_modules: bool) -> (Emulator, Shim, Function, tempfile::TempDir) {
    let emulator = Emulator::start();
    let function = Function::empty();
    write_all(&function, &[("index.js", INDEX), ("package.json", PACKAGE)]);
    if node_modules {
        std::fs::create_dir(function.path().join("node_modules")).unwrap();
    }
    let cache = cache_dir();
    let shim = in_lambda(&emulator, &cache)
        .env("LAMBDA_TASK_ROOT", function.path().to_str().unwrap())
        .env("_HANDLER", "index.handler")
        .spawn();
    wait_polling(&shim, SLOW_START);
    let response = emulator.invoke(&json!({}));
    assert_eq!(answer(&response, &shim), json!({"ok": true}), "{shim}");
    (emulator, shim, function, cache)
}

fn said(shim: &Shim, start: &str) -> bool {
    shim.logs()
        .iter()
        .any(|l| l["message"].as_str().is_some_and(|m| m.starts_with(start)))
}

#[test]
fn baked_dependencies_are_not_installed_in_lambda() {
    let (_emulator, shim, _function, _cache) = served(true);
    assert!(said(&shim, "dependencies are in the image"), "{shim}");
    assert!(
        !said(&shim, "the function's dependencies are not in the image"),
        "{shim}"
    );
}

#[test]
fn missing_dependencies_are_installed_with_a_warning_in_lambda() {
    let (_emulator, shim, _function, _cache) = served(false);
    assert!(
        said(&shim, "the function's dependencies are not in the image"),
        "{shim}"
    );
    assert!(said(&shim, "dependencies ready"), "{shim}");
}
