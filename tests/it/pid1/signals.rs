//! B. Signals as PID 1: from the host and from inside, forwarding, process groups, subreaper.

use super::*;

#[test]
fn b1_host_sigterm_gives_143_quickly() {
    let shim = run_fixture("ready-sleep.sh", &[]).spawn();
    shim.wait_out("ready", STARTUP);
    let sent = shim.signal(libc::SIGTERM);
    let done = shim.expect_exit(143, EXIT);
    shim.assert_took("TERM -> exit", sent, done, ..=PROMPT);
}

#[test]
fn b2_term_handler_exiting_0_gives_0() {
    let shim = run_fixture("term-exit0.py", &[]).spawn();
    shim.wait_out("ready", STARTUP);
    let sent = shim.signal(libc::SIGTERM);
    let done = shim.expect_exit(0, EXIT);
    shim.assert_took("TERM -> exit", sent, done, ..=PROMPT);
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
    let shim = run_fixture("echo-signals.py", &[]).spawn();
    shim.wait_out("ready", STARTUP);
    for (name, sig) in forwarded {
        shim.signal(sig);
        shim.wait_out(name, EXIT);
    }
    shim.signal(libc::SIGTERM);
    shim.expect_exit(0, EXIT);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    let mut expected = vec!["ready"];
    expected.extend(forwarded.iter().map(|(name, _)| *name));
    expected.push("TERM");
    assert_eq!(
        shim.out.lines(),
        expected,
        "signals seen by the child\n{}",
        shim
    );
}

#[test]
fn b4_sigterm_from_inside_the_namespace() {
    let shim = run_fixture("ready-sleep.sh", &[]).spawn();
    shim.wait_out("ready", STARTUP);
    let sent = Instant::now();
    shim.nsenter_kill_1("-TERM");
    let done = shim.expect_exit(143, EXIT);
    shim.assert_took("TERM -> exit", sent, done, ..=PROMPT);
}

#[test]
fn b6_sigint_reaches_the_whole_process_group() {
    // sh defers its INT until `sleep` ends: a shim that signalled sh alone would take 30 s.
    let shim = ns(&["--", "sh", "-c", "echo ready; sleep 30; echo after"]).spawn();
    shim.wait_out("ready", STARTUP);
    let sent = shim.signal(libc::SIGINT);
    let done = shim.expect_exit(130, EXIT);
    shim.assert_took("INT -> exit", sent, done, ..=PROMPT);
    assert!(
        !shim.out.text().contains("after"),
        "sh outlived INT\n{}",
        shim
    );
}

