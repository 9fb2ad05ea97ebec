"""fnshim worker adapter for Python (stdlib only, Python >= 3.8).

Speaks the protocol in ../PROTOCOL.md: connects to $FNSHIM_SOCKET, says hello, loads
$FNSHIM_ENTRY once, finds $FNSHIM_HANDLER, says ready (or init_error and exits 1), then
answers one `invoke` line at a time. A call runs synchronously in the main thread, so a
handler stuck in sync code cannot answer `ping`: that is how the shim finds it. `async def`
handlers run on one persistent event loop. The socket is the only protocol channel;
stdout and stderr belong to the function. Run as `python3 -u worker.py`.
"""

import base64
import collections
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import types

_HERE = os.path.dirname(os.path.abspath(__file__))
# asyncio's folder, known without importing it: the import costs ~40 ms of start-up, so it
# happens only when the first async handler runs.
_ASYNCIO = os.path.join(os.path.dirname(os.__file__), "asyncio")
_LOOP = None
_MODULE = None  # the user's module, for its `shutdown` hook


def _event_loop():
    """The one persistent event loop for async handlers, made on first use."""
    global _LOOP
    if _LOOP is None:
        import asyncio

        _LOOP = asyncio.new_event_loop()
        asyncio.set_event_loop(_LOOP)
    return _LOOP


class HandlerNotFound(Exception):
    """The entry module does not export the configured handler."""


class Channel:
    """Newline-delimited JSON over the shim's Unix socket."""

    def __init__(self, path):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._reader = self._sock.makefile("rb")
        self._lock = threading.Lock()  # handlers may log from their own threads
        self._early = collections.deque()  # messages read while a stream ran
        self.deadline_ms = None  # when the shim's `shutdown` says the worker must have exited

    def send(self, message):
        line = (json.dumps(message, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        with self._lock:
            self._sock.sendall(line)

    def __iter__(self):
        while True:
            while self._early:
                yield self._early.popleft()
            line = self._reader.readline()  # without a length limit
            if not line:
                return
            if line.strip():
                yield json.loads(line)

    def cancelled(self, invocation_id):
        """Whether the shim cancelled stream `invocation_id`: reads what it sent meanwhile
        without waiting, answers pings, and keeps other messages for the main loop."""
        while select.select([self._sock], [], [], 0)[0]:
            line = self._reader.readline()
            if not line:
                return False  # end of file: the main loop sees it next
            message = json.loads(line) if line.strip() else {}
            kind = message.get("type")
            if kind == "cancel" and message.get("id") == invocation_id:
                return True
            if kind == "ping":
                self.send({"type": "pong", "id": message.get("id")})
            elif kind != "cancel" and message:
                self._early.append(message)
        return False


class Logger:
    """`context.logger`: lines go to the shim tagged with the invocation id."""

    def __init__(self, channel, invocation_id):
        self._channel, self._id = channel, invocation_id

    def _log(self, level, message, *args):
        text = str(message) % args if args else str(message)
        self._channel.send({"type": "log", "id": self._id, "level": level, "message": text})

    def debug(self, message, *args):
        self._log("debug", message, *args)

    def info(self, message, *args):
        self._log("info", message, *args)

    def warning(self, message, *args):
        self._log("warning", message, *args)

    def error(self, message, *args):
        self._log("error", message, *args)


class Context:
    """The invocation context, with Lambda-style names."""

    def __init__(self, channel, invocation_id, fields):
        self.request_id = self.aws_request_id = fields.get("requestId", invocation_id)
        self.function_name = fields.get("functionName")
        self.function_version = fields.get("functionVersion")
        self.memory_limit_in_mb = fields.get("memoryLimitInMB")
        self.deadline_ms = fields.get("deadlineMs")
        self.trigger_type = fields.get("triggerType")
        self.invoked_function_arn = fields.get("invokedFunctionArn")
        self.client_context = fields.get("clientContext")
        self.identity = fields.get("identity")
        self.trace_id = fields.get("traceId")
        self.traceparent = fields.get("traceparent")
        self.tracestate = fields.get("tracestate")
        self.amzn_trace_id = fields.get("amznTraceId")
        self.logger = Logger(channel, invocation_id)
        _fc_fields(self, fields)
        self._background = []  # wait_until's work, run after the answer

    def wait_until(self, work):
        """Runs `work` (an awaitable, or a callable) after the response is sent; the worker
        stays busy with it, and a failure is logged with the request id."""
        if hasattr(type(work), "__await__"):
            import asyncio

            work = asyncio.ensure_future(work, loop=_event_loop())  # starts with the handler
        elif not callable(work):
            raise TypeError(f"wait_until takes an awaitable or a callable, not {type(work).__name__}")
        self._background.append(work)

    def get_remaining_time_in_millis(self):
        if self.deadline_ms is None:
            return None
        return max(0, int(self.deadline_ms - time.time() * 1000))

    def __repr__(self):
        return f"Context(request_id={self.request_id!r}, function_name={self.function_name!r})"


def _internal(filename):
    return filename == __file__ or filename.startswith(("<frozen ", _ASYNCIO))


def error_of(exc):
    """An exception as the protocol's E: class name, message, and the user's frames."""
    import traceback  # only when something failed: it costs ~3 ms at start-up

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _internal(f.filename)]
    lines = traceback.format_list(frames)
    if isinstance(exc, SyntaxError):  # where the bad line is, with its caret
        lines += traceback.format_exception_only(type(exc), exc)[:-1]
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": "".join(lines).splitlines(),
    }


