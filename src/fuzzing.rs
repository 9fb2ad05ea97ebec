//! Entry points for the fuzz targets of `fuzz/` (cargo-fuzz), hidden from the docs: thin
//! wrappers that take bytes or text, call one of fnshim's parsers and hand back plain values
//! that the targets check properties on. Nothing in fnshim calls them; the modules they reach
//! stay `pub(crate)`.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use http::HeaderMap;
use serde_json::Value;

use crate::config::{self, cron, fyml, ConfigError, EventFormat};
use crate::event;
use crate::worker::{self, Decoded, Input};

/// The parts of an HTTP request that `event` reads (the server's fixed context is added).
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Request<'_> {
    fn event<'a>(&'a self, route: Option<&'a fyml::Matched>) -> event::HttpRequest<'a> {
        event::HttpRequest {
            method: self.method,
            path: self.path,
            query: self.query,
            headers: self.headers,
            body: self.body,
            source_ip: "127.0.0.1".into(),
            request_id: "fuzz",
            time_epoch_ms: 1_700_000_000_000,
            route,
        }
    }
}

/// The API Gateway event of a request: v2 (HTTP API) or v1 (REST), as the tree built field
/// by field (the oracle of [`written_http_event`]).
pub fn http_event(request: &Request<'_>, v2: bool) -> Value {
    event::http_event(&request.event(None), format(v2))
}

/// The same event as fnshim writes it for a worker: JSON text, straight from the request.
pub fn written_http_event(request: &Request<'_>, v2: bool) -> Vec<u8> {
    event::write_http_event(&request.event(None), format(v2))
}

fn format(v2: bool) -> EventFormat {
    if v2 {
        EventFormat::V2
    } else {
        EventFormat::V1
    }
}

/// The request as a fetch-style worker reads it.
pub fn plain_request(request: &Request<'_>) -> Value {
    event::plain_request(&request.event(None))
}

/// `None`: not a CloudEvent; `Some(Err)`: a malformed one (400).
pub fn cloudevent(headers: &HeaderMap, body: &[u8]) -> Option<Result<Value, String>> {
    event::cloudevent(headers, body).map(|e| e.map_err(|bad| bad.0))
}

/// A raw `/invoke` body as the handler's event.
pub fn raw_event(content_type: Option<&str>, body: &[u8]) -> Result<Value, String> {
    event::raw_event(content_type, body).map_err(|bad| bad.0)
}

/// A handler's result as the server answers it.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn to_response(result: Value) -> Result<Response, String> {
    let mapped = event::to_response(result).map_err(|invalid| invalid.0)?;
    Ok(Response {
        status: mapped.status,
        headers: mapped.headers,
        body: mapped.body.to_vec(),
    })
}

/// A line from a worker as the connection reads it: its kind (`result`, `error`, `log`,
/// `pong`, `ready`, `ready:request`, `init_error`, `head`, `chunk`, `end`, `done`, `unknown`,
/// `unreadable`), the id it names, and its value (the result, the error, the log message, why a
/// head or chunk is unreadable, the background errors, the unknown type, the parse error).
#[derive(Debug, PartialEq)]
pub struct WorkerLine {
    pub kind: &'static str,
    pub id: Option<String>,
    pub value: Option<Value>,
}

pub fn worker_line(line: &[u8]) -> WorkerLine {
    let (kind, id, value) = match worker::decode(line) {
        Decoded::Result(id, result, _) => ("result", Some(id), Some(result)),
        Decoded::Error(id, error, _) => ("error", Some(id), Some(error)),
        Decoded::Head(id, head) => ("head", Some(id), head.err().map(Value::String)),
        Decoded::Chunk(id, data) => ("chunk", Some(id), data.err().map(Value::String)),
        Decoded::End(id, _) => ("end", Some(id), None),
        Decoded::Done(id, errors) => ("done", Some(id), Some(Value::Array(errors))),
        Decoded::Log(id, message) => ("log", Some(id), Some(message)),
        Decoded::Pong(id) => ("pong", Some(id), None),
        Decoded::Ready(Input::Event) => ("ready", None, None),
        Decoded::Ready(Input::Request) => ("ready:request", None, None),
        Decoded::InitError(error) => ("init_error", None, Some(error)),
        Decoded::Unknown(kind) => ("unknown", None, Some(Value::String(kind))),
        Decoded::Unreadable { error, id } => ("unreadable", id, Some(Value::String(error))),
    };
    WorkerLine { kind, id, value }
}

