//! Pure translation between HTTP and function events (SPEC §4): requests become API Gateway
//! v1/v2 events (or, for fetch-style workers, plain request descriptions), raw `/invoke` events
//! or CloudEvents; handler results become HTTP responses.
//!
//! Architecture invariant: no I/O here. Everything takes values and returns values, so that
//! every mapping rule is unit-tested next to it.

pub mod azure;
mod cloudevent;
pub mod fc;
mod http;
mod http_json;
pub mod lambda;
mod response;

pub use cloudevent::cloudevent;
pub use http::{http_event, plain_request, HttpRequest};
pub use http_json::{write_http_event, write_plain_request};
pub use response::to_response;

use base64::Engine;
use serde_json::Value;

/// The body of an event: text as it is, anything that is not UTF-8 as base64.
pub(crate) fn body_value(body: &[u8]) -> (Value, bool) {
    if body.is_empty() {
        return (Value::Null, false);
    }
    match std::str::from_utf8(body) {
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    }
}

/// Why an `/invoke` request could not become an event (400 for the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadEvent(pub String);

/// An `/invoke` body as the handler's event: JSON when it parses (required when the content
/// type says JSON), else the text, else base64 text for binary.
pub fn raw_event(content_type: Option<&str>, body: &[u8]) -> Result<Value, BadEvent> {
    let says_json = content_type.is_some_and(is_json);
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => Ok(value),
        Err(error) if says_json => Err(BadEvent(format!("the body is not valid JSON: {error}"))),
        Err(_) => Ok(body_value(body).0),
    }
}

pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_events_are_json_text_or_base64() {
        assert_eq!(raw_event(None, br#"{"a":1}"#), Ok(json!({"a": 1})));
        assert_eq!(raw_event(Some("text/plain"), b"hello"), Ok(json!("hello")));
        assert_eq!(raw_event(None, b""), Ok(Value::Null));
        assert_eq!(raw_event(None, &[0xff, 0x00]), Ok(json!("/wA=")));
        let error = raw_event(Some("application/json; charset=utf-8"), b"{oops").unwrap_err();
        assert!(error.0.contains("not valid JSON"));
    }
}
