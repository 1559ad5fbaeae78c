"""Log lines: one naming scheme, journal priorities, NO_COLOR, API access at debug."""

from __future__ import annotations

import ast
import io
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest
import structlog

from medic import logsetup

SOURCE = Path(__file__).resolve().parents[1] / "daemon" / "medic"
SCHEME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
LEVELS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "msg"}


def log_calls() -> list[tuple[str, int, Any]]:
    """(file, line, first argument) of every ``<log>.<level>(...)`` call in the daemon."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in LEVELS or "log" not in ast.unparse(node.func.value):
                continue
            first = node.args[0] if node.args else None
            value = first.value if isinstance(first, ast.Constant) else None
            found.append((str(path.relative_to(SOURCE)), node.lineno, value))
    return found


def test_every_log_event_is_a_dotted_lowercase_name() -> None:
    """Each log call names its event with a literal ``area.event``, like the audit kinds."""
    calls = log_calls()
    assert len(calls) > 50  # the walk found the code base's calls
    wrong = [f"{f}:{line}: {name!r}" for f, line, name in calls if not SCHEME.match(name or "")]
    assert wrong == []


def _journal_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> io.TextIOWrapper:
    out = (tmp_path / "journal").open("w+", encoding="utf-8")
    st = os.fstat(out.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    return out


def test_under_systemd_each_line_starts_with_its_syslog_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With JOURNAL_STREAM naming stderr, lines carry <7>..<2> so journalctl -p filters."""
    out = _journal_stream(tmp_path, monkeypatch)
    logsetup.configure("json", "debug", stream=out)
    log = structlog.get_logger("medic.test")
    log.debug("test.debug")
    log.info("test.info")
    log.warning("test.warning")
    log.error("test.error")
    log.critical("test.critical")
    logging.getLogger("aiohttp.server").error("from the standard library")
    out.flush()
    lines = (tmp_path / "journal").read_bytes().decode().splitlines()
    assert [line[:3] for line in lines] == ["<7>", "<6>", "<4>", "<3>", "<2>", "<3>"]
    assert json.loads(lines[2][3:])["event"] == "test.warning"
    assert lines[5] == "<3>ERROR aiohttp.server: from the standard library"


def test_a_stream_that_is_not_the_journal_gets_no_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An inherited JOURNAL_STREAM naming another file leaves plain JSON lines."""
    _journal_stream(tmp_path, monkeypatch)
    out = (tmp_path / "elsewhere").open("w+", encoding="utf-8")
    logsetup.configure("json", "debug", stream=out)
    structlog.get_logger().warning("test.warning")
    out.flush()
    assert json.loads((tmp_path / "elsewhere").read_text())["event"] == "test.warning"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("", True), ("1", False)])
def test_no_color_turns_colours_off_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, no_color: str | None, coloured: bool
) -> None:
    """NO_COLOR set (and not empty) means no ANSI escapes, on a terminal too."""
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    out = Terminal()
    logsetup.configure("auto", "info", stream=out)  # type: ignore[arg-type]
    structlog.get_logger().warning("test.coloured")
    assert ("\x1b[" in out.getvalue()) is coloured
    assert "test.coloured" in out.getvalue()


def test_reconfiguring_replaces_the_standard_library_handler(tmp_path: Path) -> None:
    """A second configure sends stdlib lines to the new stream only, once."""
    first, second = io.StringIO(), io.StringIO()
    logsetup.configure("json", "info", stream=first)  # type: ignore[arg-type]
    logsetup.configure("json", "info", stream=second)  # type: ignore[arg-type]
    logging.getLogger("asyncio").warning("once")
    assert first.getvalue() == ""
    assert second.getvalue().count("once") == 1


@pytest.mark.parametrize(("status", "level"), [(200, "debug"), (404, "debug"), (503, "error")])
def test_api_access_lines_are_debug_unless_the_agent_failed(status: int, level: str) -> None:
    """Every API call is a debug line; only answers of 500 and above are errors."""
    from types import SimpleNamespace

    from structlog.testing import capture_logs

    from medic.api.server import StructlogAccessLogger

    request = SimpleNamespace(method="GET", path="/health", query_string="", remote="::1")
    response = SimpleNamespace(status=status)
    access = StructlogAccessLogger(logging.getLogger("test"), "")
    with capture_logs() as logs:
        access.log(request, response, 0.002)  # type: ignore[arg-type]
    assert [(e["event"], e["log_level"]) for e in logs] == [("api.request", level)]
