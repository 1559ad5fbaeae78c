"""The tcp probe against real loopback listeners: open, closed, silent, not answering."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from medic.probes.network.tcp import TcpProbe

pytestmark = pytest.mark.integration

SLACK = 3.0  # seconds a busy 2-core machine may add to a timeout before we call it a hang


async def measure(host: str, port: int, probe_timeout: float = 5.0) -> tuple[str, dict[str, Any]]:
    assert TcpProbe.validate({"host": host, "port": port}) == []
    probe = TcpProbe({"host": host, "port": port})
    probe.timeout = probe_timeout
    try:
        out = await asyncio.wait_for(probe.measure(), probe_timeout + SLACK)
    finally:
        await probe.close()
    assert len(out) == 1
    target, fields = next(iter(out.items()))
    assert set(fields) == set(TcpProbe.field_names())
    return target, fields


@pytest.mark.asyncio
async def test_open_port(silent_port: int) -> None:
    """A listening port is ok with a latency; a silent service still counts as open."""
    target, fields = await measure("127.0.0.1", silent_port)
    assert target == f"127.0.0.1:{silent_port}"
    assert fields["ok"] is True
    assert fields["error"] is None
    assert 0 <= fields["latency"] < 5


@pytest.mark.asyncio
async def test_closed_port_is_a_reading(closed_port: int) -> None:
    """Nothing listening gives ok=false and 'connection refused'."""
    _, fields = await measure("127.0.0.1", closed_port)
    assert fields == {"ok": False, "latency": None, "error": "connection refused"}


@pytest.mark.asyncio
async def test_connection_never_completed_is_cut_at_the_timeout(unreachable_port: int) -> None:
    """A connection the peer never completes ends at the probe's timeout."""
    started = time.monotonic()
    _, fields = await measure("127.0.0.1", unreachable_port, probe_timeout=0.5)
    assert time.monotonic() - started < 0.5 + SLACK
    assert fields == {"ok": False, "latency": None, "error": "timed out after 0.5s"}


@pytest.mark.asyncio
async def test_unresolvable_host() -> None:
    """A name that does not resolve says so."""
    _, fields = await measure("no-such-host.invalid", 80)
    assert fields == {"ok": False, "latency": None, "error": "cannot resolve no-such-host.invalid"}


def test_ipv6_target() -> None:
    """An IPv6 address is bracketed in the target."""
    assert TcpProbe({"host": "::1", "port": 5432}).target == "[::1]:5432"