def load_handler(entry, name):
    """Import the entry file as a module named after its stem and return its handler."""
    folder = os.path.dirname(entry)
    extra = [p for p in os.environ.get("FNSHIM_PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [folder, *extra] + [p for p in sys.path if p not in (_HERE, folder)]

    module_name = os.path.splitext(os.path.basename(entry))[0]
    spec = importlib.util.spec_from_file_location(module_name, entry)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    global _MODULE
    _MODULE = module

    handler = getattr(module, name, None)
    if not callable(handler):
        exported = sorted(
            key for key, value in vars(module).items()
            if callable(value) and not key.startswith("_")
            and getattr(value, "__module__", None) == module_name
        )
        problem = "is not callable" if hasattr(module, name) else "is not defined"
        raise HandlerNotFound(
            f"handler {name!r} {problem} in {entry}; "
            f"it exports: {', '.join(exported) or 'no functions'}"
        )
    return handler


class _TraceInEnviron:
    """Lambda's X-Ray convention: _X_AMZN_TRACE_ID is the invocation's trace while it runs
    (one call at a time, so always the running one's), and the worker's own value after."""

    def __init__(self, trace):
        self._trace, self._own = trace, os.environ.get("_X_AMZN_TRACE_ID")

    def __enter__(self):
        if self._trace:
            os.environ["_X_AMZN_TRACE_ID"] = self._trace

    def __exit__(self, *_):
        if self._own is None:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        else:
            os.environ["_X_AMZN_TRACE_ID"] = self._own


class _TaggedOutput:
    """sys.stdout or sys.stderr, installed once before the module loads: while an invocation
    runs, each line written (print, write, a logging handler on the stream) becomes a `log`
    message with its id, as console.* does in JS, so that the shim knows it as that
    invocation's line; otherwise, and for everything but writing text, the real stream."""

    current = None  # (channel, invocation id) of the running invocation

    def __init__(self, real, level):
        self._real, self._level = real, level
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text):
        current = _TaggedOutput.current
        if current is None:
            return self._real.write(text)
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            *lines, partial = (self._partial + text).split("\n")
            # Text without a newline goes in pieces of at most 1 MiB of UTF-8, as the shim
            # logs a worker's stdout.
            whole = len(partial) - len(partial) % _PIECE
            lines += [partial[i:i + _PIECE] for i in range(0, whole, _PIECE)]
            self._partial = partial[whole:]
        for line in lines:
            self._send(current, line)
        return len(text)

    def _send(self, current, line):
        channel, invocation_id = current
        channel.send({"type": "log", "id": invocation_id, "level": self._level, "message": line})

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if _TaggedOutput.current is None:
            self._real.flush()

    def end(self, current):
        """The invocation is over: a last line without its newline is still its own."""
        with self._lock:
            partial, self._partial = self._partial, ""
        if partial:
            self._send(current, partial)

    def __getattr__(self, name):  # encoding, fileno, isatty, buffer ...
        return getattr(self._real, name)


_OUTPUTS = []  # the two _TaggedOutput, once installed
_PIECE = 256 * 1024  # characters: at most 1 MiB of UTF-8


def _tag_output():
    """Installs the tagging sys.stdout and sys.stderr (before the user's module loads)."""
    _OUTPUTS[:] = [_TaggedOutput(sys.stdout, "info"), _TaggedOutput(sys.stderr, "error")]
    sys.stdout, sys.stderr = _OUTPUTS


class _OutputTagged:
    """While in it, print and sys.stdout / sys.stderr lines are the invocation's log lines."""

    def __init__(self, channel, invocation_id):
        self._current = (channel, invocation_id)

    def __enter__(self):
        _TaggedOutput.current = self._current

    def __exit__(self, *_):
        _TaggedOutput.current = None
        for output in _OUTPUTS:
            output.end(self._current)


def invoke(channel, handler, message):
    """Run one invocation and answer it with exactly one result or error (or a stream), then
    run its background work."""
    invocation_id = message["id"]
    context = Context(channel, invocation_id, message.get("context") or {})
    try:
        with _TraceInEnviron(context.amzn_trace_id or context.trace_id), _OutputTagged(channel, invocation_id):
            result = handler(message.get("event"), context)
            if hasattr(type(result), "__await__"):  # a coroutine or other awaitable
                result = _event_loop().run_until_complete(result)
            if isinstance(result, (types.GeneratorType, types.AsyncGeneratorType)):
                last = stream(channel, invocation_id, result)
            else:
                last = {"type": "result", "id": invocation_id, "result": result}
    except Exception as exc:
        last = {"type": "error", "id": invocation_id, "error": error_of(exc)}
    if context._background:
        last["background"] = True
    try:
        channel.send(last)
    except (TypeError, ValueError) as exc:  # not JSON: say so instead of guessing
        error = {
            "errorType": "ResultNotSerializable",
            "errorMessage": f"the handler returned a {type(result).__name__} that is not JSON: {exc}",
            "stackTrace": [],
        }
        fallback = {"type": "error", "id": invocation_id, "error": error}
        channel.send({**fallback, "background": True} if context._background else fallback)
    if context._background:
        with _OutputTagged(channel, invocation_id):
            errors = run_background(context)
        channel.send({"type": "done", "id": invocation_id, "errors": errors})


def run_background(context):
    """Runs the invocation's wait_until work in order; returns the errors of what failed."""
    errors = []
    while context._background:
        work = context._background.pop(0)
        try:
            result = work if not callable(work) else work()
            if hasattr(type(result), "__await__"):
                _event_loop().run_until_complete(result)
        except Exception as exc:
            errors.append(error_of(exc))
    return errors


def stream(channel, invocation_id, items):
    """A generator's items as a streamed answer: a first dict with `statusCode` is the head,
    the rest are body chunks (str or bytes). Returns the last message, `end`."""
    if isinstance(items, types.AsyncGeneratorType):
        loop = _event_loop()
        step, stop, close = (lambda: loop.run_until_complete(items.__anext__()),
                             StopAsyncIteration, lambda: loop.run_until_complete(items.aclose()))
    else:
        step, stop, close = (lambda: next(items)), StopIteration, items.close
    head = {"statusCode": 200, "headers": [["content-type", "application/octet-stream"]]}
    started = False
    while not (started and channel.cancelled(invocation_id)):
        try:
            item = step()
        except stop:
            break
        if not started:
            started = True
            if isinstance(item, dict) and "statusCode" in item:
                channel.send({"type": "head", "id": invocation_id, **stream_head(item)})
                continue
            channel.send({"type": "head", "id": invocation_id, **head})
        channel.send(stream_chunk(invocation_id, item))
    else:
        close()  # cancelled: the generator's finally blocks run
    if not started:
        channel.send({"type": "head", "id": invocation_id, **head})
    return {"type": "end", "id": invocation_id}


def stream_head(item):
    headers = []
    for name, value in (item.get("headers") or {}).items():
        for one in value if isinstance(value, (list, tuple)) else [value]:
            headers.append([str(name), str(one)])
    headers += [["set-cookie", str(cookie)] for cookie in item.get("cookies") or []]
    return {"statusCode": item["statusCode"], "headers": headers}


def stream_chunk(invocation_id, item):
    if isinstance(item, str):
        return {"type": "chunk", "id": invocation_id, "data": item}
    if not isinstance(item, (bytes, bytearray, memoryview)):
        raise TypeError(f"a streamed body chunk must be str or bytes, not {type(item).__name__}")
    try:
        return {"type": "chunk", "id": invocation_id, "data": bytes(item).decode("utf-8")}
    except UnicodeDecodeError:
        data = base64.b64encode(bytes(item)).decode("ascii")
        return {"type": "chunk", "id": invocation_id, "data": data, "base64": True}


def run_shutdown_hook(deadline_ms):
    """The module's `shutdown()` (sync or async), within the shim's deadline; its output is
    the worker's, logged by fnshim."""
    hook = getattr(_MODULE, "shutdown", None)
    if not callable(hook):
        return
    deadline = deadline_ms / 1000 if deadline_ms else time.time() + 1
    import asyncio

    if asyncio.iscoroutinefunction(hook):
        left = max(0.0, deadline - time.time())
        try:
            _event_loop().run_until_complete(asyncio.wait_for(hook(), left))
        except asyncio.TimeoutError:
            print("fnshim worker: the shutdown hook did not finish within SHUTDOWN_TIMEOUT", file=sys.stderr)
        except Exception as exc:
            print(f"fnshim worker: the shutdown hook failed: {exc!r}", file=sys.stderr)
        return
    runner = threading.Thread(target=_call_hook, args=(hook,), daemon=True)
    runner.start()
    runner.join(max(0.0, deadline - time.time()))
    if runner.is_alive():
        print("fnshim worker: the shutdown hook did not finish within SHUTDOWN_TIMEOUT", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # the hook's thread cannot be stopped


def _call_hook(hook):
    try:
        hook()
    except Exception as exc:
        print(f"fnshim worker: the shutdown hook failed: {exc!r}", file=sys.stderr)


# ---- Google Cloud Functions: Functions Framework signatures ---------------------------------
# With $FNSHIM_FUNCTION_TARGET (FUNCTION_TARGET), the target is a function of the entry,
# decorated with @functions_framework.http / @functions_framework.cloud_event (read back from the
# Framework's registry) or plain, with $FNSHIM_SIGNATURE_TYPE. `http` gets a Flask request built
# from the plain request (Flask comes with functions-framework) and may return anything Flask
# accepts; `cloudevent` gets a cloudevents CloudEvent.

_FLASK_APP = None


def functions_framework_handler(entry, target):
    """(handler, input) for the Functions Framework function `target`."""
    module = _entry_module(entry)
    registry = sys.modules.get("functions_framework._function_registry")
    registered = getattr(registry, "REGISTRY_MAP", {}).get(target)
    signature = registered or os.environ.get("FNSHIM_SIGNATURE_TYPE") or "http"
    fn = getattr(module, target)
    if signature == "cloudevent":
        return (lambda event, context: _call_cloud_event(fn, event)), "event"
    return (lambda q, context: _call_http(fn, q)), "request"


def _call_cloud_event(fn, event):
    try:
        from cloudevents.http import CloudEvent
    except ImportError:  # without the Framework's dependency: the attributes as a dict
        class CloudEvent(dict):
            def __init__(self, attributes, data):
                super().__init__(attributes)
                self.data = data
    attributes = {k: v for k, v in event.items() if k not in ("data", "data_base64")}
    result = fn(CloudEvent(attributes, event.get("data")))
    if hasattr(type(result), "__await__"):
        _event_loop().run_until_complete(result)
    return None


def gcf_request(message):
    """The plain request of an invocation; a raw event as a JSON POST to /invoke."""
    if "request" in message:
        return message["request"]
    body = json.dumps(message.get("event"))
    return {"method": "POST", "url": "http://localhost/invoke", "headers": [["content-type", "application/json"]],
            "body": body, "isBase64Encoded": False}


def _wsgi_environ(q, data):
    """The WSGI environ of the plain request, as a WSGI server would make it (PEP 3333)."""
    import io
    from urllib.parse import unquote, urlsplit

    url = urlsplit(q["url"])
    environ = {
        "REQUEST_METHOD": q["method"], "SCRIPT_NAME": "",
        "PATH_INFO": unquote(url.path or "/").encode("utf-8").decode("latin-1"),
        "QUERY_STRING": url.query, "SERVER_NAME": url.hostname or "localhost",
        "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.version": (1, 0), "wsgi.url_scheme": url.scheme or "http",
        "wsgi.input": io.BytesIO(data), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "CONTENT_LENGTH": str(len(data)),
    }
    for name, value in q["headers"]:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
            continue
        key = "HTTP_" + key
        environ[key] = f"{environ[key]}, {value}" if key in environ else value
    return environ


def _call_http(fn, q):
    import base64

    import flask
    from werkzeug.exceptions import HTTPException

    global _FLASK_APP
    if _FLASK_APP is None:
        _FLASK_APP = flask.Flask("fnshim")
    app = _FLASK_APP
    body = q.get("body") or ""
    data = base64.b64decode(body) if q.get("isBase64Encoded") else body.encode("utf-8")
    with app.request_context(_wsgi_environ(q, data)):
        try:
            response = app.make_response(fn(flask.request))
        except HTTPException as exc:  # flask.abort(400) and the like, as Flask answers them
            response = exc.get_response()
        headers, cookies = {}, []
        for name, value in response.headers.items():
            if name.lower() == "set-cookie":
                cookies.append(value)
            else:
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
        result = {"statusCode": response.status_code, "headers": headers,
                  "body": base64.b64encode(response.get_data()).decode("ascii"), "isBase64Encoded": True}
        if cookies:
            result["multiValueHeaders"] = {"set-cookie": cookies}
        return result


# ---- Function Compute lifecycle hooks: initializer, pre_stop, pre_freeze --------------------
# The exported initializer ($FNSHIM_INITIALIZER, default `initializer`) runs once, before this
# worker says `ready`; a raise is the worker's init_error. `pre-stop` and `pre-freeze`
# invocations call the exported preStop / pre_stop and preFreeze / pre_freeze (nothing when
# the module has none). FC's context fields become attributes as FC's runtime names them.

_HOOKS = {"pre-stop": ("preStop", "pre_stop"), "pre-freeze": ("preFreeze", "pre_freeze")}


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _fc_fields(context, fields):
    """context.credentials.access_key_id, context.function.name, context.region, ..."""
    for key in ("credentials", "function", "service"):
        value = fields.get(key)
        if isinstance(value, dict):
            value = types.SimpleNamespace(**{_snake(k): v for k, v in value.items()})
        setattr(context, key, value)
    context.region = fields.get("region")
    context.account_id = fields.get("accountId")


def _entry_module(entry):
    return sys.modules.get(os.path.splitext(os.path.basename(entry))[0])


class _StderrLogger:
    def _log(self, message, *args):
        print(str(message) % args if args else str(message), file=sys.stderr)

    debug = info = warning = error = _log


def run_initializer(channel, entry):
    """Calls the initializer once; on a raise sends init_error and exits."""
    name = os.environ.get("FNSHIM_INITIALIZER") or "initializer"
    init = getattr(_entry_module(entry), name, None)
    if not callable(init):
        return
    fields = {"requestId": "initializer", "functionName": os.environ.get("FNSHIM_FUNCTION_NAME"),
              "triggerType": "initialize"}
    context = Context(channel, "initializer", fields)
    context.logger = _StderrLogger()  # before `ready`, lines go to stderr, not the protocol
    try:
        result = init(context)
        if hasattr(type(result), "__await__"):
            _event_loop().run_until_complete(result)
    except BaseException as exc:
        error = error_of(exc)
        error["errorMessage"] = f"the initializer {name} threw: {error['errorMessage']}"
        channel.send({"type": "init_error", "error": error})
        sys.exit(1)


def lifecycle_handler(entry, kind):
    """The (event, context) callable of a lifecycle invocation, or None for any other kind."""
    names = _HOOKS.get(kind)
    if names is None:
        return None
    module = _entry_module(entry)
    hook = next((getattr(module, n) for n in names if callable(getattr(module, n, None))), None)
    return lambda event, context: hook(context) if hook else None


def main():
    if hasattr(sys.stdout, "reconfigure"):  # fallback when not run with -u
        sys.stdout.reconfigure(line_buffering=True)
    _tag_output()
    channel = Channel(os.environ["FNSHIM_SOCKET"])
    channel.send({
        "type": "hello",
        "worker": int(os.environ.get("FNSHIM_WORKER", "0")),
        "runtime": "python",
        "version": "%d.%d.%d" % sys.version_info[:3],
        "pid": os.getpid(),
    })

    entry = os.path.abspath(os.environ["FNSHIM_ENTRY"])
    try:
        handler = load_handler(entry, os.environ.get("FNSHIM_HANDLER") or "handler")
    except BaseException as exc:  # includes sys.exit() at import time
        channel.send({"type": "init_error", "error": error_of(exc)})
        sys.exit(1)
    run_initializer(channel, entry)
    target, ready = os.environ.get("FNSHIM_FUNCTION_TARGET"), {"type": "ready"}
    if target:
        handler, input_shape = functions_framework_handler(entry, target)
        ready = {"type": "ready", "input": "request"} if input_shape == "request" else ready
    # The shim follows its SIGTERM with the end of the socket, which starts the shutdown.
    signal.signal(signal.SIGTERM, lambda *_: None)
    channel.send(ready)

    for message in channel:  # one at a time, by design
        if message.get("type") == "invoke":
            if target and ready.get("input") == "request" and not _HOOKS.get(message.get("kind")):
                message["event"] = gcf_request(message)
            invoke(channel, lifecycle_handler(entry, message.get("kind")) or handler, message)
        elif message.get("type") == "ping":
            channel.send({"type": "pong", "id": message.get("id")})
        elif message.get("type") == "shutdown":
            channel.deadline_ms = message.get("deadlineMs")
    run_shutdown_hook(channel.deadline_ms)  # the shim closed the socket
    sys.exit(0)


if __name__ == "__main__":
    main()
