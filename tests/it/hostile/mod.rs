//! The hostile-input suite: what a hostile or unlucky client, or a misbehaving function, sends
//! to fnshim. Each case asserts the exact answer, then that fnshim serves the next request.
//! README's "Failure behaviour" lists every case with what the caller gets. Cases proven where
//! their feature is tested are not repeated here: a stalled body (handlers::requests), a
//! client's bad chunk in proxy mode, lingering 413s and a client that never reads its answer
//! (WRITE_TIMEOUT; all in proxy::limits), deep results and
//! secrets at LOG_LEVEL=debug in handler mode (handlers::requests), worker crashes and timeouts
//! in every language (handlers::failures).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::handlers::{serve, Served};
use crate::support::{fnshim, wait_for, Conn, Function, Request, Response, Shim};

mod bodies;
mod clients;
mod framing;
mod functions;

/// Writes `raw` on a new connection and reads the answer. The write may fail part-way (fnshim
/// answers and closes before a too-large head has all arrived): the answer is read anyway.
fn exchange(port: u16, raw: &[u8], method: &str) -> Response {
    let mut conn = Conn::connect(port).unwrap();
    let _ = conn.write_raw(raw);
    conn.read_response(method)
        .unwrap_or_else(|e| panic!("no answer to {:?}: {e}", shown(raw)))
}

/// The start of a raw request, for failure messages.
fn shown(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[..raw.len().min(120)]).into_owned()
}

/// fnshim still serves: a plain GET on a new connection is 200.
fn serves_next(shim: &Shim, after: &str) {
    let r = shim.get("/after");
    assert_eq!(
        r.status, 200,
        "after {after}: the next request failed{r}{shim}"
    );
}

/// A proxy-mode fnshim in front of `tests/fixtures/upstream.py`, which writes one line per
/// request it receives to the returned file.
fn proxied(env: &[(&str, &str)]) -> (Shim, Function, std::path::PathBuf) {
    let log = tempfile::NamedTempFile::new()
        .unwrap()
        .into_temp_path()
        .keep()
        .unwrap();
    let function = Function::upstream(&[("UPSTREAM_RECEIVED_LOG", log.to_str().unwrap())]);
    let mut cmd = fnshim().function(&function);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let shim = cmd.spawn();
    shim.wait_ready();
    (shim, function, log)
}

/// The requests the upstream received ("METHOD PATH BODY_LENGTH"), without fnshim's own.
fn received(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A Node handler that echoes what it was given (method, path, body) as JSON.
const ECHO_JS: &str = "exports.handler = async (event) => ({ statusCode: 200, \
    body: JSON.stringify({ method: event.httpMethod, path: event.path, body: event.body }) });";

fn node_echo(env: &[(&str, &str)]) -> Served {
    serve(&[("index.js", ECHO_JS)], env)
}
