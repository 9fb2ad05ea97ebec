//! One connected worker: a writer task fed by a channel, a reader that routes each reply (and
//! each part of a streamed answer) to the invocation waiting for it, and the in-flight count
//! used to spread load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

use super::message::{decode, Decoded, Head, SHOWN};

/// What a worker answered for one invocation.
#[derive(Debug)]
pub enum Reply {
    Result(Value),
    Error(Value),
    /// The worker's answer could not be read (not JSON, or nested deeper than the parser's
    /// limit of 128 levels).
    Invalid(String),
    /// A streamed answer: its head, and its body as the worker writes it.
    Stream(Stream),
}

/// Results, errors and invalid answers compare by value; a stream equals nothing.
impl PartialEq for Reply {
    fn eq(&self, other: &Reply) -> bool {
        match (self, other) {
            (Reply::Result(a), Reply::Result(b)) | (Reply::Error(a), Reply::Error(b)) => a == b,
            (Reply::Invalid(a), Reply::Invalid(b)) => a == b,
            _ => false,
        }
    }
}

/// One piece of a streamed body.
#[derive(Debug)]
pub enum Part {
    Data(Bytes),
    /// The worker ended the stream.
    End,
    /// The handler failed after the head was sent: its error.
    Failed(Value),
    /// The stream sent more than its limit; nothing more of it is kept.
    TooLarge(u64),
}

/// A streamed answer as it arrives; dropped before its end, it asks the worker to stop
/// producing it (`cancel`).
#[derive(Debug)]
pub struct Stream {
    pub head: Head,
    pub parts: mpsc::UnboundedReceiver<Part>,
    cancel: Option<(Arc<Connection>, String)>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Some((connection, id)) = self.cancel.take() {
            connection.cancel(&id);
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection(worker {}, pid {})", self.worker, self.pid)
    }
}

/// What a worker asked, in its `ready`, to be sent for `kind: http`: the `event` (the default)
/// or the plain `request` description (`"input":"request"`, fetch-style handlers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Event,
    Request,
}

/// Lifecycle messages the supervisor waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum Lifecycle {
    Ready,
    InitError(Value),
    Closed,
}

/// Where an invocation's log lines go besides the shim's log (the front end's collection).
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// One invocation the worker holds, from `invoke` until all of it is over: its answer, then
/// its streamed body, then its background work.
struct Pending {
    /// The request id its log lines are tagged with.
    request_id: String,
    logs: Option<LogSink>,
    reply: Option<oneshot::Sender<Reply>>,
    body: Option<mpsc::UnboundedSender<Part>>,
    /// The most its stream may send, and what it sent so far: what waits for a slow client
    /// is bounded by the limit.
    limit: u64,
    received: u64,
    /// Told when nothing of the invocation runs any more, with the background errors.
    over: oneshot::Sender<Vec<Value>>,
}

/// The receivers of one invocation sent: its reply, and the end of everything it started.
pub struct Sent {
    pub reply: oneshot::Receiver<Reply>,
    pub over: oneshot::Receiver<Vec<Value>>,
}

