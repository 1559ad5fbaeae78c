"""The `http.request` action against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import pytest_asyncio
import yaml
from aiohttp import web

from medic import __version__
from medic.actions import actions
from medic.actions.base import ActionContext
from medic.actions.http import EXCERPT_LIMIT, HttpRequestAction

TOKEN = "s3cr3t-token-value"


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    raw_path: str
    name: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    url: str
    seen: list[Seen] = field(default_factory=list)


def make_ctx(target: str = "web", timeout: float = 5.0, **fields: Any) -> ActionContext:
    return ActionContext(
        policy="api-hook", target=target, incident="inc-9", fields=fields, timeout=timeout
    )


def build_app(server: Server) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        server.seen.append(
            Seen(
                method=request.method,
                raw_path=request.raw_path,
                name=request.match_info["name"],
                headers=dict(request.headers),
                body=await request.read(),
            )
        )
        # Echoes the Authorization header back, as careless servers do.
        return web.json_response({"auth": request.headers.get("Authorization", "")})

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="boom: disk on fire")

    async def big(request: web.Request) -> web.Response:
        return web.Response(text="y" * (EXCERPT_LIMIT * 3))

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo/elsewhere")

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/echo/{name}", echo)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/big", big)
    app.router.add_post("/redirect", redirect)
    app.router.add_post("/hang", hang)
    return app


async def start(app: web.Application, tls: ssl.SSLContext | None = None) -> web.AppRunner:
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    address = runner.addresses[0]
    return int(address[1])


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Server]:
    """A plain HTTP server on an ephemeral port that records what it receives."""
    srv = Server(url="")
    runner = await start(build_app(srv))
    srv.url = f"http://127.0.0.1:{bound_port(runner)}"
    yield srv
    await runner.cleanup()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, made with the openssl CLI."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("/usr/bin/openssl", "req", "-x509", "-nodes", "-days", "1"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-keyout", str(key), "-out", str(cert)),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest_asyncio.fixture
async def tls_server(certificate: tuple[Path, Path]) -> AsyncIterator[Server]:
    """The same server behind a self-signed certificate for 127.0.0.1."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    srv = Server(url="")
    runner = await start(build_app(srv), tls=context)
    srv.url = f"https://127.0.0.1:{bound_port(runner)}"
    yield srv
    await runner.cleanup()


def test_registered_under_its_name() -> None:
    """The registry maps `http.request` to HttpRequestAction."""
    assert actions.get("http.request") is HttpRequestAction


def test_docstring_example_options_match_schema() -> None:
    """The docstring's YAML example parses and its options satisfy the schema."""
    block = re.search(r"```yaml\n(.*?)```", HttpRequestAction.__doc__ or "", re.DOTALL)
    assert block is not None
    policy = yaml.safe_load(block.group(1))["policies"][0]
    options = dict(policy["remediate"][0]["http.request"])
    options.pop("timeout")
    jsonschema.Draft202012Validator(HttpRequestAction.schema).validate(options)
    assert HttpRequestAction.validate(options) == []


