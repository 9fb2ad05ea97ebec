//! B. Signals as PID 1: from the host and from inside, forwarding, process groups, subreaper.

use super::*;

#[test]
fn b1_host_sigterm_gives_143_quickly() {
    let mut shim = run_fixture("ready-sleep.sh", &[]).spawn();
    shim.wait_out("ready", 10 * SEC);
    let sent = shim.signal(libc::SIGTERM);
    let done = shim.expect_exit(143, 3 * SEC);
    assert_took(&shim, "TERM -> exit", sent, done, ..=SEC);
}

#[test]
fn b2_term_handler_exiting_0_gives_0() {
    let mut shim = run_fixture("term-exit0.py", &[]).spawn();
    shim.wait_out("ready", 10 * SEC);
    let sent = shim.signal(libc::SIGTERM);
    let done = shim.expect_exit(0, 3 * SEC);
    assert_took(&shim, "TERM -> exit", sent, done, ..=SEC);
}

#[test]
fn b3_forwards_each_signal_exactly_once_in_order() {
    let forwarded = [
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("WINCH", libc::SIGWINCH),
        ("CONT", libc::SIGCONT),
    ];
    let mut shim = run_fixture("echo-signals.py", &[]).spawn();
    shim.wait_out("ready", 10 * SEC);
    for (name, sig) in forwarded {
        shim.signal(sig);
        shim.wait_out(name, 2 * SEC);
    }
    shim.signal(libc::SIGTERM);
    shim.expect_exit(0, 3 * SEC);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    let mut expected = vec!["ready"];
    expected.extend(forwarded.iter().map(|(name, _)| *name));
    expected.push("TERM");
    assert_eq!(
        shim.out.lines(),
        expected,
        "signals seen by the child\n{}",
        shim.report()
    );
}

#[test]
fn b4_sigterm_from_inside_the_namespace() {
    let mut shim = run_fixture("ready-sleep.sh", &[]).spawn();
    shim.wait_out("ready", 10 * SEC);
    let sent = Instant::now();
    shim.nsenter_kill_1("-TERM");
    let done = shim.expect_exit(143, 3 * SEC);
    assert_took(&shim, "TERM -> exit", sent, done, ..=SEC);
}

#[test]
fn b6_sigint_reaches_the_whole_process_group() {
    let mut shim = ns(&["--", "sh", "-c", "echo ready; sleep 5; echo after"]).spawn();
    shim.wait_out("ready", 10 * SEC);
    let sent = shim.signal(libc::SIGINT);
    let done = shim.expect_exit(130, 4 * SEC);
    assert_took(&shim, "INT -> exit", sent, done, ..=SEC);
    assert!(
        !shim.out.text().contains("after"),
        "sh outlived INT\n{}",
        shim.report()
    );
}

#[test]
fn b7_not_pid1_subreaper_adopts_and_reaps_orphans() {
    let script =
        "for i in 1 2 3 4 5; do (sleep 2 & echo orphan $!); done; echo ready; exec sleep 30";
    let mut shim = Spec::bare(&["--", "sh", "-c", script]).spawn();
    shim.wait_out("ready", 10 * SEC);
    let me = shim.host_pid();
    let orphans: Vec<i32> = (shim.out.lines().iter())
        .filter_map(|l| l.strip_prefix("orphan ")?.parse().ok())
        .collect();
    assert_eq!(orphans.len(), 5, "orphan pids\n{}", shim.report());
    for &pid in &orphans {
        let ppid = proc_stat(pid).map(|p| p.ppid);
        assert_eq!(
            ppid,
            Some(me),
            "orphan {pid} not adopted by the shim {me}\n{}",
            shim.report()
        );
    }
    let adopted = |pid: i32| proc_stat(pid).is_some_and(|p| p.ppid == me);
    let gone = poll_until(6 * SEC, || !orphans.iter().any(|&p| adopted(p)));
    let left: Vec<Option<Proc>> = orphans.iter().map(|&p| proc_stat(p)).collect();
    assert!(gone, "orphans not reaped: {left:?}\n{}", shim.report());
    shim.signal(libc::SIGTERM);
    shim.expect_exit(143, 3 * SEC);
}
