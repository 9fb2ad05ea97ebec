//! The Runtime API (2018-06-01) as bootstraps see it, on one loopback endpoint per slot:
//! `GET invocation/next`, `POST invocation/{id}/response`, `POST invocation/{id}/error` and
//! `POST init/error`, with Lambda's statuses and error bodies.

use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};

use super::{Next, RuntimeApi, Started, MAX_PAYLOAD};
use crate::backend::workers::epoch_ms;
use crate::invoke::Outcome;

const PREFIX: &str = "/2018-06-01/runtime/";

/// Accepts the slot's bootstrap connections for the life of fnshim.
pub(super) async fn serve(api: Arc<RuntimeApi>, slot: usize, listener: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // EMFILE and the like repeat at once: give the system a moment.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        tokio::spawn(async move {
            let service = service_fn(|request| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(route(&api, slot, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// What a path asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Next,
    Response(&'a str),
    Error(&'a str),
    InitError,
    Unknown,
}

fn parse(path: &str) -> Route<'_> {
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Route::Unknown;
    };
    match rest {
        "invocation/next" => Route::Next,
        "init/error" => Route::InitError,
        _ => {
            let Some(rest) = rest.strip_prefix("invocation/") else {
                return Route::Unknown;
            };
            match rest.rsplit_once('/') {
                Some((id, "response")) if !id.is_empty() => Route::Response(id),
                Some((id, "error")) if !id.is_empty() => Route::Error(id),
                _ => Route::Unknown,
            }
        }
    }
}

async fn route(
    api: &Arc<RuntimeApi>,
    slot: usize,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let route = parse(&path);
    let expected = match route {
        Route::Next => Method::GET,
        Route::Unknown => return error(StatusCode::NOT_FOUND, "NotFound", "no such route"),
        _ => Method::POST,
    };
    if request.method() != expected {
        let why = format!("{path} takes {expected}");
        return error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", &why);
    }
    if route == Route::Next {
        return next(api.next(slot).await);
    }
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_PAYLOAD).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(true),
        Err(_) => Err(false),
    };
    match route {
        Route::Response(id) => respond(api, id, body, |body| Outcome::Result(result(&body))),
        Route::Error(id) => respond(api, id, body, |body| {
            Outcome::Error(function_error(&parts.headers, &body))
        }),
        _ => init_error(api, slot, &parts.headers, body.unwrap_or_default()),
    }
}

/// `/response` and `/error`: 202, or 400 for an id no process holds, or 413 over 6 MiB (the
/// invocation then fails as Lambda's does, with `Function.ResponseSizeTooLarge`).
fn respond(
    api: &RuntimeApi,
    id: &str,
    body: Result<Bytes, bool>,
    outcome: impl FnOnce(Bytes) -> Outcome,
) -> Response<Full<Bytes>> {
    let too_large = format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).");
    match body {
        Err(true) => {
            let error = json!({
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."),
            });
            if !api.answer(id, Outcome::Error(error)) {
                return invalid_id();
            }
            error_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &too_large,
            )
        }
        Err(false) => error(StatusCode::BAD_REQUEST, "InvalidRequest", "unreadable body"),
        Ok(body) => match api.answer(id, outcome(body)) {
            true => accepted(),
            false => invalid_id(),
        },
    }
}

fn init_error(
    api: &RuntimeApi,
    slot: usize,
    headers: &http::HeaderMap,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let error = function_error(headers, &body);
    let mut text = format!(
        "{}: {}",
        error["errorType"].as_str().unwrap_or("Runtime.Unknown"),
        error["errorMessage"].as_str().unwrap_or("")
    );
    for line in error["stackTrace"].as_array().into_iter().flatten() {
        text.push_str("\n    ");
        text.push_str(line.as_str().unwrap_or_default().trim_end());
    }
    api.note_start(slot, Started::InitError(text));
    accepted()
}

