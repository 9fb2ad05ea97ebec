//! Streamed answers from handlers: a fetch-style `Response` with a `ReadableStream` body,
//! Lambda's `awslambda.streamifyResponse`, Python generators and async generators. Chunks reach
//! a raw HTTP client while the handler is still blocked on a file the test creates; past
//! MAX_RESPONSE_SIZE or FUNCTION_TIMEOUT the stream is cut off, logged, and the worker told.

use std::path::{Path, PathBuf};

use super::*;

/// `/sse?gate=G`: one event, then the last once G exists. `/big?gate=G`: 64 KiB chunks without
/// end (G written when the stream is cancelled). `/slow?gate=G`: one line, then waits for G.
const STREAM_JS: &str = r#"
import fs from 'node:fs';
const sleep = (millis) => new Promise((resolve) => setTimeout(resolve, millis));
const until = async (path) => { while (!fs.existsSync(path)) await sleep(20); };
const enc = new TextEncoder();

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const gate = url.searchParams.get('gate');
    const cancelled = () => fs.writeFileSync(gate, 'cancelled');
    let body;
    if (url.pathname === '/sse') {
      body = new ReadableStream({ async start(c) {
        c.enqueue(enc.encode('data: first\n\n'));
        await until(gate);
        c.enqueue(enc.encode('data: last\n\n'));
        c.close();
      } });
      return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    }
    if (url.pathname === '/big') {
      const chunk = enc.encode('x'.repeat(65536));
      body = new ReadableStream({ async pull(c) { await sleep(1); c.enqueue(chunk); }, cancel: cancelled });
    } else if (url.pathname === '/slow') {
      body = new ReadableStream({ start(c) { c.enqueue(enc.encode('begun\n')); }, cancel: cancelled });
    } else {
      return new Response('plain', { headers: { 'content-type': 'text/plain' } });
    }
    return new Response(body, { headers: { 'content-type': 'text/plain' } });
  },
};
"#;

const STREAM_PY: &str = r#"
import asyncio
import os
import time


def until(path):
    while not os.path.exists(path):
        time.sleep(0.02)


def handler(event, context):
    path, gate = event["path"], (event.get("queryStringParameters") or {}).get("gate")
    head = {"statusCode": 200, "headers": {"content-type": "text/event-stream", "cache-control": "no-cache"}}
    if path == "/sse":
        def sse():
            yield head
            yield "data: first\n\n"
            until(gate)
            yield b"data: last\n\n"
        return sse()
    if path == "/asse":
        async def sse():
            yield head
            yield "data: first\n\n"
            while not os.path.exists(gate):
                await asyncio.sleep(0.02)
            yield "data: last\n\n"
        return sse()
    if path == "/big":
        def big():
            try:
                while True:
                    yield "x" * 65536
            finally:
                with open(gate, "w") as marker:
                    marker.write("cancelled")
        return big()
    if path == "/slow":
        def slow():
            yield "begun\n"
            until(gate)
        return slow()
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "plain"}
"#;

fn serve_streams(lang: Lang, env: &[(&str, &str)]) -> Served {
    let source = match lang {
        Lang::Python => STREAM_PY,
        _ => STREAM_JS,
    };
    serve(&[(lang.entry(), source)], env)
}

/// A file path that does not exist yet, in the function's folder.
fn gate(served: &Served, name: &str) -> PathBuf {
    served.function.path().join(name)
}

/// The handler's stream was cancelled: its `cancel` wrote the gate file.
fn assert_cancelled(gate: &Path, served: &Served) {
    let cancelled = wait_for(Duration::from_secs(20), || gate.exists().then_some(()));
    assert!(
        cancelled.is_some(),
        "the handler's stream was never cancelled{served}"
    );
}

fn target(path: &str, gate: &Path) -> String {
    format!("{path}?gate={}", gate.display())
}

/// Opens a connection, sends GET `target` and reads the head.
fn open_stream(served: &Served, target: &str) -> (Conn, Response) {
    let mut conn = Conn::connect(served.port()).unwrap();
    conn.write_raw(&Request::get(target).to_bytes()).unwrap();
    let head = conn
        .read_head("GET")
        .unwrap_or_else(|e| panic!("no head for {target}: {e}{served}"));
    (conn, head)
}

