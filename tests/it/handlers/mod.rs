//! Handler mode: a real fnshim running real node, deno and python workers (the adapters in
//! `languages/`) on small functions written into temp folders; shared helpers live here.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use data::{base64_decode, base64_encode, binary_bytes, epoch_ms, header_in};
use probe::Lang;

use crate::support::{
    fnshim, metric_sum, per_language, wait_for, Conn, Function, Request, Response, Shim, ShimCmd,
};

mod background;
mod build;
mod config_file;
mod dart;
mod data;
mod events;
mod failures;
mod fyml;
mod init;
mod invoke;
mod local;
mod node_lts;
mod probe;
mod requests;
mod responses;
mod schedule;
mod shapes;
mod shutdown_hook;
mod streaming;
mod trace;
mod workers;

/// Deno and Python start slower than a bootstrap, and the machine is shared.
const SLOW_START: Duration = Duration::from_secs(40);
const RECOVERY: Duration = Duration::from_secs(30);

/// A fnshim in handler mode with the folders it uses; the shim is dropped (killed) first.
pub(crate) struct Served {
    shim: Shim,
    function: Function,
    _cache: tempfile::TempDir,
}

impl Deref for Served {
    type Target = Shim;
    fn deref(&self) -> &Shim {
        &self.shim
    }
}

impl fmt::Display for Served {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.shim)?;
        writeln!(
            f,
            "---- function files in {}",
            self.function.path().display()
        )?;
        for entry in std::fs::read_dir(self.function.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            writeln!(f, "== {}\n{text}", entry.file_name().to_string_lossy())?;
        }
        Ok(())
    }
}

/// The lines the function printed that start with `prefix`, without it, in order.
fn printed(served: &Served, prefix: &str) -> Vec<String> {
    served
        .logs()
        .iter()
        .filter_map(|l| {
            l["message"]
                .as_str()?
                .strip_prefix(prefix)
                .map(str::to_owned)
        })
        .collect()
}

/// fnshim's command for a function of `files` (folders made as their names need) with `env`,
/// and the folders it uses. A private CACHE_DIR keeps the adapter file that this build writes
/// apart from other builds running at the same time.
pub(crate) fn prepared(
    files: &[(&str, &str)],
    env: &[(&str, &str)],
) -> (ShimCmd, Function, tempfile::TempDir) {
    let function = Function::empty();
    for (name, text) in files {
        if let Some((folder, _)) = name.rsplit_once('/') {
            std::fs::create_dir_all(function.path().join(folder)).unwrap();
        }
        function.write(name, text, 0o644);
    }
    let cache = tempfile::Builder::new()
        .prefix("fnshim-cache-")
        .tempdir()
        .unwrap();
    let mut cmd = fnshim()
        .function(&function)
        .env("CACHE_DIR", cache.path().to_str().unwrap());
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    (cmd, function, cache)
}

/// Sends SIGTERM: fnshim starts its shutdown but, held by `what`, is still running a second
/// later.
fn terms_but_stays(served: &Served, what: &str) {
    served.signal(libc::SIGTERM);
    let stopping = served.wait_log(Duration::from_secs(10), |l| l["message"] == "shutting down");
    assert!(stopping.is_some(), "{served}");
    let exited = served.exit_within(Duration::from_secs(1));
    assert!(exited.is_none(), "fnshim exited with {what}{served}");
}

/// Starts fnshim on `files` without waiting.
pub(crate) fn start(files: &[(&str, &str)], env: &[(&str, &str)]) -> Served {
    let (cmd, function, cache) = prepared(files, env);
    Served {
        shim: cmd.spawn(),
        function,
        _cache: cache,
    }
}

/// Starts fnshim on `files` and waits until `/_/ready` is 200.
pub(crate) fn serve(files: &[(&str, &str)], env: &[(&str, &str)]) -> Served {
    let served = start(files, env);
    let port = served.port();
    let ready = wait_for(SLOW_START, || {
        if served.try_status().is_some() {
            panic!("fnshim exited before it was ready{served}");
        }
        let r = Conn::connect(port).and_then(|mut c| c.request(&Request::get("/_/ready")));
        r.ok().filter(|r| r.status == 200)
    });
    assert!(ready.is_some(), "GET /_/ready never answered 200{served}");
    served
}

