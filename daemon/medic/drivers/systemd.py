"""systemd through ``systemctl``, shared by the ``systemd.unit`` probe and action.

Medic talks to systemd through ``systemctl show``, not through a D-Bus library, because:

- ``systemctl`` run as root reaches PID 1 over its private socket
  (``/run/systemd/private``), so the probe and the actions still work when the D-Bus
  system bus is what broke, one of the failures a node agent must survive;
- it needs no native or extra Python dependency, and its output (``Key=Value``) is a
  stable interface that ``[not set]`` and ``infinity`` are the only oddities of;
- every call runs under :func:`medic.proc.run_process`, so a hung PID 1 costs one
  killed child at the caller's timeout, never a stuck event loop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from medic.errors import ProbeError

if TYPE_CHECKING:
    from medic.proc import CompletedRun

SYSTEMCTL = "systemctl"
SUFFIXES: tuple[str, ...] = (
    ".service",
    ".socket",
    ".target",
    ".timer",
    ".mount",
    ".automount",
    ".swap",
    ".path",
)
SUFFIXES += (".slice", ".scope", ".device")
UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\@-]+$")
UNIT_GLOB = re.compile(r"^[A-Za-z0-9:_.\\@*?\[\]-]+$")
PROPERTIES = (
    "Id,LoadState,ActiveState,SubState,Result,NRestarts,MainPID,MemoryCurrent,CPUUsageNSec,"
    "TasksCurrent,StateChangeTimestampMonotonic,ActiveEnterTimestampMonotonic,UnitFileState"
)
HINT = "is systemd PID 1 on this host, and does Medic run as root?"


def canonical(name: str) -> str:
    """``nginx`` -> ``nginx.service``, as systemctl reads a name without a type suffix."""
    return name if name.endswith(SUFFIXES) or is_glob(name) else f"{name}.service"


def is_glob(name: str) -> bool:
    return any(c in name for c in "*?[")


async def systemctl(args: Sequence[str], timeout: float) -> CompletedRun:  # noqa: ASYNC109 - run_process kills systemctl at the timeout
    """Run ``systemctl ARGS`` without pager, colours, password prompts or locale surprises."""
    # Here, not at the top: `medic validate` loads the plugins using it, never runs them.
    from medic.proc import run_process

    argv = [SYSTEMCTL, "--no-pager", "--no-ask-password", *args]
    env = {"SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C"}
    try:
        return await run_process(argv, timeout=timeout, env=env)
    except FileNotFoundError:
        raise ProbeError("systemctl is not installed: this host does not run systemd") from None


def parse_show(text: str) -> list[dict[str, str]]:
    """``systemctl show`` output (``Key=Value`` blocks, a blank line apart) as dicts."""
    units: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if current:
                units.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    return units


async def show(units: Sequence[str], timeout: float) -> list[dict[str, str]]:  # noqa: ASYNC109 - see systemctl()
    """The probe's properties of ``units`` (names or globs; a glob covers loaded units)."""
    run = await systemctl(["show", f"--property={PROPERTIES}", "--", *units], timeout)
    if run.timed_out:
        raise ProbeError(f"systemctl show did not answer within {timeout:g}s", hint=HINT)
    if run.exit_code != 0:
        reason = (run.stderr.strip() or f"exit code {run.exit_code}").splitlines()[0]
        raise ProbeError(f"systemctl show failed: {reason}", hint=HINT)
    return parse_show(run.stdout)
