//! Bad input: configuration and command-line errors with their exit codes and messages.

use super::*;

// ---- bad input

fn assert_usage_error(shim: &Shim, needles: &[&str]) {
    assert_eq!(shim.wait_code(STARTUP), 64, "{shim}");
    let err = shim.stderr();
    for n in needles {
        assert!(err.contains(n), "stderr must name {n:?}{shim}");
    }
}

#[test]
fn function_path_that_does_not_exist_exits_64() {
    let f = Function::upstream(&[]);
    let missing = f.path().join("nope");
    let shim = fnshim()
        .env("PORT", "0")
        .env("FUNCTION_PATH", missing.to_str().unwrap())
        .run();
    assert_usage_error(&shim, &["FUNCTION_PATH", missing.to_str().unwrap()]);
}

#[test]
fn function_path_that_is_a_file_exits_64() {
    let f = Function::upstream(&[]);
    let file = f.path().join("bootstrap");
    let shim = fnshim()
        .env("PORT", "0")
        .env("FUNCTION_PATH", file.to_str().unwrap())
        .run();
    assert_usage_error(&shim, &["FUNCTION_PATH"]);
}

#[test]
fn no_command_and_no_function_path_exits_64() {
    let shim = fnshim().env("PORT", "0").run();
    assert_usage_error(&shim, &["FUNCTION_PATH"]);
}

#[test]
fn every_invalid_variable_is_reported_on_its_own_line() {
    let f = Function::upstream(&[]);
    let bad = [
        ("PORT", "70000"),
        ("FUNCTION_TIMEOUT", "abc"),
        ("MAX_BODY_SIZE", "lots"),
        ("LOG_LEVEL", "chatty"),
        ("FUNCTION_CONCURRENCY", "0"),
    ];
    let mut cmd = fnshim().function(&f);
    for (k, v) in bad {
        cmd = cmd.env(k, v);
    }
    let shim = cmd.run();
    assert_eq!(shim.wait_code(STARTUP), 64, "{shim}");
    let err = shim.stderr();
    for (k, v) in bad {
        assert!(
            err.lines().any(|l| l.contains(k) && l.contains(v)),
            "no stderr line names {k} and its value {v:?}{shim}"
        );
    }
}

#[test]
fn non_executable_bootstrap_exits_65() {
    let f = Function::with_bootstrap("#!/bin/sh\nexit 0\n", 0o644);
    let shim = fnshim().function(&f).run();
    assert_eq!(shim.wait_code(STARTUP), 65, "{shim}");
}

#[test]
fn handler_entry_whose_runtime_is_not_installed_exits_69() {
    let f = Function::empty();
    f.write(
        "main.py",
        "def handler(event, context):\n    return 'hi'\n",
        0o644,
    );
    let empty_path = tempfile::tempdir().unwrap();
    let shim = fnshim()
        .function(&f)
        .env("PATH", empty_path.path().to_str().unwrap())
        .run();
    assert_eq!(shim.wait_code(STARTUP), 69, "{shim}");
    assert!(
        shim.stderr().contains("python3") && shim.stderr().contains("not installed"),
        "the message names the missing runtime{shim}"
    );
}

#[test]
fn port_in_use_exits_64_naming_the_port() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let f = Function::upstream(&[]);
    let shim = fnshim().function(&f).env("PORT", &port).run();
    assert_usage_error(&shim, &[&port]);
}

#[test]
fn unknown_option_exits_64_with_usage() {
    let shim = fnshim().arg("--no-such-option").run();
    assert_usage_error(&shim, &["--no-such-option"]);
    assert!(
        shim.stderr().to_lowercase().contains("usage"),
        "usage must be printed{shim}"
    );
}

#[test]
fn help_lists_every_variable() {
    for flag in ["--help", "-h"] {
        let shim = fnshim().arg(flag).run();
        assert_eq!(shim.wait_code(STARTUP), 0, "{shim}");
        let out = shim.stdout();
        for var in [
            "FUNCTION_PATH",
            "FUNCTION_ENTRY",
            "FUNCTION_HANDLER",
            "FUNCTION_RUNTIME",
            "TRIGGER_TYPE",
            "PORT",
            "LOG_LEVEL",
            "LOG_FORMAT",
            "FUNCTION_TIMEOUT",
            "INIT_TIMEOUT",
            "INSTALL_TIMEOUT",
            "SHUTDOWN_TIMEOUT",
            "FUNCTION_CONCURRENCY",
            "FUNCTION_WORKERS",
            "MAX_BODY_SIZE",
            "HTTP_EVENT_FORMAT",
            "INSTALL_DEPS",
            "DART_AOT",
        ] {
            assert!(
                out.contains(var),
                "{flag} does not mention {var} on stdout{shim}"
            );
        }
    }
}

#[test]
fn version_prints_the_crate_version() {
    for flag in ["--version", "-V"] {
        let shim = fnshim().arg(flag).run();
        assert_eq!(shim.wait_code(STARTUP), 0, "{shim}");
        assert!(
            shim.stdout().contains(env!("CARGO_PKG_VERSION")),
            "{flag}{shim}"
        );
    }
}

#[test]
fn bad_readiness_settings_exit_64_naming_them() {
    let f = Function::upstream(&[]);
    let shim = fnshim()
        .function(&f)
        .env("READINESS_PATH", "health")
        .env("READINESS_STATUS", "200-2xx")
        .run();
    assert_usage_error(
        &shim,
        &[
            "READINESS_STATUS",
            "200-2xx",
            "READINESS_PATH",
            "starting with /",
        ],
    );
}
