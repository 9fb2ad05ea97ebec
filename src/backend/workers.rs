//! The handler back end: each function's pool of warm workers (`worker::Pool`). An invocation
//! gets the function's own context fields (name, version, memory, deadline) and goes to the
//! least busy worker of that function.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::invoke::{self, Failed, Invocation, Kind, Outcome, Shape};
use crate::json::Json;
use crate::readiness::Readiness;
use crate::trace::Trace;
use crate::worker::{Input, InvokeError, LogSink, Payload, Pool, Reply, Tag};

#[path = "worker_stream.rs"]
mod stream;

/// What the invocation carries to a worker that reads `input`, as JSON text.
fn shaped(kind: Kind, event: invoke::Payload, input: Input) -> Payload {
    match input {
        Input::Request if kind == Kind::Http => Payload::Request(match event {
            // An HTTP event that came as JSON (from Lambda) is described from its fields.
            invoke::Payload::Json(event) => {
                let mut text = Json::with_capacity(1024);
                text.value(&crate::event::lambda::plain_request_of(&event).unwrap_or(event));
                text.0
            }
            other => other.into_json(Shape::Request),
        }),
        _ => Payload::Event(event.into_json(Shape::Event)),
    }
}

/// The functions served by handler workers; the first is the default one.
pub struct Workers {
    pub functions: Vec<Function>,
    pub function_version: String,
    pub readiness: Arc<Readiness>,
    /// MAX_RESPONSE_SIZE: the most a streamed answer may send.
    pub max_response_size: u64,
}

/// One function's workers and what its context says.
pub struct Function {
    pub name: String,
    pub pool: Arc<Pool>,
    pub timeout: Duration,
    pub memory_mb: Option<u64>,
}

impl Workers {
    /// The function's own timeout (front ends compute the invocation's deadline from it).
    pub fn timeout(&self, function: usize) -> Option<Duration> {
        self.functions.get(function).map(|f| f.timeout)
    }

    pub async fn invoke(&self, mut invocation: Invocation) -> Result<Outcome, Failed> {
        let function = self
            .functions
            .get(invocation.function)
            .ok_or_else(|| Failed::NoSuchFunction("no such function".into()))?;
        let now = tokio::time::Instant::now();
        self.readiness
            .wait_ready(invocation.deadline.saturating_duration_since(now))
            .await?;
        let fields = std::mem::take(&mut invocation.context);
        let trace = invocation.trace.take();
        let context = self.context(function, (trace.as_ref(), fields), &invocation);
        let (kind, event) = (invocation.kind, invocation.event);
        // Shaped once the worker is chosen: a fetch-style worker reads the plain request.
        let payload = |input| shaped(kind, event, input);
        let tag = Tag {
            request_id: &invocation.request_id,
            logs: invocation.logs.clone().map(sink),
        };
        let reply = function
            .pool
            .invoke(
                invocation.kind.as_str(),
                tag,
                payload,
                &context,
                invocation.deadline,
                self.max_response_size,
            )
            .await
            .map_err(|error| match error {
                InvokeError::Throttled => Failed::Throttled,
                InvokeError::Unavailable => Failed::NotReady,
                InvokeError::Timeout => Failed::Timeout,
                InvokeError::WorkerExited => Failed::WorkerExited,
            })?;
        Ok(match reply {
            Reply::Result(result) => Outcome::Result(result),
            Reply::Error(error) => Outcome::Error(error),
            Reply::Invalid(why) => return Err(Failed::InvalidResponse(why)),
            Reply::Stream(streaming) => {
                let limits = stream::Limits {
                    deadline: invocation.deadline,
                    request_id: invocation.request_id,
                };
                match invocation.stream {
                    true => Outcome::Stream(stream::streamed(streaming, limits)),
                    false => Outcome::Result(stream::collect(streaming, limits).await?),
                }
            }
        })
    }

    /// Background work that failed, outlived FUNCTION_TIMEOUT or lost its worker, so far.
    pub fn background_failures(&self) -> u64 {
        self.functions
            .iter()
            .map(|f| f.pool.background_failures())
            .sum()
    }

    /// The handler's context as JSON text: the trace's fields, the front end's (which win over
    /// a trace field of the same name), then the function's own (which win over both), written
    /// straight into the line's bytes rather than inserted into a map.
    fn context(
        &self,
        function: &Function,
        (trace, fields): (Option<&Trace>, serde_json::Map<String, Value>),
        invocation: &Invocation,
    ) -> Vec<u8> {
        const OWN: [&str; 6] = [
            "requestId",
            "functionName",
            "functionVersion",
            "memoryLimitInMB",
            "deadlineMs",
            "triggerType",
        ];
        let left = invocation
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        let mut out = Json::with_capacity(640);
        out.raw(b"{");
        if let Some(trace) = trace {
            trace.fields(|name, parts| {
                if !fields.contains_key(name) && !OWN.contains(&name) {
                    out.key(0, name);
                    out.raw(b"\"");
                    parts.iter().for_each(|part| out.escaped(part));
                    out.raw(b"\",");
                }
            });
        }
        let theirs = fields
            .iter()
            .filter(|(key, _)| !OWN.contains(&key.as_str()));
        for (key, value) in theirs {
            out.key(0, key);
            out.value(value);
            out.raw(b",");
        }
        out.raw(b"\"requestId\":");
        out.str(&invocation.request_id);
        out.raw(b",\"functionName\":");
        out.str(&function.name);
        out.raw(b",\"functionVersion\":");
        out.str(&self.function_version);
        out.raw(b",\"memoryLimitInMB\":");
        match function.memory_mb {
            Some(mb) => out.number(mb),
            None => out.raw(b"null"),
        }
        out.raw(b",\"deadlineMs\":");
        out.number(epoch_ms() + left.as_millis() as u64);
        out.raw(b",\"triggerType\":");
        out.str(invocation.kind.as_str());
        out.raw(b"}");
        out.0
    }
}

/// Where a worker's log lines of the invocation go: the front end's collection.
fn sink(logs: invoke::LogLines) -> LogSink {
    Arc::new(move |line: &str| logs.push(line))
}

pub(crate) fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
