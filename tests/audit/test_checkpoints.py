"""Checkpoints leave the host: the log line, the POST, and the config that sets them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from structlog.testing import capture_logs

from kit.audit_chain import check
from medic.audit.events import AuditEvent, Kind
from medic.audit.options import AuditOptions, CheckpointOptions
from medic.audit.store import AuditStore
from medic.config import load_config
from medic.errors import ConfigError

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP endpoint that keeps every checkpoint POSTed to it."""
    got: list[dict[str, Any]] = []

    async def take(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/checkpoints", take)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/checkpoints", got
    await runner.cleanup()


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.asyncio
async def test_the_head_is_logged_and_posted_on_the_interval_and_at_stop(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    """audit.checkpoint (count, head) goes to the log and the URL; the last one verifies."""
    url, got = receiver
    db = tmp_path / "audit.db"
    options = AuditOptions(checkpoint=CheckpointOptions(every=0.05, url=url))
    with capture_logs() as logs:
        store = AuditStore(db, host="node1", options=options)
        await store.start()
        await until(lambda: len(got) >= 1)  # the head at start: an empty log
        for i in range(3):
            store.emit(AuditEvent(Kind.PROBE_FAILED, 1_700_000_000.0 + i, details={"i": i}))
        await store.flush()
        await until(lambda: any(body["count"] == 3 for body in got))  # on the interval
        await store.close()
    lines = [entry for entry in logs if entry["event"] == "audit.checkpoint"]
    assert len(lines) >= 3  # at start, on the interval, at stop
    assert (lines[0]["count"], lines[-1]["count"]) == (0, 3)
    head = check(db).head
    assert head is not None
    assert lines[-1]["head"] == head.head
    assert got[-1]["checkpoint"] == f"3:{head.head}"
    assert {key for key in got[-1]} == {"host", "db", "count", "head", "time", "checkpoint"}
    assert check(db, (head,)).ok


@pytest.mark.asyncio
async def test_an_unreachable_url_is_logged_and_the_agent_goes_on(tmp_path: Path) -> None:
    """A checkpoint that cannot be sent is a warning, never a stop."""
    options = AuditOptions(checkpoint=CheckpointOptions(every=60, url="http://127.0.0.1:9/x"))
    with capture_logs() as logs:
        store = AuditStore(tmp_path / "audit.db", host="node1", options=options)
        await store.start()
        await store.emit_durable(AuditEvent(Kind.PROBE_FAILED, 1_700_000_000.0))
        await store.close()
    failed = [entry for entry in logs if entry["event"] == "audit.checkpoint_not_sent"]
    assert failed and failed[0]["url"] == "http://127.0.0.1:9/x"


def test_config_audit_section(tmp_path: Path) -> None:
    """audit: key and checkpoint are read; every outside 10s..7d and a hostless URL are refused."""
    config = tmp_path / "medic.yaml"
    config.write_text(
        "audit:\n  key: {file: /etc/medic/audit.key}\n"
        "  checkpoint: {every: 15m, url: 'https://audit.example.com/cp'}\n"
    )
    audit = load_config(config).audit
    assert audit == AuditOptions(
        key={"file": "/etc/medic/audit.key"},
        checkpoint=CheckpointOptions(every=900.0, url="https://audit.example.com/cp"),
    )
    assert load_config(tmp_path / "medic.yaml").audit.checkpoint.every == 900.0
    config.write_text("audit: {checkpoint: {every: 1s}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value) == (
        f"{config}: audit.checkpoint.every is 1s: it must be between 10s and 7d"
        " (hint: e.g. every: 1h)"
    )
    config.write_text("audit: {checkpoint: {url: 'https:///nohost'}}\n")
    with pytest.raises(ConfigError, match="names no host"):
        load_config(config)
    config.write_text("audit: {key: {file: relative.key}}\n")
    with pytest.raises(ConfigError, match=r"audit.key.file: 'relative.key' does not match"):
        load_config(config)
