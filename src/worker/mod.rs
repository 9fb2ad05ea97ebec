//! The shim side of the worker protocol (`languages/PROTOCOL.md`): the Unix socket workers
//! connect to, and the pool that spreads invocations over the connected workers.
//!
//! Architecture invariant: nothing here knows HTTP or languages; invocations are JSON in and
//! JSON out. The one process action is SIGKILL for a worker that no longer answers pings.

mod connection;
mod message;
mod work;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixListener;
use tokio::sync::{oneshot, Notify};
use tokio::time::{timeout_at, Instant};

use crate::json::Json;

pub use connection::{Connection, Input, Lifecycle, LogSink, Part, Reply, Stream};
pub use message::{decode, Decoded};
use work::Work;

/// Why an invocation got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeError {
    /// Every worker is at FUNCTION_CONCURRENCY and the wait queue is full.
    Throttled,
    /// No worker is connected (all are restarting).
    Unavailable,
    Timeout,
    WorkerExited,
}

/// What one invocation carries to its worker, as JSON text: an `event`, or the `request`
/// description a worker asked for with `"input":"request"`.
pub enum Payload {
    Event(Vec<u8>),
    Request(Vec<u8>),
}

/// A freshly connected worker (its `hello` named its slot): its two stream halves.
pub struct Arrival {
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

/// The listening socket. Workers say which slot they are in `hello`; the supervisor registers
/// for a worker id before starting the process.
pub struct Hub {
    pub path: PathBuf,
    waiting: Mutex<HashMap<u32, oneshot::Sender<Arrival>>>,
}

impl Hub {
    /// Binds `worker.sock` in a new private (0700) folder under `parent`.
    pub fn bind(parent: &Path) -> io::Result<(Arc<Hub>, UnixListener)> {
        use std::os::unix::fs::DirBuilderExt;
        let folder = parent.join(format!(
            "run-{}-{:08x}",
            std::process::id(),
            uuid::Uuid::new_v4().as_u128() as u32
        ));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&folder)?;
        let path = folder.join("worker.sock");
        let listener = UnixListener::bind(&path)?;
        Ok((
            Arc::new(Hub {
                path,
                waiting: Mutex::default(),
            }),
            listener,
        ))
    }

    pub fn expect(&self, worker: u32) -> oneshot::Receiver<Arrival> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(worker, tx);
        rx
    }

    /// Accepts workers forever, handing each to whoever expects its id.
    pub async fn serve(self: Arc<Self>, listener: UnixListener) {
        while let Ok((stream, _)) = listener.accept().await {
            let hub = self.clone();
            tokio::spawn(async move {
                let (read, writer) = stream.into_split();
                let mut reader = BufReader::new(read);
                let mut line = Vec::new();
                let greeted = tokio::time::timeout(
                    Duration::from_secs(30),
                    reader.read_until(b'\n', &mut line),
                )
                .await;
                let hello: Value = match greeted {
                    Ok(Ok(n)) if n > 0 => serde_json::from_slice(&line).unwrap_or(Value::Null),
                    _ => return,
                };
                let Some(worker) = hello["worker"]
                    .as_u64()
                    .filter(|_| hello["type"] == "hello")
                else {
                    return tracing::warn!(line = %String::from_utf8_lossy(&line), "a worker connected without a valid hello");
                };
                let waiter = hub
                    .waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&(worker as u32));
                match waiter {
                    Some(tx) => {
                        let _ = tx.send(Arrival { reader, writer });
                    }
                    None => tracing::warn!(worker, "an unexpected worker connected"),
                }
            });
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(folder) = self.path.parent() {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

/// The connected workers; each slot holds the live connection of one worker, if any.
///
/// When every worker is at FUNCTION_CONCURRENCY, a request waits for a free one (until its
/// deadline), as Knative's queue-proxy and the Functions Framework queue; only past
/// `max_waiting` queued requests is it refused with 429.
pub struct Pool {
    slots: Vec<Mutex<Option<Arc<Connection>>>>,
    concurrency: usize,
    next_id: AtomicU64,
    freed: Arc<Notify>,
    waiting: AtomicUsize,
    max_waiting: usize,
    /// Background work that failed, outlived FUNCTION_TIMEOUT or lost its worker.
    background_failures: Arc<AtomicU64>,
}

/// A worker's place taken by one invocation, given back on drop: when its answer, its stream
/// and its background work are all over.
pub(crate) struct Reserved(Arc<Connection>, Arc<Notify>);

/// A place in the wait queue, given back on drop: also when the caller goes away while it
/// waits (a client that disconnects), so that the count can never leak.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn join(waiting: &'a AtomicUsize, max: usize) -> Option<Queued<'a>> {
        let queued = Queued(waiting);
        (waiting.fetch_add(1, Ordering::AcqRel) < max).then_some(queued)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.0.release();
        self.1.notify_one();
    }
}

