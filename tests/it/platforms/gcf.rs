//! Google Cloud Functions code, unchanged: Functions Framework functions (Node's
//! `functions.http` / `exports.fn = (req, res)` / `functions.cloudEvent`, Python's
//! `@functions_framework.http` / `@functions_framework.cloud_event`) selected by FUNCTION_TARGET
//! (and FUNCTION_SIGNATURE_TYPE), run by fnshim's adapters. The Frameworks themselves are
//! installed by scripts/test.sh under target/gcf (node_modules, and a pip --target folder):
//! a test without them fails, naming the script.

use serde_json::json;

use super::*;

fn installed(sub: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/gcf")
        .join(sub);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh, which installs the Functions Frameworks",
        path.display()
    );
    path
}

/// A Node function folder with the Framework in its node_modules, as `npm install` leaves it.
fn node(files: &[(&str, &str)], env: &[(&str, &str)]) -> Served {
    let modules = installed("node/node_modules");
    let served = start(files, env, &[]);
    std::os::unix::fs::symlink(&modules, served._function.path().join("node_modules")).unwrap();
    wait_served(served)
}

/// A Python function with the Framework (and Flask) on PYTHONPATH.
fn python(files: &[(&str, &str)], env: &[(&str, &str)]) -> Served {
    let site = installed("python");
    let mut env = env.to_vec();
    let site = site.to_str().unwrap().to_owned();
    env.push(("PYTHONPATH", &site));
    wait_served(start(files, &env, &[]))
}

const NODE_HTTP: &str = r#"const functions = require('@google-cloud/functions-framework');

functions.http('helloHttp', (req, res) => {
  res.send(`Hello ${req.query.name || req.body.name || 'World'}!`);
});

exports.helloJson = (req, res) => {
  res.status(201).set('x-custom', 'yes').json({ method: req.method, path: req.path, got: req.body, header: req.get('x-test') });
};
"#;

#[test]
fn node_http_functions_registered_or_exported() {
    let served = node(
        &[("index.js", NODE_HTTP)],
        &[("FUNCTION_TARGET", "helloHttp")],
    );
    let r = served.shim.send(&Request::get("/?name=Ada"));
    assert_eq!(
        (r.status, r.text()),
        (200, "Hello Ada!".to_owned()),
        "{r}{}",
        served.shim
    );
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = served.shim.send(
        &Request::post("/")
            .header("content-type", "application/json")
            .body(r#"{"name":"Grace"}"#),
    );
    assert_eq!(r.text(), "Hello Grace!", "{r}");
    let served = node(
        &[("index.js", NODE_HTTP)],
        &[("FUNCTION_TARGET", "helloJson")],
    );
    let r = served.shim.send(
        &Request::post("/orders/7")
            .header("content-type", "application/json")
            .header("x-test", "t1")
            .body(r#"{"n":1}"#),
    );
    assert_eq!(r.status, 201, "{r}{}", served.shim);
    assert_eq!(r.header("x-custom"), Some("yes"));
    assert_eq!(
        r.json(),
        json!({"method": "POST", "path": "/orders/7", "got": {"n": 1}, "header": "t1"})
    );
}

/// A binary-mode CloudEvent, as Eventarc delivers one.
fn cloud_event(data: &str) -> Request {
    Request::post("/")
        .header("ce-id", "evt-1")
        .header("ce-source", "//pubsub.googleapis.com/projects/p/topics/t")
        .header("ce-type", "google.cloud.pubsub.topic.v1.messagePublished")
        .header("ce-specversion", "1.0")
        .header("content-type", "application/json")
        .body(data.to_owned())
}

#[test]
fn node_cloud_event_function() {
    let js = "const functions = require('@google-cloud/functions-framework');\nfunctions.cloudEvent('onEvent', (cloudEvent) => {\n  console.log(`got ${cloudEvent.type} ${cloudEvent.id} ${JSON.stringify(cloudEvent.data)}`);\n});\n";
    let served = node(
        &[("index.js", js)],
        &[
            ("FUNCTION_TARGET", "onEvent"),
            ("FUNCTION_SIGNATURE_TYPE", "cloudevent"),
        ],
    );
    let r = served
        .shim
        .send(&cloud_event(r#"{"message":{"data":"aGk="}}"#));
    assert_eq!(r.status, 200, "{r}{}", served.shim);
    let line =
        r#"got google.cloud.pubsub.topic.v1.messagePublished evt-1 {"message":{"data":"aGk="}}"#;
    assert!(
        served
            .shim
            .wait_log(SLOW_START, |l| l["message"] == line)
            .is_some(),
        "{}",
        served.shim
    );
}

const PY_HTTP: &str = r#"import functions_framework
from flask import jsonify


@functions_framework.http
def hello_http(request):
    request_json = request.get_json(silent=True)
    request_args = request.args
    if request_json and "name" in request_json:
        name = request_json["name"]
    elif request_args and "name" in request_args:
        name = request_args["name"]
    else:
        name = "World"
    return f"Hello {name}!"


def hello_tuple(request):
    return jsonify(method=request.method, path=request.path, header=request.headers.get("X-Test")), 201, {"X-Custom": "yes"}
"#;

#[test]
fn python_http_functions_decorated_or_plain() {
    let served = python(
        &[("main.py", PY_HTTP)],
        &[("FUNCTION_TARGET", "hello_http")],
    );
    let r = served.shim.send(&Request::get("/?name=Ada"));
    assert_eq!(
        (r.status, r.text()),
        (200, "Hello Ada!".to_owned()),
        "{r}{}",
        served.shim
    );
    let r = served.shim.send(
        &Request::post("/")
            .header("content-type", "application/json")
            .body(r#"{"name":"Grace"}"#),
    );
    assert_eq!(r.text(), "Hello Grace!", "{r}");
    let served = python(
        &[("main.py", PY_HTTP)],
        &[("FUNCTION_TARGET", "hello_tuple")],
    );
    let r = served
        .shim
        .send(&Request::new("PUT", "/items/3").header("x-test", "t2"));
    assert_eq!(r.status, 201, "{r}{}", served.shim);
    assert_eq!(r.header("x-custom"), Some("yes"));
    assert_eq!(
        r.json(),
        json!({"method": "PUT", "path": "/items/3", "header": "t2"})
    );
}

#[test]
fn python_cloud_event_function() {
    let py = "import functions_framework\n\n\n@functions_framework.cloud_event\ndef on_event(cloud_event):\n    print(f\"got {cloud_event['type']} {cloud_event['id']} {cloud_event.data['message']['data']}\", flush=True)\n";
    let served = python(
        &[("main.py", py)],
        &[
            ("FUNCTION_TARGET", "on_event"),
            ("FUNCTION_SIGNATURE_TYPE", "cloudevent"),
        ],
    );
    let r = served
        .shim
        .send(&cloud_event(r#"{"message":{"data":"aGk="}}"#));
    assert_eq!(r.status, 200, "{r}{}", served.shim);
    let line = "got google.cloud.pubsub.topic.v1.messagePublished evt-1 aGk=";
    assert!(
        served
            .shim
            .wait_log(SLOW_START, |l| l["message"] == line)
            .is_some(),
        "{}",
        served.shim
    );
}
