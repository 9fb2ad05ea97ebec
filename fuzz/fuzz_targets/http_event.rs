//! An HTTP request as API Gateway v1 and v2 events and as the plain request of fetch-style
//! workers: each carries the method, path, query, headers and body it was made of, and
//! survives the JSON round trip to the worker; the events fnshim writes as text, straight from
//! the request, are the same JSON as the trees built field by field.
#![no_main]

use fnshim::fuzzing::{self, Request};
use fnshim_fuzz::{assert_body, assert_round_trips, request};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some(input) = request(data) else { return };
    let request = Request {
        method: input.method,
        path: input.path,
        query: input.query,
        headers: &input.headers,
        body: input.body,
    };
    v1(&request);
    v2(&request);
    plain(&request);
});

/// The written text is valid JSON with no raw newline (it ends the worker's line), and it is
/// the tree.
fn assert_written_is(event: &Value, r: &Request<'_>, v2: bool) {
    let written = fuzzing::written_http_event(r, v2);
    assert!(!written.contains(&b'\n'));
    let parsed: Value = serde_json::from_slice(&written).expect("the written event parses");
    assert_eq!(&parsed, event, "the written event is the tree");
}

fn v1(r: &Request<'_>) {
    let event = fuzzing::http_event(r, false);
    assert_written_is(&event, r, false);
    assert_eq!(event["httpMethod"], r.method);
    assert_eq!(event["path"], r.path);
    assert_eq!(event["requestContext"]["path"], r.path);
    assert_eq!(
        event["pathParameters"]["proxy"],
        r.path.trim_start_matches('/')
    );
    for name in r.headers.keys() {
        let values = r.headers.get_all(name).iter().count();
        let multi = event["multiValueHeaders"][name.as_str()].as_array();
        assert_eq!(multi.map(Vec::len), Some(values), "values of {name}");
        assert!(event["headers"][name.as_str()].is_string());
    }
    let pairs = r.query.unwrap_or("").split('&').filter(|p| !p.is_empty());
    assert_eq!(event["queryStringParameters"].is_null(), pairs.count() == 0);
    assert_body(&event, r.body);
    assert_round_trips(&event);
}

fn v2(r: &Request<'_>) {
    let event = fuzzing::http_event(r, true);
    assert_written_is(&event, r, true);
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["rawPath"], r.path);
    assert_eq!(event["rawQueryString"], r.query.unwrap_or(""));
    assert_eq!(event["requestContext"]["http"]["method"], r.method);
    assert!(event["headers"].get("cookie").is_none());
    let cookies = cookie_count(r.headers);
    let listed = event["cookies"].as_array().map_or(0, Vec::len);
    assert_eq!(listed, cookies);
    assert_body(&event, r.body);
    assert_round_trips(&event);
}

/// The cookies of every Cookie header that is text, split at `;`.
fn cookie_count(headers: &HeaderMap) -> usize {
    let texts = headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok());
    texts
        .flat_map(|v| v.split(';'))
        .filter(|c| !c.trim().is_empty())
        .count()
}

fn plain(r: &Request<'_>) {
    let described = fuzzing::plain_request(r);
    let method = r.method.to_ascii_uppercase();
    assert_eq!(described["method"], method.as_str());
    let url = described["url"].as_str().expect("url");
    assert!(url.starts_with("http://"));
    let tail = match r.query.filter(|q| !q.is_empty()) {
        Some(query) => format!("{}?{query}", r.path),
        None => r.path.to_owned(),
    };
    assert!(url.ends_with(&tail), "{url} ends with {tail}");
    let pairs = described["headers"].as_array().expect("header pairs");
    let cookies = r.headers.get_all("cookie").iter().count();
    assert_eq!(
        pairs.len(),
        r.headers.len() - cookies + usize::from(cookies > 0)
    );
    match method.as_str() {
        "GET" | "HEAD" => assert_eq!(described["body"], Value::Null),
        _ => assert_body(&described, r.body),
    }
    assert_round_trips(&described);
}
