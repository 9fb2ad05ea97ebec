//! The invocation seam: one typed invocation between the *front ends* that receive work (the
//! HTTP server on PORT, timers, `fnshim check`/`invoke`; next: a Lambda Runtime API client, an
//! Azure custom handler) and the *back ends* that run it (`backend`: the handler worker pools
//! and the proxied HTTP server; next: a Runtime API server for Lambda-style bootstraps).
//!
//! Architecture invariant: a front end builds an [`Invocation`] and gets an [`Outcome`] or a
//! [`Failed`]; it knows nothing of workers or processes. A back end runs an [`Invocation`] and
//! knows nothing of where it came from (no HTTP request, no route, no trigger). Pure data here.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::trace::Trace;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A response body streamed as it is produced.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// What an event is, as the handler's `context.triggerType` and the worker protocol's `kind`
/// say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An HTTP request as an API Gateway (v1 or v2) event; fetch-style handlers see a Request.
    Http,
    /// A raw event (`/invoke`'s body, a Lambda event of no HTTP shape).
    Event,
    /// A CloudEvent, as its JSON.
    CloudEvent,
    /// A timer tick `{triggerTime, triggerName, payload}`.
    Timer,
    /// Function Compute's `/pre-stop` hook: the adapter calls the exported `preStop(context)`.
    PreStop,
    /// Function Compute's `/pre-freeze` hook: the adapter calls `preFreeze(context)`.
    PreFreeze,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Event => "event",
            Kind::CloudEvent => "cloudevent",
            Kind::Timer => "timer",
            Kind::PreStop => "pre-stop",
            Kind::PreFreeze => "pre-freeze",
        }
    }
}

/// The shapes an HTTP request can be given to a function in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An API Gateway event (v1 or v2, as HTTP_EVENT_FORMAT says).
    Event,
    /// The plain request description fetch-style handlers read (`event::plain_request`).
    Request,
}

/// An invocation's event.
pub enum Payload {
    Json(Value),
    /// An HTTP request the front end still holds, written as JSON text in the shape the back
    /// end asks for only once it knows (a fetch-style worker reads the plain request; everything
    /// else the event), so that no request is built twice, and no event as a tree.
    Http(Box<dyn FnOnce(Shape) -> Vec<u8> + Send + Sync>),
}

impl Payload {
    /// The payload as JSON text in `shape` (a JSON event is what it is).
    pub fn into_json(self, shape: Shape) -> Vec<u8> {
        match self {
            Payload::Json(value) => {
                let mut text = crate::json::Json::with_capacity(1024);
                text.value(&value);
                text.0
            }
            Payload::Http(write) => write(shape),
        }
    }
}

impl Invocation {
    /// A copy to try again with, when the payload is JSON (an HTTP request is used up once).
    pub fn try_clone(&self) -> Option<Invocation> {
        let Payload::Json(event) = &self.event else {
            return None;
        };
        Some(Invocation {
            function: self.function,
            kind: self.kind,
            request_id: self.request_id.clone(),
            event: Payload::Json(event.clone()),
            context: self.context.clone(),
            trace: self.trace.clone(),
            deadline: self.deadline,
            stream: self.stream,
            logs: self.logs.clone(),
        })
    }
}

impl Invocation {
    /// The front end's context fields with the trace's (first; a front-end field of the same
    /// name wins), taken out of the invocation.
    pub fn take_context(&mut self) -> Map<String, Value> {
        let fields = std::mem::take(&mut self.context);
        match self.trace.take() {
            None => fields,
            Some(trace) => {
                let mut context = trace.context();
                context.extend(fields);
                context
            }
        }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Payload::Json(value) => write!(f, "Json({value})"),
            Payload::Http(_) => f.write_str("Http(..)"),
        }
    }
}

/// One call of a function, from any front end to any back end.
#[derive(Debug)]
pub struct Invocation {
    /// Which of the back end's functions (f.yml declares several; otherwise 0).
    pub function: usize,
    pub kind: Kind,
    pub request_id: String,
    pub event: Payload,
    /// Context fields only the front end knows (a Lambda ARN, client context, trace id …); the
    /// back end adds the function's own (name, version, memory, deadline).
    pub context: Map<String, Value>,
    /// The request's trace, whose fields (`traceId`, `traceparent` …) the handler context
    /// gets before `context`'s: kept as it is so that a back end writing the context as text
    /// need not build them as a map ([`Invocation::take_context`] gives the map with them).
    pub trace: Option<Trace>,
    /// When the caller stops waiting; the back end enforces it.
    pub deadline: Instant,
    /// The front end can pass an HTTP answer on as it arrives (Lambda's response streaming):
    /// a back end that has one streaming may answer `Outcome::Stream`.
    pub stream: bool,
    /// The front end answers with the invocation's log lines (Azure's `Logs`, Lambda's log
    /// tail): the back end adds each line the invocation wrote before its answer here.
    pub logs: Option<LogLines>,
}

/// The most lines, and bytes of lines, kept of one invocation's log ([`LogLines`]).
pub const MAX_LOG_LINES: usize = 500;
pub const MAX_LOG_BYTES: usize = 64 * 1024;

