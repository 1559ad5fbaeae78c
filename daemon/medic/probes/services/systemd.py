"""The ``systemd.unit`` probe: the state of systemd units, selected by name or glob.

It reads units with :mod:`medic.drivers.systemd` (``systemctl show``; why not D-Bus is
said there). What D-Bus would add is change events. The probe gets the one that matters
without it: ``watch()`` holds a pidfd on each unit's main process, so a service whose process dies
is evaluated at once, not at the next poll (systemd's state is read again a moment
later, once PID 1 has reaped the process).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.bounds import ascii_int
from medic.drivers.systemd import UNIT_GLOB, canonical, is_glob, show
from medic.lazy import lazy_module
from medic.logsetup import get_logger
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

log = get_logger(__name__)

_UNSET = frozenset({"", "[not set]", "infinity", "18446744073709551615"})
# PID 1 reaps a dead main process and changes the unit's state a moment after the exit.
SETTLE = 0.05

FIELDS = (
    Field("active", "boolean", "ActiveState is active or reloading."),
    Field("active_state", "string", "active, reloading, inactive, failed, activating, ..."),
    Field("sub_state", "string", "running, exited, dead, failed, auto-restart, ..."),
    Field("load_state", "string", "loaded, not-found, masked, error, ..."),
    Field("result", "string", "How the unit last ended: success, exit-code, signal, ..."),
    Field("restarts", "number", "Restarts systemd did itself (NRestarts; services)."),
    Field("main_pid", "number", "Main process id (null when there is none)."),
    Field(
        "memory_bytes", "number", "Memory of the unit's cgroup (null if not accounted).", "bytes"
    ),
    Field("cpu_seconds", "number", "CPU time used (null unless CPU accounting is on).", "seconds"),
    Field("tasks", "number", "Tasks in the unit's cgroup (null unless accounted)."),
    Field("state_age", "number", "Time since the unit entered its current state.", "seconds"),
    Field("uptime", "number", "Time since it last became active (null if not active).", "seconds"),
    Field("unit_file_state", "string", "enabled, disabled, static, masked, ..."),
)


def _number(value: str | None, scale: float = 1.0) -> float | int | None:
    number = None if value is None or value in _UNSET else ascii_int(value, max_digits=20)
    if number is None:
        return None
    return number if scale == 1.0 else round(number / scale, 3)


def _since(stamp: str | None, now_usec: int) -> float | None:
    usec = _number(stamp)
    if not usec:  # 0: never happened since boot
        return None
    return round(max(0, now_usec - int(usec)) / 1e6, 3)


def unit_fields(props: Mapping[str, str], now_usec: int) -> dict[str, Any]:
    """One unit's fields from its ``systemctl show`` properties (CLOCK_MONOTONIC µs now)."""
    active_state = props.get("ActiveState")
    active = active_state in ("active", "reloading")
    return {
        "active": active,
        "active_state": active_state,
        "sub_state": props.get("SubState"),
        "load_state": props.get("LoadState"),
        "result": props.get("Result") or None,
        "restarts": _number(props.get("NRestarts")),
        "main_pid": _number(props.get("MainPID")) or None,
        "memory_bytes": _number(props.get("MemoryCurrent")),
        "cpu_seconds": _number(props.get("CPUUsageNSec"), 1e9),
        "tasks": _number(props.get("TasksCurrent")),
        "state_age": _since(props.get("StateChangeTimestampMonotonic"), now_usec),
        "uptime": _since(props.get("ActiveEnterTimestampMonotonic"), now_usec) if active else None,
        "unit_file_state": props.get("UnitFileState") or None,
    }


