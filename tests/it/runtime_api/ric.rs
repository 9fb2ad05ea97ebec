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

#[test]
fn ric_as_a_command_with_port_gets_timer_and_cloud_events() {
    let f = ric_function();
    let shim = fnshim()
        .env("PORT", "0")
        .env("TRIGGER_TYPE", "schedule")
        .env("SCHEDULE", "@every 1s")
        .env("SCHEDULE_PAYLOAD", "tick")
        .cwd(f.path())
        .args([
            "--",
            python().to_str().unwrap(),
            "-m",
            "awslambdaric",
            "app.handler",
        ])
        .spawn();
    shim.wait_ready();
    // A command's output passes straight through to fnshim's stdout.
    let ticked = wait_for(RECOVERY, || {
        shim.stdout().contains("handled ").then_some(())
    });
    assert!(
        ticked.is_some(),
        "no timer event reached the bootstrap\n{shim}"
    );
    let root = f.path().canonicalize().unwrap();
    let r = invoke(&shim, &serde_json::json!({"action": "echo"}));
    assert_eq!(
        ok_json(&r, &shim)["taskRoot"],
        root.to_str().unwrap(),
        "{r}"
    );
    let r = shim.send(
        &Request::post("/invoke")
            .header("ce-specversion", "1.0")
            .header("ce-id", "evt-1")
            .header("ce-source", "/orders")
            .header("ce-type", "order.created")
            .header("content-type", "application/json")
            .body(r#"{"order":1}"#),
    );
    let body = ok_json(&r, &shim);
    assert_eq!(body["event"]["id"], "evt-1", "{r}");
    assert_eq!(
        body["event"]["data"],
        serde_json::json!({"order": 1}),
        "{r}"
    );
}

#[test]
fn ric_bootstraps_stop_on_sigterm_after_the_request_in_flight() {
    let f = ric_function();
    let shim = serve(&f, &[("FUNCTION_WORKERS", "2"), ("SHUTDOWN_TIMEOUT", "8s")]);
    let r = shim.get("/before-stop");
    assert_eq!(r.status, 200, "{r}{shim}");
    shim.signal(libc::SIGTERM);
    assert_eq!(shim.wait_code(Duration::from_secs(15)), 0, "{shim}");
    assert!(
        shim.wait_log(RECOVERY, |l| l["message"] == "stopped")
            .is_some(),
        "{shim}"
    );
}
