"""Which filesystem a path lies on, and whether reading it can block.

A ``stat`` on a local filesystem is answered from memory or a local disk; on a network
filesystem (NFS, CIFS, a FUSE mount) it can wait in the kernel for minutes when the
server is gone. Probes that read on the event loop (``runs_on_loop``) do so only for
paths on a filesystem listed in :data:`LOCAL_TYPES`; anything else, or anything not
found, is read in a worker thread. Call :func:`on_local_filesystem` from a worker
thread: resolving symbolic links touches the path itself.
"""

from __future__ import annotations

import os
import re

_OCTAL = re.compile(r"\\([0-7]{3})")

# Filesystems whose metadata reads never wait on another machine.
LOCAL_TYPES = frozenset(
    {
        "ext2",
        "ext3",
        "ext4",
        "xfs",
        "btrfs",
        "zfs",
        "f2fs",
        "bcachefs",
        "jfs",
        "reiserfs",
        "nilfs2",
        "vfat",
        "exfat",
        "ntfs3",
        "tmpfs",
        "ramfs",
        "devtmpfs",
        "overlay",
        "squashfs",
        "proc",
        "sysfs",
        "cgroup",
        "cgroup2",
    }
)


def mount_table(text: str) -> list[tuple[str, str]]:
    """(mount point, filesystem type) of each line of ``/proc/self/mounts``."""
    table = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            # The kernel writes a space in a mount point as \\040 (octal escapes).
            point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), parts[1])
            table.append((point, parts[2]))
    return table


def filesystem_of(path: str, table: list[tuple[str, str]]) -> str | None:
    """The type of the filesystem mounted deepest above ``path`` (the last such mount
    wins when mounts are stacked), or None when no mount covers it."""
    best: tuple[int, str] | None = None
    for point, fstype in table:
        inside = point in ("/", path) or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), fstype)
    return best[1] if best else None


def on_local_filesystem(path: str) -> bool:
    """True when ``path`` (its symbolic links resolved) lies on a local filesystem."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:  # noqa: PTH123 - one read, as the kernel writes it
            text = f.read()
    except OSError:
        return False
    return filesystem_of(os.path.realpath(path), mount_table(text)) in LOCAL_TYPES
