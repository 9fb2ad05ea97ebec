//! Lambda's Invoke API on `POST /2015-03-31/functions/{name}/invocations`, for every back end,
//! so that the AWS CLI and SDKs can call fnshim: the invocation types (`RequestResponse`,
//! `Event` → 202 at once, `DryRun` → 204), `X-Amz-Function-Error`, `X-Amz-Log-Type: Tail`,
//! `X-Amz-Client-Context`, `X-Amz-Executed-Version`, and Lambda's error shape
//! (`x-amzn-ErrorType`, `{"Type", "message"}`) for a function it does not have.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Map, Value};

use super::errors::Failure;
use super::{full, App, Body, Call};
use crate::invoke::{Failed, Invocation, Kind, LogLines, Outcome, Payload};

const PREFIX: &str = "/2015-03-31/functions/";
/// What `X-Amz-Log-Result` carries at most, as Lambda's tail.
const TAIL_BYTES: usize = 4096;

/// The function an Invoke path names (`function`, the emulator's, is the default one), with
/// ARNs and qualifiers reduced to the name.
pub(crate) fn invoked_name<'a>(method: &Method, path: &'a str) -> Option<&'a str> {
    if method != Method::POST {
        return None;
    }
    let name = path.strip_prefix(PREFIX)?.strip_suffix("/invocations")?;
    let name = name.rsplit_once(":function:").map_or(name, |(_, n)| n);
    let name = name.split(':').next().unwrap_or(name);
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// How the caller wants the invocation run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// What the caller asked for besides the event.
struct Asked {
    kind: InvocationType,
    tail: bool,
    context: Map<String, Value>,
}

/// The caller's context fields and the invocation's trace.
fn traced(mut context: Map<String, Value>, call: &Call<'_>) -> Map<String, Value> {
    context.extend(call.trace.context());
    context
}

pub(crate) async fn invoke(app: &Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let call = Call::start(app, &request);
    let _counted = app.in_flight.try_acquire();
    let result = run(app, request, &call).await;
    call.finish(result)
}

async fn run(
    app: &Arc<App>,
    request: Request<Incoming>,
    call: &Call<'_>,
) -> Result<Response<Body>, Failure> {
    let path = request.uri().path().to_owned();
    let name = invoked_name(request.method(), &path).unwrap_or_default();
    let function = match name {
        "function" => 0,
        _ => match app.backend.function_named(name) {
            Ok(index) => index,
            Err(_) => return Ok(not_found(app, name)),
        },
    };
    let (parts, body) = request.into_parts();
    let asked = match asked(&parts.headers) {
        Ok(asked) => asked,
        Err((kind, why)) => return Ok(aws_error(StatusCode::BAD_REQUEST, kind, &why)),
    };
    let timeout = app
        .backend
        .timeout(function)
        .unwrap_or(app.function_timeout);
    let deadline = call.started + timeout;
    let limit = usize::try_from(app.max_body_size).unwrap_or(usize::MAX);
    let body = match tokio::time::timeout_at(deadline, Limited::new(body, limit).collect()).await {
        Err(_) => return Err(Failure::BodyTimeout),
        Ok(Err(_)) => return Err(Failure::TooLarge(app.max_body_size)),
        Ok(Ok(body)) => body.to_bytes(),
    };
    let Some(event) = event(&body) else {
        let why = "Could not parse request body into json";
        return Ok(aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            why,
        ));
    };
    let logs = asked.tail.then(LogLines::default);
    let invocation = Invocation {
        function,
        kind: Kind::Event,
        request_id: call.id().to_owned(),
        event: Payload::Json(event),
        context: traced(asked.context, call),
        trace: None,
        deadline,
        stream: false,
        logs: logs.clone(),
    };
    match asked.kind {
        InvocationType::DryRun => Ok(empty(StatusCode::NO_CONTENT)),
        InvocationType::Event => Ok(in_background(app, invocation)),
        InvocationType::RequestResponse => {
            let outcome = app.backend.invoke(invocation).await;
            let report = Tail::new(call, logs);
            Ok(answer(app, outcome, call.id(), timeout, report))
        }
    }
}

/// The body as JSON; an empty one is `{}`, as the CLI sends no payload.
fn event(body: &Bytes) -> Option<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(json!({}));
    }
    serde_json::from_slice(body).ok()
}

/// The Invoke headers; a bad one is Lambda's error type and message (a 400).
fn asked(headers: &http::HeaderMap) -> Result<Asked, (&'static str, String)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let kind = match header("x-amz-invocation-type").unwrap_or("RequestResponse") {
        "RequestResponse" => InvocationType::RequestResponse,
        "Event" => InvocationType::Event,
        "DryRun" => InvocationType::DryRun,
        other => {
            let why = format!("1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]");
            return Err(("ValidationException", why));
        }
    };
    let mut context = Map::new();
    if let Some(encoded) = header("x-amz-client-context") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        let Some(client_context) = decoded else {
            let why = "Client context must be a valid Base64-encoded JSON object.";
            return Err(("InvalidRequestContentException", why.into()));
        };
        context.insert("clientContext".into(), client_context);
    }
    let tail = header("x-amz-log-type") == Some("Tail");
    Ok(Asked {
        kind,
        tail,
        context,
    })
}

