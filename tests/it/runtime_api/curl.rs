//! The sh + curl custom runtime of AWS's tutorial: HTTP events and raw events through
//! `/next`, `/response` and `/error`, its headers, a timeout, `/init/error`, detection.

use base64::Engine;

use super::*;
use crate::support::STARTUP;

fn decoded_event(body: &Value) -> Value {
    let b64 = body["event"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn curl_bootstrap_serves_http_events_with_the_runtime_headers() {
    let f = curl_function();
    let shim = serve(
        &f,
        &[("FUNCTION_NAME", "curly"), ("FUNCTION_TIMEOUT", "7s")],
    );
    let ready = shim.get("/_/ready");
    assert_eq!(ready.json()["protocol"], "lambda", "{ready}{shim}");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let r = shim.send(&Request::get("/hello?x=1").header("x-request-id", "rid-curl-1"));
    let body = ok_json(&r, &shim);
    assert_eq!(r.header("x-runtime"), Some("curl"), "{r}");
    assert_eq!(body["requestId"], "rid-curl-1", "{r}");
    assert_eq!(
        body["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:curly"
    );
    assert!(
        body["traceId"].as_str().unwrap().starts_with("Root=1-"),
        "{r}"
    );
    assert_eq!(body["function"], "curly", "{r}");
    let deadline: u64 = body["deadlineMs"].as_str().unwrap().parse().unwrap();
    assert!(
        deadline >= before + 6_000 && deadline <= before + 8_000,
        "deadline {deadline} vs {before}{r}"
    );
    let event = decoded_event(&body);
    assert_eq!(event["httpMethod"], "GET", "{event}");
    assert_eq!(event["path"], "/hello", "{event}");
    assert_eq!(event["queryStringParameters"]["x"], "1", "{event}");
}

#[test]
fn curl_bootstrap_takes_raw_events_and_reports_errors() {
    let f = curl_function();
    // Forced, not detected: the Runtime API is the only one offered.
    let shim = serve(&f, &[("FUNCTION_PROTOCOL", "lambda")]);
    let r = invoke(&shim, &serde_json::json!({"order": 7}));
    let body = ok_json(&r, &shim);
    // A raw event's result is JSON as the function gave it: here an HTTP result map.
    assert_eq!(body["statusCode"], 200, "{r}");
    let inner: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        decoded_event(&inner),
        serde_json::json!({"order": 7}),
        "{r}"
    );
    let r = invoke(&shim, &serde_json::json!({"please": "fail"}));
    assert_eq!(r.status, 500, "{r}{shim}");
    assert_eq!(r.json()["errorType"], "CurlError", "{r}");
    assert_eq!(r.json()["errorMessage"], "asked to fail", "{r}");
}

#[test]
fn runtime_api_timeout_kills_that_bootstrap_and_the_other_keeps_serving() {
    let f = curl_function();
    let env = [("FUNCTION_TIMEOUT", "1s"), ("FUNCTION_WORKERS", "2")];
    let shim = serve(&f, &env);
    let r = invoke(&shim, &serde_json::json!({"then": "sleep"}));
    assert_eq!(r.status, 504, "{r}{shim}");
    let killed = shim.wait_log(RECOVERY, |l| {
        l["message"] == "an invocation timed out; restarting its bootstrap"
    });
    let killed = killed.unwrap_or_else(|| panic!("no timeout kill logged\n{shim}"));
    let r = answers_again(&shim, "/after");
    assert_eq!(r.header("x-runtime"), Some("curl"), "{r}");
    // The bootstrap that took the invocation (whichever polled first) starts again after it.
    let worker = killed["worker"].clone();
    let restarted = wait_for(RECOVERY, || {
        let logs = shim.logs();
        let kill = logs.iter().position(|l| *l == killed)?;
        let start = |l: &Value| l["message"] == "bootstrap started" && l["worker"] == worker;
        logs[kill..].iter().any(start).then_some(())
    });
    assert!(
        restarted.is_some(),
        "the timed-out bootstrap was not restarted\n{shim}"
    );
}

#[test]
fn runtime_api_init_error_stops_start_up_with_65() {
    let script = r#"#!/bin/sh
curl -sS -o /dev/null "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error" \
  -H 'Lambda-Runtime-Function-Error-Type: Runtime.ConfigError' \
  -d '{"errorMessage":"no database URL","errorType":"ConfigError"}'
sleep 30
"#;
    let f = Function::with_bootstrap(script, 0o755);
    let shim = fnshim().function(&f).spawn();
    let code = shim.wait_code(STARTUP);
    assert_eq!(code, 65, "{shim}");
    assert!(
        shim.stderr().contains("ConfigError: no database URL"),
        "{shim}"
    );
}

#[test]
fn runtime_api_function_protocol_http_offers_no_runtime_api() {
    let script = "#!/bin/sh\necho \"api=${AWS_LAMBDA_RUNTIME_API:-none}\"\nexec python3 -c 'import http.server,os;http.server.HTTPServer((\"127.0.0.1\",int(os.environ[\"PORT\"])),http.server.SimpleHTTPRequestHandler).serve_forever()'\n";
    let f = Function::with_bootstrap(script, 0o755);
    let shim = serve(&f, &[("FUNCTION_PROTOCOL", "http")]);
    let ready = shim.get("/_/ready");
    assert_eq!(ready.json()["protocol"], "http", "{ready}{shim}");
    assert!(
        shim.wait_log(STARTUP, |l| l["message"] == "api=none")
            .is_some(),
        "{shim}"
    );
}

#[test]
fn runtime_api_http_servers_are_still_detected_as_such() {
    let f = Function::upstream(&[]);
    let shim = serve(&f, &[]);
    let ready = shim.get("/_/ready");
    assert_eq!(ready.json()["protocol"], "http", "{ready}{shim}");
    let r = shim.get("/status?code=201");
    assert_eq!(r.status, 201, "{r}{shim}");
}

#[test]
fn runtime_api_check_reports_the_protocol() {
    let f = curl_function();
    let shim = fnshim().function(&f).arg("check").run();
    assert_eq!(shim.wait_code(STARTUP), 0, "{shim}");
    assert!(
        shim.stdout().contains("protocol: lambda"),
        "check does not say the bootstrap is a Runtime API client\n{shim}"
    );
}
