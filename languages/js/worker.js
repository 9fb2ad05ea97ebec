// fnshim's JavaScript worker: one file that Node and Deno both run as it is. It owns the JS
// side of languages/PROTOCOL.md: connect to $FNSHIM_SOCKET, load the user's module once, find
// the handler (plain, Lambda callback or fetch style), run invocations concurrently, and keep
// the user's console output apart from the protocol. It knows nothing about triggers or API
// Gateway events: a fetch-style handler gets its `Request` from the plain request the shim sends.
// It has no `import` or `export` statement, so the same text is a CommonJS module and an ES
// module: fnshim writes it as worker.cjs for Node, which then starts a CommonJS function
// without its ES module loader (~10 ms), and as worker.mjs for Deno, whose CommonJS loader
// costs as much. User modules load with `require` (CommonJS under Node) or `import()`.
'use strict';

// Built-in modules, synchronously: `require` where this runs as CommonJS (Node), else
// `process.getBuiltinModule` (Deno, where this is an ES module).
const builtin = typeof require === 'function' ? require : (name) => globalThis.process.getBuiltinModule(name);
const net = builtin('node:net');
const process = builtin('node:process');
const { AsyncLocalStorage } = builtin('node:async_hooks');
const { Writable } = builtin('node:stream');
const { Buffer } = builtin('node:buffer');
const { pathToFileURL } = builtin('node:url');
const { format } = builtin('node:util');

const env = process.env;
const isDeno = typeof globalThis.Deno !== 'undefined';
const entry = env.FNSHIM_ENTRY;
const handlerName = env.FNSHIM_HANDLER || 'handler';
const current = new AsyncLocalStorage(); // the invocation the running code belongs to
const inflight = new Set();
const invocations = new Map(); // id → invocation, while its answer, stream or background work runs
const background = new Set(); // every invocation's waitUntil work, for the shutdown's wait
const fetchListeners = [];

const socket = net.connect({ path: env.FNSHIM_SOCKET, allowHalfOpen: true });
// What the worker writes in one turn of the event loop leaves in one writev: with 64 calls in
// flight, the answers to a batch of invoke lines cost one system call, not one each. Every
// write goes through here (order kept); flush() before any process.exit.
let corked = false;
const flush = () => {
  if (!corked) return;
  corked = false;
  socket.uncork();
};
const write = (text) => {
  if (!corked) {
    corked = true;
    socket.cork();
    (globalThis.setImmediate ?? ((f) => setTimeout(f, 0)))(flush);
  }
  return socket.write(text);
};
const send = (message) => write(JSON.stringify(message) + '\n');

// ---- isolation: console output during an invocation becomes `log` messages with its id --------

const realConsole = {};
for (const [method, level] of Object.entries({ debug: 'debug', log: 'info', info: 'info', warn: 'warn', error: 'error' })) {
  realConsole[method] = console[method].bind(console);
  console[method] = (...args) => {
    const invocation = current.getStore();
    if (invocation) send({ type: 'log', id: invocation.id, level, message: format(...args) });
    else realConsole[method](...args);
  };
}

// Service-worker style modules register themselves with addEventListener('fetch', …).
const originalAddEventListener = globalThis.addEventListener?.bind(globalThis);
globalThis.addEventListener = (type, listener, options) => {
  if (type === 'fetch') fetchListeners.push(listener);
  else originalAddEventListener?.(type, listener, options);
};

// ---- loading ----------------------------------------------------------------------------------

const problem = (errorType, errorMessage) => ({ errorType, errorMessage, stackTrace: [] });

