//! The Azure Functions custom-handler front end (FUNCTIONS_CUSTOMHANDLER_PORT): the Functions
//! host POSTs `/{FunctionName}` with `{"Data", "Metadata"}` (`event::azure` reads it); an HTTP
//! trigger becomes an HTTP invocation (v1/v2 event, or the plain request for fetch-style
//! handlers), any other trigger a raw event `{data, metadata}`; the outcome goes back as
//! `{"Outputs", "Logs", "ReturnValue"}`, a handler error as a 500 with the error JSON (the host
//! fails the invocation). HTTP requests the host forwards as they are
//! (`enableForwardingHttpRequest`) are not payloads and are served as any request.

use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::errors::Failure;
use super::{json, App, Body, Call};
use crate::backend::workers::epoch_ms;
use crate::event::azure::{self as shape, AzureEvent, AzureHttp};
use crate::event::{self, HttpRequest};
use crate::invoke::{Invocation, Kind, LogLines, Outcome, Payload, Shape};

/// The functions of an Azure layout (`<Name>/function.json`): their names and HTTP output
/// bindings. Empty without a layout: then every name goes to the one function.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub functions: Vec<LayoutFunction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutFunction {
    pub name: String,
    /// The `http` output binding's name (`res`, or `$return`).
    pub http_output: String,
}

/// The host's invocation id header, used as the request id when given.
const INVOCATION_ID: &str = "x-azure-functions-invocationid";

/// Whether the request is a custom-handler payload: `POST /{name}` with a JSON body (fnshim's
/// own `POST /invoke` keeps its meaning).
pub(crate) fn is_payload(request: &Request<Incoming>) -> bool {
    let path = request.uri().path();
    let name = path.strip_prefix('/').unwrap_or("");
    let json_body = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(event::is_json);
    request.method() == Method::POST
        && !name.is_empty()
        && !name.contains('/')
        && name != "invoke"
        && json_body
}

pub(crate) async fn invoke(
    app: &App,
    layout: &Layout,
    request: Request<Incoming>,
) -> Response<Body> {
    let call = Call::start(app, &request);
    let _counted = app.in_flight.try_acquire();
    let result = run(app, layout, request, &call).await;
    call.finish(result)
}

async fn run(
    app: &App,
    layout: &Layout,
    request: Request<Incoming>,
    call: &Call<'_>,
) -> Result<Response<Body>, Failure> {
    let name = request.uri().path().trim_start_matches('/').to_owned();
    let function = pick(app, layout, &name)?;
    let (parts, body) = request.into_parts();
    let timeout = app
        .backend
        .timeout(function)
        .unwrap_or(app.function_timeout);
    let deadline = call.started + timeout;
    let body = tokio::time::timeout_at(
        deadline,
        super::handler::read_body(app, &parts.headers, body),
    )
    .await
    .map_err(|_| Failure::BodyTimeout)??;
    let event = shape::azure_event(&body).map_err(|e| Failure::BadRequest(e.0))?;
    let mut context = serde_json::Map::new();
    context.insert("azureFunctionName".into(), json!(name));
    if let Some(id) = parts
        .headers
        .get(INVOCATION_ID)
        .and_then(|v| v.to_str().ok())
    {
        context.insert("invocationId".into(), json!(id));
    }
    let (kind, payload) = match event {
        AzureEvent::Http(http) => (
            Kind::Http,
            http_payload(http, call.id(), app.routes.format)?,
        ),
        AzureEvent::Other(raw) => (Kind::Event, Payload::Json(raw)),
    };
    let logs = LogLines::default();
    let invocation = Invocation {
        function,
        kind,
        request_id: call.id().to_owned(),
        event: payload,
        context,
        trace: None,
        deadline,
        stream: false,
        logs: Some(logs.clone()),
    };
    let outcome = app.backend.invoke(invocation).await?;
    let answer = answer(outcome, kind, output_of(layout, &name), logs.lines())?;
    Ok(json(StatusCode::OK, answer.to_string()))
}

