//! Background work after the response: `context.waitUntil(promise)` (JS) and
//! `context.wait_until(awaitable_or_callable)` (Python). The answer goes out at once, the work
//! keeps its worker busy, the drain waits for it, and a failure is logged and counted.

use super::*;
use crate::support::get_in_background;

/// Files in the worker's folder: the work waits for `gate`, then writes `marker`; the shutdown
/// hook notes in `hook.txt` whether the marker was there.
const BACKGROUND_JS: &str = r#"
import fs from 'node:fs';
const sleep = (millis) => new Promise((resolve) => setTimeout(resolve, millis));

export async function handler(event, context) {
  switch (event.path) {
    case '/bg':
      context.waitUntil((async () => {
        while (!fs.existsSync('gate')) await sleep(20);
        fs.writeFileSync('marker', 'written');
      })());
      return { statusCode: 200, body: 'answered' };
    case '/fail':
      context.waitUntil(sleep(10).then(() => { throw new Error('background failed on purpose'); }));
      return { statusCode: 200, body: 'answered' };
    default:
      return { statusCode: 200, body: JSON.stringify({ marker: fs.existsSync('marker') }) };
  }
}

export function shutdown() {
  fs.appendFileSync('hook.txt', `hook marker=${fs.existsSync('marker')}\n`);
}
"#;

const BACKGROUND_PY: &str = r#"
import asyncio
import json
import os
import time


def handler(event, context):
    path = event["path"]
    if path == "/bg":
        def work():
            while not os.path.exists("gate"):
                time.sleep(0.02)
            with open("marker", "w") as marker:
                marker.write("written")
        context.wait_until(work)
        return {"statusCode": 200, "body": "answered"}
    if path == "/abg":
        async def work():
            while not os.path.exists("gate"):
                await asyncio.sleep(0.02)
            with open("marker", "w") as marker:
                marker.write("written")
        context.wait_until(work())
        return {"statusCode": 200, "body": "answered"}
    if path == "/fail":
        def boom():
            raise RuntimeError("background failed on purpose")
        context.wait_until(boom)
        return {"statusCode": 200, "body": "answered"}
    return {"statusCode": 200, "body": json.dumps({"marker": os.path.exists("marker")})}


def shutdown():
    with open("hook.txt", "a") as hook:
        hook.write(f"hook marker={str(os.path.exists('marker')).lower()}\n")
"#;

/// One worker taking one call at a time, so that a held slot makes the next call wait.
fn serve_background(lang: Lang, env: &[(&str, &str)]) -> Served {
    let source = match lang {
        Lang::Python => BACKGROUND_PY,
        _ => BACKGROUND_JS,
    };
    let mut all = vec![("FUNCTION_WORKERS", "1"), ("FUNCTION_CONCURRENCY", "1")];
    all.extend_from_slice(env);
    serve(&[(lang.entry(), source)], &all)
}

fn in_flight(served: &Served) -> f64 {
    metric_sum(&served.get("/_/metrics").text(), "fnshim_in_flight")
}

/// The answer comes while the work waits for the gate; the next call runs only after it.
fn check_background(served: &Served, path: &str) {
    let marker = served.function.path().join("marker");
    let r = served.get(path);
    assert_eq!(
        (r.status, r.text()),
        (200, "answered".to_string()),
        "{r}{served}"
    );
    assert!(
        !marker.exists(),
        "the answer came after the background work{served}"
    );
    let next = get_in_background(served.port(), "/check");
    let waiting = wait_for(Duration::from_secs(20), || {
        (in_flight(served) >= 1.0).then_some(())
    });
    assert!(
        waiting.is_some(),
        "the next call never waited for the worker{served}"
    );
    std::fs::write(served.function.path().join("gate"), "open").unwrap();
    let written = wait_for(Duration::from_secs(20), || marker.exists().then_some(()));
    assert!(written.is_some(), "the background work never ended{served}");
    let (answer, _) = next.join().unwrap();
    let answer = answer.unwrap_or_else(|e| panic!("{e}{served}"));
    assert_eq!(
        answer.json()["marker"],
        true,
        "the next call ran while the background work held the worker{answer}{served}"
    );
}

