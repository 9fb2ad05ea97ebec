//! Dart handlers (sync and Future, HTTP and raw events, errors), run only where the Dart SDK
//! is installed: otherwise this is the one test that says it skipped, loudly.

use std::os::unix::fs::PermissionsExt;

use super::*;

const DART_HANDLER: &str = r#"
import 'dart:async';
import 'dart:io';

Future<Object?> handler(dynamic event, dynamic context) async {
  if (event is Map && event['path'] == '/throw') {
    throw StateError('dart failed on purpose');
  }
  if (event is Map && event['path'] == '/text') return 'plain from dart';
  print('dart printed for ${context.requestId}'); // the invocation's log line
  await Future<void>.delayed(const Duration(milliseconds: 20));
  stdout.writeln('{"type":"result","id":"1","result":"forged"}');
  return {
    'runtime': 'dart',
    'event': event,
    'requestId': context.requestId,
    'traceId': context.traceId,
    'amznTraceId': context.amznTraceId,
    'remaining': context.getRemainingTimeInMillis(),
    'pid': pid,
  };
}

Object? syncHandler(dynamic event, dynamic context) => {'shape': 'sync', 'requestId': context.requestId};

Future<void> shutdown() async {
  await Future<void>.delayed(const Duration(milliseconds: 10));
  stdout.writeln('dart shutdown hook ran');
}
"#;

fn on_path(program: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':').filter(|d| !d.is_empty()).any(|dir| {
        let candidate = std::path::Path::new(dir).join(program);
        std::fs::metadata(candidate)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// `dart run` compiles the generated worker on its first start: allow for it.
fn serve_dart(env: &[(&str, &str)]) -> Served {
    let served = start(&[("main.dart", DART_HANDLER)], env);
    let ready = wait_for(Duration::from_secs(180), || {
        if served.try_status().is_some() {
            panic!("fnshim exited before the Dart worker was ready{served}");
        }
        let r = Conn::connect(served.port()).and_then(|mut c| c.request(&Request::get("/_/ready")));
        r.ok().filter(|r| r.status == 200)
    });
    assert!(
        ready.is_some(),
        "the Dart worker never became ready{served}"
    );
    served
}

#[test]
fn dart_handlers() {
    if !on_path("dart") {
        eprintln!("SKIPPED: dart handler tests: the Dart SDK is not installed on this machine");
        return;
    }
    let served = serve_dart(&[("HTTP_EVENT_FORMAT", "v1")]);
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = served.send(
        &Request::get("/hello?x=1&x=2")
            .header("x-request-id", "dart-rid")
            .header("traceparent", traceparent),
    );
    let j = ok_json(&r, &served);
    assert_eq!(j["runtime"], "dart", "{r}{served}");
    assert_eq!(j["requestId"], "dart-rid", "{r}{served}");
    assert_eq!(
        j["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736",
        "{r}{served}"
    );
    assert!(
        j["amznTraceId"]
            .as_str()
            .is_some_and(|t| t.starts_with("Root=1-4bf92f35-")),
        "{r}{served}"
    );
    assert_eq!(
        j["event"]["multiValueQueryStringParameters"]["x"],
        json!(["1", "2"]),
        "{r}{served}"
    );
    assert!(
        j["remaining"].as_u64().is_some_and(|ms| ms > 1000),
        "{r}{served}"
    );

    let r = invoke(&served, &json!({"k": [1, 2]}));
    assert_eq!(
        ok_json(&r, &served)["event"],
        json!({"k": [1, 2]}),
        "{r}{served}"
    );
    let r = served.get("/text");
    assert_eq!(r.text(), "plain from dart", "{r}{served}");
    let r = served.get("/throw");
    let e = assert_error(&r, 500, "StateError", &served);
    assert!(
        e["errorMessage"]
            .as_str()
            .unwrap()
            .contains("dart failed on purpose"),
        "{r}{served}"
    );
    assert_eq!(
        r.header("x-function-error"),
        Some("Unhandled"),
        "{r}{served}"
    );
    let printed = served
        .logs()
        .into_iter()
        .any(|l| l["message"] == "dart printed for dart-rid" && l["request_id"] == "dart-rid");
    assert!(printed, "print was not the invocation's log line{served}");
    served.signal(libc::SIGTERM);
    served.expect_exit(0, Duration::from_secs(30));
    let hooked = served
        .logs()
        .iter()
        .any(|l| l["message"] == "dart shutdown hook ran");
    assert!(hooked, "the shutdown hook's line was not logged{served}");
    drop(served);

    let served = serve_dart(&[("FUNCTION_HANDLER", "syncHandler")]);
    let r = served.send(
        &Request::post("/invoke")
            .header("x-request-id", "dart-sync")
            .body("{}"),
    );
    assert_eq!(
        ok_json(&r, &served),
        json!({"shape": "sync", "requestId": "dart-sync"}),
        "{r}{served}"
    );

    let broken = start(
        &[("main.dart", "Object? handler(event, context) => {\n")],
        &[],
    );
    assert_eq!(
        broken.wait_code(Duration::from_secs(180)),
        65,
        "a Dart compile error{broken}"
    );
}
