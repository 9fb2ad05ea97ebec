//! TRIGGER_TYPE=schedule: SCHEDULE fires timer events `{triggerTime, triggerName, payload}` at
//! the handler (or as `POST /invoke` to a bootstrap); overlapping ticks are skipped; `/invoke`
//! still works for manual runs; bad schedules are configuration errors.

use super::*;

const TICK_LOGGER: &str = r#"import json
def handler(event, context):
    print('TICK ' + json.dumps(event), flush=True)
    return 'ok'
"#;

/// The timer events the handler printed, in order.
fn ticks(served: &Served) -> Vec<Value> {
    printed(served, "TICK ")
        .iter()
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
}

#[test]
fn a_one_second_schedule_fires_with_its_payload_and_invoke_still_works() {
    let env = [
        ("TRIGGER_TYPE", "schedule"),
        ("SCHEDULE", "@every 1s"),
        ("SCHEDULE_PAYLOAD", "nightly-report"),
        ("FUNCTION_WORKERS", "1"),
    ];
    let served = serve(&[("main.py", TICK_LOGGER)], &env);
    let fired = wait_for(Duration::from_secs(10), || {
        (ticks(&served).len() >= 2).then_some(())
    });
    assert!(fired.is_some(), "fewer than two ticks{served}");
    let events = ticks(&served);
    assert_eq!(events[0]["payload"], "nightly-report", "{served}");
    assert!(
        events[0]["triggerName"]
            .as_str()
            .is_some_and(|n| n.ends_with("-schedule")),
        "{served}"
    );
    let (first, second) = (
        events[0]["triggerTime"].as_str().unwrap(),
        events[1]["triggerTime"].as_str().unwrap(),
    );
    assert!(
        first.ends_with('Z') && first < second,
        "{first} then {second}"
    );
    let r = served.send(
        &Request::post("/invoke")
            .body(br#"{"manual":true}"#.to_vec())
            .header("content-type", "application/json"),
    );
    assert_eq!(r.status, 200, "{r}{served}");
    assert_eq!(
        served.get("/anything").status,
        404,
        "other routes are not served with a schedule"
    );
}

#[test]
fn a_tick_that_finds_the_previous_run_going_is_skipped() {
    let slow =
        "import time\ndef handler(event, context):\n    time.sleep(2.5)\n    return 'done'\n";
    let env = [
        ("TRIGGER_TYPE", "schedule"),
        ("SCHEDULE", "@every 1s"),
        ("FUNCTION_WORKERS", "2"),
    ];
    let served = serve(&[("main.py", slow)], &env);
    let skipped = served.wait_log(Duration::from_secs(10), |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.contains("tick skipped"))
    });
    assert!(
        skipped.is_some(),
        "no tick was skipped while a 2.5 s run was going{served}"
    );
    let runs = |served: &Served| {
        served
            .logs()
            .iter()
            .filter(|l| l["message"] == "schedule tick")
            .count()
    };
    let _ = wait_for(Duration::from_secs(8), || {
        (runs(&served) >= 1).then_some(())
    });
    let overlapping = served
        .logs()
        .iter()
        .filter(|l| l["message"] == "schedule tick")
        .count();
    assert!(overlapping >= 1, "the running tick completed{served}");
}

#[test]
fn a_bootstrap_receives_ticks_as_post_invoke() {
    let bootstrap = format!(
        "#!/bin/sh\nexec {} -u {}\n",
        crate::support::python().display(),
        crate::support::fixture("upstream.py").display()
    );
    let function = Function::with_bootstrap(&bootstrap, 0o755);
    let shim = fnshim()
        .function(&function)
        .env("TRIGGER_TYPE", "schedule")
        .env("SCHEDULE", "* * * * * *")
        .env("SCHEDULE_PAYLOAD", "p")
        .spawn();
    shim.wait_ready();
    let ticked = shim.wait_log(Duration::from_secs(10), |l| l["message"] == "schedule tick");
    assert!(ticked.is_some(), "the bootstrap never got a tick{shim}");
}

#[test]
fn a_bad_schedule_is_a_configuration_error() {
    let served = start(
        &[("main.py", TICK_LOGGER)],
        &[("TRIGGER_TYPE", "schedule"), ("SCHEDULE", "61 * * * *")],
    );
    assert_eq!(served.wait_code(SLOW_START), 64, "{served}");
    assert!(served.stderr().contains("minutes field"), "{served}");
    let missing = start(&[("main.py", TICK_LOGGER)], &[("TRIGGER_TYPE", "schedule")]);
    assert_eq!(missing.wait_code(SLOW_START), 64, "{missing}");
    assert!(missing.stderr().contains("SCHEDULE"), "{missing}");
}

/// `fnshim check` with SCHEDULE and TZ: the next firing, printed in UTC.
fn next_firing(tz: Option<&str>) -> String {
    let function = Function::empty();
    function.write("main.py", TICK_LOGGER, 0o644);
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = fnshim()
        .function(&function)
        .env("CACHE_DIR", cache.path().to_str().unwrap())
        .env("TRIGGER_TYPE", "schedule")
        .env("SCHEDULE", "0 8 * * *")
        .env("FUNCTION_WORKERS", "1");
    if let Some(tz) = tz {
        cmd = cmd.env("TZ", tz);
    }
    let shim = cmd.arg("check").run();
    assert_eq!(shim.wait_code(SLOW_START), 0, "{shim}");
    let out = shim.stdout();
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("schedule: next firing "))
        .unwrap_or_else(|| panic!("no next firing in{shim}"));
    line.to_owned()
}

#[test]
fn tz_moves_the_cron_fields_to_local_time() {
    // 08:00 is 08:00 UTC without TZ, and 00:00 UTC in Shanghai (UTC+8, no daylight saving);
    // the POSIX rule form is read too.
    assert!(
        next_firing(None).contains("T08:00:00Z"),
        "{}",
        next_firing(None)
    );
    for tz in ["Asia/Shanghai", "CST-8"] {
        let next = next_firing(Some(tz));
        assert!(
            next.contains("T00:00:00Z") && next.contains(tz),
            "TZ={tz}: {next}"
        );
    }
}

#[test]
fn an_unknown_tz_with_a_schedule_is_a_configuration_error() {
    let served = start(
        &[("main.py", TICK_LOGGER)],
        &[
            ("TRIGGER_TYPE", "schedule"),
            ("SCHEDULE", "@hourly"),
            ("TZ", "Mars/Olympus_Mons"),
        ],
    );
    assert_eq!(served.wait_code(SLOW_START), 64, "{served}");
    let stderr = served.stderr();
    assert!(
        stderr.contains("TZ") && stderr.contains("Mars/Olympus_Mons"),
        "{served}"
    );
}