/// A parsed f.yml and its router.
pub struct Fyml {
    descriptor: fyml::Descriptor,
    router: fyml::Router,
}

/// Where the router sent a request: the function's index, the resource, the path parameters.
#[derive(Debug, PartialEq)]
pub struct Routed {
    pub function: usize,
    pub resource: String,
    pub params: Vec<(String, String)>,
}

pub fn fyml(text: &str) -> Result<Fyml, String> {
    let descriptor = fyml::parse(text)?;
    let router = fyml::Router::new(&descriptor.functions);
    Ok(Fyml { descriptor, router })
}

impl Fyml {
    pub fn functions(&self) -> usize {
        self.descriptor.functions.len()
    }

    /// Every declared route: its path and methods (`None`: any).
    pub fn routes(&self) -> Vec<(String, Option<Vec<String>>)> {
        let routes = self.descriptor.functions.iter().flat_map(|f| &f.routes);
        routes
            .map(|r| (r.path.clone(), r.methods.clone()))
            .collect()
    }

    pub fn route(&self, method: &str, path: &str) -> Option<Routed> {
        let matched = self.router.route(method, path)?;
        Some(Routed {
            function: matched.function,
            resource: matched.resource,
            params: matched.params,
        })
    }

    /// The v1 event of a request, with the route it matched (if any): the tree, and the text
    /// fnshim writes for a worker.
    pub fn event(&self, request: &Request<'_>) -> (Value, Vec<u8>) {
        let matched = self.router.route(request.method, request.path);
        let request = request.event(matched.as_ref());
        let tree = event::http_event(&request, EventFormat::V1);
        (tree, event::write_http_event(&request, EventFormat::V1))
    }

    /// The routes of a function as `fnshim check` prints them.
    pub fn describe(&self, function: usize) -> String {
        self.router.describe(function)
    }
}

/// RUNTIME_CONFIG's settings by variable name, or every problem of the file.
pub fn runtime_config(text: &str) -> Result<HashMap<String, String>, Vec<ConfigError>> {
    config::file::parse(text, Path::new("config.yaml"))
}

/// A SCHEDULE (cron, macro or `@every`).
pub struct Schedule(cron::Schedule);

pub fn schedule(text: &str) -> Result<Schedule, String> {
    cron::Schedule::parse(text).map(Schedule)
}

impl Schedule {
    /// The period of an `@every` schedule; `None` for cron.
    pub fn every(&self) -> Option<Duration> {
        match &self.0 {
            cron::Schedule::Every(every) => Some(*every),
            cron::Schedule::Cron(_) => None,
        }
    }

    pub fn next_after(&self, after: i64, start: i64) -> Option<i64> {
        self.0.next_after(after, start)
    }

    pub fn next_in_zone(&self, after: i64, start: i64, offset: &dyn Fn(i64) -> i64) -> Option<i64> {
        self.0.next_in_zone(after, start, offset)
    }
}

pub fn iso8601(epoch: i64) -> String {
    cron::iso8601(epoch)
}

pub fn duration(text: &str) -> Result<Duration, String> {
    config::parse::duration(text)
}

pub fn size(text: &str) -> Result<u64, String> {
    config::parse::size(text)
}

/// READINESS_STATUS's set: which of 100..=599 it holds, when it is accepted.
pub fn statuses(text: &str) -> Result<Vec<u16>, String> {
    let set = config::readiness::statuses(text)?;
    Ok((100..=599).filter(|s| set.contains(*s)).collect())
}

/// The trace of a request with these `traceparent`, `tracestate` and `X-Amzn-Trace-Id` values
/// (each skipped when it is not a valid header value): its context fields and the
/// `traceparent` a proxied server would be given.
pub fn trace(traceparent: &str, tracestate: &str, amzn: &str) -> (Value, Option<String>) {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (crate::trace::TRACEPARENT, traceparent),
        (crate::trace::TRACESTATE, tracestate),
        (crate::trace::AMZN_TRACE_ID, amzn),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    let trace =
        crate::trace::Trace::from_headers(&headers, || (0x1234_5678_9abc_def0, 1_700_000_000));
    let made = trace
        .made_traceparent()
        .and_then(|v| v.to_str().ok().map(str::to_owned));
    (Value::Object(trace.context()), made)
}
