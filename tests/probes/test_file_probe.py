"""The file probe against real files with set modification times."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from medic.errors import ProbeError
from medic.probes.system.file import FileProbe

pytestmark = pytest.mark.integration

MISSING = {
    "exists": False,
    "age": None,
    "size_bytes": None,
    "is_dir": None,
    "mtime": None,
    "count": 0,
}


async def fields_of(options: dict[str, Any]) -> dict[str, Any]:
    out = await FileProbe(options).measure()
    assert list(out) == [options["path"]]
    return out[options["path"]]


def make(path: Path, size: int, age: float) -> float:
    path.write_bytes(b"x" * size)
    mtime = time.time() - age
    os.utime(path, (mtime, mtime))
    return mtime


@pytest.mark.asyncio
async def test_existing_file(tmp_path: Path) -> None:
    """A file yields every declared field: its age from mtime, its size, not a dir."""
    path = tmp_path / "backup.dump"
    mtime = make(path, 1234, age=7200)
    fields = await fields_of({"path": str(path)})
    assert set(fields) == set(FileProbe.field_names())
    assert fields["exists"] is True
    assert 7200 <= fields["age"] < 7205
    assert fields["size_bytes"] == 1234
    assert fields["is_dir"] is False
    assert fields["mtime"] == pytest.approx(mtime)
    assert fields["count"] == 1


@pytest.mark.asyncio
async def test_missing_file_is_a_reading(tmp_path: Path) -> None:
    """A missing path is exists=false with null fields, not an error."""
    assert await fields_of({"path": str(tmp_path / "nope")}) == MISSING
    assert await fields_of({"path": str(tmp_path / "nope" / "deeper")}) == MISSING


@pytest.mark.asyncio
async def test_path_below_a_file_is_missing(tmp_path: Path) -> None:
    """A path that runs through a regular file does not exist."""
    (tmp_path / "file").write_text("x")
    assert await fields_of({"path": str(tmp_path / "file" / "child")}) == MISSING


@pytest.mark.asyncio
async def test_directory(tmp_path: Path) -> None:
    """A directory exists with is_dir true."""
    fields = await fields_of({"path": str(tmp_path)})
    assert fields["exists"] is True and fields["is_dir"] is True


@pytest.mark.asyncio
async def test_future_mtime_has_zero_age(tmp_path: Path) -> None:
    """A file stamped in the future is age 0, never negative."""
    path = tmp_path / "future"
    make(path, 1, age=-3600)
    assert (await fields_of({"path": str(path)}))["age"] == 0.0


@pytest.mark.asyncio
async def test_glob_reports_newest_match(tmp_path: Path) -> None:
    """With glob, fields describe the newest match and count says how many matched."""
    make(tmp_path / "db-1.dump", 10, age=3 * 86400)
    newest = make(tmp_path / "db-3.dump", 30, age=3600)
    make(tmp_path / "db-2.dump", 20, age=2 * 86400)
    make(tmp_path / "other.txt", 40, age=0)
    pattern = str(tmp_path / "db-*.dump")
    fields = await fields_of({"path": pattern, "glob": True})
    assert set(fields) == set(FileProbe.field_names())
    assert fields["count"] == 3
    assert fields["size_bytes"] == 30
    assert fields["mtime"] == pytest.approx(newest)
    assert 3600 <= fields["age"] < 3605


@pytest.mark.asyncio
async def test_glob_without_matches(tmp_path: Path) -> None:
    """A pattern with no match reads exists=false and count 0."""
    assert await fields_of({"path": str(tmp_path / "*.dump"), "glob": True}) == MISSING


@pytest.mark.asyncio
async def test_glob_skips_dangling_links(tmp_path: Path) -> None:
    """A symbolic link to nothing does not count as a match."""
    (tmp_path / "a.log").symlink_to(tmp_path / "gone")
    make(tmp_path / "b.log", 5, age=60)
    fields = await fields_of({"path": str(tmp_path / "*.log"), "glob": True})
    assert (fields["count"], fields["size_bytes"]) == (1, 5)


@pytest.mark.asyncio
async def test_unreadable_path_is_a_probe_error(tmp_path: Path) -> None:
    """A path the kernel refuses (a symlink loop) fails the probe with the reason."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(ProbeError) as info:
        await FileProbe({"path": str(loop)}).measure()
    assert str(info.value) == f"cannot read {loop}: Too many levels of symbolic links"


def test_validate_glob_characters_without_glob() -> None:
    """Glob characters in a plain path are reported with the fix."""
    assert FileProbe.validate({"path": "/backups/*.dump"}) == [
        "path '/backups/*.dump' contains glob characters but glob is not set; "
        "add glob: true to match a pattern."
    ]
    assert FileProbe.validate({"path": "/backups/*.dump", "glob": True}) == []
    assert FileProbe.validate({"path": "/backups/latest.dump"}) == []
