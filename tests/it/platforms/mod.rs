//! The other platforms of seed 000 and 003, each a front end on the invocation seam: Knative /
//! Cloud Run identity (`knative`) and Azure Functions custom handlers (`azure`). Real fnshim
//! processes running real node and python workers; the platforms' own hosts do not run here,
//! so their requests are sent in the shapes the platforms document.

use std::time::Duration;

use serde_json::Value;

use crate::support::{fnshim, wait_for, Conn, Function, Request, Shim};

mod azure;
mod azure_layout;
mod fc;
mod gcf;
mod knative;

/// Node and Python start slower on the shared machine.
const SLOW_START: Duration = Duration::from_secs(40);

/// A fnshim on `files` with `env` and a private CACHE_DIR, and its folders.
struct Served {
    shim: Shim,
    _function: Function,
    _cache: tempfile::TempDir,
}

fn start(files: &[(&str, &str)], env: &[(&str, &str)], args: &[&str]) -> Served {
    let (mut cmd, function, cache) = crate::handlers::prepared(files, env);
    for arg in args {
        cmd = cmd.arg(arg);
    }
    Served {
        shim: cmd.spawn(),
        _function: function,
        _cache: cache,
    }
}

/// Starts fnshim and waits until `/_/ready` on its listening port is 200.
fn serve(files: &[(&str, &str)], env: &[(&str, &str)]) -> Served {
    wait_served(start(files, env, &[]))
}

fn wait_served(served: Served) -> Served {
    let port = served.shim.port();
    let ready = wait_for(SLOW_START, || {
        if served.shim.try_status().is_some() {
            panic!("fnshim exited before it was ready{}", served.shim);
        }
        let r = Conn::connect(port).and_then(|mut c| c.request(&Request::get("/_/ready")));
        r.ok().filter(|r| r.status == 200)
    });
    assert!(
        ready.is_some(),
        "/_/ready never answered 200{}",
        served.shim
    );
    served
}

/// A JSON answer's body, with the shim's output on failure.
fn json_of(served: &Served, request: &Request, status: u16) -> Value {
    let r = served.shim.send(request);
    assert_eq!(r.status, status, "{r}{}", served.shim);
    r.json()
}
