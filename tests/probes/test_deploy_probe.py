"""The deploy probe: seconds since a marker file changed, or since a version changed."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from medic.errors import ProbeError
from medic.probes import probestate
from medic.probes.services.deploy import DeployProbe

# Every test keeps probe state in its own folder, as the agent does.
pytestmark = pytest.mark.usefixtures("state_root")


@pytest_asyncio.fixture
async def endpoint() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A version endpoint whose body the test changes: (url, body)."""
    body: dict[str, Any] = {"version": "1.4.0"}

    async def version(_: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/version", version)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/version")), body


def kept_files(folder: Path) -> list[Path]:
    """The probe state files under ``folder``."""
    return sorted(folder.rglob("*.json"))


def kept_json(path: Path) -> tuple[Any, int]:
    """A state file's JSON and its permission bits."""
    return json.loads(path.read_text()), stat.S_IMODE(path.stat().st_mode)


def damage(path: Path) -> None:
    path.write_text('{"version": ["1.4.0"], "changed": "soon"}')


async def read_at(url: str, now: float) -> dict[str, Any]:
    """A fresh probe (an agent just started) reading at ``now``."""
    p = DeployProbe({"url": url})
    p.now = lambda: now
    return (await p.measure())["deploy"]


@pytest.mark.asyncio
async def test_a_marker_files_time_is_the_deploy(tmp_path: Path) -> None:
    """A release link swapped 90 s ago: since_deploy 90, from the link's own time."""
    release = tmp_path / "release-7"
    release.mkdir()
    os.utime(release, (1_000.0, 1_000.0))
    current = tmp_path / "current"
    current.symlink_to(release)
    os.utime(current, (5_000.0, 5_000.0), follow_symlinks=False)
    p = DeployProbe({"path": str(current)})
    p.now = lambda: 5_090.0
    assert await p.measure() == {
        "deploy": {"since_deploy": 90.0, "deployed_at": 5_000.0, "version": None}
    }


@pytest.mark.asyncio
async def test_no_marker_means_no_deploy_seen(tmp_path: Path) -> None:
    """A missing marker is a reading (null), not a failure."""
    p = DeployProbe({"path": str(tmp_path / "none"), "name": "web"})
    assert (await p.measure())["web"]["since_deploy"] is None


@pytest.mark.asyncio
async def test_a_version_that_changes_is_a_deploy_and_the_first_read_is_not() -> None:
    """The first version read is the baseline (null); a new one starts the clock."""
    body = {"build": {"version": "1.4.0"}}

    async def version(_: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/version", version)
    async with TestServer(app, host="127.0.0.1") as server:
        p = DeployProbe({"url": str(server.make_url("/version")), "field": "build.version"})
        p.now = lambda: 100.0
        assert (await p.measure())["deploy"] == {
            "since_deploy": None,
            "deployed_at": None,
            "version": "1.4.0",
        }
        body["build"]["version"] = "1.5.0"
        p.now = lambda: 200.0
        await p.measure()
        p.now = lambda: 260.0
        assert (await p.measure())["deploy"]["since_deploy"] == 60.0
        body["build"] = {}
        with pytest.raises(ProbeError, match=r"no version at 'build\.version'"):
            await p.measure()


@pytest.mark.asyncio
async def test_since_deploy_survives_a_restart(
    endpoint: tuple[str, dict[str, Any]], state_root: Path
) -> None:
    """Deployed at 200; the agent restarted, read at 500: since_deploy 300, not null."""
    url, body = endpoint
    p = DeployProbe({"url": url})
    p.now = lambda: 100.0
    await p.measure()
    body["version"] = "1.5.0"
    p.now = lambda: 200.0
    await p.measure()
    after = await read_at(url, 500.0)
    assert after == {"since_deploy": 300.0, "deployed_at": 200.0, "version": "1.5.0"}
    (kept,) = kept_files(state_root)
    assert kept_json(kept) == ({"changed": 200.0, "seen": 500.0, "version": "1.5.0"}, 0o600)


@pytest.mark.asyncio
async def test_a_deploy_while_the_agent_was_down_counts_from_the_last_read(
    endpoint: tuple[str, dict[str, Any]],
) -> None:
    """1.4.0 last read at 100, 1.5.0 read at 7300 after a restart: deployed at 100 at the
    earliest, so a 2 h downtime does not look like a deploy a moment ago."""
    url, body = endpoint
    assert (await read_at(url, 100.0))["since_deploy"] is None  # nothing kept: the baseline
    body["version"] = "1.5.0"
    assert await read_at(url, 7_300.0) == {
        "since_deploy": 7_200.0,
        "deployed_at": 100.0,
        "version": "1.5.0",
    }


@pytest.mark.asyncio
async def test_the_last_read_is_kept_once_a_minute_and_a_change_at_once(
    endpoint: tuple[str, dict[str, Any]], state_root: Path
) -> None:
    """Unchanged reads at 100, 130, 170 write at 100 and 170; a new version is written at once."""
    url, body = endpoint
    p = DeployProbe({"url": url})
    written = []
    for now in (100.0, 130.0, 170.0):
        p.now = lambda now=now: now
        await p.measure()
        written.append(kept_json(kept_files(state_root)[0])[0]["seen"])
    assert written == [100.0, 100.0, 170.0]
    body["version"] = "1.5.0"
    p.now = lambda: 175.0
    await p.measure()
    assert kept_json(kept_files(state_root)[0])[0] == {
        "changed": 175.0,
        "seen": 175.0,
        "version": "1.5.0",
    }


@pytest.mark.asyncio
async def test_damaged_state_is_a_fresh_baseline_and_medic_probe_keeps_none(
    endpoint: tuple[str, dict[str, Any]], state_root: Path, tmp_path: Path
) -> None:
    """A damaged file reads as nothing kept; with no state folder nothing is written."""
    url, body = endpoint
    await read_at(url, 100.0)
    (kept,) = kept_files(state_root)
    damage(kept)
    body["version"] = "1.5.0"
    assert (await read_at(url, 200.0))["since_deploy"] is None
    probestate.set_root(None)
    await asyncio.to_thread(kept.unlink)
    body["version"] = "1.6.0"
    assert (await read_at(url, 300.0))["since_deploy"] is None
    assert kept_files(tmp_path) == []


def test_validate_wants_one_marker() -> None:
    """Both or neither of path/url, and field without url, are named with the fix."""
    both = ["give either path: (a marker file) or url: (a version endpoint)"]
    assert DeployProbe.validate({}) == both
    assert DeployProbe.validate({"path": "/a", "url": "http://x/v"}) == both
    assert DeployProbe.validate({"path": "/a", "field": "v"}) == [
        "field: picks the version from url:'s body; a path: marker has none"
    ]