/// `Event`: 202 at once; the invocation runs meanwhile, holding a connection place so that a
/// shutdown's drain waits for it (within SHUTDOWN_TIMEOUT).
fn in_background(app: &Arc<App>, invocation: Invocation) -> Response<Body> {
    let held = app.connections.try_acquire();
    let app = app.clone();
    let id = invocation.request_id.clone();
    tokio::spawn(async move {
        let _held = held;
        let outcome = app.backend.invoke(invocation).await;
        let error = match outcome {
            Ok(Outcome::Result(_) | Outcome::Stream(_)) => return,
            Ok(Outcome::Error(error)) => error["errorMessage"].as_str().unwrap_or("").to_owned(),
            Err(failed) => failed.describe(),
        };
        tracing::warn!(request_id = id, error, "an asynchronous invocation failed");
    });
    empty(StatusCode::ACCEPTED)
}

/// A synchronous invocation's answer, as Lambda gives it.
fn answer(
    app: &App,
    outcome: Result<Outcome, Failed>,
    request_id: &str,
    timeout: std::time::Duration,
    tail: Tail,
) -> Response<Body> {
    let (body, function_error) = match outcome {
        Ok(Outcome::Result(result)) => (result, false),
        Ok(Outcome::Error(error)) => (error, true),
        // Never asked for here (`stream: false`).
        Ok(Outcome::Stream(streamed)) => (json!({"statusCode": streamed.status}), false),
        Err(Failed::Timeout) => {
            let secs = timeout.as_secs_f64();
            let message =
                format!("RequestId: {request_id} Error: Task timed out after {secs:.2} seconds");
            (
                json!({"errorType": "Sandbox.Timedout", "errorMessage": message}),
                true,
            )
        }
        Err(Failed::WorkerExited) => {
            let message =
                format!("RequestId: {request_id} Error: Runtime exited without providing a reason");
            (
                json!({"errorType": "Runtime.ExitError", "errorMessage": message}),
                true,
            )
        }
        Err(failed) => return service_error(failed),
    };
    let mut response = Response::new(full(body.to_string()));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(version) = HeaderValue::from_str(app.backend.version()) {
        headers.insert("x-amz-executed-version", version);
    }
    if function_error {
        headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if let Some(log) = tail.finish(function_error, app.backend.version()) {
        headers.insert("x-amz-log-result", log);
    }
    response
}

/// The failures that are the service's, not the function's, in Lambda's error shape.
fn service_error(failed: Failed) -> Response<Body> {
    let (status, kind) = match failed {
        Failed::Throttled => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException"),
        Failed::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLargeException"),
        Failed::NoSuchFunction(_) => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
        Failed::InvalidResponse(_) | Failed::Upstream(_) => {
            (StatusCode::BAD_GATEWAY, "InvalidRuntimeException")
        }
        _ => (StatusCode::SERVICE_UNAVAILABLE, "ServiceException"),
    };
    aws_error(status, kind, &failed.describe())
}

fn not_found(app: &App, name: &str) -> Response<Body> {
    let arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{name}");
    let served = app.backend.names().join(", ");
    let message = format!("Function not found: {arn} (this container serves {served})");
    aws_error(StatusCode::NOT_FOUND, "ResourceNotFoundException", &message)
}

/// Lambda's error shape: the type in `x-amzn-ErrorType` and the body.
fn aws_error(status: StatusCode, kind: &'static str, message: &str) -> Response<Body> {
    let body = json!({"Type": "User", "message": message, "__type": kind});
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-amzn-errortype", HeaderValue::from_static(kind));
    response
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// `X-Amz-Log-Type: Tail`: the invocation's START, END and REPORT lines as Lambda writes
/// them, around the function's own lines (collected by the back end); base64, at most the
/// last 4 KB.
struct Tail {
    /// The invocation's lines, when the caller asked for the tail.
    wanted: Option<LogLines>,
    request_id: String,
    started: tokio::time::Instant,
}

impl Tail {
    fn new(call: &Call<'_>, wanted: Option<LogLines>) -> Tail {
        Tail {
            wanted,
            request_id: call.id().to_owned(),
            started: call.started,
        }
    }

    fn finish(self, function_error: bool, version: &str) -> Option<HeaderValue> {
        let lines = self.wanted?.lines();
        let id = &self.request_id;
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let status = if function_error {
            "\tStatus: error"
        } else {
            ""
        };
        let mut log = format!("START RequestId: {id} Version: {version}\n");
        for line in &lines {
            log.push_str(line);
            log.push('\n');
        }
        log.push_str(&format!(
            "END RequestId: {id}\nREPORT RequestId: {id}\tDuration: {ms:.2} ms{status}\n"
        ));
        let mut start = log.len().saturating_sub(TAIL_BYTES);
        while !log.is_char_boundary(start) {
            start += 1;
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(&log.as_bytes()[start..]);
        HeaderValue::from_str(&encoded).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_paths_name_their_function() {
        let post = Method::POST;
        let path = |name: &str| format!("/2015-03-31/functions/{name}/invocations");
        assert_eq!(invoked_name(&post, &path("function")), Some("function"));
        assert_eq!(invoked_name(&post, &path("users")), Some("users"));
        assert_eq!(invoked_name(&post, &path("users:live")), Some("users"));
        assert_eq!(
            invoked_name(&post, &path("arn:aws:lambda:us-east-1:1:function:users:2")),
            Some("users")
        );
        assert_eq!(invoked_name(&Method::GET, &path("users")), None);
        assert_eq!(
            invoked_name(&post, "/2015-03-31/functions//invocations"),
            None
        );
        assert_eq!(invoked_name(&post, "/invoke"), None);
    }

    #[test]
    fn events_are_json_and_an_empty_body_is_an_empty_object() {
        assert_eq!(event(&Bytes::from_static(b"")), Some(json!({})));
        assert_eq!(event(&Bytes::from_static(b"[1]")), Some(json!([1])));
        assert_eq!(event(&Bytes::from_static(b"{nope")), None);
    }
}
