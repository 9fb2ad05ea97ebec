//! npm: a dependency installed at start-up and used by the handler, the stamp that skips the
//! next start, a changed manifest or lock file that reinstalls, and a local `file:` package.

use super::*;

const PACKAGE: &str = r#"{"name":"fn","version":"1.0.0","dependencies":{"is-number":"7.0.0"}}"#;

/// Reports what is-number says and where Node found it (and is-odd when it is installed).
const HANDLER: &str = r#"
const isNumber = require('is-number');
exports.handler = async () => ({
  five: isNumber(5),
  word: isNumber('five'),
  version: require('is-number/package.json').version,
  from: require.resolve('is-number'),
  odd: (() => { try { return require('is-odd')(3); } catch { return null; } })(),
});
"#;

fn is_number_app() -> App {
    App::new(&[("package.json", PACKAGE), ("index.js", HANDLER)])
}

#[test]
fn a_node_dependency_is_installed_at_start_up_and_used_by_the_handler() {
    let app = is_number_app();
    let (shim, body) = app.serve_once(&[]);
    assert_eq!(body["five"], true, "{body}{shim}{app}");
    assert_eq!(body["word"], false, "{body}{shim}{app}");
    assert_eq!(body["version"], "7.0.0", "{body}{shim}{app}");
    let modules = app.path().join("node_modules/is-number");
    assert!(
        body["from"]
            .as_str()
            .is_some_and(|f| Path::new(f).starts_with(&modules)),
        "is-number comes from {}: {body}{shim}{app}",
        modules.display()
    );
    let npm = command(&shim, "npm install");
    assert!(
        npm.contains(" install ") && npm.contains("--omit=dev"),
        "{npm}{shim}"
    );
    assert!(
        app.path().join("node_modules/.fnshim-stamp").is_file(),
        "{shim}{app}"
    );
}

#[test]
fn a_second_start_with_the_same_dependencies_skips_npm() {
    let app = is_number_app();
    let (first, _) = app.serve_once(&[]);
    let (second, body) = app.serve_once(&[]);
    assert_eq!(body["five"], true, "{body}{second}");
    assert_skipped(&first, &second, "npm install", &app);
}

/// The first start had no lock file, so `npm install` wrote one; the user then adds a
/// dependency to package.json (and has never seen that lock file).
#[test]
fn adding_a_dependency_to_package_json_reinstalls() {
    let app = is_number_app();
    let (first, body) = app.serve_once(&[]);
    assert_eq!(
        body["odd"],
        Value::Null,
        "is-odd is not installed yet{first}"
    );
    app.write(&[(
        "package.json",
        r#"{"name":"fn","version":"1.0.0","dependencies":{"is-number":"7.0.0","is-odd":"3.0.1"}}"#,
    )]);
    let second = app.serve(&[]);
    let body = get_json(&second, &app);
    stop(&second, &app);
    assert!(
        ran(&second, "npm install"),
        "a changed package.json reinstalls{second}{app}"
    );
    assert_eq!(
        body["odd"], true,
        "is-odd is installed and used{second}{app}"
    );
    assert_eq!(body["version"], "7.0.0", "{body}{second}{app}");
}

#[test]
fn a_changed_lock_file_reinstalls_with_npm_ci() {
    let app = is_number_app();
    app.lock();
    let (first, body) = app.serve_once(&[]);
    assert_eq!(body["version"], "7.0.0", "{body}{first}{app}");
    let npm = command(&first, "npm install");
    assert!(
        npm.contains(" ci "),
        "a lock file means npm ci: {npm}{first}"
    );
    app.write(&[(
        "package.json",
        r#"{"name":"fn","version":"1.0.0","dependencies":{"is-number":"6.0.0"}}"#,
    )]);
    app.lock();
    let (second, body) = app.serve_once(&[]);
    assert!(
        ran(&second, "npm install"),
        "a changed lock file reinstalls{second}{app}"
    );
    assert!(!up_to_date(&second), "{second}");
    assert_eq!(
        body["version"], "6.0.0",
        "the new version is served{body}{second}{app}"
    );
}

/// A sibling folder package needs no registry: NPM_MIRROR points at a closed port, so any
/// registry request would fail the install.
#[test]
fn a_local_file_dependency_installs_without_the_registry() {
    let app = App::new(&[
        (
            "package.json",
            r#"{"name":"fn","version":"1.0.0","dependencies":{"local-lib":"file:./local-lib"}}"#,
        ),
        (
            "local-lib/package.json",
            r#"{"name":"local-lib","version":"1.0.0","main":"index.js"}"#,
        ),
        ("local-lib/index.js", "module.exports = (x) => `local:${x}`;\n"),
        (
            "index.js",
            "const local = require('local-lib');\nexports.handler = async () => ({ said: local('hi') });\n",
        ),
    ]);
    let (shim, body) = app.serve_once(&[("NPM_MIRROR", "http://127.0.0.1:9/")]);
    assert_eq!(body["said"], "local:hi", "{body}{shim}{app}");
    let npm = command(&shim, "npm install");
    assert!(
        npm.contains("--registry=http://127.0.0.1:9/"),
        "the mirror is used: {npm}{shim}"
    );
    assert!(
        app.path().join("node_modules/local-lib").exists(),
        "{shim}{app}"
    );
}
