//! The module's `shutdown` hook (JS and Python, sync or async): on SIGTERM it runs once the
//! last call has ended and before the worker and fnshim exit, its output logged, bounded by
//! SHUTDOWN_TIMEOUT.

use super::*;
use crate::support::get_in_background;

/// `/hold` notes its start and end in `events.txt` around a wait for `gate`; the hook notes
/// itself and prints a line.
const HOOK_JS: &str = r#"
import fs from 'node:fs';
const sleep = (millis) => new Promise((resolve) => setTimeout(resolve, millis));
const note = (line) => fs.appendFileSync('events.txt', line + '\n');

export async function handler(event) {
  if (event.path === '/hold') {
    note('call start');
    while (!fs.existsSync('gate')) await sleep(20);
    note('call end');
  }
  return { statusCode: 200, body: 'held' };
}

export async function shutdown() {
  await sleep(10);
  note('hook');
  console.log('shutdown hook ran');
}
"#;

const HOOK_PY: &str = r#"
import os
import time


def note(line):
    with open("events.txt", "a") as events:
        events.write(line + "\n")


def handler(event, context):
    if event["path"] == "/hold":
        note("call start")
        while not os.path.exists("gate"):
            time.sleep(0.02)
        note("call end")
    return {"statusCode": 200, "body": "held"}


def shutdown():
    note("hook")
    print("shutdown hook ran")
"#;

const HANGING_JS: &str = r#"
export function handler() { return 'ok'; }
export async function shutdown() {
  console.log('hook begun');
  await new Promise(() => {});
}
"#;

const HANGING_PY: &str = r#"
import time


def handler(event, context):
    return "ok"


def shutdown():
    print("hook begun")
    while True:
        time.sleep(0.05)
"#;

fn source(lang: Lang, js: &'static str, py: &'static str) -> &'static str {
    match lang {
        Lang::Python => py,
        _ => js,
    }
}

/// The position of the first log line whose message is `message`.
fn position(served: &Served, message: &str) -> Option<usize> {
    served.logs().iter().position(|l| l["message"] == message)
}

fn the_hook_runs_after_the_last_call_and_before_the_exit(lang: Lang) {
    let env = [("FUNCTION_WORKERS", "1"), ("SHUTDOWN_TIMEOUT", "30s")];
    let served = serve(&[(lang.entry(), source(lang, HOOK_JS, HOOK_PY))], &env);
    let folder = served.function.path().to_owned();
    let events = || std::fs::read_to_string(folder.join("events.txt")).unwrap_or_default();
    let call = get_in_background(served.port(), "/hold");
    let started = wait_for(Duration::from_secs(20), || {
        events().contains("call start").then_some(())
    });
    assert!(started.is_some(), "the call never started{served}");
    terms_but_stays(&served, "a call in flight");
    assert_eq!(
        events(),
        "call start\n",
        "the hook ran during the call{served}"
    );
    std::fs::write(folder.join("gate"), "open").unwrap();
    let (answer, _) = call.join().unwrap();
    let answer = answer.unwrap_or_else(|e| panic!("{e}{served}"));
    assert_eq!(
        (answer.status, answer.text()),
        (200, "held".to_string()),
        "{answer}{served}"
    );
    served.expect_exit(0, Duration::from_secs(30));
    assert_eq!(events(), "call start\ncall end\nhook\n", "{served}");
    let printed = position(&served, "shutdown hook ran");
    let stopped = position(&served, "stopped");
    assert!(
        printed.is_some(),
        "the hook's output was not logged{served}"
    );
    assert!(
        printed < stopped,
        "the hook's line came after fnshim stopped{served}"
    );
}
per_language!(the_hook_runs_after_the_last_call_and_before_the_exit);

fn a_hanging_hook_is_bounded_by_shutdown_timeout(lang: Lang) {
    let env = [("FUNCTION_WORKERS", "1"), ("SHUTDOWN_TIMEOUT", "2s")];
    let served = serve(
        &[(lang.entry(), source(lang, HANGING_JS, HANGING_PY))],
        &env,
    );
    served.signal(libc::SIGTERM);
    // The adapter gives up on the hook before the SIGKILL that SHUTDOWN_TIMEOUT brings, so the
    // worker exits on its own (0, not 137).
    served.expect_exit(0, Duration::from_secs(20));
    assert!(
        position(&served, "hook begun").is_some(),
        "the hook never ran{served}"
    );
    let gave_up = served.logs().iter().any(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.contains("the shutdown hook did not finish within SHUTDOWN_TIMEOUT"))
    });
    assert!(gave_up, "no line says the hook was given up{served}");
}
per_language!(a_hanging_hook_is_bounded_by_shutdown_timeout);

/// A hook stuck in synchronous JS code cannot be given up by the adapter: the SIGKILL at
/// SHUTDOWN_TIMEOUT ends it (exit 137).
#[test]
fn a_hook_stuck_in_sync_code_is_killed_at_shutdown_timeout() {
    let stuck = r#"
export function handler() { return 'ok'; }
export function shutdown() { console.log('hook begun'); for (;;) {} }
"#;
    let env = [("FUNCTION_WORKERS", "1"), ("SHUTDOWN_TIMEOUT", "2s")];
    let served = serve(&[("index.mjs", stuck)], &env);
    served.signal(libc::SIGTERM);
    served.expect_exit(137, Duration::from_secs(20));
    let begun = served.wait_log(Duration::from_secs(5), |l| l["message"] == "hook begun");
    assert!(begun.is_some(), "the hook never ran{served}");
}
