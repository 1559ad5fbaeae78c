"""Slow stats reads: the previous figures stand in within one run, never across a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import pytest

from medic.probes.containers import container as mod
from medic.probes.containers.container import ContainerProbe

SAMPLE = {"memory_stats": {"usage": 95 * 2**20, "limit": 100 * 2**20}, "pids_stats": {}}
LOW = {"memory_stats": {"usage": 10 * 2**20, "limit": 100 * 2**20}, "pids_stats": {}}


@pytest.mark.asyncio
async def test_previous_figures_stand_in_only_within_one_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same run and a slow read: last figures at once. A new run: wait for its own."""
    replies = [(0.0, SAMPLE), (1.0, LOW), (0.3, LOW)]

    async def stats(client: Any, container_id: str) -> Mapping[str, Any]:
        delay, sample = replies.pop(0)
        await asyncio.sleep(delay)
        return sample

    monkeypatch.setattr(ContainerProbe, "_stats", staticmethod(stats))
    probe = ContainerProbe({"name": "web"})
    limit = asyncio.Semaphore(8)
    first = await probe._usage_now(None, "abc@t1", "abc", None, limit)
    assert first["memory_percent"] == 95.0
    started = time.monotonic()
    again = await probe._usage_now(None, "abc@t1", "abc", None, limit)
    assert again["memory_percent"] == 95.0  # the 1 s read is still under way
    assert time.monotonic() - started < mod.STATS_WAIT + 0.2
    restarted = await probe._usage_now(None, "abc@t2", "abc", None, limit)
    assert restarted["memory_percent"] == 10.0  # never the pre-restart 95 %
    await probe.close()
