//! HTTP requests as the handler sees them: API Gateway v1 and v2 events (query, headers,
//! cookies, JSON and binary bodies) and the context that comes with them.

use super::*;

/// The probe's echo of one request: `{event, context, pid}`.
fn echo(served: &Served, req: Request) -> Value {
    let r = served.send(&req);
    let j = ok_json(&r, served);
    assert!(j["event"].is_object(), "no event in the echo{r}{served}");
    j
}

fn v1_get_with_repeated_query_keys_and_headers(lang: Lang) {
    let env = [
        ("FUNCTION_NAME", "probe-fn"),
        ("FUNCTION_VERSION", "7"),
        ("FUNCTION_TIMEOUT", "20s"),
    ];
    let served = serve_probe(lang, &env);
    let sent_at = epoch_ms();
    let req = Request::get("/items/42?tag=a&tag=b&single=x&q=hello%20world")
        .header("X-Request-Id", "v1-rid")
        .header("X-Custom", "custom value")
        .header("X-Multi", "one")
        .header("X-Multi", "two")
        .header("User-Agent", "probe-agent/1");
    let r = served.send(&req);
    assert_eq!(r.header("x-request-id"), Some("v1-rid"), "{r}{served}");
    let j = ok_json(&r, &served);
    let (e, c) = (&j["event"], &j["context"]);
    assert_eq!(e["httpMethod"], "GET", "{j}");
    assert_eq!(e["path"], "/items/42", "{j}");
    assert!(e["resource"].is_string(), "{j}");
    assert_eq!(e["queryStringParameters"]["single"], "x", "{j}");
    assert_eq!(
        e["queryStringParameters"]["tag"], "b",
        "v1 keeps the last value, as API Gateway: {j}"
    );
    assert_eq!(
        e["queryStringParameters"]["q"], "hello world",
        "decoded: {j}"
    );
    assert_eq!(
        e["multiValueQueryStringParameters"]["tag"],
        json!(["a", "b"]),
        "{j}"
    );
    assert_eq!(
        e["multiValueQueryStringParameters"]["single"],
        json!(["x"]),
        "{j}"
    );
    assert_eq!(header_in(&e["headers"], "x-custom"), "custom value", "{j}");
    assert_eq!(
        header_in(&e["multiValueHeaders"], "x-multi"),
        &json!(["one", "two"]),
        "{j}"
    );
    assert_eq!(
        header_in(&e["headers"], "user-agent"),
        "probe-agent/1",
        "{j}"
    );
    assert_eq!(e["body"], Value::Null, "a GET has no body: {j}");
    assert_eq!(e["isBase64Encoded"], false, "{j}");
    let rc = &e["requestContext"];
    assert_eq!(rc["requestId"], "v1-rid", "{j}");
    assert_eq!(rc["httpMethod"], "GET", "{j}");
    assert_eq!(rc["path"], "/items/42", "{j}");
    assert_eq!(rc["identity"]["sourceIp"], "127.0.0.1", "{j}");
    let epoch = rc["requestTimeEpoch"]
        .as_u64()
        .unwrap_or_else(|| panic!("{j}"));
    assert!(
        epoch + 5_000 >= sent_at && epoch <= epoch_ms(),
        "requestTimeEpoch {epoch} vs {sent_at}: {j}"
    );
    assert_eq!(c["requestId"], "v1-rid", "{j}");
    assert_eq!(c["awsRequestId"], "v1-rid", "{j}");
    assert_eq!(c["functionName"], "probe-fn", "{j}");
    assert_eq!(c["functionVersion"], "7", "{j}");
    assert_eq!(c["triggerType"], "http", "{j}");
    let remaining = c["remaining"].as_u64().unwrap_or_else(|| panic!("{j}"));
    assert!(
        (5_000..=20_000).contains(&remaining),
        "remaining {remaining} ms of FUNCTION_TIMEOUT=20s: {j}"
    );
    let deadline = c["deadlineMs"].as_u64().unwrap_or_else(|| panic!("{j}"));
    assert!(
        deadline > sent_at && deadline <= epoch_ms() + 20_000,
        "deadlineMs {deadline}: {j}"
    );
}
per_language!(v1_get_with_repeated_query_keys_and_headers);

