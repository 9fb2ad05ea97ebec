//! Clients that leave before their answer, and more clients than fnshim has descriptors.

use super::*;

/// A client that closes while its request runs: one invocation line with status 499 (as nginx
/// logs it) and one `abandoned` sample, although the function ran. The function runs 10 s
/// after it notes its start, so that the close surely comes while it runs.
fn abandoned_is_logged(shim: &Shim, target: &str, touched: &std::path::Path) {
    let mut conn = Conn::connect(shim.port()).unwrap();
    conn.write_raw(
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nx-request-id: gone-1\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let arrived = wait_for(Duration::from_secs(20), || touched.exists().then_some(()));
    assert!(
        arrived.is_some(),
        "the request never reached the function{shim}"
    );
    drop(conn);
    let line = shim.wait_log(Duration::from_secs(20), |l| {
        l["message"] == "invocation" && l["request_id"] == "gone-1"
    });
    let line = line.unwrap_or_else(|| panic!("no invocation line for the abandoned request{shim}"));
    assert_eq!(line["status"], 499, "{line}{shim}");
    let metrics = shim.get("/_/metrics").text();
    let abandoned = metrics
        .lines()
        .find(|l| l.starts_with("fnshim_invocations_total{outcome=\"abandoned\"}"));
    assert_eq!(
        abandoned.and_then(|l| l.rsplit(' ').next()),
        Some("1"),
        "{metrics}"
    );
    serves_next(shim, "an abandoned request");
    let lines = shim
        .logs()
        .iter()
        .filter(|l| l["request_id"] == "gone-1" && l["message"] == "invocation")
        .count();
    assert_eq!(lines, 1, "one line per request{shim}");
}

#[test]
fn an_abandoned_request_is_logged_and_counted_in_proxy_mode() {
    let (shim, _f, _log) = proxied(&[]);
    let dir = tempfile::tempdir().unwrap();
    let touched = dir.path().join("arrived");
    let target = format!("/sleep?ms=10000&touch={}", touched.display());
    abandoned_is_logged(&shim, &target, &touched);
}

#[test]
fn an_abandoned_request_is_logged_and_counted_in_handler_mode() {
    let dir = tempfile::tempdir().unwrap();
    let touched = dir.path().join("arrived");
    let source = format!(
        "const fs = require('fs');\nexports.handler = async () => {{\n  fs.writeFileSync({:?}, '');\n  \
         await new Promise((r) => setTimeout(r, 10000));\n  return 'late';\n}};\n",
        touched.display().to_string()
    );
    let served = serve(&[("index.js", &source)], &[]);
    abandoned_is_logged(&served, "/slow", &touched);
}

/// At RLIMIT_NOFILE, connections wait in the backlog; "accept failed" is logged at most once a
/// second with a count, and once descriptors are free again every waiting client is served.
#[test]
fn at_the_descriptor_limit_clients_wait_and_the_log_stays_quiet() {
    let function = Function::upstream(&[]);
    let shim = fnshim()
        .function(&function)
        .wrap(&["prlimit", "--nofile=48:48", "--"])
        .spawn();
    shim.wait_ready();
    let port = shim.port();
    // Taken before the first connection: failures (and their lines) may start with it.
    let flooded = Instant::now();
    let mut held: Vec<Conn> = (0..80).filter_map(|_| Conn::connect(port).ok()).collect();
    assert!(
        held.len() >= 60,
        "the backlog took only {} connections",
        held.len()
    );
    let warned = shim.wait_log(Duration::from_secs(10), |l| l["message"] == "accept failed");
    assert!(
        warned.is_some(),
        "no accept failure at the descriptor limit{shim}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let lines = shim
        .logs()
        .iter()
        .filter(|l| l["message"] == "accept failed")
        .count();
    let seconds = flooded.elapsed().as_secs() as usize + 1;
    assert!(
        lines <= seconds + 1,
        "{lines} accept-failed lines in {seconds} s{shim}"
    );
    let counted = shim
        .logs()
        .iter()
        .filter(|l| l["message"] == "accept failed")
        .map(|l| l["count"].as_u64().unwrap_or(0))
        .max();
    assert!(
        counted.unwrap_or(0) > 1,
        "the line counts the failures it stands for{shim}"
    );
    // Free the descriptors: the waiting connections are accepted and answered in turn.
    let late = held.split_off(held.len() - 5);
    drop(held);
    for mut conn in late {
        let r = conn
            .request(&Request::get("/late"))
            .unwrap_or_else(|e| panic!("a waiting client was dropped: {e}{shim}"));
        assert_eq!(r.status, 200, "{r}{shim}");
    }
    serves_next(&shim, "the descriptor limit");
}