impl Pool {
    pub fn new(workers: usize, concurrency: usize) -> Arc<Pool> {
        let slots = (0..workers).map(|_| Mutex::new(None)).collect();
        Arc::new(Pool {
            slots,
            concurrency,
            next_id: AtomicU64::new(1),
            freed: Arc::new(Notify::new()),
            waiting: AtomicUsize::new(0),
            max_waiting: (10 * workers * concurrency).max(100),
            background_failures: Arc::default(),
        })
    }

    pub fn attach(&self, slot: usize, connection: Option<Arc<Connection>>) {
        *self.slots[slot].lock().unwrap_or_else(|p| p.into_inner()) = connection;
        self.freed.notify_waiters();
    }

    pub fn connected(&self) -> Vec<Arc<Connection>> {
        self.slots
            .iter()
            .filter_map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }

    /// The least busy worker with room for one more invocation.
    fn reserve(&self) -> Result<Reserved, InvokeError> {
        let mut connected = self.connected();
        // A dead worker stays attached until its supervisor has reaped it: not a choice.
        connected.retain(|c| c.is_open());
        if connected.is_empty() {
            return Err(InvokeError::Unavailable);
        }
        connected.sort_by_key(|c| c.in_flight());
        connected
            .into_iter()
            .find(|c| c.try_reserve(self.concurrency))
            .map(|c| Reserved(c, self.freed.clone()))
            .ok_or(InvokeError::Throttled)
    }

    /// A worker with room, waiting in the queue for one until `deadline` if all are busy.
    async fn reserve_until(&self, deadline: Instant) -> Result<Reserved, InvokeError> {
        loop {
            let freed = self.freed.notified();
            match self.reserve() {
                Err(InvokeError::Throttled) => {}
                other => return other,
            }
            let Some(_queued) = Queued::join(&self.waiting, self.max_waiting) else {
                return Err(InvokeError::Throttled);
            };
            if timeout_at(deadline, freed).await.is_err() {
                return Err(InvokeError::Timeout);
            }
        }
    }

