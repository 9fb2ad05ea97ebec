//! The worker's life: readiness gating, health, metrics, init failures, crashes and restarts, logs.

use super::*;

#[test]
fn ready_is_503_until_the_child_listens_and_early_requests_wait_for_it() {
    let gate_dir = tempfile::tempdir().unwrap();
    let gate = gate_dir.path().join("listen");
    let f = Function::upstream(&[("UPSTREAM_LISTEN_GATE", gate.to_str().unwrap())]);
    let shim = fnshim().function(&f).env("FUNCTION_TIMEOUT", "20s").spawn();
    let port = shim.port();
    // The fixture cannot listen until the gate file exists.
    let r = shim.get("/_/ready");
    assert_eq!(r.status, 503, "{r}{shim}");
    let j = r.json();
    assert!(
        j["reason"].as_str().is_some_and(|s| !s.is_empty()),
        "503 needs a reason{r}"
    );
    assert!(j["status"].is_string(), "{r}");
    let health = shim.get("/_/health");
    assert_eq!(
        health.status, 200,
        "liveness does not depend on the child{health}{shim}"
    );

    let mut early = Conn::connect(port).unwrap();
    early
        .write_raw(&Request::get("/early?x=1").to_bytes())
        .unwrap();
    let r = shim.get("/_/ready");
    assert_eq!(
        r.status, 503,
        "still not ready before the gate opens{r}{shim}"
    );
    std::fs::write(&gate, "").unwrap();
    shim.wait_ready();
    let r = early
        .read_response("GET")
        .unwrap_or_else(|e| panic!("early request: {e}{shim}"));
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.json()["path"], "/early", "{r}");
    let ready = shim.get("/_/ready");
    assert_eq!(ready.json()["status"], "ready", "{ready}");
}

#[test]
fn readiness_waits_for_a_child_that_listens_late() {
    let f = Function::upstream(&[("UPSTREAM_LISTEN_DELAY_MS", "6000")]);
    let shim = fnshim().function(&f).spawn();
    // The fixture sleeps 6 s after it starts before it listens (long enough that a loaded
    // machine is still in it when this side first asks).
    let r = shim.get("/_/ready");
    assert_eq!(r.status, 503, "{r}{shim}");
    let r = shim.get("/echo");
    assert_eq!(
        r.status, 200,
        "a request sent during init is answered once ready{r}{shim}"
    );
    assert_eq!(shim.get("/_/ready").status, 200, "{shim}");
}

#[test]
fn health_answers_ok() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let r = shim.get("/_/health");
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.json()["status"], "ok", "{r}");
}

#[test]
fn metrics_name_every_series_and_count_an_invocation() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let before = metrics(&shim);
    for name in [
        "fnshim_invocations_total",
        "fnshim_invocation_duration_seconds",
        "fnshim_in_flight",
        "fnshim_worker_restarts_total",
        "fnshim_init_duration_seconds",
    ] {
        assert!(before.contains(name), "/_/metrics lacks {name}:\n{before}");
    }
    let calls = metric_sum(&before, "fnshim_invocations_total");
    let observed = metric_sum(&before, "fnshim_invocation_duration_seconds_count");
    let r = shim.get("/echo");
    assert_eq!(r.status, 200, "{r}{shim}");
    let after = wait_for(SECS_10, || {
        let m = metrics(&shim);
        (metric_sum(&m, "fnshim_invocations_total") >= calls + 1.0).then_some(m)
    })
    .unwrap_or_else(|| panic!("invocation not counted:\n{}{shim}", metrics(&shim)));
    assert_eq!(
        metric_sum(&after, "fnshim_invocations_total"),
        calls + 1.0,
        "{after}"
    );
    assert_eq!(
        metric_sum(&after, "fnshim_invocation_duration_seconds_count"),
        observed + 1.0,
        "{after}"
    );
    assert_eq!(
        metric_sum(&after, "fnshim_worker_restarts_total"),
        0.0,
        "{after}"
    );
}

#[test]
fn child_exit_during_init_makes_the_shim_exit_65() {
    let f = Function::upstream(&[("UPSTREAM_EXIT_DURING_INIT", "3")]);
    let shim = fnshim().function(&f).spawn();
    assert_eq!(shim.wait_code(STARTUP), 65, "{shim}");
}