@pytest.mark.integration
@pytest.mark.asyncio
@pytest.mark.parametrize("spelling", ["env", "file", "token_env"])
async def test_posts_json_with_bearer_token(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spelling: str
) -> None:
    """A JSON POST arrives intact with the bearer token, however the token is named
    ({env:}, {file:}, the old token_env); the token stays out of the audit."""
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    (tmp_path / "token").write_text(TOKEN + "\n")
    named: dict[str, Any] = {
        "env": {"token": {"env": "HOOK_TOKEN"}},
        "file": {"token": {"file": str(tmp_path / "token")}},
        "token_env": {"token_env": "HOOK_TOKEN"},
    }[spelling]
    action = HttpRequestAction(
        {
            "url": server.url + "/echo/{target}",
            **named,
            "json": {"reason": "disk-full", "keep": 2},
            "headers": {"X-Team": "storage", "authorization": "Basic Zm9vOmJhcg=="},
        }
    )
    ctx = make_ctx()
    result = await action.run(ctx)
    assert result.ok
    assert result.summary.startswith(f"POST {server.url}/echo/web -> 200 OK in ")
    [seen] = server.seen
    assert seen.method == "POST"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert [n.lower() for n in seen.headers].count("authorization") == 1
    assert seen.headers["X-Team"] == "storage"
    assert seen.headers["User-Agent"] == f"medic/{__version__}"
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {"reason": "disk-full", "keep": 2}
    assert result.details["status"] == 200
    assert result.details["body"] == '{"auth": "Bearer ***"}'
    assert TOKEN not in repr(result) + action.describe(ctx)
    source = f"file {tmp_path / 'token'}" if spelling == "file" else "$HOOK_TOKEN"
    assert action.describe(ctx) == f"POST {server.url}/echo/web with the bearer token from {source}"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_placeholders_are_url_quoted(server: Server) -> None:
    """A target with slashes, spaces or `?` stays one quoted path segment."""
    action = HttpRequestAction({"url": server.url + "/echo/{target}", "method": "PUT"})
    result = await action.run(make_ctx(target="a b/../admin?x=1#f"))
    assert result.ok
    [seen] = server.seen
    assert seen.method == "PUT"
    assert seen.raw_path == "/echo/a%20b%2F..%2Fadmin%3Fx%3D1%23f"
    assert seen.name == "a b/../admin?x=1#f"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_text_body_and_get(server: Server) -> None:
    """`body` is sent as given; GET works as well; a configured User-Agent wins."""
    await HttpRequestAction(
        {"url": server.url + "/echo/t", "body": "flush now", "headers": {"user-agent": "ops/1"}}
    ).run(make_ctx())
    await HttpRequestAction({"url": server.url + "/echo/g", "method": "GET"}).run(make_ctx())
    assert [(s.method, s.body) for s in server.seen] == [("POST", b"flush now"), ("GET", b"")]
    assert server.seen[0].headers["User-Agent"] == "ops/1"
    assert server.seen[1].headers["User-Agent"] == f"medic/{__version__}"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_server_error_fails_with_status_and_excerpt(server: Server) -> None:
    """A 500 fails the step; status and body excerpt land in the details."""
    result = await HttpRequestAction({"url": server.url + "/status/500"}).run(make_ctx())
    assert not result.ok
    assert result.summary == (
        f"POST {server.url}/status/500 -> 500 Internal Server Error (expected 2xx)"
    )
    assert result.details["status"] == 500
    assert result.details["body"] == "boom: disk on fire"
    assert result.details["body_truncated"] is False


@pytest.mark.integration
@pytest.mark.asyncio
async def test_expect_status_overrides_default(server: Server) -> None:
    """expect_status decides success: 202 passes when listed, 200 fails when not."""
    accepted = HttpRequestAction({"url": server.url + "/status/202", "expect_status": [202]})
    assert (await accepted.run(make_ctx())).ok
    strict = HttpRequestAction({"url": server.url + "/status/200", "expect_status": [202]})
    result = await strict.run(make_ctx())
    assert not result.ok
    assert result.summary == f"POST {server.url}/status/200 -> 200 OK (expected 202)"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_body_excerpt_is_capped(server: Server) -> None:
    """Only the first 2 KiB of the response body is kept."""
    result = await HttpRequestAction({"url": server.url + "/big", "method": "GET"}).run(make_ctx())
    assert result.details["body"] == "y" * EXCERPT_LIMIT
    assert result.details["body_truncated"] is True


@pytest.mark.integration
@pytest.mark.asyncio
async def test_redirects_are_not_followed(server: Server) -> None:
    """A redirect is reported, with its Location, and not followed."""
    result = await HttpRequestAction({"url": server.url + "/redirect"}).run(make_ctx())
    assert not result.ok
    assert result.details["status"] == 302
    assert result.details["location"] == "/echo/elsewhere"
    assert server.seen == []


