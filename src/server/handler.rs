//! One invocation of a handler: the request as an event (HTTP, raw `/invoke`, CloudEvent), a
//! worker from the pool, and the result or error back as an HTTP response.

use std::net::IpAddr;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::Value;

use super::errors::Failure;
use super::{full, json, App, Body, Call};
use crate::backend::workers::epoch_ms;
use crate::config::fyml::{Matched, Router};
use crate::config::{EventFormat, Trigger};
use crate::event::{self, HttpRequest};
use crate::invoke::{Invocation, Kind, Outcome, Payload, Shape};

/// How requests become invocations: the trigger, the event format and f.yml's routes.
pub struct Routes {
    /// f.yml's routes; `None`: the first function serves every path.
    pub router: Option<Router>,
    pub format: EventFormat,
    pub trigger: Trigger,
    /// FUNCTIONS_CUSTOMHANDLER_PORT is set: custom-handler payloads, for this layout.
    pub azure: Option<super::azure::Layout>,
}

pub async fn invoke(app: &App, mut request: Request<Incoming>, remote: IpAddr) -> Response<Body> {
    let call = Call::start(app, &request);
    // Routes and the event see `/a/../b` as `/b`, as nginx's locations do.
    if let Some(uri) = super::framing::normalized(request.uri()) {
        *request.uri_mut() = uri;
    }
    // Unlimited here (each pool queues and throttles), counted for fnshim_in_flight.
    let _counted = app.in_flight.try_acquire();
    let result = run(app, request, remote, &call).await;
    call.finish(result)
}

async fn run(
    app: &App,
    request: Request<Incoming>,
    remote: IpAddr,
    call: &Call<'_>,
) -> Result<Response<Body>, Failure> {
    let routes = &app.routes;
    let (method, path) = (request.method(), request.uri().path());
    let route = route(routes.trigger, method, path);
    let (function, matched) = pick(app, &route, method, path)?;
    tracing::debug!(request_id = call.id(), function, route = ?route, resource = matched.as_ref().map(|m| m.resource.as_str()), "routed");
    let raw_event = matches!(route, Route::Invoke(_));
    let (parts, body) = request.into_parts();
    let timeout = app
        .backend
        .timeout(function)
        .unwrap_or(app.function_timeout);
    let deadline = call.started + timeout;
    let body = tokio::time::timeout_at(deadline, read_body(app, &parts.headers, body))
        .await
        .map_err(|_| Failure::BodyTimeout)??;
    let fc_caller = parts.headers.contains_key("x-fc-request-id");
    let context = event::fc::fc_context(&parts.headers);
    let (kind, event) = match raw_event {
        true => {
            let (kind, event) = invoke_event(&parts.headers, &body)?;
            (kind, Payload::Json(event))
        }
        false => (
            Kind::Http,
            http_payload(parts, body, remote, call.id(), matched, routes.format),
        ),
    };
    let invocation = Invocation {
        function,
        kind,
        request_id: call.id().to_owned(),
        event,
        context,
        trace: Some(call.trace.clone()),
        deadline,
        // A streamed answer is passed on as it arrives.
        stream: true,
        logs: None,
    };
    match app.backend.invoke(invocation).await? {
        Outcome::Error(error) => Err(Failure::Unhandled { error, fc_caller }),
        Outcome::Result(result) if kind == Kind::Http => http_response(result),
        Outcome::Result(result) => Ok(json(StatusCode::OK, result.to_string())),
        Outcome::Stream(streamed) => streamed_response(streamed),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route<'a> {
    Http,
    /// A raw event, for the named function (`/invoke/NAME`) or the first one. (AWS's Invoke
    /// path has its own front end, `lambda_invoke`.)
    Invoke(Option<&'a str>),
    NotFound,
}

/// The request, kept until the back end says which shape its worker reads.
fn http_payload(
    parts: http::request::Parts,
    body: Bytes,
    remote: IpAddr,
    request_id: &str,
    matched: Option<Matched>,
    format: EventFormat,
) -> Payload {
    let (source_ip, request_id) = (address_text(remote), request_id.to_owned());
    let time_epoch_ms = epoch_ms();
    Payload::Http(Box::new(move |shape| {
        let request = HttpRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            body: &body,
            source_ip,
            request_id: &request_id,
            time_epoch_ms,
            route: matched.as_ref(),
        };
        match shape {
            Shape::Event => event::write_http_event(&request, format),
            Shape::Request => event::write_plain_request(&request),
        }
    }))
}

/// The client's address as text (`a.b.c.d`, an IPv4-mapped IPv6 address as its IPv4); IPv4
/// without the formatter, whose per-octet padding logic cost more than the rest of the event.
fn address_text(remote: IpAddr) -> String {
    let IpAddr::V4(ip) = remote.to_canonical() else {
        return remote.to_canonical().to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push((b'0' + octet / 100) as char);
        }
        if octet >= 10 {
            text.push((b'0' + octet / 10 % 10) as char);
        }
        text.push((b'0' + octet % 10) as char);
    }
    text
}

