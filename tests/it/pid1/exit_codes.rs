//! A. Exit codes and transparency: codes, signals, exec errors, usage, stdio, cwd/env/argv.

use super::*;

#[test]
fn a1_exit_codes_pass_through() {
    for code in [0, 1, 2, 42, 126, 127, 128, 254, 255] {
        let script = format!("exit {code}");
        let mut shim = ns(&["--", "sh", "-c", &script]).spawn();
        shim.expect_exit(code, 2 * SEC);
    }
}

#[test]
fn a2_child_killed_by_signal_gives_128_plus_n() {
    for (sig, code) in [
        ("USR1", 138),
        ("TERM", 143),
        ("KILL", 137),
        ("SEGV", 139),
        ("ABRT", 134),
    ] {
        let mut shim = run_fixture("self-kill.sh", &[sig]).spawn();
        shim.expect_exit(code, 2 * SEC);
    }
}

#[test]
fn a3_missing_command_127_directory_126_naming_the_path() {
    for (path, code) in [("/nonexistent", 127), ("/etc", 126)] {
        let mut shim = ns(&["--", path]).spawn();
        shim.expect_exit(code, 2 * SEC);
        shim.err.wait_eof(Instant::now() + 2 * SEC);
        assert!(
            shim.err.text().contains(path),
            "stderr does not name {path}\n{}",
            shim.report()
        );
    }
}

#[test]
fn a4_no_command_or_unknown_option_exits_64_with_message() {
    for (args, needle) in [(&[][..], ""), (&["--no-such-option"][..], "usage")] {
        let mut shim = ns(args).spawn();
        shim.expect_exit(64, 2 * SEC);
        shim.err.wait_eof(Instant::now() + 2 * SEC);
        let err = shim.err.text().to_lowercase();
        assert!(
            !err.trim().is_empty(),
            "no message on stderr\n{}",
            shim.report()
        );
        assert!(
            err.contains(needle),
            "stderr lacks {needle:?}\n{}",
            shim.report()
        );
    }
}

#[test]
fn a5_stdio_passes_straight_through() {
    let mut shim = ns(&["--", "sh"]).stdin().spawn();
    shim.send_stdin(b"echo to-out; echo to-err >&2; exit 7\n");
    shim.expect_exit(7, 2 * SEC);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    shim.err.wait_eof(Instant::now() + 2 * SEC);
    assert_eq!(shim.out.text(), "to-out\n", "stdout\n{}", shim.report());
    assert!(
        shim.err.text().contains("to-err\n"),
        "stderr\n{}",
        shim.report()
    );

    let input = "hello\nwörld ☃\nno newline at end";
    let mut shim = ns(&["--", "cat"]).stdin().spawn();
    shim.send_stdin(input.as_bytes());
    shim.expect_exit(0, 2 * SEC);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    assert_eq!(shim.out.text(), input, "cat output\n{}", shim.report());
}

#[test]
fn a6_child_sees_cwd_env_and_argv_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let argv = ["a b", "héllo ☃", "", "--", "-x"];
    let mut shim = run_fixture("dump-context.py", &argv)
        .env("FOO", "bar baz ☃")
        .cwd(dir.path())
        .spawn();
    shim.expect_exit(0, 5 * SEC);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    let seen: serde_json::Value = serde_json::from_str(shim.out.text().trim())
        .unwrap_or_else(|e| panic!("fixture output is not JSON: {e}\n{}", shim.report()));
    let cwd = dir.path().canonicalize().unwrap();
    let expected = serde_json::json!({
        "argv": argv, "cwd": cwd.to_str().unwrap(), "foo": "bar baz ☃", "port": null,
    });
    assert_eq!(seen, expected, "what the child saw\n{}", shim.report());
}
