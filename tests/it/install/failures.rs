//! Installs that fail stop start-up with exit 69 and one message naming the command, its exit
//! status and its last lines; INSTALL_TIMEOUT bounds an installer that hangs.

use std::time::Instant;

use super::*;

const NO_SUCH: &str = "fnshim-test-no-such-package-7f3a9c";

#[test]
fn a_missing_npm_package_exits_69_with_npm_s_404() {
    let package =
        format!(r#"{{"name":"fn","version":"1.0.0","dependencies":{{"{NO_SUCH}":"1.0.0"}}}}"#);
    let app = App::new(&[
        ("package.json", &package),
        ("index.js", "exports.handler = async () => 1;\n"),
    ]);
    let (shim, code) = app.fail(&[]);
    assert_eq!(code, 69, "{shim}{app}");
    let message = failure(&shim);
    assert!(
        message.contains("npm install"),
        "names the step: {message}{shim}"
    );
    assert!(
        message.contains("/npm install --no-package-lock --omit=dev"),
        "gives the command: {message}{shim}"
    );
    assert!(
        message.contains("exit code 1"),
        "gives its exit status: {message}{shim}"
    );
    assert!(
        message.contains("E404"),
        "ends with npm's 404: {message}{shim}"
    );
    assert!(
        message.contains(NO_SUCH),
        "names the package: {message}{shim}"
    );
    assert!(
        !app.path().join("node_modules/.fnshim-stamp").exists(),
        "a failed install leaves no stamp{shim}{app}"
    );
}

#[test]
fn a_missing_pypi_package_exits_69_naming_pip() {
    let requirement = format!("{NO_SUCH}==1.0\n");
    let app = App::new(&[
        ("requirements.txt", &requirement),
        ("main.py", "def handler(event, context):\n    return 1\n"),
    ]);
    let (shim, code) = app.fail(&[]);
    assert_eq!(code, 69, "{shim}{app}");
    let message = failure(&shim);
    assert!(
        message.contains("pip install"),
        "names the step: {message}{shim}"
    );
    assert!(
        message.contains("-m pip install --target"),
        "gives the command: {message}{shim}"
    );
    assert!(
        message.contains("exit code 1"),
        "gives its exit status: {message}{shim}"
    );
    assert!(
        message.contains("No matching distribution found"),
        "ends with pip's own error: {message}{shim}"
    );
}

/// The package's own preinstall script hangs; `sleep` gets a distinctive duration so that a
/// leftover one can be found in /proc.
#[test]
fn an_install_past_install_timeout_is_killed_and_exits_69() {
    let nap = format!("30.{}", std::process::id());
    let package =
        format!(r#"{{"name":"fn","version":"1.0.0","scripts":{{"preinstall":"sleep {nap}"}}}}"#);
    let app = App::new(&[
        ("package.json", &package),
        ("index.js", "exports.handler = async () => 1;\n"),
    ]);
    let started = Instant::now();
    let (shim, code) = app.fail(&[("INSTALL_TIMEOUT", "2s")]);
    let took = started.elapsed();
    assert_eq!(code, 69, "{shim}{app}");
    // INSTALL_TIMEOUT=2s against a 30 s preinstall; npm's own start counts on a loaded machine.
    assert!(took < Duration::from_secs(20), "took {took:?}{shim}");
    let message = failure(&shim);
    assert!(message.contains("INSTALL_TIMEOUT"), "{message}{shim}");
    assert!(
        message.contains("npm install"),
        "names the step: {message}{shim}"
    );
    let leftover = wait_for(Duration::from_secs(15), || (!sleeping(&nap)).then_some(()));
    assert!(
        leftover.is_some(),
        "`sleep {nap}` outlived the killed install{shim}"
    );
}