/// `/invoke` takes raw events; with TRIGGER_TYPE=event so does `POST /`, and every other route
/// is 404; with http every other route is an HTTP event.
fn route<'a>(trigger: Trigger, method: &Method, path: &'a str) -> Route<'a> {
    let named = path.strip_prefix("/invoke/");
    let invoke_path = path == "/invoke";
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
fn pick(
    app: &App,
    route: &Route<'_>,
    method: &Method,
    path: &str,
) -> Result<(usize, Option<Matched>), Failure> {
    match (route, &app.routes.router) {
        (Route::NotFound, _) => Err(Failure::events_only()),
        (Route::Invoke(None), _) | (Route::Http, None) => Ok((0, None)),
        (Route::Invoke(Some(name)), _) => Ok((app.backend.function_named(name)?, None)),
        (Route::Http, Some(router)) => match router.route(method.as_str(), path) {
            Some(matched) => Ok((matched.function, Some(matched))),
            None => Err(Failure::NotFound(format!(
                "no function in f.yml serves {method} {path}"
            ))),
        },
    }
}

pub(super) async fn read_body(
    app: &App,
    headers: &http::HeaderMap,
    body: Incoming,
) -> Result<Bytes, Failure> {
    match super::body::read_limited(headers, body, app.max_body_size).await {
        Ok(body) => Ok(body),
        Err(super::body::Unread::TooLarge) => Err(Failure::TooLarge(app.max_body_size)),
        Err(super::body::Unread::Broken(why)) => Err(Failure::BadBody(format!(
            "the request body could not be read: {why}"
        ))),
    }
}

fn invoke_event(headers: &http::HeaderMap, body: &[u8]) -> Result<(Kind, Value), Failure> {
    if let Some(cloudevent) = event::cloudevent(headers, body) {
        return cloudevent
            .map(|e| (Kind::CloudEvent, e))
            .map_err(|e| Failure::BadRequest(e.0));
    }
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    event::raw_event(content_type, body)
        .map(|e| (Kind::Event, e))
        .map_err(|e| Failure::BadRequest(e.0))
}

/// A streamed answer (a handler's `head` and `chunk`s), passed on as it arrives.
fn streamed_response(streamed: crate::invoke::Streamed) -> Result<Response<Body>, Failure> {
    respond(streamed.status, streamed.headers, streamed.body)
}

fn http_response(result: Value) -> Result<Response<Body>, Failure> {
    let mapped = event::to_response(result).map_err(|e| Failure::InvalidResponse(e.0))?;
    respond(mapped.status, mapped.headers, full(mapped.body))
}

/// A response from a function's status and headers; one that is not HTTP is `InvalidResponse`.
fn respond(
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
) -> Result<Response<Body>, Failure> {
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(status).map_err(|e| Failure::InvalidResponse(e.to_string()))?;
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Failure::InvalidResponse(format!("header {name:?}: {e}")))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|e| Failure::InvalidResponse(format!("header {name}: {e}")))?;
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routes_follow_the_trigger_type() {
        assert_eq!(route(Trigger::Http, &Method::GET, "/users"), Route::Http);
        assert_eq!(
            route(Trigger::Http, &Method::POST, "/invoke"),
            Route::Invoke(None)
        );
        assert_eq!(
            route(Trigger::Http, &Method::POST, "/invoke/users"),
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
    fn addresses_are_written_as_the_formatter_writes_them() {
        let mut addresses: Vec<IpAddr> = (0..=255u8)
            .map(|n| IpAddr::from([n, 255 - n, n / 7, 100 + n / 3]))
            .collect();
        addresses.push("::ffff:10.0.0.1".parse().unwrap());
        addresses.push("::1".parse().unwrap());
        addresses.push("2001:db8::1".parse().unwrap());
        for address in addresses {
            assert_eq!(address_text(address), address.to_canonical().to_string());
        }
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
