"""The shared test helpers of tests/kit/ do what the tests rely on."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

from kit.http_stub import Reply, Request, StubServer
from kit.ports import free_port


def _post(url: str, body: dict[str, object]) -> tuple[int, bytes]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 - loopback stub
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback stub
        return answer.status, answer.read()


def test_stub_server_records_each_request_and_answers_no_content() -> None:
    """By default the stub answers 204 and keeps the method, path, headers and body."""
    with StubServer(path="/hook") as stub:
        assert stub.url == f"http://127.0.0.1:{stub.port}/hook"
        status, body = _post(stub.url, {"kind": "escalation"})
    assert (status, body) == (204, b"")
    (seen,) = stub.requests
    assert (seen.method, seen.path, seen.json()) == ("POST", "/hook", {"kind": "escalation"})
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_stub_server_answers_as_the_test_says() -> None:
    """The answer function sees the request and picks the status and the JSON body."""

    def answer(request: Request) -> Reply:
        return Reply.json({"echo": request.json()["n"]}, 500 if request.path == "/bad" else 200)

    with StubServer(answer) as stub:
        assert _post(f"{stub.url}/ok", {"n": 1}) == (200, b'{"echo": 1}')
        try:
            _post(f"{stub.url}/bad", {"n": 2})
        except urllib.error.HTTPError as exc:
            assert (exc.code, exc.read()) == (500, b'{"echo": 2}')
        else:
            raise AssertionError("the stub did not answer 500")


def test_free_port_is_free() -> None:
    """A port free_port names can be bound at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port()))
