"""The ``process.signal`` action: send a signal to the processes a probe found.

It only ever signals pids the measurement named (the ``pids`` field of the ``process``
probe) or the one pid in a pidfile, and it refuses outright when the list holds pid 1,
Medic itself or Medic's parent, or anything that would address a process group.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, ClassVar

from medic.actions.base import Action, ActionContext, ActionResult, actions
from medic.bounds import ascii_int
from medic.option_schemas import options_schema
from medic.regular_file import read_pidfile

NAMES = ("HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "TERM")


def parse_signal(value: str | int) -> signal.Signals:
    """``HUP``, ``SIGHUP`` or ``1`` -> ``signal.SIGHUP``; ValueError when unknown."""
    if isinstance(value, int) and not isinstance(value, bool):
        return signal.Signals(value)
    name = str(value).upper().removeprefix("SIG")
    if name not in NAMES:
        raise ValueError(value)
    return signal.Signals[f"SIG{name}"]


def signal_schema(names: tuple[str, ...], description: str) -> dict[str, Any]:
    """A ``signal`` option: one of ``names`` (with or without ``SIG``) or a number."""
    return {
        # if/then/else rather than oneOf: a typo then gets "not one of [...]".
        "type": ["string", "integer"],
        "if": {"type": "string"},
        "then": {"enum": [*names, *(f"SIG{n}" for n in names)]},
        "else": {"minimum": 1, "maximum": 64},
        "description": description,
    }


def _pids_from_fields(fields: Mapping[str, Any]) -> list[int] | None:
    """The ``pids`` field as ints; None when absent or not a list of pids."""
    raw = fields.get("pids")
    if not isinstance(raw, list | tuple):
        return None
    pids: list[int] = []
    for item in raw:
        if isinstance(item, bool):
            return None
        if isinstance(item, int):
            pids.append(item)
        elif isinstance(item, str) and (pid := _pid_text(item)) is not None:
            pids.append(pid)
        else:
            return None
    return pids


def _pid_text(text: str) -> int | None:
    """A pid written as text (a negative one is kept, for :func:`_forbidden` to refuse)."""
    raw = text.strip()
    magnitude = ascii_int(raw.removeprefix("-"))
    if magnitude is None:
        return None
    return -magnitude if raw.startswith("-") else magnitude


def _forbidden(pid: int) -> str | None:
    """Why ``pid`` must never be signalled, or None."""
    if pid <= 0:
        return f"pid {pid} would address a process group"
    if pid == 1:
        return "pid 1 is init"
    if pid == os.getpid():
        return f"pid {pid} is medic itself"
    if pid == os.getppid():
        return f"pid {pid} is medic's parent"
    return None


@actions.register("process.signal")
class SignalAction(Action):
    """Send a signal (HUP to reload, TERM to stop, ...) to the processes a probe found.

    Without ``pidfile`` the signal goes to the pids in the measurement's ``pids`` field,
    which the ``process`` probe yields, and to no other process. With ``pidfile`` it goes
    to the pid written in that file; if the measurement lists pids as well, the pidfile's
    pid must be one of them (a stale pidfile is refused). The step signals nothing when
    the list holds pid 1, Medic's own pid or its parent. It succeeds when at least one
    process got the signal and none refused it.

    ```yaml
    version: 1
    policies:
      - name: worker-reload-when-bloated
        description: Ask the worker to reload (SIGHUP) when it holds more than 2 GB.
        probe: {type: process, name: worker, every: 30s}
        when: rss_bytes > 2000000000
        remediate:
          - process.signal: {signal: HUP, timeout: 5s}
        verify: {after: 1m}
        limits: {max: 2, per: 1h, cooldown: 10m}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "signal": signal_schema(NAMES, "HUP, INT, QUIT, KILL, USR1, USR2, TERM, or a number."),
            "pidfile": {
                "type": "string",
                "description": "Absolute path of a pidfile; signal that pid instead.",
            },
        },
        required=["signal"],
    )
    default_timeout: ClassVar[float] = 10.0

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        value = options.get("signal")
        if value is not None:
            try:
                parse_signal(value)
            except ValueError:
                problems.append(
                    f"signal {value!r} is not a signal medic sends; "
                    f"use one of {', '.join(NAMES)}, or a number that `kill -l` lists"
                )
        pidfile = options.get("pidfile")
        if isinstance(pidfile, str) and not PurePosixPath(pidfile).is_absolute():
            problems.append(f"pidfile {pidfile!r} must be an absolute path, like /run/app.pid")
        return problems

    @property
    def chosen_signal(self) -> signal.Signals:
        return parse_signal(self.options["signal"])

    def describe(self, ctx: ActionContext) -> str:
        name = self.chosen_signal.name
        if pidfile := self.options.get("pidfile"):
            return f"send {name} to the pid in {pidfile}"
        pids = _pids_from_fields(ctx.fields)
        if not pids:
            return f"send {name} to the pids of {ctx.target} (none listed)"
        return f"send {name} to pid{'s' if len(pids) > 1 else ''} {_join(pids)}"

    async def run(self, ctx: ActionContext) -> ActionResult:
        sig = self.chosen_signal
        listed = _pids_from_fields(ctx.fields)
        pidfile = self.options.get("pidfile")
        details: dict[str, Any] = {"signal": sig.name}
        if pidfile:
            details["pidfile"] = pidfile
            pid = _read_pidfile(pidfile)
            if isinstance(pid, str):
                return ActionResult(False, pid, details)
            if listed is not None and pid not in listed:
                details["pids"] = listed
                return ActionResult(
                    False,
                    f"refused: {pidfile} names pid {pid}, which the probe did not list "
                    f"({_join(listed) or 'none'}); the pidfile may be stale",
                    details,
                )
            pids = [pid]
        elif not listed:
            return ActionResult(
                False,
                f"no pids to signal for {ctx.target}: the measurement has no pids; "
                "use a process probe or set pidfile",
                details,
            )
        else:
            pids = list(dict.fromkeys(listed))
        details["pids"] = pids
        for pid in pids:
            if (why := _forbidden(pid)) is not None:
                return ActionResult(False, f"refused to send {sig.name}: {why}", details)
        return _deliver(sig, pids, details)


def _join(pids: list[int]) -> str:
    return ", ".join(str(p) for p in pids)


def _read_pidfile(path: str) -> int | str:
    """The pid in ``path``, or a sentence saying why there is none."""
    try:
        pid, first = read_pidfile(path)  # never blocks: a FIFO is refused
    except OSError as exc:
        return f"cannot read pidfile {path}: {exc.strerror or exc}"
    if pid is None:
        return f"pidfile {path} does not hold a pid (found {first[:20]!r})"
    return pid


def _deliver(sig: signal.Signals, pids: list[int], details: dict[str, Any]) -> ActionResult:
    """Send ``sig`` to each pid; per-pid outcomes go into ``details``."""
    outcomes: dict[str, str] = {}
    for pid in pids:
        try:
            os.kill(pid, sig)
            outcomes[str(pid)] = "sent"
        except ProcessLookupError:
            outcomes[str(pid)] = "gone"
        except PermissionError:
            outcomes[str(pid)] = "denied"
    details["outcomes"] = outcomes
    sent = [p for p in pids if outcomes[str(p)] == "sent"]
    denied = [p for p in pids if outcomes[str(p)] == "denied"]
    gone = [p for p in pids if outcomes[str(p)] == "gone"]
    if denied:
        return ActionResult(
            False, f"permission denied sending {sig.name} to pid {_join(denied)}", details
        )
    if not sent:
        return ActionResult(False, f"no process left to signal: pid {_join(gone)} gone", details)
    summary = f"sent {sig.name} to pid{'s' if len(sent) > 1 else ''} {_join(sent)}"
    if gone:
        summary += f" ({_join(gone)} already gone)"
    return ActionResult(True, summary, details)
