//! The Dart image, `dartserverless/runtime:<DART_VERSION>`, built on the official `dart`
//! image. That base cannot be pulled on this project's machines, so scripts/images.sh skips
//! it and this is the one container test that says SKIPPED instead of failing.

use super::*;

const DART_VERSION: &str = "3.5.4";

#[test]
fn dart_image_serves_the_seed_handler_and_refuses_another_dart_version() {
    let tag = format!("dartserverless/runtime:{DART_VERSION}");
    if !image_exists(&tag) {
        eprintln!("SKIPPED: dart image tests: {tag} is not built (its base dart:{DART_VERSION} cannot be pulled here)");
        return;
    }
    let container = Run::new(tag.clone())
        .function(&examples().join("dart-hello"), true)
        .start();
    let port = container.wait_ready();
    let r = container.get(port, "/hello");
    assert_eq!(r.status, 200, "{r}{container}");

    let (code, output) = Run::new(tag)
        .function(&examples().join("dart-hello"), true)
        .env("DART_VERSION", "2.19.0")
        .run_to_exit();
    assert_eq!(code, 65, "{output}");
    assert!(output.contains("DART_VERSION"), "{output}");
}