async function load() {
  if (!isDeno && /\.([cm]?ts|tsx)$/.test(entry) && !process.features.typescript) {
    return { error: problem('UnsupportedRuntime',
      `Node ${process.version} cannot run TypeScript (${entry}): type stripping needs Node 22.6 or later ` +
      '(the fnshim/node image has one); set FUNCTION_RUNTIME=deno or compile it to JavaScript') };
  }
  let mod;
  try {
    mod = requireModule() ?? (await import(pathToFileURL(entry).href));
  } catch (err) {
    return { error: await importError(err) };
  }
  lifecycleModule = mod;
  const found = resolveHandler(mod);
  if (found) return { ...found, shutdown: shutdownHook(mod) };
  const names = new Set(Object.keys(mod).filter((name) => name !== 'module.exports'));
  if (mod.default && typeof mod.default === 'object') Object.keys(mod.default).forEach((name) => names.add(`default.${name}`));
  return { error: problem('HandlerNotFound', `${entry} has no export "${handlerName}" (nor a default export or a fetch handler); ` +
    (names.size ? `it exports: ${[...names].join(', ')}` : 'it exports nothing')) };
}

// CommonJS functions under Node: `require`, with the exports shaped as `import()` gives them.
// null when the file is an ES module (or this is Deno), which `import()` then loads.
function requireModule() {
  if (isDeno || /\.(mjs|[cm]?ts|tsx)$/.test(entry)) return null;
  let exports;
  try {
    exports = require(entry);
  } catch (err) {
    if (err?.code === 'ERR_REQUIRE_ESM' || err?.code === 'ERR_REQUIRE_ASYNC_MODULE') return null;
    throw err;
  }
  if (exports?.[Symbol.toStringTag] === 'Module') return exports; // require(esm) in newer Node
  return { ...exports, default: exports };
}

async function importError(err) {
  const error = errorOf(err);
  // Deno reports a syntax error as a TypeError whose message starts with "SyntaxError: ".
  const [, type, message] = /^(SyntaxError): ([^]*)$/.exec(error.errorMessage) ?? [];
  if (type) Object.assign(error, { errorType: type, errorMessage: message });
  // Node 20 drops the file and line of a syntax error in an ES module; `node --check` has them.
  if (!isDeno && err?.name === 'SyntaxError' && !String(err.stack).includes(entry)) {
    const { spawnSync } = await import('node:child_process');
    const { stderr } = spawnSync(process.execPath, ['--check', entry], { encoding: 'utf8' });
    if (stderr.startsWith(entry)) error.stackTrace.unshift(...stderr.split('\n\n')[0].split('\n'));
  }
  return error;
}

// Each shape becomes `{ run(message, context) → value | Promise<value>, input }`; `input` is what
// `ready` asks the shim to send for HTTP invocations (PROTOCOL.md): events, or plain requests.
function resolveHandler(mod) {
  if (env.FNSHIM_FUNCTION_TARGET) return functionsFramework(mod, env.FNSHIM_FUNCTION_TARGET);
  const byDefault = mod.default; // CommonJS module.exports arrives here too
  if (typeof mod[handlerName] === 'function') return plain(mod[handlerName]);
  if (typeof byDefault?.[handlerName] === 'function') return plain(byDefault[handlerName], byDefault);
  if (typeof byDefault === 'function' && handlerName === 'handler') return plain(byDefault);
  if (typeof byDefault?.fetch === 'function') return fetchStyle((request, ctx) => byDefault.fetch(request, env, ctx));
  if (fetchListeners.length) return fetchStyle(dispatchFetchEvent);
  return null;
}

const plain = (fn, self) => ({
  input: 'event',
  run: fn[STREAMIFIED]
    ? ({ event }, context, out) => streamify(fn, self, event, context, out)
    : ({ event }, context) => (fn.length >= 3 ? withCallback(fn, self, event, context) : fn.call(self, event, context)),
});

// Lambda's (event, context, callback): whichever comes first, the callback or a returned promise.
function withCallback(fn, self, event, context) {
  return new Promise((resolve, reject) => {
    const returned = fn.call(self, event, context, (err, result) => (err != null ? reject(err) : resolve(result)));
    if (typeof returned?.then === 'function') returned.then(resolve, reject);
  });
}

