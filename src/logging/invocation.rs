//! The one line logged per invocation, written straight to the log writer when the lines are
//! JSON: it is the only line per request, and tracing's dispatch (the callsite, the subscriber,
//! the field visitor) cost ~2,000–3,400 instructions of the proxy's ~38,600 per request
//! (callgrind, bench/README.md). The line is the one tracing's path writes (`JsonLines`): the
//! same fields in the same order. Text lines, and any run without `init` (unit tests), still
//! go through tracing.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::SystemTime;

use super::{escape_into, timestamp, Stderr};

/// The invocation line's fields, in the order they are written.
pub(crate) struct Invocation<'a> {
    pub request_id: &'a str,
    pub trace_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration_us: u64,
}

/// Set by `init` for JSON lines at LOG_LEVEL info or finer; unset, the line goes through
/// tracing (which applies LOG_LEVEL itself).
static DIRECT: OnceLock<&'static Stderr> = OnceLock::new();

pub(super) fn direct(stderr: &'static Stderr) {
    let _ = DIRECT.set(stderr);
}

thread_local! {
    /// The line's buffer, kept between lines (a line is ~250 bytes).
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Writes out the queued invocation lines.
pub(super) fn flush() {
    if let Some(stderr) = DIRECT.get() {
        stderr.flush();
    }
}

/// Logs the invocation line (INFO, message `invocation`), queued with the others of this turn
/// of the runtime (`batch`).
pub(crate) fn invocation(line: &Invocation<'_>) {
    let Some(stderr) = DIRECT.get() else {
        return tracing::info!(
            request_id = line.request_id,
            trace_id = line.trace_id,
            method = line.method,
            path = line.path,
            status = line.status,
            duration_us = line.duration_us,
            "invocation"
        );
    };
    LINE.with_borrow_mut(|buffer| {
        buffer.clear();
        json_line(buffer, line, SystemTime::now());
        stderr.queue(buffer.as_bytes());
        if buffer.capacity() > 16 << 10 {
            *buffer = String::new(); // a long path's line: not kept for the thread's life
        }
    });
}

/// `{"timestamp":…,"level":"INFO","message":"invocation",<the fields>}` and a newline.
fn json_line(out: &mut String, line: &Invocation<'_>, now: SystemTime) {
    out.push_str("{\"timestamp\":\"");
    timestamp(out, now);
    out.push_str("\",\"level\":\"INFO\",\"message\":\"invocation\"");
    for (key, value) in [
        ("request_id", line.request_id),
        ("trace_id", line.trace_id),
        ("method", line.method),
        ("path", line.path),
    ] {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":\"");
        escape_into(out, value);
        out.push('"');
    }
    out.push_str(",\"status\":");
    digits(out, u64::from(line.status));
    out.push_str(",\"duration_us\":");
    digits(out, line.duration_us);
    out.push_str("}\n");
}

/// A number's decimal digits, without the formatter.
fn digits(out: &mut String, mut n: u64) {
    let mut text = [0u8; 20];
    let mut at = text.len();
    loop {
        at -= 1;
        text[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Pushed one by one: these are ASCII digits, a few of them (no UTF-8 check, no memcpy).
    out.reserve(text.len() - at);
    for &digit in &text[at..] {
        out.push(char::from(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::super::JsonLines;
    use super::*;
    use std::sync::{Arc, Mutex};

    /// The line tracing's path writes for the same fields, its timestamp cut off.
    fn through_tracing(line: &Invocation<'_>) -> String {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, || invocation(line));
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        without_timestamp(&text)
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn without_timestamp(line: &str) -> String {
        let end = line.find("\",\"level\"").expect("a timestamp");
        line[end..].to_string()
    }

    #[test]
    fn the_direct_line_is_the_line_tracing_writes() {
        for (path, status, duration_us) in [
            ("/", 200, 0),
            ("/a\"b\\c\n\u{1}é?x=1", 499, 18_446_744_073_709_551_615),
            ("", 0, 7),
        ] {
            let line = Invocation {
                request_id: "r-1",
                trace_id: "0af7651916cd43dd8448eb211c80319c",
                method: "GET",
                path,
                status,
                duration_us,
            };
            let mut direct = String::new();
            json_line(&mut direct, &line, SystemTime::now());
            assert_eq!(without_timestamp(&direct), through_tracing(&line));
            let parsed: serde_json::Value = serde_json::from_str(&direct).unwrap();
            assert_eq!(parsed["path"], path);
            assert_eq!(parsed["duration_us"], duration_us);
        }
    }
}
