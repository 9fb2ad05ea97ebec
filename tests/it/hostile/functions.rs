//! Handlers that misbehave: huge or unserializable results, odd throws, promises that never
//! settle, crashes by signal or exit, and megabytes of output without a newline.

use super::*;

const MISBEHAVING_JS: &str = r#"
exports.handler = async (event) => {
  switch (event.path) {
    case '/big': return { statusCode: 200, body: 'x'.repeat(50 * 1024 * 1024) };
    case '/circular': { const a = { name: 'a' }; a.self = a; return a; }
    case '/throw-42': throw 42;
    case '/throw-null': throw null;
    case '/never': return new Promise(() => {});
    case '/segv': process.kill(process.pid, 'SIGSEGV'); return 'unreachable';
    case '/chatty': process.stdout.write('y'.repeat(20 * 1024 * 1024)); return 'printed';
  }
  return { statusCode: 200, body: 'fine' };
};
"#;

const MISBEHAVING_PY: &str = r#"
import os, sys

def handler(event, context):
    path = event["path"]
    if path == "/big":
        return {"statusCode": 200, "body": "x" * (50 * 1024 * 1024)}
    if path == "/circular":
        a = []
        a.append(a)
        return a
    if path == "/exit-3":
        os._exit(3)
    if path == "/chatty":
        sys.stdout.write("y" * (20 * 1024 * 1024))
        sys.stdout.flush()
        return "printed"
    return {"statusCode": 200, "body": "fine"}
"#;

fn assert_error(r: &Response, status: u16, error_type: &str, served: &Served) -> Value {
    assert_eq!(r.status, status, "{r}{served}");
    let j = r.json();
    assert_eq!(j["errorType"], error_type, "{r}{served}");
    j
}

/// The worker is back (after a crash, once restarted) and serves.
fn recovers(served: &Served, after: &str) {
    let back = wait_for(Duration::from_secs(30), || {
        let r = served.get("/fine");
        (r.status == 200).then_some(r)
    });
    assert!(
        back.is_some(),
        "after {after} the function never served again{served}"
    );
}

fn big_result_arrives_whole(served: &Served) {
    let r = served.get("/big");
    assert_eq!(r.status, 200, "{served}");
    let start = String::from_utf8_lossy(&r.body[..r.body.len().min(300)]).into_owned();
    let whole = r.body.len() == 50 << 20;
    assert!(
        whole,
        "not the 50 MB body: {} bytes, {:?}: {start}{served}",
        r.body.len(),
        r.headers
    );
    assert!(r.body.iter().all(|b| *b == b'x'));
}

/// 20 MB printed without a newline reaches the log in pieces of at most 1 MiB (each a line),
/// every byte of it, while the request is answered.
fn chatty_output_is_logged_in_pieces(served: &Served) {
    let r = served.get("/chatty");
    assert_eq!((r.status, r.text().as_str()), (200, "printed"), "{served}");
    let pieces = || -> Vec<usize> {
        served
            .logs()
            .iter()
            .filter_map(|l| l["message"].as_str())
            .filter(|m| m.starts_with('y'))
            .map(str::len)
            .collect()
    };
    let all = wait_for(Duration::from_secs(30), || {
        let sizes = pieces();
        (sizes.iter().sum::<usize>() >= 20 << 20).then_some(sizes)
    });
    let sizes =
        all.unwrap_or_else(|| panic!("the output never reached the log whole: {:?}", pieces()));
    assert!(
        sizes.iter().all(|s| *s <= 1 << 20),
        "a piece over 1 MiB: {sizes:?}"
    );
    assert_eq!(sizes.iter().sum::<usize>(), 20 << 20, "{sizes:?}");
}

#[test]
fn a_misbehaving_node_handler_gets_exact_answers() {
    let served = serve(
        &[("index.js", MISBEHAVING_JS)],
        &[("FUNCTION_TIMEOUT", "2s")],
    );
    big_result_arrives_whole(&served);
    let circular = assert_error(&served.get("/circular"), 500, "TypeError", &served);
    assert!(
        circular["errorMessage"]
            .as_str()
            .unwrap()
            .contains("circular"),
        "{circular}"
    );
    for (path, message) in [("/throw-42", "42"), ("/throw-null", "null")] {
        let thrown = assert_error(&served.get(path), 500, "Error", &served);
        assert_eq!(thrown["errorMessage"], message, "{path}: {thrown}");
    }
    let started = Instant::now();
    assert_error(&served.get("/never"), 504, "TimeoutError", &served);
    assert!(started.elapsed() < Duration::from_secs(15), "{served}");
    recovers(&served, "a promise that never settles");
    assert_error(&served.get("/segv"), 502, "WorkerExited", &served);
    recovers(&served, "SIGSEGV");
    chatty_output_is_logged_in_pieces(&served);
    recovers(&served, "20 MB of output");
}

#[test]
fn a_misbehaving_python_handler_gets_exact_answers() {
    let served = serve(&[("main.py", MISBEHAVING_PY)], &[]);
    big_result_arrives_whole(&served);
    let circular = assert_error(
        &served.get("/circular"),
        500,
        "ResultNotSerializable",
        &served,
    );
    assert!(
        circular["errorMessage"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("circular"),
        "{circular}"
    );
    assert_error(&served.get("/exit-3"), 502, "WorkerExited", &served);
    recovers(&served, "os._exit(3)");
    // The line is read from fnshim's stderr on a thread of this test's: wait for it.
    let exited = served.wait_log(Duration::from_secs(20), |l| {
        l["message"] == "the worker exited; restarting it" && l["status"] == "exit code 3"
    });
    assert!(
        exited.is_some(),
        "the worker's exit code 3 is logged{served}"
    );
    chatty_output_is_logged_in_pieces(&served);
}