const fetchStyle = (respond) => ({
  input: 'request',
  run: async (message, context, out) => {
    const ctx = { ...context, passThroughOnException() {} };
    return toResult(await respond(toRequest(message), ctx), out);
  },
});

function dispatchFetchEvent(request, ctx) {
  return new Promise((resolve, reject) => {
    let responded = false;
    const event = { type: 'fetch', request, waitUntil: ctx.waitUntil, passThroughOnException() {},
      respondWith(response) { responded = true; resolve(response); } };
    for (const listener of fetchListeners) typeof listener === 'function' ? listener(event) : listener.handleEvent(event);
    if (!responded) reject(new Error('no fetch listener called event.respondWith()'));
  });
}

// ---- fetch style: plain request → Request, Response → HTTP result ----------------------------

// An HTTP invocation carries the request as the shim describes it (src/event/ owns that shape);
// a raw event reaches a fetch handler as a JSON POST to /invoke.
function toRequest({ kind, event, request }) {
  if (kind !== 'http') {
    return new Request('http://localhost/invoke',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
  }
  if (!request) throw new TypeError('the shim sent no request for a fetch-style handler');
  const { method, url, headers, body, isBase64Encoded } = request;
  const bytes = body == null ? undefined : isBase64Encoded ? Buffer.from(body, 'base64') : body;
  return new Request(url, { method, headers, body: bytes });
}

const TEXTUAL = /^text\/|json|xml|javascript|x-www-form-urlencoded|charset=/i;

// A body that is all there (a string, a buffer) becomes one result; one still being produced
// (a ReadableStream that waits) is streamed from its first chunk that is not ready at once.
async function toResult(response, out) {
  if (typeof response?.arrayBuffer !== 'function' || !response.headers) {
    throw new TypeError(`the fetch handler must return a Response, not ${describe(response)}`);
  }
  const headers = {};
  for (const [name, value] of response.headers) if (name !== 'set-cookie') headers[name] = value;
  const result = { statusCode: response.status, headers };
  const cookies = response.headers.getSetCookie();
  if (cookies.length) result.multiValueHeaders = { 'set-cookie': cookies };
  const read = await readAtOnce(response.body);
  if (read.later) {
    out.status = response.status;
    out.headers = [...response.headers];
    return pipeBody(out, read);
  }
  const bytes = Buffer.concat(read.chunks);
  const text = bytes.length === 0 || TEXTUAL.test(response.headers.get('content-type') ?? '') ? utf8(bytes) : undefined;
  return { ...result, body: text ?? Buffer.from(bytes).toString('base64'), isBase64Encoded: text === undefined };
}

function utf8(bytes) {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined; // not UTF-8: the caller sends base64
  }
}

const describe = (value) => (value === null ? 'null' : typeof value === 'object' ? value.constructor?.name ?? 'object' : typeof value);

// ---- streamed answers: head, chunks, end (PROTOCOL.md) ------------------------------------------

const STREAMED = Symbol('fnshim.streamed'); // what run() returns once it sent its answer as a stream
const STREAMIFIED = Symbol('fnshim.streamifyResponse');
const LATER = Symbol('fnshim.later');

// Lambda's response streaming API, as the Node runtime provides it.
globalThis.awslambda ??= {
  streamifyResponse(fn) {
    fn[STREAMIFIED] = true;
    return fn;
  },
  HttpResponseStream: {
    from(stream, prelude = {}) {
      const out = stream.fnshimOut;
      out.status = prelude.statusCode ?? 200;
      out.headers = Object.entries(prelude.headers ?? {}).map(([name, value]) => [name, String(value)]);
      for (const cookie of prelude.cookies ?? []) out.headers.push(['set-cookie', cookie]);
      return stream;
    },
  },
};

