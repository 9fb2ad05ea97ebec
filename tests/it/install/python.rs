//! pip: requirements installed into CACHE_DIR/python-deps/<hash>, put on the workers'
//! sys.path (ahead of a copy the interpreter may already have), and skipped when unchanged.

use super::*;

const HANDLER: &str = r#"
import six

def handler(event, context):
    return {"version": six.__version__, "file": six.__file__}
"#;

fn six_app() -> App {
    App::new(&[("requirements.txt", "six==1.16.0\n"), ("main.py", HANDLER)])
}

/// The module the handler imported must be the one pip installed for it, in the cache.
fn assert_from_cache(body: &Value, shim: &Shim, app: &App) {
    assert_eq!(body["version"], "1.16.0", "{body}{shim}{app}");
    let deps = app.cache().join("python-deps");
    let file = body["file"].as_str().map(Path::new);
    assert!(
        file.is_some_and(|f| f.starts_with(&deps) && f.is_file()),
        "six should be imported from under {}: {body}{shim}{app}",
        deps.display()
    );
}

#[test]
fn a_python_requirement_is_installed_into_the_cache_and_imported_by_the_handler() {
    let app = six_app();
    let (shim, body) = app.serve_once(&[]);
    assert_from_cache(&body, &shim, &app);
    let pip = command(&shim, "pip install");
    assert!(pip.contains("--target"), "{pip}{shim}");
    assert!(
        !app.path().join("six.py").exists(),
        "nothing is installed into the function folder{shim}{app}"
    );
}

#[test]
fn a_second_start_with_the_same_requirements_skips_pip() {
    let app = six_app();
    let (first, _) = app.serve_once(&[]);
    let (second, body) = app.serve_once(&[]);
    assert_from_cache(&body, &second, &app);
    assert_skipped(&first, &second, "pip install", &app);
}