/// The outcome as the host reads it; a handler error fails the invocation (500).
fn answer(outcome: Outcome, kind: Kind, output: &str, logs: Vec<String>) -> Result<Value, Failure> {
    match outcome {
        Outcome::Error(error) => Err(Failure::Unhandled {
            error,
            fc_caller: false,
        }),
        Outcome::Stream(_) => Err(Failure::InvalidResponse("a streamed answer".into())),
        Outcome::Result(result) if kind == Kind::Http => {
            let response = event::to_response(result).map_err(|e| Failure::InvalidResponse(e.0))?;
            Ok(shape::azure_http_answer(response, output, logs))
        }
        Outcome::Result(result) => Ok(shape::azure_answer(result, logs)),
    }
}

/// The function a name selects: an f.yml function of that name; with one function, any name
/// of the layout (or any name at all without one).
fn pick(app: &App, layout: &Layout, name: &str) -> Result<usize, Failure> {
    let names = app.backend.names();
    if names.len() > 1 || names.first() == Some(&name) {
        return Ok(app.backend.function_named(name)?);
    }
    let known = layout.functions.is_empty() || layout.functions.iter().any(|f| f.name == name);
    match known {
        true => Ok(0),
        false => Err(Failure::NotFound(format!(
            "no function named {name:?}; this app has {}",
            layout
                .functions
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn output_of<'a>(layout: &'a Layout, name: &str) -> &'a str {
    let found = layout.functions.iter().find(|f| f.name == name);
    found.map_or("res", |f| f.http_output.as_str())
}

/// The HTTP trigger's request, made into the shape the back end asks for.
fn http_payload(
    http: AzureHttp,
    request_id: &str,
    format: crate::config::EventFormat,
) -> Result<Payload, Failure> {
    let mut headers = HeaderMap::new();
    for (name, value) in &http.headers {
        let bad =
            |e: String| Failure::BadRequest(format!("the HTTP binding's header {name:?}: {e}"));
        let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        let value = HeaderValue::from_str(value).map_err(|e| bad(e.to_string()))?;
        headers.append(name, value);
    }
    let request_id = request_id.to_owned();
    let time_epoch_ms = epoch_ms();
    Ok(Payload::Http(Box::new(move |want| {
        let request = HttpRequest {
            method: &http.method,
            path: &http.path,
            query: http.query.as_deref(),
            headers: &headers,
            body: &http.body,
            source_ip: forwarded_for(&headers),
            request_id: &request_id,
            time_epoch_ms,
            route: None,
        };
        match want {
            Shape::Event => event::write_http_event(&request, format),
            Shape::Request => event::write_plain_request(&request),
        }
    })))
}

/// The caller's address as the host forwards it (`X-Forwarded-For`'s first), else unknown.
fn forwarded_for(headers: &HeaderMap) -> String {
    let first = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned());
    first
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1".into())
}

/// Reads an Azure layout's `function.json` (its bindings) into a layout function.
pub fn layout_function(name: &str, function_json: &Value) -> LayoutFunction {
    let bindings = function_json["bindings"].as_array().into_iter().flatten();
    let http_output = bindings
        .filter(|b| b["type"] == "http" && b["direction"] == "out")
        .find_map(|b| b["name"].as_str())
        .unwrap_or("res");
    LayoutFunction {
        name: name.to_owned(),
        http_output: http_output.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_output_binding_is_read_from_function_json() {
        let read = |v: Value| layout_function("hello", &v).http_output;
        assert_eq!(
            read(
                json!({"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"}, {"type": "http", "direction": "out", "name": "out"}]})
            ),
            "out"
        );
        assert_eq!(
            read(json!({"bindings": [{"type": "http", "direction": "out", "name": "$return"}]})),
            "$return"
        );
        assert_eq!(read(json!({})), "res");
    }
}
