//! One invocation of a handler: the request as an event (HTTP, raw `/invoke`, CloudEvent), a
//! worker from the pool, and the result or error back as an HTTP response.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::errors::Failure;
use super::{full, json, App, Body, Call};
use crate::config::{EventFormat, Trigger};
use crate::event::{self, HttpRequest};
use crate::worker::{InvokeError, Pool, Reply};

/// What handler invocations need besides the pool.
pub struct Handlers {
    pub pool: Arc<Pool>,
    pub format: EventFormat,
    pub trigger: Trigger,
    pub function_name: String,
    pub function_version: String,
    pub memory_mb: Option<u64>,
}

const AWS_INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";

pub async fn invoke(
    app: &App,
    handlers: &Handlers,
    request: Request<Incoming>,
    remote: IpAddr,
) -> Response<Body> {
    let call = Call::start(app, &request);
    let result = run(app, handlers, request, remote, &call).await;
    call.finish(app, result)
}

async fn run(
    app: &App,
    handlers: &Handlers,
    request: Request<Incoming>,
    remote: IpAddr,
    call: &Call,
) -> Result<Response<Body>, Failure> {
    let route = route(handlers.trigger, request.method(), request.uri().path());
    if route == Route::NotFound {
        return Err(Failure::NotFound);
    }
    let (parts, body) = request.into_parts();
    let body = read_body(app, &parts.headers, body).await?;
    let (kind, event) = match route {
        Route::Invoke => invoke_event(&parts.headers, &body)?,
        _ => {
            let request = HttpRequest {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query(),
                headers: &parts.headers,
                body: &body,
                source_ip: remote.to_canonical().to_string(),
                request_id: call.id(),
                time_epoch_ms: epoch_ms(),
            };
            ("http", event::http_event(&request, handlers.format))
        }
    };
    app.readiness
        .wait_ready(app.function_timeout)
        .await
        .map_err(Failure::from)?;
    let deadline = call.started + app.function_timeout;
    let deadline_ms = epoch_ms()
        + app
            .function_timeout
            .saturating_sub(call.started.elapsed())
            .as_millis() as u64;
    let context = json!({
        "requestId": call.id(),
        "functionName": handlers.function_name,
        "functionVersion": handlers.function_version,
        "memoryLimitInMB": handlers.memory_mb,
        "deadlineMs": deadline_ms,
        "triggerType": kind,
    });
    let reply = handlers
        .pool
        .invoke(kind, call.id(), event, context, deadline)
        .await
        .map_err(|error| match error {
            InvokeError::Throttled => Failure::Throttled,
            InvokeError::Unavailable => Failure::NotReady,
            InvokeError::Timeout => Failure::Timeout,
            InvokeError::WorkerExited => Failure::WorkerExited,
        })?;
    match reply {
        Reply::Error(error) => Err(Failure::Unhandled {
            error,
            fc_caller: parts.headers.contains_key("x-fc-request-id"),
        }),
        Reply::Result(result) if kind == "http" => http_response(result),
        Reply::Result(result) => Ok(json(StatusCode::OK, result.to_string())),
    }
}

/// A shim-made event (a timer tick) to a worker; the handler's error becomes `Err`.
pub async fn deliver(
    handlers: &Handlers,
    kind: &'static str,
    request_id: &str,
    event: Value,
    mut context: Value,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    context["requestId"] = json!(request_id);
    context["functionName"] = json!(handlers.function_name);
    context["functionVersion"] = json!(handlers.function_version);
    context["memoryLimitInMB"] = json!(handlers.memory_mb);
    context["triggerType"] = json!(kind);
    match handlers
        .pool
        .invoke(kind, request_id, event, context, deadline)
        .await
    {
        Ok(Reply::Result(_)) => Ok(()),
        Ok(Reply::Error(error)) => Err(format!(
            "the handler threw {}: {}",
            error["errorType"].as_str().unwrap_or("Error"),
            error["errorMessage"].as_str().unwrap_or("")
        )),
        Err(error) => Err(format!("{error:?}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Http,
    Invoke,
    NotFound,
}

/// `/invoke` (and AWS's emulator path) take raw events; with TRIGGER_TYPE=event so does `POST /`,
/// and every other route is 404; with http every other route is an HTTP event.
fn route(trigger: Trigger, method: &Method, path: &str) -> Route {
    let invoke_path = path == "/invoke" || path == AWS_INVOKE_PATH;
    match (trigger, method == Method::POST) {
        (_, true) if invoke_path => Route::Invoke,
        (Trigger::Http, _) => Route::Http,
        (_, true) if path == "/" => Route::Invoke,
        _ => Route::NotFound,
    }
}

async fn read_body(app: &App, headers: &http::HeaderMap, body: Incoming) -> Result<Bytes, Failure> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > app.max_body_size) {
        return Err(Failure::TooLarge(app.max_body_size));
    }
    let limit = usize::try_from(app.max_body_size).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(Failure::TooLarge(app.max_body_size))
        }
        Err(error) => Err(Failure::BadRequest(format!(
            "the request body could not be read: {error}"
        ))),
    }
}

fn invoke_event(headers: &http::HeaderMap, body: &[u8]) -> Result<(&'static str, Value), Failure> {
    if let Some(cloudevent) = event::cloudevent(headers, body) {
        return cloudevent
            .map(|e| ("cloudevent", e))
            .map_err(|e| Failure::BadRequest(e.0));
    }
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    event::raw_event(content_type, body)
        .map(|e| ("event", e))
        .map_err(|e| Failure::BadRequest(e.0))
}

fn http_response(result: Value) -> Result<Response<Body>, Failure> {
    let mapped = event::to_response(result).map_err(|e| Failure::InvalidResponse(e.0))?;
    let mut response = Response::new(full(mapped.body));
    *response.status_mut() =
        StatusCode::from_u16(mapped.status).map_err(|e| Failure::InvalidResponse(e.to_string()))?;
    for (name, value) in mapped.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Failure::InvalidResponse(format!("header {name:?}: {e}")))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|e| Failure::InvalidResponse(format!("header {name}: {e}")))?;
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_trigger_type() {
        assert_eq!(route(Trigger::Http, &Method::GET, "/users"), Route::Http);
        assert_eq!(
            route(Trigger::Http, &Method::POST, "/invoke"),
            Route::Invoke
        );
        assert_eq!(
            route(Trigger::Http, &Method::POST, AWS_INVOKE_PATH),
            Route::Invoke
        );
        assert_eq!(route(Trigger::Http, &Method::GET, "/invoke"), Route::Http);
        assert_eq!(route(Trigger::Event, &Method::POST, "/"), Route::Invoke);
        assert_eq!(route(Trigger::Event, &Method::GET, "/"), Route::NotFound);
        assert_eq!(
            route(Trigger::Event, &Method::POST, "/other"),
            Route::NotFound
        );
    }

    #[test]
    fn results_become_responses() {
        let response =
            http_response(json!({"statusCode": 201, "headers": {"x-a": "1"}, "body": "ok"}))
                .unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["x-a"], "1");
        assert!(matches!(
            http_response(json!({"statusCode": 7})),
            Err(Failure::InvalidResponse(_))
        ));
    }
}
