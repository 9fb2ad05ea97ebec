//! AWS_LAMBDA_MAX_CONCURRENCY: one poller per slot, so that many invocations run at once.

use std::thread;

use super::*;

/// Each invocation marks its arrival, then waits for the other's: they both answer
/// "together" only if they ran at the same time.
const MEET: &str = r#"
import fs from 'node:fs';

export async function handler(event) {
  fs.writeFileSync(`${event.dir}/${event.me}`, '');
  const until = Date.now() + 15000;
  while (!fs.existsSync(`${event.dir}/${event.other}`)) {
    if (Date.now() > until) return 'alone';
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return 'together';
}
"#;

#[test]
fn max_concurrency_polls_that_many_invocations_at_once() {
    let emulator = Emulator::start();
    let function = Function::empty();
    write_all(&function, &[("index.mjs", MEET)]);
    let marks = tempfile::tempdir().unwrap();
    let cache = cache_dir();
    let shim = in_lambda(&emulator, &cache)
        .env("FUNCTION_PATH", function.path().to_str().unwrap())
        .env("AWS_LAMBDA_MAX_CONCURRENCY", "2")
        .spawn();
    wait_polling(&shim, SLOW_START);
    let dir = marks.path().to_str().unwrap().to_owned();
    let answers: Vec<Value> = thread::scope(|scope| {
        let calls: Vec<_> = [("a", "b"), ("b", "a")]
            .into_iter()
            .map(|(me, other)| {
                let event = json!({"dir": dir, "me": me, "other": other});
                let emulator = &emulator;
                scope.spawn(move || emulator.invoke(&event))
            })
            .collect();
        calls
            .into_iter()
            .map(|call| answer(&call.join().unwrap(), &shim))
            .collect()
    });
    assert_eq!(answers, [json!("together"), json!("together")], "{shim}");
}