/// The first event comes while the handler waits for the gate; the last only after it.
fn check_sse(served: &Served, path: &str) {
    let gate = gate(served, &format!("gate{}", path.replace('/', "-")));
    let (mut conn, head) = open_stream(served, &target(path, &gate));
    assert_eq!(head.status, 200, "{head}{served}");
    assert_eq!(
        head.header("content-type"),
        Some("text/event-stream"),
        "{head}{served}"
    );
    assert_eq!(
        head.header("cache-control"),
        Some("no-cache"),
        "{head}{served}"
    );
    assert_eq!(
        head.header("transfer-encoding"),
        Some("chunked"),
        "{head}{served}"
    );
    assert_eq!(head.header("content-length"), None, "{head}{served}");
    let mut body = Vec::new();
    conn.read_until(&mut body, b"data: first\n\n")
        .unwrap_or_else(|e| panic!("the first event never came: {e}{served}"));
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(
        !text.contains("last"),
        "the last event came before the gate opened: {text:?}{served}"
    );
    std::fs::write(&gate, "open").unwrap();
    while let Some(part) = conn.read_some().unwrap_or_else(|e| panic!("{e}{served}")) {
        body.extend_from_slice(&part);
    }
    assert_eq!(
        String::from_utf8_lossy(&body),
        "data: first\n\ndata: last\n\n",
        "{served}"
    );
}

fn a_stream_reaches_the_client_while_the_handler_still_runs(lang: Lang) {
    let served = serve_streams(lang, &[]);
    check_sse(&served, "/sse");
    let r = served.get("/plain");
    assert_eq!(
        (r.status, r.text()),
        (200, "plain".to_string()),
        "{r}{served}"
    );
    assert!(
        r.header("content-length").is_some(),
        "a whole body is not streamed{r}{served}"
    );
}
per_language!(a_stream_reaches_the_client_while_the_handler_still_runs);

#[test]
fn a_python_async_generator_streams_too() {
    let served = serve_streams(Lang::Python, &[]);
    check_sse(&served, "/asse");
}

/// The cut-off log line of the request `id`.
fn cut_line(served: &Served, id: &str) -> Value {
    let line = served.wait_log(Duration::from_secs(20), |l| {
        l["message"] == "the function's stream was cut off" && l["request_id"] == id
    });
    line.unwrap_or_else(|| panic!("no cut-off line for {id}{served}"))
}

/// Reads the body until the connection breaks; the bytes received.
fn read_until_cut(conn: &mut Conn, served: &Served) -> usize {
    let mut received = 0;
    loop {
        match conn.read_some() {
            Ok(Some(part)) => received += part.len(),
            Ok(None) => panic!("the stream ended normally after {received} bytes{served}"),
            Err(_) => return received,
        }
    }
}

fn a_stream_over_max_response_size_is_cut_off_and_cancelled(lang: Lang) {
    let served = serve_streams(lang, &[("MAX_RESPONSE_SIZE", "1MB")]);
    let gate = gate(&served, "cancelled");
    let (mut conn, head) = open_stream(&served, &target("/big", &gate));
    assert_eq!(head.status, 200, "{head}{served}");
    let id = head.header("x-request-id").unwrap().to_owned();
    let received = read_until_cut(&mut conn, &served);
    assert!(
        received > 0 && received <= 1 << 20,
        "received {received} bytes{served}"
    );
    let line = cut_line(&served, &id);
    let reason = line["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("MAX_RESPONSE_SIZE"), "{line}{served}");
    assert_cancelled(&gate, &served);
    let r = served.get("/plain");
    assert_eq!(r.status, 200, "the worker serves on{r}{served}");
}
per_language!(a_stream_over_max_response_size_is_cut_off_and_cancelled);

fn a_stream_past_function_timeout_is_cut_off(lang: Lang) {
    let served = serve_streams(lang, &[("FUNCTION_TIMEOUT", "2s")]);
    let gate = gate(&served, "cancelled");
    let (mut conn, head) = open_stream(&served, &target("/slow", &gate));
    assert_eq!(head.status, 200, "{head}{served}");
    let id = head.header("x-request-id").unwrap().to_owned();
    let mut body = Vec::new();
    conn.read_until(&mut body, b"begun\n").unwrap();
    read_until_cut(&mut conn, &served);
    let line = cut_line(&served, &id);
    let reason = line["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("timeout"), "{line}{served}");
    if lang != Lang::Python {
        // A JS worker is told to stop the stream; Python's is busy in it and is replaced.
        assert_cancelled(&gate, &served);
    }
    let serving = wait_for(RECOVERY, || {
        (served.get("/plain").status == 200).then_some(())
    });
    assert!(serving.is_some(), "the function never served again{served}");
}
per_language!(a_stream_past_function_timeout_is_cut_off);

fn a_client_that_goes_away_cancels_the_stream(lang: Lang) {
    let served = serve_streams(lang, &[]);
    let gate = gate(&served, "cancelled");
    let (mut conn, head) = open_stream(&served, &target("/big", &gate));
    assert_eq!(head.status, 200, "{head}{served}");
    let first = conn.read_some().unwrap_or_else(|e| panic!("{e}{served}"));
    assert!(first.is_some_and(|part| !part.is_empty()), "{served}");
    drop(conn);
    assert_cancelled(&gate, &served);
    let r = served.get("/plain");
    assert_eq!(r.status, 200, "the worker serves on{r}{served}");
}
per_language!(a_client_that_goes_away_cancels_the_stream);

/// Lambda's Node streaming API: `awslambda.streamifyResponse` and `HttpResponseStream.from`.
const STREAMIFY_JS: &str = r#"
import fs from 'node:fs';
const sleep = (millis) => new Promise((resolve) => setTimeout(resolve, millis));

export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (event.path === '/typed') {
    responseStream.setContentType('text/plain; charset=utf-8');
    responseStream.write('typed ');
    responseStream.end('and ended');
    return;
  }
  const gate = event.queryStringParameters.gate;
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'content-type': 'text/event-stream', 'x-stream': context.requestId },
  });
  stream.write('data: first\n\n');
  while (!fs.existsSync(gate)) await sleep(20);
  stream.write(new TextEncoder().encode('data: last\n\n'));
  stream.end();
});
"#;

