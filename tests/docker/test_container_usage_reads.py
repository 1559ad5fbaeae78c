"""Resource stats are read only for a policy that looks at them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from medic.probes.containers.container import ContainerProbe


@pytest.fixture(name="stats_reads")
def stats_reads_fixture(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The container ids each real stats read was made for."""
    reads: list[str] = []
    real = ContainerProbe._stats

    async def counted(client: Any, container_id: str) -> Mapping[str, Any]:
        reads.append(container_id)
        return await real(client, container_id)

    monkeypatch.setattr(ContainerProbe, "_stats", staticmethod(counted))
    return reads


@pytest.mark.asyncio
async def test_health_policy_reads_no_stats(run_container: Any, stats_reads: list[str]) -> None:
    """A policy on health alone never reads stats; the usage fields stay null."""
    container = run_container()
    probe = ContainerProbe({"name": container.name})
    probe.uses(frozenset({"health", "running"}))
    try:
        fields = (await probe.measure())[container.name]
    finally:
        await probe.close()
    assert fields["running"] is True
    assert stats_reads == []
    assert fields["memory_bytes"] is None
    assert fields["cpu_percent"] is None


@pytest.mark.asyncio
async def test_memory_policy_reads_stats(run_container: Any, stats_reads: list[str]) -> None:
    """A policy on memory_percent reads one stats sample per running container."""
    container = run_container(mem_limit="64m")
    probe = ContainerProbe({"name": container.name})
    probe.uses(frozenset({"memory_percent"}))
    try:
        fields = (await probe.measure())[container.name]
    finally:
        await probe.close()
    assert stats_reads == [container.id]
    assert fields["memory_percent"] is not None
