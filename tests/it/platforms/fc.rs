//! Function Compute's lifecycle hooks and context headers for handler functions (custom
//! runtime / custom container). No FC runs here: the tests send the requests FC documents
//! (`POST /initialize`, `GET /pre-stop`, `GET /pre-freeze`, each with `x-fc-control-path`, and
//! `x-fc-*` headers on invocations) to real node and python workers.

use serde_json::json;

use super::*;

fn hook(method: &str, path: &str) -> Request {
    Request::new(method, path).header("x-fc-control-path", path)
}

/// Counts calls in module state: an initializer that runs once per worker, before any call.
const COUNTING_JS: &str = r#"
let inits = 0, freezes = 0, ranBeforeInit = false, initName = null;
exports.initializer = async (context) => {
  await new Promise((r) => setTimeout(r, 300));
  inits += 1;
  initName = context.functionName;
};
exports.handler = async () => {
  if (inits === 0) ranBeforeInit = true;
  return { inits, freezes, ranBeforeInit, initName };
};
exports.preFreeze = async (context) => { freezes += 1; };
exports.preStop = (context, callback) => {
  console.log(`preStop for ${context.function && context.function.name}`);
  callback(null);
};
"#;

#[test]
fn the_initializer_runs_once_before_the_first_invocation_and_pre_freeze_is_called() {
    let served = serve(&[("index.js", COUNTING_JS)], &[("FUNCTION_NAME", "orders")]);
    let r = served.shim.send(&hook("POST", "/initialize"));
    assert_eq!(r.status, 200, "{r}{}", served.shim);
    let first = json_of(&served, &Request::get("/"), 200);
    assert_eq!(
        first,
        json!({"inits": 1, "freezes": 0, "ranBeforeInit": false, "initName": "orders"})
    );
    let r = served.shim.send(&hook("GET", "/pre-freeze"));
    assert_eq!(r.status, 200, "{r}{}", served.shim);
    let again = json_of(&served, &Request::get("/"), 200);
    assert_eq!(again["inits"], 1);
    assert_eq!(again["freezes"], 1);
    // Without FC's control header, /initialize is the function's own route.
    let own = json_of(&served, &Request::post("/initialize").body("x"), 200);
    assert_eq!(own["inits"], 1);
}

#[test]
fn pre_stop_calls_the_hook_then_drains_and_exits_0() {
    let served = serve(&[("index.js", COUNTING_JS)], &[]);
    let r = served
        .shim
        .send(&hook("GET", "/pre-stop").header("x-fc-function-name", "orders"));
    assert_eq!(r.status, 200, "{r}{}", served.shim);
    assert_eq!(served.shim.wait_code(SLOW_START), 0, "{}", served.shim);
    let stderr = served.shim.stderr();
    assert!(stderr.contains("preStop for orders"), "{}", served.shim);
    assert!(stderr.contains("pre-stop: draining"), "{}", served.shim);
}

#[test]
fn a_throwing_initializer_stops_start_up_with_65() {
    let js = "exports.initializer = () => { throw new TypeError('no database'); };\nexports.handler = async () => 1;\n";
    let served = start(&[("index.js", js)], &[], &[]);
    assert_eq!(served.shim.wait_code(SLOW_START), 65, "{}", served.shim);
    assert!(
        served
            .shim
            .stderr()
            .contains("the initializer initializer threw: no database"),
        "{}",
        served.shim
    );
    let py = "def init(context):\n    raise RuntimeError('no cache')\n\ndef handler(event, context):\n    return 1\n";
    let served = start(
        &[("main.py", py)],
        &[("FUNCTION_INITIALIZER", "main.init")],
        &[],
    );
    assert_eq!(served.shim.wait_code(SLOW_START), 65, "{}", served.shim);
    assert!(
        served
            .shim
            .stderr()
            .contains("the initializer init threw: no cache"),
        "{}",
        served.shim
    );
}

const PY_CONTEXT: &str = r#"
inits = []
frozen = []

def initializer(context):
    inits.append(context.function_name)

def pre_freeze(context):
    frozen.append(context.region)

def handler(event, context):
    c = context.credentials
    return {"inits": inits, "frozen": frozen, "key": c and c.access_key_id, "secret": c and c.access_key_secret,
            "token": c and c.security_token, "function": context.function and context.function.name,
            "memory": context.function and context.function.memory, "region": context.region,
            "account": context.account_id}
"#;

const JS_CONTEXT: &str = "exports.handler = async (event, context) => ({credentials: context.credentials, function: context.function, region: context.region, accountId: context.accountId, service: context.service});\n";

fn with_fc_headers(request: Request) -> Request {
    request
        .header("x-fc-request-id", "fc-req-1")
        .header("x-fc-function-name", "orders")
        .header("x-fc-function-memory", "512")
        .header("x-fc-function-timeout", "30")
        .header("x-fc-region", "cn-hangzhou")
        .header("x-fc-account-id", "1234567")
        .header("x-fc-service-name", "shop")
        .header("x-fc-access-key-id", "STS.AKID")
        .header("x-fc-access-key-secret", "s3cr3t-VALUE")
        .header("x-fc-security-token", "tok-VALUE")
}

