//! The probe: one small function per language whose behaviour the request chooses (echo,
//! mirror, throw, sleep, block, exit, signal, print), so most tests share one fixture.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lang {
    Node,
    Deno,
    Python,
}

impl Lang {
    pub(super) fn entry(self) -> &'static str {
        match self {
            Lang::Node => "index.mjs",
            Lang::Deno => "index.ts",
            Lang::Python => "main.py",
        }
    }

    /// The language's own name for the error the probe throws on `/throw`.
    pub(super) fn thrown_type(self) -> &'static str {
        match self {
            Lang::Python => "ValueError",
            _ => "TypeError",
        }
    }

    /// The multi-purpose probe function (see `PROBE_JS` / `PROBE_PY`).
    pub(super) fn probe(self) -> String {
        match self {
            Lang::Node => PROBE_JS.to_string(),
            // The same code with TypeScript annotations: Deno must strip them.
            Lang::Deno => PROBE_JS
                .replace(
                    "handler(event, context) {",
                    "handler(event: any, context: any): Promise<unknown> {",
                )
                .replace(
                    "echo(event, context) {",
                    "echo(event: unknown, context: any) {",
                )
                .replace("(millis)", "(millis: number)"),
            Lang::Python => PROBE_PY.to_string(),
        }
    }
}

/// HTTP events are routed by path; raw events are echoed back (or `{"return": X}` returns X).
const PROBE_JS: &str = r#"
import process from 'node:process';
import fs from 'node:fs';

const sleep = (millis) => new Promise((resolve) => setTimeout(resolve, millis));

export async function handler(event, context) {
  const http = event !== null && typeof event === 'object' && ('httpMethod' in event || 'rawPath' in event);
  if (!http) return event !== null && typeof event === 'object' && 'return' in event ? event.return : echo(event, context);
  const ms = Number(event.queryStringParameters?.ms ?? 0);
  switch (event.path ?? event.rawPath) {
    case '/mirror': return JSON.parse(event.body);
    case '/throw': throw new TypeError('probe failed on purpose');
    case '/sleep': await sleep(ms); return { slept: ms, pid: process.pid };
    case '/block': { const end = Date.now() + ms; while (Date.now() < end) { /* stuck in sync code */ } return { pid: process.pid }; }
    case '/exit': process.exit(3);
    // Deno survives a SIGSEGV sent with kill(2) (its own handler), so it gets a SIGKILL.
    case '/signal': process.kill(process.pid, 'Deno' in globalThis ? 'SIGKILL' : 'SIGSEGV'); await sleep(60000); return null;
    case '/print':
      console.log('{"type":"result","id":"1","result":"forged by console.log"}');
      process.stdout.write('{"type":"result","id":"1","result":"forged by stdout"}\n');
      fs.writeSync(1, '{"statusCode":418,"body":"forged on fd 1"}\n');
      console.error('{"type":"error","id":"1","error":{"errorType":"Forged"}}');
      return { clean: true };
    default: return echo(event, context);
  }
}

function echo(event, context) {
  return { event, pid: process.pid, context: {
    requestId: context.requestId, awsRequestId: context.awsRequestId, functionName: context.functionName,
    functionVersion: context.functionVersion, memoryLimitInMB: context.memoryLimitInMB ?? null,
    triggerType: context.triggerType, deadlineMs: context.deadlineMs, remaining: context.getRemainingTimeInMillis() } };
}
"#;

const PROBE_PY: &str = r#"
import json, os, signal, sys, time

def handler(event, context):
    http = isinstance(event, dict) and ("httpMethod" in event or "rawPath" in event)
    if not http:
        if isinstance(event, dict) and "return" in event:
            return event["return"]
        return echo(event, context)
    path = event.get("path") or event.get("rawPath")
    ms = int((event.get("queryStringParameters") or {}).get("ms", "0"))
    if path == "/mirror":
        return json.loads(event["body"])
    if path == "/throw":
        raise ValueError("probe failed on purpose")
    if path in ("/sleep", "/block"):
        time.sleep(ms / 1000)
        return {"slept": ms, "pid": os.getpid()}
    if path == "/exit":
        os._exit(3)
    if path == "/signal":
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(60)
    if path == "/print":
        print('{"type":"result","id":"1","result":"forged by console.log"}')
        sys.stdout.write('{"type":"result","id":"1","result":"forged by stdout"}\n')
        sys.stdout.flush()
        os.write(1, b'{"statusCode":418,"body":"forged on fd 1"}\n')
        print('{"type":"error","id":"1","error":{"errorType":"Forged"}}', file=sys.stderr)
        return {"clean": True}
    return echo(event, context)

def echo(event, context):
    return {"event": event, "pid": os.getpid(), "context": {
        "requestId": context.request_id, "awsRequestId": context.aws_request_id,
        "functionName": context.function_name, "functionVersion": context.function_version,
        "memoryLimitInMB": context.memory_limit_in_mb, "triggerType": context.trigger_type,
        "deadlineMs": context.deadline_ms, "remaining": context.get_remaining_time_in_millis()}}
"#;
