//! The Runtime API back end: Lambda-style bootstraps (a custom runtime polling
//! `AWS_LAMBDA_RUNTIME_API`, `awslambdaric`, `aws-lambda-ric`) run invocations fnshim queues.
//! Each bootstrap process has its own loopback endpoint (a *slot*), so the server knows which
//! process holds which invocation; a process takes one invocation at a time, as in Lambda.
//!
//! The state machine lives here (queue, held invocations, answers); [`server`] is its HTTP face
//! for the bootstraps (API 2018-06-01). An invocation past its deadline is reported to the
//! supervisor through the channel it owns ([`TimedOut`]): the back end never signals a process.

mod server;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::{timeout_at, Instant};

use crate::invoke::{Failed, Invocation, LogLines, Outcome, Shape};
use crate::readiness::Readiness;

/// The largest response or error a bootstrap may post, as in Lambda (6 MiB).
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// The last output lines of a slot's process, as its supervisor's relay appends them.
pub type Output = Arc<Mutex<VecDeque<String>>>;

/// What the bootstrap turned out to be (FUNCTION_PROTOCOL, or its first move).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// It called `/next`: a Runtime API client.
    Lambda,
    /// It listened on its PORT: an HTTP server.
    Http,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Lambda => "lambda",
            Protocol::Http => "http",
        }
    }
}

/// The slot `slot`'s process `pid` held an invocation past its deadline: kill it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    pub slot: usize,
    pub pid: i32,
}

/// What the function's context says about it (the bootstraps' environment and headers).
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub version: String,
    pub memory_mb: Option<u64>,
    pub timeout: Duration,
}

impl FunctionInfo {
    /// The ARN a caller invoked when it gave none (the emulator's account, us-east-1).
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:us-east-1:000000000000:function:{}",
            self.name
        )
    }
}

/// One queued invocation, as the bootstrap will read it.
struct Pending {
    id: String,
    event: bytes::Bytes,
    context: Map<String, Value>,
    deadline: Instant,
    reply: oneshot::Sender<Result<Outcome, Failed>>,
    logs: Option<LogLines>,
}

/// An invocation a process took with `/next` and has not answered.
struct Held {
    slot: usize,
    pid: i32,
    deadline: Instant,
    reply: oneshot::Sender<Result<Outcome, Failed>>,
    /// Where its output lines go when answered, if the front end asked for them.
    logs: Option<LogLines>,
}

#[derive(Default, Clone)]
struct Slot {
    /// The process now running in the slot (0: none).
    pid: i32,
    /// The request id it holds.
    holds: Option<String>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Pending>,
    held: HashMap<String, Held>,
    slots: Vec<Slot>,
}

/// What a slot's process said during its start, for the supervisor.
#[derive(Debug, Clone, PartialEq)]
pub enum Started {
    Waiting,
    /// It called `/next`: initialised.
    Polled,
    /// It posted `/init/error`: the message, as `Type: message`.
    InitError(String),
}

pub struct RuntimeApi {
    state: Mutex<State>,
    arrived: Notify,
    max_waiting: usize,
    pub function: FunctionInfo,
    readiness: Arc<Readiness>,
    timeouts: mpsc::UnboundedSender<TimedOut>,
    /// Each slot's start, as its process reports it.
    started: Vec<watch::Sender<Started>>,
    endpoints: Vec<SocketAddr>,
    protocol: watch::Sender<Option<Protocol>>,
    /// Each slot's output since its process took its invocation.
    outputs: Vec<Output>,
}