// One invocation's stream: the head goes out before the first chunk (or with the end).
function sink(id) {
  const out = { status: 200, headers: [['content-type', 'application/octet-stream']], started: false, cancel() {} };
  out.begin = () => {
    if (out.started) return;
    out.started = true;
    send({ type: 'head', id, statusCode: out.status, headers: out.headers });
  };
  // false: the socket's buffer is full (wait for 'drain' before writing more)
  out.write = (chunk) => {
    out.begin();
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer ?? chunk, chunk.byteOffset, chunk.byteLength);
    if (bytes.length === 0) return true;
    const text = utf8(bytes);
    return send(text === undefined ? { type: 'chunk', id, data: bytes.toString('base64'), base64: true } : { type: 'chunk', id, data: text });
  };
  return out;
}

const drained = () => new Promise((resolve) => socket.once('drain', resolve));

// Reads what a body has ready now; `later` is the first read that has to wait.
// What is already there comes before an immediate; a body whose source waits on a timer or I/O
// does not (setTimeout(0) was not enough: on Node 24 a source's own 1 ms timer fired first, every
// time, and an endless stream was buffered whole). Past 1 MiB it is a stream anyway.
const immediately = globalThis.setImmediate ? (f) => setImmediate(f) : (f) => setTimeout(f, 0);
const AT_ONCE_MAX = 1 << 20;

async function readAtOnce(body) {
  const chunks = [];
  if (!body) return { chunks };
  const reader = body.getReader();
  for (let size = 0; ;) {
    const read = reader.read();
    if (size > AT_ONCE_MAX) return { chunks, reader, later: read };
    const soon = new Promise((resolve) => immediately(() => resolve(LATER)));
    const next = await Promise.race([read, soon]);
    if (next === LATER) return { chunks, reader, later: read };
    if (next.done) return { chunks };
    chunks.push(next.value);
    size += next.value.byteLength ?? next.value.length ?? 0;
  }
}

async function pipeBody(out, { chunks, reader, later }) {
  out.cancel = () => reader.cancel().catch(() => {});
  out.begin();
  for (const chunk of chunks) out.write(chunk);
  for (let next = await later; !next.done; next = await reader.read()) {
    if (!out.write(next.value)) await drained();
  }
  return STREAMED;
}

