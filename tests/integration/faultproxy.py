"""A loopback HTTP proxy that sits between the lab and the moto server and injects faults.

`FaultProxy(upstream, plan)` forwards every request to `upstream` (http://127.0.0.1:PORT) except the
ones `plan(method, path, n)` picks a fault for (n counts requests from 0):
  "503"     -> answer 503 SlowDown (S3's throttling reply) without forwarding;
  "500"     -> answer 500 InternalError without forwarding;
  "drop"    -> close the connection without answering;
  "corrupt" -> forward, then flip a byte of the response body (same length).
`injected` counts the faults sent, `by_kind` per kind. Used as the S3 endpoint via Settings.with_endpoints
(boto3) or as Spark's fs.s3a.endpoint (TAXILAB_SPARK__EXTRA_CONF, in a pipeline subprocess).
The path `plan` gets is the request path as sent (percent-encoded: '=' arrives as %3D); unquote it to
match keys.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_S3_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
    b"<Message>injected by faultproxy</Message></Error>"
)


class FaultProxy:
    def __init__(self, upstream: str, plan):
        host, _, port = upstream.split("://", 1)[1].partition(":")
        self.upstream = (host, int(port))
        self.plan = plan
        self.requests = 0
        self.injected = 0
        self.by_kind: Counter = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    n = proxy.requests
                    proxy.requests += 1
                    fault = proxy.plan(self.command, self.path, n)
                    if fault:
                        proxy.injected += 1
                        proxy.by_kind[fault] += 1
                if fault == "drop":
                    self.close_connection = True
                    # shutdown, not just close: rfile/wfile keep the socket open, and a client would wait
                    # for a reply until its read timeout (S3A's is 200 s) instead of seeing the drop
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault in ("503", "500"):
                    code = b"SlowDown" if fault == "503" else b"InternalError"
                    payload = _S3_ERROR.replace(b"{code}", code)
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":  # a body after a HEAD reply would desync the connection
                        self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                # Expect: 100-continue was answered here already (http.server); upstream gets the whole body.
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                if fault == "corrupt" and data:
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                self.send_response(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                # A HEAD reply has no body but the object's length (S3A sizes files by it).
                length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        return False


class PgStallProxy:
    """A loopback TCP proxy in front of PostgreSQL that freezes a COPY half-way through its data.

    Bytes pass both ways untouched until the client sends a query containing `trigger` (e.g.
    b'COPY "taxi"."fct_trips"'); of the next client chunk (the first rows of the COPY) only the first half
    is forwarded, so the server sits inside the COPY with part of a row received. `stalled` is set then.
    From that moment client bytes are swallowed; when the client goes away (killed) the server side is
    closed, as a dying client's kernel would; `drop()` cuts both sides (a lost network). Use with
    sslmode=disable so the trigger can be seen.
    """

    def __init__(self, upstream_host: str, upstream_port: int, trigger: bytes):
        self.upstream = (upstream_host, upstream_port)
        self.trigger = trigger
        self.stalled = threading.Event()
        self._socks: list = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._socks += [client, server]
            threading.Thread(target=self._client_to_server, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    @staticmethod
    def _close(*socks):
        for s in socks:
            try:  # shutdown first: close() alone sends no FIN while another thread is blocked in recv()
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _pump(self, src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        self._close(src, dst)

    def _client_to_server(self, client, server):
        armed, tail = False, b""
        try:
            while data := client.recv(65536):
                if self.stalled.is_set():
                    continue  # swallowed: the server never gets the rest of the COPY
                if armed:
                    server.sendall(data[: max(1, len(data) // 2)])
                    self.stalled.set()
                    continue
                server.sendall(data)
                if self.trigger in tail + data:
                    armed = True
                tail = data[-len(self.trigger) :]
        except OSError:
            pass
        self._close(client, server)

    def drop(self):
        """Cut every connection (both sides), as a lost network would."""
        self._close(*self._socks)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._listener.close()
        self.drop()
        return False
