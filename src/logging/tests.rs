//! The log writer's own tests: the JSON shape, a full pipe, timestamps.

use super::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn lines_are_json_with_flat_fields_and_escapes() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .event_format(JsonLines)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(
            request_id = "r-1",
            status = 200u16,
            took = -3i64,
            ok = true,
            ratio = 0.5,
            path = "/a\"b\\c\n\u{1}é",
            "invocation {}",
            7
        );
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(text.ends_with("}\n") && text.lines().count() == 1, "{text}");
    let line: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["message"], "invocation 7");
    assert_eq!(line["request_id"], "r-1");
    assert_eq!(line["status"], 200);
    assert_eq!(line["took"], -3);
    assert_eq!(line["ok"], true);
    assert_eq!(line["ratio"], 0.5);
    assert_eq!(line["path"], "/a\"b\\c\n\u{1}é");
    let stamp = line["timestamp"].as_str().unwrap();
    assert_eq!(stamp.len(), "2026-11-21T08:00:00.000000Z".len(), "{stamp}");
}

#[test]
fn a_full_pipe_drops_lines_without_blocking_and_reports_them_once_it_drains() {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let sink = Stderr {
        pipe: reopen_nonblocking(write.as_raw_fd()),
        state: Mutex::default(),
        batch: Mutex::default(),
        json: true,
    };
    let fd = sink.pipe.as_ref().expect("a pipe is reopened");
    let line = [b'x'; 1000];
    let started = Instant::now();
    for _ in 0..200 {
        sink.line(fd, &line, 1); // 200 kB into a 64 kB pipe
    }
    let took = started.elapsed();
    assert!(took < STALL + Duration::from_millis(500), "{took:?}");
    let dropped = sink.lost().dropped;
    assert!(dropped > 100 && sink.lost().stuck, "{dropped}");
    let mut drained = Vec::new();
    let mut chunk = [0u8; 65536];
    // SAFETY: reads into a local buffer; the read end is non-blocking from here on.
    unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    loop {
        let n = unsafe { libc::read(read.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
        if n <= 0 {
            break;
        }
        drained.extend_from_slice(&chunk[..n as usize]);
    }
    sink.line(fd, b"after\n", 1);
    let n = unsafe { libc::read(read.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
    let text = String::from_utf8_lossy(&chunk[..n.max(0) as usize]).into_owned();
    let mut lines = text.lines();
    let note: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(note["dropped"], dropped, "{text}");
    assert_eq!(lines.next(), Some("after"), "{text}");
    assert!(
        drained.iter().all(|b| *b == b'x'),
        "only whole lines went out"
    );
    assert!(!sink.lost().stuck && sink.lost().dropped == 0);
}

/// What the pipe's read end holds now (non-blocking).
fn read_now(read: &OwnedFd) -> String {
    let mut chunk = [0u8; 65536];
    // SAFETY: reads into a local buffer from a descriptor the test owns.
    unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let n = unsafe { libc::read(read.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
    String::from_utf8_lossy(&chunk[..n.max(0) as usize]).into_owned()
}

#[test]
fn queued_lines_leave_together_by_the_end_of_the_turn_and_before_any_other_line() {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let sink: &'static Stderr = Box::leak(Box::new(Stderr {
        pipe: reopen_nonblocking(write.as_raw_fd()),
        state: Mutex::default(),
        batch: Mutex::default(),
        json: true,
    }));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        sink.queue(b"one\n");
        sink.queue(b"two\n");
        assert_eq!(
            read_now(&read),
            "",
            "queued lines wait for the end of the turn"
        );
        tokio::task::yield_now().await;
        assert_eq!(read_now(&read), "one\ntwo\n");
        sink.queue(b"three\n");
        sink.write_line(b"other\n").unwrap();
        assert_eq!(read_now(&read), "three\nother\n", "order kept");
        tokio::task::yield_now().await;
        assert_eq!(read_now(&read), "", "nothing written twice");
        sink.queue(b"last\n");
    });
    sink.flush();
    assert_eq!(read_now(&read), "last\n", "flush writes what is left");
    sink.queue(b"outside\n");
    assert_eq!(read_now(&read), "outside\n", "outside a runtime, at once");
}

#[test]
fn timestamps_are_rfc3339_utc_with_microseconds() {
    let mut out = String::new();
    timestamp(
        &mut out,
        UNIX_EPOCH + Duration::from_micros(1_795_248_000_000_042),
    );
    assert_eq!(out, "2026-11-21T08:00:00.000042Z");
    out.clear();
    timestamp(
        &mut out,
        UNIX_EPOCH + Duration::from_micros(1_795_248_059_999_999),
    );
    assert_eq!(out, "2026-11-21T08:00:59.999999Z");
}