// awslambda.streamifyResponse(async (event, responseStream, context) => …): the answer is over
// when the handler has returned and the stream has finished (it is ended for a handler that
// returns without ending it).
function streamify(fn, self, event, context, out) {
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      if (out.write(chunk)) callback();
      else drained().then(() => callback());
    },
  });
  stream.fnshimOut = out;
  stream.setContentType = (type) => {
    out.headers = out.headers.filter(([name]) => name.toLowerCase() !== 'content-type').concat([['content-type', type]]);
  };
  out.cancel = () => stream.destroy();
  const finished = new Promise((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  return Promise.resolve(fn.call(self, event, stream, context)).then(() => {
    if (!stream.writableEnded) stream.end();
    return finished;
  }).then(() => STREAMED);
}

// ---- background work: context.waitUntil(promise) -----------------------------------------------

// The answer goes out at once; the shim keeps the worker's place until `done`.
function waitUntil(invocation, promise) {
  const task = Promise.resolve(promise).then(() => {}, (err) => {
    if (invocation.over) realConsole.error(`fnshim worker: background work of ${invocation.requestId} failed after its invocation ended:`, err);
    else invocation.errors.push(errorOf(err));
  });
  if (invocation.over) return; // too late to hold the slot: it runs on, and a failure is logged
  invocation.background.add(task);
  background.add(task);
  task.finally(() => {
    invocation.background.delete(task);
    background.delete(task);
    if (invocation.answered && invocation.background.size === 0) over(invocation);
  });
}

function over(invocation) {
  if (invocation.over) return;
  invocation.over = true;
  invocations.delete(invocation.id);
  if (invocation.background.size === 0 && invocation.sentBackground) {
    send({ type: 'done', id: invocation.id, errors: invocation.errors });
  }
}

// ---- invocations ------------------------------------------------------------------------------

function makeContext(invocation, c) {
  const id = invocation.id;
  const log = (level) => (...args) => send({ type: 'log', id, level, message: format(...args) });
  return {
    ...c,
    waitUntil: (promise) => waitUntil(invocation, promise),
    awsRequestId: c.requestId,
    getRemainingTimeInMillis: () => Math.max(0, (c.deadlineMs ?? Infinity) - Date.now()),
    log: log('info'),
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    callbackWaitsForEmptyEventLoop: true, // accepted for Lambda code, ignored
  };
}

// _X_AMZN_TRACE_ID (Lambda's X-Ray convention) holds the trace of the invocation running: the
// latest started of those in flight when several run at once (FUNCTION_CONCURRENCY > 1, where
// context.traceId and context.amznTraceId are the reliable ones), and the worker's own value
// (unset unless inherited) between invocations.
const ownTrace = env._X_AMZN_TRACE_ID;
const traces = [];

function traceStarts(context) {
  const trace = { value: context.amznTraceId ?? context.traceId };
  if (trace.value) traces.push(trace);
  if (traces.length) env._X_AMZN_TRACE_ID = traces[traces.length - 1].value;
  return trace;
}

function traceEnds(trace) {
  const at = traces.indexOf(trace);
  if (at < 0) return;
  traces.splice(at, 1);
  const value = traces.length ? traces[traces.length - 1].value : ownTrace;
  if (value === undefined) delete env._X_AMZN_TRACE_ID;
  else env._X_AMZN_TRACE_ID = value;
}

function invoke(run, message) {
  const { id, context = {} } = message;
  const trace = traceStarts(context);
  const invocation = { id, requestId: context.requestId, background: new Set(), errors: [], answered: false, over: false };
  const out = sink(id);
  invocation.out = out;
  invocation.cancel = () => out.cancel();
  invocations.set(id, invocation);
  const done = new Promise((resolve, reject) => {
    invocation.fail = reject; // an uncaught error raised on this invocation's behalf fails it
    // not resolve(promise): that would lock `done` and ignore a later fail()
    current.run(invocation, () => Promise.resolve(run(message, makeContext(invocation, context), out)).then(resolve, reject));
  });
  inflight.add(done);
  done.then((value) => answer(invocation, value), (err) => finish(invocation, { type: 'error', id, error: errorOf(err) }))
    .finally(() => {
      traceEnds(trace);
      inflight.delete(done);
      invocation.fail = (err) => console.error('Uncaught after the invocation ended:', err); // a log line with its id
    });
}

function answer(invocation, value) {
  const id = invocation.id;
  if (value === STREAMED) {
    invocation.out.begin(); // a stream that wrote nothing still has its head
    return finish(invocation, { type: 'end', id });
  }
  let line;
  try {
    line = JSON.stringify({ type: 'result', id, result: value === undefined ? null : value });
  } catch (err) {
    return finish(invocation, { type: 'error', id, error: problem(err.name, `the result is not serializable as JSON: ${err.message}`) });
  }
  finish(invocation, line);
}

// The invocation's last answer (result, error or end), flagged when background work runs on.
function finish(invocation, message) {
  invocation.answered = true;
  invocation.sentBackground = invocation.background.size > 0;
  let line = typeof message === 'string' ? message : JSON.stringify(message);
  if (invocation.sentBackground) line = line.slice(0, -1) + ',"background":true}';
  write(line + '\n');
  if (!invocation.sentBackground) over(invocation);
}

// E of the protocol from anything a handler can throw: Errors, strings, plain objects.
function errorOf(err) {
  if (err === null || typeof err !== 'object') return problem('Error', String(err));
  const errorType = (err.name && err.name !== 'Error' ? String(err.name) : err instanceof Error && err.constructor?.name) || 'Error';
  let errorMessage = 'message' in err ? String(err.message) : undefined;
  try {
    errorMessage ??= JSON.stringify(err);
  } catch {
    errorMessage = String(err);
  }
  const stackTrace = typeof err.stack === 'string' ? err.stack.split('\n').filter((line) => line.trim()) : [];
  return { errorType, errorMessage, stackTrace };
}

// ---- life of the worker -----------------------------------------------------------------------

function onUncaught(err) {
  const invocation = current.getStore();
  if (invocation) return invocation.fail(err);
  realConsole.error('fnshim worker: uncaught error outside any invocation:', err);
  flush();
  process.exit(1); // the shim restarts the worker and fails its in-flight calls
}

let closing = false;
function exitWith(code) {
  closing = true;
  flush();
  socket.end(() => process.exit(code));
  setTimeout(() => process.exit(code), 500);
}

// ---- shutdown: the calls and their background work end, then the module's `shutdown` hook -------

let exitBy = null; // the shim's deadline (its `shutdown` message), in ms since the epoch
let hook = null;

function shutdownHook(mod) {
  if (typeof mod.shutdown === 'function') return () => mod.shutdown();
  if (typeof mod.default?.shutdown === 'function') return () => mod.default.shutdown();
  return null;
}

// Resolves with `promise`, or with LATER after `ms`.
function within(promise, ms) {
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, ms), LATER)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function shutdown() {
  if (closing) return;
  closing = true;
  const fallback = Date.now() + 1000; // no deadline came (an older shim)
  const left = () => (exitBy ?? fallback) - Date.now();
  while ((inflight.size || background.size) && left() > 0) {
    await within(Promise.allSettled([...inflight, ...background]), left());
  }
  if (hook) {
    try {
      const ended = await within(Promise.resolve().then(hook), left());
      if (ended === LATER) realConsole.error('fnshim worker: the shutdown hook did not finish within SHUTDOWN_TIMEOUT');
    } catch (err) {
      realConsole.error('fnshim worker: the shutdown hook failed:', err);
    }
  }
  exitWith(0);
}

