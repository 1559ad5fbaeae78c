"""The load envelope: one LoadResult for validate, run, reload and the API's rejected files."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from medic.audit.events import AuditEvent
from medic.audit.store import AuditStore
from medic.engine.reload import take_load
from medic.policy.loader import load_paths
from medic.policy.result import LoadResult

GOOD = """\
version: 1
policies:
  - name: NAME
    probe: {type: host.memory}
    when: percent > 90
"""
BROKEN = "version: 1\npolicies: [\n"


class Recorder:
    """Stands in for the audit store: keeps what take_load emits."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def emit(self, event: AuditEvent) -> None:
        self.events.append(event)


def load(root: Path, **files: str) -> LoadResult:
    """Write ``files`` (name -> text, empty text deletes) under ``root`` and load the folder."""
    for name, text in files.items():
        path = root / f"{name}.yaml"
        if text:
            path.write_text(text)
        else:
            path.unlink()
    return load_paths([root])


def names(result: LoadResult) -> list[str]:
    return list(result.running())


def test_a_rejected_file_keeps_running_its_last_good_version(tmp_path: Path) -> None:
    """A file broken after it loaded keeps its policies, marked kept, in the running set."""
    first = load(tmp_path, web=GOOD.replace("NAME", "web"))
    fresh = load(tmp_path, web=BROKEN)
    assert fresh.policies == []
    running = fresh.over(first)
    assert names(running) == ["web"]
    (web,) = running.files
    assert web.kept and web.errors and web.runs


def test_a_file_broken_twice_in_a_row_keeps_the_first_version(tmp_path: Path) -> None:
    """The kept version is carried over from one rejected load to the next."""
    running = load(tmp_path, web=GOOD.replace("NAME", "web")).over(LoadResult())
    for _ in range(2):
        running = load(tmp_path, web=BROKEN).over(running)
    assert names(running) == ["web"]


def test_a_file_that_never_loaded_gives_nothing_when_rejected(tmp_path: Path) -> None:
    """Rejected on its first load, a file runs nothing and is not marked kept."""
    (bad,) = load(tmp_path, web=BROKEN).over(LoadResult()).files
    assert (bad.policies, bad.kept, bad.runs) == ((), False, False)


def test_a_deleted_file_stops_its_policies(tmp_path: Path) -> None:
    """A file gone from the next load is gone from the running set."""
    running = load(tmp_path, a=GOOD.replace("NAME", "a"), b=GOOD.replace("NAME", "b"))
    running = load(tmp_path, b="").over(running)
    assert names(running) == ["a"]


def test_the_file_that_ran_keeps_a_name_both_files_give(tmp_path: Path) -> None:
    """z.yaml ran 'web'; a.yaml, added while z.yaml is broken, does not take it over."""
    running = load(tmp_path, z=GOOD.replace("NAME", "web")).over(LoadResult())
    fresh = load(tmp_path, z=BROKEN, a=GOOD.replace("NAME", "web").replace("90", "80"))
    running = fresh.over(running)
    assert [f.path.name for f in running.files] == ["z.yaml", "a.yaml"]
    assert str(running.running()["web"].source).startswith(str(tmp_path / "z.yaml"))


def test_rejected_lists_each_file_once_by_path(tmp_path: Path) -> None:
    """The API's rejected files: path order, every message, good files left out."""
    result = load(tmp_path, b=BROKEN, a=BROKEN, c=GOOD.replace("NAME", "c"))
    listed = result.rejected()
    assert [Path(r["file"]).name for r in listed] == ["a.yaml", "b.yaml"]
    assert listed[0]["errors"] == [str(e) for e in result.files[0].errors]


def test_take_load_audits_rejected_then_accepted(tmp_path: Path) -> None:
    """policy.rejected says whether the last good version runs; a fixed file is accepted."""
    recorder = Recorder()
    audit = cast(AuditStore, recorder)
    running = take_load(LoadResult(), load(tmp_path, web=BROKEN), audit, 1.0)
    running = take_load(running, load(tmp_path, web=GOOD.replace("NAME", "web")), audit, 2.0)
    running = take_load(running, load(tmp_path, web=BROKEN), audit, 3.0)
    events = [(e.kind.value, e.details) for e in recorder.events]
    path = str(tmp_path / "web.yaml")
    assert [(kind, d["file"], d.get("kept_previous")) for kind, d in events] == [
        ("policy.rejected", path, False),
        ("policy.accepted", path, None),
        ("policy.rejected", path, True),
    ]
    assert events[1][1]["policies"] == ["web"]
    assert names(running) == ["web"]
