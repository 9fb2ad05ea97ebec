//! WebSockets and `Upgrade` pass-through: after the server's 101 the connection is handed
//! through both ways, counted in flight, and closed by the shutdown within SHUTDOWN_TIMEOUT.
//! The server is `tests/fixtures/websocket.py` (RFC 6455, stdlib), the client Node's own
//! WebSocket (`tests/fixtures/ws-client.js`).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use super::*;

fn websocket_function(env: &[(&str, &str)]) -> Function {
    Function::python_fixture("websocket.py", env)
}

/// Node's WebSocket client, with its event lines.
struct Client {
    child: Child,
    events: BufReader<ChildStdout>,
}

impl Client {
    fn start(port: u16, path: &str, messages: &[&str]) -> Client {
        let mut node = Command::new("node");
        if node_major() < 22 {
            // Node 20 and 21 have the WebSocket client behind a flag (22 has it by default).
            node.arg("--experimental-websocket");
        }
        let mut child = node
            .arg("--no-warnings")
            .arg(fixture("ws-client.js"))
            .arg(format!("ws://127.0.0.1:{port}{path}"))
            .args(messages)
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs the WebSocket client");
        let events = BufReader::new(child.stdout.take().unwrap());
        Client { child, events }
    }

    /// The next event line (`None` once the client ended).
    fn next(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.events.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).expect("a JSON event line")),
        }
    }
}

fn node_major() -> u32 {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .expect("node runs");
    let version = String::from_utf8_lossy(&out.stdout);
    let major = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .unwrap_or("0");
    major.parse().unwrap_or(0)
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn websocket_messages_pass_both_ways_and_the_connection_counts_in_flight() {
    let f = websocket_function(&[]);
    let shim = ready_shim(&f, &[]);
    // A socket on `/stay` stays open until its client goes: while it is open it is in flight.
    // (A client that sends and closes on its own could be gone before the metrics are read.)
    let mut staying = Client::start(shim.port(), "/stay", &[]);
    assert_eq!(staying.next().unwrap()["event"], "open", "{shim}");
    assert_eq!(
        staying.next().unwrap()["data"],
        "hello from /stay",
        "{shim}"
    );
    let m = metrics(&shim);
    assert_eq!(metric_sum(&m, "fnshim_in_flight"), 1.0, "{m}{shim}");

    let mut client = Client::start(shim.port(), "/chat?room=1", &["one", "two"]);
    let mut events = vec![];
    while let Some(event) = client.next() {
        let done = event["event"] == "close";
        events.push(event.to_string());
        if done {
            break;
        }
    }
    let expected = [
        r#"{"event":"open"}"#,
        r#"{"data":"hello from /chat?room=1","event":"message"}"#,
        r#"{"data":"echo: one","event":"message"}"#,
        r#"{"data":"echo: two","event":"message"}"#,
        r#"{"code":1000,"event":"close"}"#,
    ];
    assert_eq!(events, expected, "{shim}");
    drop(staying);
    let none_left = wait_for(SECS_10, || {
        (metric_sum(&metrics(&shim), "fnshim_in_flight") == 0.0).then_some(())
    });
    assert!(
        none_left.is_some(),
        "a closed WebSocket is still in flight{shim}"
    );
    let r = shim.get("/plain");
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.text(), "plain", "{r}{shim}");
}

/// Opens a WebSocket on `/stay`, sends fnshim SIGTERM, and returns how long the socket
/// stayed open after it.
fn closed_after_term(shim: &Shim) -> Duration {
    let mut client = Client::start(shim.port(), "/stay", &[]);
    assert_eq!(client.next().unwrap()["event"], "open", "{shim}");
    assert_eq!(client.next().unwrap()["data"], "hello from /stay", "{shim}");
    let signalled = shim.signal(libc::SIGTERM);
    let closed = client.next();
    let took = signalled.elapsed();
    assert_eq!(
        closed.as_ref().map(|e| e["event"].clone()),
        Some(Value::from("close")),
        "{closed:?}{shim}"
    );
    took
}

#[test]
fn shutdown_closes_an_open_websocket_within_shutdown_timeout() {
    // The server ignores SIGTERM: only the SIGKILL at SHUTDOWN_TIMEOUT ends it.
    let f = websocket_function(&[("WS_IGNORE_SIGTERM", "1")]);
    let shim = ready_shim(&f, &[("SHUTDOWN_TIMEOUT", "3s")]);
    let took = closed_after_term(&shim);
    assert!(
        took < Duration::from_secs(8),
        "SHUTDOWN_TIMEOUT=3s closed the WebSocket after {took:?}{shim}"
    );
    shim.wait_exit(SECS_10);
}

#[test]
fn the_drain_waits_for_an_open_websocket_like_a_request_in_flight() {
    // grace = min(2s, 4s/2) = 2s: the drain lasts 2 s, then the server gets SIGTERM and dies.
    let f = websocket_function(&[]);
    let shim = ready_shim(&f, &[("SHUTDOWN_TIMEOUT", "4s")]);
    let took = closed_after_term(&shim);
    assert!(
        took >= Duration::from_millis(1500),
        "the WebSocket was cut after {took:?}, before the drain window ended{shim}"
    );
    assert_eq!(shim.wait_code(SECS_10), 0, "{shim}");
}
