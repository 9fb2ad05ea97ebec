//! D. Drain and shutdown: in-flight requests, budgets, SIGKILL escalation, workers and orphans.

use super::*;

// Every bound below is the designed duration (a drain budget, a grace, a fixture's sleep) plus
// seconds for a loaded machine, and each fixture's durations are long enough that the bound
// still tells the designed behaviour from the wrong one (waiting out a budget or a grace).

#[test]
fn d1_drain_lets_in_flight_request_finish_then_terms_child() {
    // SHUTDOWN_TIMEOUT=16s: a 14 s drain budget (the grace is min(2 s, half)) for a 6 s request.
    let shim = proxy_fixture(&["http-slow.py"], "16s").spawn();
    let port = shim.wait_ready();
    let request = get_in_background(port, "/slow?ms=6000");
    shim.wait_out("start /slow?ms=6000", STARTUP);
    let sent = shim.signal(libc::SIGTERM);
    let refused = wait_refused(port, PROMPT);
    assert!(
        refused,
        "new connections still accepted {PROMPT:?} after TERM\n{}",
        shim
    );
    let (response, answered) = request.join().unwrap();
    match &response {
        Ok(r) if r.status == 200 && r.text() == "done\n" => {}
        Ok(r) => panic!("in-flight request answered{r}{shim}"),
        Err(e) => panic!("in-flight request: {e}\n{shim}"),
    }
    // At least 3 s of the request were left at the TERM, however late this test saw "start".
    shim.assert_took(
        "TERM -> response",
        sent,
        answered,
        3 * SEC..=6 * SEC + PROMPT,
    );
    let done = shim.expect_exit(0, EXIT);
    shim.assert_took("response -> shim exit", answered, done, ..=PROMPT);
    let lines = shim.out.lines();
    let end = lines.iter().position(|l| l == "end /slow?ms=6000");
    let term = lines.iter().position(|l| l == "got TERM");
    assert!(
        end.is_some() && end < term,
        "child got TERM before the response\n{}",
        shim
    );
}

#[test]
fn d2_drain_stops_at_its_budget() {
    // SHUTDOWN_TIMEOUT=5s: grace 2 s, so the drain budget is 3 s, for a 30 s request.
    let shim = proxy_fixture(&["http-slow.py"], "5s").spawn();
    let port = shim.wait_ready();
    let request = get_in_background(port, "/slow?ms=30000");
    shim.wait_out("start /slow?ms=30000", STARTUP);
    let sent = shim.signal(libc::SIGTERM);
    let child_termed = shim.wait_out("got TERM", EXIT);
    let budget = 3 * SEC;
    let bounds = budget - ms(300)..=budget + PROMPT;
    shim.assert_took("TERM -> child TERM", sent, child_termed, bounds);
    let done = shim.expect_exit(0, EXIT);
    shim.assert_took("TERM -> shim exit", sent, done, ..=budget + PROMPT + SEC);
    let (response, _) = request.join().unwrap();
    if let Ok(r) = &response {
        assert!(r.status >= 500, "cut-off request got{r}{}", shim);
    }
}

#[test]
fn d3_plain_child_ignoring_term_is_killed_after_shutdown_timeout() {
    let spec = run_fixture("term-ignore.sh", &[]).env("SHUTDOWN_TIMEOUT", "2s");
    let shim = spec.spawn();
    shim.wait_out("ready", STARTUP);
    let sent = shim.signal(libc::SIGTERM);
    let done = shim.expect_exit(137, EXIT);
    shim.assert_took(
        "TERM -> SIGKILL exit",
        sent,
        done,
        ms(1800)..=2 * SEC + PROMPT,
    );
}

#[test]
fn d3_proxy_child_ignoring_term_is_killed_at_shutdown_timeout() {
    let spec = proxy_fixture(&["http-slow.py"], "2s").env("ON_TERM", "log");
    let shim = spec.spawn();
    let _port = shim.wait_ready();
    let sent = shim.signal(libc::SIGTERM);
    shim.wait_out("got TERM", EXIT);
    let done = shim.expect_exit(137, EXIT);
    shim.assert_took(
        "TERM -> SIGKILL exit",
        sent,
        done,
        ms(1800)..=2 * SEC + PROMPT,
    );
}