impl RuntimeApi {
    /// The back end with `slots` loopback endpoints, each served by its own task; the
    /// receiver is the supervisor's: which process to kill on a timeout.
    pub fn start(
        slots: usize,
        function: FunctionInfo,
        readiness: Arc<Readiness>,
        protocol: Option<Protocol>,
    ) -> std::io::Result<(Arc<RuntimeApi>, mpsc::UnboundedReceiver<TimedOut>)> {
        let listeners = (0..slots)
            .map(|_| std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)))
            .collect::<std::io::Result<Vec<_>>>()?;
        let endpoints = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<std::io::Result<Vec<_>>>()?;
        let (timeouts, timed_out) = mpsc::unbounded_channel();
        let api = Arc::new(RuntimeApi {
            state: Mutex::new(State {
                slots: vec![Slot::default(); slots],
                ..State::default()
            }),
            arrived: Notify::new(),
            max_waiting: (10 * slots).max(100),
            function,
            readiness,
            timeouts,
            started: (0..slots)
                .map(|_| watch::channel(Started::Waiting).0)
                .collect(),
            endpoints,
            protocol: watch::channel(protocol).0,
            outputs: (0..slots).map(|_| Output::default()).collect(),
        });
        for (slot, listener) in listeners.into_iter().enumerate() {
            listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tokio::spawn(server::serve(api.clone(), slot, listener));
        }
        Ok((api, timed_out))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn slots(&self) -> usize {
        self.endpoints.len()
    }

    /// `AWS_LAMBDA_RUNTIME_API` for slot `slot`'s process.
    pub fn endpoint(&self, slot: usize) -> String {
        self.endpoints[slot].to_string()
    }

    pub fn protocol(&self) -> Option<Protocol> {
        *self.protocol.borrow()
    }

    pub fn decide(&self, protocol: Protocol) {
        self.protocol.send_replace(Some(protocol));
    }

    /// Waits up to `limit` until the protocol is known.
    pub async fn decided(&self, limit: Duration) -> Option<Protocol> {
        if let Some(known) = self.protocol() {
            return Some(known);
        }
        let mut rx = self.protocol.subscribe();
        let known = async { rx.wait_for(Option::is_some).await.ok().and_then(|p| *p) };
        tokio::time::timeout(limit, known).await.ok().flatten()
    }
}

/// The supervisor's side: which process runs in a slot, and how its start went.
impl RuntimeApi {
    /// Where slot `slot`'s process output goes (its lines become the invocation's log tail).
    pub fn output(&self, slot: usize) -> Output {
        self.outputs[slot].clone()
    }

    /// A new process is about to start in `slot`: its start is awaited afresh.
    pub fn reset(&self, slot: usize) {
        self.started[slot].send_replace(Started::Waiting);
    }

    /// Process `pid` runs in `slot`.
    pub fn attach(&self, slot: usize, pid: i32) {
        self.lock().slots[slot].pid = pid;
    }

    /// The slot's process is gone: the invocation it held fails as `WorkerExited`.
    pub fn detach(&self, slot: usize) {
        let held = {
            let mut state = self.lock();
            let holds = std::mem::take(&mut state.slots[slot]).holds;
            holds.and_then(|id| state.held.remove(&id))
        };
        if let Some(held) = held {
            let _ = held.reply.send(Err(Failed::WorkerExited));
        }
    }

    /// Resolves when the slot's process has called `/next` or posted `/init/error`.
    pub async fn started(&self, slot: usize) -> Started {
        let mut rx = self.started[slot].subscribe();
        let said = rx.wait_for(|s| *s != Started::Waiting).await;
        said.map(|s| s.clone()).unwrap_or(Started::Waiting)
    }

    fn note_start(&self, slot: usize, said: Started) {
        self.started[slot].send_if_modified(|now| match now {
            Started::Waiting => {
                *now = said;
                true
            }
            _ => false,
        });
    }
}

/// The invocation side: what the server's routes and the front ends call.
impl RuntimeApi {
    pub async fn invoke(&self, invocation: Invocation) -> Result<Outcome, Failed> {
        let limit = invocation
            .deadline
            .saturating_duration_since(Instant::now());
        self.readiness.wait_ready(limit).await?;
        let (tx, rx) = oneshot::channel();
        let deadline = invocation.deadline;
        let id = self.enqueue(invocation, tx)?;
        match timeout_at(deadline, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(Failed::WorkerExited),
            Err(_) => {
                self.expire(&id);
                Err(Failed::Timeout)
            }
        }
    }

