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
        self.logger = Logger(channel, invocation_id)
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


def invoke(channel, handler, message):
    """Run one invocation and answer it with exactly one result or error (or a stream), then
    run its background work."""
    invocation_id = message["id"]
    context = Context(channel, invocation_id, message.get("context") or {})
    if "traceId" in (message.get("context") or {}):  # Lambda's X-Ray convention
        os.environ["_X_AMZN_TRACE_ID"] = message["context"]["traceId"]
    try:
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
        channel.send({"type": "done", "id": invocation_id, "errors": run_background(context)})


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


def main():
    if hasattr(sys.stdout, "reconfigure"):  # fallback when not run with -u
        sys.stdout.reconfigure(line_buffering=True)
    channel = Channel(os.environ["FNSHIM_SOCKET"])
    channel.send({
        "type": "hello",
        "worker": int(os.environ.get("FNSHIM_WORKER", "0")),
        "runtime": "python",
        "version": "%d.%d.%d" % sys.version_info[:3],
        "pid": os.getpid(),
    })

    try:
        handler = load_handler(
            os.path.abspath(os.environ["FNSHIM_ENTRY"]),
            os.environ.get("FNSHIM_HANDLER") or "handler",
        )
    except BaseException as exc:  # includes sys.exit() at import time
        channel.send({"type": "init_error", "error": error_of(exc)})
        sys.exit(1)
    # The shim follows its SIGTERM with the end of the socket, which starts the shutdown.
    signal.signal(signal.SIGTERM, lambda *_: None)
    channel.send({"type": "ready"})

    for message in channel:  # one at a time, by design
        if message.get("type") == "invoke":
            invoke(channel, handler, message)
        elif message.get("type") == "ping":
            channel.send({"type": "pong", "id": message.get("id")})
        elif message.get("type") == "shutdown":
            channel.deadline_ms = message.get("deadlineMs")
    run_shutdown_hook(channel.deadline_ms)  # the shim closed the socket
    sys.exit(0)


if __name__ == "__main__":
    main()
