//! Lambda response streaming (AWS_LWA_INVOKE_MODE=response_stream): a bootstrap's answer to
//! an HTTP event is posted to `/response` as it arrives, in the Function URL's streaming
//! format: `Lambda-Runtime-Function-Response-Mode: streaming`, the content type
//! `application/vnd.awslambda.http-integration-response`, and a chunked body that starts with
//! a JSON prelude `{statusCode, headers, cookies}` and eight NUL bytes, then the body itself.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use serde_json::{json, Map, Value};

use crate::invoke::{Body, BoxError, Streamed};

pub(crate) static MODE: &str = "lambda-runtime-function-response-mode";
pub(crate) static INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";

/// The prelude and its separator: status, headers (repeated ones joined with `, `) and the
/// `set-cookie` lines as `cookies`.
pub fn prelude(status: u16, headers: &[(String, String)]) -> Bytes {
    let mut joined: Map<String, Value> = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        if name == "set-cookie" {
            cookies.push(Value::String(value.clone()));
            continue;
        }
        let entry = joined
            .entry(name.clone())
            .or_insert(Value::String(String::new()));
        if let Value::String(text) = entry {
            if !text.is_empty() {
                text.push_str(", ");
            }
            text.push_str(value);
        }
    }
    let head = json!({ "statusCode": status, "headers": joined, "cookies": cookies });
    let mut bytes = head.to_string().into_bytes();
    bytes.extend_from_slice(&[0; 8]);
    Bytes::from(bytes)
}

/// The body posted: the prelude first, then the answer's frames as they come.
pub fn body(streamed: Streamed) -> Prefixed {
    Prefixed {
        prefix: Some(prelude(streamed.status, &streamed.headers)),
        rest: streamed.body,
    }
}

pub struct Prefixed {
    prefix: Option<Bytes>,
    rest: Body,
}

impl HttpBody for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prelude_joins_headers_lists_cookies_and_ends_with_eight_nuls() {
        let headers = [
            ("content-type".to_string(), "text/event-stream".to_string()),
            ("x-tag".to_string(), "a".to_string()),
            ("x-tag".to_string(), "b".to_string()),
            ("set-cookie".to_string(), "s=1".to_string()),
        ];
        let bytes = prelude(201, &headers);
        let (head, separator) = bytes.split_at(bytes.len() - 8);
        assert_eq!(separator, [0; 8]);
        let head: Value = serde_json::from_slice(head).unwrap();
        assert_eq!(head["statusCode"], 201);
        assert_eq!(head["headers"]["x-tag"], "a, b");
        assert_eq!(head["headers"]["content-type"], "text/event-stream");
        assert_eq!(head["cookies"], json!(["s=1"]));
    }
}