    /// Queues the invocation under a request id no other queued or held one has; 429 when
    /// the queue is full.
    fn enqueue(
        &self,
        mut invocation: Invocation,
        reply: oneshot::Sender<Result<Outcome, Failed>>,
    ) -> Result<String, Failed> {
        let mut context = invocation.take_context();
        let Invocation {
            request_id,
            event,
            deadline,
            logs,
            ..
        } = invocation;
        let event = bytes::Bytes::from(event.into_json(Shape::Event));
        let mut state = self.lock();
        if state.queue.len() >= self.max_waiting {
            return Err(Failed::Throttled);
        }
        let taken =
            |id: &str| state.held.contains_key(id) || state.queue.iter().any(|p| p.id == id);
        let mut id = request_id.clone();
        for n in 2.. {
            if !taken(&id) {
                break;
            }
            id = format!("{request_id}-{n}");
        }
        context.insert("requestId".into(), json!(id));
        context
            .entry("invokedFunctionArn")
            .or_insert_with(|| json!(self.function.arn()));
        state.queue.push_back(Pending {
            id: id.clone(),
            event,
            context,
            deadline,
            reply,
            logs,
        });
        drop(state);
        self.arrived.notify_one();
        Ok(id)
    }

    /// The deadline of `id` passed: a queued invocation leaves the queue; a held one's process
    /// is reported to the supervisor, which kills it (the slot restarts it). A later invocation
    /// under the same id, whose deadline is still ahead, is left alone.
    fn expire(&self, id: &str) {
        let now = Instant::now();
        let mut state = self.lock();
        state.queue.retain(|p| p.id != id || p.deadline > now);
        let due = state.held.get(id).is_some_and(|h| h.deadline <= now);
        if let Some(held) = due.then(|| state.held.remove(id)).flatten() {
            state.slots[held.slot].holds = None;
            let _ = self.timeouts.send(TimedOut {
                slot: held.slot,
                pid: held.pid,
            });
        }
    }

    /// `/next` for `slot`: the next invocation, waiting for one. Its deadline is watched here
    /// too, so that a process is reset even when the caller went away before it.
    async fn next(self: &Arc<Self>, slot: usize) -> Next {
        self.note_start(slot, Started::Polled);
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(next) = self.take(slot) {
                let (api, id, deadline) = (self.clone(), next.id.clone(), next.deadline);
                tokio::spawn(async move {
                    tokio::time::sleep_until(deadline).await;
                    api.expire(&id);
                });
                return next;
            }
            arrived.await;
        }
    }

    /// Takes the first queued invocation whose caller still waits, for `slot`'s process.
    fn take(&self, slot: usize) -> Option<Next> {
        let mut state = self.lock();
        let abandoned = state.slots[slot].holds.take();
        if let Some(held) = abandoned.and_then(|id| state.held.remove(&id)) {
            let why = "the bootstrap asked for the next invocation without answering this one";
            let _ = held.reply.send(Err(Failed::InvalidResponse(why.into())));
        }
        while let Some(pending) = state.queue.pop_front() {
            if pending.reply.is_closed() {
                continue;
            }
            let pid = state.slots[slot].pid;
            self.outputs[slot]
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            state.slots[slot].holds = Some(pending.id.clone());
            let held = Held {
                slot,
                pid,
                deadline: pending.deadline,
                reply: pending.reply,
                logs: pending.logs,
            };
            state.held.insert(pending.id.clone(), held);
            if !state.queue.is_empty() {
                self.arrived.notify_one();
            }
            return Some(Next {
                id: pending.id,
                event: pending.event,
                context: pending.context,
                deadline: pending.deadline,
            });
        }
        None
    }

    /// `/response` or `/error` for `id`: false when no process holds it (unknown, answered
    /// or timed out).
    fn answer(&self, id: &str, outcome: Outcome) -> bool {
        let held = {
            let mut state = self.lock();
            let Some(held) = state.held.remove(id) else {
                return false;
            };
            state.slots[held.slot].holds = None;
            held
        };
        if let Some(logs) = &held.logs {
            let output = self.outputs[held.slot]
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            output.iter().for_each(|line| logs.push(line));
        }
        let _ = held.reply.send(Ok(outcome));
        true
    }
}

/// An invocation handed to a bootstrap by `/next`.
struct Next {
    id: String,
    event: bytes::Bytes,
    context: Map<String, Value>,
    deadline: Instant,
}

#[cfg(test)]
mod tests;