fn lambda_style_stream(lang: Lang) {
    let served = serve(&[(lang.entry(), STREAMIFY_JS)], &[]);
    let gate = gate(&served, "gate");
    let (mut conn, head) = open_stream(&served, &target("/events", &gate));
    assert_eq!(head.status, 201, "{head}{served}");
    assert_eq!(
        head.header("content-type"),
        Some("text/event-stream"),
        "{head}{served}"
    );
    assert_eq!(
        head.header("x-stream"),
        head.header("x-request-id"),
        "{head}{served}"
    );
    let mut body = Vec::new();
    conn.read_until(&mut body, b"data: first\n\n").unwrap();
    assert!(!String::from_utf8_lossy(&body).contains("last"), "{served}");
    std::fs::write(&gate, "open").unwrap();
    while let Some(part) = conn.read_some().unwrap_or_else(|e| panic!("{e}{served}")) {
        body.extend_from_slice(&part);
    }
    assert_eq!(
        String::from_utf8_lossy(&body),
        "data: first\n\ndata: last\n\n",
        "{served}"
    );
    let r = served.get("/typed");
    assert_eq!(
        (r.status, r.text()),
        (200, "typed and ended".to_string()),
        "{r}{served}"
    );
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; charset=utf-8"),
        "{r}{served}"
    );
}

#[test]
fn lambda_style_stream_node() {
    lambda_style_stream(Lang::Node)
}

#[test]
fn lambda_style_stream_deno() {
    lambda_style_stream(Lang::Deno)
}

/// Lambda's Invoke API answers in one piece: a handler's stream is collected into its result
/// map (status, headers, body).
fn a_stream_is_collected_for_a_caller_that_wants_one_answer(lang: Lang) {
    let (served, event, body) = match lang {
        Lang::Python => {
            let served = serve_streams(lang, &[]);
            let gate = gate(&served, "open");
            std::fs::write(&gate, "open").unwrap();
            let event = json!({"path": "/sse", "queryStringParameters": {"gate": gate}});
            (served, event, "data: first\n\ndata: last\n\n")
        }
        _ => {
            let served = serve(&[(lang.entry(), STREAMIFY_JS)], &[]);
            (served, json!({"path": "/typed"}), "typed and ended")
        }
    };
    let r = served
        .send(&Request::post("/2015-03-31/functions/function/invocations").body(event.to_string()));
    assert_eq!(r.status, 200, "{r}{served}");
    let result = r.json();
    assert_eq!(result["statusCode"], 200, "{r}{served}");
    assert_eq!(result["body"], body, "{r}{served}");
    assert_eq!(result["isBase64Encoded"], false, "{r}{served}");
    let content_type = result["headers"]["content-type"]
        .as_str()
        .unwrap_or_default();
    assert!(content_type.starts_with("text/"), "{r}{served}");
}
per_language!(a_stream_is_collected_for_a_caller_that_wants_one_answer);
