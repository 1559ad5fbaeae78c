"""The deploy probe: seconds since a marker file changed, or since a version changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from medic.errors import ProbeError
from medic.probes.deploy import DeployProbe


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
async def test_a_version_that_changes_is_a_deploy_and_a_restart_is_not() -> None:
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


def test_validate_wants_one_marker() -> None:
    """Both or neither of path/url, and field without url, are named with the fix."""
    both = ["give either path: (a marker file) or url: (a version endpoint)"]
    assert DeployProbe.validate({}) == both
    assert DeployProbe.validate({"path": "/a", "url": "http://x/v"}) == both
    assert DeployProbe.validate({"path": "/a", "field": "v"}) == [
        "field: picks the version from url:'s body; a path: marker has none"
    ]
