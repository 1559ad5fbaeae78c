"""`medic audit`'s machine output stays byte for byte what it was (json, jsonl, csv,
and the tables), whatever reads the database underneath.

The expected texts in ``golden/`` were written by the CLI before its reads moved to
sqlite-utils and the one source interface; hash columns are masked (the chain key is
made fresh for each database). One change is on purpose: in ``list.table`` the line
break inside an event's detail is shown as ``\\n`` (it used to break the row in two).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.cli.audit import command

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).parent / "golden"
T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
INC = "5f0c9e2a-1b7d-4c3e-9a55-0d8e7f6a1234"
HASHES = re.compile(r"\b[0-9a-f]{64}\b")
# name -> the arguments after `medic audit` (the database is added as --db).
RUNS: dict[str, tuple[str, ...]] = {
    "list.json": ("list", "-o", "json"),
    "list.jsonl": ("list", "-o", "jsonl", "--kind", "action."),
    "list.csv": ("list", "-o", "csv", "--policy", "web-*"),
    "list.table": ("list",),
    "show.json": ("show", "5f0c", "-o", "json"),
    "show.table": ("show", "5f0c"),
    "export.jsonl": ("export",),
    "export.csv": ("export", "-o", "csv", "--since", "2023-11-14T22:14:00Z"),
    "incidents.json": ("incidents", "-o", "json"),
    "incidents.csv": ("incidents", "-o", "csv"),
    "incidents.table": ("incidents",),
}


def story() -> list[AuditEvent]:
    """An incident healed by a restart, a second one escalated, a probe that failed."""
    web = {"policy": "web-memory", "target": "web", "incident": INC}
    return [
        AuditEvent(Kind.DETECTED, T0, values={"memory_percent": 93.5, "rss_bytes": 1 << 30}, **web),
        AuditEvent(
            Kind.ACTION_STARTED,
            T0 + 60,
            action="container.restart",
            details={"type": "container.restart", "timeout": 60, "note": 'a, "quoted"\nline'},
            **web,
        ),
        AuditEvent(
            Kind.ACTION_SUCCEEDED,
            T0 + 65,
            action="container.restart",
            outcome="ok",
            details={"summary": "restarted web", "ünïcode": "✓"},
            **web,
        ),
        AuditEvent(Kind.VERIFY_HEALED, T0 + 95, **web),
        AuditEvent(
            Kind.DETECTED, T0 + 200, policy="disk", target="/var", incident="d-1", values={"p": 97}
        ),
        AuditEvent(
            Kind.ESCALATED,
            T0 + 260,
            policy="disk",
            target="/var",
            incident="d-1",
            outcome="sent",
            details={"channels": ["oncall"]},
        ),
        AuditEvent(Kind.PROBE_FAILED, T0 + 300, policy="disk", details={"error": "timed out"}),
    ]


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "audit.db"
    store = AuditStore(path, host="node1")
    await store.start()
    for event in story():
        store.emit(event)
    await store.close()
    yield path


def output(db: Path, args: tuple[str, ...]) -> str:
    """What `medic audit ARGS --db DB` prints on stdout, hashes masked."""
    result = CliRunner().invoke(
        command, [*args, "--db", str(db)], env={"COLUMNS": "200"}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return HASHES.sub("<hash>", result.stdout)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_output_is_what_it_was(db: Path, name: str) -> None:
    """Each listing, story and export prints exactly the text it printed before."""
    assert output(db, RUNS[name]) == (GOLDEN / name).read_text(encoding="utf-8")
