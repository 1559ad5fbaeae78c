"""The http probe sends a request body: JSON-RPC calls against a real loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from medic.probes.network.http import HttpProbe


async def rpc(request: web.Request) -> web.Response:
    """A JSON-RPC node: getVersion and eth_syncing; anything else is an error object."""
    call = await request.json()
    results: dict[str, Any] = {"getVersion": {"solana_core": "1.18.2"}, "eth_syncing": False}
    if call.get("method") not in results:
        return web.json_response({"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": -1}})
    return web.json_response(
        {"jsonrpc": "2.0", "id": call["id"], "result": results[call["method"]]}
    )


@pytest_asyncio.fixture
async def node() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/", rpc)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    await runner.cleanup()


async def measure(**options: Any) -> dict[str, Any]:
    assert HttpProbe.validate(options) == []
    probe = HttpProbe(options)
    try:
        ((_, fields),) = (await probe.measure()).items()
    finally:
        await probe.close()
    return fields


@pytest.mark.asyncio
async def test_json_rpc_get_version(node: str) -> None:
    """A POSTed JSON-RPC call's result field is picked from the answer."""
    fields = await measure(
        url=node,
        method="POST",
        json={"jsonrpc": "2.0", "id": 1, "method": "getVersion"},
        json_fields={"version": "result.solana_core"},
    )
    assert (fields["status"], fields["version"]) == (200, "1.18.2")


@pytest.mark.asyncio
async def test_eth_syncing_sent_as_a_text_body(node: str) -> None:
    """A text body with a content-type header works too: eth_syncing is false."""
    fields = await measure(
        url=node,
        method="POST",
        headers={"Content-Type": "application/json"},
        body='{"jsonrpc": "2.0", "id": 7, "method": "eth_syncing", "params": []}',
        json_fields={"syncing": "result"},
    )
    assert fields["syncing"] is False


def test_a_body_needs_a_method_that_carries_one() -> None:
    """json or body with GET, or both at once, are validate errors."""
    assert HttpProbe.validate({"url": "http://a:80/", "json": {"x": 1}}) == [
        "a request body needs method: POST, PUT or PATCH"
    ]
    both = {"url": "http://a:80/", "method": "POST", "json": 1, "body": "x"}
    assert HttpProbe.validate(both) == ["give either json (a JSON body) or body (text), not both"]
