"""`medic audit` reads one source interface: the local file and the central PostgreSQL
answer every reading command alike, and the source options mean the same everywhere."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kit.central import T0, dsn_of, healed, ship
from medic.cli import main
from medic.cli.audit_format import EVENT_FIELDS, INCIDENT_FIELDS

pytestmark = pytest.mark.integration

INC = "a1b2c3d4-0000-4000-8000-000000000001"


def audit(*args: str) -> Any:
    """`medic audit ARGS -o json`'s answer, parsed; the command must succeed."""
    result = CliRunner().invoke(main, ["audit", *args, "-o", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def same(rows: list[dict[str, Any]], fields: list[str]) -> list[dict[str, Any]]:
    """The rows' columns that mean the same in both databases (ids are per database)."""
    return [{k: row[k] for k in fields if k != "id"} for row in rows]


@pytest.mark.asyncio
async def test_local_and_central_sources_answer_alike(
    central: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """list, show and incidents print the same events and incidents from the agent's
    file and, once shipped, from the central database with --central."""
    monkeypatch.setenv("CENTRAL_DSN", dsn_of(central))
    monkeypatch.setenv("MEDIC_CENTRAL_AUDIT_DSN", dsn_of(central))
    await ship(tmp_path, "node-a", healed(INC, "web-memory", "web1", T0))
    db = str(tmp_path / "node-a.db")
    for args, fields in (
        (("list", "--policy", "web-*", "--kind", "action."), EVENT_FIELDS),
        (("incidents",), INCIDENT_FIELDS),
    ):
        local = await asyncio.to_thread(audit, *args, "--db", db)
        remote = await asyncio.to_thread(audit, *args, "--central")
        assert local and same(local, fields) == same(remote, fields)
    local_story = await asyncio.to_thread(audit, "show", INC[:8], "--db", db)
    remote_story = await asyncio.to_thread(audit, "show", INC[:8], "--central")
    assert same([local_story["incident"]], INCIDENT_FIELDS) == same(
        [remote_story["incident"]], INCIDENT_FIELDS
    )
    assert same(local_story["events"], EVENT_FIELDS) == same(remote_story["events"], EVENT_FIELDS)


@pytest.mark.parametrize(
    "args", [("list",), ("show", "abc"), ("export",), ("incidents",)], ids=lambda a: a[0]
)
def test_db_and_central_together_are_refused_by_every_reading_command(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    """--db names the local file, --central the fleet's: every command that takes both
    refuses the pair alike instead of silently reading one of them."""
    result = CliRunner().invoke(main, ["audit", *args, "--db", str(tmp_path / "a.db"), "--central"])
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: pass either --db or --central, not both\n",
    )


def test_every_reading_command_takes_the_same_source_options() -> None:
    """list, show, export and incidents take --db, --config and --central; verify,
    checkpoint and backtest (the chain and the recording live in the local file) take
    --db and --config only."""
    from medic.cli.audit import command as audit_group
    from medic.cli.backtest import command as backtest

    def options(cmd: Any) -> set[str]:
        return {opt for p in cmd.params for opt in p.opts} & {"--db", "--config", "--central"}

    commands = {**audit_group.commands, "backtest": backtest}
    found = {name: options(cmd) for name, cmd in commands.items()}
    both = {"--db", "--config", "--central"}
    assert found == {
        "list": both,
        "show": both,
        "export": both,
        "incidents": both,
        "verify": {"--db", "--config"},
        "checkpoint": {"--db", "--config"},
        "backtest": {"--db", "--config"},
    }
