#!/usr/bin/env python3
"""Exec → first `/invocation/next` for any Runtime API client (bench/lambda.sh).

A minimal Runtime API on a free loopback port notes when the first GET /next arrives; the
client is spawned RUNS times (fresh each time) and the median and min of spawn → first /next
are printed as one JSON line. The client is stopped (SIGTERM) once it has asked.

usage: first_next.py RUNS -- COMMAND...   (AWS_LAMBDA_RUNTIME_API is set for it)
"""
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

runs = int(sys.argv[1])
command = sys.argv[sys.argv.index("--") + 1:]
asked = threading.Event()


class Api(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if "/invocation/next" in self.path:
            asked.set()
        time.sleep(5)  # a long poll that never delivers


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
times = []
for _ in range(runs):
    asked.clear()
    t0 = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    got = asked.wait(30)
    took = time.perf_counter() - t0
    child.terminate()  # fnshim stops its workers on SIGTERM
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    if not got:
        sys.exit(f"{command[0]} never asked for /next")
    times.append(took * 1000)
print(json.dumps({"runs": runs, "median_ms": round(statistics.median(times), 1),
                  "min_ms": round(min(times), 1)}))
