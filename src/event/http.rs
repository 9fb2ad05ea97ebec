//! An HTTP request as an API Gateway event: the REST (v1) proxy shape of the seed's handler, or
//! the HTTP API (v2) shape; or as the plain request description that adapters turn into a
//! request object of their language (JS fetch style), so that no adapter reads v1/v2 fields.

use std::collections::BTreeMap;

use http::HeaderMap;
use serde_json::{json, Map, Value};

use super::body_value;
use crate::config::fyml::Matched;
use crate::config::EventFormat;

/// The parts of a request an event is made of.
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: String,
    pub request_id: &'a str,
    pub time_epoch_ms: u64,
    /// The f.yml route that matched, if routes are declared.
    pub route: Option<&'a Matched>,
}

pub fn http_event(request: &HttpRequest<'_>, format: EventFormat) -> Value {
    match format {
        EventFormat::V1 => v1(request),
        EventFormat::V2 => v2(request),
    }
}

fn v1(r: &HttpRequest<'_>) -> Value {
    let (body, is_base64) = body_value(r.body);
    let query = query_pairs(r.query);
    let user_agent = header_text(r.headers, "user-agent");
    let resource = r.route.map_or("/{proxy+}", |m| m.resource.as_str());
    let headers = headers_multi(r.headers);
    json!({
        "resource": resource,
        "path": r.path,
        "httpMethod": r.method,
        "headers": single_values(&headers),
        "multiValueHeaders": headers,
        "queryStringParameters": non_empty(single_values(&query)),
        "multiValueQueryStringParameters": non_empty(multi_values(&query)),
        "pathParameters": path_parameters(r),
        "stageVariables": null,
        "requestContext": {
            "resourcePath": resource,
            "stage": "$default",
            "requestId": r.request_id,
            "httpMethod": r.method,
            "path": r.path,
            "requestTimeEpoch": r.time_epoch_ms,
            "identity": { "sourceIp": r.source_ip, "userAgent": user_agent },
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// The route's parameters; without declared routes, every path is API Gateway's `{proxy+}`.
fn path_parameters(r: &HttpRequest<'_>) -> Value {
    match r.route {
        Some(route) if route.params.is_empty() => Value::Null,
        Some(route) => Value::Object(
            route
                .params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
        None => json!({ "proxy": r.path.trim_start_matches('/') }),
    }
}

fn v2(r: &HttpRequest<'_>) -> Value {
    let (body, is_base64) = body_value(r.body);
    let query = query_pairs(r.query);
    let cookies: Vec<String> = r
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';').map(|c| c.trim().to_owned()))
        .filter(|c| !c.is_empty())
        .collect();
    let mut headers = Map::new();
    for (name, values) in headers_multi(r.headers) {
        if name != "cookie" {
            headers.insert(name, Value::String(values.join(",")));
        }
    }
    let joined: Map<String, Value> = query
        .iter()
        .map(|(k, vs)| (k.clone(), Value::String(vs.join(","))))
        .collect();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": r.path,
        "rawQueryString": r.query.unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "routeKey": "$default",
            "stage": "$default",
            "requestId": r.request_id,
            "timeEpoch": r.time_epoch_ms,
            "http": {
                "method": r.method,
                "path": r.path,
                "protocol": "HTTP/1.1",
                "sourceIp": r.source_ip,
                "userAgent": header_text(r.headers, "user-agent"),
            },
        },
        "body": body,
        "isBase64Encoded": is_base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if let Some(route) = r.route {
        let key = format!("{} {}", r.method, route.resource);
        event["routeKey"] = json!(key);
        event["requestContext"]["routeKey"] = json!(key);
        if !route.params.is_empty() {
            event["pathParameters"] = path_parameters(r);
        }
    }
    if !joined.is_empty() {
        event["queryStringParameters"] = Value::Object(joined);
    }
    event
}

/// The request as it arrived, for a worker that asked for requests instead of events
/// (`languages/PROTOCOL.md`): `{method, url, headers: [[name, value], …], body,
/// isBase64Encoded}`. The URL's origin is the Host header's when that makes a valid URL, else
/// `http://localhost`; the query is the raw one. GET and HEAD have no body (fetch refuses one).
pub fn plain_request(r: &HttpRequest<'_>) -> Value {
    let method = r.method.to_ascii_uppercase();
    let host = r
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|host| is_url_host(host))
        .unwrap_or("localhost");
    let url = match r.query.filter(|q| !q.is_empty()) {
        Some(query) => format!("http://{host}{}?{query}", r.path),
        None => format!("http://{host}{}", r.path),
    };
    let has_body = method != "GET" && method != "HEAD";
    let (body, is_base64) = match has_body {
        true => body_value(r.body),
        false => (Value::Null, false),
    };
    json!({
        "method": method,
        "url": url,
        "headers": header_pairs(r.headers),
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// Every header as a `[name, value]` pair in order; several Cookie headers become one, joined
/// by `; ` as HTTP/2 allows and as fetch's `Headers` joins them.
fn header_pairs(headers: &HeaderMap) -> Value {
    let mut pairs = Vec::with_capacity(headers.len());
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match name == http::header::COOKIE {
            true => cookies.push(text),
            false => pairs.push(json!([name.as_str(), text])),
        }
    }
    if !cookies.is_empty() {
        pairs.push(json!(["cookie", cookies.join("; ")]));
    }
    Value::Array(pairs)
}

/// A Host header that can stand in a URL: a name of letters, digits, `-`, `_` and `.`, or a
/// bracketed IPv6 address, with an optional port.
fn is_url_host(host: &str) -> bool {
    let (name_ok, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, port)) => (ip.parse::<std::net::Ipv6Addr>().is_ok(), port),
            None => return false,
        },
        None => {
            let end = host.find(':').unwrap_or(host.len());
            let name = &host[..end];
            let valid = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
            (!name.is_empty() && name.chars().all(valid), &host[end..])
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.is_empty() || p.parse::<u16>().is_ok());
    name_ok && port_ok
}

fn header_text(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Header names (lower case, as HTTP/1.1 servers see them) with all their values in order.
fn headers_multi(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        map.entry(name.as_str().to_owned()).or_default().push(text);
    }
    map
}

/// Query keys with all their values, percent-decoded (`+` stays a plus, as in the raw query).
fn query_pairs(query: Option<&str>) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(percent_decode(key))
            .or_default()
            .push(percent_decode(value));
    }
    map
}

