//! What runs on for an invocation after its answer: the rest of a streamed body and the
//! background work (`waitUntil`). The worker's place stays taken until all of it is over, or
//! FUNCTION_TIMEOUT from the invocation's start; failures are logged with the request id and
//! counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::time::{timeout_at, Instant};

use super::{replace_if_stuck, Connection, Reserved};

pub(super) struct Work {
    id: String,
    request_id: String,
    deadline: Instant,
    /// The answer was a stream (its body reports its own end).
    streaming: bool,
}

impl Work {
    pub(super) fn new(id: String, request_id: &str, deadline: Instant, streaming: bool) -> Work {
        Work {
            id,
            request_id: request_id.to_owned(),
            deadline,
            streaming,
        }
    }

    /// The background tasks that failed, each logged with the request id and counted.
    fn report(&self, connection: &Connection, errors: Vec<Value>, failures: &AtomicU64) {
        failures.fetch_add(errors.len() as u64, Ordering::Relaxed);
        for error in errors {
            let stack: Vec<&str> = error["stackTrace"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            tracing::error!(
                request_id = self.request_id,
                worker = connection.worker,
                error_type = error["errorType"].as_str().unwrap_or("Error"),
                error_message = error["errorMessage"].as_str().unwrap_or_default(),
                stack = stack.join("\n"),
                "background work failed"
            );
        }
    }

    /// FUNCTION_TIMEOUT passed with the stream or the background work still running: the place
    /// is freed, and a worker that cannot answer a ping (stuck in that work) is replaced.
    fn outlived(&self, connection: &Arc<Connection>, failures: &AtomicU64) {
        connection.cancel(&self.id);
        let streaming = connection.forget(&self.id);
        if !streaming {
            failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                request_id = self.request_id,
                worker = connection.worker,
                "the invocation's background work did not end within FUNCTION_TIMEOUT"
            );
        }
        let ping = format!("ping-{}", self.id);
        tokio::spawn(replace_if_stuck(connection.clone(), ping));
    }
}

/// Keeps the worker's place taken until the invocation is over: its stream ended and its
/// background work done, or FUNCTION_TIMEOUT from its start.
pub(super) fn hold(
    reserved: Reserved,
    mut over: oneshot::Receiver<Vec<Value>>,
    work: Work,
    failures: &Arc<AtomicU64>,
) {
    let failures = failures.clone();
    match over.try_recv() {
        Ok(errors) => return work.report(&reserved.0, errors, &failures),
        Err(oneshot::error::TryRecvError::Closed) => return,
        Err(oneshot::error::TryRecvError::Empty) => {}
    }
    tokio::spawn(async move {
        let connection = reserved.0.clone();
        match timeout_at(work.deadline, over).await {
            Ok(Ok(errors)) => work.report(&connection, errors, &failures),
            Ok(Err(_)) if !work.streaming => {
                failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    request_id = work.request_id,
                    worker = connection.worker,
                    "the worker exited before the invocation's background work ended"
                );
            }
            Ok(Err(_)) => {}
            Err(_) => work.outlived(&connection, &failures),
        }
        drop(reserved);
    });
}
