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
}

impl Failure {
    pub fn outcome(&self) -> Outcome {
        match self {
            Failure::Timeout => Outcome::Timeout,
            Failure::WorkerExited | Failure::Upstream(_) => Outcome::WorkerExited,
            Failure::InvalidResponse(_) => Outcome::InvalidResponse,
            Failure::Throttled => Outcome::Throttled,
            Failure::TooLarge(_) => Outcome::TooLarge,
            Failure::NotReady | Failure::Draining => Outcome::NotReady,
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
        }
    }

    pub fn response(&self, request_id: &str) -> Response<Body> {
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
        let throttled = Failure::Throttled.response("abc");
        assert_eq!(throttled.headers()[http::header::RETRY_AFTER], "1");
    }
}
