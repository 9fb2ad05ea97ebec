//! C. Reaping: orphans, orphan storms at exit, orphans left when the main child exits.

use super::*;

/// The 20 orphans live until the test has seen them all adopted (the subshell that started them
/// has exited before `ready`; a `sleep 1` could be gone by the time a loaded machine looks),
/// then the test kills them and no zombie may be left.
#[test]
fn c1_twenty_orphans_leave_no_zombies() {
    let script = "(for i in $(seq 20); do sleep 61 & done); echo ready; exec sleep 120";
    let shim = ns(&["--", "sh", "-c", script]).spawn();
    shim.wait_out("ready", STARTUP);
    let me = shim.host_pid();
    let is_orphan = |p: &Proc| p.cmdline == ["sleep", "61"];
    let adopted: Vec<i32> = (descendants(me).iter())
        .filter(|p| is_orphan(p) && p.ppid == me)
        .map(|p| p.pid)
        .collect();
    assert_eq!(
        adopted.len(),
        20,
        "orphans adopted by the shim: {:?}\n{}",
        descendants(me),
        shim
    );
    for &pid in &adopted {
        // SAFETY: kill(2) on a `sleep` this test's shim adopted (its ppid was just checked).
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let left = || {
        descendants(me)
            .into_iter()
            .find(|p| is_orphan(p) || p.state == 'Z')
    };
    let clean = wait_for(EXIT, || left().is_none().then_some(())).is_some();
    assert!(
        clean,
        "orphans or zombies left: {:?}\n{}",
        descendants(me),
        shim
    );
    shim.signal(libc::SIGTERM);
    shim.expect_exit(143, EXIT);
}

#[test]
fn c2_orphan_storm_at_main_exit_repeated() {
    for round in 0..20 {
        let code = 7 + round;
        let shim = run_fixture("orphan-storm.py", &["200", &code.to_string()]).spawn();
        let ready = shim.wait_out("ready", STARTUP);
        let done = shim.expect_exit(code, EXIT);
        let what = format!("round {round}: main exit -> shim exit");
        shim.assert_took(&what, ready, done, ..=PROMPT);
    }
}

#[test]
fn c3_main_exits_127_while_orphans_alive() {
    let script = "(sleep 30 &); (trap '' TERM; sleep 30 &); echo ready; exit 127";
    let shim = ns(&["--", "sh", "-c", script])
        .env("SHUTDOWN_TIMEOUT", "2s")
        .spawn();
    let ready = shim.wait_out("ready", STARTUP);
    // The grace (1 s) for the orphan that ignores TERM, then SIGKILL: not the orphans' 30 s.
    let done = shim.expect_exit(127, EXIT);
    shim.assert_took("main exit -> shim exit", ready, done, ..=SEC + PROMPT);
}

/// 10,000 short orphans one after another (about 5 s on an idle machine): at the end only the
/// main process is left (no zombie, no orphan), and fnshim's RSS grew by less than 2 MiB
/// between the first thousand and the end: a leak check, not a timing. On a loaded machine the
/// churn (30,000 forks of sh) takes minutes, so the run has a watchdog of its own and each
/// thousand orphans, not the whole, has a deadline: a stall fails, slowness does not.
#[test]
fn c4_ten_thousand_orphans_leave_no_zombie_and_no_growth() {
    let churn = fixture("pid1/orphan-churn.sh");
    let shim = (fnshim().pid1().watchdog(10 * 60 * SEC))
        .args(["--", churn.to_str().unwrap(), "10000"])
        .spawn();
    shim.wait_out("progress 1000", 60 * SEC);
    let me = shim.host_pid();
    let rss = || status_field(me, "VmRSS").expect("VmRSS");
    let early = rss();
    for k in (2000..=10_000).step_by(1000) {
        shim.wait_out(&format!("progress {k}"), 60 * SEC);
    }
    shim.wait_out("done", 60 * SEC);
    let only_main = || {
        let left = descendants(me);
        left.len() == 1 && left[0].cmdline == ["sleep", "60"]
    };
    let clean = wait_for(20 * SEC, || only_main().then_some(())).is_some();
    assert!(clean, "left: {:?}\n{}", descendants(me), shim);
    let end = rss();
    eprintln!("c4: VmRSS {early} kB after 1000 orphans, {end} kB after 10000");
    assert!(
        end < early + 2048,
        "VmRSS grew from {early} kB to {end} kB\n{}",
        shim
    );
    shim.signal(libc::SIGTERM);
    shim.expect_exit(143, EXIT);
}

/// fnshim's only internal helpers are the install and build steps (`src/install/`), each a
/// child of the one reaper. An f.yml of 3 Node functions sharing a package.json, with
/// INSTALL_DEPS=always and a fake `npm` on PATH whose every call leaves 20 orphans that exit
/// while fnshim is still busy. The install runs once for the folder, not once per function.
/// 200 starts (4 known exit codes × 50) must each report that call's own code (exit 69,
/// `failed (exit code N)`), never an ECHILD or a status given to the wrong process; one more
/// start whose npm succeeds must serve and stop cleanly.
#[test]
fn c5_install_steps_get_their_own_codes_while_orphans_churn() {
    const FUNCTIONS: usize = 3;
    const STARTS_PER_CODE: usize = 50;
    let (function, _bin, path) = node_functions_with_fake_npm(FUNCTIONS);
    let cache = tempfile::tempdir().unwrap();
    let calls = function.path().join("npm-calls");
    let start = |fail_at: usize, code: i32| {
        let _ = std::fs::remove_file(&calls);
        ns(&[])
            .env("FUNCTION_PATH", function.path().to_str().unwrap())
            .env("CACHE_DIR", cache.path().to_str().unwrap())
            .env("PATH", &path)
            .env("PORT", "0")
            .env("INSTALL_DEPS", "always")
            .env("FAKE_NPM_FAIL_AT", &fail_at.to_string())
            .env("FAKE_NPM_CODE", &code.to_string())
            .spawn()
    };
    let npm_calls = || {
        std::fs::read_to_string(&calls)
            .unwrap_or_default()
            .lines()
            .count()
    };
    for code in [3, 42, 200, 255] {
        for _ in 0..STARTS_PER_CODE {
            let shim = start(1, code);
            shim.expect_exit(69, EXIT);
            shim.err.wait_eof(Instant::now() + 2 * SEC);
            let err = shim.err.text();
            assert_eq!(npm_calls(), 1, "npm calls\n{}", shim);
            let failed = format!("failed (exit code {code})");
            assert!(err.contains(&failed), "no {failed:?}\n{}", shim);
            assert!(
                !err.contains("No child processes") && !err.contains("os error 10"),
                "ECHILD\n{}",
                shim
            );
        }
    }
    let served = start(0, 0);
    let ready = served.err.find(
        |l| l.contains("first worker ready"),
        Instant::now() + 30 * SEC,
    );
    assert!(ready.is_some(), "never ready\n{}", served);
    assert_eq!(
        npm_calls(),
        1,
        "one install for {FUNCTIONS} functions\n{}",
        served
    );
    served.signal(libc::SIGTERM);
    served.expect_exit(0, EXIT);
    let ready = served.err.text().matches("dependencies ready").count();
    assert_eq!(ready, 1, "successful steps\n{}", served);
}

/// A folder of `count` Node functions (an f.yml) sharing one package.json, and a PATH whose
/// `npm` is `fake-npm.sh` (the returned directory holds it).
fn node_functions_with_fake_npm(count: usize) -> (Function, tempfile::TempDir, String) {
    let function = Function::empty();
    let mut fyml = String::from("service: churn\nfunctions:\n");
    for n in 1..=count {
        fyml.push_str(&format!("  f{n}:\n    handler: index.handler\n"));
    }
    function.write("f.yml", &fyml, 0o644);
    function.write("index.js", "exports.handler = async () => 1;\n", 0o644);
    let package = "{\"name\":\"churn\",\"version\":\"1.0.0\"}\n";
    function.write("package.json", package, 0o644);
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(fixture("pid1/fake-npm.sh"), bin.path().join("npm")).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    (function, bin, path)
}