@pytest.mark.integration
@pytest.mark.asyncio
async def test_timeout_is_honoured(server: Server) -> None:
    """A server that accepts and never answers fails the step at ctx.timeout."""
    action = HttpRequestAction({"url": server.url + "/hang"})
    result = await asyncio.wait_for(action.run(make_ctx(timeout=0.3)), 5)
    assert not result.ok
    assert result.summary == f"POST {server.url}/hang timed out after 300ms"
    assert result.details["timed_out"] is True


@pytest.mark.integration
@pytest.mark.asyncio
async def test_connection_refused(server: Server) -> None:
    """A port nobody listens on fails with the connection error."""
    closed = HttpRequestAction({"url": "http://127.0.0.1:1/x"})
    result = await closed.run(make_ctx())
    assert not result.ok
    assert result.summary.startswith("POST http://127.0.0.1:1/x failed: Cannot connect to host")


@pytest.mark.asyncio
@pytest.mark.parametrize("options", [{"token": {"env": "HOOK_TOKEN"}}, {"token_env": "HOOK_TOKEN"}])
async def test_missing_token_env(monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]) -> None:
    """An unset token variable fails before any request, naming the variable (both spellings)."""
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    action = HttpRequestAction({"url": "http://127.0.0.1:1/x", **options})
    result = await action.run(make_ctx())
    assert not result.ok
    assert result.summary == (
        "token: environment variable HOOK_TOKEN is not set; "
        "set HOOK_TOKEN in the agent's environment (systemd: EnvironmentFile=)"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_tls_verification(tls_server: Server) -> None:
    """A self-signed certificate fails by default and passes with verify_tls: false."""
    url = tls_server.url + "/echo/tls"
    strict = await HttpRequestAction({"url": url}).run(make_ctx())
    assert not strict.ok
    assert strict.summary.startswith(f"POST {url} failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in strict.summary
    assert tls_server.seen == []
    relaxed = await HttpRequestAction({"url": url, "verify_tls": False}).run(make_ctx())
    assert relaxed.ok
    assert len(tls_server.seen) == 1


def test_password_in_url_is_hidden() -> None:
    """describe() never shows a password written in the URL."""
    action = HttpRequestAction({"url": "https://ops:hunter2@deploy.example/hook/{target}"})
    assert action.describe(make_ctx()) == "POST https://ops:[redacted]@deploy.example/hook/web"


def test_secret_query_value_in_url_is_hidden() -> None:
    """describe() masks a token written in the query string, keeping the other values."""
    action = HttpRequestAction({"url": "https://deploy.example/hook?token=s3cr3t&app=web"})
    assert action.describe(make_ctx()) == (
        "POST https://deploy.example/hook?token=[redacted]&app=web"
    )


def test_validate_messages() -> None:
    """Bad schemes, json with body and literal Authorization headers are refused."""
    assert HttpRequestAction.validate(
        {
            "url": "ftp://example/x",
            "json": {},
            "body": "x",
            "headers": {"authorization": "Bearer x"},
        }
    ) == [
        "url 'ftp://example/x' must start with http:// or https://",
        "give either json (a JSON body) or body (text), not both",
        "do not write an Authorization header in a policy file; put the token in an "
        "environment variable or a file and name it with token: {env: NAME}",
    ]


def test_schema_is_strict() -> None:
    """Unknown keys and bad methods fail the schema; url is required."""
    validator = jsonschema.Draft202012Validator(HttpRequestAction.schema)
    assert validator.is_valid({"url": "http://x", "json": [1, {"a": None}]})
    assert not validator.is_valid({"url": "http://x", "verb": "POST"})
    assert not validator.is_valid({"url": "http://x", "method": "FETCH"})
    assert not validator.is_valid({"method": "GET"})