fn serve_probe(lang: Lang, env: &[(&str, &str)]) -> Served {
    serve(&[(lang.entry(), &lang.probe())], env)
}

/// Checks an error answer: status, JSON shape, errorType and requestId; returns the JSON.
fn assert_error(r: &Response, status: u16, error_type: &str, served: &Served) -> Value {
    assert_eq!(r.status, status, "{r}{served}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "errors are application/json{r}{served}"
    );
    let j = r.json();
    assert_eq!(j["errorType"], error_type, "{r}{served}");
    assert!(
        j["errorMessage"].as_str().is_some_and(|m| !m.is_empty()),
        "{r}{served}"
    );
    assert!(
        j["stackTrace"].is_array(),
        "stackTrace must be a list{r}{served}"
    );
    let rid = r
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no x-request-id{r}{served}"));
    assert_eq!(j["requestId"], rid, "{r}{served}");
    j
}

/// A 200 JSON answer's body.
fn ok_json(r: &Response, served: &Served) -> Value {
    assert_eq!(r.status, 200, "{r}{served}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{r}{served}"
    );
    r.json()
}

/// POST /invoke with a JSON body.
fn invoke(served: &Served, event: &Value) -> Response {
    served.send(
        &Request::post("/invoke")
            .header("Content-Type", "application/json")
            .body(event.to_string()),
    )
}

/// The worker's pid as the probe reports it on an HTTP call to `/pid`.
fn probe_pid(served: &Served) -> u64 {
    let r = served.get("/pid");
    let j = ok_json(&r, served);
    j["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid in{r}{served}"))
}

/// Waits until `/pid` answers 200 again (after a crash or a replaced worker); returns the pid.
fn wait_serving(served: &Served) -> u64 {
    let pid = wait_for(RECOVERY, || {
        let r = served.get("/pid");
        (r.status == 200)
            .then(|| r.json()["pid"].as_u64())
            .flatten()
    });
    pid.unwrap_or_else(|| panic!("the function never answered 200 again{served}"))
}

fn restarts(served: &Served) -> f64 {
    let r = served.get("/_/metrics");
    assert_eq!(r.status, 200, "{r}{served}");
    metric_sum(&r.text(), "fnshim_worker_restarts_total")
}

/// Sends every request at once, one connection and thread each; returns the answers in
/// order and the time from the common start to the last answer.
fn all_at_once(served: &Served, requests: Vec<Request>) -> (Vec<Response>, Duration) {
    let port = served.port();
    let barrier = Arc::new(Barrier::new(requests.len() + 1));
    let threads: Vec<_> = requests
        .into_iter()
        .map(|req| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let conn = Conn::connect(port);
                barrier.wait();
                conn.and_then(|mut c| c.request(&req))
                    .map_err(|e| format!("{} {}: {e}", req.method, req.target))
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let took = started.elapsed();
    let answers = answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|e| panic!("{e}{served}")))
        .collect();
    (answers, took)
}

fn sleeps(n: usize, ms: u64) -> Vec<Request> {
    (0..n)
        .map(|_| Request::get(&format!("/sleep?ms={ms}")))
        .collect()
}

/// The distinct worker pids in the probe's answers to `/sleep`.
fn pids(answers: &[Response], served: &Served) -> Vec<u64> {
    let mut pids: Vec<u64> = answers
        .iter()
        .map(|r| ok_json(r, served)["pid"].as_u64().unwrap())
        .collect();
    pids.sort();
    pids.dedup();
    pids
}

/// fnshim is ready with its first worker; waits until `n` calls made at once (each holding
/// its worker for a moment) are answered by `n` different processes.
fn wait_workers(served: &Served, n: usize) {
    let all = wait_for(SLOW_START, || {
        let (answers, _) = all_at_once(served, sleeps(n, 300));
        (pids(&answers, served).len() == n).then_some(())
    });
    assert!(
        all.is_some(),
        "{n} workers never served calls side by side{served}"
    );
}
