//! Lambda-style bootstraps under fnshim, with clients no one here wrote: a sh + curl custom
//! runtime in the style of AWS's tutorial, `awslambdaric` (PyPI) and `aws-lambda-ric` (npm) as
//! bootstraps, and boto3's `lambda.invoke` against fnshim's Invoke API for RIC bootstraps and a
//! handler function.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{fixture, fnshim, python, wait_for, Conn, Function, Request, Response, Shim};

mod boto3;
mod curl;
mod node_ric;
mod ric;

const RECOVERY: Duration = Duration::from_secs(30);

/// The tutorial-style bootstrap (`tests/fixtures/lambda/curl-bootstrap`).
fn curl_function() -> Function {
    let script = std::fs::read_to_string(fixture("lambda/curl-bootstrap")).unwrap();
    Function::with_bootstrap(&script, 0o755)
}

/// `python3 -m awslambdaric app.handler` over `tests/fixtures/lambda/app.py`.
fn ric_function() -> Function {
    let check = Command::new(python())
        .args(["-c", "import awslambdaric"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "awslambdaric is not installed (scripts/test.sh installs it with pip): {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let script = format!(
        "#!/bin/sh\nexec '{}' -m awslambdaric app.handler\n",
        python().display()
    );
    let f = Function::with_bootstrap(&script, 0o755);
    let app = std::fs::read_to_string(fixture("lambda/app.py")).unwrap();
    f.write("app.py", &app, 0o644);
    f
}

/// A shim serving `f` with `env`, ready.
fn serve(f: &Function, env: &[(&str, &str)]) -> Shim {
    crate::support::ready_shim(f, env)
}

fn invoke(shim: &Shim, event: &Value) -> Response {
    shim.send(
        &Request::post("/invoke")
            .header("Content-Type", "application/json")
            .body(event.to_string()),
    )
}

/// The JSON body of a 200, or the report.
fn ok_json(r: &Response, shim: &Shim) -> Value {
    assert_eq!(r.status, 200, "{r}{shim}");
    r.json()
}

/// Waits until a GET of `path` answers 200 again (after a restart).
fn answers_again(shim: &Shim, path: &str) -> Response {
    let port = shim.port();
    let r = wait_for(RECOVERY, || {
        let r = Conn::connect(port).and_then(|mut c| c.request(&Request::get(path)));
        r.ok().filter(|r| r.status == 200)
    });
    r.unwrap_or_else(|| panic!("GET {path} never answered 200 again\n{shim}"))
}

/// Sends `n` requests at once, each on its own connection; returns their statuses.
fn concurrently(shim: &Shim, n: usize, path: &str) -> Vec<u16> {
    let port = shim.port();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let path = format!("{path}?i={i}");
            std::thread::spawn(move || {
                let mut conn = Conn::connect(port).expect("connects");
                conn.set_read_timeout(Duration::from_secs(60));
                barrier.wait();
                conn.request(&Request::get(&path)).map_or(0, |r| r.status)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}
