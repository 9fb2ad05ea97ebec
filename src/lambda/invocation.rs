//! Pure: one Runtime API event as an [`Invocation`] (its kind, its context from the
//! `Lambda-Runtime-*` headers, its deadline), and an outcome as what is posted back.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{json, Map, Value};

use crate::event::lambda::{self as shapes, Shape};
use crate::exit::StartError;
use crate::invoke::{Failed, Kind, Outcome};

/// What to post for an invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `/response` with this body.
    Response(Bytes),
    /// `/error` with `{errorMessage, errorType, stackTrace}`.
    Error(Value),
}

/// An event of API Gateway, ALB or Function URL shape is an HTTP invocation; any other is raw.
pub fn kind_of(event: &Value) -> (Kind, Option<Shape>) {
    match shapes::shape_of(event) {
        Some(shape) => (Kind::Http, Some(shape)),
        None => (Kind::Event, None),
    }
}

/// The event: JSON, or the text when a caller sent something that is not JSON.
pub fn event_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// The context fields only the Runtime API knows: the ARN, the trace id, the client context
/// and the Cognito identity (the latter two as JSON when they are).
pub fn context_of(headers: &HeaderMap) -> Map<String, Value> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut context = Map::new();
    if let Some(arn) = text("lambda-runtime-invoked-function-arn") {
        context.insert("invokedFunctionArn".into(), json!(arn));
    }
    if let Some(trace) = text("lambda-runtime-trace-id") {
        context.extend(trace_context(trace));
    }
    if let Some(client) = text("lambda-runtime-client-context") {
        context.insert("clientContext".into(), json_or_base64(client));
    }
    if let Some(identity) = text("lambda-runtime-cognito-identity") {
        context.insert("identity".into(), json_or_base64(identity));
    }
    context
}

/// X-Ray's header as `amznTraceId` (what `_X_AMZN_TRACE_ID` is set to) and its W3C form as
/// `traceId` and `traceparent`; a header that is not X-Ray's is the `traceId` as it is.
fn trace_context(header: &str) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert("amznTraceId".into(), json!(header));
    match crate::trace::parse_xray(header) {
        Some((id, parent, sampled)) => {
            if let Some(parent) = parent {
                let flags = u8::from(sampled);
                context.insert(
                    "traceparent".into(),
                    json!(format!("00-{id}-{parent}-{flags:02x}")),
                );
            }
            context.insert("traceId".into(), json!(id));
        }
        None => {
            context.insert("traceId".into(), json!(header));
        }
    }
    context
}

/// Lambda passes JSON; an emulator may pass the caller's base64 as it came.
fn json_or_base64(text: &str) -> Value {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return value;
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_else(|| json!(text))
}

/// How long the invocation may run: until `Lambda-Runtime-Deadline-Ms` (epoch ms), or
/// `fallback` (FUNCTION_TIMEOUT) when it is missing or implausible — the `bool` says so.
pub fn time_left(headers: &HeaderMap, now_ms: u64, fallback: Duration) -> (Duration, bool) {
    let deadline = headers
        .get("lambda-runtime-deadline-ms")
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    // Lambda allows 15 minutes; a minute either side covers clock skew.
    let plausible = deadline.filter(|d| *d + 60_000 >= now_ms && *d <= now_ms + 16 * 60_000);
    match plausible {
        Some(deadline) => (
            Duration::from_millis(deadline.saturating_sub(now_ms)),
            false,
        ),
        None => (fallback, true),
    }
}

/// The outcome as the post: results as JSON (HTTP results shaped for their integration),
/// errors and failures as `/error`.
pub fn reply(outcome: Result<Outcome, Failed>, shape: Option<Shape>, timeout: Duration) -> Reply {
    match outcome {
        Ok(Outcome::Result(result)) => match (shape, &result) {
            (Some(shape), Value::Object(map)) if map.contains_key("statusCode") => {
                match crate::event::to_response(result) {
                    Ok(response) => Reply::Response(Bytes::from(
                        shapes::integration_response(shape, &response).to_string(),
                    )),
                    Err(why) => Reply::Error(error("Runtime.InvalidResponse", &why.0)),
                }
            }
            _ => Reply::Response(Bytes::from(result.to_string())),
        },
        Ok(Outcome::Error(thrown)) => Reply::Error(json!({
            "errorType": thrown["errorType"].as_str().unwrap_or("Error"),
            "errorMessage": thrown["errorMessage"].as_str().unwrap_or_default(),
            "stackTrace": thrown.get("stackTrace").cloned().unwrap_or(json!([])),
        })),
        Ok(Outcome::Stream(_)) => Reply::Error(error(
            "Runtime.InvalidResponse",
            "a streamed answer to an invocation that asked for none",
        )),
        Err(failed) => Reply::Error(failure(&failed, timeout)),
    }
}

/// A failure with the error type Lambda's own runtimes use where one exists.
pub fn failure(failed: &Failed, timeout: Duration) -> Value {
    let error_type = match failed {
        Failed::Timeout => {
            let message = format!("Task timed out after {:.2} seconds", timeout.as_secs_f64());
            return error("Sandbox.Timedout", &message);
        }
        Failed::WorkerExited => "Runtime.ExitError",
        Failed::InvalidResponse(_) => "Runtime.InvalidResponse",
        Failed::NoSuchFunction(_) => "Runtime.HandlerNotFound",
        Failed::TooLarge(_) => "Runtime.RequestTooLarge",
        Failed::BadRequest(_) | Failed::BodyTimeout => "Runtime.InvalidRequest",
        Failed::Throttled => "Runtime.Throttled",
        Failed::Upstream(_) | Failed::NotReady | Failed::Draining => "Runtime.Unavailable",
    };
    error(error_type, &failed.describe())
}