#[test]
fn fc_headers_fill_the_context_and_the_credentials_are_never_logged() {
    let served = serve(&[("index.js", JS_CONTEXT)], &[("LOG_LEVEL", "debug")]);
    let got = json_of(&served, &with_fc_headers(Request::get("/")), 200);
    assert_eq!(
        got,
        json!({"credentials": {"accessKeyId": "STS.AKID", "accessKeySecret": "s3cr3t-VALUE", "securityToken": "tok-VALUE"},
               "function": {"name": "orders", "memory": 512, "timeout": 30},
               "region": "cn-hangzhou", "accountId": "1234567", "service": {"name": "shop"}})
    );
    let stderr = served.shim.stderr();
    assert!(
        !stderr.contains("s3cr3t-VALUE") && !stderr.contains("tok-VALUE"),
        "{}",
        served.shim
    );
}

#[test]
fn python_gets_the_initializer_pre_freeze_and_fc_context_as_attributes() {
    let served = serve(
        &[("main.py", PY_CONTEXT)],
        &[("FUNCTION_NAME", "orders"), ("FUNCTION_WORKERS", "1")],
    );
    let r = served
        .shim
        .send(&with_fc_headers(hook("GET", "/pre-freeze")));
    assert_eq!(r.status, 200, "{r}{}", served.shim);
    let got = json_of(&served, &with_fc_headers(Request::get("/")), 200);
    assert_eq!(
        got,
        json!({"inits": ["orders"], "frozen": ["cn-hangzhou"], "key": "STS.AKID", "secret": "s3cr3t-VALUE",
               "token": "tok-VALUE", "function": "orders", "memory": 512, "region": "cn-hangzhou",
               "account": "1234567"})
    );
}

#[test]
fn a_bootstrap_gets_the_lifecycle_requests_as_they_are() {
    let function = Function::upstream(&[]);
    let shim = fnshim()
        .function(&function)
        .env("FUNCTION_PROTOCOL", "http")
        .spawn();
    let served = wait_served(Served {
        shim,
        _function: function,
        _cache: tempfile::tempdir().unwrap(),
    });
    let echo = json_of(&served, &hook("POST", "/initialize"), 200);
    assert_eq!(
        (echo["method"].clone(), echo["path"].clone()),
        (json!("POST"), json!("/initialize"))
    );
    assert!(
        echo["headers"]
            .as_array()
            .unwrap()
            .contains(&json!(["x-fc-control-path", "/initialize"])),
        "{echo}"
    );
    let echo = json_of(&served, &hook("GET", "/pre-stop"), 200);
    assert_eq!(echo["path"], "/pre-stop");
    assert!(
        served.shim.try_status().is_none(),
        "a bootstrap's pre-stop is its own{}",
        served.shim
    );
}

#[test]
fn f_yml_names_each_functions_initializer() {
    let fyml = "functions:\n  orders:\n    handler: orders.handler\n    initializer: orders.setup\n    events:\n      - http: { path: /orders }\n  users:\n    handler: users.handler\n    events:\n      - http: { path: /users }\n";
    let orders = "let ready = 'no';\nexports.setup = async () => { ready = 'set up'; };\nexports.initializer = async () => { ready = 'wrong export'; };\nexports.handler = async () => ({ready});\n";
    let users = "let ready = 'no';\nexports.initializer = async () => { ready = 'by default name'; };\nexports.handler = async () => ({ready});\n";
    let served = serve(
        &[("f.yml", fyml), ("orders.js", orders), ("users.js", users)],
        &[],
    );
    assert_eq!(
        json_of(&served, &Request::get("/orders"), 200),
        json!({"ready": "set up"})
    );
    assert_eq!(
        json_of(&served, &Request::get("/users"), 200),
        json!({"ready": "by default name"})
    );
}

#[test]
fn an_initializer_past_init_timeout_stops_start_up_with_65() {
    let js =
        "exports.initializer = () => new Promise(() => {});\nexports.handler = async () => 1;\n";
    let served = start(&[("index.js", js)], &[("INIT_TIMEOUT", "1s")], &[]);
    assert_eq!(served.shim.wait_code(SLOW_START), 65, "{}", served.shim);
    assert!(
        served.shim.stderr().contains("INIT_TIMEOUT"),
        "{}",
        served.shim
    );
}

/// A Lambda Runtime API client that appends each event it gets to `events.log` in its folder.
const RECORDING_RUNTIME: &str = r#"#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], r.read().decode()
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "events.log"), "a") as f:
        f.write(event + "\n")
    urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=b"null", method="POST")).read()
"#;

#[test]
fn a_runtime_api_bootstrap_has_no_hooks_and_pre_stop_drains_it() {
    let function = Function::with_bootstrap(RECORDING_RUNTIME, 0o755);
    let events = function.path().join("events.log");
    let shim = fnshim()
        .function(&function)
        .env("FUNCTION_PROTOCOL", "lambda")
        .env("FUNCTION_WORKERS", "1")
        .spawn();
    let served = wait_served(Served {
        shim,
        _function: function,
        _cache: tempfile::tempdir().unwrap(),
    });
    let r = served.shim.send(&hook("GET", "/pre-freeze"));
    assert_eq!(
        (r.status, r.text()),
        (200, String::new()),
        "{r}{}",
        served.shim
    );
    let r = served.shim.send(
        &Request::post("/invoke")
            .header("content-type", "application/json")
            .body(r#"{"n":1}"#),
    );
    assert_eq!(r.status, 200, "{r}{}", served.shim);
    let r = served.shim.send(&hook("GET", "/pre-stop"));
    assert_eq!(r.status, 200, "{r}{}", served.shim);
    assert_eq!(served.shim.wait_code(SLOW_START), 0, "{}", served.shim);
    // Only the /invoke event reached the bootstrap: the hooks were not handed to it as events.
    assert_eq!(
        std::fs::read_to_string(&events).unwrap(),
        "{\"n\":1}\n",
        "{}",
        served.shim
    );
}
