//! E. Robustness and footprint: stopped children, idle wake-ups, a static binary in an empty
//! root, and logging into a closed or full stderr.

use std::process::Command;

use super::*;

#[test]
fn e1_stopped_child_is_not_an_exit() {
    let script = "echo ready; read line; echo \"got $line\"; exit 7";
    let shim = ns(&["--", "sh", "-c", script]).stdin().spawn();
    shim.wait_out("ready", STARTUP);
    let me = shim.host_pid();
    let child = descendants(me).iter().find(|p| p.ppid == me).map(|p| p.pid);
    let child = child.unwrap_or_else(|| panic!("no child\n{}", shim));
    unsafe { libc::kill(child, libc::SIGSTOP) };
    let stopped = wait_for(EXIT, || proc_stat(child).filter(|p| p.state == 'T'));
    let stopped = stopped.is_some();
    assert!(stopped, "child {child} never stopped\n{}", shim);
    shim.send_stdin(b"go\n");
    // The stop raised SIGCHLD: a shim that took it for an exit would be gone by now.
    let early = shim.exit_within(ms(500));
    assert!(early.is_none(), "exited on a stop: {early:?}\n{}", shim);
    unsafe { libc::kill(child, libc::SIGCONT) };
    shim.wait_out("got go", EXIT);
    shim.expect_exit(7, EXIT);
}

/// Both idle for 5 s after start-up has settled. Plain init has nothing to wake it; proxy mode
/// has its 10 s housekeeping tick at most once in the window. "Settled" is observed, not
/// assumed: on a loaded machine the shim may still be finishing its start (or closing the
/// readiness probe's connection) when the child's `ready` or the 200 arrives, so the window
/// opens only once a second has passed with no tick and no wake-up.
#[test]
fn e2_idle_shim_does_not_wake_up() {
    let init = run_fixture("ready-sleep.sh", &[]).spawn();
    init.wait_out("ready", STARTUP);
    let proxy = proxy_fixture(&["http-slow.py"], "4s").spawn();
    proxy.wait_ready();
    let pids = [init.host_pid(), proxy.host_pid()];
    let sample = || pids.map(|p| (cpu_ticks(p).expect("stat"), context_switches(p)));
    let settled = wait_for(STARTUP, || {
        let first = sample();
        thread::sleep(SEC);
        let second = sample();
        (first == second).then_some(second)
    });
    let before = settled.unwrap_or_else(|| panic!("never idle for 1 s\n{init}\n{proxy}"));
    thread::sleep(5 * SEC); // the measurement window, not a wait for a condition
    let after = sample();
    for ((name, (t0, w0)), (t1, w1)) in [("init", before[0]), ("proxy", before[1])]
        .into_iter()
        .zip(after)
    {
        eprintln!(
            "e2 {name}: {} ticks, {} context switches in 5 s",
            t1 - t0,
            w1 - w0
        );
        assert!(t1 - t0 <= 2, "{name}: {} clock ticks idle", t1 - t0);
        let bound = if name == "init" { 1 } else { 3 };
        assert!(w1 - w0 <= bound, "{name}: {} wake-ups idle", w1 - w0);
    }
    init.signal(libc::SIGTERM);
    proxy.signal(libc::SIGTERM);
    init.expect_exit(143, EXIT);
    proxy.expect_exit(0, EXIT);
}

const STATIC_FIXTURE: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    printf("static fixture: pid %d\n", (int)getpid());
    return argc > 1 ? atoi(argv[1]) : 0;
}
"#;

#[test]
fn e3_static_binary_runs_in_a_root_holding_only_itself_and_a_static_fixture() {
    let file = Command::new("file")
        .args(["-L", SHIM])
        .output()
        .expect("run file");
    let file = String::from_utf8_lossy(&file.stdout).into_owned();
    assert!(
        file.contains("static-pie linked") || file.contains("statically linked"),
        "not static: {file}"
    );
    let root = tempfile::tempdir().unwrap();
    let source = root.path().join("fixture.c");
    std::fs::write(&source, STATIC_FIXTURE).unwrap();
    let fixture_bin = root.path().join("static-fixture");
    let gcc = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .args([&fixture_bin, &source])
        .output()
        .expect("run gcc");
    assert!(gcc.status.success(), "gcc: {gcc:?}");
    std::fs::remove_file(&source).unwrap();
    std::fs::copy(SHIM, root.path().join("fnshim")).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["fnshim", "static-fixture"]);
    let shim = ns(&["--", "/static-fixture", "7"])
        .root(root.path())
        .spawn();
    shim.expect_exit(7, EXIT);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    let said = shim.out.lines();
    assert!(
        said.len() == 1 && said[0].starts_with("static fixture: pid "),
        "\n{}",
        shim
    );
}

/// With fd 2 closed, std opens /dev/null in its place before `main`. With stderr a pipe nobody
/// reads, the debug line logged for each of 3,000 reaped orphans fills it: fnshim must drop
/// lines rather than block (a blocked write would stall the reaper, so the command's exit would
/// never be seen).
#[test]
fn e4_closed_or_full_stderr_neither_crashes_nor_hangs() {
    let closing = ["sh", "-c", "exec \"$0\" \"$@\" 2>&-"];
    let shim = ns(&["--", "sh", "-c", "echo to-stderr >&2; exit 9"])
        .wrap(&closing)
        .env("LOG_LEVEL", "debug")
        .spawn();
    shim.expect_exit(9, EXIT);
    shim.err.wait_eof(Instant::now() + 2 * SEC);
    assert_eq!(shim.err.text(), "", "stderr was not closed\n{}", shim);

    let churn = "i=0; while [ $i -lt 3000 ]; do (true &); i=$((i+1)); done; echo done; exit 5";
    // 9,000 forks of sh: minutes on a loaded machine, so a watchdog of its own.
    let shim = (fnshim().pid1().watchdog(5 * 60 * SEC))
        .args(["--", "sh", "-c", churn])
        .env("LOG_LEVEL", "debug")
        .env("LOG_FORMAT", "json")
        .stderr_unread()
        .spawn();
    shim.wait_out("done", 4 * 60 * SEC);
    shim.expect_exit(5, EXIT);
}
