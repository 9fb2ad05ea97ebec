//! Azure Functions custom handlers (FUNCTIONS_CUSTOMHANDLER_PORT). No Functions host runs
//! here: each test POSTs `/{FunctionName}` with a payload in the shape the custom-handler
//! documentation gives (`{"Data": {binding: ...}, "Metadata": {...}}`) and checks the answer
//! the host reads (`{"Outputs", "Logs", "ReturnValue"}`), through examples/azure-node and
//! small functions, with real node and python workers.

use serde_json::json;

use super::*;

pub(super) const AZURE: (&str, &str) = ("FUNCTIONS_CUSTOMHANDLER_PORT", "0");

/// fnshim serving examples/azure-node as the custom handler.
fn example() -> Served {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/azure-node");
    let cache = tempfile::Builder::new()
        .prefix("fnshim-cache-")
        .tempdir()
        .unwrap();
    let shim = fnshim()
        .env("FUNCTION_PATH", folder.to_str().unwrap())
        .env("CACHE_DIR", cache.path().to_str().unwrap())
        .env(AZURE.0, AZURE.1)
        .spawn();
    wait_served(Served {
        shim,
        _function: Function::empty(),
        _cache: cache,
    })
}

/// The host's request for function `name`.
pub(super) fn payload(name: &str, payload: &Value) -> Request {
    Request::post(&format!("/{name}"))
        .header("Content-Type", "application/json")
        .header("x-azure-functions-invocationid", "inv-1")
        .body(payload.to_string())
}

/// An HTTP trigger's binding as the host sends it.
pub(super) fn http_binding(method: &str, url: &str, headers: Value, body: Value) -> Value {
    json!({
        "Data": {"req": {"Url": url, "Method": method, "Query": {}, "Headers": headers,
                         "Params": {}, "Identities": [], "Body": body}},
        "Metadata": {"sys": {"MethodName": "HttpHello", "UtcNow": "2026-12-02T03:00:00Z"}}
    })
}

/// The HTTP answer in the `res` output binding, its body parsed.
fn res_of(answer: &Value) -> (u64, Value) {
    let res = &answer["Outputs"]["res"];
    let body = res["body"]
        .as_str()
        .unwrap_or_else(|| panic!("no body in {answer}"));
    (
        res["statusCode"].as_u64().unwrap(),
        serde_json::from_str(body).unwrap(),
    )
}

#[test]
fn an_http_trigger_get_with_a_query_and_a_post_of_json() {
    let served = example();
    let get = http_binding(
        "GET",
        "http://localhost:7071/api/HttpHello?name=Ada",
        json!({"Accept": ["*/*"]}),
        Value::Null,
    );
    let answer = json_of(&served, &payload("HttpHello", &get), 200);
    assert_eq!(answer["ReturnValue"], Value::Null, "{answer}");
    assert_eq!(
        answer["Outputs"]["res"]["headers"]["content-type"],
        "application/json"
    );
    let (status, body) = res_of(&answer);
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"message": "Hello, Ada, from Azure Functions behind fnshim", "method": "GET",
               "path": "/api/HttpHello", "contentType": null, "bodyBytes": 0, "json": null,
               "invocationId": "inv-1"})
    );
    let post = http_binding(
        "POST",
        "http://localhost:7071/api/HttpHello",
        json!({"Content-Type": ["application/json"]}),
        json!("{\"order\":42}"),
    );
    let (status, body) = res_of(&json_of(&served, &payload("HttpHello", &post), 200));
    assert_eq!(status, 200);
    assert_eq!(
        (body["method"].clone(), body["json"].clone()),
        (json!("POST"), json!({"order": 42}))
    );
    assert_eq!(body["bodyBytes"], 12);
}

#[test]
fn a_binary_body_arrives_as_its_bytes() {
    let served = example();
    // 0x00 0xff 0x10 0x80, base64 in the payload as the content type is binary.
    let post = http_binding(
        "POST",
        "http://localhost:7071/api/HttpHello",
        json!({"Content-Type": ["application/octet-stream"]}),
        json!("AP8QgA=="),
    );
    let (_, body) = res_of(&json_of(&served, &payload("HttpHello", &post), 200));
    assert_eq!(body["bodyBytes"], 4, "{body}");
    assert_eq!(body["contentType"], "application/octet-stream");
}

