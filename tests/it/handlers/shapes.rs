//! Handler shapes each adapter accepts: CommonJS, ESM, default, async, callback and fetch style
//! in Node; TypeScript and fetch style in Deno; def and async def in Python.

use super::*;

/// Serves `files` and checks that GET `target` answers 200 JSON containing `expected`.
fn answers(files: &[(&str, &str)], env: &[(&str, &str)], target: &str, expected: Value) -> Served {
    let served = serve(files, env);
    let r = served.send(&Request::get(target).header("x-request-id", "shape-rid"));
    let j = ok_json(&r, &served);
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&j[key], value, "field {key}{r}{served}");
    }
    served
}

#[test]
fn node_commonjs_exports_handler() {
    let src = "exports.handler = function (event, context) {\n\
               return { shape: 'exports.handler', method: event.httpMethod, rid: context.requestId };\n};\n";
    let expected = json!({"shape": "exports.handler", "method": "GET", "rid": "shape-rid"});
    answers(&[("index.js", src)], &[], "/cjs", expected);
}

#[test]
fn node_module_exports_function() {
    let src = "module.exports = (event, context) => ({ shape: 'module.exports', path: event.path, rid: context.requestId });\n";
    let expected = json!({"shape": "module.exports", "path": "/m", "rid": "shape-rid"});
    answers(&[("index.cjs", src)], &[], "/m", expected);
}

#[test]
fn node_esm_export_function_handler() {
    let src = "export function handler(event, context) {\n  return { shape: 'esm', path: event.path, rid: context.awsRequestId };\n}\n";
    answers(
        &[("index.mjs", src)],
        &[],
        "/esm",
        json!({"shape": "esm", "path": "/esm", "rid": "shape-rid"}),
    );
}

#[test]
fn node_export_default_function() {
    let src =
        "export default function (event) {\n  return { shape: 'default', path: event.path };\n}\n";
    answers(
        &[("index.mjs", src)],
        &[],
        "/d",
        json!({"shape": "default", "path": "/d"}),
    );
}

#[test]
fn node_async_handler_awaits_before_answering() {
    let src = "export const handler = async (event, context) => {\n\
               const before = context.getRemainingTimeInMillis();\n\
               await new Promise((resolve) => setTimeout(resolve, 200));\n\
               return { shape: 'async', waited: before - context.getRemainingTimeInMillis() };\n};\n";
    let served = answers(&[("index.mjs", src)], &[], "/a", json!({"shape": "async"}));
    let j = served.get("/a").json();
    let waited = j["waited"]
        .as_i64()
        .unwrap_or_else(|| panic!("{j}{served}"));
    assert!(
        (150..5000).contains(&waited),
        "remaining time did not go down while awaiting: {j}{served}"
    );
}

#[test]
fn node_lambda_callback_style_results_and_errors() {
    let src = "exports.handler = (event, context, callback) => {\n\
               if (event.path === '/fail') return setTimeout(() => callback(new RangeError('callback failed')), 10);\n\
               setTimeout(() => callback(null, { shape: 'callback', path: event.path }), 50);\n};\n";
    let served = answers(
        &[("index.js", src)],
        &[],
        "/cb",
        json!({"shape": "callback", "path": "/cb"}),
    );
    let r = served.get("/fail");
    let j = assert_error(&r, 500, "RangeError", &served);
    assert_eq!(j["errorMessage"], "callback failed", "{r}{served}");
    assert_eq!(
        r.header("x-function-error"),
        Some("Unhandled"),
        "{r}{served}"
    );
}

#[test]
fn node_custom_handler_name_is_used() {
    let src = "export function handler() { return { shape: 'wrong one' }; }\n\
               export function main(event) { return { shape: 'main', path: event.path }; }\n";
    let env = [("FUNCTION_HANDLER", "main")];
    answers(
        &[("index.mjs", src)],
        &env,
        "/n",
        json!({"shape": "main", "path": "/n"}),
    );
}

/// 300 bytes starting with 0xff: not UTF-8, so the adapter must send them as base64.
const FETCH_BYTES_JS: &str = "Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 255) % 256)";

fn fetch_bytes() -> Vec<u8> {
    (0..300u32).map(|i| ((i * 7 + 255) % 256) as u8).collect()
}

#[test]
fn node_fetch_style_default_export_gets_a_request_and_returns_a_response() {
    let src = format!(
        "export default {{\n  async fetch(request) {{\n\
         const url = new URL(request.url);\n\
         if (url.pathname === '/bytes') return new Response({FETCH_BYTES_JS}, {{ headers: {{ 'content-type': 'application/octet-stream' }} }});\n\
         const headers = new Headers({{ 'content-type': 'application/json', 'x-fetch': 'yes' }});\n\
         headers.append('set-cookie', 'a=1; Path=/');\n\
         headers.append('set-cookie', 'b=2');\n\
         const body = {{ method: request.method, path: url.pathname, query: url.searchParams.getAll('q'),\n\
           probe: request.headers.get('x-probe'), body: await request.text() }};\n\
         return new Response(JSON.stringify(body), {{ status: 201, headers }});\n  }},\n}};\n"
    );
    let served = serve(&[("index.mjs", &src)], &[]);
    let r = served.send(
        &Request::post("/fetch/path?q=1&q=2")
            .header("X-Probe", "p")
            .body("ping"),
    );
    assert_eq!(r.status, 201, "{r}{served}");
    assert_eq!(r.header("x-fetch"), Some("yes"), "{r}{served}");
    let cookies: Vec<&str> = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2"], "{r}{served}");
    let expected = json!({"method": "POST", "path": "/fetch/path", "query": ["1", "2"], "probe": "p", "body": "ping"});
    assert_eq!(r.json(), expected, "{r}{served}");
    let r = served.get("/bytes");
    assert_eq!(r.status, 200, "{r}{served}");
    assert_eq!(
        r.header("content-type"),
        Some("application/octet-stream"),
        "{r}{served}"
    );
    assert!(
        r.body == fetch_bytes(),
        "binary Response body changed on the way{r}{served}"
    );
}