#[test]
fn child_that_never_listens_hits_init_timeout_and_exit_65() {
    let f = Function::upstream(&[("UPSTREAM_NEVER_LISTEN", "1")]);
    let started = Instant::now();
    let shim = fnshim().function(&f).env("INIT_TIMEOUT", "1s").spawn();
    assert_eq!(shim.wait_code(SECS_10), 65, "{shim}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "exited after {took:?}, before INIT_TIMEOUT{shim}"
    );
    assert!(
        took < Duration::from_secs(6),
        "INIT_TIMEOUT=1s took {took:?}{shim}"
    );
}

#[test]
fn child_crash_after_ready_gives_502_then_it_is_restarted() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let r = shim.get("/exit?code=3&delay_ms=100");
    assert_error(&r, 502, "WorkerExited", &shim);
    assert!(shim.try_status().is_none(), "the shim must stay up{shim}");
    let ok = wait_for(Duration::from_secs(20), || {
        let r = shim.get("/echo");
        (r.status == 200).then_some(r)
    });
    assert!(
        ok.is_some(),
        "requests never succeeded again after the crash{shim}"
    );
    let m = metrics(&shim);
    assert!(
        metric_sum(&m, "fnshim_worker_restarts_total") >= 1.0,
        "no restart counted:\n{m}{shim}"
    );
}

#[test]
fn bootstrap_output_is_logged_as_json_lines_even_very_long_ones() {
    let f = Function::upstream(&[("UPSTREAM_BANNER", "banner-at-start")]);
    let shim = ready_shim(&f, &[]);
    let is_line = |text: String, stream: &'static str| {
        move |v: &Value| v["message"] == text.as_str() && v["stream"] == stream && v["worker"] == 1
    };
    assert!(
        shim.wait_log(SECS_10, is_line("banner-at-start".into(), "stdout"))
            .is_some(),
        "start-up stdout line not logged{shim}"
    );
    for stream in ["stdout", "stderr"] {
        let r = shim.get(&format!("/log?stream={stream}&text=hello-from-{stream}"));
        assert_eq!(r.status, 200, "{r}{shim}");
        let line = shim.wait_log(SECS_10, is_line(format!("hello-from-{stream}"), stream));
        let line = line.unwrap_or_else(|| panic!("{stream} line not logged as JSON{shim}"));
        assert_eq!(
            line["level"].as_str().map(|l| l.is_empty()),
            Some(false),
            "{line}"
        );
        assert!(
            line["timestamp"].is_string() || line["timestamp"].is_number(),
            "{line}"
        );
    }
    let long = format!("LONG{}", "x".repeat(150_000));
    let r = shim.get("/log?stream=stdout&text=LONG&char=x&repeat=150000");
    assert_eq!(r.status, 200, "{r}{shim}");
    assert!(
        shim.wait_log(SECS_10, is_line(long, "stdout")).is_some(),
        "a 150 KB stdout line must be logged whole as one JSON line{shim}"
    );
    assert!(
        !shim.stdout().contains("hello-from-stdout"),
        "bootstrap stdout must not pass through"
    );
}

#[test]
fn child_killed_by_a_signal_in_flight_gives_502_worker_exited() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let r = shim.get("/kill");
    assert_error(&r, 502, "WorkerExited", &shim);
    let ok = wait_for(Duration::from_secs(20), || {
        let r = shim.get("/echo");
        (r.status == 200).then_some(r)
    });
    assert!(ok.is_some(), "never recovered after SIGKILL{shim}");
}

