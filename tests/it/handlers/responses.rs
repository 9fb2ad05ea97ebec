//! Handler results as HTTP responses: statusCode maps (headers, multiValueHeaders, cookies,
//! base64 bodies), plain values as JSON, strings as text, and shapes that are not HTTP.

use super::*;

/// Makes the probe return `result` (it parses the request body on `/mirror`).
fn mirror(served: &Served, result: &Value) -> Response {
    served.send(&Request::post("/mirror").body(result.to_string()))
}

fn values<'a>(r: &'a Response, name: &str) -> Vec<&'a str> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn status_map_with_headers_multi_value_headers_and_cookies(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let result = json!({
        "statusCode": 201,
        "headers": {"Content-Type": "text/html; charset=utf-8", "X-One": "1"},
        "multiValueHeaders": {"X-Many": ["a", "b"]},
        "cookies": ["c1=v1; Path=/; HttpOnly", "c2=v2"],
        "body": "<p>created</p>",
    });
    let r = mirror(&served, &result);
    assert_eq!(r.status, 201, "{r}{served}");
    assert_eq!(
        r.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{r}{served}"
    );
    assert_eq!(values(&r, "x-one"), ["1"], "{r}{served}");
    assert_eq!(values(&r, "x-many"), ["a", "b"], "{r}{served}");
    assert_eq!(
        values(&r, "set-cookie"),
        ["c1=v1; Path=/; HttpOnly", "c2=v2"],
        "{r}{served}"
    );
    assert_eq!(r.text(), "<p>created</p>", "{r}{served}");

    let r = mirror(&served, &json!({"statusCode": 404, "body": "nope"}));
    assert_eq!(r.status, 404, "{r}{served}");
    assert_eq!(r.text(), "nope", "{r}{served}");
    let r = mirror(&served, &json!({"statusCode": 204}));
    assert_eq!(r.status, 204, "{r}{served}");
    assert!(r.body.is_empty(), "{r}{served}");
}
per_language!(status_map_with_headers_multi_value_headers_and_cookies);

fn base64_binary_response_is_byte_exact(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let bytes = binary_bytes(70_000);
    let result = json!({
        "statusCode": 200,
        "headers": {"content-type": "application/octet-stream"},
        "body": base64_encode(&bytes),
        "isBase64Encoded": true,
    });
    let r = mirror(&served, &result);
    assert_eq!(r.status, 200, "{r}{served}");
    assert_eq!(
        r.header("content-type"),
        Some("application/octet-stream"),
        "{r}{served}"
    );
    assert_eq!(r.body.len(), bytes.len(), "{r}{served}");
    assert!(
        r.body == bytes,
        "the decoded body differs from what the handler encoded{served}"
    );
}
per_language!(base64_binary_response_is_byte_exact);

fn plain_values_are_json_and_strings_are_text(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let object = json!({"a": [1, 2], "b": null, "s": "text", "n": {"deep": true}});
    let r = mirror(&served, &object);
    assert_eq!(ok_json(&r, &served), object, "{r}{served}");
    let r = mirror(&served, &json!([1, "two"]));
    assert_eq!(ok_json(&r, &served), json!([1, "two"]), "{r}{served}");
    let r = mirror(&served, &json!(42));
    assert_eq!(ok_json(&r, &served), json!(42), "{r}{served}");

    let r = mirror(&served, &json!("just text, not JSON"));
    assert_eq!(r.status, 200, "{r}{served}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{r}{served}"
    );
    assert_eq!(r.text(), "just text, not JSON", "{r}{served}");
}
per_language!(plain_values_are_json_and_strings_are_text);

fn results_that_are_not_http_responses_are_502(lang: Lang) {
    let served = serve_probe(lang, &[]);
    for bad in [
        json!({"statusCode": 99, "body": "too low"}),
        json!({"statusCode": "teapot"}),
        json!({"statusCode": 200, "headers": ["not", "a", "map"]}),
    ] {
        let r = mirror(&served, &bad);
        let j = assert_error(&r, 502, "InvalidResponse", &served);
        assert!(
            j["errorMessage"].as_str().is_some_and(|m| m.len() > 5),
            "{r}{served}"
        );
    }
    let r = mirror(&served, &json!({"statusCode": 200, "body": "fine"}));
    assert_eq!(
        r.text(),
        "fine",
        "the service goes on after bad results{r}{served}"
    );
}
per_language!(results_that_are_not_http_responses_are_502);
