"""Serve a :class:`Sandbox` over loopback HTTP/1.1 with one thread per connection."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .._fields import is_loopback_host
from ._app import Headers, Request, Sandbox

__all__ = ["SandboxServer"]

#: Largest request body accepted: the providers' payloads are a few KiB.
MAX_BODY = 1 << 20


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment, without Nagle's delay: otherwise each
    # answer waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    server: SandboxServer

    def _read_body(self) -> bytes:
        encoding = (self.headers.get("Transfer-Encoding") or "").lower()
        if encoding:
            if [e.strip() for e in encoding.split(",")] != ["chunked"]:
                raise BadRequest(501, f"unsupported Transfer-Encoding {encoding!r}")
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest(400, "Content-Length is not a number") from None
        if length < 0:
            raise BadRequest(400, "Content-Length is negative")
        if length > MAX_BODY:
            raise BadRequest(413, f"request body over {MAX_BODY} bytes")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        # RFC 9112 7.1: hex size [;extensions] CRLF, data CRLF, ..., 0 CRLF, trailers, CRLF.
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "malformed chunk size") from None
            if size < 0 or len(body) + size > MAX_BODY:
                raise BadRequest(413, f"request body over {MAX_BODY} bytes")
            if size == 0:
                break
            body += self.rfile.read(size)
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BadRequest(400, "chunk not followed by CRLF")
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # trailers: nothing here uses them
        return bytes(body)

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        # HEAD announces the length GET would send (RFC 9110 9.3.2) and sends no body.
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except BadRequest as exc:
            # The rest of a body we did not read would be taken for the next request.
            self.close_connection = True
            self._send(exc.status, {"Connection": "close"}, json.dumps({"error": exc.message}).encode())
            return
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=Headers(dict(self.headers.items())),
            body=body,
            raw_query=url.query,
        )
        try:
            response = self.server.sandbox.handle(request)
        except Exception as exc:  # one bad request must not take the connection down unanswered
            self._send(500, {}, json.dumps({"error": f"sandbox error: {type(exc).__name__}: {exc}"}).encode())
            return
        if response.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._send(response.status, response.headers, response.encoded())

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        # The journal is the log; stderr stays quiet.
        return


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False) -> None:
        if not allow_remote and not is_loopback_host(host):
            # The sandbox answers anyone with its well-known credentials and posts deliveries on request.
            raise ValueError(
                f"{host!r} is not a loopback address: the sandbox accepts anyone's requests and its "
                "credentials are public; bind to 127.0.0.1 or ::1, or pass allow_remote (--allow-remote)"
            )
        if ":" in host.strip("[]"):
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), _Handler)
        self.sandbox = sandbox
        self.sandbox.base_url = self.url
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = self.server_address[0]
        if isinstance(host, bytes):
            host = host.decode()
        if ":" in host:
            host = f"[{host}]"
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
