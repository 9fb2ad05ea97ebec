//! fnshim inside AWS Lambda: a real Runtime API emulator (`cargo lambda watch
//! --only-lambda-apis`, one fresh one per test, since it keeps stale invocations queued), a
//! real fnshim polling it, and invocations sent through the emulator's Invoke API.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{
    fnshim, per_language, wait_for, Conn, Function, Request, Response, Shim, ShimCmd, STARTUP,
};

mod api;
mod bootstrap;
mod concurrency;
mod deps;
mod handlers;
mod init;
mod streaming;

/// Deno and Python start slower, and the machine is shared.
const SLOW_START: Duration = Duration::from_secs(40);
const INVOKE_PATH: &str = "/2015-03-31/functions/_/invocations";

/// One `cargo lambda watch --only-lambda-apis` on a free loopback port; killed on drop.
pub struct Emulator {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Emulator {
    pub fn start() -> Emulator {
        // It wants a Cargo package in its working folder, though it builds nothing.
        let dir = tempfile::Builder::new()
            .prefix("fnshim-emu-")
            .tempdir()
            .unwrap();
        let manifest = "[package]\nname = \"emu\"\nversion = \"0.0.0\"\nedition = \"2021\"\n";
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
        let port = free_port();
        let child = Command::new("cargo-lambda")
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo-lambda must be on PATH (python3 -m pip install cargo-lambda)");
        let emulator = Emulator {
            child,
            port,
            _dir: dir,
        };
        let up = wait_for(STARTUP, || TcpStream::connect(("127.0.0.1", port)).ok());
        assert!(
            up.is_some(),
            "the Runtime API emulator never listened on {port}"
        );
        emulator
    }

    /// AWS_LAMBDA_RUNTIME_API for this emulator (it serves the API under `/.rt`).
    pub fn api(&self) -> String {
        format!("127.0.0.1:{}/.rt", self.port)
    }

    /// One synchronous invocation through the emulator's Invoke API.
    pub fn invoke(&self, event: &Value) -> Response {
        let request = Request::post(INVOKE_PATH)
            .header("content-type", "application/json")
            .body(event.to_string());
        Conn::connect(self.port)
            .and_then(|mut c| c.request(&request))
            .unwrap_or_else(|e| panic!("invoke {event}: {e}"))
    }

    /// Sends an invocation without waiting for its answer (it stays queued in the emulator).
    pub fn invoke_later(&self, event: &Value) -> Conn {
        let request = Request::post(INVOKE_PATH)
            .header("content-type", "application/json")
            .body(event.to_string());
        let mut conn = Conn::connect(self.port).unwrap();
        conn.write_raw(&request.to_bytes()).unwrap();
        conn
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// fnshim set up as Lambda starts it: the Runtime API address and Lambda's variables.
pub fn in_lambda(emulator: &Emulator, cache: &tempfile::TempDir) -> ShimCmd {
    fnshim()
        .env("AWS_LAMBDA_RUNTIME_API", &emulator.api())
        .env("AWS_LAMBDA_FUNCTION_NAME", "orders")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "3")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("CACHE_DIR", cache.path().to_str().unwrap())
}

pub fn cache_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("fnshim-cache-")
        .tempdir()
        .unwrap()
}

/// Waits until fnshim polls the Runtime API (its function is ready); returns the log line.
pub fn wait_polling(shim: &Shim, limit: Duration) -> Value {
    let line = shim.wait_log(limit, |l| l["message"] == "polling the Lambda Runtime API");
    line.unwrap_or_else(|| panic!("fnshim never polled the Runtime API{shim}"))
}

/// The body of an invocation answer, as JSON.
pub fn answer(response: &Response, shim: &Shim) -> Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {response}{shim}"))
}

/// An API Gateway REST (v1) proxy event, as AWS documents it (abridged).
pub fn api_v1(path: &str) -> Value {
    json!({
        "resource": "/{proxy+}", "path": path, "httpMethod": "POST",
        "headers": {"content-type": "text/plain", "x-tag": "b"},
        "multiValueHeaders": {"content-type": ["text/plain"], "x-tag": ["a", "b"]},
        "queryStringParameters": {"q": "a b"},
        "multiValueQueryStringParameters": {"q": ["a b"], "id": ["1", "2"]},
        "requestContext": {"requestId": "gw-1", "stage": "$default", "httpMethod": "POST", "path": path,
            "identity": {"sourceIp": "192.0.2.1"}, "requestTimeEpoch": 1_583_349_317_135u64},
        "pathParameters": null, "stageVariables": null,
        "body": "hello v1", "isBase64Encoded": false
    })
}

/// An API Gateway HTTP API (v2) event, as AWS documents it (abridged).
pub fn api_v2(path: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "id=1&id=2",
        "cookies": ["s=1", "t=2"],
        "headers": {"content-type": "application/octet-stream", "x-tag": "a,b"},
        "queryStringParameters": {"id": "1,2"},
        "requestContext": {"requestId": "gw-2", "routeKey": "$default", "stage": "$default", "timeEpoch": 1_583_348_638_390u64,
            "http": {"method": "PUT", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "agent"}},
        "body": "AAEC/w==", "isBase64Encoded": true
    })
}

/// fnshim's `invocation` log lines so far.
pub fn invocations(shim: &Shim) -> Vec<Value> {
    shim.logs()
        .into_iter()
        .filter(|l| l["message"] == "invocation")
        .collect()
}

pub fn write_all(function: &Function, files: &[(&str, &str)]) {
    for (name, text) in files {
        function.write(name, text, 0o644);
    }
}

pub fn epoch_ms_now() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap().as_millis() as u64
}