#[test]
fn requests_during_a_slow_restart_get_503_not_ready_then_200() {
    let gates = tempfile::tempdir().unwrap();
    let gate = gates.path().join("relisten");
    // The first start listens at once; every later start waits for the gate. `started` is
    // relative: the bootstrap's cwd must be FUNCTION_PATH.
    let script = format!(
        "#!/bin/sh\nif [ -e started ]; then export UPSTREAM_LISTEN_GATE='{}'; fi\ntouch started\n\
         exec '{}' -u '{}'\n",
        gate.display(),
        python().display(),
        fixture("upstream.py").display()
    );
    let f = Function::with_bootstrap(&script, 0o755);
    let shim = ready_shim(&f, &[("FUNCTION_TIMEOUT", "1s")]);
    assert!(
        f.path().join("started").exists(),
        "bootstrap cwd is not FUNCTION_PATH{shim}"
    );
    assert_error(
        &shim.get("/exit?code=1&delay_ms=50"),
        502,
        "WorkerExited",
        &shim,
    );
    let started = Instant::now();
    let r = shim.get("/echo");
    let took = started.elapsed();
    assert_error(&r, 503, "NotReady", &shim);
    assert!(
        took >= Duration::from_millis(800),
        "gave up after {took:?}, before FUNCTION_TIMEOUT{shim}"
    );
    assert!(
        took < Duration::from_secs(6),
        "FUNCTION_TIMEOUT=1s answered after {took:?}{shim}"
    );
    assert_eq!(shim.get("/_/ready").status, 503, "{shim}");
    std::fs::write(&gate, "").unwrap();
    shim.wait_ready();
    let r = shim.get("/echo");
    assert_eq!(r.status, 200, "{r}{shim}");
}

/// Seconds since midnight of a log line's `timestamp` (`2026-12-02T00:01:05.171757Z`).
fn logged_at(line: &Value) -> f64 {
    let time = line["timestamp"].as_str().unwrap_or_default();
    let clock = time
        .split('T')
        .nth(1)
        .unwrap_or_default()
        .trim_end_matches('Z');
    let parts: Vec<f64> = clock.split(':').map(|p| p.parse().unwrap_or(0.0)).collect();
    parts.iter().fold(0.0, |total, part| total * 60.0 + part)
}

#[test]
fn a_worker_that_served_is_restarted_at_once_every_time() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    for crash in 1..=4 {
        // Ready for more than a second: it served, so no backoff applies.
        std::thread::sleep(Duration::from_millis(1200));
        let r = shim.get("/exit?code=3&delay_ms=10");
        assert_error(&r, 502, "WorkerExited", &shim);
        let back = wait_for(Duration::from_secs(20), || {
            (shim.get("/echo").status == 200).then_some(())
        });
        assert!(back.is_some(), "not back after crash {crash}{shim}");
    }
    // The last lines are read from fnshim's stderr on a thread of this test's: wait for them.
    let count =
        |logs: &[Value], message: &str| logs.iter().filter(|l| l["message"] == message).count();
    let logs = wait_for(SECS_10, || {
        let logs = shim.logs();
        let seen = (
            count(&logs, "the worker exited; restarting it"),
            count(&logs, "worker started"),
        );
        (seen == (4, 5)).then_some(logs)
    });
    let logs = logs.unwrap_or_else(|| shim.logs());
    let exits: Vec<f64> = logs
        .iter()
        .filter(|l| l["message"] == "the worker exited; restarting it")
        .map(logged_at)
        .collect();
    let starts: Vec<f64> = logs
        .iter()
        .filter(|l| l["message"] == "worker started")
        .map(logged_at)
        .skip(1)
        .collect();
    assert_eq!((exits.len(), starts.len()), (4, 4), "{shim}");
    for (exit, start) in exits.iter().zip(&starts) {
        let waited = start - exit;
        // The old backoff waited 100, 200, 400 and then 800 ms.
        assert!(waited < 0.3, "restarted {waited:.3} s after the exit{shim}");
    }
}

/// `docker run fnshim/python -- python job.py`: every image sets PORT, yet a command that ends
/// before it ever listened is a batch job, and fnshim ends with its code, as tini would.
#[test]
fn a_command_that_ends_before_it_listens_ends_fnshim_with_its_own_code() {
    for (script, code) in [
        ("echo job done; exit 7", 7),
        ("exit 0", 0),
        ("kill -TERM $$", 143),
    ] {
        let shim = fnshim()
            .env("PORT", "0")
            .args(["--", "sh", "-c", script])
            .spawn();
        assert_eq!(shim.wait_code(STARTUP), code, "{script}{shim}");
    }
}

