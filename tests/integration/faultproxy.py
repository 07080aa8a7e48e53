"""A loopback HTTP proxy that sits between the lab and the moto server and injects faults.

`FaultProxy(upstream, plan)` forwards every request to `upstream` (http://127.0.0.1:PORT) except the
ones `plan(method, path, n)` picks a fault for (n counts requests from 0):
  "503"     -> answer 503 SlowDown (S3's throttling reply) without forwarding;
  "500"     -> answer 500 InternalError without forwarding;
  "drop"    -> close the connection without answering;
  "corrupt" -> forward, then flip a byte of the response body (same length).
`injected` counts the faults sent. Used as the S3 endpoint via Settings.with_endpoints.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_S3_ERROR = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
             b"<Message>injected by faultproxy</Message></Error>")


class FaultProxy:
    def __init__(self, upstream: str, plan):
        host, _, port = upstream.split("://", 1)[1].partition(":")
        self.upstream = (host, int(port))
        self.plan = plan
        self.requests = 0
        self.injected = 0
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
                if fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault in ("503", "500"):
                    code = b"SlowDown" if fault == "503" else b"InternalError"
                    payload = _S3_ERROR.replace(b"{code}", code)
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
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
                self.send_header("Content-Length", str(len(data)))
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
