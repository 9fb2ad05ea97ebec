//! Invocation lines queued and written together: at 64 connections one turn of the runtime
//! finishes many invocations, and a `write` per line was one system call per request (strace:
//! as many `write`s as requests). The first line queued into an empty batch spawns a task that
//! writes the batch out; a task spawned now runs after every task already ready, so the lines
//! of that turn leave in one `write`, and no line waits longer than the tasks ready before it.
//! Any other line (tracing's, from any thread) writes the batch out first, so the order of
//! lines is kept; `flush` before the process exits writes what is left.

use std::io;
use std::sync::MutexGuard;

use super::Stderr;

/// Past this many bytes the batch is written at once (~100 lines), not left to its task.
const MAX_BATCH: usize = 32 << 10;

/// The queued lines.
#[derive(Default)]
pub(super) struct Batch {
    bytes: Vec<u8>,
    lines: u64,
}

impl Stderr {
    fn batch(&self) -> MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one whole line, after the queued ones (in the same `write` when there are some).
    pub(super) fn write_line(&self, line: &[u8]) -> io::Result<()> {
        let mut batch = self.batch();
        if batch.bytes.is_empty() {
            return self.write_lines(line, 1);
        }
        batch.bytes.extend_from_slice(line);
        batch.lines += 1;
        self.write_batch(&mut batch)
    }

    /// Queues one whole line, to be written by the end of this turn of the runtime (at once
    /// outside a runtime).
    pub(super) fn queue(&'static self, line: &[u8]) {
        let mut batch = self.batch();
        let first = batch.bytes.is_empty();
        batch.bytes.extend_from_slice(line);
        batch.lines += 1;
        if batch.bytes.len() >= MAX_BATCH {
            let _ = self.write_batch(&mut batch);
            return;
        }
        drop(batch);
        if first {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn(async move { self.flush() })),
                Err(_) => self.flush(),
            }
        }
    }

    /// Writes the queued lines, if any.
    pub(super) fn flush(&self) {
        let mut batch = self.batch();
        if !batch.bytes.is_empty() {
            let _ = self.write_batch(&mut batch);
        }
    }

    /// Writes the batch out and empties it (the lock held: no line can come between).
    fn write_batch(&self, batch: &mut Batch) -> io::Result<()> {
        let written = self.write_lines(&batch.bytes, batch.lines);
        batch.bytes.clear();
        batch.lines = 0;
        if batch.bytes.capacity() > 4 * MAX_BATCH {
            batch.bytes = Vec::new(); // a burst of long lines: not kept for the process's life
        }
        written
    }
}