function listen(run) {
  let pending = ''; // an incomplete line; lines may be megabytes long and arrive in pieces
  socket.on('data', (chunk) => {
    const lines = chunk.split('\n');
    lines[0] = pending + lines[0];
    pending = lines.pop();
    for (const line of lines) if (line.trim()) onMessage(run, line);
  });
}

// ---- Google Cloud Functions: Functions Framework signatures -----------------------------------
// With FNSHIM_FUNCTION_TARGET (FUNCTION_TARGET), the target is a function registered with the
// Framework (`functions.http(name, fn)`, `functions.cloudEvent(name, fn)`: read back from the
// Framework's own registry, as the user's code filled it) or an export (`exports.fn`), with
// FNSHIM_SIGNATURE_TYPE. `http` gets Express-style `(req, res)` built from the plain request;
// `cloudevent` gets the CloudEvent.

function functionsFramework(mod, target) {
  const registered = registeredFunction(target);
  const fn = registered?.userFunction ?? mod[target] ?? mod.default?.[target];
  if (typeof fn !== 'function') return null;
  const signature = registered?.signatureType ?? env.FNSHIM_SIGNATURE_TYPE ?? 'http';
  if (signature === 'cloudevent') return { input: 'event', run: ({ event }) => Promise.resolve(fn(event)).then(() => null) };
  return { input: 'request', run: (message) => runExpressStyle(fn, message.request ?? invokeRequest(message.event)) };
}

function registeredFunction(target) {
  try {
    const requireHere = builtin('node:module').createRequire(entry);
    const main = requireHere.resolve('@google-cloud/functions-framework');
    const registry = requireHere(builtin('node:path').join(builtin('node:path').dirname(main), 'function_registry.js'));
    return registry.getRegisteredFunction?.(target) ?? null;
  } catch {
    return null; // no Framework installed: a plain export
  }
}

// A raw event (a timer, /invoke) reaches an HTTP function as a JSON POST, as the Framework would get it.
const invokeRequest = (event) => ({ method: 'POST', url: 'http://localhost/invoke', headers: [['content-type', 'application/json']],
  body: JSON.stringify(event ?? null), isBase64Encoded: false });

