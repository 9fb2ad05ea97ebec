#!/usr/bin/env python3
"""The soak's load: CONNS keep-alive HTTP/1.1 connections sending GET / in a loop for SECONDS.

Every response is recorded by status with its completion time; a request that gets no
response (the connection is reset or closed before the answer, or nothing comes within
10 s) counts as "no answer" and the connection is opened again. Prints one JSON object:
{"statuses": {"200": n, ...}, "no_answer": n, "longest_error_run_ms": x, "requests": n}.
The longest error run is the longest stretch of time in which every completed response
(on any connection) was an error.

    soak-client.py PORT CONNS SECONDS
"""
import asyncio
import json
import sys
import time


async def one_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", ""):
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() == "close"


async def connection(port, until, results, counts):
    request = b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n"
    writer = None
    while time.monotonic() < until:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            status, close = await asyncio.wait_for(one_response(reader), 10)
            results.append((time.monotonic(), status))
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError):
            counts["no_answer"] += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


def longest_error_run(results):
    longest, start = 0.0, None
    for at, status in sorted(results):
        if status >= 400:
            start = at if start is None else start
            longest = max(longest, at - start)
        else:
            start = None
    return round(longest * 1000, 1)


async def main(port, conns, seconds):
    until = time.monotonic() + seconds
    results, counts = [], {"no_answer": 0}
    await asyncio.gather(*(connection(port, until, results, counts) for _ in range(conns)))
    statuses = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    print(json.dumps({
        "requests": len(results) + counts["no_answer"],
        "statuses": statuses,
        "no_answer": counts["no_answer"],
        "longest_error_run_ms": longest_error_run(results),
    }))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
