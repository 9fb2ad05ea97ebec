//! D. Drain and shutdown: in-flight requests, budgets, SIGKILL escalation, workers and orphans.

use super::*;

#[test]
fn d1_drain_lets_in_flight_request_finish_then_terms_child() {
    let shim = proxy_fixture(&["http-slow.py"], "8s").spawn();
    let port = shim.wait_ready();
    let request = get_in_background(port, "/slow?ms=2000");
    shim.wait_out("start /slow?ms=2000", 5 * SEC);
    let sent = shim.signal(libc::SIGTERM);
    let refused = wait_refused(port, SEC);
    assert!(
        refused,
        "new connections still accepted 1 s after TERM\n{}",
        shim
    );
    let (response, answered) = request.join().unwrap();
    match &response {
        Ok(r) if r.status == 200 && r.text() == "done\n" => {}
        Ok(r) => panic!("in-flight request answered{r}{shim}"),
        Err(e) => panic!("in-flight request: {e}\n{shim}"),
    }
    shim.assert_took("TERM -> response", sent, answered, ms(1000)..=3 * SEC);
    let done = shim.expect_exit(0, 8 * SEC);
    shim.assert_took("response -> shim exit", answered, done, ..=ms(1500));
    let lines = shim.out.lines();
    let end = lines.iter().position(|l| l == "end /slow?ms=2000");
    let term = lines.iter().position(|l| l == "got TERM");
    assert!(
        end.is_some() && end < term,
        "child got TERM before the response\n{}",
        shim
    );
}

#[test]
fn d2_drain_stops_at_its_budget() {
    // SHUTDOWN_TIMEOUT=2s: grace 1 s, so the drain budget is 1 s.
    let shim = proxy_fixture(&["http-slow.py"], "2s").spawn();
    let port = shim.wait_ready();
    let request = get_in_background(port, "/slow?ms=6000");
    shim.wait_out("start /slow?ms=6000", 5 * SEC);
    let sent = shim.signal(libc::SIGTERM);
    let child_termed = shim.wait_out("got TERM", 4 * SEC);
    shim.assert_took("TERM -> child TERM", sent, child_termed, ms(700)..=ms(1800));
    let done = shim.expect_exit(0, 4 * SEC);
    shim.assert_took("TERM -> shim exit", sent, done, ..=ms(2500));
    let (response, _) = request.join().unwrap();
    if let Ok(r) = &response {
        assert!(r.status >= 500, "cut-off request got{r}{}", shim);
    }
}

#[test]
fn d3_plain_child_ignoring_term_is_killed_after_shutdown_timeout() {
    let spec = run_fixture("term-ignore.sh", &[]).env("SHUTDOWN_TIMEOUT", "2s");
    let shim = spec.spawn();
    shim.wait_out("ready", 10 * SEC);
    let sent = shim.signal(libc::SIGTERM);
    let done = shim.expect_exit(137, 6 * SEC);
    shim.assert_took("TERM -> SIGKILL exit", sent, done, ms(1800)..=ms(3500));
}

#[test]
fn d3_proxy_child_ignoring_term_is_killed_at_shutdown_timeout() {
    let spec = proxy_fixture(&["http-slow.py"], "2s").env("ON_TERM", "log");
    let shim = spec.spawn();
    let _port = shim.wait_ready();
    let sent = shim.signal(libc::SIGTERM);
    shim.wait_out("got TERM", 3 * SEC);
    let done = shim.expect_exit(137, 6 * SEC);
    shim.assert_took("TERM -> SIGKILL exit", sent, done, ms(1800)..=ms(3500));
}

#[test]
fn d4_child_crash_during_drain_ends_the_shim_promptly() {
    let shim = proxy_fixture(&["http-slow.py"], "8s").spawn();
    let port = shim.wait_ready();
    let request = get_in_background(port, "/slow?ms=500&exit=3");
    shim.wait_out("start /slow?ms=500&exit=3", 5 * SEC);
    let sent = shim.signal(libc::SIGTERM);
    let done = shim.expect_exit(3, 8 * SEC);
    shim.assert_took("TERM -> shim exit", sent, done, ms(300)..=ms(2500));
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
        let spec = run_fixture("term-log.py", &[]).env("SHUTDOWN_TIMEOUT", "10s");
        let shim = spec.spawn();
        shim.wait_out("ready", 10 * SEC);
        shim.signal(libc::SIGTERM);
        shim.wait_out("got TERM", 3 * SEC);
        let sent = shim.signal(second);
        let done = shim.expect_exit(137, 4 * SEC);
        let what = format!("second signal {name} -> exit");
        shim.assert_took(&what, sent, done, ..=SEC);
    }
}

#[test]
fn d6_plain_worker_in_the_group_gets_term() {
    let ready_sleep = fixture("pid1/ready-sleep.sh");
    let ready_sleep = ready_sleep.to_str().unwrap();
    let shim = run_fixture("worker-and-exec.sh", &[ready_sleep]).spawn();
    shim.wait_out("ready", 10 * SEC);
    shim.wait_out("worker ready", 10 * SEC);
    let sent = shim.signal(libc::SIGTERM);
    let marker = shim.wait_out("worker got TERM", 3 * SEC);
    let done = shim.expect_exit(143, 4 * SEC);
    shim.assert_took("TERM -> worker TERM", sent, marker, ..=SEC);
    shim.assert_took("TERM -> shim exit", sent, done, ..=2 * SEC);
}

#[test]
fn d6_proxy_worker_in_the_group_gets_term_before_sigkill() {
    let spec = proxy_fixture(&["worker-and-exec.sh", "http-slow.py"], "4s");
    let shim = spec.spawn();
    let _port = shim.wait_ready();
    shim.wait_out("worker ready", 10 * SEC);
    let sent = shim.signal(libc::SIGTERM);
    let marker = shim.wait_out("worker got TERM", 5 * SEC);
    let done = shim.expect_exit(0, 6 * SEC);
    // SHUTDOWN_TIMEOUT=4s: the SIGKILL phase starts 4 s after TERM.
    shim.assert_took("TERM -> worker TERM", sent, marker, ..=ms(3500));
    shim.assert_took("TERM -> shim exit", sent, done, ..=ms(3800));
}

#[test]
fn d7_daemonized_orphan_gets_term_when_main_exits() {
    let shim = run_fixture("daemon-then-exit.sh", &[]).stdin().spawn();
    shim.wait_out("worker ready", 10 * SEC);
    let go = Instant::now();
    shim.send_stdin(b"go\n");
    let marker = shim.wait_out("worker got TERM", 4 * SEC);
    let done = shim.expect_exit(0, 5 * SEC);
    shim.assert_took("main exit -> orphan TERM", go, marker, ..=2 * SEC);
    shim.assert_took("main exit -> shim exit", go, done, ..=3 * SEC);
}

#[test]
fn d7_orphan_ignoring_term_is_killed_after_grace() {
    // SHUTDOWN_TIMEOUT=2s: grace = 1 s.
    let spec = run_fixture("daemon-then-exit.sh", &["ignore"]).env("SHUTDOWN_TIMEOUT", "2s");
    let shim = spec.stdin().spawn();
    shim.wait_out("worker ready", 10 * SEC);
    let go = Instant::now();
    shim.send_stdin(b"go\n");
    let done = shim.expect_exit(0, 5 * SEC);
    shim.assert_took("main exit -> shim exit", go, done, ms(800)..=ms(2500));
}