@probes.register("systemd.unit")
class UnitProbe(Probe):
    """State, restarts, main pid and resource use of systemd units, by name or glob.

    ``unit`` is one unit name (``nginx`` means ``nginx.service``) or a glob such as
    ``"app-*.service"``. A name is always one target, even when the unit does not exist
    (``load_state`` is then ``not-found``), which is how "the node service is down" is
    seen. A glob selects the units systemd has loaded now, and a stopped unit that
    nothing references may be unloaded, so watch units that must run by name. Targets
    are the units' full names (``nginx.service``); ``memory_bytes``, ``cpu_seconds``
    and ``tasks`` are null unless systemd accounts them for the unit. The moment a
    unit's main process dies the policy is evaluated (pidfd), whatever ``every`` says.

    ```yaml
    version: 1
    policies:
      - name: node-service-down
        description: Restart the node service when it is not running, whatever stopped it.
        probe: {type: systemd.unit, unit: xai-node, every: 15s}
        when: active_state in ["failed", "inactive"]
        remediate:
          - systemd.reset_failed: {}
          - systemd.restart: {timeout: 90s}
        verify: {after: 20s}
        limits: {max: 3, per: 1h, cooldown: 1m}
        escalate: {after_failures: 2, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "unit": {
                "type": "string",
                "minLength": 1,
                "description": "Unit name (nginx, nginx.service) or glob (app-*.service).",
            },
        },
        required=["unit"],
    )
    fields = FIELDS
    default_every = 15.0
    watches = True

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.unit = canonical(str(options.get("unit", "")))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pids: dict[str, int] = {}  # unit -> main pid of the last measurement
        self._pidfds: dict[int, tuple[int, str]] = {}  # pid -> (pidfd, unit)
        self._reported: set[int] = set()  # dead pids already reported once
        self._exits: asyncio.Queue[str] = asyncio.Queue()

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        unit = str(options.get("unit", ""))
        if unit.startswith("-") or not UNIT_GLOB.fullmatch(unit):
            return [
                f"unit {unit!r} is not a unit name or glob: use letters, digits and "
                ":_.@-\\ (and *?[] in a glob), not starting with '-'."
            ]
        return []

    async def measure(self) -> Measurement:
        timeout = self.timeout
        found = await show([self.unit], max(0.5, timeout - 0.25))
        now_usec = time.monotonic_ns() // 1000  # CLOCK_MONOTONIC, the clock systemd stamps with
        measurement: Measurement = {}
        for props in found:
            name = props.get("Id") or self.unit
            if is_glob(self.unit) and props.get("LoadState") == "not-found":
                continue
            measurement[name] = unit_fields(props, now_usec)
        self._pids = {u: f["main_pid"] for u, f in measurement.items() if f["main_pid"]}
        if self._loop is not None:
            self._sync_pidfds()
        return measurement

    async def watch(self) -> AsyncIterator[str | None]:
        """Yield a unit the moment its main process exits."""
        self._loop = asyncio.get_running_loop()
        self._sync_pidfds()
        try:
            while True:
                unit = await self._exits.get()
                await asyncio.sleep(SETTLE)
                yield unit
        finally:
            self._close_pidfds()
            self._loop = None

    def _sync_pidfds(self) -> None:
        """Hold a pidfd for exactly the main pids of the last measurement."""
        assert self._loop is not None
        wanted = {pid: unit for unit, pid in self._pids.items()}
        for pid in [p for p in self._pidfds if p not in wanted]:
            self._drop(pid)
        self._reported &= set(wanted)
        for pid, unit in wanted.items():
            if pid in self._pidfds:
                continue
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                # Dead already, but systemd had not noticed when we asked: look again,
                # once per pid, so a unit systemd is slow to update cannot spin the loop.
                if pid not in self._reported:
                    self._reported.add(pid)
                    self._exits.put_nowait(unit)
                continue
            except OSError as exc:  # out of descriptors: polling still covers it
                log.warning("probe.pidfd_open_failed", unit=unit, pid=pid, error=exc.strerror)
                continue
            self._pidfds[pid] = (fd, unit)
            self._loop.add_reader(fd, self._exited, pid)

    def _exited(self, pid: int) -> None:
        unit = self._pidfds[pid][1] if pid in self._pidfds else None
        self._drop(pid)
        self._reported.add(pid)
        if unit is not None:
            self._exits.put_nowait(unit)

    def _drop(self, pid: int) -> None:
        entry = self._pidfds.pop(pid, None)
        if entry is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(entry[0])
        os.close(entry[0])

    def _close_pidfds(self) -> None:
        for pid in list(self._pidfds):
            self._drop(pid)

    async def close(self) -> None:
        self._close_pidfds()
