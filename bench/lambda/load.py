#!/usr/bin/env python3
"""Load for bench/lambda.sh: CALLERS threads, each invoking through the emulator's Invoke API
(POST /2015-03-31/functions/_/invocations, keep-alive) for SECONDS; prints one JSON line with
invocations/s, p50 and p99 in microseconds, and the number of failed invocations.

usage: load.py PORT CALLERS SECONDS [FUNCTION]   (FUNCTION: the name in the path, default _)
"""
import http.client
import json
import sys
import threading
import time

port, callers, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
PATH = f"/2015-03-31/functions/{sys.argv[4] if len(sys.argv) > 4 else '_'}/invocations"
BODY = b'{"name": "bench"}'
latencies, failures, lock = [], [0], threading.Lock()


def caller(until):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    mine, bad = [], 0
    while time.monotonic() < until:
        t0 = time.perf_counter_ns()
        try:
            conn.request("POST", PATH, BODY, {"content-type": "application/json"})
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            ok = False
        if ok:
            mine.append((time.perf_counter_ns() - t0) // 1000)
        else:
            bad += 1
    with lock:
        latencies.extend(mine)
        failures[0] += bad


until = time.monotonic() + seconds
threads = [threading.Thread(target=caller, args=(until,)) for _ in range(callers)]
started = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
took = time.monotonic() - started
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else None
print(json.dumps({"callers": callers, "ok": len(latencies), "failed": failures[0],
                  "per_s": round(len(latencies) / took, 1), "p50_us": pick(0.5), "p99_us": pick(0.99)}))
