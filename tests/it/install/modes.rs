//! INSTALL_DEPS (`never` installs nothing, `always` ignores the stamp) and readiness while an
//! install runs: `/_/ready` is 503 "installing dependencies (…)" until the install is done, and
//! SIGTERM stops a running install at once.

use std::time::Instant;

use super::*;

const PACKAGE: &str = r#"{"name":"fn","version":"1.0.0","dependencies":{"is-number":"7.0.0"}}"#;
const HANDLER: &str = r#"
const isNumber = require('is-number');
exports.handler = async () => ({ five: isNumber(5) });
"#;

#[test]
fn install_deps_never_installs_nothing_and_the_missing_module_exits_65() {
    let app = App::new(&[("package.json", PACKAGE), ("index.js", HANDLER)]);
    let (shim, code) = app.fail(&[("INSTALL_DEPS", "never")]);
    assert_eq!(code, 65, "the handler cannot require is-number{shim}{app}");
    assert!(!ran(&shim, "npm install"), "{shim}");
    assert!(
        !lines(&shim, "INSTALL_DEPS=never: not installing dependencies").is_empty(),
        "says why nothing was installed{shim}"
    );
    assert!(
        shim.stderr().contains("is-number"),
        "names the missing module{shim}"
    );
    assert!(!app.path().join("node_modules").exists(), "{shim}{app}");
}

/// The second start finds a valid stamp over a broken package: only a real reinstall
/// makes the handler work again.
#[test]
fn install_deps_always_reinstalls_despite_a_stamp() {
    let app = App::new(&[("package.json", PACKAGE), ("index.js", HANDLER)]);
    app.serve_once(&[]);
    let installed = app.path().join("node_modules/is-number/index.js");
    std::fs::remove_file(&installed)
        .unwrap_or_else(|e| panic!("{}: {e}{app}", installed.display()));
    let (shim, body) = app.serve_once(&[("INSTALL_DEPS", "always")]);
    assert!(ran(&shim, "npm install"), "{shim}{app}");
    assert!(!up_to_date(&shim), "{shim}");
    assert_eq!(body["five"], true, "{body}{shim}{app}");
    assert!(
        installed.is_file(),
        "the package was installed again{shim}{app}"
    );
}

#[test]
fn ready_is_503_installing_dependencies_while_an_install_runs() {
    let app = App::new(&[
        (
            "package.json",
            r#"{"name":"fn","version":"1.0.0","scripts":{"preinstall":"sleep 3"}}"#,
        ),
        (
            "index.js",
            "exports.handler = async () => ({ up: true });\n",
        ),
    ]);
    let shim = app.start(&[("INSTALL_TIMEOUT", "60s")]);
    let step = shim.wait_log(INSTALL, |l| l["message"] == "npm install");
    assert!(step.is_some(), "npm never started{shim}{app}");
    let during = shim.get("/_/ready");
    assert_eq!(during.status, 503, "{during}{shim}{app}");
    assert!(
        lines(&shim, "dependencies ready").is_empty(),
        "the install should still have been running (sleep 3){during}{shim}"
    );
    let reason = during.json()["reason"].as_str().map(String::from);
    assert!(
        reason.is_some_and(|r| r.contains("installing dependencies")),
        "{during}{shim}"
    );
    wait_ready(&shim, &app);
    assert_eq!(get_json(&shim, &app)["up"], true, "{shim}{app}");
}

#[test]
fn sigterm_during_an_install_kills_it_and_stops_at_once() {
    let nap = format!("30.{}1", std::process::id());
    let package =
        format!(r#"{{"name":"fn","version":"1.0.0","scripts":{{"preinstall":"sleep {nap}"}}}}"#);
    let app = App::new(&[
        ("package.json", &package),
        ("index.js", "exports.handler = async () => 1;\n"),
    ]);
    let shim = app.start(&[]);
    let sleeping_now = wait_for(INSTALL, || sleeping(&nap).then_some(()));
    assert!(
        sleeping_now.is_some(),
        "the preinstall script never ran{shim}{app}"
    );
    let started = Instant::now();
    shim.signal(libc::SIGTERM);
    assert_eq!(shim.wait_code(INSTALL), 0, "{shim}{app}");
    // The preinstall sleeps 30 s: a stop that waited for it would take that long.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}{shim}",
        started.elapsed()
    );
    let gone = wait_for(Duration::from_secs(15), || (!sleeping(&nap)).then_some(()));
    assert!(
        gone.is_some(),
        "`sleep {nap}` outlived the stopped install{shim}"
    );
    assert!(
        !app.path().join("node_modules/.fnshim-stamp").exists(),
        "{shim}{app}"
    );
}
