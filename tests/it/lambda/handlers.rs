//! Handler workers behind the Lambda client: raw and API Gateway events, the context from the
//! Runtime API's headers, thrown errors, timeouts and crashes, in node, deno and python.

use super::*;

#[derive(Clone, Copy, Debug)]
pub enum Lang {
    Node,
    Deno,
    Python,
}

const HANDLER_JS: &str = r#"
import process from 'node:process';

export async function handler(event, context) {
  const action = event?.action;
  if (action === 'throw') throw new TypeError('boom');
  if (action === 'sleep') await new Promise((resolve) => setTimeout(resolve, 20000));
  if (action === 'crash') process.exit(3);
  const path = event?.path ?? event?.rawPath;
  if (path) {
    return {
      statusCode: 201,
      headers: { 'content-type': 'application/json', 'x-path': path },
      multiValueHeaders: { 'set-cookie': ['a=1', 'b=2'] },
      body: JSON.stringify({ path, body: event.body, base64: event.isBase64Encoded }),
    };
  }
  return {
    event,
    context: {
      requestId: context.awsRequestId, deadlineMs: context.deadlineMs, arn: context.invokedFunctionArn,
      traceEnv: process.env._X_AMZN_TRACE_ID ?? null, functionName: context.functionName,
      functionVersion: context.functionVersion, memory: context.memoryLimitInMB,
      amzn: context.amznTraceId, traceId: context.traceId,
    },
  };
}
"#;

const HANDLER_PY: &str = r#"
import json
import os
import time

def handler(event, context):
    action = event.get("action") if isinstance(event, dict) else None
    if action == "throw":
        raise ValueError("boom")
    if action == "sleep":
        time.sleep(20)
    if action == "crash":
        os._exit(3)
    path = (event.get("path") or event.get("rawPath")) if isinstance(event, dict) else None
    if path:
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-path": path},
            "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},
            "body": json.dumps({"path": path, "body": event.get("body"), "base64": event.get("isBase64Encoded")}),
        }
    return {"event": event, "context": {
        "requestId": context.aws_request_id, "deadlineMs": context.deadline_ms,
        "arn": context.invoked_function_arn, "traceEnv": os.environ.get("_X_AMZN_TRACE_ID"),
        "functionName": context.function_name, "functionVersion": context.function_version,
        "memory": context.memory_limit_in_mb,
        "amzn": context.amzn_trace_id, "traceId": context.trace_id,
    }}
"#;

impl Lang {
    fn files(self) -> (&'static str, String) {
        match self {
            Lang::Node => ("index.mjs", HANDLER_JS.to_string()),
            Lang::Deno => (
                "index.ts",
                HANDLER_JS.replace(
                    "handler(event, context)",
                    "handler(event: any, context: any)",
                ),
            ),
            Lang::Python => ("main.py", HANDLER_PY.to_string()),
        }
    }

    fn thrown_type(self) -> &'static str {
        match self {
            Lang::Python => "ValueError",
            _ => "TypeError",
        }
    }
}

/// A function in `lang` polled by fnshim under a fresh emulator, ready for invocations.
struct Running {
    shim: Shim,
    emulator: Emulator,
    _function: Function,
    _cache: tempfile::TempDir,
}

fn running(lang: Lang, timeout: &str) -> Running {
    let emulator = Emulator::start();
    let function = Function::empty();
    let (entry, text) = lang.files();
    write_all(&function, &[(entry, &text)]);
    let cache = cache_dir();
    let shim = in_lambda(&emulator, &cache)
        .env("LAMBDA_TASK_ROOT", function.path().to_str().unwrap())
        .env("FUNCTION_TIMEOUT", timeout)
        // One worker (Python's default is one per CPU): with two, the event after a crash
        // may go to the other one, still stuck in the timed-out `sleep` and about to be
        // replaced, and fail with it.
        .env("FUNCTION_WORKERS", "1")
        .spawn();
    wait_polling(&shim, SLOW_START);
    Running {
        shim,
        emulator,
        _function: function,
        _cache: cache,
    }
}

fn raw_events_get_the_runtime_api_context(lang: Lang) {
    let Running {
        shim,
        emulator,
        _function,
        _cache,
    } = running(lang, "30s");
    let before = epoch_ms_now();
    let response = emulator.invoke(&json!({"key": "value", "n": [1, 2]}));
    assert_eq!(response.status, 200, "{response}{shim}");
    let got = answer(&response, &shim);
    assert_eq!(got["event"], json!({"key": "value", "n": [1, 2]}), "{shim}");
    let context = &got["context"];
    // The invocation's line is read from fnshim's stderr by the test's reader thread: wait.
    let logged = wait_for(STARTUP, || {
        Some(invocations(&shim)).filter(|l| !l.is_empty())
    });
    let logged = logged.unwrap_or_else(|| panic!("no invocation line{shim}"));
    assert_eq!(context["requestId"], logged[0]["request_id"], "{got}{shim}");
    assert_eq!(context["arn"], "function-arn");
    assert!(
        context["traceEnv"]
            .as_str()
            .is_some_and(|t| t.starts_with("Root=")),
        "{got}"
    );
    // Lambda's trace header is _X_AMZN_TRACE_ID and `amznTraceId`; its id is in the log line.
    assert_eq!(context["amzn"], context["traceEnv"], "{got}");
    assert!(context["traceId"].is_string(), "{got}");
    assert_eq!(logged[0]["trace_id"], context["traceId"], "{got}{shim}");
    assert_eq!(context["functionName"], "orders");
    assert_eq!(context["functionVersion"], "3");
    assert_eq!(context["memory"], 256);
    // The emulator's deadline is a relative 600000: FUNCTION_TIMEOUT (30 s) applies, once warned.
    let deadline = context["deadlineMs"].as_u64().unwrap();
    assert!(
        deadline >= before + 25_000 && deadline <= epoch_ms_now() + 30_000,
        "{got}"
    );
    let second = emulator.invoke(&json!("plain"));
    assert_eq!(answer(&second, &shim)["event"], "plain", "{shim}");
    let warnings = shim
        .logs()
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Lambda-Runtime-Deadline-Ms"))
        })
        .count();
    assert_eq!(warnings, 1, "{shim}");
}
per_language!(raw_events_get_the_runtime_api_context);

