//! A read-only FUNCTION_PATH: fnshim copies the function into CACHE_DIR/copies/<hash>, installs
//! and runs it there, and leaves the mounted folder untouched. The read-only bind mount lives
//! in a private mount namespace (`unshare --mount`; the tests run as root), so it disappears
//! with the shim.

use super::*;

const PACKAGE: &str = r#"{"name":"fn","version":"1.0.0","dependencies":{"is-number":"7.0.0"}}"#;
const HANDLER: &str = r#"
const isNumber = require('is-number');
exports.handler = async () => ({ five: isNumber(5), from: require.resolve('is-number') });
"#;

/// Mounts `$1` read-only at `$2`, then becomes fnshim (`$3...`): the shim keeps the pid.
const MOUNT: &str =
    r#"mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && exec "$@""#;

/// fnshim with FUNCTION_PATH at a read-only bind mount of the app's folder.
fn start_read_only(app: &App, mount_point: &Path) -> Shim {
    let (src, dst) = (app.path().to_str().unwrap(), mount_point.to_str().unwrap());
    app.cmd(&[])
        .env("FUNCTION_PATH", dst)
        .wrap(&["unshare", "--mount", "sh", "-c", MOUNT, "sh", src, dst])
        .spawn()
}

#[test]
fn a_read_only_function_is_installed_and_served_from_a_copy() {
    let app = App::new(&[("package.json", PACKAGE), ("index.js", HANDLER)]);
    let mount_point = tempfile::tempdir().unwrap();
    let shim = start_read_only(&app, mount_point.path());
    wait_ready(&shim, &app);
    let body = get_json(&shim, &app);
    stop(&shim, &app);
    assert_eq!(body["five"], true, "{body}{shim}{app}");
    assert!(
        !lines(
            &shim,
            "the function folder is read-only; installing in a copy"
        )
        .is_empty(),
        "says it installs in a copy{shim}{app}"
    );
    let work = app.cache().join("copies");
    assert!(
        body["from"]
            .as_str()
            .is_some_and(|f| Path::new(f).starts_with(&work)),
        "is-number comes from the copy under {}: {body}{shim}{app}",
        work.display()
    );
    for name in ["node_modules", "package-lock.json"] {
        assert!(
            !app.path().join(name).exists(),
            "the read-only folder gained {name}{shim}{app}"
        );
    }
    assert!(
        std::fs::read_dir(mount_point.path())
            .unwrap()
            .next()
            .is_none(),
        "the mount went away with the namespace{shim}"
    );
}

#[test]
fn a_read_only_function_reuses_its_copy_on_the_next_start() {
    let app = App::new(&[("package.json", PACKAGE), ("index.js", HANDLER)]);
    let mount_point = tempfile::tempdir().unwrap();
    let first = start_read_only(&app, mount_point.path());
    wait_ready(&first, &app);
    stop(&first, &app);
    let second = start_read_only(&app, mount_point.path());
    wait_ready(&second, &app);
    let body = get_json(&second, &app);
    stop(&second, &app);
    assert_eq!(body["five"], true, "{body}{second}{app}");
    assert_skipped(&first, &second, "npm install", &app);
}

/// The mounted folder has no lock file; the one in the copy is what the first `npm install`
/// wrote there, so it must not turn a changed package.json into a failing `npm ci`.
#[test]
fn a_read_only_function_whose_package_json_changed_reinstalls_in_its_copy() {
    let app = App::new(&[("package.json", PACKAGE), ("index.js", HANDLER)]);
    let mount_point = tempfile::tempdir().unwrap();
    let first = start_read_only(&app, mount_point.path());
    wait_ready(&first, &app);
    stop(&first, &app);
    app.write(&[(
        "package.json",
        r#"{"name":"fn","version":"1.0.0","dependencies":{"is-number":"7.0.0","is-odd":"3.0.1"}}"#,
    )]);
    let second = start_read_only(&app, mount_point.path());
    wait_ready(&second, &app);
    let body = get_json(&second, &app);
    stop(&second, &app);
    assert!(ran(&second, "npm install"), "{second}{app}");
    assert_eq!(body["five"], true, "{body}{second}{app}");
}

#[test]
fn the_functions_of_a_read_only_f_yml_share_one_install_in_one_copy() {
    let fyml = "functions:\n  a:\n    handler: index.handler\n    events:\n      - http: { path: /a }\n  b:\n    handler: other.handler\n    events:\n      - http: { path: /b }\n";
    let other = "exports.handler = async () => ({ b: require('is-number')(7), from: require.resolve('is-number') });\n";
    let app = App::new(&[
        ("package.json", PACKAGE),
        ("index.js", HANDLER),
        ("other.js", other),
        ("f.yml", fyml),
    ]);
    let mount_point = tempfile::tempdir().unwrap();
    let shim = start_read_only(&app, mount_point.path());
    wait_ready(&shim, &app);
    let (a, b) = (shim.get("/a").json(), shim.get("/b").json());
    stop(&shim, &app);
    assert_eq!(
        (&a["five"], &b["b"]),
        (&Value::Bool(true), &Value::Bool(true)),
        "{shim}{app}"
    );
    assert_eq!(a["from"], b["from"], "one node_modules for both{shim}{app}");
    let installs = lines(&shim, "dependencies ready").len();
    assert_eq!(installs, 1, "one install for the folder{shim}{app}");
}
