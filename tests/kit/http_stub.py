"""A threaded HTTP server on a free loopback port that records what it is sent.

Tests that need a webhook receiver, a JSON-RPC node or a metrics endpoint in a
separate thread (the agent under test runs in a subprocess, or in another event loop)
make one and say how it answers: ``StubServer(answer)`` with ``answer(request) ->
Reply``; the default answers ``204 No Content``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Request:
    """One request the stub received."""

    method: str
    path: str
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What the stub answers."""

    status: int = 204
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(value).encode())

    @classmethod
    def text(cls, text: str, content_type: str = "text/plain") -> Reply:
        return cls(200, text.encode(), content_type)


Answer = Callable[[Request], Reply]


def no_content(_request: Request) -> Reply:
    return Reply()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(self.command, self.path, self.headers, self.rfile.read(length))
        self.server.stub.requests.append(request)
        reply = self.server.stub.answer(request)
        self.send_response(reply.status)
        if reply.body:
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        """Quiet: the test's output is the assertion, not an access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stub: StubServer) -> None:
        self.stub = stub
        super().__init__(("127.0.0.1", 0), _Handler)


class StubServer:
    """Serves on 127.0.0.1 from a daemon thread until ``close()``; ``url`` is its base
    URL plus ``path``, ``requests`` what it received, oldest first."""

    def __init__(self, answer: Answer = no_content, path: str = "") -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self.server = _Server(self)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> StubServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
