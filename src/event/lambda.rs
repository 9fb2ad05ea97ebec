//! Pure: AWS's HTTP events (API Gateway REST v1, HTTP API v2 and Function URLs, ALB) as the
//! HTTP request a server expects, and an HTTP answer as the integration response of the event
//! type it came from (what the Lambda Web Adapter does, without its I/O).

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value};

use super::response::HttpResponse;

/// Which integration sent an event; the answer must have that integration's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// API Gateway REST API (payload 1.0, also HTTP API's 1.0 format).
    ApiV1,
    /// API Gateway HTTP API payload 2.0, and Lambda Function URLs (same shape).
    ApiV2,
    /// An Application Load Balancer target; `multi` when multi-value headers are on.
    Alb { multi: bool },
}

/// The integration an event came from, or `None` for an event of no HTTP shape.
pub fn shape_of(event: &Value) -> Option<Shape> {
    let context = event.get("requestContext")?;
    if context.get("elb").is_some() {
        let multi = event.get("multiValueHeaders").is_some_and(Value::is_object);
        return Some(Shape::Alb { multi });
    }
    if event["version"] == "2.0" && context.get("http").is_some() {
        return Some(Shape::ApiV2);
    }
    event.get("httpMethod")?.as_str().map(|_| Shape::ApiV1)
}

/// The request an HTTP event stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRequest {
    pub method: String,
    /// Path and query, ready for a URI (`/a%20b?x=1`).
    pub target: String,
    /// Lower-case names, repeated names kept in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `requestContext` as JSON, passed on as `x-amzn-request-context` (as the LWA does).
    pub context: String,
}

/// The plain request description fetch-style handlers read (`event::plain_request`), for an
/// HTTP event that arrived as JSON (from Lambda); `None` when it is not one.
pub fn plain_request_of(event: &Value) -> Option<Value> {
    let request = to_request(event, shape_of(event)?).ok()?;
    let mut headers = http::HeaderMap::new();
    for (name, value) in &request.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
        headers.append(name, http::HeaderValue::from_str(value).ok()?);
    }
    let (path, query) = match request.target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.target.as_str(), None),
    };
    let described = super::HttpRequest {
        method: &request.method,
        path,
        query,
        headers: &headers,
        body: &request.body,
        source_ip: String::new(),
        request_id: "",
        time_epoch_ms: 0,
        route: None,
    };
    Some(super::plain_request(&described))
}

/// Why an HTTP event could not become a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadHttpEvent(pub String);

pub fn to_request(event: &Value, shape: Shape) -> Result<EventRequest, BadHttpEvent> {
    let (method, path, query, mut headers) = match shape {
        Shape::ApiV2 => (
            text(&event["requestContext"]["http"]["method"]),
            text(&event["rawPath"]),
            text(&event["rawQueryString"]),
            single_headers(event),
        ),
        Shape::ApiV1 | Shape::Alb { .. } => (
            text(&event["httpMethod"]),
            text(&event["path"]),
            v1_query(event, matches!(shape, Shape::ApiV1)),
            v1_headers(event),
        ),
    };
    if let Some(cookies) = event["cookies"].as_array().filter(|c| !c.is_empty()) {
        let joined: Vec<String> = cookies.iter().map(text).collect();
        headers.retain(|(name, _)| name != "cookie");
        headers.push(("cookie".into(), joined.join("; ")));
    }
    let path = match path.is_empty() {
        true => "/".to_owned(),
        false => encode_path(&path),
    };
    let target = match query.is_empty() {
        true => path,
        false => format!("{path}?{query}"),
    };
    Ok(EventRequest {
        method: match method.is_empty() {
            true => "GET".into(),
            false => method.to_ascii_uppercase(),
        },
        target,
        headers,
        body: body_of(event)?,
        context: event["requestContext"].to_string(),
    })
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// v2 headers (repeats already joined with commas by API Gateway).
fn single_headers(event: &Value) -> Vec<(String, String)> {
    let Some(map) = event["headers"].as_object() else {
        return Vec::new();
    };
    map.iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), text(value)))
        .collect()
}

/// v1 and ALB: every value of `multiValueHeaders`, then `headers` for names it lacks.
fn v1_headers(event: &Value) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if let Some(multi) = event["multiValueHeaders"].as_object() {
        for (name, values) in multi {
            for value in values.as_array().into_iter().flatten() {
                headers.push((name.to_ascii_lowercase(), text(value)));
            }
        }
    }
    for (name, value) in single_headers(event) {
        if !headers.iter().any(|(n, _)| *n == name) {
            headers.push((name, value));
        }
    }
    headers
}

