"""Fixtures for the metrics probes: a real node exporter and Prometheus, a local exposition.

The node exporter and Prometheus are the real Debian programs that
scripts/provision-prometheus.sh installs, started here on free loopback ports with their
config and storage under tmp (once per session: Prometheus needs ~5 s before its first
scrape). When they are missing the tests fail and name the script; they never skip.
The exposition server is an aiohttp app in the test's own loop whose body a test sets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp import web

from kit.promstack import (
    Exposition,
    Service,
    StackError,
    start_node_exporter,
    start_prometheus,
    wait_for_series,
)


@pytest.fixture(scope="session")
def node_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A real prometheus-node-exporter on 127.0.0.1."""
    try:
        service = start_node_exporter(tmp_path_factory.mktemp("node-exporter"))
    except StackError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, node_exporter: Service
) -> Iterator[Service]:
    """A real Prometheus scraping the node exporter (job "node") every second."""
    target = node_exporter.url.removeprefix("http://")
    try:
        service = start_prometheus(tmp_path_factory.mktemp("prometheus"), {"node": [target]})
        wait_for_series(service, 'up{job="node"}')
    except StackError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield service
    service.stop()


@pytest_asyncio.fixture
async def exposition() -> AsyncIterator[Exposition]:
    """An exposition endpoint at ``.url`` serving ``.body`` with ``.status``."""
    state = Exposition(url="")

    async def metrics(request: web.Request) -> web.Response:
        state.requests += 1
        state.last_headers = dict(request.headers)
        return web.Response(
            status=state.status, text=state.body, content_type=state.content_type, charset="utf-8"
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}/metrics"
    yield state
    await runner.cleanup()


@pytest_asyncio.fixture
async def silent_server() -> AsyncIterator[str]:
    """A URL whose server accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # keep the connection open, say nothing

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/metrics"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()
