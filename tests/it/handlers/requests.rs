//! What the HTTP front end does with unlucky requests in handler mode: a body that stalls, a
//! request id that is not text, a client that leaves before its answer.

use super::*;

#[test]
fn a_stalled_body_is_408_within_the_function_timeout() {
    let served = serve_probe(Lang::Node, &[("FUNCTION_TIMEOUT", "1s")]);
    let mut conn = Conn::connect(served.port()).unwrap();
    conn.set_read_timeout(Duration::from_secs(15));
    let started = Instant::now();
    conn.write_raw(b"POST /invoke HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();
    let r = conn
        .read_response("POST")
        .unwrap_or_else(|e| panic!("no answer to a stalled body: {e}{served}"));
    let took = started.elapsed();
    assert_error(&r, 408, "RequestTimeout", &served);
    assert!(
        took < Duration::from_secs(10),
        "answered after {took:?}{served}"
    );
    let r = invoke(&served, &json!({"after": 1}));
    assert_eq!(
        ok_json(&r, &served)["event"],
        json!({"after": 1}),
        "{r}{served}"
    );
}

#[test]
fn a_request_id_that_is_not_text_is_replaced() {
    let served = serve_probe(Lang::Node, &[]);
    let mut conn = Conn::connect(served.port()).unwrap();
    let mut raw = b"POST /invoke HTTP/1.1\r\nHost: x\r\nx-request-id: caf\xe9\r\n".to_vec();
    raw.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    conn.write_raw(&raw).unwrap();
    let r = conn.read_response("POST").unwrap();
    let body = ok_json(&r, &served);
    let given = r.header("x-request-id").unwrap_or_default().to_owned();
    assert!(!given.is_empty(), "a new id is made{r}{served}");
    assert_eq!(body["context"]["requestId"], given, "{r}{served}");
    let line = served.wait_log(Duration::from_secs(5), |l| l["message"] == "invocation");
    assert_eq!(line.unwrap()["request_id"], given, "{served}");
}

#[test]
fn a_result_nested_too_deep_is_a_prompt_502() {
    let handlers = [
        (
            "index.js",
            "exports.handler = async () => { let v = 1; for (let i = 0; i < 300; i++) v = [v]; return v; };",
        ),
        (
            "main.py",
            "def handler(event, context):\n    v = 1\n    for _ in range(300):\n        v = [v]\n    return v\n",
        ),
    ];
    for (entry, source) in handlers {
        let served = serve(&[(entry, source)], &[("FUNCTION_TIMEOUT", "20s")]);
        let started = Instant::now();
        let r = invoke(&served, &json!({}));
        assert_error(&r, 502, "InvalidResponse", &served);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{entry}: answered after {:?}, not at once{served}",
            started.elapsed()
        );
        let logged = served.wait_log(Duration::from_secs(5), |l| {
            l["message"] == "worker sent a line that is not JSON"
        });
        let logged = logged.unwrap_or_else(|| panic!("{entry}: no warning{served}"));
        assert!(
            logged["start"].as_str().is_some_and(|s| s.len() <= 200),
            "{entry}: the log shows a bounded start{served}"
        );
    }
}

#[test]
fn log_level_debug_shows_routing_and_the_worker_but_no_secret() {
    let served = serve_probe(Lang::Node, &[("LOG_LEVEL", "debug")]);
    let r = served.send(
        &Request::get("/mirror-not")
            .header("x-request-id", "dbg-1")
            .header("Authorization", "Bearer s3cr3t-token")
            .header("Cookie", "session=t0p-s3cr3t")
            .header("x-fc-access-key-secret", "k3y-s3cr3t"),
    );
    assert_eq!(r.status, 200, "{r}{served}");
    let of_call = |message: &'static str| {
        move |l: &Value| l["message"] == message && l["request_id"] == "dbg-1"
    };
    for message in ["routed", "worker chosen", "worker replied"] {
        let line = served.wait_log(Duration::from_secs(5), of_call(message));
        assert!(
            line.is_some(),
            "no {message:?} line at LOG_LEVEL=debug{served}"
        );
    }
    let chosen = served
        .wait_log(Duration::from_secs(1), of_call("worker chosen"))
        .unwrap();
    assert!(
        chosen["worker"].is_number() && chosen["waited_us"].is_number(),
        "{chosen}"
    );
    let log = served.stderr();
    for secret in ["s3cr3t-token", "t0p-s3cr3t", "k3y-s3cr3t"] {
        assert!(!log.contains(secret), "{secret} is in the log{served}");
    }
}
