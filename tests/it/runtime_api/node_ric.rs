//! `aws-lambda-ric` (npm, with its native addon) as a bootstrap: HTTP events, raw events,
//! errors, and boto3's Invoke calls. scripts/test.sh installs it under target/lambda-clients.

use super::*;

/// `aws-lambda-ric index.handler` over `tests/fixtures/lambda/index.js`.
fn node_ric_function() -> Function {
    let ric = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/lambda-clients/node_modules/.bin/aws-lambda-ric");
    assert!(
        ric.exists(),
        "{} is missing: scripts/test.sh installs aws-lambda-ric there",
        ric.display()
    );
    let script = format!("#!/bin/sh\nexec '{}' index.handler\n", ric.display());
    let f = Function::with_bootstrap(&script, 0o755);
    let app = std::fs::read_to_string(fixture("lambda/index.js")).unwrap();
    f.write("index.js", &app, 0o644);
    f
}

#[test]
fn node_ric_serves_http_and_raw_events_and_reports_errors() {
    let f = node_ric_function();
    let shim = serve(
        &f,
        &[("FUNCTION_NAME", "noderic"), ("FUNCTION_WORKERS", "2")],
    );
    let r = shim.get("/hello?x=1");
    let body = ok_json(&r, &shim);
    assert_eq!(r.header("x-runtime"), Some("aws-lambda-ric"), "{r}");
    assert_eq!(body["path"], "/hello", "{r}");
    assert_eq!(body["requestId"].as_str(), r.header("x-request-id"), "{r}");
    assert_eq!(
        body["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:noderic"
    );
    let event = serde_json::json!({"action": "echo", "list": [1]});
    assert_eq!(ok_json(&invoke(&shim, &event), &shim)["event"], event);
    let r = invoke(&shim, &serde_json::json!({"action": "fail"}));
    assert_eq!(r.status, 500, "{r}{shim}");
    assert_eq!(r.json()["errorType"], "TypeError", "{r}");
    assert!(
        r.json()["stackTrace"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{r}"
    );
    let statuses = concurrently(&shim, 64, "/many");
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}\n{shim}");
}

#[test]
fn node_ric_answers_boto3() {
    let f = node_ric_function();
    let shim = serve(&f, &[("FUNCTION_NAME", "noderic")]);
    let calls = super::boto3::boto3_calls(&shim, "noderic");
    let sync = &calls["sync"];
    assert_eq!(sync["status"], 200, "{sync}{shim}");
    assert_eq!(sync["payload"]["event"]["n"], 1, "{sync}");
    assert_eq!(
        sync["payload"]["custom"],
        serde_json::json!({"k": "v"}),
        "{sync}"
    );
    assert_eq!(calls["event"]["status"], 202);
    assert_eq!(calls["dryrun"]["status"], 204);
    assert_eq!(
        calls["error"]["functionError"], "Unhandled",
        "{}",
        calls["error"]
    );
    assert_eq!(calls["error"]["payload"]["errorType"], "TypeError");
    assert_eq!(calls["unknown"]["error"], "ResourceNotFoundException");
}