function runExpressStyle(fn, q) {
  return new Promise((resolve, reject) => {
    const req = expressRequest(q);
    if (req === null) return resolve({ statusCode: 400, headers: { 'content-type': 'text/plain' }, body: 'Bad Request: the body is not valid JSON' });
    const res = expressResponse(resolve);
    try {
      const returned = fn(req, res);
      if (typeof returned?.then === 'function') returned.then(undefined, reject);
    } catch (err) {
      reject(err);
    }
  });
}

// The request as Express (which the Framework uses) shows it: query, headers, parsed body, rawBody.
function expressRequest(q) {
  const url = new URL(q.url);
  const headers = {};
  for (const [name, value] of q.headers) headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  const rawBody = q.body == null ? Buffer.alloc(0) : Buffer.from(q.body, q.isBase64Encoded ? 'base64' : 'utf8');
  const type = (headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  let body = {};
  if (/[/+]json$/.test(type) && rawBody.length) {
    try { body = JSON.parse(rawBody.toString('utf8')); } catch { return null; }
  } else if (type.startsWith('text/')) body = rawBody.toString('utf8');
  else if (type === 'application/x-www-form-urlencoded') body = Object.fromEntries(new URLSearchParams(rawBody.toString('utf8')));
  else if (rawBody.length) body = rawBody;
  const query = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? [].concat(query[k], v) : v;
  const get = (name) => headers[String(name).toLowerCase()];
  return { method: q.method, url: url.pathname + url.search, originalUrl: url.pathname + url.search, path: url.pathname,
    query, headers, body, rawBody, get, header: get, protocol: url.protocol.slice(0, -1), hostname: url.hostname,
    ip: (headers['x-forwarded-for'] || '').split(',')[0].trim() || undefined, params: {} };
}

// The parts of Express's response functions use; the answer is complete at end/send/json.
function expressResponse(resolve) {
  const headers = {};
  const chunks = [];
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    res.headersSent = true;
    resolve({ statusCode: res.statusCode, headers, body: Buffer.concat(chunks).toString('base64'), isBase64Encoded: true });
  };
  const short = { json: 'application/json', html: 'text/html', text: 'text/plain', txt: 'text/plain' };
  const res = {
    statusCode: 200, headersSent: false, locals: {},
    status(code) { res.statusCode = code; return res; },
    set(name, value) {
      if (typeof name === 'object') for (const k of Object.keys(name)) res.set(k, name[k]);
      else headers[name.toLowerCase()] = String(value);
      return res;
    },
    header: (name, value) => res.set(name, value),
    setHeader: (name, value) => res.set(name, value),
    append(name, value) { const k = name.toLowerCase(); headers[k] = headers[k] ? `${headers[k]}, ${value}` : String(value); return res; },
    get: (name) => headers[name.toLowerCase()],
    getHeader: (name) => headers[name.toLowerCase()],
    removeHeader(name) { delete headers[name.toLowerCase()]; },
    type: (t) => res.set('content-type', short[t] ?? t),
    writeHead(code, more) { res.statusCode = code; if (more) res.set(more); return res; },
    write(chunk) { chunks.push(Buffer.from(chunk)); return true; },
    end(chunk) { if (chunk != null) chunks.push(Buffer.from(chunk)); finish(); return res; },
    json(value) {
      if (!headers['content-type']) res.set('content-type', 'application/json; charset=utf-8');
      return res.end(JSON.stringify(value));
    },
    send(body) {
      if (body == null) return res.end();
      if (typeof body === 'object' && !Buffer.isBuffer(body) && !(body instanceof Uint8Array)) return res.json(body);
      if (!headers['content-type']) res.set('content-type', typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/octet-stream');
      return res.end(typeof body === 'string' ? body : Buffer.from(body));
    },
    sendStatus(code) { res.statusCode = code; return res.type('text').end(builtin('node:http').STATUS_CODES[code] ?? String(code)); },
    redirect(a, b) { const [code, location] = b === undefined ? [302, a] : [a, b]; res.statusCode = code; res.set('location', location); return res.end(); },
    on() { return res; },
    once() { return res; },
  };
  return res;
}

// ---- Function Compute lifecycle hooks: initializer, preStop, preFreeze ------------------------
// The exported initializer (FNSHIM_INITIALIZER, default `initializer`) runs once, before this
// worker says `ready`, so no invocation ever runs before it; a throw is the worker's init_error.
// `pre-stop` and `pre-freeze` invocations call the exported preStop / preFreeze (nothing when
// the module has none). FC's `(context, callback)` style and promises both work.

let lifecycleModule = null;

function lifecycleExport(name) {
  const mod = lifecycleModule;
  if (typeof mod?.[name] === 'function') return mod[name];
  if (typeof mod?.default?.[name] === 'function') return mod.default[name].bind(mod.default);
  return null;
}

function callHook(fn, context) {
  if (fn.length < 2) return fn(context);
  return new Promise((resolve, reject) => {
    const returned = fn(context, (err, result) => (err != null ? reject(err) : resolve(result)));
    if (typeof returned?.then === 'function') returned.then(resolve, reject);
  });
}

async function runInitializer() {
  const name = env.FNSHIM_INITIALIZER || 'initializer';
  const init = lifecycleExport(name);
  if (!init) return null;
  const context = { requestId: 'initializer', functionName: env.FNSHIM_FUNCTION_NAME ?? null, triggerType: 'initialize',
    log: (...args) => realConsole.log(...args), logger: realConsole };
  try {
    await callHook(init, context);
    return null;
  } catch (err) {
    const error = errorOf(err);
    return { ...error, errorMessage: `the initializer ${name} threw: ${error.errorMessage}` };
  }
}

// The run function of a lifecycle invocation, or null for any other kind.
function lifecycleRun(kind) {
  const name = { 'pre-stop': 'preStop', 'pre-freeze': 'preFreeze' }[kind];
  if (!name) return null;
  return (message, context) => {
    const hook = lifecycleExport(name);
    return hook ? callHook(hook, context) : null;
  };
}

function onMessage(run, line) {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    return realConsole.error(`fnshim worker: ignoring a line that is not JSON: ${line.slice(0, 200)}`);
  }
  if (message.type === 'ping') send({ type: 'pong', id: message.id });
  else if (message.type === 'invoke') invoke(lifecycleRun(message.kind) ?? run, message);
  else if (message.type === 'cancel') invocations.get(message.id)?.cancel();
  else if (message.type === 'shutdown') exitBy = message.deadlineMs;
  else realConsole.error(`fnshim worker: ignoring a message of type ${message.type}`);
}

process.on('uncaughtException', onUncaught);
process.on('unhandledRejection', onUncaught);
// The shim follows its SIGTERM with the end of the socket, which starts the shutdown: the signal
// alone must not end the worker before its calls and its hook are done.
process.on('SIGTERM', () => {});
socket.setEncoding('utf8');
let connected = false;
socket.on('connect', () => (connected = true));
socket.on('error', (err) => {
  if (!connected) {
    realConsole.error(`fnshim worker: cannot connect to ${env.FNSHIM_SOCKET}: ${err.message}`);
    process.exit(1);
  }
});
socket.on('end', shutdown);
socket.on('close', shutdown);

send({ type: 'hello', worker: Number(env.FNSHIM_WORKER), runtime: isDeno ? 'deno' : 'node',
  version: isDeno ? globalThis.Deno.version.deno : process.version, pid: process.pid });
load().then(async (loaded) => {
  const error = loaded.error ?? (await runInitializer());
  if (error) {
    send({ type: 'init_error', error });
    exitWith(1);
  } else {
    hook = loaded.shutdown;
    send(loaded.input === 'request' ? { type: 'ready', input: 'request' } : { type: 'ready' });
    listen(loaded.run);
  }
});