/// The orphans live until the test has seen them adopted (a `sleep 2` could be gone by then on a
/// loaded machine), then the test kills them and they must be reaped.
#[test]
fn b7_not_pid1_subreaper_adopts_and_reaps_orphans() {
    let script =
        "for i in 1 2 3 4 5; do (sleep 60 & echo orphan $!); done; echo ready; exec sleep 120";
    let shim = (fnshim().watchdog(WATCHDOG))
        .args(["--", "sh", "-c", script])
        .spawn();
    shim.wait_out("ready", STARTUP);
    let me = shim.host_pid();
    let orphans: Vec<i32> = (shim.out.lines().iter())
        .filter_map(|l| l.strip_prefix("orphan ")?.parse().ok())
        .collect();
    assert_eq!(orphans.len(), 5, "orphan pids\n{}", shim);
    for &pid in &orphans {
        let ppid = proc_stat(pid).map(|p| p.ppid);
        assert_eq!(
            ppid,
            Some(me),
            "orphan {pid} not adopted by the shim {me}\n{}",
            shim
        );
    }
    for &pid in &orphans {
        // SAFETY: kill(2) on a `sleep` this test's shim adopted (its ppid was just checked).
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    // A zombie keeps its ppid: an orphan is gone only once the shim has reaped it.
    let adopted = |pid: i32| proc_stat(pid).is_some_and(|p| p.ppid == me);
    let gone = wait_for(EXIT, || {
        (!orphans.iter().any(|&p| adopted(p))).then_some(())
    });
    let gone = gone.is_some();
    let left: Vec<Option<Proc>> = orphans.iter().map(|&p| proc_stat(p)).collect();
    assert!(gone, "orphans not reaped: {left:?}\n{}", shim);
    shim.signal(libc::SIGTERM);
    shim.expect_exit(143, EXIT);
}

#[test]
fn b5_sigkill_to_the_shim_ends_the_whole_namespace() {
    let (worker, ready_sleep) = (fixture("pid1/worker.sh"), fixture("pid1/ready-sleep.sh"));
    let (worker, ready_sleep) = (worker.display(), ready_sleep.display());
    let script = format!("setsid {worker} ignore & {worker} & exec {ready_sleep}");
    let shim = ns(&["--", "sh", "-c", &script]).spawn();
    shim.wait_out("ready", STARTUP);
    let workers = || {
        (shim.out.lines().iter())
            .filter(|l| *l == "worker ready")
            .count()
    };
    assert!(
        wait_for(STARTUP, || (workers() == 2).then_some(())).is_some(),
        "\n{}",
        shim
    );
    let me = shim.host_pid();
    let mut pids: Vec<i32> = descendants(me).iter().map(|p| p.pid).collect();
    pids.push(me);
    assert!(pids.len() >= 4, "namespace: {pids:?}\n{}", shim);
    shim.signal(libc::SIGKILL);
    let gone = wait_for(PROMPT, || {
        pids.iter().all(|&p| proc_stat(p).is_none()).then_some(())
    });
    let gone = gone.is_some();
    let left: Vec<Proc> = pids.iter().filter_map(|&p| proc_stat(p)).collect();
    assert!(
        gone,
        "still there {PROMPT:?} after SIGKILL: {left:?}\n{}",
        shim
    );
    // unshare reports its child's SIGKILL in a version-dependent way: only its exit matters.
    assert!(shim.exit_within(EXIT).is_some(), "\n{}", shim);
}

/// Startup race, as the platform meets it: SIGTERM from the host the moment the shim's pid is
/// visible (a child of unshare, perhaps not even exec'd yet). A lost TERM leaves `sleep 60`
/// running: a trial counts as lost when the run has not ended 10 s later (a TERM that was
/// received ends it within milliseconds; the 10 s are for a loaded machine, where a slow exit
/// must not pass for a lost signal). Always 150 trials, however long they take.
///
/// Until fnshim's `main` has blocked TERM (its first act) no init can keep a TERM: the kernel
/// drops a signal to a namespace's init whose disposition is the default, and that is the state
/// of unshare's child before the exec and of fnshim between the exec and `main`. How often a
/// trial falls in that window depends on the machine's load (measured here: 5 of 150 lost with
/// three busy loops on two cores; the README's 0/150 is an idle machine). So the trials are
/// told apart by what the process table showed just before the kill:
/// - fnshim exec'd and TERM already in its SigBlk: the TERM must never be lost (none allowed);
///   this is fnshim's guarantee, whatever the load.
/// - earlier: the window. Reference (idle machine): tini 4/150, dumb-init 7/150, catatonit
///   0/150. The whole count is bounded at 10%, well above those rates on a loaded machine and
///   well below what an init that blocked late in start-up would lose.
#[test]
fn b8_sigterm_right_after_start_is_not_lost() {
    const TRIALS: usize = 150;
    let (mut lost_blocked, mut lost_window, mut blocked) = (Vec::new(), Vec::new(), 0);
    for trial in 0..TRIALS {
        let shim = ns(&["--", "sleep", "60"]).spawn();
        let was_blocked = term_blocked_in_fnshim(shim.host_pid());
        shim.signal(libc::SIGTERM);
        blocked += usize::from(was_blocked);
        match shim.exit_within(10 * SEC) {
            Some((status, _)) => assert_eq!(status.code(), Some(143), "\n{}", shim),
            None if was_blocked => lost_blocked.push(trial),
            None => lost_window.push(trial),
        }
        let lost = lost_blocked.len() + lost_window.len();
        assert!(
            lost_blocked.is_empty() && lost * 10 <= TRIALS,
            "lost TERM once fnshim had blocked it in trials {lost_blocked:?}, before in \
             {lost_window:?} (of {}; tini: 4/150 idle)",
            trial + 1
        );
    }
    eprintln!(
        "b8: {blocked} of {TRIALS} TERMs came after fnshim blocked TERM, none lost; \
         {} lost of the {} that came before",
        lost_window.len(),
        TRIALS - blocked
    );
}

/// Whether `pid` runs fnshim (the exec is done) and has TERM in its blocked mask.
fn term_blocked_in_fnshim(pid: i32) -> bool {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    if exe.is_none() || exe != std::fs::canonicalize(SHIM).ok() {
        return false;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let blk = status.lines().find_map(|l| l.strip_prefix("SigBlk:"));
    let blk = blk.and_then(|v| u64::from_str_radix(v.trim(), 16).ok());
    blk.is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

#[test]
fn b9_burst_of_1000_usr1_shim_survives_and_stops_on_term() {
    let shim = run_fixture("echo-signals.py", &[]).spawn();
    shim.wait_out("ready", STARTUP);
    for _ in 0..1000 {
        shim.signal(libc::SIGUSR1); // asserts that the shim is still there to receive it
    }
    shim.wait_out("USR1", EXIT);
    shim.signal(libc::SIGTERM);
    shim.expect_exit(0, EXIT);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    let got = (shim.out.lines().iter()).filter(|l| *l == "USR1").count();
    assert!((1..=1000).contains(&got), "USR1 seen {got} times\n{}", shim);
    assert_eq!(shim.out.lines().last().map(String::as_str), Some("TERM"));
}
