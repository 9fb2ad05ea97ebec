//! `awslambdaric` as a bootstrap: HTTP GET and POST, `/invoke`, errors, a timeout followed by
//! a good request, 64 concurrent requests, and a crash of one bootstrap process.

use super::*;

#[test]
fn ric_serves_get_and_post_as_api_gateway_events() {
    let f = ric_function();
    let shim = serve(&f, &[("FUNCTION_NAME", "ric")]);
    let r = shim.get("/items?id=3");
    let body = ok_json(&r, &shim);
    assert_eq!(r.header("x-runtime"), Some("awslambdaric"), "{r}");
    assert_eq!(
        (body["method"].as_str(), body["path"].as_str()),
        (Some("GET"), Some("/items"))
    );
    assert_eq!(body["requestId"].as_str(), r.header("x-request-id"), "{r}");
    assert_eq!(
        body["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:ric"
    );
    assert!(body["remainingMs"].as_u64().unwrap() > 1_000, "{r}");
    let r = shim.send(&Request::post("/items").body("posted words"));
    let body = ok_json(&r, &shim);
    assert_eq!(body["method"], "POST", "{r}");
    assert_eq!(body["body"], "posted words", "{r}");
}

#[test]
fn ric_takes_raw_events_and_reports_errors() {
    let f = ric_function();
    let shim = serve(&f, &[]);
    let event = serde_json::json!({"action": "echo", "n": [1, 2]});
    let r = invoke(&shim, &event);
    assert_eq!(ok_json(&r, &shim)["event"], event, "{r}");
    let r = invoke(&shim, &serde_json::json!({"action": "fail"}));
    assert_eq!(r.status, 500, "{r}{shim}");
    let error = r.json();
    assert_eq!(error["errorType"], "ValueError", "{r}");
    assert_eq!(error["errorMessage"], "asked to fail", "{r}");
    assert!(
        error["stackTrace"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{r}"
    );
}

#[test]
fn ric_timeout_is_504_and_the_next_request_is_served() {
    let f = ric_function();
    let shim = serve(&f, &[("FUNCTION_TIMEOUT", "1s"), ("FUNCTION_WORKERS", "1")]);
    let r = shim.get("/sleep");
    assert_eq!(r.status, 504, "{r}{shim}");
    // The only bootstrap was killed and restarts: the next request waits for it.
    let r = answers_again(&shim, "/fine");
    assert_eq!(r.json()["path"], "/fine", "{r}{shim}");
}

#[test]
fn ric_answers_64_concurrent_requests() {
    let f = ric_function();
    let shim = serve(&f, &[("FUNCTION_WORKERS", "2")]);
    let statuses = concurrently(&shim, 64, "/many");
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    assert_eq!(ok, 64, "statuses {statuses:?}\n{shim}");
}

#[test]
fn ric_crash_of_one_process_fails_its_request_and_the_others_serve() {
    let f = ric_function();
    let shim = serve(&f, &[("FUNCTION_WORKERS", "2")]);
    let r = shim.get("/crash");
    assert_eq!(r.status, 502, "{r}{shim}");
    assert_eq!(r.json()["errorType"], "WorkerExited", "{r}");
    let r = answers_again(&shim, "/after-crash");
    assert_eq!(r.json()["path"], "/after-crash", "{r}");
    let restarted = shim.wait_log(RECOVERY, |l| {
        l["message"] == "the bootstrap exited; restarting it"
    });
    assert!(restarted.is_some(), "{shim}");
}
