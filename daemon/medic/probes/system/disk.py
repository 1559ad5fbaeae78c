"""The ``host.disk`` probe: space and inodes of mounted filesystems.

One target per mount point. The numbers come from ``statvfs`` in a worker thread, so
the event loop never waits on a slow filesystem; a mount stuck in the kernel (a dead
NFS server) makes the next run fail fast instead of piling up blocked threads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.system.host import load_psutil

if TYPE_CHECKING:
    import asyncio

    import psutil
else:  # imported when a policy makes this probe (medic.probes.system.host says why)
    asyncio = lazy_module("asyncio")
    psutil = lazy_module("psutil")

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

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
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
    )
    fields = _DISK_FIELDS

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        load_psutil()
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
