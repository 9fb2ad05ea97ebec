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

/// 10,000 short orphans one after another (about 5 s on an idle machine): at the end only the
/// main process is left (no zombie, no orphan), and fnshim's RSS grew by less than 2 MiB
/// between the first thousand and the end: a leak check, not a timing.
#[test]
fn c4_ten_thousand_orphans_leave_no_zombie_and_no_growth() {
    let mut shim = run_fixture("orphan-churn.sh", &["10000"]).spawn();
    shim.wait_out("progress 1000", 20 * SEC);
    let me = shim.host_pid();
    let rss = || status_field(me, "VmRSS").expect("VmRSS");
    let early = rss();
    shim.wait_out("done", 30 * SEC);
    let only_main = || {
        let left = descendants(me);
        left.len() == 1 && left[0].cmdline == ["sleep", "60"]
    };
    let clean = poll_until(5 * SEC, only_main);
    assert!(clean, "left: {:?}\n{}", descendants(me), shim.report());
    let end = rss();
    eprintln!("c4: VmRSS {early} kB after 1000 orphans, {end} kB after 10000");
    assert!(
        end < early + 2048,
        "VmRSS grew from {early} kB to {end} kB\n{}",
        shim.report()
    );
    shim.signal(libc::SIGTERM);
    shim.expect_exit(143, 3 * SEC);
}

/// fnshim's only internal helpers are the install and build steps (`src/install/`), each a
/// child of the one reaper. An f.yml of 50 Node functions sharing a package.json, with
/// INSTALL_DEPS=always and a fake `npm` on PATH: fnshim runs npm once per function, one after
/// the other, and every call leaves 20 orphans that exit while fnshim waits on the next call.
/// Calls 1–49 exit 0 and must each be taken as a success ("dependencies ready"); call 50 exits
/// with a known code, which fnshim must report (exit 69). Four rounds: 200 helpers, 4,000
/// orphans, and never an ECHILD or a status given to the wrong process.
#[test]
fn c5_install_steps_get_their_own_codes_while_orphans_churn() {
    const FUNCTIONS: usize = 50;
    let function = crate::support::Function::empty();
    let mut fyml = String::from("service: churn\nfunctions:\n");
    for n in 1..=FUNCTIONS {
        fyml.push_str(&format!("  f{n}:\n    handler: index.handler\n"));
    }
    function.write("f.yml", &fyml, 0o644);
    function.write("index.js", "exports.handler = async () => 1;\n", 0o644);
    function.write(
        "package.json",
        "{\"name\":\"churn\",\"version\":\"1.0.0\"}\n",
        0o644,
    );
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(fixture("fake-npm.sh"), bin.path().join("npm")).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let cache = tempfile::tempdir().unwrap();
    let calls = function.path().join("npm-calls");
    for code in [3, 42, 200, 255] {
        let _ = std::fs::remove_file(&calls);
        let mut shim = ns(&[])
            .env("FUNCTION_PATH", function.path().to_str().unwrap())
            .env("CACHE_DIR", cache.path().to_str().unwrap())
            .env("PATH", &path)
            .env("PORT", "0")
            .env("INSTALL_DEPS", "always")
            .env("FAKE_NPM_FAIL_AT", &FUNCTIONS.to_string())
            .env("FAKE_NPM_CODE", &code.to_string())
            .spawn();
        shim.expect_exit(69, 30 * SEC);
        shim.err.wait_eof(Instant::now() + 2 * SEC);
        let err = shim.err.text();
        let made = std::fs::read_to_string(&calls).unwrap_or_default();
        assert_eq!(
            made.lines().count(),
            FUNCTIONS,
            "npm calls\n{}",
            shim.report()
        );
        let ready = err.matches("dependencies ready").count();
        assert_eq!(ready, FUNCTIONS - 1, "successful steps\n{}", shim.report());
        let failed = format!("failed (exit code {code})");
        assert!(err.contains(&failed), "no {failed:?}\n{}", shim.report());
        assert!(
            !err.contains("No child processes") && !err.contains("os error 10"),
            "ECHILD\n{}",
            shim.report()
        );
    }
}