#[test]
fn node_service_worker_add_event_listener_fetch() {
    let src = "addEventListener('fetch', (event) => {\n\
               const path = new URL(event.request.url).pathname;\n\
               event.respondWith(new Response(`sw ${event.request.method} ${path}`, { status: 202, headers: { 'content-type': 'text/plain' } }));\n});\n";
    let served = serve(&[("index.js", src)], &[]);
    let r = served.get("/sw/x");
    assert_eq!(r.status, 202, "{r}{served}");
    assert_eq!(r.text(), "sw GET /sw/x", "{r}{served}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{r}{served}"
    );
}

#[test]
fn deno_typescript_handler() {
    let src = "interface Reply { shape: string; runtime: string; method: string; rid: string }\n\
               type Ctx = { requestId: string };\n\
               export function handler(event: { httpMethod: string }, context: Ctx): Reply {\n\
               const runtime: string = 'Deno' in globalThis ? 'deno' : 'node';\n\
               return { shape: 'ts', runtime, method: event.httpMethod, rid: context.requestId } satisfies Reply;\n}\n";
    let expected = json!({"shape": "ts", "runtime": "deno", "method": "GET", "rid": "shape-rid"});
    answers(&[("index.ts", src)], &[], "/ts", expected);
}

#[test]
fn deno_fetch_style_typescript() {
    let src = format!(
        "export default {{\n  async fetch(request: Request): Promise<Response> {{\n\
         const url: URL = new URL(request.url);\n\
         if (url.pathname === '/bytes') return new Response({FETCH_BYTES_JS}, {{ headers: {{ 'content-type': 'application/octet-stream' }} }});\n\
         const body: string = await request.text();\n\
         const runtime = 'Deno' in globalThis ? 'deno' : 'node';\n\
         return Response.json({{ method: request.method, path: url.pathname, body, runtime }}, {{ status: 203 }});\n  }},\n}};\n"
    );
    let served = serve(&[("index.ts", &src)], &[]);
    let r = served.send(&Request::post("/deno/fetch").body("hello deno"));
    assert_eq!(r.status, 203, "{r}{served}");
    let expected =
        json!({"method": "POST", "path": "/deno/fetch", "body": "hello deno", "runtime": "deno"});
    assert_eq!(r.json(), expected, "{r}{served}");
    let r = served.get("/bytes");
    assert_eq!(r.status, 200, "{r}{served}");
    assert!(
        r.body == fetch_bytes(),
        "binary Response body changed on the way{r}{served}"
    );
}

#[test]
fn deno_runs_javascript_when_asked() {
    let src = "export function handler(event) {\n  return { runtime: 'Deno' in globalThis ? 'deno' : 'node', path: event.path };\n}\n";
    let env = [("FUNCTION_RUNTIME", "deno")];
    answers(
        &[("index.mjs", src)],
        &env,
        "/js",
        json!({"runtime": "deno", "path": "/js"}),
    );
}

#[test]
fn python_def_handler() {
    let src = "def handler(event, context):\n    \
               return {'shape': 'def', 'method': event['httpMethod'], 'rid': context.request_id}\n";
    answers(
        &[("main.py", src)],
        &[],
        "/py",
        json!({"shape": "def", "method": "GET", "rid": "shape-rid"}),
    );
}

#[test]
fn python_async_def_handler_runs_on_a_lasting_loop() {
    let src = "import asyncio\n\n\
               async def handler(event, context):\n    \
               await asyncio.sleep(0.05)\n    \
               return {'shape': 'async def', 'path': event['path'], 'rid': context.aws_request_id}\n";
    let served = answers(
        &[("main.py", src)],
        &[("FUNCTION_WORKERS", "1")],
        "/a1",
        json!({"shape": "async def", "rid": "shape-rid"}),
    );
    let r = served.get("/a2");
    assert_eq!(
        ok_json(&r, &served)["path"],
        "/a2",
        "a second call on the same worker{r}{served}"
    );
}

#[test]
fn python_handler_py_entry_with_a_custom_handler_name() {
    let src = "def handler(event, context):\n    return {'shape': 'wrong one'}\n\n\
               def entrypoint(event, context):\n    return {'shape': 'entrypoint', 'path': event['path']}\n";
    let env = [("FUNCTION_HANDLER", "entrypoint")];
    answers(
        &[("handler.py", src)],
        &env,
        "/e",
        json!({"shape": "entrypoint", "path": "/e"}),
    );
}
