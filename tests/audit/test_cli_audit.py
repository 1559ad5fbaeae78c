"""`medic audit` on a real database file, through click's CliRunner."""

from __future__ import annotations

import csv
import io
import itertools
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner, Result

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.cli.audit import command

pytestmark = pytest.mark.integration

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
INC = "5f0c9e2a-1b7d-4c3e-9a55-0d8e7f6a1234"


def events(now: float) -> list[AuditEvent]:
    return [
        AuditEvent(
            Kind.DETECTED,
            T0,
            policy="web-memory",
            target="web",
            incident=INC,
            values={"memory_percent": 93.5},
        ),
        AuditEvent(
            Kind.ACTION_STARTED,
            T0 + 60,
            policy="web-memory",
            target="web",
            incident=INC,
            action="container.restart",
            details={"type": "container.restart", "timeout": 60},
        ),
        AuditEvent(
            Kind.ACTION_SUCCEEDED,
            T0 + 65,
            policy="web-memory",
            target="web",
            incident=INC,
            action="container.restart",
            outcome="ok",
            details={"summary": "restarted web"},
        ),
        AuditEvent(Kind.VERIFY_HEALED, T0 + 95, policy="web-memory", target="web", incident=INC),
        AuditEvent(
            Kind.DETECTED, T0 + 200, policy="disk", target="/var", incident="d-1", values={"p": 97}
        ),
        AuditEvent(Kind.PROBE_FAILED, now - 2 * 3600, policy="disk", details={"error": "x"}),
        AuditEvent(Kind.PROBE_RECOVERED, now - 60, policy="disk"),
    ]


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / ".medic" / "audit.db"
    store = AuditStore(path, host="node1")
    await store.start()
    for event in events(time.time()):
        store.emit(event)
    await store.close()
    yield path


def run(*args: str) -> Result:
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def test_list_table(db: Path) -> None:
    """The table shows time, kind, policy, target, short incident, outcome and a summary."""
    result = run("list", "--db", str(db), "--until", "2023-11-15T00:00:00Z")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "TIME                  KIND               POLICY      TARGET  INCIDENT  OUTCOME  SUMMARY",
        "2023-11-14T22:16:40Z  incident.detected  disk        /var    d-1                p=97",
        "2023-11-14T22:14:55Z  verify.healed      web-memory  web     5f0c9e2a",
        "2023-11-14T22:14:25Z  action.succeeded   web-memory  web     5f0c9e2a  ok       "
        "summary=restarted web",
        "2023-11-14T22:14:20Z  action.started     web-memory  web     5f0c9e2a           "
        "timeout=60 type=container.restart",
        "2023-11-14T22:13:20Z  incident.detected  web-memory  web     5f0c9e2a           "
        "memory_percent=93.5",
    ]


def test_list_jsonl_with_filters(db: Path) -> None:
    """jsonl has one decoded event per line; --kind prefixes and --incident prefixes work."""
    result = run(
        "list", "--db", str(db), "--kind", "action.", "--incident", "5f0c", "--format", "jsonl"
    )
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["id"], e["kind"], e["outcome"], e["details"]) for e in lines] == [
        (3, "action.succeeded", "ok", {"summary": "restarted web"}),
        (2, "action.started", None, {"timeout": 60, "type": "container.restart"}),
    ]
    assert "hash" not in lines[0]


def test_list_since_a_duration_ago(db: Path) -> None:
    """--since 1h means one hour ago; --since 3h reaches further back."""
    recent = run("list", "--db", str(db), "--since", "1h", "--format", "jsonl")
    assert [json.loads(x)["kind"] for x in recent.stdout.splitlines()] == ["probe.recovered"]
    older = run("list", "--db", str(db), "--since", "3h", "--policy", "disk", "--format", "jsonl")
    assert [json.loads(x)["kind"] for x in older.stdout.splitlines()] == [
        "probe.recovered",
        "probe.failed",
    ]


def test_list_csv(db: Path) -> None:
    """csv has a header and JSON text in the values and details columns."""
    result = run("list", "--db", str(db), "--outcome", "ok", "--format", "csv")
    table = list(csv.reader(io.StringIO(result.stdout)))
    assert table[0] == [
        "id", "time", "host", "kind", "policy", "target", "incident", "action", "outcome",
        "values", "details",
    ]  # fmt: skip
    assert table[1] == [
        "3", "2023-11-14T22:14:25.000000Z", "node1", "action.succeeded", "web-memory", "web",
        INC, "container.restart", "ok", "", '{"summary": "restarted web"}',
    ]  # fmt: skip


def test_list_nothing_matches(db: Path) -> None:
    """An empty result says so instead of printing an empty table."""
    result = run("list", "--db", str(db), "--policy", "none")
    assert (result.exit_code, result.stdout) == (0, "no events match\n")