pub struct Connection {
    pub worker: u32,
    pub pid: i32,
    writer: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    pending: Mutex<HashMap<String, Pending>>,
    pongs: Mutex<HashMap<String, oneshot::Sender<()>>>,
    in_flight: AtomicUsize,
    probing: AtomicBool,
    /// Ends the worker's process (its supervisor's doing: `worker` starts and signals nothing).
    kill: Box<dyn Fn() + Send + Sync>,
    /// Set by `ready` with `"input":"request"`, before the connection reaches a pool.
    wants_requests: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Connection {
    /// Starts the writer and reader tasks; lifecycle messages go to `lifecycle`.
    pub fn start(
        worker: u32,
        pid: i32,
        reader: BufReader<OwnedReadHalf>,
        writer: OwnedWriteHalf,
        lifecycle: mpsc::UnboundedSender<Lifecycle>,
        kill: Box<dyn Fn() + Send + Sync>,
    ) -> Arc<Connection> {
        let (tx, rx) = mpsc::unbounded_channel();
        let connection = Arc::new(Connection {
            worker,
            pid,
            writer: Mutex::new(Some(tx)),
            pending: Mutex::default(),
            pongs: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            probing: AtomicBool::new(false),
            kill,
            wants_requests: AtomicBool::new(false),
        });
        tokio::spawn(write_lines(writer, rx));
        tokio::spawn(connection.clone().read_lines(reader, lifecycle));
        connection
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn input(&self) -> Input {
        match self.wants_requests.load(Ordering::Acquire) {
            true => Input::Request,
            false => Input::Event,
        }
    }

    /// Reserves a slot below `limit`; the caller must call `release` afterwards.
    pub fn try_reserve(&self, limit: usize) -> bool {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= limit {
            self.release();
            return false;
        }
        true
    }

    pub fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// Sends an invocation; the receivers yield its reply and the end of all it started, or an
    /// error if the worker goes away. A worker whose input has closed gives the line back.
    pub fn send_invoke(
        &self,
        id: &str,
        request_id: &str,
        message: Vec<u8>,
        limit: u64,
        logs: Option<LogSink>,
    ) -> Result<Sent, Vec<u8>> {
        let (reply, reply_rx) = oneshot::channel();
        let (over, over_rx) = oneshot::channel();
        let pending = Pending {
            request_id: request_id.to_owned(),
            logs,
            reply: Some(reply),
            body: None,
            limit,
            received: 0,
            over,
        };
        lock(&self.pending).insert(id.to_owned(), pending);
        if let Err(message) = self.send(message) {
            lock(&self.pending).remove(id);
            return Err(message);
        }
        Ok(Sent {
            reply: reply_rx,
            over: over_rx,
        })
    }

    /// Stops waiting for invocation `id`; returns whether its stream was still open.
    pub fn forget(&self, id: &str) -> bool {
        lock(&self.pending)
            .remove(id)
            .is_some_and(|p| p.body.is_some())
    }

    /// Asks the worker to stop producing the stream of invocation `id`, if it still does.
    pub fn cancel(&self, id: &str) {
        if self.streaming(id) {
            let _ = self.send(line_of(&json!({"type": "cancel", "id": id})));
        }
    }

    /// Queues `line` for the writer task, or gives it back when the worker's input is closed.
    fn send(&self, line: Vec<u8>) -> Result<(), Vec<u8>> {
        match lock(&self.writer).as_ref() {
            Some(tx) => tx.send(line).map_err(|unsent| unsent.0),
            None => Err(line),
        }
    }

    /// Has the worker's process ended, for a worker stuck in synchronous code.
    pub fn kill(&self) {
        (self.kill)();
    }

    /// Whether invocations can still be sent: false once the worker's socket broke or closed.
    pub fn is_open(&self) -> bool {
        lock(&self.writer)
            .as_ref()
            .is_some_and(|tx| !tx.is_closed())
    }

    /// Closes the worker's input: it finishes what it has and exits at end of file.
    pub fn close(&self) {
        lock(&self.writer).take();
    }

    /// Tells the worker to shut down (run its shutdown hook) and exit within `within`, then
    /// closes its input.
    pub fn shut_down(&self, within: Duration) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let deadline_ms = (now + within).as_millis() as u64;
        let message = json!({"type": "shutdown", "deadlineMs": deadline_ms});
        let _ = self.send(line_of(&message));
        self.close();
    }

    /// Answers whether the worker still responds within `limit` (one probe at a time).
    pub async fn responsive(&self, id: String, limit: Duration) -> bool {
        if self.probing.swap(true, Ordering::AcqRel) {
            return true;
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.pongs).insert(id.clone(), tx);
        let ping = line_of(&json!({"type": "ping", "id": id}));
        let sent = self.send(ping).is_ok();
        let answered = sent && matches!(tokio::time::timeout(limit, rx).await, Ok(Ok(())));
        lock(&self.pongs).remove(&id);
        self.probing.store(false, Ordering::Release);
        answered
    }

    async fn read_lines(
        self: Arc<Self>,
        mut reader: BufReader<OwnedReadHalf>,
        lifecycle: mpsc::UnboundedSender<Lifecycle>,
    ) {
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => self.dispatch(&line, &lifecycle),
            }
        }
        // Dropping the senders answers every waiting invocation with "worker exited" and
        // breaks off its stream.
        lock(&self.pending).clear();
        self.close();
        let _ = lifecycle.send(Lifecycle::Closed);
    }

    fn dispatch(self: &Arc<Self>, line: &[u8], lifecycle: &mpsc::UnboundedSender<Lifecycle>) {
        match decode(line) {
            Decoded::Result(id, result, background) => {
                self.answer(&id, Reply::Result(result), background)
            }
            Decoded::Error(id, error, background) => self.failed(&id, error, background),
            Decoded::Log(id, message) => self.log(&id, &message),
            Decoded::Pong(id) => {
                if let Some(tx) = lock(&self.pongs).remove(&id) {
                    let _ = tx.send(());
                }
            }
            Decoded::Ready(input) => {
                self.wants_requests
                    .store(input == Input::Request, Ordering::Release);
                let _ = lifecycle.send(Lifecycle::Ready);
            }
            Decoded::InitError(error) => {
                let _ = lifecycle.send(Lifecycle::InitError(error));
            }
            Decoded::Head(id, Ok(head)) => self.stream(&id, head),
            Decoded::Head(id, Err(why)) => self.answer(&id, Reply::Invalid(why), false),
            Decoded::Chunk(id, Ok(data)) => self.part(&id, data),
            Decoded::Chunk(id, Err(why)) => self.broken(&id, &why),
            Decoded::End(id, background) => self.end(&id, Part::End, background),
            Decoded::Done(id, errors) => self.over(&id, errors),
            Decoded::Unknown(other) => {
                tracing::debug!(worker = self.worker, kind = other, "unknown worker message")
            }
            Decoded::Unreadable { error, id } => self.unreadable(line, &error, id),
        }
    }

    /// A log line of invocation `id`: the shim's log, and the caller's collection if it has
    /// one (which the caller reads once it has the answer).
    fn log(&self, id: &str, message: &Value) {
        let (request_id, logs) = lock(&self.pending)
            .get(id)
            .map(|p| (p.request_id.clone(), p.logs.clone()))
            .unwrap_or_default();
        log_line(self.worker, &request_id, message);
        if let Some(logs) = logs {
            logs(message["message"].as_str().unwrap_or_default());
        }
    }

    /// A line that does not parse: the invocation it names (the adapters write `id` before the
    /// result) is answered at once instead of waiting for its timeout; the log shows the start.
    fn unreadable(&self, line: &[u8], error: &str, id: Option<String>) {
        let shown = String::from_utf8_lossy(&line[..line.len().min(SHOWN)]);
        tracing::warn!(worker = self.worker, bytes = line.len(), start = %shown, %error, "worker sent a line that is not JSON");
        if let Some(id) = id {
            self.broken(&id, error);
        }
    }

    /// The invocation's answer; without background work it is then over.
    fn answer(&self, id: &str, reply: Reply, background: bool) {
        let mut pending = lock(&self.pending);
        let Some(entry) = pending.get_mut(id) else {
            return tracing::debug!(
                worker = self.worker,
                id,
                "late reply for an invocation that timed out"
            );
        };
        let tx = entry.reply.take();
        if !background {
            // Told first, so that whoever gets the reply finds the invocation already over.
            if let Some(entry) = pending.remove(id) {
                let _ = entry.over.send(Vec::new());
            }
        }
        drop(pending);
        if let Some(tx) = tx {
            let _ = tx.send(reply);
        }
    }

    fn streaming(&self, id: &str) -> bool {
        lock(&self.pending)
            .get(id)
            .is_some_and(|p| p.body.is_some())
    }

    /// The handler's error: the answer, or the end of a stream already begun.
    fn failed(&self, id: &str, error: Value, background: bool) {
        match self.streaming(id) {
            true => self.end(id, Part::Failed(error), background),
            false => self.answer(id, Reply::Error(error), background),
        }
    }

    /// A line about invocation `id` that cannot be read: its answer is invalid, or its stream
    /// is broken off.
    fn broken(&self, id: &str, why: &str) {
        match self.streaming(id) {
            true => {
                let error = json!({"errorType": "InvalidResponse", "errorMessage": why});
                self.end(id, Part::Failed(error), false)
            }
            false => self.answer(id, Reply::Invalid(why.to_owned()), false),
        }
    }

    fn stream(self: &Arc<Self>, id: &str, head: Head) {
        let (tx, parts) = mpsc::unbounded_channel();
        let reply = {
            let mut pending = lock(&self.pending);
            let Some(entry) = pending.get_mut(id).filter(|p| p.reply.is_some()) else {
                return;
            };
            entry.body = Some(tx);
            entry.reply.take()
        };
        let stream = Stream {
            head,
            parts,
            cancel: Some((self.clone(), id.to_owned())),
        };
        if let Some(reply) = reply {
            let _ = reply.send(Reply::Stream(stream));
        }
    }

    fn part(&self, id: &str, data: Bytes) {
        let mut pending = lock(&self.pending);
        let Some(entry) = pending.get_mut(id) else {
            return;
        };
        let Some(body) = entry.body.as_ref() else {
            return;
        };
        entry.received += data.len() as u64;
        if entry.received <= entry.limit {
            let _ = body.send(Part::Data(data));
            return;
        }
        let _ = body.send(Part::TooLarge(entry.limit));
        entry.body = None;
        drop(pending);
        let _ = self.send(line_of(&json!({"type": "cancel", "id": id})));
    }

    /// The stream's last part; without background work the invocation is then over.
    fn end(&self, id: &str, last: Part, background: bool) {
        let mut pending = lock(&self.pending);
        let Some(entry) = pending.get_mut(id) else {
            return;
        };
        if let Some(body) = entry.body.take() {
            let _ = body.send(last);
        }
        if !background {
            if let Some(entry) = pending.remove(id) {
                let _ = entry.over.send(Vec::new());
            }
        }
    }

    fn over(&self, id: &str, errors: Vec<Value>) {
        if let Some(entry) = lock(&self.pending).remove(id) {
            let _ = entry.over.send(errors);
        }
    }
}

fn log_line(worker: u32, request_id: &str, message: &Value) {
    let text = message["message"].as_str().unwrap_or_default();
    match message["level"].as_str().unwrap_or("info") {
        "error" => tracing::error!(worker, request_id, "{text}"),
        "warn" | "warning" => tracing::warn!(worker, request_id, "{text}"),
        "debug" => tracing::debug!(worker, request_id, "{text}"),
        _ => tracing::info!(worker, request_id, "{text}"),
    }
}

/// A message as the line the worker reads.
fn line_of(message: &Value) -> Vec<u8> {
    [message.to_string().as_bytes(), b"\n"].concat()
}

/// Writes the queued lines in order; the lines queued meanwhile go out in one write.
async fn write_lines(mut writer: OwnedWriteHalf, mut lines: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(mut batch) = lines.recv().await {
        while let Ok(line) = lines.try_recv() {
            batch.extend_from_slice(&line);
        }
        if writer.write_all(&batch).await.is_err() {
            break;
        }
    }
    let _ = writer.shutdown().await;
}