#[test]
fn d4_child_crash_during_drain_ends_the_shim_promptly() {
    // SHUTDOWN_TIMEOUT=20s: an 18 s drain budget; the child crashes 1.5 s into the request.
    let shim = proxy_fixture(&["http-slow.py"], "20s").spawn();
    let port = shim.wait_ready();
    let request = get_in_background(port, "/slow?ms=1500&exit=3");
    shim.wait_out("start /slow?ms=1500&exit=3", STARTUP);
    let sent = shim.signal(libc::SIGTERM);
    let done = shim.expect_exit(3, EXIT);
    // The lower bound leaves this test 1 s to see "start" and signal.
    let bounds = ms(500)..=ms(1500) + PROMPT;
    shim.assert_took("TERM -> shim exit", sent, done, bounds);
    assert!(
        shim.out.first("got TERM").is_none(),
        "child was signalled\n{}",
        shim
    );
    drop(request);
}

#[test]
fn d5_second_signal_during_shutdown_kills_at_once() {
    for (second, name) in [(libc::SIGTERM, "TERM"), (libc::SIGINT, "INT")] {
        // SHUTDOWN_TIMEOUT=30s: without the second signal, the SIGKILL would come 30 s on.
        let spec = run_fixture("term-log.py", &[]).env("SHUTDOWN_TIMEOUT", "30s");
        let shim = spec.spawn();
        shim.wait_out("ready", STARTUP);
        shim.signal(libc::SIGTERM);
        shim.wait_out("got TERM", EXIT);
        let sent = shim.signal(second);
        let done = shim.expect_exit(137, EXIT);
        let what = format!("second signal {name} -> exit");
        shim.assert_took(&what, sent, done, ..=PROMPT);
    }
}

#[test]
fn d6_plain_worker_in_the_group_gets_term() {
    let ready_sleep = fixture("pid1/ready-sleep.sh");
    let ready_sleep = ready_sleep.to_str().unwrap();
    // SHUTDOWN_TIMEOUT=20s: a worker left to the SIGKILL would take 20 s (and leave no marker).
    let spec = run_fixture("worker-and-exec.sh", &[ready_sleep]).env("SHUTDOWN_TIMEOUT", "20s");
    let shim = spec.spawn();
    shim.wait_out("ready", STARTUP);
    shim.wait_out("worker ready", STARTUP);
    let sent = shim.signal(libc::SIGTERM);
    let marker = shim.wait_out("worker got TERM", EXIT);
    let done = shim.expect_exit(143, EXIT);
    shim.assert_took("TERM -> worker TERM", sent, marker, ..=PROMPT);
    shim.assert_took("TERM -> shim exit", sent, done, ..=PROMPT + SEC);
}

#[test]
fn d6_proxy_worker_in_the_group_gets_term_before_sigkill() {
    let spec = proxy_fixture(&["worker-and-exec.sh", "http-slow.py"], "16s");
    let shim = spec.spawn();
    let _port = shim.wait_ready();
    shim.wait_out("worker ready", STARTUP);
    let sent = shim.signal(libc::SIGTERM);
    let marker = shim.wait_out("worker got TERM", EXIT);
    let done = shim.expect_exit(0, EXIT);
    // SHUTDOWN_TIMEOUT=16s: the SIGKILL phase starts 16 s after TERM.
    shim.assert_took("TERM -> worker TERM", sent, marker, ..=PROMPT + SEC);
    shim.assert_took("TERM -> shim exit", sent, done, ..=PROMPT + 2 * SEC);
}

#[test]
fn d7_daemonized_orphan_gets_term_when_main_exits() {
    // The marker comes only from a TERM: an orphan left to the SIGKILL (2 s on) writes none.
    let shim = run_fixture("daemon-then-exit.sh", &[]).stdin().spawn();
    shim.wait_out("worker ready", STARTUP);
    let go = Instant::now();
    shim.send_stdin(b"go\n");
    let marker = shim.wait_out("worker got TERM", EXIT);
    let done = shim.expect_exit(0, EXIT);
    shim.assert_took("main exit -> orphan TERM", go, marker, ..=PROMPT + SEC);
    shim.assert_took("main exit -> shim exit", go, done, ..=PROMPT + 2 * SEC);
}

#[test]
fn d7_orphan_ignoring_term_is_killed_after_grace() {
    // SHUTDOWN_TIMEOUT=2s: grace = 1 s.
    let spec = run_fixture("daemon-then-exit.sh", &["ignore"]).env("SHUTDOWN_TIMEOUT", "2s");
    let shim = spec.stdin().spawn();
    shim.wait_out("worker ready", STARTUP);
    let go = Instant::now();
    shim.send_stdin(b"go\n");
    let done = shim.expect_exit(0, EXIT);
    shim.assert_took("main exit -> shim exit", go, done, ms(800)..=SEC + PROMPT);
}