fn the_response_goes_out_before_the_background_work_ends(lang: Lang) {
    let served = serve_background(lang, &[]);
    check_background(&served, "/bg");
}
per_language!(the_response_goes_out_before_the_background_work_ends);

#[test]
fn python_waits_for_an_awaitable_too() {
    let served = serve_background(Lang::Python, &[]);
    check_background(&served, "/abg");
}

fn a_failing_background_task_is_logged_with_its_request_id_and_counted(lang: Lang) {
    let served = serve_background(lang, &[]);
    let r = served.send(&Request::get("/fail").header("x-request-id", "bg-fail-1"));
    assert_eq!(
        (r.status, r.text()),
        (200, "answered".to_string()),
        "{r}{served}"
    );
    let line = served.wait_log(Duration::from_secs(20), |l| {
        l["message"] == "background work failed" && l["request_id"] == "bg-fail-1"
    });
    let line = line.unwrap_or_else(|| panic!("no log line for the failure{served}"));
    let message = line["error_message"].as_str().unwrap_or_default();
    assert!(
        message.contains("background failed on purpose"),
        "{line}{served}"
    );
    let counted = wait_for(Duration::from_secs(5), || {
        let text = served.get("/_/metrics").text();
        (metric_sum(&text, "fnshim_background_failures_total") == 1.0).then_some(())
    });
    assert!(
        counted.is_some(),
        "fnshim_background_failures_total is not 1{served}"
    );
    let r = served.get("/check");
    assert_eq!(r.status, 200, "the worker serves on{r}{served}");
}
per_language!(a_failing_background_task_is_logged_with_its_request_id_and_counted);

fn the_drain_waits_for_background_work(lang: Lang) {
    let served = serve_background(lang, &[("SHUTDOWN_TIMEOUT", "30s")]);
    let folder = served.function.path();
    let r = served.get("/bg");
    assert_eq!(r.status, 200, "{r}{served}");
    terms_but_stays(&served, "background work running");
    assert!(
        !folder.join("hook.txt").exists(),
        "the hook ran before the work ended{served}"
    );
    std::fs::write(folder.join("gate"), "open").unwrap();
    served.expect_exit(0, Duration::from_secs(30));
    assert!(
        folder.join("marker").exists(),
        "the background work was cut short{served}"
    );
    let hook = std::fs::read_to_string(folder.join("hook.txt")).unwrap_or_default();
    assert_eq!(hook, "hook marker=true\n", "{served}");
}
per_language!(the_drain_waits_for_background_work);

fn background_work_past_function_timeout_frees_the_worker_and_is_counted(lang: Lang) {
    let served = serve_background(lang, &[("FUNCTION_TIMEOUT", "2s")]);
    let r = served.send(&Request::get("/bg").header("x-request-id", "bg-late-1"));
    assert_eq!(
        (r.status, r.text()),
        (200, "answered".to_string()),
        "{r}{served}"
    );
    let line = served.wait_log(Duration::from_secs(20), |l| {
        l["message"] == "the invocation's background work did not end within FUNCTION_TIMEOUT"
            && l["request_id"] == "bg-late-1"
    });
    assert!(
        line.is_some(),
        "no line for the work past its timeout{served}"
    );
    let text = served.get("/_/metrics").text();
    assert_eq!(
        metric_sum(&text, "fnshim_background_failures_total"),
        1.0,
        "{served}"
    );
    // JS frees the place (its worker still answers pings); Python's worker, stuck in the work,
    // is replaced. Either way the function serves again.
    let serving = wait_for(RECOVERY, || {
        (served.get("/check").status == 200).then_some(())
    });
    assert!(serving.is_some(), "the function never served again{served}");
}
per_language!(background_work_past_function_timeout_frees_the_worker_and_is_counted);
