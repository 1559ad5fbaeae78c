"""A real, small filesystem a test can fill up and free: tmpfs mounted under tmp.

Mounting needs root (the test machines run as root). ``fill()`` writes until the
kernel says ENOSPC; ``free()`` deletes the filler, and space is back at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

MOUNT = shutil.which("mount") or "/bin/mount"
UMOUNT = shutil.which("umount") or "/bin/umount"


class SmallDisk:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def fill(self) -> int:
        """Write zeros until the disk is full; the bytes written."""
        written = 0
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        block = b"\0" * 4096
        try:
            while True:
                written += os.write(fd, block)
        except OSError as exc:
            if exc.errno != 28:  # ENOSPC is the point; anything else is a real failure
                raise
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(root: Path, size: str = "2m") -> Iterator[SmallDisk]:
    """A tmpfs of ``size`` mounted at ``root`` for the block; unmounted after."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [MOUNT, "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(root)], check=True
    )
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run([UMOUNT, "-l", str(root)], check=False)
