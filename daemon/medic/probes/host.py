"""Host-wide probes: memory, CPU, load and disk usage.

Each reads kernel tables (through psutil or ``os``) in a worker thread so the event
loop never waits on them; each call does one small read, because a host may run a
thousand policies a second. Memory, CPU and load have one target, the host name; disk
usage has one target per mount point.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import psutil

from medic.errors import ProbeError
from medic.probes.base import Field, Measurement, Probe, probes


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

    async def measure(self) -> Measurement:
        mem, swap = await asyncio.to_thread(_memory)
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

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        self._previous: _CpuSample | None = None
        self._last: dict[str, Any] | None = None

    async def measure(self) -> Measurement:
        if self._previous is None:
            self._previous = await asyncio.to_thread(_cpu_sample)
            await asyncio.sleep(0.1)
        now = await asyncio.to_thread(_cpu_sample)
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

    async def measure(self) -> Measurement:
        # One read of /proc/loadavg (memory-backed, never blocks): cheaper inline than
        # the hop to a worker thread.
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


DEFAULT_EXCLUDED_FSTYPES = (
    "tmpfs", "devtmpfs", "overlay", "squashfs", "ramfs", "iso9660", "nsfs", "autofs",
)  # fmt: skip
_DISK_FIELDS = (
    Field("mounted", "boolean", "False when a listed mount point is not mounted."),
    Field("total_bytes", "number", "Size of the filesystem.", "bytes"),
    Field("used_bytes", "number", "Space in use.", "bytes"),
    Field("free_bytes", "number", "Space available to unprivileged users.", "bytes"),
    Field("percent", "number", "used / (used + free), as df reports it.", "percent"),
    Field("free_percent", "number", "100 - percent.", "percent"),
    Field("inodes_total", "number", "Inodes (0 on filesystems without a fixed table)."),
    Field("inodes_used", "number", "Inodes in use."),
    Field("inodes_percent", "number", "Share of inodes in use.", "percent"),
    Field("fstype", "string", "Filesystem type (ext4, xfs ...)."),
    Field("device", "string", "Device or source of the mount."),
)


@probes.register("host.disk")
class DiskProbe(Probe):
    """Space and inodes of mounted filesystems, one target per mount point.

    Without ``mounts`` every real filesystem is measured, minus the types in
    ``exclude_fstypes`` (default: tmpfs, devtmpfs, overlay, squashfs and other
    memory-backed or read-only images). The target is the mount point (``/var``,
    without a trailing slash). Listed ``mounts`` are always measured; one
    that is not mounted yields ``mounted: false`` with its other fields null, so
    ``when: not mounted`` can catch a lost mount. If a previous measurement is still
    stuck in the kernel (a dead NFS server), the probe fails fast instead of piling up
    blocked threads.

    ```yaml
    version: 1
    policies:
      - name: var-log-full
        description: Rotate logs when /var fills up.
        probe: {type: host.disk, mounts: [/var], every: 1m}
        when: percent > 90 or inodes_percent > 90
        clear_when: percent < 80 and inodes_percent < 80
        for: 2m
        remediate:
          - command: {argv: [logrotate, --force, /etc/logrotate.conf], timeout: 5m}
        verify: {after: 1m}
        limits: {max: 2, per: 1d, cooldown: 1h}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "mounts": {
                "type": "array",
                "items": {"type": "string", "pattern": "^/"},
                "minItems": 1,
                "uniqueItems": True,
                "description": "Mount points to measure (default: every real filesystem).",
            },
            "exclude_fstypes": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "uniqueItems": True,
                "description": "Filesystem types to skip when discovering mounts.",
            },
        },
        "additionalProperties": False,
    }
    fields = _DISK_FIELDS

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        listed = options.get("mounts")
        self.mounts = [os.path.normpath(m) for m in listed] if listed else None
        self.excluded = frozenset(options.get("exclude_fstypes", DEFAULT_EXCLUDED_FSTYPES))
        self._busy = False

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        if options.get("mounts") and "exclude_fstypes" in options:
            return ["exclude_fstypes only applies when mounts is not given; remove one of them."]
        return []

    async def measure(self) -> Measurement:
        if self._busy:
            raise ProbeError(
                "the previous disk measurement is still blocked in the kernel",
                hint="a mount is not answering (stale NFS?); list healthy ones in mounts",
            )
        return await asyncio.to_thread(self._measure)

    def _measure(self) -> Measurement:
        self._busy = True
        try:
            if self.mounts is None:
                table = {
                    p.mountpoint: p
                    for p in psutil.disk_partitions(all=False)
                    if p.fstype not in self.excluded
                }
                wanted = list(table)
            else:
                table = {p.mountpoint: p for p in psutil.disk_partitions(all=True)}
                wanted = self.mounts
            out: Measurement = {}
            for mount in wanted:
                part = table.get(mount)
                if part is None:
                    out[mount] = {f.name: None for f in _DISK_FIELDS} | {"mounted": False}
                    continue
                try:
                    st = os.statvfs(mount)
                except OSError as exc:
                    if self.mounts is None:
                        continue  # a discovered mount we may not read: not ours to judge
                    raise ProbeError(f"cannot read {mount}: {exc.strerror}") from exc
                out[mount] = _usage(st) | {"fstype": part.fstype, "device": part.device}
            return out
        finally:
            self._busy = False


def _usage(st: os.statvfs_result) -> dict[str, Any]:
    total = st.f_blocks * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    free = st.f_bavail * st.f_frsize
    percent = round(used / (used + free) * 100, 2) if used + free else 0.0
    inodes_used = st.f_files - st.f_ffree
    return {
        "mounted": True,
        "total_bytes": total,
        "used_bytes": used,
        "free_bytes": free,
        "percent": percent,
        "free_percent": round(100.0 - percent, 2),
        "inodes_total": st.f_files,
        "inodes_used": inodes_used,
        "inodes_percent": round(inodes_used / st.f_files * 100, 2) if st.f_files else 0.0,
    }
