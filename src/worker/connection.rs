//! One connected worker: a writer task fed by a channel, a reader that routes each reply to the
//! invocation waiting for it, and the in-flight count used to spread load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

/// What a worker answered for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Result(Value),
    Error(Value),
    /// The worker's answer could not be read (not JSON, or nested deeper than the parser's
    /// limit of 128 levels).
    Invalid(String),
}

/// How much of a line that is not JSON is logged (it may be megabytes, or hold secrets).
const SHOWN: usize = 200;
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

pub struct Connection {
    pub worker: u32,
    pub pid: i32,
    writer: Mutex<Option<mpsc::UnboundedSender<String>>>,
    /// Invocation id → (who waits for the reply, the request id its log lines are tagged with).
    pending: Mutex<HashMap<String, (oneshot::Sender<Reply>, String)>>,
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

    /// Sends an invocation; the receiver yields its reply, or an error if the worker goes away.
    pub fn send_invoke(
        &self,
        id: &str,
        request_id: &str,
        message: String,
    ) -> Option<oneshot::Receiver<Reply>> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.to_owned(), (tx, request_id.to_owned()));
        if !self.send(message) {
            lock(&self.pending).remove(id);
            return None;
        }
        Some(rx)
    }

    pub fn forget(&self, id: &str) {
        lock(&self.pending).remove(id);
    }

    fn send(&self, line: String) -> bool {
        lock(&self.writer)
            .as_ref()
            .is_some_and(|tx| tx.send(line).is_ok())
    }

    /// Has the worker's process ended, for a worker stuck in synchronous code.
    pub fn kill(&self) {
        (self.kill)();
    }

    /// Closes the worker's input: it finishes what it has and exits at end of file.
    pub fn close(&self) {
        lock(&self.writer).take();
    }

    /// Answers whether the worker still responds within `limit` (one probe at a time).
    pub async fn responsive(&self, id: String, limit: std::time::Duration) -> bool {
        if self.probing.swap(true, Ordering::AcqRel) {
            return true;
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.pongs).insert(id.clone(), tx);
        let sent = self.send(serde_json::json!({"type": "ping", "id": id}).to_string() + "\n");
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
        // Dropping the senders answers every waiting invocation with "worker exited".
        lock(&self.pending).clear();
        self.close();
        let _ = lifecycle.send(Lifecycle::Closed);
    }

    fn dispatch(&self, line: &[u8], lifecycle: &mpsc::UnboundedSender<Lifecycle>) {
        match decode(line) {
            Decoded::Result(id, result) => self.answer(&id, Reply::Result(result)),
            Decoded::Error(id, error) => self.answer(&id, Reply::Error(error)),
            Decoded::Log(id, message) => {
                let request_id = lock(&self.pending)
                    .get(&id)
                    .map(|(_, r)| r.clone())
                    .unwrap_or_default();
                log_line(self.worker, &request_id, &message);
            }
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
            Decoded::Unknown(other) => {
                tracing::debug!(worker = self.worker, kind = other, "unknown worker message")
            }
            Decoded::Unreadable { error, id } => self.unreadable(line, &error, id),
        }
    }

    /// A line that does not parse: the invocation it names (the adapters write `id` before the
    /// result) is answered at once instead of waiting for its timeout; the log shows the start.
    fn unreadable(&self, line: &[u8], error: &str, id: Option<String>) {
        let shown = String::from_utf8_lossy(&line[..line.len().min(SHOWN)]);
        tracing::warn!(worker = self.worker, bytes = line.len(), start = %shown, %error, "worker sent a line that is not JSON");
        if let Some(id) = id {
            self.answer(&id, Reply::Invalid(error.to_owned()));
        }
    }

    fn answer(&self, id: &str, reply: Reply) {
        match lock(&self.pending).remove(id) {
            Some((tx, _)) => {
                let _ = tx.send(reply);
            }
            None => tracing::debug!(
                worker = self.worker,
                id,
                "late reply for an invocation that timed out"
            ),
        }
    }
}

/// A line from a worker, read: what `dispatch` acts on (a pure function, so that it is fuzzed).
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// `result`, `error` and `log` name their invocation; a `pong` its probe.
    Result(String, Value),
    Error(String, Value),
    Log(String, Value),
    Pong(String),
    Ready(Input),
    InitError(Value),
    Unknown(String),
    /// Not JSON: the parser's reason, and the id near the start of the line if there is one.
    Unreadable {
        error: String,
        id: Option<String>,
    },
}

pub fn decode(line: &[u8]) -> Decoded {
    let mut message = match serde_json::from_slice::<Value>(line) {
        Ok(message) => message,
        Err(error) => {
            return Decoded::Unreadable {
                error: error.to_string(),
                id: leading_id(line),
            }
        }
    };
    let id = message["id"].as_str().unwrap_or_default().to_owned();
    match message["type"].as_str().unwrap_or_default() {
        "result" => Decoded::Result(id, message["result"].take()),
        "error" => Decoded::Error(id, message["error"].take()),
        "log" => Decoded::Log(id, message),
        "pong" => Decoded::Pong(id),
        "ready" if message["input"] == "request" => Decoded::Ready(Input::Request),
        "ready" => Decoded::Ready(Input::Event),
        "init_error" => Decoded::InitError(message["error"].take()),
        other => Decoded::Unknown(other.to_owned()),
    }
}

/// The `"id": "…"` near the start of a protocol line, read without parsing the rest.
fn leading_id(line: &[u8]) -> Option<String> {
    let head = &line[..line.len().min(SHOWN)];
    let key = b"\"id\"";
    let after = head.windows(key.len()).position(|w| w == key)? + key.len();
    let value = head[after..].iter().position(|b| !b" \t:".contains(b))? + after;
    let quoted = head.get(value).filter(|b| **b == b'"').map(|_| value + 1)?;
    let length = head[quoted..].iter().position(|b| *b == b'"')?;
    String::from_utf8(head[quoted..quoted + length].to_vec()).ok()
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

async fn write_lines(mut writer: OwnedWriteHalf, mut lines: mpsc::UnboundedReceiver<String>) {
    while let Some(line) = lines.recv().await {
        if writer.write_all(line.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = writer.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_of_an_unreadable_line_is_found_without_parsing_it() {
        let deep = format!(
            "{{\"type\":\"result\",\"id\":\"17\",\"result\":{}}}",
            "[".repeat(200)
        );
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert_eq!(leading_id(deep.as_bytes()).as_deref(), Some("17"));
        assert_eq!(leading_id(b"garbage"), None);
        assert_eq!(
            leading_id(br#"{"type": "result", "id": "4", "result": [[["#).as_deref(),
            Some("4")
        );
    }

    #[test]
    fn lines_decode_to_what_dispatch_acts_on() {
        let result = decode(br#"{"type":"result","id":"3","result":{"ok":true}}"#);
        assert_eq!(
            result,
            Decoded::Result("3".into(), serde_json::json!({"ok": true}))
        );
        let ready = decode(br#"{"type":"ready","input":"request"}"#);
        assert_eq!(ready, Decoded::Ready(Input::Request));
        assert_eq!(decode(b"[1]\n"), Decoded::Unknown(String::new()));
        let unreadable = decode(br#"{"type":"result","id":"9","result":[[["#);
        assert!(matches!(unreadable, Decoded::Unreadable { id: Some(id), .. } if id == "9"));
    }
}