fn single_values(map: &BTreeMap<String, Vec<String>>) -> Map<String, Value> {
    map.iter()
        .filter_map(|(k, vs)| Some((k.clone(), Value::String(vs.last()?.clone()))))
        .collect()
}

fn multi_values(map: &BTreeMap<String, Vec<String>>) -> Map<String, Value> {
    map.iter().map(|(k, vs)| (k.clone(), json!(vs))).collect()
}

fn non_empty(map: Map<String, Value>) -> Value {
    match map.is_empty() {
        true => Value::Null,
        false => Value::Object(map),
    }
}

pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn request<'a>(
        headers: &'a HeaderMap,
        query: Option<&'a str>,
        body: &'a [u8],
    ) -> HttpRequest<'a> {
        HttpRequest {
            method: "POST",
            path: "/users/42",
            query,
            headers,
            body,
            source_ip: "127.0.0.1".into(),
            request_id: "req-1",
            time_epoch_ms: 1_700_000_000_000,
            route: None,
        }
    }

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.append("x-tag", HeaderValue::from_static("a"));
        headers.append("x-tag", HeaderValue::from_static("b"));
        headers.append("cookie", HeaderValue::from_static("s=1; theme=dark"));
        headers.append("user-agent", HeaderValue::from_static("curl/8"));
        headers
    }

    #[test]
    fn v1_has_the_seed_fields_and_repeated_values() {
        let headers = headers();
        let event = http_event(
            &request(&headers, Some("id=1&id=2&q=a%20b+c&flag"), b"{\"x\":1}"),
            EventFormat::V1,
        );
        assert_eq!(event["path"], "/users/42");
        assert_eq!(event["httpMethod"], "POST");
        assert_eq!(
            event["queryStringParameters"],
            json!({"id": "2", "q": "a b+c", "flag": ""})
        );
        assert_eq!(
            event["multiValueQueryStringParameters"]["id"],
            json!(["1", "2"])
        );
        assert_eq!(event["headers"]["x-tag"], "b");
        assert_eq!(event["multiValueHeaders"]["x-tag"], json!(["a", "b"]));
        assert_eq!(event["body"], "{\"x\":1}");
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["requestContext"]["requestId"], "req-1");
        assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(
            event["requestContext"]["requestTimeEpoch"],
            1_700_000_000_000u64
        );
    }

    #[test]
    fn v1_without_query_or_body_has_nulls() {
        let headers = HeaderMap::new();
        let event = http_event(&request(&headers, None, b""), EventFormat::V1);
        assert_eq!(event["queryStringParameters"], Value::Null);
        assert_eq!(event["multiValueQueryStringParameters"], Value::Null);
        assert_eq!(event["body"], Value::Null);
    }

    #[test]
    fn binary_bodies_are_base64() {
        let headers = HeaderMap::new();
        let event = http_event(
            &request(&headers, None, &[0, 159, 146, 150]),
            EventFormat::V2,
        );
        assert_eq!(event["body"], "AJ+Slg==");
        assert_eq!(event["isBase64Encoded"], true);
    }

    #[test]
    fn v2_joins_repeats_and_moves_cookies() {
        let headers = headers();
        let event = http_event(
            &request(&headers, Some("id=1&id=2"), b"hi"),
            EventFormat::V2,
        );
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["rawPath"], "/users/42");
        assert_eq!(event["rawQueryString"], "id=1&id=2");
        assert_eq!(event["queryStringParameters"]["id"], "1,2");
        assert_eq!(event["headers"]["x-tag"], "a,b");
        assert_eq!(event["headers"].get("cookie"), None);
        assert_eq!(event["cookies"], json!(["s=1", "theme=dark"]));
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(event["requestContext"]["http"]["userAgent"], "curl/8");
    }

    #[test]
    fn plain_requests_carry_the_url_headers_and_body() {
        let mut headers = headers();
        headers.append("cookie", HeaderValue::from_static("extra=1"));
        headers.append("host", HeaderValue::from_static("example.com:8080"));
        let described = plain_request(&request(&headers, Some("q=a%20b+c&q=2"), b"hi"));
        assert_eq!(described["method"], "POST");
        assert_eq!(
            described["url"],
            "http://example.com:8080/users/42?q=a%20b+c&q=2"
        );
        let pairs = described["headers"].as_array().unwrap();
        assert!(pairs.contains(&json!(["x-tag", "a"])) && pairs.contains(&json!(["x-tag", "b"])));
        assert!(pairs.contains(&json!(["cookie", "s=1; theme=dark; extra=1"])));
        assert_eq!(pairs.iter().filter(|p| p[0] == "cookie").count(), 1);
        assert_eq!(described["body"], "hi");
        assert_eq!(described["isBase64Encoded"], false);
        let binary = plain_request(&request(&headers, None, &[0xff, 0]));
        assert_eq!(
            (&binary["body"], &binary["isBase64Encoded"]),
            (&json!("/wA="), &json!(true))
        );
    }

    #[test]
    fn plain_requests_without_a_usable_host_or_with_get() {
        let mut headers = HeaderMap::new();
        headers.append("host", HeaderValue::from_static("bad host"));
        let mut get = request(&headers, Some(""), b"ignored");
        get.method = "get";
        let described = plain_request(&get);
        assert_eq!(described["url"], "http://localhost/users/42");
        assert_eq!(described["method"], "GET");
        assert_eq!(described["body"], Value::Null);
        for host in ["a.b-c_d", "localhost:", "[::1]:8080", "10.0.0.1:80"] {
            assert!(is_url_host(host), "{host}");
        }
        for host in [
            "", ":80", "a b", "[zz]", "[::1", "a:99999", "a:b", "a/b", "u@h",
        ] {
            assert!(!is_url_host(host), "{host}");
        }
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
    }
}
