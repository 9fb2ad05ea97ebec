#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, one GET / on each (answer read in
full), then keeps them all open and idle: prints "open" and waits for stdin to close.
Used by bench/footprint.sh to measure fnshim's memory per idle keep-alive connection."""
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += s.recv(65536)
    conns.append(s)
print("open", flush=True)
sys.stdin.read()