/// A v1 query string from its parameters (decoded by API Gateway, so encoded again); ALB
/// passes them as they arrived, so they are joined as they are.
fn v1_query(event: &Value, decoded: bool) -> String {
    let encode = |s: &str| match decoded {
        true => percent_encode(s),
        false => s.to_owned(),
    };
    let mut pairs = Vec::new();
    let multi = event["multiValueQueryStringParameters"].as_object();
    let single = event["queryStringParameters"].as_object();
    if let Some(multi) = multi {
        for (key, values) in multi {
            for value in values.as_array().into_iter().flatten() {
                pairs.push(format!("{}={}", encode(key), encode(&text(value))));
            }
        }
    } else if let Some(single) = single {
        for (key, value) in single {
            pairs.push(format!("{}={}", encode(key), encode(&text(value))));
        }
    }
    pairs.join("&")
}

fn body_of(event: &Value) -> Result<Vec<u8>, BadHttpEvent> {
    let body = text(&event["body"]);
    match event["isBase64Encoded"].as_bool().unwrap_or(false) {
        true => base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| BadHttpEvent(format!("isBase64Encoded but the body is not base64: {e}"))),
        false => Ok(body.into_bytes()),
    }
}

/// RFC 3986 unreserved characters stay; everything else is `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A path as a URI wants it: `/` and what is already valid stay, the rest is `%XX`.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => out.push(byte as char),
            b'-' | b'.' | b'_' | b'~' | b'/' | b'%' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' => {
                out.push(byte as char)
            }
            b'*' | b'+' | b',' | b';' | b'=' | b':' | b'@' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A server's answer as a handler's HTTP result `{statusCode, headers, multiValueHeaders,
/// body, isBase64Encoded}`: the body as text when its content type is textual and it is
/// UTF-8, else base64.
pub fn result_map(status: u16, headers: &[(String, String)], body: &[u8]) -> Value {
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        multi
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.clone());
    }
    let single: Map<String, Value> = multi
        .iter()
        .filter_map(|(name, values)| Some((name.clone(), json!(values.last()?))))
        .collect();
    let (body, is_base64) = encode_body(content_type(headers), body);
    json!({
        "statusCode": status,
        "headers": single,
        "multiValueHeaders": multi,
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

fn content_type(headers: &[(String, String)]) -> &str {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map_or("", |(_, value)| value.as_str())
}

/// Textual content types (and an empty body) as text; anything else base64, as the LWA does.
fn encode_body(content_type: &str, body: &[u8]) -> (String, bool) {
    let lower = content_type.to_ascii_lowercase();
    let textual = body.is_empty()
        || lower.starts_with("text/")
        || [
            "json",
            "xml",
            "javascript",
            "x-www-form-urlencoded",
            "charset=",
        ]
        .iter()
        .any(|t| lower.contains(t));
    match (textual, std::str::from_utf8(body)) {
        (true, Ok(text)) => (text.to_owned(), false),
        _ => (base64::engine::general_purpose::STANDARD.encode(body), true),
    }
}

/// An HTTP answer as the integration response `shape` expects: v1 `headers` and
/// `multiValueHeaders`, v2 `headers` joined with commas and `cookies`, ALB
/// `statusDescription` with `headers` or `multiValueHeaders` as its target group is set up.
pub fn integration_response(shape: Shape, response: &HttpResponse) -> Value {
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &response.headers {
        multi.entry(name.clone()).or_default().push(value.clone());
    }
    let last = |multi: &BTreeMap<String, Vec<String>>| -> Map<String, Value> {
        multi
            .iter()
            .filter_map(|(n, vs)| Some((n.clone(), json!(vs.last()?))))
            .collect()
    };
    let (body, is_base64) = encode_body(content_type(&response.headers), &response.body);
    let mut out =
        json!({"statusCode": response.status, "body": body, "isBase64Encoded": is_base64});
    match shape {
        Shape::ApiV1 => {
            out["headers"] = Value::Object(last(&multi));
            out["multiValueHeaders"] = json!(multi);
        }
        Shape::ApiV2 => {
            let cookies = multi.remove("set-cookie").unwrap_or_default();
            let joined: Map<String, Value> = multi
                .iter()
                .map(|(n, vs)| (n.clone(), json!(vs.join(","))))
                .collect();
            out["headers"] = Value::Object(joined);
            out["cookies"] = json!(cookies);
        }
        Shape::Alb { multi: on } => {
            let reason = http::StatusCode::from_u16(response.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            out["statusDescription"] = json!(format!("{} {reason}", response.status).trim_end());
            match on {
                true => out["multiValueHeaders"] = json!(multi),
                false => out["headers"] = Value::Object(last(&multi)),
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "lambda_tests.rs"]
mod tests;
