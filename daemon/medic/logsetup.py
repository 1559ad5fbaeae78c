"""structlog, configured once: JSON lines when not on a terminal, readable lines when on one.

Every line carries the policy, target and incident bound in contextvars, and passes
through the redaction processor so secrets never reach a log.

Under systemd (``JOURNAL_STREAM`` names the stream stderr is) each line starts with its
syslog priority, ``<3>`` for an error to ``<7>`` for debug, the prefix journald reads as
the entry's ``PRIORITY`` and strips, so ``journalctl -p warning`` shows warnings and
worse. ``NO_COLOR`` (https://no-color.org: set and not empty) turns colours off on a
terminal.

Event names are ``area.event`` in lowercase, like the audit kinds (``outbox.started``,
``policy.rejected``); ``tests/test_log_events.py`` holds every call to that scheme.
"""

from __future__ import annotations

import os
from typing import IO, Any, TextIO

# The standard library's level numbers (logging.DEBUG ...), written out so that a
# command that never logs (`medic validate`) never imports logging: see medic.logconfig.
LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}

# structlog method name -> syslog priority (sd-daemon(3): <0> emerg ... <7> debug).
PRIORITIES = {
    "debug": 7,
    "info": 6,
    "warning": 4,
    "warn": 4,
    "error": 3,
    "exception": 3,
    "critical": 2,
    "fatal": 2,
}


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a standard-library level number."""
    if levelno >= 50:  # logging.CRITICAL
        return 2
    if levelno >= LEVELS["error"]:
        return 3
    if levelno >= LEVELS["warning"]:
        return 4
    return 6 if levelno >= LEVELS["info"] else 7


def prefixed(text: str, priority: int) -> str:
    """``text`` with ``<priority>`` before each of its lines (journald reads each line)."""
    return "\n".join(f"<{priority}>{line}" for line in text.split("\n"))


def under_journal(stream: IO[str]) -> bool:
    """True when ``stream`` is the one systemd connected to the journal.

    systemd sets ``JOURNAL_STREAM=<device>:<inode>`` of that stream; a child whose
    stderr was redirected elsewhere inherits the variable, so the stream is compared."""
    value = os.environ.get("JOURNAL_STREAM", "")
    if ":" not in value:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return value == f"{st.st_dev}:{st.st_ino}"


def colour_wanted(stream: IO[str]) -> bool:
    """Colours on a terminal, unless ``NO_COLOR`` is set to anything but the empty text."""
    if os.environ.get("NO_COLOR", ""):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class PriorityPrefix:
    """Wraps the final renderer: prefixes its text with the line's syslog priority."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> str:
        text = str(self.renderer(logger, method_name, event_dict))
        return prefixed(text, PRIORITIES.get(method_name, 6))


# A configuration waiting for the first line logged through get_logger (medic validate).
_PENDING: list[tuple[str, str]] = []


def configure_on_first_log(fmt: str = "auto", level: str = "info") -> None:
    """:func:`configure` when the first line is logged, not now: a command whose modules
    all log through :func:`get_logger` (``medic validate``) never imports structlog
    unless it logs."""
    _PENDING[:] = [(fmt, level)]


def forget_pending() -> None:
    """Drop a configuration no line asked for (the command is over)."""
    _PENDING.clear()


def get_logger(name: str) -> Any:
    """structlog's logger ``name``; structlog is imported when the first line is logged."""
    return LazyLogger(name)


class LazyLogger:
    """Stands for ``structlog.get_logger(name)`` until a method of it is first used."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attr: str) -> Any:
        logger = self._logger
        if logger is None:
            import structlog

            if _PENDING:
                configure(*_PENDING[0])
            logger = self._logger = structlog.get_logger(self._name)
        return getattr(logger, attr)


def configure(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log line to ``stream`` (stderr) as ``fmt`` at ``level`` and above."""
    from medic.logconfig import apply  # structlog and logging, imported only here

    _PENDING.clear()
    apply(fmt, level, stream)
