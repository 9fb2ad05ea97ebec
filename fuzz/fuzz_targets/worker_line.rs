//! A line from a worker (languages/PROTOCOL.md) as the connection reads it: a JSON message is
//! decoded by its `type` and `id`, anything else is unreadable and still names the invocation
//! whose `"id"` it starts with, so that the caller is answered at once.
#![no_main]

use fnshim::fuzzing::{self, WorkerLine};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|line: &[u8]| {
    let decoded = fuzzing::worker_line(line);
    match serde_json::from_slice::<Value>(line) {
        Ok(message) => parsed(&message, &decoded),
        Err(_) => unreadable(line, &decoded),
    }
    if let Ok(id) = std::str::from_utf8(&line[..line.len().min(64)]) {
        ids_survive(id);
    }
});

fn parsed(message: &Value, decoded: &WorkerLine) {
    let id = message["id"].as_str().unwrap_or_default();
    let kind = message["type"].as_str().unwrap_or_default();
    let expected = match kind {
        "result" | "error" | "log" | "pong" | "init_error" | "head" | "chunk" | "end" | "done" => kind,
        "ready" if message["input"] == "request" => "ready:request",
        "ready" => "ready",
        _ => "unknown",
    };
    assert_eq!(decoded.kind, expected);
    if matches!(kind, "result" | "error" | "log" | "pong") {
        assert_eq!(decoded.id.as_deref(), Some(id));
    }
    if matches!(kind, "result" | "error") {
        assert_eq!(decoded.value.as_ref(), Some(&message[kind]));
    }
}

fn unreadable(line: &[u8], decoded: &WorkerLine) {
    assert_eq!(decoded.kind, "unreadable");
    if let Some(id) = &decoded.id {
        let quoted = format!("\"{id}\"");
        let head = &line[..line.len().min(200)];
        let found = head.windows(quoted.len()).any(|w| w == quoted.as_bytes());
        assert!(found, "{quoted} is not in the line's start");
    }
}

/// Any id comes back from a well-formed result; a plain one also from a result nested too
/// deep to parse.
fn ids_survive(id: &str) {
    let line = json!({"type": "result", "id": id, "result": [1]}).to_string();
    assert_eq!(
        fuzzing::worker_line(line.as_bytes()).id.as_deref(),
        Some(id)
    );
    if id.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return;
    }
    let deep = format!(
        r#"{{"type":"result","id":"{id}","result":{}"#,
        "[".repeat(200)
    );
    let decoded = fuzzing::worker_line(deep.as_bytes());
    assert_eq!(
        (decoded.kind, decoded.id.as_deref()),
        ("unreadable", Some(id))
    );
}
