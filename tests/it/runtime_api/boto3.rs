//! boto3's `lambda.invoke` against fnshim (tests/fixtures/lambda/invoke.py): RequestResponse
//! with a client context and a log tail, Event, DryRun, a function error, and an unknown
//! function, for an awslambdaric bootstrap and for a handler function.

use super::*;

/// Runs the boto3 script against `shim` and returns its lines by call name.
pub(super) fn boto3_calls(shim: &Shim, name: &str) -> std::collections::HashMap<String, Value> {
    let port = shim.port().to_string();
    let out = Command::new(python())
        .arg(fixture("lambda/invoke.py"))
        .args([port.as_str(), name])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "invoke.py failed: {}\n{stdout}\n{}\n{shim}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["call"].as_str().unwrap().to_owned(), v))
        .collect()
}

fn check_common(calls: &std::collections::HashMap<String, Value>, shim: &Shim) {
    let sync = &calls["sync"];
    assert_eq!(sync["status"], 200, "{sync}{shim}");
    assert_eq!(sync["functionError"], Value::Null, "{sync}");
    assert_eq!(sync["executedVersion"], "$LATEST", "{sync}");
    assert_eq!(sync["payload"]["event"]["n"], 1, "{sync}");
    let id = sync["payload"]["requestId"].as_str().unwrap();
    let log = sync["log"].as_str().unwrap();
    assert!(log.contains(&format!("START RequestId: {id}")), "{log}");
    assert!(log.contains(&format!("REPORT RequestId: {id}")), "{log}");
    assert_eq!(calls["event"]["status"], 202, "{}", calls["event"]);
    assert_eq!(calls["dryrun"]["status"], 204, "{}", calls["dryrun"]);
    let error = &calls["error"];
    assert_eq!(error["status"], 200, "{error}");
    assert_eq!(error["functionError"], "Unhandled", "{error}");
    assert_eq!(error["payload"]["errorType"], "ValueError", "{error}");
    assert_eq!(error["payload"]["errorMessage"], "asked to fail", "{error}");
    let unknown = &calls["unknown"];
    assert_eq!(unknown["error"], "ResourceNotFoundException", "{unknown}");
}

/// The Event call ran in the background: its handler printed its line (the sync call printed
/// the first).
fn event_ran(shim: &Shim) {
    let handled = || {
        let logs = shim.logs();
        let printed = logs.iter().filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("handled "))
        });
        (printed.count() >= 2).then_some(())
    };
    assert!(
        wait_for(RECOVERY, handled).is_some(),
        "the Event invocation never ran\n{shim}"
    );
}

#[test]
fn boto3_invokes_an_ric_bootstrap() {
    let f = ric_function();
    let shim = serve(&f, &[("FUNCTION_NAME", "ricfn")]);
    let calls = boto3_calls(&shim, "ricfn");
    check_common(&calls, &shim);
    let sync = &calls["sync"];
    assert_eq!(
        sync["payload"]["custom"],
        serde_json::json!({"k": "v"}),
        "{sync}"
    );
    // A bootstrap runs one invocation at a time: its own lines are in the tail.
    let id = sync["payload"]["requestId"].as_str().unwrap();
    let log = sync["log"].as_str().unwrap();
    assert!(log.contains(&format!("handled {id}")), "{log}");
    assert_eq!(
        sync["payload"]["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:ricfn"
    );
    event_ran(&shim);
}

#[test]
fn boto3_invokes_a_handler_function() {
    let f = Function::empty();
    let app = std::fs::read_to_string(fixture("lambda/app.py")).unwrap();
    f.write("app.py", &app, 0o644);
    let cache = tempfile::tempdir().unwrap();
    let env = [
        ("FUNCTION_NAME", "handlerfn"),
        ("FUNCTION_HANDLER", "app.handler"),
        ("CACHE_DIR", cache.path().to_str().unwrap()),
    ];
    let shim = serve(&f, &env);
    let calls = boto3_calls(&shim, "handlerfn");
    check_common(&calls, &shim);
    // The handler's print during the invocation is its line in the tail.
    let sync = &calls["sync"];
    let id = sync["payload"]["requestId"].as_str().unwrap();
    let log = sync["log"].as_str().unwrap();
    assert!(log.contains(&format!("handled {id}")), "{log}");
    // The "function" of AWS's emulator path is the default function too.
    let r = shim.send(&Request::post("/2015-03-31/functions/function/invocations").body("{}"));
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.header("x-amz-executed-version"), Some("$LATEST"), "{r}");
    event_ran(&shim);
}

#[test]
fn invoke_api_names_the_functions_of_an_f_yml() {
    let f = Function::empty();
    let service = "service: two\nfunctions:\n  first:\n    handler: app.handler\n  second:\n    handler: app.handler\n    timeout: 1s\n";
    f.write("f.yml", service, 0o644);
    let app = std::fs::read_to_string(fixture("lambda/app.py")).unwrap();
    f.write("app.py", &app, 0o644);
    let cache = tempfile::tempdir().unwrap();
    let shim = serve(&f, &[("CACHE_DIR", cache.path().to_str().unwrap())]);
    let path = |name: &str| format!("/2015-03-31/functions/{name}/invocations");
    let r = shim.send(&Request::post(&path("second")).body(r#"{"action":"echo"}"#));
    assert_eq!(ok_json(&r, &shim)["function"], "second", "{r}");
    // Its own one-second timeout: a function error, as Lambda reports a timeout.
    let r = shim.send(&Request::post(&path("second")).body(r#"{"action":"sleep"}"#));
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"), "{r}");
    assert_eq!(r.json()["errorType"], "Sandbox.Timedout", "{r}");
    let r = shim.send(&Request::post(&path("third")).body("{}"));
    assert_eq!(r.status, 404, "{r}{shim}");
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("ResourceNotFoundException"),
        "{r}"
    );
}
