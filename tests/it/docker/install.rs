//! Dependencies installed inside the containers, as the non-root user, from the real
//! registries (reached with the host's CA bundle mounted read-only).

use super::*;

/// Registries can be slow.
const INSTALL: Duration = Duration::from_secs(180);

/// The folder is writable by root only: npm installs into fnshim's copy in CACHE_DIR.
#[test]
fn npm_installs_in_the_node_image() {
    let folder = function_folder(&[
        ("package.json", r#"{"name":"fn","version":"1.0.0","dependencies":{"is-number":"7.0.0"}}"#),
        (
            "index.js",
            "const isNumber = require('is-number');
exports.handler = async () => ({ five: isNumber(5), word: isNumber('five'), from: require.resolve('is-number') });",
        ),
    ]);
    let container = Run::new(image("node"))
        .function(folder.path(), false)
        .host_ca()
        .start();
    let port = container.wait_ready_within(INSTALL);
    let r = container.get(port, "/invoke");
    assert_eq!(r.status, 200, "{r}{container}");
    assert_eq!(
        (r.json()["five"].clone(), r.json()["word"].clone()),
        (true.into(), false.into()),
        "{r}"
    );
    let from = r.json()["from"].as_str().unwrap_or_default().to_string();
    assert!(
        from.starts_with("/var/cache/fnshim/copies/"),
        "is-number from {from}{container}"
    );
    assert!(
        !folder.path().join("node_modules").exists(),
        "nothing is written into the mounted folder"
    );
}

#[test]
fn pip_installs_in_the_python_image() {
    let folder = function_folder(&[
        ("requirements.txt", "six==1.16.0\n"),
        (
            "main.py",
            "import six\n\ndef handler(event, context):\n    return {'version': six.__version__, 'file': six.__file__}\n",
        ),
    ]);
    let container = Run::new(image("python"))
        .function(folder.path(), true)
        .host_ca()
        .start();
    let port = container.wait_ready_within(INSTALL);
    let r = container.get(port, "/invoke");
    assert_eq!(r.status, 200, "{r}{container}");
    assert_eq!(r.json()["version"], "1.16.0", "{r}{container}");
    let file = r.json()["file"].as_str().unwrap_or_default().to_string();
    assert!(
        file.starts_with("/var/cache/fnshim/python-deps/"),
        "six from {file}{container}"
    );
}
