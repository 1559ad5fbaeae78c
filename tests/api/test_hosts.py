"""The Host header check: real HTTP requests with forged Host headers (DNS rebinding)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from kit.api_fakes import ClientFactory, FakeView, make_view
from medic.api.hosts import HINT, allowed, host_name
from medic.config import ApiConfig, load_config
from medic.errors import ConfigError

Client = TestClient[web.Request, web.Application]
TOKEN = "host-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# Every kind of route: data, the page and its files, metrics, health, a state change.
ROUTES = [
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/policies"),
    ("GET", "/"),
    ("GET", "/static/app.js"),
    ("GET", "/metrics"),
    ("GET", "/health"),
    ("GET", "/api/v1/"),
    ("POST", "/api/v1/reload"),
]
FORGED = [
    "evil.example",
    "evil.example:9325",
    "localhost.evil.example",
    "127.0.0.1.evil.example",
    "localhost.",
    "medic.example.internal.evil.example",
    "[::1].evil.example",
    "",
]


async def refused(response: Any, host: str) -> None:
    assert response.status == 421, await response.text()
    assert response.content_type == "application/json"
    body = await response.json()
    assert body == {
        "error": {
            "status": 421,
            "code": "unknown_host",
            "message": f"this API does not answer to the host {host!r}",
            "hint": HINT,
        }
    }


def view_with(**api: Any) -> FakeView:
    base = make_view(token=TOKEN)
    config = base.config
    return FakeView(
        config=type(config)(host=config.host, api=ApiConfig(**{"token": TOKEN, **api})),
        started_at=base.started_at,
        policies=base.policies,
    )


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("host", FORGED)
@pytest.mark.asyncio
async def test_forged_host_is_refused_on_every_route(
    client_for: ClientFactory, method: str, path: str, host: str
) -> None:
    """A rebinding page's Host gets 421 on data, the page, /metrics and state changes."""
    client = await client_for(make_view(token=TOKEN))
    response = await client.request(method, path, headers={"Host": host, **AUTH})
    await refused(response, host)


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST:1",
        "127.0.0.1",
        "127.0.0.1:9325",
        "127.8.9.10:80",
        "[::1]",
        "[::1]:9",
    ],
)
@pytest.mark.asyncio
async def test_loopback_names_are_answered(client_for: ClientFactory, host: str) -> None:
    """Loopback names, with or without a port, reach the API."""
    client = await client_for(make_view())
    response = await client.get("/api/v1/policies", headers={"Host": host})
    assert response.status == 200


@pytest.mark.asyncio
async def test_the_check_comes_before_the_token(client_for: ClientFactory) -> None:
    """Without a token a forged Host still gets 421, not 401: nothing about the API leaks."""
    client = await client_for(make_view(token=TOKEN))
    await refused(
        await client.post("/api/v1/reload", headers={"Host": "evil.example"}), "evil.example"
    )


@pytest.mark.asyncio
async def test_a_request_without_host_is_refused(client_for: ClientFactory) -> None:
    """An HTTP/1.0 request with no Host header at all is refused with the envelope."""
    client = await client_for(make_view())
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"GET /api/v1/audit HTTP/1.0\r\n\r\n")
    await writer.drain()
    answer = (await reader.read()).decode()
    writer.close()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.0 421 ")
    assert '"message": "the request has no Host header"' in body


@pytest.mark.asyncio
async def test_allowed_hosts_let_a_reverse_proxy_in(client_for: ClientFactory) -> None:
    """A name in api.allowed_hosts is answered (any port); other names still are not."""
    client = await client_for(view_with(allowed_hosts=frozenset({"medic.example.internal"})))
    for host in ("medic.example.internal", "Medic.Example.Internal:443"):
        response = await client.get("/api/v1/policies", headers={"Host": host})
        assert response.status == 200, host
    await refused(
        await client.get("/api/v1/policies", headers={"Host": "other.example.internal"}),
        "other.example.internal",
    )


@pytest.mark.asyncio
async def test_beyond_loopback_the_listen_address_is_answered(client_for: ClientFactory) -> None:
    """Listening on 10.1.2.3: Host 10.1.2.3 reaches the token check; 10.9.9.9 does not."""
    client = await client_for(view_with(host="10.1.2.3"))
    response = await client.get("/api/v1/policies", headers={"Host": "10.1.2.3:9325"})
    assert response.status == 401
    response = await client.get("/", headers={"Host": "10.1.2.3:9325"})
    assert response.status == 200
    await refused(
        await client.get("/", headers={"Host": "10.9.9.9:9325"}),
        "10.9.9.9:9325",
    )


@pytest.mark.asyncio
async def test_on_a_wildcard_any_address_but_no_name_is_answered(
    client_for: ClientFactory,
) -> None:
    """Listening on 0.0.0.0: any IP literal is answered (it cannot be rebound), names not."""
    client = await client_for(view_with(host="0.0.0.0"))
    for host in ("192.168.7.7:9325", "[fd00::7]:9325"):
        response = await client.get("/metrics", headers={"Host": host, **AUTH})
        assert response.status == 200, host
    await refused(
        await client.get("/metrics", headers={"Host": "node7.example", **AUTH}), "node7.example"
    )


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("LocalHost:9325", "localhost"),
        ("[::1]:80", "::1"),
        ("[::1]", "::1"),
        ("a.b:1", "a.b"),
        ("a.b:", None),
        ("a.b:123456", None),
        ("[::1", None),
        ("a:b:c", None),
        ("", None),
    ],
)
def test_host_name_strips_the_port(header: str, name: str | None) -> None:
    """The name in a Host header, port removed and lower-cased; None when malformed."""
    assert host_name(header) == name


def test_rules_without_a_server() -> None:
    """allowed(): loopback always, names only when configured, addresses beyond loopback."""
    loop = ApiConfig()
    assert allowed("127.0.0.1:9325", loop)
    assert not allowed(None, loop)
    assert not allowed("10.0.0.1", loop)  # an address is not enough on loopback
    assert allowed("proxy.example", ApiConfig(allowed_hosts=frozenset({"proxy.example"})))


def test_config_reads_allowed_hosts(tmp_path: Path) -> None:
    """api.allowed_hosts in medic.yaml: names lower-cased, an IPv6 address unbracketed."""
    path = tmp_path / "medic.yaml"
    path.write_text("api:\n  allowed_hosts: [Medic.Example.Internal, '[fd00::1]']\n")
    assert load_config(path).api.allowed_hosts == {"medic.example.internal", "fd00::1"}


def test_config_refuses_a_host_with_a_port(tmp_path: Path) -> None:
    """A port in api.allowed_hosts is refused when the config loads (ports never matter)."""
    path = tmp_path / "medic.yaml"
    path.write_text("api:\n  allowed_hosts: ['medic.example:443']\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.message.startswith(
        "api.allowed_hosts.0: 'medic.example:443' does not match"
    )
