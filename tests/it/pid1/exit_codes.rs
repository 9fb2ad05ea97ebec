//! A. Exit codes and transparency: codes, signals, exec errors, usage, stdio, cwd/env/argv.

use super::*;

#[test]
fn a1_exit_codes_pass_through() {
    for code in [0, 1, 2, 42, 126, 127, 128, 254, 255] {
        let script = format!("exit {code}");
        let shim = ns(&["--", "sh", "-c", &script]).spawn();
        shim.expect_exit(code, EXIT);
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
        let shim = run_fixture("self-kill.sh", &[sig]).spawn();
        shim.expect_exit(code, EXIT);
    }
}

#[test]
fn a3_missing_command_127_directory_126_naming_the_path() {
    for (path, code) in [("/nonexistent", 127), ("/etc", 126)] {
        let shim = ns(&["--", path]).spawn();
        shim.expect_exit(code, EXIT);
        shim.err.wait_eof(Instant::now() + 2 * SEC);
        assert!(
            shim.err.text().contains(path),
            "stderr does not name {path}\n{}",
            shim
        );
    }
}

#[test]
fn a4_no_command_or_unknown_option_exits_64_with_message() {
    for (args, needle) in [(&[][..], ""), (&["--no-such-option"][..], "usage")] {
        let shim = ns(args).spawn();
        shim.expect_exit(64, EXIT);
        shim.err.wait_eof(Instant::now() + 2 * SEC);
        let err = shim.err.text().to_lowercase();
        assert!(!err.trim().is_empty(), "no message on stderr\n{}", shim);
        assert!(err.contains(needle), "stderr lacks {needle:?}\n{}", shim);
    }
}

#[test]
fn a5_stdio_passes_straight_through() {
    let shim = ns(&["--", "sh"]).stdin().spawn();
    shim.send_stdin(b"echo to-out; echo to-err >&2; exit 7\n");
    shim.expect_exit(7, EXIT);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    shim.err.wait_eof(Instant::now() + 2 * SEC);
    assert_eq!(shim.out.text(), "to-out\n", "stdout\n{}", shim);
    assert!(shim.err.text().contains("to-err\n"), "stderr\n{}", shim);

    let input = "hello\nwörld ☃\nno newline at end";
    let shim = ns(&["--", "cat"]).stdin().spawn();
    shim.send_stdin(input.as_bytes());
    shim.expect_exit(0, EXIT);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    assert_eq!(shim.out.text(), input, "cat output\n{}", shim);
}

#[test]
fn a6_child_sees_cwd_env_and_argv_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let argv = ["a b", "héllo ☃", "", "--", "-x"];
    let shim = run_fixture("dump-context.py", &argv)
        .env("FOO", "bar baz ☃")
        .cwd(dir.path())
        .spawn();
    shim.expect_exit(0, EXIT);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    let seen: serde_json::Value = serde_json::from_str(shim.out.text().trim())
        .unwrap_or_else(|e| panic!("fixture output is not JSON: {e}\n{}", shim));
    let cwd = dir.path().canonicalize().unwrap();
    let expected = serde_json::json!({
        "argv": argv, "cwd": cwd.to_str().unwrap(), "foo": "bar baz ☃", "port": null,
    });
    assert_eq!(seen, expected, "what the child saw\n{}", shim);
}

/// Policy "clean" (README, Decisions): whatever the parent ignored (INT, TTOU, SEGV) or
/// blocked (TTIN, ILL, TERM), the command starts with nothing ignored and nothing blocked.
#[test]
fn a7_child_gets_a_clean_signal_mask_whatever_the_parent_set() {
    let sigconf = fixture("pid1/sigconf.py");
    let shim = ns(&["--", "cat", "/proc/self/status"])
        .wrap(&[&sigconf])
        .spawn();
    shim.expect_exit(0, EXIT);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    for field in ["SigIgn", "SigBlk"] {
        let lines = shim.out.lines();
        let value = lines
            .iter()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .map(|v| u64::from_str_radix(v.trim(), 16));
        let value = value.unwrap_or_else(|| panic!("no {field} line\n{}", shim));
        assert_eq!(value, Ok(0), "the child's {field}\n{}", shim);
    }
}

