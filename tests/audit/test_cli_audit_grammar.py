"""One CLI grammar over `medic audit`: -o/--output, --out FILE, globs, --local, today."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner, Result

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.cli.audit import command

pytestmark = pytest.mark.integration

NOW = time.time()
TODAY = datetime.fromtimestamp(NOW, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
T0 = TODAY.timestamp() - 3600  # 23:00 UTC yesterday
INC = "5f0c9e2a-1b7d-4c3e-9a55-0d8e7f6a1234"


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "audit.db"
    store = AuditStore(path, host="node1")
    await store.start()
    for policy, target, when in (
        ("web-memory", "web-1", T0),
        ("web-disk", "db1", T0 + 1),
        ("db-memory", "db2", TODAY.timestamp() + 60),
        ("db-memory", "db10", TODAY.timestamp() + 61),
    ):
        incident = INC if target == "web-1" else None
        store.emit(AuditEvent(Kind.DETECTED, when, policy=policy, target=target, incident=incident))
    await store.close()
    yield path


@pytest.fixture
def utc_zone() -> Iterator[None]:
    """A fixed local zone (UTC+2, no DST) for --local."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "XYZ-2"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def run(*args: str) -> Result:
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def targets(result: Result) -> list[str]:
    return sorted(row["target"] for row in json.loads(result.stdout))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--policy", "web-*"), ["db1", "web-1"]),
        (("--target", "db?"), ["db1", "db2"]),
        (("--target", "db[!1]*"), ["db2"]),
        (("--policy", "db-memory"), ["db10", "db2"]),
        (("--policy", "web"), []),
    ],
)
def test_policy_and_target_filters_take_globs(
    db: Path, args: tuple[str, ...], expected: list[str]
) -> None:
    """--policy 'web-*' and --target 'db?' match as globs; a plain name matches exactly."""
    assert targets(run("list", "--db", str(db), "-o", "json", *args)) == expected


def test_incidents_filter_by_policy_and_target_globs(db: Path) -> None:
    """audit incidents takes --policy and --target globs too."""
    result = run("incidents", "--db", str(db), "--output", "json", "--target", "web-?")
    assert [i["policy"] for i in json.loads(result.stdout)] == ["web-memory"]
    assert run("incidents", "--db", str(db), "-o", "json", "--policy", "db*").stdout == "[]\n"


def test_since_today_and_until_today(db: Path) -> None:
    """--since today is 00:00 UTC; --since yesterday --until today is yesterday's events."""
    assert targets(run("list", "--db", str(db), "-o", "json", "--since", "today")) == [
        "db10",
        "db2",
    ]
    result = run("list", "--db", str(db), "-o", "json", "--since", "yesterday", "--until", "today")
    assert targets(result) == ["db1", "web-1"]


def test_every_listing_speaks_the_same_output_option(db: Path) -> None:
    """-o json|jsonl|csv|table on list, incidents, show; --format still works, hidden."""
    as_json = json.loads(run("list", "--db", str(db), "-o", "json").stdout)
    as_jsonl = [
        json.loads(x) for x in run("list", "--db", str(db), "-o", "jsonl").stdout.split("\n") if x
    ]
    assert as_json == as_jsonl and len(as_json) == 4
    assert run("list", "--db", str(db), "--format", "csv").stdout.startswith("id,time,host,kind")
    shown = json.loads(run("show", "--db", str(db), "5f0c", "-o", "json").stdout)
    assert shown["incident"]["id"] == INC
    assert [e["kind"] for e in shown["events"]] == ["incident.detected"]
    assert "--format" not in run("list", "--help").stdout


def test_o_with_a_file_name_says_where_files_go(db: Path, tmp_path: Path) -> None:
    """`export -o events.jsonl` (the old spelling) is a usage error naming --out FILE."""
    result = CliRunner().invoke(command, ["export", "--db", str(db), "-o", "events.jsonl"])
    assert result.exit_code == 2
    assert (
        "'events.jsonl' is not an output format (jsonl, csv): -o/--output is the format; "
        "write to a file with --out FILE"
    ) in result.stderr
    out = tmp_path / "events.csv"
    assert run("export", "--db", str(db), "-o", "csv", "--out", str(out)).exit_code == 0
    assert out.read_text().startswith("id,time,host,kind")


def test_local_shows_times_in_the_local_zone_with_offset(db: Path, utc_zone: None) -> None:
    """Tables show UTC with Z; --local shows the same moment with the zone's offset."""
    stamp = datetime.fromtimestamp(T0, UTC)
    utc = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    local = stamp.astimezone().isoformat(timespec="seconds")
    assert local.endswith("+02:00")
    table = run("show", "--db", str(db), INC).stdout
    assert f"opened     {utc}" in table
    table = run("show", "--db", str(db), INC, "--local").stdout
    assert f"opened     {local}" in table
    assert local in run("list", "--db", str(db), "--local", "--policy", "web-memory").stdout
