"""The log probe on real files: following, rotation, truncation, windows, limits."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from medic.clock import FakeClock
from medic.errors import ProbeError
from medic.probes.logs.logfile import LogProbe

MakeLog = Callable[..., LogProbe]


@pytest_asyncio.fixture
async def make_log(tmp_path: Path) -> AsyncIterator[MakeLog]:
    """Factory for log probes on ``tmp_path/app.log`` with a fake clock; closed afterwards."""
    made: list[LogProbe] = []

    def build(**options: Any) -> LogProbe:
        options = {"path": str(tmp_path / "app.log"), "pattern": "error", **options}
        assert LogProbe.validate(options) == []
        probe = LogProbe(options)
        probe.clock = FakeClock()
        made.append(probe)
        return probe

    yield build
    for probe in made:
        await probe.close()


def append(path: Path, *lines: str) -> None:
    """Append whole lines (none: just make sure the file exists)."""
    with path.open("a") as f:
        f.writelines(line + "\n" for line in lines)


def rotate(path: Path) -> Path:
    """What logrotate does first: rename the live file to .1."""
    return path.rename(path.with_name(path.name + ".1"))


async def read(probe: LogProbe) -> dict[str, Any]:
    ((target, fields),) = (await probe.measure()).items()
    assert target == probe.path
    return fields


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "app.log"


@pytest.mark.asyncio
async def test_first_run_starts_at_the_end(log: Path, make_log: MakeLog) -> None:
    """History already in the file is not counted; what is appended after is."""
    append(log, "old error", "old error")
    probe = make_log()
    assert await read(probe) == {
        "match_count": 0,
        "lines": 0,
        "last_match": None,
        "file_exists": True,
        "files": 1,
        "rotated": False,
        "truncated": False,
    }
    append(log, "fine", "an ERROR here")
    fields = await read(probe)
    assert (fields["match_count"], fields["lines"], fields["last_match"]) == (1, 2, "an ERROR here")


@pytest.mark.asyncio
async def test_from_start_counts_history(log: Path, make_log: MakeLog) -> None:
    """from_start: true counts what the file holds on the first run."""
    append(log, "old error", "ok", "error again")
    fields = await read(make_log(from_start=True))
    assert (fields["match_count"], fields["lines"]) == (2, 3)


@pytest.mark.asyncio
async def test_partial_line_waits_for_its_newline(log: Path, make_log: MakeLog) -> None:
    """A line still being written is counted once its newline arrives, whole."""
    append(log)
    probe = make_log()
    await read(probe)
    with log.open("a") as f:
        f.write("half an err")
    assert (await read(probe))["lines"] == 0
    with log.open("a") as f:
        f.write("or line\n")
    fields = await read(probe)
    assert (fields["lines"], fields["last_match"]) == (1, "half an error line")


@pytest.mark.asyncio
async def test_rotation_reads_the_rest_of_the_old_file_then_the_new(
    log: Path, make_log: MakeLog, tmp_path: Path
) -> None:
    """Renamed and recreated: the old file's last lines and the new file's lines all count."""
    append(log, "history error")
    probe = make_log()
    await read(probe)
    append(log, "error before rotation")
    rotate(log)
    append(tmp_path / "app.log.1", "error written late to the old file")
    append(log, "error in the new file", "fine")
    fields = await read(probe)
    assert fields["rotated"] is True
    assert (fields["match_count"], fields["lines"]) == (3, 4)
    assert fields["last_match"] == "error in the new file"
    append(log, "another error")
    after = await read(probe)
    assert (after["rotated"], after["match_count"]) == (False, 4)


@pytest.mark.asyncio
async def test_renamed_file_without_successor_is_still_drained(
    log: Path, make_log: MakeLog, tmp_path: Path
) -> None:
    """Between the rename and the new file, the old one is read and file_exists is false."""
    append(log)
    probe = make_log()
    await read(probe)
    rotate(log)
    append(tmp_path / "app.log.1", "error while rotating")
    gone = await read(probe)
    assert (gone["file_exists"], gone["match_count"], gone["rotated"]) == (False, 1, False)
    append(log, "error in the new file")
    back = await read(probe)
    assert (back["file_exists"], back["match_count"], back["rotated"]) == (True, 2, True)


@pytest.mark.asyncio
async def test_copytruncate_starts_again_from_the_beginning(log: Path, make_log: MakeLog) -> None:
    """A file cut below the offset (copytruncate, truncate -s 0) is read from the start."""
    append(log, "a long line of history that makes the file big", "and more history")
    probe = make_log()
    await read(probe)
    os.truncate(log, 0)
    append(log, "error after truncation")
    fields = await read(probe)
    assert (fields["rotated"], fields["match_count"], fields["lines"]) == (True, 1, 1)


@pytest.mark.asyncio
async def test_missing_file_is_a_reading_and_a_new_one_is_read_whole(
    log: Path, make_log: MakeLog
) -> None:
    """No file yet: file_exists false; once it appears, everything in it is new."""
    probe = make_log()
    assert (await read(probe))["file_exists"] is False
    append(log, "first error", "second error")
    fields = await read(probe)
    assert (fields["file_exists"], fields["match_count"]) == (True, 2)


@pytest.mark.asyncio
async def test_matches_expire_after_the_window(log: Path, make_log: MakeLog) -> None:
    """Matches count for `window` after the run that read them, then drop out."""
    append(log)
    probe = make_log(window="1m")
    await read(probe)
    assert isinstance(probe.clock, FakeClock)
    probe.clock.advance(10)
    append(log, "error one")
    assert (await read(probe))["match_count"] == 1
    probe.clock.advance(30)
    append(log, "error two")
    assert (await read(probe))["match_count"] == 2
    probe.clock.advance(31)  # the first error was read 61 s ago
    fields = await read(probe)
    assert (fields["match_count"], fields["last_match"]) == (1, "error two")
    probe.clock.advance(60)
    fields = await read(probe)
    assert (fields["match_count"], fields["lines"], fields["last_match"]) == (0, 0, None)


@pytest.mark.asyncio
async def test_case_and_long_lines(log: Path, make_log: MakeLog) -> None:
    """ignore_case: false is exact; text past max_line is not matched; last_match is cut."""
    append(log)
    exact = make_log(ignore_case=False)
    short = make_log(max_line=10)
    await read(exact)
    await read(short)
    append(log, "ERROR upper", "error " + "y" * 1000, "x" * 20 + " error")
    assert (await read(exact))["match_count"] == 2
    fields = await read(short)
    assert (fields["lines"], fields["match_count"], fields["last_match"]) == (3, 2, "error yyyy")
    wide = await read(make_log(from_start=True))
    assert (wide["match_count"], wide["last_match"]) == (3, "x" * 20 + " error")
    long_last = make_log(from_start=True, pattern="y{100}")
    assert (await read(long_last))["last_match"] == ("error " + "y" * 1000)[:500]


@pytest.mark.asyncio
async def test_too_much_new_data_skips_ahead(log: Path, make_log: MakeLog) -> None:
    """More new bytes than the limit: counts are partial, the probe jumps to the end."""
    append(log)
    probe = make_log()
    probe.max_bytes = 100
    await read(probe)
    append(log, *(f"error {i:03d} of a flood" for i in range(50)))
    flood = await read(probe)
    assert flood["truncated"] is True
    assert flood["match_count"] < 50
    append(log, "error after the flood")
    after = await read(probe)
    assert after["truncated"] is False
    assert after["last_match"] == "error after the flood"
    assert after["match_count"] == flood["match_count"] + 1


@pytest.mark.asyncio
async def test_directory_is_an_error(tmp_path: Path, make_log: MakeLog) -> None:
    """A path that is not a regular file fails the run and says so."""
    probe = make_log(path=str(tmp_path))
    with pytest.raises(ProbeError) as caught:
        await probe.measure()
    assert caught.value.message == f"{tmp_path} is not a regular file"


@pytest.mark.asyncio
async def test_measured_fields_are_the_declared_ones(log: Path, make_log: MakeLog) -> None:
    """The probe yields exactly its declared fields."""
    append(log, "x")
    fields = await read(make_log())
    assert set(fields) == set(LogProbe.field_names())


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (
            {"pattern": "(unclosed"},
            "pattern '(unclosed': invalid regex: missing ) to close `(` (character 1 of the "
            "pattern); close the group, or write \\( for a literal (",
        ),
        ({"pattern": "x", "window": "0s"}, "window must be longer than 0s."),
    ],
)
def test_validate_catches_bad_options(options: dict[str, Any], problem: str) -> None:
    """A broken regular expression or an empty window is reported in plain words."""
    assert LogProbe.validate({"path": "/var/log/x.log", **options}) == [problem]


@pytest.mark.asyncio
async def test_glob_follows_every_file_and_new_ones_from_their_start(tmp_path: Path) -> None:
    """*.log: each file has its own position; a file created later is read whole; .gz skipped."""
    (tmp_path / "a.log").write_text("old error\n")
    probe = LogProbe({"path": str(tmp_path / "*.log"), "pattern": "error"})
    first = await probe.measure()
    assert first[str(tmp_path / "*.log")]["files"] == 1
    append(tmp_path / "a.log", "error a")
    (tmp_path / "b.log").write_text("error b1\nerror b2\n")
    (tmp_path / "c.log.gz").write_bytes(b"error\n")
    fields = (await probe.measure())[str(tmp_path / "*.log")]
    assert (fields["match_count"], fields["files"]) == (3, 2)
    await probe.close()


@pytest.mark.asyncio
async def test_glob_rotation_does_not_count_the_renamed_file_twice(tmp_path: Path) -> None:
    """app.log -> app.log.1 under a glob matching both: the old file is drained once."""
    log = tmp_path / "app.log"
    log.write_text("")
    probe = LogProbe({"path": str(tmp_path / "app.log*"), "pattern": "error"})
    await probe.measure()
    append(log, "error one")
    log.rename(tmp_path / "app.log.1")
    append(tmp_path / "app.log.1", "error late")
    log.write_text("error new\n")
    fields = (await probe.measure())[str(tmp_path / "app.log*")]
    assert (fields["match_count"], fields["files"]) == (3, 2)
    append(log, "fine")
    fields = (await probe.measure())[str(tmp_path / "app.log*")]
    assert fields["lines"] == 4  # nothing counted again
    await probe.close()


@pytest.mark.asyncio
async def test_glob_copytruncate_and_too_many_files(tmp_path: Path) -> None:
    """copytruncate restarts that file; more files than max_files is an error."""
    log = tmp_path / "x.log"
    log.write_text("")
    probe = LogProbe({"path": str(tmp_path / "*.log"), "pattern": "error", "max_files": 1})
    await probe.measure()
    append(log, "error number one, a long line")
    await probe.measure()
    (tmp_path / "x.log.1").write_bytes(log.read_bytes())
    log.write_text("")
    append(log, "error 2")
    fields = (await probe.measure())[str(tmp_path / "*.log")]
    assert (fields["match_count"], fields["rotated"]) == (2, True)
    (tmp_path / "y.log").write_text("")
    with pytest.raises(ProbeError, match=r"matches 2 files, more than max_files \(1\)"):
        await probe.measure()
    await probe.close()
