//! Worker processes and concurrency: many calls in one Node or Deno worker, one call at a time
//! per Python process, FUNCTION_WORKERS, and a handler's own output kept out of results.

use super::*;

/// 64 calls sleeping 500 ms each in one worker (default concurrency 64) overlap.
fn js_worker_runs_64_calls_at_once(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let (answers, took) = all_at_once(&served, sleeps(64, 500));
    for r in &answers {
        assert_eq!(ok_json(r, &served)["slept"], 500, "{r}{served}");
    }
    assert_eq!(
        pids(&answers, &served).len(),
        1,
        "one worker served them all{served}"
    );
    assert!(
        took >= Duration::from_millis(450),
        "64 sleeps of 500 ms took only {took:?}{served}"
    );
    // One after the other would be 32 s.
    assert!(
        took < Duration::from_secs(10),
        "64 × 500 ms took {took:?}: not concurrent{served}"
    );
}

#[test]
fn node_worker_runs_64_calls_at_once() {
    js_worker_runs_64_calls_at_once(Lang::Node)
}

#[test]
fn deno_worker_runs_64_calls_at_once() {
    js_worker_runs_64_calls_at_once(Lang::Deno)
}

#[test]
fn node_function_workers_2_starts_two_processes() {
    let served = serve_probe(Lang::Node, &[("FUNCTION_WORKERS", "2")]);
    wait_workers(&served, 2);
}

#[test]
fn python_two_workers_run_two_sleeps_in_parallel() {
    let served = serve_probe(
        Lang::Python,
        &[("FUNCTION_WORKERS", "2"), ("FUNCTION_TIMEOUT", "20s")],
    );
    wait_workers(&served, 2);
    // 3 s sleeps: side by side about 3 s, one after the other 6 s; the bound between leaves
    // seconds for a loaded machine's overhead either way.
    let (answers, took) = all_at_once(&served, sleeps(2, 3000));
    assert_eq!(pids(&answers, &served).len(), 2, "two processes{served}");
    assert!(took >= Duration::from_millis(2950), "took {took:?}{served}");
    assert!(
        took < Duration::from_millis(5000),
        "two 3 s sleeps on two workers took {took:?}{served}"
    );
}

#[test]
fn python_one_worker_runs_calls_one_after_the_other() {
    let served = serve_probe(
        Lang::Python,
        &[("FUNCTION_WORKERS", "1"), ("FUNCTION_TIMEOUT", "20s")],
    );
    let (answers, took) = all_at_once(&served, sleeps(2, 1000));
    assert_eq!(pids(&answers, &served).len(), 1, "{served}");
    assert!(
        took >= Duration::from_secs(2),
        "one Python process ran two 1 s sleeps in {took:?}{served}"
    );
    assert!(
        took < Duration::from_secs(10),
        "the second call waits for the first, then runs: {took:?}{served}"
    );
}

#[test]
fn python_worker_runs_one_call_at_a_time_even_when_sent_two() {
    // FUNCTION_CONCURRENCY=2 hands both calls to the one worker: the adapter still runs them in turn.
    let env = [
        ("FUNCTION_WORKERS", "1"),
        ("FUNCTION_CONCURRENCY", "2"),
        ("FUNCTION_TIMEOUT", "20s"),
    ];
    let served = serve_probe(Lang::Python, &env);
    let (answers, took) = all_at_once(&served, sleeps(2, 1000));
    assert_eq!(pids(&answers, &served).len(), 1, "{served}");
    assert!(
        took >= Duration::from_secs(2),
        "one Python process ran two 1 s sleeps in {took:?}{served}"
    );
}