/// The command, the proxied server and a handler worker each start with fds 0, 1 and 2 only:
/// none of fnshim's epoll, eventfd, signal, socket or pipe descriptors leak into them.
#[test]
fn a8_children_inherit_only_stdio() {
    let shim = run_fixture("list-fds.py", &[]).spawn();
    shim.expect_exit(0, EXIT);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    assert_eq!(shim.out.lines(), ["fds: 0 1 2"], "\n{}", shim);

    let shim = proxy_fixture(&["list-fds.py", "http-slow.py"], "4s").spawn();
    shim.wait_ready();
    // The line was written before the server listened, but this test reads it on a thread.
    let first = shim
        .out
        .find(|l| l.starts_with("fds:"), Instant::now() + STARTUP);
    let first = first.map(|(_, l)| l);
    assert_eq!(first.as_deref(), Some("fds: 0 1 2"), "\n{}", shim);
    shim.signal(libc::SIGTERM);
    shim.expect_exit(0, EXIT);

    // A Python handler: `python3` on PATH lists its fds, then execs the real interpreter.
    let function = Function::empty();
    function.write(
        "main.py",
        "def handler(event, context):\n    return 1\n",
        0o644,
    );
    let bin = tempfile::tempdir().unwrap();
    let real = python().display().to_string();
    let wrapper = format!(
        "#!/bin/sh\nexec {real} {} {real} \"$@\"\n",
        fixture("pid1/list-fds.py").display()
    );
    let python3 = bin.path().join("python3");
    std::fs::write(&python3, wrapper).unwrap();
    std::fs::set_permissions(
        &python3,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let cache = tempfile::tempdir().unwrap();
    let shim = ns(&[])
        .env("FUNCTION_PATH", function.path().to_str().unwrap())
        .env("CACHE_DIR", cache.path().to_str().unwrap())
        .env("PATH", &path)
        .env("PORT", "0")
        .spawn();
    shim.wait_ready();
    // fnshim logs the worker's output on a task of its own: wait for the line, then read all.
    let fds_line =
        |v: &serde_json::Value| v["message"].as_str().is_some_and(|m| m.starts_with("fds:"));
    shim.wait_log(STARTUP, fds_line);
    let listed: Vec<String> = (shim.logs().iter())
        .filter_map(|v| v["message"].as_str().map(String::from))
        .filter(|m| m.starts_with("fds:"))
        .collect();
    assert!(
        !listed.is_empty() && listed.iter().all(|m| m == "fds: 0 1 2"),
        "the worker's fds: {listed:?}\n{}",
        shim
    );
    shim.signal(libc::SIGTERM);
    shim.expect_exit(0, EXIT);
}

/// fnshim's stdout is a pipe whose reader leaves after one line; the command ignores SIGPIPE,
/// writes on (getting EPIPE) and exits 5: fnshim must not die of SIGPIPE and must return 5.
#[test]
fn a9_stdout_reader_gone_shim_survives_and_returns_5() {
    let script = "trap '' PIPE; echo first; i=0; \
        while echo more 2>/dev/null; do i=$((i+1)); done; echo \"EPIPE after $i\" >&2; exit 5";
    let shim = ns(&["--", "sh", "-c", script])
        .wrap(&[fixture("pid1/early-reader.py")])
        .spawn();
    shim.expect_exit(5, EXIT);
    shim.out.wait_eof(Instant::now() + 2 * SEC);
    assert_eq!(shim.out.lines(), ["reader got: first"], "\n{}", shim);
    assert!(
        shim.err
            .find(|l| l.starts_with("EPIPE after"), Instant::now() + 5 * SEC)
            .is_some(),
        "the command never got EPIPE\n{}",
        shim
    );
}
