//! Failures during an invocation: a thrown error (500), a timeout (504, stuck workers
//! replaced, waiting ones kept), and a worker that dies (502, then restarted).

use super::*;

fn thrown_error_is_500_with_the_languages_error(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let r = served.send(&Request::get("/throw").header("x-request-id", "err-rid"));
    let j = assert_error(&r, 500, lang.thrown_type(), &served);
    assert_eq!(j["errorMessage"], "probe failed on purpose", "{r}{served}");
    assert_eq!(j["requestId"], "err-rid", "{r}{served}");
    assert_eq!(
        r.header("x-function-error"),
        Some("Unhandled"),
        "{r}{served}"
    );
    assert_eq!(
        r.header("x-fc-status"),
        None,
        "only Function Compute callers get x-fc-status{r}{served}"
    );
    let frames = j["stackTrace"].as_array().unwrap();
    assert!(
        frames
            .iter()
            .any(|f| f.as_str().is_some_and(|f| f.contains(lang.entry()))),
        "the stack trace names the user's file {}{r}{served}",
        lang.entry()
    );

    let r = served.send(&Request::get("/throw").header("x-fc-request-id", "fc-rid"));
    let j = assert_error(&r, 500, lang.thrown_type(), &served);
    assert_eq!(j["requestId"], "fc-rid", "{r}{served}");
    assert_eq!(r.header("x-fc-status"), Some("404"), "{r}{served}");
    assert_eq!(
        r.header("x-function-error"),
        Some("Unhandled"),
        "{r}{served}"
    );

    let r = invoke(&served, &json!({"ok": 1}));
    assert_eq!(
        ok_json(&r, &served)["event"],
        json!({"ok": 1}),
        "the worker survives a throw{r}{served}"
    );
}
per_language!(thrown_error_is_500_with_the_languages_error);

/// Time for a FUNCTION_TIMEOUT=1s answer on a loaded machine.
fn assert_timely_504(r: &Response, took: Duration, served: &Served) {
    assert_error(r, 504, "TimeoutError", served);
    assert!(
        took >= Duration::from_millis(900),
        "504 after {took:?}, before FUNCTION_TIMEOUT=1s{served}"
    );
    assert!(
        took < Duration::from_secs(8),
        "FUNCTION_TIMEOUT=1s answered after {took:?}{served}"
    );
}

fn worker_stuck_in_sync_code_times_out_and_is_replaced(lang: Lang) {
    let served = serve_probe(
        lang,
        &[("FUNCTION_TIMEOUT", "1s"), ("FUNCTION_WORKERS", "1")],
    );
    let before = probe_pid(&served);
    let started = Instant::now();
    let r = served.get("/block?ms=60000");
    assert_timely_504(&r, started.elapsed(), &served);
    assert!(served.try_status().is_none(), "fnshim must stay up{served}");
    let after = wait_serving(&served);
    assert_ne!(
        after, before,
        "the stuck worker (pid {before}) must have been replaced{served}"
    );
    let counted = wait_for(RECOVERY, || (restarts(&served) >= 1.0).then_some(()));
    assert!(
        counted.is_some(),
        "the replacement is not in fnshim_worker_restarts_total{served}"
    );
}
per_language!(worker_stuck_in_sync_code_times_out_and_is_replaced);

/// Node and Deno: a handler that is only waiting does not block the worker, so it is kept.
fn js_waiting_handler_times_out_but_the_worker_is_kept(lang: Lang) {
    let served = serve_probe(lang, &[("FUNCTION_TIMEOUT", "1s")]);
    let before = probe_pid(&served);
    let started = Instant::now();
    let r = served.get("/sleep?ms=4000");
    assert_timely_504(&r, started.elapsed(), &served);
    // The ping comes within a second of the timeout; watch the worker past that window.
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_millis(2500) {
        assert_eq!(
            probe_pid(&served),
            before,
            "a waiting worker must not be replaced{served}"
        );
    }
    assert_eq!(restarts(&served), 0.0, "{served}");
}

#[test]
fn node_waiting_handler_times_out_but_the_worker_is_kept() {
    js_waiting_handler_times_out_but_the_worker_is_kept(Lang::Node)
}

#[test]
fn deno_waiting_handler_times_out_but_the_worker_is_kept() {
    js_waiting_handler_times_out_but_the_worker_is_kept(Lang::Deno)
}

/// A crash while a call is in flight: 502 WorkerExited for it, then a new worker serves.
fn crash_gives_502_then_a_restart(served: &Served, target: &str) {
    let before = probe_pid(served);
    let restarts_before = restarts(served);
    let r = served.get(target);
    assert_error(&r, 502, "WorkerExited", served);
    assert!(served.try_status().is_none(), "fnshim must stay up{served}");
    let after = wait_serving(served);
    assert_ne!(
        after, before,
        "a new worker process must serve after the crash{served}"
    );
    let counted = wait_for(RECOVERY, || {
        (restarts(served) > restarts_before).then_some(())
    });
    assert!(
        counted.is_some(),
        "fnshim_worker_restarts_total did not increase{served}"
    );
}

fn worker_exit_is_502_and_the_worker_restarts(lang: Lang) {
    let served = serve_probe(lang, &[("FUNCTION_WORKERS", "1")]);
    crash_gives_502_then_a_restart(&served, "/exit");
    let r = invoke(&served, &json!({"after": "crash"}));
    assert_eq!(
        ok_json(&r, &served)["event"],
        json!({"after": "crash"}),
        "{r}{served}"
    );
    crash_gives_502_then_a_restart(&served, "/exit");
}
per_language!(worker_exit_is_502_and_the_worker_restarts);

/// Node and Python: SIGSEGV; Deno: SIGKILL (see the probe).
fn worker_killed_by_a_signal_is_502_and_restarts(lang: Lang) {
    let served = serve_probe(lang, &[("FUNCTION_WORKERS", "1")]);
    crash_gives_502_then_a_restart(&served, "/signal");
}
per_language!(worker_killed_by_a_signal_is_502_and_restarts);

#[test]
fn python_crash_of_one_worker_leaves_the_other_serving() {
    let served = serve_probe(
        Lang::Python,
        &[("FUNCTION_WORKERS", "2"), ("FUNCTION_TIMEOUT", "20s")],
    );
    wait_workers(&served, 2);
    let (answers, _) = all_at_once(
        &served,
        vec![Request::get("/sleep?ms=1500"), Request::get("/exit")],
    );
    assert_eq!(
        answers[0].status, 200,
        "the call on the healthy worker{}{served}",
        answers[0]
    );
    assert_error(&answers[1], 502, "WorkerExited", &served);
    wait_serving(&served);
}
