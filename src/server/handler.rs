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
use crate::config::fyml::{Matched, Router};
use crate::config::{EventFormat, Trigger};
use crate::event::{self, HttpRequest};
use crate::worker::{Input, InvokeError, Payload, Pool, Reply};

/// The functions served and how requests find them.
pub struct Handlers {
    /// The first is the one `/invoke` reaches without a name.
    pub functions: Vec<Function>,
    /// f.yml's routes; `None`: the first function serves every path.
    pub router: Option<Router>,
    pub format: EventFormat,
    pub trigger: Trigger,
    pub function_version: String,
}

/// One function's workers and what its context says.
pub struct Function {
    pub name: String,
    pub pool: Arc<Pool>,
    pub timeout: std::time::Duration,
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
    // Unlimited here (each pool queues and throttles), counted for fnshim_in_flight.
    let _counted = app.in_flight.try_acquire();
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
    let (method, path) = (request.method(), request.uri().path());
    let route = route(handlers.trigger, method, path);
    let (function, matched) = pick(handlers, &route, method, path)?;
    let raw_event = matches!(route, Route::Invoke(_));
    let (parts, body) = request.into_parts();
    let body = read_body(app, &parts.headers, body).await?;
    let inbound = match raw_event {
        true => {
            let (kind, event) = invoke_event(&parts.headers, &body)?;
            Inbound::Event(kind, event)
        }
        false => Inbound::Http(HttpRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            body: &body,
            source_ip: remote.to_canonical().to_string(),
            request_id: call.id(),
            time_epoch_ms: epoch_ms(),
            route: matched.as_ref(),
        }),
    };
    let kind = match &inbound {
        Inbound::Event(kind, _) => *kind,
        Inbound::Http(_) => "http",
    };
    // Built once the worker is known: a fetch-style worker reads the plain request instead.
    let payload = |input| match inbound {
        Inbound::Event(_, event) => Payload::Event(event),
        Inbound::Http(request) if input == Input::Request => {
            Payload::Request(event::plain_request(&request))
        }
        Inbound::Http(request) => Payload::Event(event::http_event(&request, handlers.format)),
    };
    app.readiness
        .wait_ready(function.timeout)
        .await
        .map_err(Failure::from)?;
    let deadline = call.started + function.timeout;
    let deadline_ms = epoch_ms()
        + function
            .timeout
            .saturating_sub(call.started.elapsed())
            .as_millis() as u64;
    let context = json!({
        "requestId": call.id(),
        "functionName": function.name,
        "functionVersion": handlers.function_version,
        "memoryLimitInMB": function.memory_mb,
        "deadlineMs": deadline_ms,
        "triggerType": kind,
    });
    let reply = function
        .pool
        .invoke(kind, call.id(), payload, context, deadline)
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

/// A shim-made event (a timer tick) to a function's worker; the handler's error becomes `Err`.
pub async fn deliver(
    handlers: &Handlers,
    function: usize,
    kind: &'static str,
    request_id: &str,
    event: Value,
    mut context: Value,
    started: tokio::time::Instant,
) -> Result<(), String> {
    let function = handlers.functions.get(function).ok_or("no such function")?;
    let deadline = started + function.timeout;
    context["requestId"] = json!(request_id);
    context["functionName"] = json!(function.name);
    context["functionVersion"] = json!(handlers.function_version);
    context["memoryLimitInMB"] = json!(function.memory_mb);
    context["deadlineMs"] = json!(epoch_ms() + function.timeout.as_millis() as u64);
    context["triggerType"] = json!(kind);
    match function
        .pool
        .invoke(
            kind,
            request_id,
            |_| Payload::Event(event),
            context,
            deadline,
        )
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

/// A request before a worker is chosen: a raw event of some kind, or an HTTP request that
/// becomes an API Gateway event or a plain request description, as that worker reads.
enum Inbound<'a> {
    Event(&'static str, Value),
    Http(HttpRequest<'a>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route<'a> {
    Http,
    /// A raw event, for the named function (`/invoke/NAME`, AWS's `/functions/NAME/`) or the
    /// first one.
    Invoke(Option<&'a str>),
    NotFound,
}

/// `/invoke` (and AWS's emulator path) take raw events; with TRIGGER_TYPE=event so does `POST /`,
/// and every other route is 404; with http every other route is an HTTP event.
fn route<'a>(trigger: Trigger, method: &Method, path: &'a str) -> Route<'a> {
    let named = path.strip_prefix("/invoke/").or_else(|| {
        path.strip_prefix("/2015-03-31/functions/")?
            .strip_suffix("/invocations")
            .filter(|name| *name != "function")
    });
    let invoke_path = path == "/invoke" || path == AWS_INVOKE_PATH;
    match (trigger, method == Method::POST) {
        (_, true) if invoke_path => Route::Invoke(None),
        (_, true) if named.is_some_and(|n| !n.is_empty() && !n.contains('/')) => {
            Route::Invoke(named)
        }
        (Trigger::Http, _) => Route::Http,
        (_, true) if path == "/" => Route::Invoke(None),
        _ => Route::NotFound,
    }
}

/// The function a request goes to, with the f.yml route it matched.
fn pick<'h>(
    handlers: &'h Handlers,
    route: &Route<'_>,
    method: &Method,
    path: &str,
) -> Result<(&'h Function, Option<Matched>), Failure> {
    let first = || &handlers.functions[0];
    match (route, &handlers.router) {
        (Route::NotFound, _) => Err(Failure::events_only()),
        (Route::Invoke(None), _) | (Route::Http, None) => Ok((first(), None)),
        (Route::Invoke(Some(name)), _) => handlers
            .functions
            .iter()
            .find(|f| f.name == *name)
            .map(|f| (f, None))
            .ok_or_else(|| {
                Failure::NotFound(format!(
                    "no function named {name:?}; this container serves {}",
                    names(handlers)
                ))
            }),
        (Route::Http, Some(router)) => match router.route(method.as_str(), path) {
            Some(matched) => Ok((&handlers.functions[matched.function], Some(matched))),
            None => Err(Failure::NotFound(format!(
                "no function in f.yml serves {method} {path}"
            ))),
        },
    }
}

fn names(handlers: &Handlers) -> String {
    handlers
        .functions
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
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
            Route::Invoke(None)
        );
        assert_eq!(
            route(Trigger::Http, &Method::POST, AWS_INVOKE_PATH),
            Route::Invoke(None)
        );
        assert_eq!(
            route(Trigger::Http, &Method::POST, "/invoke/users"),
            Route::Invoke(Some("users"))
        );
        assert_eq!(
            route(
                Trigger::Event,
                &Method::POST,
                "/2015-03-31/functions/users/invocations"
            ),
            Route::Invoke(Some("users"))
        );
        assert_eq!(
            route(Trigger::Http, &Method::POST, "/invoke/a/b"),
            Route::Http
        );
        assert_eq!(route(Trigger::Http, &Method::GET, "/invoke"), Route::Http);
        assert_eq!(
            route(Trigger::Event, &Method::POST, "/"),
            Route::Invoke(None)
        );
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
