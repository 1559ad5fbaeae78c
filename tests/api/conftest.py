"""Fixtures for the API tests: fake views (tests/kit/api_fakes.py) and test clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from kit.api_fakes import Client, ClientFactory, FakeView, ViewFactory, as_view, make_view
from medic.api.app import create_app


@pytest.fixture
def new_view() -> ViewFactory:
    """Make a fake view: ``new_view(host="0.0.0.0", token="t")``."""
    return make_view


@pytest.fixture
def view() -> FakeView:
    """A loopback agent with no token configured."""
    return make_view()


@pytest_asyncio.fixture
async def client_for() -> AsyncIterator[ClientFactory]:
    """Start a test server for a given view; every one started is closed at teardown."""
    clients: list[Client] = []

    async def start(v: FakeView) -> Client:
        client = TestClient(TestServer(create_app(as_view(v)), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest_asyncio.fixture
async def client(view: FakeView, client_for: ClientFactory) -> Client:
    """A client of the API serving the default loopback view."""
    return await client_for(view)