#[test]
fn a_line_of_megabytes_is_logged_in_bounded_pieces() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let r = shim.get("/log?stream=stdout&text=BIG&char=y&repeat=3000000");
    assert_eq!(r.status, 200, "{r}{shim}");
    let last = shim.wait_log(SECS_10, |l| l["piece"] == 2 && l["stream"] == "stdout");
    assert!(last.is_some(), "no third piece{shim}");
    let pieces: Vec<Value> = shim
        .logs()
        .into_iter()
        .filter(|l| l["stream"] == "stdout" && l.get("piece").is_some())
        .collect();
    let sizes: Vec<usize> = pieces
        .iter()
        .map(|l| l["message"].as_str().unwrap_or_default().len())
        .collect();
    assert_eq!(sizes, [1 << 20, 1 << 20, 3_000_003 - (2 << 20)], "{shim}");
    assert!(pieces[0]["message"].as_str().unwrap().starts_with("BIGyyy"));
}

#[test]
fn readiness_path_holds_every_request_until_it_answers_a_ready_status() {
    let dir = tempfile::tempdir().unwrap();
    let (gate, log) = (dir.path().join("ready"), dir.path().join("requests.log"));
    let f = Function::upstream(&[
        ("UPSTREAM_READY_GATE", gate.to_str().unwrap()),
        ("UPSTREAM_REQUEST_LOG", log.to_str().unwrap()),
    ]);
    let shim = fnshim()
        .function(&f)
        .env("READINESS_PATH", "/ready")
        .env("READINESS_STATUS", "200-299")
        .env("READINESS_INTERVAL", "20ms")
        .env("FUNCTION_TIMEOUT", "30s")
        .spawn();
    let port = shim.port();
    let lines = || std::fs::read_to_string(&log).unwrap_or_default();
    let polls = |lines: &str| lines.lines().filter(|l| *l == "/ready 503").count();
    // The upstream accepts connections at once but answers 503 on /ready.
    let polled = wait_for(STARTUP, || (polls(&lines()) >= 2).then_some(()));
    assert!(polled.is_some(), "fnshim never polled /ready{shim}");
    let r = shim.get("/_/ready");
    assert_eq!(r.status, 503, "not ready while /ready is 503{r}{shim}");
    let reason = r.json()["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains("GET /ready"), "{r}{shim}");
    let mut early = Conn::connect(port).unwrap();
    early.write_raw(&Request::get("/early").to_bytes()).unwrap();
    // Several more polls after the request arrived, and still nothing reached the upstream.
    let seen = polls(&lines());
    let later = wait_for(STARTUP, || (polls(&lines()) >= seen + 3).then_some(()));
    assert!(later.is_some(), "polling stopped{shim}");
    let before = lines();
    assert!(
        before.lines().all(|l| l.starts_with("/ready")),
        "a request reached the upstream before it was ready:\n{before}{shim}"
    );
    std::fs::write(&gate, "").unwrap();
    let r = early
        .read_response("GET")
        .unwrap_or_else(|e| panic!("early request: {e}{shim}"));
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.json()["path"], "/early", "{r}");
    shim.wait_ready();
    let all = lines();
    let ready_at = all.lines().position(|l| l == "/ready 200");
    let early_at = all.lines().position(|l| l == "/early");
    assert!(
        ready_at.is_some() && early_at > ready_at,
        "the request went out only after /ready said 200:\n{all}{shim}"
    );
}

#[test]
fn a_bootstrap_that_never_answers_ready_within_init_timeout_fails_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("never");
    let f = Function::upstream(&[("UPSTREAM_READY_GATE", gate.to_str().unwrap())]);
    // 10 s: the upstream (Python) must have started and answered a poll or two by then, on a
    // loaded machine too, for "the last answer was 503" to be what is reported.
    let shim = fnshim()
        .function(&f)
        .env("READINESS_PATH", "/ready")
        .env("INIT_TIMEOUT", "10s")
        .spawn();
    assert_eq!(shim.wait_code(SECS_10 * 4), 65, "{shim}");
    let err = shim.stderr();
    assert!(
        err.contains("GET /ready") && err.contains("the last answer was 503"),
        "the reason names the path and the last status{shim}"
    );
}
