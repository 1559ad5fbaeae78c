"""The ``file.integrity`` probe on real files: edits, chmod, links, bounds, a kept baseline."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from medic.errors import ProbeError
from medic.probes import probestate
from medic.probes.system.integrity import IntegrityProbe


def write(path: Path, text: str) -> None:
    path.write_text(text)


async def read(probe: IntegrityProbe) -> dict[str, dict[str, Any]]:
    return await probe.measure()


@pytest.mark.asyncio
async def test_first_run_records_then_edit_and_chmod_are_changes(
    tmp_path: Path, state_root: Path
) -> None:
    """Unchanged at first; an edit changes digest, a chmod mode; mtime alone does not."""
    conf = tmp_path / "a.conf"
    write(conf, "x = 1\n")
    probe = IntegrityProbe({"path": str(tmp_path / "*.conf")})
    first = (await read(probe))[str(conf)]
    assert first["changed"] is False and first["exists"] is True
    assert first["sha256"] == hashlib.sha256(b"x = 1\n").hexdigest() == first["digest"]
    os.utime(conf, (1, 1))
    assert (await read(probe))[str(conf)]["changed"] is False
    write(conf, "x = 2\n")
    conf.chmod(0o600)
    now = (await read(probe))[str(conf)]
    assert now["changed"] is True and now["changed_fields"] == ["digest", "mode"]
    assert now["mode"] == "0600"


@pytest.mark.asyncio
async def test_baseline_survives_a_restart_and_new_files_count(
    tmp_path: Path, state_root: Path
) -> None:
    """A new probe (restarted agent) compares with the kept baseline; a new file is a change."""
    conf = tmp_path / "a.conf"
    write(conf, "one\n")
    options = {"path": str(tmp_path / "*.conf")}
    await read(IntegrityProbe(options))
    write(conf, "two\n")
    write(tmp_path / "b.conf", "new\n")
    out = await read(IntegrityProbe(options))
    assert out[str(conf)]["changed_fields"] == ["digest"]
    assert out[str(tmp_path / "b.conf")]["changed_fields"] == ["exists", "digest", "mode",
                                                             "owner", "group"]  # fmt: skip
    write(conf, "one\n")  # put back: no longer changed
    assert (await read(IntegrityProbe(options)))[str(conf)]["changed"] is False


@pytest.mark.asyncio
async def test_previous_baseline_reports_a_change_once(tmp_path: Path, state_root: Path) -> None:
    """baseline: previous compares with the run before."""
    conf = tmp_path / "a.conf"
    write(conf, "one\n")
    probe = IntegrityProbe({"path": str(conf), "baseline": "previous"})
    await read(probe)
    write(conf, "two\n")
    assert (await read(probe))[str(conf)]["changed"] is True
    assert (await read(probe))[str(conf)]["changed"] is False


@pytest.mark.asyncio
async def test_symlink_is_not_followed_unless_asked(tmp_path: Path, state_root: Path) -> None:
    """The link's digest is of where it points; repointing it is a change."""
    (tmp_path / "t1").write_text("a")
    (tmp_path / "t2").write_text("a")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "t1")
    probe = IntegrityProbe({"path": str(link)})
    first = (await read(probe))[str(link)]
    assert first["symlink"] is True
    assert first["digest"] == hashlib.sha256(os.fsencode(tmp_path / "t1")).hexdigest()
    link.unlink()
    link.symlink_to(tmp_path / "t2")  # same content, another file
    assert (await read(probe))[str(link)]["changed_fields"] == ["digest"]
    followed = await read(IntegrityProbe({"path": str(link), "follow": True}))
    assert followed[str(link)]["digest"] == hashlib.sha256(b"a").hexdigest()


@pytest.mark.asyncio
async def test_bounds_are_probe_errors_naming_them(tmp_path: Path, state_root: Path) -> None:
    """A file over max_bytes and a glob over max_files fail with the bound in the message."""
    big = tmp_path / "big"
    big.write_bytes(b"x" * 100)
    (tmp_path / "small").write_bytes(b"x")
    with pytest.raises(ProbeError, match=r"more than max_bytes \(10\)"):
        await read(IntegrityProbe({"path": str(big), "max_bytes": 10}))
    with pytest.raises(ProbeError, match=r"more than max_files \(1\)"):
        await read(IntegrityProbe({"path": str(tmp_path / "*"), "max_files": 1}))


@pytest.mark.asyncio
async def test_a_missing_file_is_a_reading(tmp_path: Path) -> None:
    """No state root: in memory; a file removed after the first run is changed, exists false."""
    conf = tmp_path / "a.conf"
    write(conf, "x")
    probe = IntegrityProbe({"path": str(conf)})
    await read(probe)
    conf.unlink()
    now = (await read(probe))[str(conf)]
    assert now["exists"] is False and "exists" in now["changed_fields"]


@pytest.mark.asyncio
async def test_a_damaged_baseline_file_starts_a_new_baseline(
    tmp_path: Path, state_root: Path
) -> None:
    """A kept baseline whose entries are not readings is dropped, not a crash every run."""
    conf = tmp_path / "a.conf"
    write(conf, "one\n")
    options = {"path": str(conf)}
    state = probestate.state_file("file.integrity", options)
    assert state is not None
    state.save({"algorithm": "sha256", "files": {str(conf): "garbage"}})
    out = await read(IntegrityProbe(options))
    assert out[str(conf)]["changed"] is False and out[str(conf)]["exists"] is True
