//! An Azure Functions app whose `<Name>/function.json` folders hold their own code: each
//! folder is a function with its own workers (node and python side by side), selected by the
//! `FunctionName` of the host's path, and each answer's `Logs` holds that invocation's lines
//! (console.*, context.log, print, stderr, context.logger) and no other's. Payloads in the
//! shapes the custom-handler documentation gives; no Functions host runs here.

use serde_json::json;

use super::azure::{http_binding, payload, AZURE};
use super::*;

const HELLO_JSON: &str = r#"{"bindings": [
  {"type": "httpTrigger", "direction": "in", "name": "req", "methods": ["get"]},
  {"type": "http", "direction": "out", "name": "res"}]}"#;

/// Node, one worker: `?wait=1` logs, waits until a second invocation releases it, logs again.
const HELLO_JS: &str = r#"console.log('loading hello'); // no invocation's line
let release;
const released = new Promise((resolve) => { release = resolve; });
exports.handler = async (event, context) => {
  const q = event.queryStringParameters || {};
  if (q.wait) {
    console.log(`${q.name} begins`);
    await released;
    context.log(`${q.name} ends`);
  } else {
    console.warn(`${q.name} releases`);
    release();
  }
  return { statusCode: 200, body: `hello from node, ${context.functionName}` };
};
"#;

const ORDERS_JSON: &str = r#"{"bindings": [
  {"type": "queueTrigger", "direction": "in", "name": "order", "queueName": "orders"}]}"#;

const ORDERS_PY: &str = r#"import logging, sys
logging.basicConfig(format="%(levelname)s %(message)s")  # its handler writes to sys.stderr
print("loading orders")  # no invocation's line

def handler(event, context):
    item = event["data"]["order"]["item"]
    print("order", item)
    print("to stderr", file=sys.stderr)
    context.logger.info("logged %s", item)
    logging.warning("careful with %s", item)
    sys.stdout.write("partial ")
    sys.stdout.write("line")  # no newline: its invocation's end ends it
    return {"who": "python orders", "name": context.function_name, "item": item}
"#;

/// `scriptFile` and `entryPoint` name a file and export outside the folder.
const GREET_JSON: &str = r#"{"scriptFile": "../lib/greet.js", "entryPoint": "greet", "bindings": [
  {"type": "httpTrigger", "direction": "in", "name": "req", "route": "greet/{who:alpha}"},
  {"type": "http", "direction": "out", "name": "$return"}]}"#;

const GREET_JS: &str = "exports.greet = async (event, context) => ({statusCode: 200, body: `greetings, ${(event.pathParameters || {}).who || 'nobody'}, from ${context.functionName}`});\n";

fn app() -> Served {
    serve(
        &[
            ("host.json", r#"{"version": "2.0"}"#),
            ("Hello/function.json", HELLO_JSON),
            ("Hello/index.js", HELLO_JS),
            ("Orders/function.json", ORDERS_JSON),
            ("Orders/main.py", ORDERS_PY),
            ("Greet/function.json", GREET_JSON),
            ("lib/greet.js", GREET_JS),
        ],
        &[AZURE],
    )
}

fn order(item: u64) -> Value {
    json!({"Data": {"order": {"item": item}}, "Metadata": {"DequeueCount": 1}})
}

fn get(url: &str) -> Value {
    http_binding("GET", url, json!({}), Value::Null)
}

#[test]
fn each_folder_runs_its_own_code_selected_by_function_name() {
    let served = app();
    let hello = json_of(
        &served,
        &payload("Hello", &get("http://h/api/Hello?name=x")),
        200,
    );
    assert_eq!(
        hello["Outputs"]["res"]["body"], "hello from node, Hello",
        "{hello}"
    );
    let orders = json_of(&served, &payload("Orders", &order(7)), 200);
    assert_eq!(
        orders["ReturnValue"],
        json!({"who": "python orders", "name": "Orders", "item": 7})
    );
    let greet = json_of(
        &served,
        &payload("Greet", &get("http://h/api/greet/ada")),
        200,
    );
    assert_eq!(greet["ReturnValue"]["statusCode"], 200, "{greet}");
    assert_eq!(greet["Outputs"], json!({}), "{greet}");
    // A request the host forwards as it is goes by the function's route.
    let forwarded = served.shim.send(&Request::get("/api/greet/ada"));
    assert_eq!(forwarded.status, 200, "{forwarded}{}", served.shim);
    assert_eq!(forwarded.text(), "greetings, ada, from Greet");
    let r = served.shim.send(&payload("Nope", &order(1)));
    assert_eq!(r.status, 404, "{r}{}", served.shim);
    let message = r.json()["errorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("Greet, Hello, Orders"), "{message}");
}

#[test]
fn logs_hold_the_lines_of_their_own_invocation_only() {
    let served = app();
    let first = json_of(&served, &payload("Orders", &order(7)), 200);
    assert_eq!(
        first["Logs"],
        json!([
            "order 7",
            "to stderr",
            "logged 7",
            "WARNING careful with 7",
            "partial line"
        ]),
        "{first}"
    );
    let second = json_of(&served, &payload("Orders", &order(8)), 200);
    assert_eq!(
        second["Logs"],
        json!([
            "order 8",
            "to stderr",
            "logged 8",
            "WARNING careful with 8",
            "partial line"
        ])
    );
    // Two node invocations at once on one worker, their lines interleaved there.
    let port = served.shim.port();
    let waiting = std::thread::spawn(move || {
        let request = payload("Hello", &get("http://h/api/Hello?name=A&wait=1"));
        Conn::connect(port).and_then(|mut c| c.request(&request))
    });
    let begun = wait_for(SLOW_START, || {
        let logs = served.shim.logs();
        logs.iter()
            .any(|l| l["message"] == "A begins")
            .then_some(())
    });
    assert!(begun.is_some(), "A never began{}", served.shim);
    let releasing = json_of(
        &served,
        &payload("Hello", &get("http://h/api/Hello?name=B")),
        200,
    );
    assert_eq!(releasing["Logs"], json!(["B releases"]), "{releasing}");
    let waited = waiting.join().unwrap().unwrap();
    assert_eq!(waited.status, 200, "{waited}{}", served.shim);
    assert_eq!(waited.json()["Logs"], json!(["A begins", "A ends"]));
    // The lines are still the shim's log lines, with their request ids (read from fnshim's
    // stderr on a thread of this test's: waited for).
    let logged = served.shim.wait_log(SLOW_START, |l| {
        l["message"] == "order 7" && l["request_id"].is_string()
    });
    assert!(logged.is_some(), "{}", served.shim);
}

#[test]
fn a_layout_with_code_in_some_folders_only_is_refused() {
    let served = start(
        &[
            ("Hello/function.json", HELLO_JSON),
            ("Hello/index.js", HELLO_JS),
            ("Tick/function.json", ORDERS_JSON),
        ],
        &[AZURE],
        &[],
    );
    served.shim.expect_exit(65, SLOW_START);
    let stderr = served.shim.stderr();
    assert!(stderr.contains("Tick has no handler file"), "{stderr}");
}
