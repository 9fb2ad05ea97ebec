//! C. Reaping: orphans, orphan storms at exit, orphans left when the main child exits.

use super::*;

#[test]
fn c1_twenty_orphans_leave_no_zombies() {
    let script = "(for i in $(seq 20); do sleep 1 & done); echo ready; exec sleep 30";
    let mut shim = ns(&["--", "sh", "-c", script]).spawn();
    shim.wait_out("ready", 10 * SEC);
    let me = shim.host_pid();
    let is_orphan = |p: &Proc| p.cmdline == ["sleep", "1"];
    let adopted = descendants(me)
        .iter()
        .filter(|p| is_orphan(p) && p.ppid == me)
        .count();
    assert!(
        adopted > 0,
        "no orphan adopted by the shim: {:?}\n{}",
        descendants(me),
        shim.report()
    );
    let clean = poll_until(5 * SEC, || {
        !descendants(me)
            .iter()
            .any(|p| is_orphan(p) || p.state == 'Z')
    });
    assert!(
        clean,
        "orphans or zombies left: {:?}\n{}",
        descendants(me),
        shim.report()
    );
    shim.signal(libc::SIGTERM);
    shim.expect_exit(143, 3 * SEC);
}

#[test]
fn c2_orphan_storm_at_main_exit_repeated() {
    for round in 0..20 {
        let code = 7 + round;
        let mut shim = run_fixture("orphan-storm.py", &["200", &code.to_string()]).spawn();
        let ready = shim.wait_out("ready", 10 * SEC);
        let done = shim.expect_exit(code, 5 * SEC);
        let what = format!("round {round}: main exit -> shim exit");
        assert_took(&shim, &what, ready, done, ..=SEC);
    }
}

#[test]
fn c3_main_exits_127_while_orphans_alive() {
    let script = "(sleep 30 &); (trap '' TERM; sleep 30 &); echo ready; exit 127";
    let mut shim = ns(&["--", "sh", "-c", script])
        .env("SHUTDOWN_TIMEOUT", "2s")
        .spawn();
    let ready = shim.wait_out("ready", 10 * SEC);
    let done = shim.expect_exit(127, 5 * SEC);
    assert_took(&shim, "main exit -> shim exit", ready, done, ..=3 * SEC);
}
