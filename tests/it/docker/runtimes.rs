//! Each runtime image serving its example function mounted read-only and read-write, and the
//! static custom base, all as the non-root user.

use super::*;

/// `examples/<runtime>-hello` mounted read-only, then a copy of it mounted read-write, each
/// with LOG_LEVEL=warn (no info lines), answers through a port published on 127.0.0.1; the
/// image's `fnshim health` agrees.
fn serves_example(runtime: &str, greeting: &str) {
    let example = examples().join(format!("{runtime}-hello"));
    let copy = copy_of(&example);
    serves(runtime, &example, true, greeting);
    serves(runtime, copy.path(), false, greeting);
}

fn serves(runtime: &str, folder: &Path, read_only: bool, greeting: &str) {
    let container = Run::new(image(runtime))
        .function(folder, read_only)
        .env("LOG_LEVEL", "warn")
        .start();
    let port = container.wait_ready();
    let r = container.get(port, "/hello?name=docker");
    assert_eq!(r.status, 200, "{r}{container}");
    assert!(r.text().contains(greeting), "{r}{container}");
    let logs = container.logs();
    assert!(
        !logs.contains(r#""message":"invocation""#),
        "LOG_LEVEL=warn was not applied{container}"
    );
    for probe in [&["health"][..], &["health", "--live"]] {
        let mut argv = vec!["/usr/local/bin/fnshim"];
        argv.extend(probe);
        let out = container.exec(&argv);
        assert!(
            out.status.success(),
            "fnshim {probe:?} in the container{}{container}",
            report(&out)
        );
    }
}

#[test]
fn node_image_serves_its_example_mounted_ro_and_rw() {
    serves_example("node", "Hello, docker, from Node.js behind fnshim");
}

#[test]
fn python_image_serves_its_example_mounted_ro_and_rw() {
    serves_example("python", "Hello, docker, from Python behind fnshim");
}

#[test]
fn deno_image_serves_its_example_mounted_ro_and_rw() {
    serves_example("deno", "Hello, docker, from Deno behind fnshim");
}

/// The Node image runs the current LTS, which serves a `.ts` handler by type stripping (no
/// Deno in that image: FUNCTION_RUNTIME is not needed), with npm for its dependencies.
#[test]
fn node_image_runs_the_lts_and_serves_a_typescript_handler() {
    let folder = function_folder(&[(
        "index.ts",
        "interface Greeting { hello: string; node: string }\n\
         type Event = { queryStringParameters?: { name?: string } };\n\
         export const handler = async (event: Event): Promise<Greeting> =>\n  \
         ({ hello: event.queryStringParameters?.name ?? 'nobody', node: process.version });\n",
    )]);
    let container = Run::new(image("node"))
        .function(folder.path(), true)
        .start();
    let port = container.wait_ready();
    let r = container.get(port, "/hello?name=ts");
    assert_eq!(r.status, 200, "{r}{container}");
    let j = r.json();
    assert_eq!(j["hello"], "ts", "{r}{container}");
    let major: u32 = j["node"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 22,
        "the image's Node is {}, not a current LTS{container}",
        j["node"]
    );
    let npm = container.exec(&["npm", "--version"]);
    assert!(
        npm.status.success(),
        "npm in the image{}{container}",
        report(&npm)
    );
}

/// A read-write mount owned by root (which `fn` cannot write): the function still runs, as
/// uid 10001, never as root. (With a manifest, the install goes to a copy: install.rs.)
#[test]
fn a_root_owned_writable_mount_runs_as_the_image_user() {
    let folder = function_folder(&[(
        "index.js",
        "exports.handler = async () => ({ uid: process.getuid() });",
    )]);
    let container = Run::new(image("node"))
        .function(folder.path(), false)
        .start();
    let port = container.wait_ready();
    let r = container.get(port, "/invoke");
    assert_eq!(r.status, 200, "{r}{container}");
    assert_eq!(r.json()["uid"], 10001, "{r}{container}");
    assert_eq!(container.inspect("{{.Config.User}}"), "fn");
}

/// The `FROM scratch` base runs a static bootstrap (examples/static-hello, compiled here).
#[test]
fn custom_image_runs_a_static_bootstrap() {
    let folder = function_folder(&[]);
    let bootstrap = folder.path().join("bootstrap");
    let out = run_bounded(
        Command::new("rustc")
            .args([
                "-O",
                "-C",
                "target-feature=+crt-static",
                "--target",
                "x86_64-unknown-linux-gnu",
                "-o",
            ])
            .arg(&bootstrap)
            .arg(examples().join("static-hello/main.rs")),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "rustc examples/static-hello/main.rs{}",
        report(&out)
    );
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    let container = Run::new(image("custom"))
        .function(folder.path(), true)
        .start();
    let port = container.wait_ready();
    let r = container.get(port, "/from/scratch");
    assert_eq!(r.status, 200, "{r}{container}");
    assert_eq!(r.json()["path"], "/from/scratch", "{r}{container}");
    assert_eq!(r.json()["uid"], 10001, "{r}{container}");
    let out = container.exec(&["/usr/local/bin/fnshim", "health"]);
    assert!(
        out.status.success(),
        "fnshim health{}{container}",
        report(&out)
    );
}