#[test]
fn a_timer_trigger_is_a_raw_event_and_its_result_the_return_value() {
    let served = example();
    let timer = json!({
        "Data": {"myTimer": {"Schedule": {"AdjustForDST": true},
                 "ScheduleStatus": {"Last": "2026-12-02T02:55:00Z", "Next": "2026-12-02T03:05:00Z",
                                    "LastUpdated": "2026-12-02T02:55:00Z"},
                 "IsPastDue": true}},
        "Metadata": {"sys": {"MethodName": "TimerTick", "UtcNow": "2026-12-02T03:00:00Z"}}
    });
    let answer = json_of(&served, &payload("TimerTick", &timer), 200);
    assert_eq!(
        answer,
        json!({"Outputs": {}, "Logs": ["tick: past due true", "tick for TimerTick"],
               "ReturnValue": {"ticked": true, "pastDue": true, "next": "2026-12-02T03:05:00Z"}})
    );
}

#[test]
fn a_name_outside_the_layout_is_404_and_a_handler_error_fails_the_invocation() {
    let served = example();
    let timer = json!({"Data": {"myTimer": {}}, "Metadata": {}});
    let r = served.shim.send(&payload("Nope", &timer));
    assert_eq!(r.status, 404, "{r}{}", served.shim);
    assert!(
        r.json()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("HttpHello, TimerTick"),
        "{r}"
    );
    let thrower = "def handler(event, context):\n    raise ValueError('bad order ' + str(event['data']['item']))\n";
    let served = serve(&[("main.py", thrower)], &[AZURE]);
    let queue = json!({"Data": {"item": 7}, "Metadata": {"DequeueCount": 1}});
    let error = json_of(&served, &payload("Orders", &queue), 500);
    assert_eq!(
        (error["errorType"].clone(), error["errorMessage"].clone()),
        (json!("ValueError"), json!("bad order 7"))
    );
}

#[test]
fn f_yml_functions_are_selected_by_name() {
    let fyml = "functions:\n  orders:\n    handler: orders.handler\n  users:\n    handler: users.handler\n";
    let orders = "exports.handler = async (event, context) => ({who: 'orders', name: context.azureFunctionName, got: event.data.q});\n";
    let users =
        "exports.handler = async (event) => ({statusCode: 200, body: 'users ' + event.path});\n";
    let served = serve(
        &[("f.yml", fyml), ("orders.js", orders), ("users.js", users)],
        &[AZURE],
    );
    let queue = json!({"Data": {"q": "m1"}, "Metadata": {}});
    let answer = json_of(&served, &payload("orders", &queue), 200);
    assert_eq!(
        answer["ReturnValue"],
        json!({"who": "orders", "name": "orders", "got": "m1"})
    );
    let get = http_binding("GET", "http://h/api/users/7", json!({}), Value::Null);
    let answer = json_of(&served, &payload("users", &get), 200);
    assert_eq!(
        answer["Outputs"]["res"]["body"], "users /api/users/7",
        "{answer}"
    );
    let r = served.shim.send(&payload("billing", &queue));
    assert_eq!(r.status, 404, "{r}");
}

/// A bootstrap that speaks the custom-handler protocol itself: it listens on its
/// FUNCTIONS_CUSTOMHANDLER_PORT and answers the payload in the host's shape.
const AZURE_BOOTSTRAP: &str = r#"#!/usr/bin/env python3
import json, os
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        same = os.environ['FUNCTIONS_CUSTOMHANDLER_PORT'] == os.environ['PORT']
        body = json.dumps({'Outputs': {}, 'Logs': [], 'ReturnValue': {'path': self.path, 'data': payload['Data'], 'samePort': same}}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
HTTPServer(('127.0.0.1', int(os.environ['FUNCTIONS_CUSTOMHANDLER_PORT'])), H).serve_forever()
"#;

#[test]
fn a_bootstrap_gets_the_payloads_as_they_are_on_its_private_port() {
    let function = Function::with_bootstrap(AZURE_BOOTSTRAP, 0o755);
    let shim = fnshim()
        .function(&function)
        .env(AZURE.0, AZURE.1)
        .env("FUNCTION_PROTOCOL", "http")
        .spawn();
    let served = wait_served(Served {
        shim,
        _function: function,
        _cache: tempfile::tempdir().unwrap(),
    });
    let queue = json!({"Data": {"item": 3}, "Metadata": {}});
    let answer = json_of(&served, &payload("Orders", &queue), 200);
    assert_eq!(
        answer["ReturnValue"],
        json!({"path": "/Orders", "data": {"item": 3}, "samePort": true})
    );
}
