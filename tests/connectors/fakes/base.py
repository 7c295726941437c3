"""A fake HTTP service on 127.0.0.1 in a thread, with scripted faults: the ground the ledger fakes stand on.

A subclass implements `route(request) -> Reply`. Tests script what the next matching requests get:

    fake.script("POST", r"/invoice$", Reply.json(429, body))       # answer this instead, once
    fake.script("POST", r"/invoice$", HANG)                         # never answer (the client times out)
    fake.script("POST", r"/invoice$", PROCESS_THEN_HANG)            # do it, then never answer (a lost response)
    fake.hang_everything = True                                     # a server that accepts and never answers

Every request is recorded in `fake.requests` (method, path, query, headers, body).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parents[1] / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    """A contract fixture (tests/connectors/fixtures/<ledger>/<file>), parsed fresh each time."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})


HANG = "hang"
PROCESS_THEN_HANG = "process-then-hang"


@dataclass
class _Scripted:
    method: str
    pattern: re.Pattern[str]
    action: Reply | str
    times: int


class FakeServer:
    """Serve `route()` on an ephemeral port until `stop()`; use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.errors: list[str] = []
        """Exceptions inside the fake itself (a test should end with none)."""
        self.hang_everything = False
        self._script: list[_Scripted] = []
        self._lock = threading.RLock()
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms to each
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                                  {k.lower(): v for k, v in self.headers.items()}, body)
                reply = fake._dispatch(request)
                if reply is None:  # never answer: hold the connection until the test ends
                    fake._release.wait(20)
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, method: str, path_pattern: str, action: Reply | str, *, times: int = 1) -> None:
        with self._lock:
            self._script.append(_Scripted(method.upper(), re.compile(path_pattern), action, times))

    def calls(self, method: str, path_pattern: str) -> list[Request]:
        pattern = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method.upper() and pattern.search(r.path)]

    def route(self, request: Request) -> Reply:  # pragma: no cover - subclasses answer
        raise NotImplementedError

    def _dispatch(self, request: Request) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            if self.hang_everything:
                return None
            action: Reply | str | None = None
            for entry in self._script:
                if entry.times > 0 and entry.method == request.method and entry.pattern.search(request.path):
                    entry.times -= 1
                    action = entry.action
                    break
            if isinstance(action, Reply):
                return action
            if action == HANG:
                return None
            try:
                reply = self.route(request)
            except Exception as exc:  # a bug in the fake: make it loud in the test
                self.errors.append(f"{request.method} {request.path}: {exc!r}")
                reply = Reply.json(599, {"fake_error": repr(exc)})
            return None if action == PROCESS_THEN_HANG else reply
