"""Host-wide probes: memory, CPU and load (disk usage is :mod:`medic.probes.system.disk`).

Each reads kernel tables in memory (``/proc/meminfo``, ``/proc/stat``,
``/proc/loadavg``, through psutil or ``os``): a few microseconds, so each
``runs_on_loop`` and the engine reads it on the event loop rather than paying the hop
to a worker thread. Each call does one small read, because a host may run a thousand
policies a second. Each has one target, the host name.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from medic.lazy import lazy_module
from medic.probes.base import Field, Measurement, Probe, probes

if TYPE_CHECKING:
    import asyncio
    import socket

    import psutil
else:  # about 0.6 MB that an agent with no host probe never needs
    socket = lazy_module("socket")
    asyncio = lazy_module("asyncio")
    psutil = lazy_module("psutil")


def load_psutil() -> None:
    """Import psutil when a probe is made (a policy load), not in its first run on the loop."""
    importlib.import_module("psutil")


@probes.register("host.memory")
class MemoryProbe(Probe):
    """Memory and swap use of the whole host.

    ``percent`` counts memory that is not *available* (free plus reclaimable cache),
    which is what the kernel would have to find before it starts swapping or killing;
    ``used_bytes`` is ``total_bytes - available_bytes`` so the two agree.

    ```yaml
    version: 1
    policies:
      - name: host-memory-high
        description: Restart the leaky worker when the host runs out of memory.
        probe: {type: host.memory, every: 30s}
        when: percent > 90
        clear_when: percent < 80
        for: 5m
        remediate:
          - command: {argv: [systemctl, restart, worker], timeout: 60s}
        verify: {after: 1m}
        limits: {max: 2, per: 1h, cooldown: 10m}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    fields = (
        Field("total_bytes", "number", "Physical memory.", "bytes"),
        Field("available_bytes", "number", "Memory available without swapping.", "bytes"),
        Field("used_bytes", "number", "total_bytes - available_bytes.", "bytes"),
        Field("percent", "number", "Share of memory not available.", "percent"),
        Field("swap_percent", "number", "Share of swap in use (0 without swap).", "percent"),
    )

    runs_on_loop = True

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        load_psutil()

    async def measure(self) -> Measurement:
        return self.read()

    def read(self) -> Measurement:
        mem, swap = _memory()
        return {
            socket.gethostname(): {
                "total_bytes": mem.total,
                "available_bytes": mem.available,
                "used_bytes": mem.total - mem.available,
                "percent": mem.percent,
                "swap_percent": swap.percent,
            }
        }


def _memory() -> tuple[Any, Any]:
    return psutil.virtual_memory(), psutil.swap_memory()


class _CpuSample(NamedTuple):
    total: float
    idle: float
    iowait: float
    steal: float


def _cpu_sample() -> _CpuSample:
    t = psutil.cpu_times()
    total = sum(t)
    # Guest time is already counted in user and nice time.
    total -= getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)
    iowait = getattr(t, "iowait", 0.0)
    return _CpuSample(total, t.idle + iowait, iowait, getattr(t, "steal", 0.0))


@probes.register("host.cpu")
class CpuProbe(Probe):
    """CPU use of the whole host, averaged over all CPUs.

    Each measurement covers the time since this policy's previous one, so a policy
    polled every 30 s sees the 30 s average, not an instant. The very first
    measurement has no previous sample: it takes two samples 0.1 s apart (waiting
    with ``asyncio.sleep``, so nothing blocks). Each policy keeps its own baseline;
    two policies on ``host.cpu`` do not disturb each other.

    ```yaml
    version: 1
    policies:
      - name: host-cpu-saturated
        description: Stop the batch importer when it starves the host of CPU.
        probe: {type: host.cpu, every: 15s}
        when: percent > 95 and steal_percent < 10
        for: 10m
        remediate:
          - command: {argv: [systemctl, stop, importer.service], timeout: 60s}
        verify: {after: 2m}
        limits: {max: 1, per: 6h, cooldown: 1h}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    fields = (
        Field("percent", "number", "CPU busy time (not idle, not iowait).", "percent"),
        Field("iowait_percent", "number", "CPU time idle waiting for I/O.", "percent"),
        Field("steal_percent", "number", "CPU time taken by the hypervisor.", "percent"),
        Field("count", "number", "Logical CPUs."),
    )

    runs_on_loop = True

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        load_psutil()
        self._previous: _CpuSample | None = None
        self._last: dict[str, Any] | None = None

    async def measure(self) -> Measurement:
        if self._previous is None:
            self._previous = _cpu_sample()
            await asyncio.sleep(0.1)
        return self._since_previous()

    def read(self) -> Measurement | None:
        """On the loop, once there is a previous sample (the first run waits 0.1 s)."""
        return None if self._previous is None else self._since_previous()

    def _since_previous(self) -> Measurement:
        assert self._previous is not None
        now = _cpu_sample()
        before, self._previous = self._previous, now
        span = now.total - before.total
        if span > 0:

            def share(a: float, b: float) -> float:
                return round(min(100.0, max(0.0, (a - b) / span * 100.0)), 2)

            self._last = {
                "percent": round(100.0 - share(now.idle, before.idle), 2),
                "iowait_percent": share(now.iowait, before.iowait),
                "steal_percent": share(now.steal, before.steal),
                "count": psutil.cpu_count() or 1,
            }
        elif self._last is None:  # no clock tick between the samples: nothing ran
            self._last = {"percent": 0.0, "iowait_percent": 0.0, "steal_percent": 0.0}
            self._last["count"] = psutil.cpu_count() or 1
        # Measured twice within one clock tick: the previous figures still stand.
        return {socket.gethostname(): dict(self._last)}


@probes.register("host.load")
class LoadProbe(Probe):
    """The kernel's load averages, raw and per CPU.

    ``load1_per_cpu`` (the 1-minute load divided by the number of CPUs) is what to
    compare against a threshold: a load of 8 is idle on 32 CPUs and a queue on 2.

    ```yaml
    version: 1
    policies:
      - name: host-overloaded
        description: Tell a human when runnable work piles up beyond the CPUs.
        probe: {type: host.load, every: 1m}
        when: load1_per_cpu > 4
        clear_when: load1_per_cpu < 2
        for: 15m
        remediate:
          - command: {argv: [/usr/local/bin/dump-top, --to, /var/log/overload], timeout: 30s}
        limits: {max: 1, per: 1h, cooldown: 30m}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    fields = (
        Field("load1", "number", "Load average over 1 minute."),
        Field("load5", "number", "Load average over 5 minutes."),
        Field("load15", "number", "Load average over 15 minutes."),
        Field("load1_per_cpu", "number", "load1 divided by cpus."),
        Field("cpus", "number", "Logical CPUs."),
    )

    runs_on_loop = True

    async def measure(self) -> Measurement:
        return self.read()

    def read(self) -> Measurement:
        load1, load5, load15 = os.getloadavg()
        cpus = os.cpu_count() or 1
        return {
            socket.gethostname(): {
                "load1": load1,
                "load5": load5,
                "load15": load15,
                "load1_per_cpu": round(load1 / cpus, 3),
                "cpus": cpus,
            }
        }
