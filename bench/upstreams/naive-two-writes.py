#!/usr/bin/env python3
"""Naive HTTP/1.1 upstream for bench/run.sh: "the 44 ms trap".

It writes the status line + headers in one send() and the body in a second small send(),
on sockets that keep Nagle's algorithm on (TCP_NODELAY = 0). The second write is held by
Nagle until the peer ACKs the first, and a peer that only reads delays that ACK (~40 ms on
Linux). A direct client therefore already sees ~40 ms per request; the benchmark checks that
going through fnshim does not add another ~40 ms on top.

Listens on $PORT at 127.0.0.1; one thread per connection; keep-alive.
"""
import os
import signal
import socket
import socketserver
import sys

BODY = b'{"message":"hello from naive python","ok":true}'
HEAD = (
    "HTTP/1.1 200 OK\r\n"
    "content-type: application/json\r\n"
    "content-length: %d\r\n"
    "\r\n" % len(BODY)
).encode()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)  # keep Nagle on, on purpose
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
                if len(buf) > 1 << 20:
                    return
            head, _, buf = buf.partition(b"\r\n\r\n")
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value == b"close":
                    close = True
                elif name == b"transfer-encoding":
                    close = True  # chunked bodies are not needed by the benchmark
            while len(buf) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
            buf = buf[length:]
            sock.sendall(HEAD)  # write 1: status line + headers
            sock.sendall(BODY)  # write 2: the body, a separate small segment
            if close:
                return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024


def main():
    port = int(os.environ.get("PORT", "8081"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with Server(("127.0.0.1", port), Handler) as srv:
        srv.serve_forever()


if __name__ == "__main__":
    main()
