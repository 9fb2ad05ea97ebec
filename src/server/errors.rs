//! The one place that turns a failed invocation into an HTTP status and a JSON error body.

use http::{HeaderValue, Response, StatusCode};

use super::metrics::Outcome;
use super::Body;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    WorkerExited,
    InvalidResponse(String),
    Upstream(String),
    Throttled,
    TooLarge(u64),
    NotReady,
    Draining,
    /// The handler threw: its error, and whether the caller is Function Compute.
    Unhandled {
        error: serde_json::Value,
        fc_caller: bool,
    },
    BadRequest(String),
    /// A request that could be read two ways or names a path above the root (`framing`).
    Malformed(&'static str),
    /// The client's body could not be read (bad chunked framing, a connection cut mid-body).
    BadBody(String),
    /// The client did not send its whole body within the function's timeout.
    BodyTimeout,
    /// No route: the reason names what is served instead.
    NotFound(String),
}

impl From<crate::invoke::Failed> for Failure {
    fn from(failed: crate::invoke::Failed) -> Failure {
        use crate::invoke::Failed;
        match failed {
            Failed::Timeout => Failure::Timeout,
            Failed::WorkerExited => Failure::WorkerExited,
            Failed::InvalidResponse(why) => Failure::InvalidResponse(why),
            Failed::Upstream(why) => Failure::Upstream(why),
            Failed::Throttled => Failure::Throttled,
            Failed::TooLarge(limit) => Failure::TooLarge(limit),
            Failed::BadRequest(why) => Failure::BadBody(why),
            Failed::BodyTimeout => Failure::BodyTimeout,
            Failed::NotReady => Failure::NotReady,
            Failed::Draining => Failure::Draining,
            Failed::NoSuchFunction(why) => Failure::NotFound(why),
        }
    }
}

impl From<crate::readiness::Unavailable> for Failure {
    fn from(why: crate::readiness::Unavailable) -> Failure {
        match why {
            crate::readiness::Unavailable::Draining => Failure::Draining,
            crate::readiness::Unavailable::NotReady => Failure::NotReady,
        }
    }
}

impl Failure {
    /// A route other than `POST /` or `/invoke` with an event or schedule trigger.
    pub fn events_only() -> Failure {
        Failure::NotFound(
            "with TRIGGER_TYPE=event or schedule only POST / and POST /invoke are served".into(),
        )
    }

    pub fn outcome(&self) -> Outcome {
        match self {
            Failure::Timeout => Outcome::Timeout,
            Failure::WorkerExited | Failure::Upstream(_) => Outcome::WorkerExited,
            Failure::InvalidResponse(_) => Outcome::InvalidResponse,
            Failure::Throttled => Outcome::Throttled,
            Failure::TooLarge(_) => Outcome::TooLarge,
            Failure::NotReady | Failure::Draining => Outcome::NotReady,
            Failure::Unhandled { .. }
            | Failure::BadRequest(_)
            | Failure::Malformed(_)
            | Failure::BodyTimeout
            | Failure::BadBody(_)
            | Failure::NotFound(_) => Outcome::Error,
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Failure::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "TimeoutError",
                "the function did not answer within FUNCTION_TIMEOUT".into(),
            ),
            Failure::WorkerExited => (
                StatusCode::BAD_GATEWAY,
                "WorkerExited",
                "the function's process exited while handling the request; it is being restarted"
                    .into(),
            ),
            Failure::InvalidResponse(why) => (
                StatusCode::BAD_GATEWAY,
                "InvalidResponse",
                format!("the function's response is not valid HTTP: {why}"),
            ),
            Failure::Upstream(why) => (
                StatusCode::BAD_GATEWAY,
                "UpstreamError",
                format!("the function's server failed: {why}"),
            ),
            Failure::Throttled => (
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "FUNCTION_CONCURRENCY invocations are already in flight".into(),
            ),
            Failure::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                format!("the request body is larger than MAX_BODY_SIZE ({limit} bytes)"),
            ),
            Failure::NotReady => (
                StatusCode::SERVICE_UNAVAILABLE,
                "NotReady",
                "the function's worker is not ready".into(),
            ),
            Failure::Draining => (
                StatusCode::SERVICE_UNAVAILABLE,
                "NotReady",
                "the function is shutting down".into(),
            ),
            Failure::Unhandled { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Unhandled",
                String::new(),
            ),
            Failure::BadRequest(why) => (StatusCode::BAD_REQUEST, "InvalidEvent", why.clone()),
            Failure::BadBody(why) => (StatusCode::BAD_REQUEST, "BadRequest", why.clone()),
            Failure::Malformed(why) => (StatusCode::BAD_REQUEST, "BadRequest", (*why).into()),
            Failure::BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                "the request body did not arrive within FUNCTION_TIMEOUT".into(),
            ),
            Failure::NotFound(why) => (StatusCode::NOT_FOUND, "NotFound", why.clone()),
        }
    }

    pub fn response(&self, request_id: &str) -> Response<Body> {
        if let Failure::Unhandled { error, fc_caller } = self {
            return unhandled(error, *fc_caller, request_id);
        }
        let (status, kind, message) = self.parts();
        let body = serde_json::json!({
            "errorType": kind,
            "errorMessage": message,
            "stackTrace": [],
            "requestId": request_id,
        });
        let mut response = super::json(status, body.to_string());
        if matches!(
            self,
            Failure::Throttled | Failure::NotReady | Failure::Draining
        ) {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// 500 with the handler's own error type, message and stack, and `X-Function-Error: Unhandled`
/// (plus `x-fc-status: 404` for Function Compute callers, which is how it reports errors).
fn unhandled(error: &serde_json::Value, fc_caller: bool, request_id: &str) -> Response<Body> {
    let text = |key: &str, default: &str| error[key].as_str().unwrap_or(default).to_owned();
    let stack = match &error["stackTrace"] {
        serde_json::Value::Array(lines) => serde_json::Value::Array(lines.clone()),
        _ => serde_json::json!([]),
    };
    let body = serde_json::json!({
        "errorType": text("errorType", "Error"),
        "errorMessage": text("errorMessage", ""),
        "stackTrace": stack,
        "requestId": request_id,
    });
    let mut response = super::json(StatusCode::INTERNAL_SERVER_ERROR, body.to_string());
    response
        .headers_mut()
        .insert("x-function-error", HeaderValue::from_static("Unhandled"));
    if fc_caller {
        response
            .headers_mut()
            .insert("x-fc-status", HeaderValue::from_static("404"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_types() {
        let cases = [
            (Failure::Timeout, 504, "TimeoutError"),
            (Failure::WorkerExited, 502, "WorkerExited"),
            (Failure::InvalidResponse("x".into()), 502, "InvalidResponse"),
            (Failure::Throttled, 429, "TooManyRequests"),
            (Failure::TooLarge(10), 413, "PayloadTooLarge"),
            (Failure::NotReady, 503, "NotReady"),
        ];
        for (failure, status, kind) in cases {
            let (code, name, _) = failure.parts();
            assert_eq!((code.as_u16(), name), (status, kind));
        }
        let error = serde_json::json!({"errorType": "TypeError", "errorMessage": "boom", "stackTrace": ["at x"]});
        let unhandled = Failure::Unhandled {
            error,
            fc_caller: true,
        }
        .response("r1");
        assert_eq!(unhandled.status(), 500);
        assert_eq!(unhandled.headers()["x-function-error"], "Unhandled");
        assert_eq!(unhandled.headers()["x-fc-status"], "404");
        let throttled = Failure::Throttled.response("abc");
        assert_eq!(throttled.headers()[http::header::RETRY_AFTER], "1");
    }
}