/// A response body as the function's result: JSON when it parses, else a string.
fn result(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// An error body as `{errorType, errorMessage, stackTrace}`; the type falls back to the
/// `Lambda-Runtime-Function-Error-Type` header.
fn function_error(headers: &http::HeaderMap, body: &[u8]) -> Value {
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Runtime.Unknown");
    let mut error = match result(body) {
        Value::Object(map) => map,
        Value::String(text) if text.is_empty() => Default::default(),
        other => serde_json::Map::from_iter([("errorMessage".into(), other)]),
    };
    error
        .entry("errorType")
        .or_insert_with(|| json!(header_type));
    error.entry("errorMessage").or_insert_with(|| json!(""));
    // aws-lambda-ric (Node) names the stack `trace`.
    let trace = error.get("trace").filter(|t| t.is_array()).cloned();
    error
        .entry("stackTrace")
        .or_insert_with(|| trace.unwrap_or_else(|| json!([])));
    Value::Object(error)
}

/// `/next`'s answer: the event, with the invocation's headers.
fn next(next: Next) -> Response<Full<Bytes>> {
    let left = next
        .deadline
        .saturating_duration_since(tokio::time::Instant::now());
    let text = |key: &str| next.context.get(key).and_then(Value::as_str);
    let json_of = |key: &str| next.context.get(key).map(Value::to_string);
    let headers = [
        ("lambda-runtime-aws-request-id", Some(next.id.clone())),
        (
            "lambda-runtime-deadline-ms",
            Some((epoch_ms() + left.as_millis() as u64).to_string()),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            text("invokedFunctionArn").map(str::to_owned),
        ),
        (
            "lambda-runtime-trace-id",
            Some(text("amznTraceId").map_or_else(|| trace_id(&next.id), str::to_owned)),
        ),
        ("lambda-runtime-client-context", json_of("clientContext")),
        ("lambda-runtime-cognito-identity", json_of("identity")),
    ];
    let mut response = Response::new(Full::new(next.event));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// An X-Ray trace header for an invocation that came without one.
fn trace_id(request_id: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    request_id.hash(&mut hasher);
    let (high, secs) = (hasher.finish(), epoch_ms() / 1000);
    (secs, request_id).hash(&mut hasher);
    let low = hasher.finish() as u32;
    format!("Root=1-{secs:08x}-{high:016x}{low:08x};Sampled=0")
}

fn accepted() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(br#"{"status":"OK"}"#)));
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

fn invalid_id() -> Response<Full<Bytes>> {
    error_body(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    error_body(status, kind, message)
}

fn error_body(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({"errorMessage": message, "errorType": kind}).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_parsed() {
        assert_eq!(parse("/2018-06-01/runtime/invocation/next"), Route::Next);
        assert_eq!(
            parse("/2018-06-01/runtime/invocation/abc-1/response"),
            Route::Response("abc-1")
        );
        assert_eq!(
            parse("/2018-06-01/runtime/invocation/abc/error"),
            Route::Error("abc")
        );
        assert_eq!(parse("/2018-06-01/runtime/init/error"), Route::InitError);
        assert_eq!(
            parse("/2018-06-01/runtime/invocation//response"),
            Route::Unknown
        );
        assert_eq!(parse("/2018-06-01/runtime/other"), Route::Unknown);
        assert_eq!(parse("/invoke"), Route::Unknown);
    }

    #[test]
    fn error_bodies_take_the_header_type_and_defaults() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "lambda-runtime-function-error-type",
            HeaderValue::from_static("Runtime.Crash"),
        );
        let error = function_error(&headers, b"{\"errorMessage\":\"boom\"}");
        assert_eq!(
            error,
            json!({"errorType": "Runtime.Crash", "errorMessage": "boom", "stackTrace": []})
        );
        let error = function_error(&http::HeaderMap::new(), br#"{"trace":["at f"]}"#);
        assert_eq!(error["stackTrace"], json!(["at f"]));
        let error = function_error(&http::HeaderMap::new(), b"plain words");
        assert_eq!(error["errorMessage"], "plain words");
        assert_eq!(error["errorType"], "Runtime.Unknown");
    }

    #[test]
    fn trace_ids_have_the_xray_shape() {
        let id = trace_id("r-1");
        let root = id.strip_prefix("Root=1-").unwrap();
        let (secs, rest) = root.split_once('-').unwrap();
        assert_eq!(secs.len(), 8);
        assert_eq!(rest.split(';').next().unwrap().len(), 24);
    }
}