def test_show_tells_the_whole_story(db: Path) -> None:
    """show prints the incident header, then every event with its values and details."""
    result = run("show", "5f0c9e2a", "--db", str(db))
    assert result.exit_code == 0
    assert result.stdout == (
        f"incident {INC}\n"
        "  policy     web-memory\n"
        "  target     web\n"
        "  host       node1\n"
        "  status     healed\n"
        "  escalated  no\n"
        "  opened     2023-11-14T22:13:20Z\n"
        "  closed     2023-11-14T22:14:55Z (1m35s after it opened)\n"
        "\n"
        "2023-11-14T22:13:20Z  incident.detected\n"
        "    values:  memory_percent=93.5\n"
        "2023-11-14T22:14:20Z  action.started  action=container.restart\n"
        "    details: timeout=60  type=container.restart\n"
        "2023-11-14T22:14:25Z  action.succeeded  action=container.restart  outcome=ok\n"
        "    details: summary=restarted web\n"
        "2023-11-14T22:14:55Z  verify.healed\n"
    )


def test_show_unknown_and_ambiguous_incidents(db: Path) -> None:
    """An id that matches nothing, or more than one incident, is a clear error."""
    result = run("show", "zzz", "--db", str(db))
    assert (result.exit_code, result.stderr) == (1, f"Error: no incident 'zzz' in {db}\n")
    result = run("show", "", "--db", str(db))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: incident '' is ambiguous (d-1, {INC}): give more of the id\n")


def test_export_includes_the_hash_chain(db: Path, tmp_path: Path) -> None:
    """export writes every event oldest first with prev_hash and hash, to stdout or a file."""
    result = run("export", "--db", str(db))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["id"] for e in lines] == [1, 2, 3, 4, 5, 6, 7]
    assert lines[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(lines))
    out = tmp_path / "out.csv"
    result = run("export", "--db", str(db), "-o", "csv", "--out", str(out), "--kind", "verify")
    assert result.stderr == f"wrote 1 events to {out}\n"
    table = list(csv.reader(out.open()))
    assert table[0][-2:] == ["prev_hash", "hash"]
    assert [row[3] for row in table[1:]] == ["verify.healed"]


def test_verify_ok_and_broken(db: Path) -> None:
    """verify exits 0 on an intact chain and 1 naming the first edited event."""
    result = run("verify", "--db", str(db))
    assert (result.exit_code, result.stdout) == (0, f"ok: 7 events in {db}, hash chain intact\n")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE events SET outcome = 'failed' WHERE id = 3")
    conn.commit()
    conn.close()
    result = run("verify", "--db", str(db))
    assert result.exit_code == 1
    assert result.stdout == (
        f"broken: event 3 in {db} does not match the hash chain (edited, inserted,"
        " or an event before it deleted)\n"
    )


def test_incidents_table_and_open_filter(db: Path) -> None:
    """incidents lists newest first; --open keeps only those not yet closed."""
    result = run("incidents", "--db", str(db))
    assert result.stdout.splitlines() == [
        "ID                                    POLICY      TARGET  STATUS  ESCALATED  OPENED"
        "                CLOSED",
        "d-1                                   disk        /var    open    no         "
        "2023-11-14T22:16:40Z  -",
        f"{INC}  web-memory  web     healed  no         2023-11-14T22:13:20Z  2023-11-14T22:14:55Z",
    ]
    result = run("incidents", "--db", str(db), "--open", "--format", "jsonl")
    assert [json.loads(x)["id"] for x in result.stdout.splitlines()] == ["d-1"]


def test_missing_database_says_how_to_fix_it(tmp_path: Path) -> None:
    """A missing file names the path and the fix, exit 1."""
    missing = tmp_path / "nope.db"
    result = run("list", "--db", str(missing))
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: no audit database at {missing}: start the agent with medic run, or pass --db\n",
    )


def test_a_file_that_is_not_an_audit_database(tmp_path: Path) -> None:
    """An unrelated SQLite file is refused with a message naming it."""
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    result = run("verify", "--db", str(other))
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {other} is not a Medic audit database: pass --db with the agent's audit.db\n",
    )


def test_config_names_the_database(db: Path) -> None:
    """--config takes the database from the agent config's state_dir."""
    config = db.parent.parent / "medic.yaml"
    config.write_text("state_dir: .medic\n")
    result = run("verify", "--config", str(config))
    assert result.exit_code == 0
    assert result.stdout == f"ok: 7 events in {db}, hash chain intact\n"
    result = run("verify", "--config", str(config), "--db", str(db))
    assert result.stderr == "Error: pass either --db or --config, not both\n"


def test_bad_since_is_a_usage_error(db: Path) -> None:
    """--since that is neither a duration nor an ISO time explains both forms."""
    result = run("list", "--db", str(db), "--since", "last week")
    assert result.exit_code == 2
    assert (
        "Invalid value for '--since': 'last week' is neither an ISO time nor a duration: write"
        " an ISO time like 2024-05-01T12:00:00Z, a duration ago like 30m, 24h or 7d, today or"
        " yesterday" in result.stderr
    )