/// One invocation's log lines, as its back end collects them for the front end: the last
/// [`MAX_LOG_LINES`] lines and at most [`MAX_LOG_BYTES`] bytes (a longer line is cut); the
/// lines left out are counted in a first line of their own.
#[derive(Debug, Clone, Default)]
pub struct LogLines(Arc<Mutex<Kept>>);

#[derive(Debug, Default)]
struct Kept {
    lines: VecDeque<String>,
    bytes: usize,
    dropped: usize,
}

impl LogLines {
    pub fn push(&self, line: &str) {
        let mut end = line.len().min(MAX_LOG_BYTES);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.bytes += end;
        kept.lines.push_back(line[..end].to_owned());
        while kept.lines.len() > MAX_LOG_LINES || kept.bytes > MAX_LOG_BYTES {
            let Some(first) = kept.lines.pop_front() else {
                break;
            };
            kept.bytes -= first.len();
            kept.dropped += 1;
        }
    }

    /// The lines kept so far (after a note of how many earlier ones were left out).
    pub fn lines(&self) -> Vec<String> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let note = (kept.dropped > 0).then(|| {
            format!(
                "[fnshim: {} earlier lines left out: the log keeps {MAX_LOG_LINES} lines, {MAX_LOG_BYTES} bytes]",
                kept.dropped
            )
        });
        note.into_iter().chain(kept.lines.iter().cloned()).collect()
    }
}

/// What the function answered.
pub enum Outcome {
    /// Its result (for `Kind::Http`, a result map with `statusCode`, or any value).
    Result(Value),
    /// It failed: `{errorType, errorMessage, stackTrace}`.
    Error(Value),
    /// An HTTP answer whose body is still arriving (only when the invocation asked for
    /// `stream`): the front end passes it on as it comes.
    Stream(Streamed),
}

/// The head of a streamed HTTP answer and its body.
pub struct Streamed {
    pub status: u16,
    /// End-to-end headers, names in lower case, repeated names kept.
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// Results and errors compare by value; a stream equals nothing (its body is not in memory).
impl PartialEq for Outcome {
    fn eq(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Result(a), Outcome::Result(b)) | (Outcome::Error(a), Outcome::Error(b)) => {
                a == b
            }
            _ => false,
        }
    }
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Result(value) => write!(f, "Result({value})"),
            Outcome::Error(value) => write!(f, "Error({value})"),
            Outcome::Stream(streamed) => write!(f, "Stream({})", streamed.status),
        }
    }
}

/// Why an invocation got no answer from the function; each front end maps these to its own
/// contract (HTTP statuses, a Runtime API error, a log line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    Timeout,
    /// The worker or server died while it held the invocation.
    WorkerExited,
    /// The answer was not a valid result or HTTP response.
    InvalidResponse(String),
    /// The proxied server failed in another way (refused, reset).
    Upstream(String),
    /// Every worker is busy and the wait queue is full.
    Throttled,
    /// A request body over MAX_BODY_SIZE.
    TooLarge(u64),
    /// The caller's request could not be read (a malformed or broken-off body): its fault.
    BadRequest(String),
    /// The caller did not send its whole body within the function's timeout: its fault.
    BodyTimeout,
    NotReady,
    Draining,
    /// The invocation names a function the back end does not have.
    NoSuchFunction(String),
}

impl Failed {
    /// One line for a log or an error message.
    pub fn describe(&self) -> String {
        match self {
            Failed::Timeout => "no answer within the function's timeout".into(),
            Failed::WorkerExited => "the function's process exited".into(),
            Failed::InvalidResponse(why) => format!("the function's answer is not valid: {why}"),
            Failed::Upstream(why) => format!("the function's server failed: {why}"),
            Failed::Throttled => "every worker is busy and the queue is full".into(),
            Failed::TooLarge(limit) => format!("the body is over MAX_BODY_SIZE ({limit} bytes)"),
            Failed::BadRequest(why) => why.clone(),
            Failed::BodyTimeout => "the request body did not arrive within the timeout".into(),
            Failed::NotReady => "the function is not ready".into(),
            Failed::Draining => "the function is shutting down".into(),
            Failed::NoSuchFunction(why) => why.clone(),
        }
    }
}

impl From<crate::readiness::Unavailable> for Failed {
    fn from(why: crate::readiness::Unavailable) -> Failed {
        match why {
            crate::readiness::Unavailable::Draining => Failed::Draining,
            crate::readiness::Unavailable::NotReady => Failed::NotReady,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_keep_the_last_lines_within_their_bounds() {
        let logs = LogLines::default();
        for n in 0..MAX_LOG_LINES + 3 {
            logs.push(&format!("line {n}"));
        }
        let lines = logs.lines();
        assert_eq!(lines.len(), MAX_LOG_LINES + 1);
        assert!(
            lines[0].contains("3 earlier lines left out"),
            "{}",
            lines[0]
        );
        assert_eq!(lines[1], "line 3");
        assert_eq!(
            lines.last().unwrap(),
            &format!("line {}", MAX_LOG_LINES + 2)
        );
        let big = LogLines::default();
        big.push("small");
        big.push(&"é".repeat(MAX_LOG_BYTES));
        let lines = big.lines();
        assert_eq!(lines.len(), 2, "the small line made room for the long one");
        assert!(lines[1].len() <= MAX_LOG_BYTES && lines[1].len() > MAX_LOG_BYTES - 2);
    }
}