fn api_gateway_events_get_their_integration_response(lang: Lang) {
    let Running {
        shim,
        emulator,
        _function,
        _cache,
    } = running(lang, "30s");
    let v1 = answer(&emulator.invoke(&api_v1("/orders/7")), &shim);
    assert_eq!(v1["statusCode"], 201, "{v1}{shim}");
    assert_eq!(v1["headers"]["x-path"], "/orders/7");
    assert_eq!(
        v1["multiValueHeaders"]["set-cookie"],
        json!(["a=1", "b=2"]),
        "{v1}"
    );
    let body: Value = serde_json::from_str(v1["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"path": "/orders/7", "body": "hello v1", "base64": false})
    );
    let v2 = answer(&emulator.invoke(&api_v2("/items")), &shim);
    assert_eq!(v2["statusCode"], 201, "{v2}{shim}");
    assert_eq!(v2["cookies"], json!(["a=1", "b=2"]), "{v2}");
    assert!(v2.get("multiValueHeaders").is_none(), "{v2}");
    let body: Value = serde_json::from_str(v2["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"path": "/items", "body": "AAEC/w==", "base64": true})
    );
}
per_language!(api_gateway_events_get_their_integration_response);

fn errors_timeouts_and_crashes_are_the_invocations_errors(lang: Lang) {
    let Running {
        shim,
        emulator,
        _function,
        _cache,
    } = running(lang, "4s");
    let thrown = emulator.invoke(&json!({"action": "throw"}));
    assert_eq!(thrown.status, 500, "{thrown}{shim}");
    let error = answer(&thrown, &shim);
    assert_eq!(error["errorType"], lang.thrown_type(), "{error}");
    assert_eq!(error["errorMessage"], "boom");
    assert!(error["stackTrace"].is_array());
    let slow = answer(&emulator.invoke(&json!({"action": "sleep"})), &shim);
    assert_eq!(slow["errorType"], "Sandbox.Timedout", "{slow}{shim}");
    let crashed = answer(&emulator.invoke(&json!({"action": "crash"})), &shim);
    assert_eq!(crashed["errorType"], "Runtime.ExitError", "{crashed}{shim}");
    let after = emulator.invoke(&json!({"after": "crash"}));
    assert_eq!(after.status, 200, "{after}{shim}");
    assert_eq!(answer(&after, &shim)["event"], json!({"after": "crash"}));
    assert!(shim.try_status().is_none(), "fnshim stopped polling{shim}");
}
per_language!(errors_timeouts_and_crashes_are_the_invocations_errors);

/// A fetch-style module (`export default { fetch }`) gets a Request for an HTTP event.
const FETCH_JS: &str = r#"
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const headers = new Headers({ 'content-type': 'text/plain' });
    headers.append('set-cookie', 'a=1');
    headers.append('set-cookie', 'b=2');
    const text = `${request.method} ${url.pathname}${url.search} cookie=${request.headers.get('cookie')} body=${(await request.arrayBuffer()).byteLength}`;
    return new Response(text, { status: 202, headers });
  },
};
"#;

#[test]
fn fetch_style_handlers_get_a_request_for_http_events() {
    let emulator = Emulator::start();
    let function = Function::empty();
    write_all(&function, &[("index.mjs", FETCH_JS)]);
    let cache = cache_dir();
    let shim = in_lambda(&emulator, &cache)
        .env("FUNCTION_PATH", function.path().to_str().unwrap())
        .spawn();
    wait_polling(&shim, SLOW_START);
    let v2 = answer(&emulator.invoke(&api_v2("/items")), &shim);
    assert_eq!(v2["statusCode"], 202, "{v2}{shim}");
    assert_eq!(
        v2["body"], "PUT /items?id=1&id=2 cookie=s=1; t=2 body=4",
        "{v2}"
    );
    assert_eq!(v2["cookies"], json!(["a=1", "b=2"]), "{v2}");
    let v1 = answer(&emulator.invoke(&api_v1("/orders/7")), &shim);
    assert_eq!(
        v1["multiValueHeaders"]["set-cookie"],
        json!(["a=1", "b=2"]),
        "{v1}"
    );
    assert!(
        v1["body"].as_str().unwrap().starts_with("POST /orders/7?"),
        "{v1}"
    );
}