    /// Runs one invocation (`tag`: its request id, and where its log lines go) on some worker
    /// and waits for its reply until `deadline`. `payload` makes what the invocation carries
    /// once the worker, and so its `Input`, is known: only the form that worker reads is built
    /// and serialized. `context` is a JSON object's text.
    pub async fn invoke(
        &self,
        kind: &str,
        tag: Tag<'_>,
        payload: impl FnOnce(Input) -> Payload,
        context: &[u8],
        deadline: Instant,
        max_stream: u64,
    ) -> Result<Reply, InvokeError> {
        let Tag { request_id, logs } = tag;
        let waited = Instant::now();
        let reserved = self.reserve_until(deadline).await?;
        let connection = reserved.0.clone();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        tracing::debug!(
            request_id,
            worker = connection.worker,
            pid = connection.pid,
            in_flight = connection.in_flight(),
            waited_us = waited.elapsed().as_micros() as u64,
            "worker chosen"
        );
        let (field, value) = match payload(connection.input()) {
            Payload::Event(event) => ("event", event),
            Payload::Request(request) => ("request", request),
        };
        let line = invoke_line(&id, kind, context, field, &value);
        let tag = Tag { request_id, logs };
        let (reserved, sent) = self
            .send(reserved, &id, tag, line, max_stream, deadline)
            .await?;
        let connection = reserved.0.clone();
        let started = Instant::now();
        match timeout_at(deadline, sent.reply).await {
            Ok(Ok(reply)) => {
                let took_us = started.elapsed().as_micros() as u64;
                tracing::debug!(
                    request_id,
                    worker = connection.worker,
                    took_us,
                    "worker replied"
                );
                let streaming = matches!(reply, Reply::Stream(_));
                let work = Work::new(id, request_id, deadline, streaming);
                work::hold(reserved, sent.over, work, &self.background_failures);
                Ok(reply)
            }
            Ok(Err(_)) => Err(InvokeError::WorkerExited),
            Err(_) => {
                connection.forget(&id);
                tokio::spawn(replace_if_stuck(connection.clone(), format!("ping-{id}")));
                Err(InvokeError::Timeout)
            }
        }
    }

    /// Sends the invocation to the reserved worker; when that worker's input has closed since
    /// (it died, and its supervisor has not detached it yet), nothing ran: once more to another.
    async fn send(
        &self,
        reserved: Reserved,
        id: &str,
        tag: Tag<'_>,
        line: Vec<u8>,
        max_stream: u64,
        deadline: Instant,
    ) -> Result<(Reserved, connection::Sent), InvokeError> {
        let Tag { request_id, logs } = tag;
        let first = reserved
            .0
            .send_invoke(id, request_id, line, max_stream, logs.clone());
        let line = match first {
            Ok(sent) => return Ok((reserved, sent)),
            Err(line) => line,
        };
        drop(reserved);
        let reserved = self.reserve_until(deadline).await?;
        let sent = reserved
            .0
            .send_invoke(id, request_id, line, max_stream, logs);
        Ok((reserved, sent.map_err(|_| InvokeError::Unavailable)?))
    }

    /// Background work (`waitUntil`) that failed, outlived FUNCTION_TIMEOUT or lost its
    /// worker, so far.
    pub fn background_failures(&self) -> u64 {
        self.background_failures.load(Ordering::Relaxed)
    }
}

/// What an invocation's lines are tagged with: its request id, and, when the caller wants its
/// log lines, where each one goes too (they are logged either way).
pub struct Tag<'a> {
    pub request_id: &'a str,
    pub logs: Option<LogSink>,
}

/// After a timeout: a worker that cannot answer a ping in 3 s (a loaded machine's healthy worker
/// can wait a second for the CPU) is stuck in a synchronous handler and is killed.
pub(crate) async fn replace_if_stuck(connection: Arc<Connection>, ping: String) {
    if !connection.responsive(ping, Duration::from_secs(3)).await {
        tracing::warn!(
            worker = connection.worker,
            pid = connection.pid,
            "the worker is stuck after a timeout; replacing it"
        );
        connection.kill();
    }
}