#[test]
fn calls_beyond_the_wait_queue_get_429() {
    // One Python worker: 1 call in flight, max(100, 10 × 1 × 1) = 100 waiting, the rest 429.
    let served = serve_probe(
        Lang::Python,
        &[("FUNCTION_WORKERS", "1"), ("FUNCTION_TIMEOUT", "6s")],
    );
    let (answers, _) = all_at_once(&served, sleeps(110, 3000));
    let throttled: Vec<&Response> = answers.iter().filter(|r| r.status == 429).collect();
    assert!(
        (1..=9).contains(&throttled.len()),
        "{} of 110 calls got 429; 9 expected with a queue of 100{served}",
        throttled.len()
    );
    assert_error(throttled[0], 429, "TooManyRequests", &served);
    assert_eq!(
        throttled[0].header("retry-after"),
        Some("1"),
        "{}{served}",
        throttled[0]
    );
    assert!(
        answers.iter().any(|r| r.status == 200),
        "the first call is served{served}"
    );
    let others: Vec<u16> = answers
        .iter()
        .map(|r| r.status)
        .filter(|s| ![200, 429, 504].contains(s))
        .collect();
    assert!(
        others.is_empty(),
        "queued calls end as 200 or 504 (their FUNCTION_TIMEOUT): {others:?}{served}"
    );
}

fn handler_output_never_corrupts_results(lang: Lang) {
    let served = serve_probe(lang, &[("FUNCTION_WORKERS", "1")]);
    let mut conn = Conn::connect(served.port()).unwrap();
    for round in 0..3 {
        let r = conn
            .request(&Request::get("/print"))
            .unwrap_or_else(|e| panic!("{e}{served}"));
        assert_eq!(r.status, 200, "round {round}{r}{served}");
        assert_eq!(r.json(), json!({"clean": true}), "round {round}{r}{served}");
        let event = json!({"round": round});
        let r = conn
            .request(&Request::post("/invoke").body(event.to_string()))
            .unwrap_or_else(|e| panic!("{e}{served}"));
        assert_eq!(
            ok_json(&r, &served)["event"],
            event,
            "the next call is not confused{r}{served}"
        );
    }
    // The lines were really written: they reach fnshim's log as the function's output.
    for text in [
        "forged by console.log",
        "forged by stdout",
        "forged on fd 1",
        "Forged",
    ] {
        let logged = served.wait_log(RECOVERY, |v| {
            v["message"].as_str().is_some_and(|m| m.contains(text))
        });
        assert!(
            logged.is_some(),
            "the handler's line with {text:?} is not in the log{served}"
        );
    }
    assert!(
        !served.stdout().contains("forged"),
        "fnshim's stdout is not the function's{served}"
    );
}
per_language!(handler_output_never_corrupts_results);

fn large_events_and_results_cross_the_protocol_whole(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let big = "é".repeat(1 << 20) + "\n{\"type\":\"result\"}\n";
    let event = json!({"big": big, "list": (0..5000).collect::<Vec<u32>>()});
    let r = invoke(&served, &event);
    assert_eq!(
        ok_json(&r, &served)["event"],
        event,
        "a 2 MB event must round-trip intact{served}"
    );
}
per_language!(large_events_and_results_cross_the_protocol_whole);

/// The call is held until the test has seen it counted (a 1.5 s sleep could end before a slow
/// poll came round), then released.
#[test]
fn the_in_flight_gauge_counts_handler_calls() {
    let held = "import os, time\ndef handler(event, context):\n    while not os.path.exists('gate'):\n        time.sleep(0.02)\n    return 'done'\n";
    let served = serve(&[("main.py", held)], &[("FUNCTION_WORKERS", "1")]);
    let gauge = || metric_sum(&served.get("/_/metrics").text(), "fnshim_in_flight");
    assert_eq!(gauge(), 0.0, "{served}");
    let port = served.port();
    let call = thread::spawn(move || {
        Conn::connect(port)
            .unwrap()
            .request(&Request::get("/"))
            .unwrap()
    });
    let counted = wait_for(RECOVERY, || (gauge() == 1.0).then_some(()));
    assert!(
        counted.is_some(),
        "fnshim_in_flight never showed the call{served}"
    );
    std::fs::write(served.function.path().join("gate"), "open").unwrap();
    assert_eq!(call.join().unwrap().status, 200, "{served}");
    assert_eq!(gauge(), 0.0, "{served}");
}
