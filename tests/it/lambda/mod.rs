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
    /// cargo-lambda cannot be given a port of the kernel's choosing, so the port is chosen here
    /// (outside the kernel's ephemeral range, where the shims' PORT=0 ports come from) and the
    /// listener found on it must be the emulator's own socket: another test's listener
    /// taking the port between the choice and the bind would otherwise pass for it.
    pub fn start() -> Emulator {
        for attempt in 0..5 {
            if let Some(emulator) = Emulator::try_start(attempt) {
                return emulator;
            }
        }
        panic!("the Runtime API emulator never listened on a port of its own (5 tries)");
    }

    fn try_start(attempt: u32) -> Option<Emulator> {
        // It wants a Cargo package in its working folder, though it builds nothing.
        let dir = tempfile::Builder::new()
            .prefix("fnshim-emu-")
            .tempdir()
            .unwrap();
        let manifest = "[package]\nname = \"emu\"\nversion = \"0.0.0\"\nedition = \"2021\"\n";
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
        let port = unused_port(attempt);
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
        let mut emulator = Emulator {
            child,
            port,
            _dir: dir,
        };
        let pid = emulator.child.id() as i32;
        let up = wait_for(STARTUP, || {
            if !matches!(emulator.child.try_wait(), Ok(None)) {
                return Some(false); // it could not bind the port: another try
            }
            let inode = listening_inode(port)?;
            (TcpStream::connect(("127.0.0.1", port)).is_ok() && holds_socket(pid, inode))
                .then_some(true)
        });
        assert!(
            up.is_some(),
            "the Runtime API emulator never listened on {port}"
        );
        up.unwrap().then_some(emulator)
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

/// A loopback port below the kernel's ephemeral range (32768 up) that nothing holds now.
fn unused_port(attempt: u32) -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seed = nanos ^ std::process::id().rotate_left(16) ^ attempt.wrapping_mul(7919);
    (0..12_000)
        .map(|step| 20_000 + ((seed + step) % 12_000) as u16)
        .find(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("a free loopback port in 20000-31999")
}

/// The inode of the socket listening on 127.0.0.1:`port` (or any address), from /proc/net/tcp.
fn listening_inode(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted = format!(":{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let listening = fields.get(3) == Some(&"0A");
        let ours = fields.get(1).is_some_and(|local| local.ends_with(&wanted));
        (listening && ours).then(|| fields.get(9)?.parse().ok())?
    })
}

/// Whether `pid` or a process below it has the socket `inode` open.
fn holds_socket(pid: i32, inode: u64) -> bool {
    let link = format!("socket:[{inode}]");
    let below = crate::support::descendants(pid).into_iter().map(|p| p.pid);
    std::iter::once(pid).chain(below).any(|p| {
        let fds = std::fs::read_dir(format!("/proc/{p}/fd"))
            .into_iter()
            .flatten();
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == link))
    })
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
