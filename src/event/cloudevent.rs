//! CloudEvents over HTTP (spec v1.0 HTTP binding): structured mode
//! (`application/cloudevents+json`) and binary mode (`ce-*` headers), both given to the handler
//! as the CloudEvent's JSON form.

use http::HeaderMap;
use serde_json::{Map, Value};

use super::http::percent_decode;
use super::{body_value, is_json, BadEvent};

const REQUIRED: [&str; 4] = ["id", "source", "type", "specversion"];

/// `None` when the request is not a CloudEvent; `Some(Err)` when it is one but malformed.
pub fn cloudevent(headers: &HeaderMap, body: &[u8]) -> Option<Result<Value, BadEvent>> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type
        .to_ascii_lowercase()
        .starts_with("application/cloudevents+json")
    {
        return Some(structured(body));
    }
    if headers.contains_key("ce-specversion") || headers.contains_key("ce-id") {
        return Some(binary(headers, content_type, body));
    }
    None
}

fn structured(body: &[u8]) -> Result<Value, BadEvent> {
    let event: Value = serde_json::from_slice(body)
        .map_err(|e| BadEvent(format!("the structured CloudEvent is not valid JSON: {e}")))?;
    let Value::Object(attributes) = &event else {
        return Err(BadEvent(
            "a structured CloudEvent must be a JSON object".into(),
        ));
    };
    check_required(attributes)?;
    Ok(event)
}

fn binary(headers: &HeaderMap, content_type: &str, body: &[u8]) -> Result<Value, BadEvent> {
    let mut attributes = Map::new();
    for (name, value) in headers {
        if let Some(attribute) = name.as_str().strip_prefix("ce-") {
            // The body is the data: a `ce-data` header must not stand in for it or contradict it.
            if attribute == "data" || attribute == "data_base64" {
                continue;
            }
            let text = percent_decode(&String::from_utf8_lossy(value.as_bytes()));
            attributes.insert(attribute.to_owned(), Value::String(text));
        }
    }
    check_required(&attributes)?;
    if !content_type.is_empty() {
        attributes.insert(
            "datacontenttype".into(),
            Value::String(content_type.to_owned()),
        );
    }
    if !body.is_empty() {
        let data = match is_json(content_type) {
            true => serde_json::from_slice(body)
                .map_err(|e| BadEvent(format!("the CloudEvent's data is not valid JSON: {e}")))?,
            false => body_value(body).0,
        };
        let key = match body_value(body).1 && !is_json(content_type) {
            true => "data_base64",
            false => "data",
        };
        attributes.insert(key.into(), data);
    }
    Ok(Value::Object(attributes))
}

fn check_required(attributes: &Map<String, Value>) -> Result<(), BadEvent> {
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|key| !attributes.contains_key(*key))
        .collect();
    match missing.is_empty() {
        true => Ok(()),
        false => Err(BadEvent(format!(
            "the CloudEvent lacks required attributes: {}",
            missing.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde_json::json;

    fn binary_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("ce-id", HeaderValue::from_static("1"));
        headers.insert("ce-source", HeaderValue::from_static("/orders"));
        headers.insert("ce-type", HeaderValue::from_static("order.created"));
        headers.insert("ce-specversion", HeaderValue::from_static("1.0"));
        headers.insert("ce-subject", HeaderValue::from_static("a%20b"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers
    }

    #[test]
    fn binary_mode_collects_headers_and_parses_json_data() {
        let event = cloudevent(&binary_headers(), br#"{"n":1}"#)
            .unwrap()
            .unwrap();
        assert_eq!(event["type"], "order.created");
        assert_eq!(event["subject"], "a b");
        assert_eq!(event["datacontenttype"], "application/json");
        assert_eq!(event["data"], json!({"n": 1}));
    }

    #[test]
    fn binary_mode_takes_its_data_from_the_body_only() {
        // Found by fuzzing: a `ce-data_base64` header became the event's data, with no body.
        let mut headers = binary_headers();
        headers.insert("ce-data_base64", HeaderValue::from_static("1.0"));
        headers.insert("ce-data", HeaderValue::from_static("spoofed"));
        let event = cloudevent(&headers, b"").unwrap().unwrap();
        assert!(event.get("data").is_none() && event.get("data_base64").is_none());
        let event = cloudevent(&headers, br#"{"n":1}"#).unwrap().unwrap();
        assert_eq!(event["data"], json!({"n": 1}));
        assert!(event.get("data_base64").is_none());
    }

    #[test]
    fn binary_mode_needs_the_required_attributes() {
        let mut headers = binary_headers();
        headers.remove("ce-source");
        let error = cloudevent(&headers, b"{}").unwrap().unwrap_err();
        assert!(error.0.contains("source"), "{error}");
    }

    #[test]
    fn structured_mode_is_the_body() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/cloudevents+json; charset=utf-8"),
        );
        let body = br#"{"id":"1","source":"s","type":"t","specversion":"1.0","data":{"k":true}}"#;
        let event = cloudevent(&headers, body).unwrap().unwrap();
        assert_eq!(event["data"]["k"], true);
        assert!(cloudevent(&headers, b"{").unwrap().is_err());
        assert!(cloudevent(&headers, br#"{"id":"1"}"#).unwrap().is_err());
    }

    #[test]
    fn plain_requests_are_not_cloudevents() {
        assert!(cloudevent(&HeaderMap::new(), b"{}").is_none());
    }
}