/// Why fnshim cannot start, as the body of `/init/error`.
pub fn init_failure(start: &StartError) -> Value {
    let (error_type, message) = match start {
        StartError::Config(errors) => (
            "Runtime.InvalidConfiguration",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        StartError::Load(_) => ("Runtime.InitError", start.to_string()),
        StartError::Exec { .. } => ("Runtime.InvalidEntrypoint", start.to_string()),
        StartError::Bind { .. } => ("Runtime.InvalidConfiguration", start.to_string()),
        StartError::Unavailable(_) => ("Runtime.Unavailable", start.to_string()),
    };
    error(error_type, &message)
}

fn error(error_type: &str, message: &str) -> Value {
    json!({"errorType": error_type, "errorMessage": message, "stackTrace": []})
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn the_context_comes_from_the_headers() {
        let context = context_of(&headers(&[
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:1:function:f",
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-5e1b4151-5ac6c58f;Sampled=1",
            ),
            ("lambda-runtime-client-context", "{\"custom\":{\"a\":1}}"),
            (
                "lambda-runtime-cognito-identity",
                "eyJjb2duaXRvSWRlbnRpdHlJZCI6ImlkIn0=",
            ),
        ]));
        assert_eq!(
            context["invokedFunctionArn"],
            "arn:aws:lambda:us-east-1:1:function:f"
        );
        assert_eq!(context["amznTraceId"], "Root=1-5e1b4151-5ac6c58f;Sampled=1");
        assert_eq!(context["traceId"], "Root=1-5e1b4151-5ac6c58f;Sampled=1");
        let xray = "Root=1-5e1b4151-5ac6c58f5ac6c58f5ac6c58f;Parent=53995c3f42cd8ad8;Sampled=1";
        let traced = trace_context(xray);
        assert_eq!(traced["traceId"], "5e1b41515ac6c58f5ac6c58f5ac6c58f");
        assert_eq!(
            traced["traceparent"],
            "00-5e1b41515ac6c58f5ac6c58f5ac6c58f-53995c3f42cd8ad8-01"
        );
        assert_eq!(context["clientContext"]["custom"]["a"], 1);
        assert_eq!(context["identity"]["cognitoIdentityId"], "id");
        assert!(context_of(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn deadlines_are_absolute_or_fall_back() {
        let now = 1_700_000_000_000;
        let fallback = Duration::from_secs(3);
        let at = |value: &'static str| {
            time_left(
                &headers(&[("lambda-runtime-deadline-ms", value)]),
                now,
                fallback,
            )
        };
        assert_eq!(at("1700000002500"), (Duration::from_millis(2500), false));
        assert_eq!(at("600000"), (fallback, true));
        assert_eq!(at("1700009999999"), (fallback, true));
        assert_eq!(at("soon"), (fallback, true));
        assert_eq!(
            time_left(&HeaderMap::new(), now, fallback),
            (fallback, true)
        );
        assert_eq!(at("1699999999000"), (Duration::ZERO, false));
    }

    #[test]
    fn http_shaped_events_are_http_invocations() {
        let v2 = json!({"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}});
        assert_eq!(kind_of(&v2), (Kind::Http, Some(Shape::ApiV2)));
        assert_eq!(kind_of(&json!({"key": "value"})), (Kind::Event, None));
        assert_eq!(event_of(b"{\"a\":1}"), json!({"a": 1}));
        assert_eq!(event_of(b"plain"), json!("plain"));
    }

    #[test]
    fn results_are_shaped_for_their_integration() {
        let result =
            json!({"statusCode": 200, "multiValueHeaders": {"set-cookie": ["a=1"]}, "body": "hi"});
        let Reply::Response(body) = reply(
            Ok(Outcome::Result(result.clone())),
            Some(Shape::ApiV2),
            Duration::ZERO,
        ) else {
            panic!("not a response")
        };
        let posted: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(posted["cookies"], json!(["a=1"]));
        assert_eq!(posted["body"], "hi");
        let raw = reply(Ok(Outcome::Result(result.clone())), None, Duration::ZERO);
        assert_eq!(raw, Reply::Response(Bytes::from(result.to_string())));
        let bad = reply(
            Ok(Outcome::Result(json!({"statusCode": 7}))),
            Some(Shape::ApiV1),
            Duration::ZERO,
        );
        assert!(matches!(bad, Reply::Error(e) if e["errorType"] == "Runtime.InvalidResponse"));
    }

    #[test]
    fn errors_and_failures_become_lambda_errors() {
        let thrown = json!({"errorType": "TypeError", "errorMessage": "boom", "stackTrace": ["at x"], "body": 1});
        let posted = reply(Ok(Outcome::Error(thrown)), None, Duration::ZERO);
        assert_eq!(
            posted,
            Reply::Error(
                json!({"errorType": "TypeError", "errorMessage": "boom", "stackTrace": ["at x"]})
            )
        );
        let timeout = failure(&Failed::Timeout, Duration::from_millis(1500));
        assert_eq!(timeout["errorType"], "Sandbox.Timedout");
        assert_eq!(timeout["errorMessage"], "Task timed out after 1.50 seconds");
        assert_eq!(
            failure(&Failed::WorkerExited, Duration::ZERO)["errorType"],
            "Runtime.ExitError"
        );
        let load = init_failure(&StartError::Load("no handler file".into()));
        assert_eq!(load["errorType"], "Runtime.InitError");
        assert!(load["errorMessage"]
            .as_str()
            .unwrap()
            .contains("no handler file"));
    }
}
