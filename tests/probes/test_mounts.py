"""Which paths a cheap probe may read on the event loop: local filesystems only."""

from __future__ import annotations

from pathlib import Path

import pytest

from medic.probes.system.file import FileProbe
from medic.probes.system.mounts import filesystem_of, mount_table

MOUNTS = r"""/dev/sda1 / ext4 rw 0 0
server:/export /mnt/backups nfs4 rw 0 0
tmpfs /mnt/backups/scratch tmpfs rw 0 0
//nas/share /srv/my\040share cifs rw 0 0
"""


def test_deepest_mount_decides() -> None:
    """A path belongs to the deepest mount above it; escaped spaces are read back."""
    table = mount_table(MOUNTS)
    assert filesystem_of("/var/log/x", table) == "ext4"
    assert filesystem_of("/mnt/backups/db.dump", table) == "nfs4"
    assert filesystem_of("/mnt/backups/scratch/a", table) == "tmpfs"
    assert filesystem_of("/mnt/backupsX/a", table) == "ext4"
    assert filesystem_of("/srv/my share/f", table) == "cifs"


@pytest.mark.asyncio
async def test_file_probe_reads_local_paths_on_the_loop(tmp_path: Path) -> None:
    """After one measurement in a thread, a path on a local filesystem is read inline."""
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    probe = FileProbe({"path": str(path)})
    assert probe.read() is None  # nobody has looked at its filesystem yet
    await probe.measure()
    assert probe.local is True
    reading = probe.read()
    assert reading is not None
    assert reading[str(path)]["size_bytes"] == 3


@pytest.mark.asyncio
async def test_file_probe_on_a_network_mount_stays_in_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path on a network filesystem is never read on the event loop."""
    monkeypatch.setattr("medic.probes.system.file.on_local_filesystem", lambda path: False)
    probe = FileProbe({"path": str(tmp_path)})
    await probe.measure()
    assert probe.read() is None
