//! The reverse-proxy side of fnshim in custom mode (and command mode with PORT set):
//! forwarding, streaming, readiness, errors, limits, drain, logs and bad configuration.
//! Every test runs a real fnshim in front of `tests/fixtures/upstream.py`.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod bad_input;
mod forwarding;
mod lifecycle;
mod limits;
mod shutdown;
mod streaming;
mod websocket;

use crate::support::{
    chunk_bytes, fixture, fnshim, metric_sum, python, ready_shim, wait_for, Conn, Function,
    Request, Response, Shim, STARTUP,
};

const SECS_10: Duration = Duration::from_secs(10);

/// A shim in front of a plain upstream, ready to serve.
/// The values of a header in the upstream's echo of the request.
fn echoed_header(echo: &Value, name: &str) -> Vec<String> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == name)
        .map(|h| h[1].as_str().unwrap().to_string())
        .collect()
}

fn one_header(echo: &Value, name: &str) -> String {
    let v = echoed_header(echo, name);
    assert_eq!(
        v.len(),
        1,
        "expected one {name} header upstream, got {v:?} in {echo}"
    );
    v[0].clone()
}

/// Checks an error answer: status, the JSON shape and its requestId.
fn assert_error(r: &Response, status: u16, error_type: &str, shim: &Shim) -> Value {
    assert_eq!(r.status, status, "{r}{shim}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "error must be application/json{r}{shim}"
    );
    let j = r.json();
    assert_eq!(j["errorType"], error_type, "{r}{shim}");
    assert!(
        j["errorMessage"].as_str().is_some_and(|m| !m.is_empty()),
        "{r}{shim}"
    );
    assert_eq!(j["stackTrace"], Value::Array(vec![]), "{r}{shim}");
    let rid = r
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no x-request-id{r}{shim}"));
    assert_eq!(j["requestId"], rid, "{r}{shim}");
    j
}

/// `len` bytes covering every byte value, in an order that is not a simple cycle.
fn binary_body(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

fn metrics(shim: &Shim) -> String {
    let r = shim.get("/_/metrics");
    assert_eq!(r.status, 200, "{r}{shim}");
    r.text()
}