/// `{"type":"invoke","id":…,"kind":…,"context":…,"event"|"request":…}` and its newline,
/// written straight into one buffer (no map of the message built first).
fn invoke_line(id: &str, kind: &str, context: &[u8], field: &str, value: &[u8]) -> Vec<u8> {
    let mut line = Json::with_capacity(value.len() + context.len() + 96);
    line.raw(b"{\"type\":\"invoke\",\"id\":");
    line.str(id);
    line.raw(b",\"kind\":");
    line.str(kind);
    line.raw(b",\"context\":");
    line.raw(context);
    line.key(1, field);
    line.raw(value);
    line.raw(b"}\n");
    line.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::sync::mpsc;

    /// A pool of one worker at concurrency 1, connected to nothing but a socket pair.
    fn one_slot_pool() -> (Arc<Pool>, tokio::net::UnixStream) {
        let pool = Pool::new(1, 1);
        let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
        let (read, write) = ours.into_split();
        let (lifecycle, _) = mpsc::unbounded_channel();
        pool.attach(
            0,
            Some(Connection::start(
                1,
                0,
                BufReader::new(read),
                write,
                lifecycle,
                Box::new(|| {}),
            )),
        );
        (pool, theirs)
    }

    /// The invoke line a pool sends to a worker that said `ready` as `said`, once the
    /// connection has read it (as `expected`).
    async fn invoke_line(said: &str, expected: Input) -> Value {
        use tokio::io::AsyncWriteExt;
        let (pool, worker) = one_slot_pool();
        let (read, mut write) = worker.into_split();
        write.write_all(said.as_bytes()).await.unwrap();
        let connection = pool.connected().pop().unwrap();
        while connection.input() != expected {
            tokio::task::yield_now().await;
        }
        let payload = |input| match input {
            Input::Event => Payload::Event(br#"{"an":"event"}"#.to_vec()),
            Input::Request => Payload::Request(br#"{"a":"request"}"#.to_vec()),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let tag = Tag {
            request_id: "rid",
            logs: None,
        };
        let invoked = pool.invoke("http", tag, payload, b"{}", deadline, 1 << 20);
        let answered = async {
            let mut line = Vec::new();
            BufReader::new(read)
                .read_until(b'\n', &mut line)
                .await
                .unwrap();
            let message: Value = serde_json::from_slice(&line).unwrap();
            let result = json!({"type": "result", "id": message["id"], "result": 1});
            write
                .write_all(format!("{result}\n").as_bytes())
                .await
                .unwrap();
            message
        };
        let (reply, message) = tokio::join!(invoked, answered);
        assert_eq!(reply, Ok(Reply::Result(json!(1))));
        message
    }

    #[tokio::test]
    async fn workers_get_the_input_their_ready_asked_for() {
        let plain = invoke_line("{\"type\":\"ready\"}\n", Input::Event).await;
        assert_eq!(
            (&plain["event"], plain.get("request")),
            (&json!({"an": "event"}), None)
        );
        let fetch = invoke_line(
            "{\"type\":\"ready\",\"input\":\"request\"}\n",
            Input::Request,
        )
        .await;
        assert_eq!(
            (fetch.get("event"), &fetch["request"]),
            (None, &json!({"a": "request"}))
        );
        assert_eq!(
            (&fetch["type"], &fetch["kind"]),
            (&json!("invoke"), &json!("http"))
        );
    }

    #[tokio::test]
    async fn a_cancelled_wait_gives_its_place_back() {
        let (pool, _worker) = one_slot_pool();
        let busy = pool.reserve().expect("the only slot");
        let deadline = Instant::now() + Duration::from_secs(5);
        let gave_up =
            tokio::time::timeout(Duration::from_millis(20), pool.reserve_until(deadline)).await;
        assert!(gave_up.is_err(), "the slot is busy, so the caller waits");
        assert_eq!(
            pool.waiting.load(Ordering::Acquire),
            0,
            "the dropped wait left the queue"
        );
        drop(busy);
        assert!(pool.reserve_until(deadline).await.is_ok());
    }

    #[tokio::test]
    async fn a_freed_slot_wakes_a_waiter_and_a_full_queue_throttles() {
        let (pool, _worker) = one_slot_pool();
        let busy = pool.reserve().expect("the only slot");
        let deadline = Instant::now() + Duration::from_secs(5);
        let waiter = pool.reserve_until(deadline);
        let release = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(busy);
        };
        let (reserved, ()) = tokio::join!(waiter, release);
        assert!(reserved.is_ok());
        pool.waiting.store(pool.max_waiting, Ordering::Release);
        let _held = reserved;
        assert!(matches!(
            pool.reserve_until(deadline).await,
            Err(InvokeError::Throttled)
        ));
    }
}
