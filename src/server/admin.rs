//! The shim's own routes: `/_/health`, `/_/ready` and `/_/metrics`. They never reach the function.

use http::{HeaderValue, Method, Request, Response, StatusCode};

use super::{full, json, App, Body};
use crate::readiness::Upstream;
use serde_json::json;

pub fn route<B>(app: &App, request: &Request<B>) -> Option<Response<Body>> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return None;
    }
    match request.uri().path() {
        "/_/health" => Some(json(StatusCode::OK, r#"{"status":"ok"}"#.into())),
        "/_/ready" => Some(ready(app)),
        "/_/metrics" => Some(metrics(app)),
        _ => None,
    }
}

fn ready(app: &App) -> Response<Body> {
    let (status, reason) = match app.readiness.current() {
        Upstream::Ready { .. } => {
            let body = match app.backend.protocol() {
                Some(protocol) => json!({"status": "ready", "protocol": protocol.as_str()}),
                None => json!({"status": "ready"}),
            };
            return json(StatusCode::OK, body.to_string());
        }
        Upstream::Starting { reason } => ("starting", reason),
        Upstream::Down { reason, .. } => ("restarting", reason),
        Upstream::Draining => ("draining", "shutting down".to_string()),
    };
    let body = json!({ "status": status, "reason": reason });
    json(StatusCode::SERVICE_UNAVAILABLE, body.to_string())
}

fn metrics(app: &App) -> Response<Body> {
    let mut response = Response::new(full(
        app.metrics
            .render(app.in_flight.current(), app.backend.background_failures()),
    ));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
