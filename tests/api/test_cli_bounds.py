"""Out-of-range times and numbers on the command line: a one-line usage error, exit 2."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.cli import main
from medic.cli.params import Count, Duration, When


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Path]:
    """A real audit database holding one event."""
    path = tmp_path / "audit.db"
    store = AuditStore(path, host="node1")
    await store.start()
    store.emit(AuditEvent(Kind.AGENT_STARTED, time.time()))
    await store.close()
    yield path


def usage_error(*args: str) -> str:
    """Run ``medic ARGS``; it must exit 2 with one 'Error:' line and no traceback."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert lines[-1].startswith("Error: Invalid value for "), result.stderr
    return lines[-1]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--since", "2932896d"],
            "Error: Invalid value for '--since': '2932896d' is longer than 36500d: "
            "write at most 36500d",
        ),
        (
            ["--until", "9999-12-31"],
            "Error: Invalid value for '--until': '9999-12-31' is outside 2000-01-01 to "
            "2100-01-01 (UTC): write a time from 2000-01-01 to 2100-01-01 (UTC)",
        ),
        (
            ["--since", "10000d"],
            "Error: Invalid value for '--since': '10000d' ago is before 2000-01-01, the earliest"
            " time accepted: write a shorter duration, or leave the option out for no lower bound",
        ),
        (
            ["--limit", "99999999999999999999"],
            "Error: Invalid value for '--limit': '99999999999999999999' is not a whole number "
            "from 1 to 1000000: write a whole number from 1 to 1000000",
        ),
        (
            ["--limit", "-5"],
            "Error: Invalid value for '--limit': '-5' is not a whole number from 1 to 1000000: "
            "write a whole number from 1 to 1000000",
        ),
        (
            ["--limit", "²"],
            "Error: Invalid value for '--limit': '²' is not a whole number from 1 to 1000000: "
            "write a whole number from 1 to 1000000",
        ),
    ],
)
def test_audit_list_options_are_bounded(db: Path, args: list[str], line: str) -> None:
    """medic audit list: out-of-range --since/--until/--limit are usage errors."""
    assert usage_error("audit", "list", "--db", str(db), *args) == line


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "export", "--limit", "-1"],
        ["audit", "export", "--since", "99999999999d"],
        ["audit", "incidents", "--limit", "0"],
        ["audit", "incidents", "--limit", "1e9"],
    ],
)
def test_other_audit_commands_are_bounded(db: Path, args: list[str]) -> None:
    """export and incidents check their numbers and times the same way."""
    usage_error(*args, "--db", str(db))


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--duration", "2932896d"],
            "Error: Invalid value for '--duration': '2932896d' is longer than 90d: "
            "write at most 90d",
        ),
        (
            ["--duration", "NaN"],
            "Error: Invalid value for '--duration': 'NaN' is not a duration: write a number "
            "with a unit, like 500ms, 30s, 5m, 1h or 1h30m",
        ),
        (
            ["--until", "9999-12-31"],
            "Error: Invalid value for '--until': '9999-12-31' is outside 2000-01-01 to "
            "2100-01-01 (UTC): write a time from 2000-01-01 to 2100-01-01 (UTC)",
        ),
        (
            ["--duration", "1h", "--starts", "0001-01-01"],
            "Error: Invalid value for '--starts': '0001-01-01' is outside 2000-01-01 to "
            "2100-01-01 (UTC): write a time from 2000-01-01 to 2100-01-01 (UTC)",
        ),
    ],
)
def test_silence_add_options_are_bounded(args: list[str], line: str) -> None:
    """medic silence add: durations past 90 days and times outside 2000..2100 are refused
    before any request is sent (no agent runs here)."""
    base = ["silence", "add", "--policy", "web", "--reason", "r", "--url", "http://127.0.0.1:9"]
    assert usage_error(*base, *args) == line


def test_probe_timeout_is_bounded() -> None:
    """medic probe --timeout takes a duration up to 1h."""
    line = usage_error("probe", "host.disk", "--timeout", "99999d")
    assert line == (
        "Error: Invalid value for '--timeout': '99999d' is longer than 1h: write at most 1h"
    )


def test_real_medic_prints_one_line_for_since_2932896d(db: Path) -> None:
    """The installed command, as an operator runs it: one line on stderr, exit 2."""
    result = subprocess.run(
        [sys.executable, "-m", "medic", "audit", "list", "--db", str(db), "--since", "2932896d"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for '--since': '2932896d' is longer than 36500d: write at most 36500d"
    )
    assert "Traceback" not in result.stderr


def test_param_types_convert_good_values() -> None:
    """The option types give back seconds, counts and moments for values in range."""
    assert Duration().convert("1h30m", None, None) == 5400.0
    assert Count(0, 10).convert("10", None, None) == 10
    assert abs(When().convert("1h", None, None) - (time.time() - 3600)) < 5
    assert When().convert("2024-05-01T00:00:00Z", None, None) == 1714521600.0


def test_listen_port_out_of_range_is_one_line(tmp_path: Path) -> None:
    """medic run --listen with a port past 65535 says so, instead of failing to bind."""
    result = CliRunner().invoke(
        main,
        ["run", "--listen", "127.0.0.1:99999", "--state-dir", str(tmp_path)],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: --listen: api.listen '127.0.0.1:99999' is not host:port (port 0 to 65535) "
        "(hint: e.g. 127.0.0.1:9325)"
    ]