fn v2_joins_repeated_keys_and_lists_cookies(lang: Lang) {
    let served = serve_probe(lang, &[("HTTP_EVENT_FORMAT", "v2")]);
    let req = Request::get("/items/42?tag=a&tag=b&single=x")
        .header("Cookie", "s=1; theme=dark")
        .header("X-Multi", "one")
        .header("X-Multi", "two")
        .header("User-Agent", "probe-agent/2")
        .header("x-request-id", "v2-rid");
    let j = echo(&served, req);
    let e = &j["event"];
    assert_eq!(e["version"], "2.0", "{j}");
    assert_eq!(e["rawPath"], "/items/42", "{j}");
    assert_eq!(e["rawQueryString"], "tag=a&tag=b&single=x", "{j}");
    assert_eq!(
        e["queryStringParameters"],
        json!({"tag": "a,b", "single": "x"}),
        "{j}"
    );
    assert_eq!(e["cookies"], json!(["s=1", "theme=dark"]), "{j}");
    assert_eq!(
        header_in(&e["headers"], "x-multi"),
        "one,two",
        "v2 joins repeated headers: {j}"
    );
    let http = &e["requestContext"]["http"];
    assert_eq!(http["method"], "GET", "{j}");
    assert_eq!(http["path"], "/items/42", "{j}");
    assert_eq!(http["sourceIp"], "127.0.0.1", "{j}");
    assert_eq!(http["userAgent"], "probe-agent/2", "{j}");
    assert!(
        http["protocol"]
            .as_str()
            .is_some_and(|p| p.starts_with("HTTP/1.1")),
        "{j}"
    );
    assert_eq!(e["isBase64Encoded"], false, "{j}");
    assert_eq!(j["context"]["requestId"], "v2-rid", "{j}");
}
per_language!(v2_joins_repeated_keys_and_lists_cookies);

fn post_json_body_arrives_as_text(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let body = r#"{"order": 7, "items": ["a", "é"], "nested": {"ok": true}}"#;
    let req = Request::post("/orders")
        .header("Content-Type", "application/json")
        .body(body);
    let j = echo(&served, req);
    let e = &j["event"];
    assert_eq!(e["httpMethod"], "POST", "{j}");
    assert_eq!(
        e["body"], body,
        "the body is the request's text, unparsed: {j}"
    );
    assert_eq!(e["isBase64Encoded"], false, "{j}");
    assert_eq!(
        header_in(&e["headers"], "content-type"),
        "application/json",
        "{j}"
    );
    assert_eq!(e["queryStringParameters"], Value::Null, "no query: {j}");
}
per_language!(post_json_body_arrives_as_text);

fn binary_upload_is_base64(lang: Lang) {
    let served = serve_probe(lang, &[("HTTP_EVENT_FORMAT", "v1")]);
    let bytes = binary_bytes(4096);
    let req = Request::post("/upload")
        .header("Content-Type", "application/octet-stream")
        .body(bytes.clone());
    let j = echo(&served, req);
    let e = &j["event"];
    assert_eq!(e["isBase64Encoded"], true, "{j}");
    let body = e["body"].as_str().unwrap_or_else(|| panic!("no body: {j}"));
    assert!(
        base64_decode(body) == bytes,
        "the uploaded bytes did not survive: {j}"
    );
}
per_language!(binary_upload_is_base64);

fn v2_binary_upload_and_cookies_with_post(lang: Lang) {
    let served = serve_probe(lang, &[("HTTP_EVENT_FORMAT", "v2")]);
    let bytes = binary_bytes(700);
    let req = Request::new("PUT", "/blob")
        .header("Cookie", "k=v")
        .body(bytes.clone());
    let j = echo(&served, req);
    let e = &j["event"];
    assert_eq!(e["requestContext"]["http"]["method"], "PUT", "{j}");
    assert_eq!(e["cookies"], json!(["k=v"]), "{j}");
    assert_eq!(e["isBase64Encoded"], true, "{j}");
    assert!(
        base64_decode(e["body"].as_str().unwrap()) == bytes,
        "v2 body bytes changed: {j}"
    );
}
per_language!(v2_binary_upload_and_cookies_with_post);

fn context_defaults_and_fresh_request_ids(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let (a, b) = (
        echo(&served, Request::get("/one")),
        echo(&served, Request::get("/two")),
    );
    let (ra, rb) = (&a["context"]["requestId"], &b["context"]["requestId"]);
    assert!(
        ra.as_str().is_some_and(|s| s.len() >= 16),
        "a generated id: {a}"
    );
    assert_ne!(ra, rb, "every call gets its own id");
    let folder = served
        .function
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        a["context"]["functionName"],
        folder.as_str(),
        "FUNCTION_NAME defaults to the folder: {a}"
    );
    assert_eq!(a["context"]["functionVersion"], "$LATEST", "{a}");
    let remaining = a["context"]["remaining"].as_u64().unwrap_or(0);
    assert!(
        (15_000..=30_000).contains(&remaining),
        "default FUNCTION_TIMEOUT is 30s: {a}"
    );
}
per_language!(context_defaults_and_fresh_request_ids);
