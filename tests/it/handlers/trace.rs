//! Trace context: W3C `traceparent`/`tracestate` and `X-Amzn-Trace-Id` from the request (or a
//! trace fnshim starts) in the handler's context, `_X_AMZN_TRACE_ID` during the call only, and
//! the trace id in the invocation's log line.

use super::*;
use crate::support::traceparent_ids;

const JS: &str = r#"
import process from 'node:process';
let after = 'pending';
export async function handler(event, context) {
  if (event && event.after) return { after };
  const seen = process.env._X_AMZN_TRACE_ID ?? null;
  // A timer runs once the invocation has ended: what is the variable then?
  setTimeout(() => { after = process.env._X_AMZN_TRACE_ID ?? null; }, 0);
  return { traceId: context.traceId, traceparent: context.traceparent,
    tracestate: context.tracestate ?? null, amzn: context.amznTraceId, seen };
}
"#;

const PY: &str = r#"
import os, threading, time
after = {"value": "pending"}

def watch(seen):
    # The first change of the variable after this call: its end, if it is restored then.
    deadline = time.monotonic() + 30
    while os.environ.get("_X_AMZN_TRACE_ID") == seen and time.monotonic() < deadline:
        time.sleep(0.001)
    after["value"] = os.environ.get("_X_AMZN_TRACE_ID")

def handler(event, context):
    if event.get("after"):
        return {"after": after["value"]}
    seen = os.environ.get("_X_AMZN_TRACE_ID")
    if event.get("watch"):
        threading.Thread(target=watch, args=(seen,), daemon=True).start()
    return {"traceId": context.trace_id, "traceparent": context.traceparent,
            "tracestate": context.tracestate, "amzn": context.amzn_trace_id, "seen": seen}
"#;

fn source(lang: Lang) -> String {
    match lang {
        Lang::Node => JS.to_owned(),
        Lang::Deno => JS
            .replace(
                "let after = 'pending';",
                "let after: string | null = 'pending';",
            )
            .replace(
                "handler(event, context)",
                "handler(event: any, context: any)",
            ),
        Lang::Python => PY.to_owned(),
    }
}

const GIVEN_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const GIVEN: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn invoke_with(served: &Served, headers: &[(&str, &str)], event: &Value) -> Response {
    let mut request = Request::post("/invoke").header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    served.send(&request.body(event.to_string()))
}

fn trace_context_from_the_request(lang: Lang) {
    // One worker: the calls that ask what the variable became must reach the worker that ran
    // the traced call (with Python's two, the traced call could go to the first one ready and
    // every later one to the other, which never saw it).
    let served = serve(
        &[(lang.entry(), &source(lang))],
        &[("FUNCTION_WORKERS", "1")],
    );
    let headers = [("traceparent", GIVEN), ("tracestate", "congo=t61rcWkgMzE")];
    let r = invoke_with(&served, &headers, &json!({"watch": true}));
    let j = ok_json(&r, &served);
    assert_eq!(j["traceId"], GIVEN_ID, "{r}{served}");
    assert_eq!(j["traceparent"], GIVEN, "{r}{served}");
    assert_eq!(j["tracestate"], "congo=t61rcWkgMzE", "{r}{served}");
    let amzn = "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1";
    assert_eq!(j["amzn"], amzn, "X-Ray's form of the trace{r}{served}");
    assert_eq!(
        j["seen"], amzn,
        "_X_AMZN_TRACE_ID during the call{r}{served}"
    );
    let after = wait_for(RECOVERY, || {
        let j = ok_json(&invoke(&served, &json!({"after": true})), &served);
        (j["after"] != "pending").then(|| j["after"].clone())
    });
    assert_eq!(
        after,
        Some(Value::Null),
        "_X_AMZN_TRACE_ID after the call{served}"
    );

    // No trace header: fnshim starts one, new for each request, and logs its id.
    let r = invoke(&served, &json!({}));
    let j = ok_json(&r, &served);
    let made = j["traceparent"].as_str().unwrap_or_default();
    let (id, _) = traceparent_ids(made).unwrap_or_else(|| panic!("not valid: {made}{r}{served}"));
    assert_eq!(j["traceId"], id.as_str(), "{r}{served}");
    assert_ne!(id, GIVEN_ID, "{r}{served}");
    assert_eq!(j["tracestate"], Value::Null, "{r}{served}");
    assert_eq!(j["seen"], j["amzn"], "{r}{served}");
    assert_ne!(j["seen"], amzn, "{r}{served}");
    let rid = r.header("x-request-id").unwrap_or_default().to_owned();
    let line = served.wait_log(Duration::from_secs(10), |l| {
        l["message"] == "invocation" && l["request_id"] == rid.as_str()
    });
    let line = line.unwrap_or_else(|| panic!("no invocation line for {rid}{served}"));
    assert_eq!(line["trace_id"], id.as_str(), "{line}{served}");
    let again = ok_json(&invoke(&served, &json!({})), &served);
    assert_ne!(again["traceId"], j["traceId"], "{again}{served}");

    // X-Ray's header alone: the same trace in W3C form.
    let xray = "Root=1-5e1b4151-5ac6c58f5ac6c58f5ac6c58f;Parent=53995c3f42cd8ad8;Sampled=0";
    let r = invoke_with(&served, &[("X-Amzn-Trace-Id", xray)], &json!({}));
    let j = ok_json(&r, &served);
    assert_eq!(
        j["traceId"], "5e1b41515ac6c58f5ac6c58f5ac6c58f",
        "{r}{served}"
    );
    assert_eq!(
        j["traceparent"], "00-5e1b41515ac6c58f5ac6c58f5ac6c58f-53995c3f42cd8ad8-00",
        "{r}{served}"
    );
    assert_eq!(
        (&j["amzn"], &j["seen"]),
        (&json!(xray), &json!(xray)),
        "{r}{served}"
    );
}
per_language!(trace_context_from_the_request);
