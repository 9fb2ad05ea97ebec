//! A handler's result as an HTTP response: a map with `statusCode` is an HTTP response (API
//! Gateway shape), a string is `text/plain`, any other value is JSON, all with 200.

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// The result has `statusCode` but is not a valid response (502 `InvalidResponse`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidResponse(pub String);

pub fn to_response(result: Value) -> Result<HttpResponse, InvalidResponse> {
    match result {
        Value::Object(map) if map.contains_key("statusCode") => shaped(map),
        Value::String(text) => Ok(plain(text.into(), "text/plain; charset=utf-8")),
        other => {
            let mut text = crate::json::Json::with_capacity(128);
            text.value(&other);
            Ok(plain(text.0.into(), "application/json"))
        }
    }
}

fn plain(body: Bytes, content_type: &str) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), content_type.into())],
        body,
    }
}

fn shaped(map: serde_json::Map<String, Value>) -> Result<HttpResponse, InvalidResponse> {
    let status = match &map["statusCode"] {
        Value::Number(n) => n.as_u64().filter(|s| (100..=599).contains(s)),
        Value::String(s) => s.parse().ok().filter(|s| (100..=599).contains(s)),
        _ => None,
    }
    .ok_or_else(|| {
        InvalidResponse(format!(
            "statusCode {} is not an HTTP status",
            map["statusCode"]
        ))
    })? as u16;
    let mut headers = headers(&map)?;
    let body = body_bytes(
        map.get("body"),
        map.get("isBase64Encoded")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    )?;
    if !body.is_empty() && !headers.iter().any(|(name, _)| name == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// `headers`, then `multiValueHeaders` (replacing a name's single value), then `cookies` as
/// `set-cookie` lines; names lower-cased.
fn headers(map: &serde_json::Map<String, Value>) -> Result<Vec<(String, String)>, InvalidResponse> {
    let present = |key: &str| map.get(key).filter(|v| !v.is_null());
    let mut headers = Vec::new();
    if let Some(single) = present("headers") {
        let single = single
            .as_object()
            .ok_or_else(|| InvalidResponse("headers must be an object".into()))?;
        for (name, value) in single {
            headers.push((name.to_ascii_lowercase(), scalar(value, "headers")?));
        }
    }
    if let Some(multi) = present("multiValueHeaders") {
        let multi = multi
            .as_object()
            .ok_or_else(|| InvalidResponse("multiValueHeaders must be an object".into()))?;
        for (name, values) in multi {
            let values = values.as_array().ok_or_else(|| {
                InvalidResponse(format!("multiValueHeaders.{name} must be a list"))
            })?;
            let name = name.to_ascii_lowercase();
            headers.retain(|(existing, _)| *existing != name);
            for value in values {
                headers.push((name.clone(), scalar(value, "multiValueHeaders")?));
            }
        }
    }
    if let Some(cookies) = present("cookies") {
        let cookies = cookies
            .as_array()
            .ok_or_else(|| InvalidResponse("cookies must be a list".into()))?;
        for cookie in cookies {
            headers.push(("set-cookie".into(), scalar(cookie, "cookies")?));
        }
    }
    Ok(headers)
}

fn scalar(value: &Value, field: &str) -> Result<String, InvalidResponse> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(value.to_string()),
        _ => Err(InvalidResponse(format!(
            "{field} values must be strings, numbers or booleans"
        ))),
    }
}

/// A string body as it is (base64-decoded when flagged); a JSON value body as its JSON text.
fn body_bytes(body: Option<&Value>, is_base64: bool) -> Result<Bytes, InvalidResponse> {
    match body {
        None | Some(Value::Null) => Ok(Bytes::new()),
        Some(Value::String(text)) if is_base64 => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(|e| {
                InvalidResponse(format!(
                    "body is flagged isBase64Encoded but is not base64: {e}"
                ))
            }),
        Some(Value::String(text)) => Ok(Bytes::from(text.clone())),
        Some(other) => Ok(Bytes::from(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header<'a>(response: &'a HttpResponse, name: &str) -> Vec<&'a str> {
        response
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn the_seed_shape_is_an_http_response() {
        let response = to_response(json!({
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Count": 3},
            "body": "{\"ok\":true}",
        }))
        .unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(header(&response, "content-type"), ["application/json"]);
        assert_eq!(header(&response, "x-count"), ["3"]);
        assert_eq!(response.body, "{\"ok\":true}");
    }

    #[test]
    fn multi_value_headers_cookies_and_base64() {
        let response = to_response(json!({
            "statusCode": 200,
            "headers": {"x-a": "single"},
            "multiValueHeaders": {"x-a": ["1", "2"]},
            "cookies": ["a=1", "b=2; Path=/"],
            "body": "AJ+Slg==",
            "isBase64Encoded": true,
        }))
        .unwrap();
        assert_eq!(header(&response, "x-a"), ["1", "2"]);
        assert_eq!(header(&response, "set-cookie"), ["a=1", "b=2; Path=/"]);
        assert_eq!(&response.body[..], &[0, 159, 146, 150]);
    }

    #[test]
    fn plain_values_and_strings() {
        let json_value = to_response(json!({"message": "hi"})).unwrap();
        assert_eq!(
            (json_value.status, &json_value.body[..]),
            (200, &b"{\"message\":\"hi\"}"[..])
        );
        assert_eq!(header(&json_value, "content-type"), ["application/json"]);
        let text = to_response(json!("hello")).unwrap();
        assert_eq!(header(&text, "content-type"), ["text/plain; charset=utf-8"]);
        assert_eq!(text.body, "hello");
        assert_eq!(to_response(Value::Null).unwrap().body, "null");
    }

    #[test]
    fn invalid_shapes_are_refused() {
        assert!(to_response(json!({"statusCode": 99})).is_err());
        assert!(to_response(json!({"statusCode": "abc"})).is_err());
        assert!(to_response(json!({"statusCode": 200, "headers": [1]})).is_err());
        assert!(
            to_response(json!({"statusCode": 200, "body": "!!", "isBase64Encoded": true})).is_err()
        );
        let object_body = to_response(json!({"statusCode": 200, "body": {"a": 1}})).unwrap();
        assert_eq!(object_body.body, "{\"a\":1}");
    }
}
