"""Serve a :class:`Sandbox` over loopback HTTP/1.1 with one thread per connection."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from ._app import Headers, Request, Sandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment, without Nagle's delay: otherwise each
    # answer waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    server: SandboxServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=Headers(dict(self.headers.items())),
            body=body,
            raw_query=url.query,
        )
        response = self.server.sandbox.handle(request)
        if response.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = response.encoded()
        self.send_response(response.status)
        headers = {"Content-Type": "application/json", **response.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        # The journal is the log; stderr stays quiet.
        return


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.sandbox = sandbox
        self.sandbox.base_url = self.url
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = self.server_address[0]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{self.server_address[1]}"

    def start(self) -> SandboxServer:
        """Serve in a background thread (tests); ``serve_forever`` for the CLI."""
        self._thread = threading.Thread(target=self.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
