"""Host probes read the real host: memory, CPU, load and disk usage."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from medic.errors import ProbeError
from medic.probes.base import Probe
from medic.probes.system.disk import DiskProbe
from medic.probes.system.host import CpuProbe, LoadProbe, MemoryProbe

pytestmark = pytest.mark.integration


def only_target(measurement: dict[str, dict[str, Any]]) -> dict[str, Any]:
    assert list(measurement) == [socket.gethostname()]
    return measurement[socket.gethostname()]


def assert_declared(probe: type[Probe], fields: dict[str, Any]) -> None:
    assert set(fields) == set(probe.field_names())


@pytest.mark.asyncio
async def test_memory_reads_the_host() -> None:
    """host.memory yields exactly its fields with consistent, plausible values."""
    fields = only_target(await MemoryProbe({}).measure())
    assert_declared(MemoryProbe, fields)
    assert fields["total_bytes"] == psutil.virtual_memory().total
    assert 0 < fields["available_bytes"] <= fields["total_bytes"]
    assert fields["used_bytes"] == fields["total_bytes"] - fields["available_bytes"]
    assert 0 <= fields["percent"] <= 100
    assert 0 <= fields["swap_percent"] <= 100


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.mark.asyncio
async def test_cpu_sees_busy_time_since_previous_measure() -> None:
    """host.cpu first samples over 0.1 s, then reports the interval since the last run."""
    probe = CpuProbe({})
    first = only_target(await probe.measure())
    assert_declared(CpuProbe, first)
    assert first["count"] == psutil.cpu_count()
    for name in ("percent", "iowait_percent", "steal_percent"):
        assert 0 <= first[name] <= 100
    await asyncio.to_thread(spin, 0.3)
    second = only_target(await probe.measure())
    assert 0 < second["percent"] <= 100


@pytest.mark.asyncio
async def test_load_per_cpu() -> None:
    """host.load divides the 1-minute load by the CPU count."""
    fields = only_target(await LoadProbe({}).measure())
    assert_declared(LoadProbe, fields)
    assert fields["cpus"] == os.cpu_count()
    assert fields["load1"] >= 0 and fields["load5"] >= 0 and fields["load15"] >= 0
    assert fields["load1_per_cpu"] == round(fields["load1"] / fields["cpus"], 3)


@pytest.mark.asyncio
async def test_disk_listed_root_mount() -> None:
    """A listed mount yields its usage from statvfs and its type from the mount table."""
    out = await DiskProbe({"mounts": ["/"]}).measure()
    assert list(out) == ["/"]
    fields = out["/"]
    assert_declared(DiskProbe, fields)
    st = os.statvfs("/")
    assert fields["mounted"] is True
    assert fields["total_bytes"] == st.f_blocks * st.f_frsize
    assert 0 <= fields["percent"] <= 100
    assert fields["free_percent"] == round(100 - fields["percent"], 2)
    assert fields["inodes_total"] == st.f_files
    assert isinstance(fields["fstype"], str) and fields["fstype"]
    assert isinstance(fields["device"], str)


@pytest.mark.asyncio
async def test_disk_missing_mount_is_a_target(tmp_path: Path) -> None:
    """A listed path that is not a mount point yields mounted=false and null fields."""
    out = await DiskProbe({"mounts": [str(tmp_path), "/no/such/mount/"]}).measure()
    assert set(out) == {str(tmp_path), "/no/such/mount"}
    for fields in out.values():
        assert_declared(DiskProbe, fields)
        assert fields["mounted"] is False
        assert {k for k, v in fields.items() if v is not None} == {"mounted"}


@pytest.mark.asyncio
async def test_disk_discovery_skips_excluded_types() -> None:
    """Without mounts, every real filesystem is a target except the excluded types."""
    everything = await DiskProbe({"exclude_fstypes": []}).measure()
    for fields in everything.values():
        assert_declared(DiskProbe, fields)
        assert fields["mounted"] is True
    if not everything:
        return
    first = next(iter(everything.values()))["fstype"]
    fewer = await DiskProbe({"exclude_fstypes": [first]}).measure()
    assert all(f["fstype"] != first for f in fewer.values())
    assert len(fewer) < len(everything)


@pytest.mark.asyncio
async def test_disk_hung_statvfs_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a statvfs is stuck in the kernel, the next run fails instead of piling up."""
    release = threading.Event()
    real = os.statvfs

    def hang(path: str) -> os.statvfs_result:
        release.wait(5)
        return real(path)

    monkeypatch.setattr(os, "statvfs", hang)
    probe = DiskProbe({"mounts": ["/"]})
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(probe.measure(), 0.2)
    with pytest.raises(ProbeError) as info:
        await probe.measure()
    assert info.value.message == "the previous disk measurement is still blocked in the kernel"
    monkeypatch.setattr(os, "statvfs", real)
    release.set()
    for _ in range(100):  # the stuck thread returns, then the probe works again
        await asyncio.sleep(0.01)
        with contextlib.suppress(ProbeError):
            assert (await probe.measure())["/"]["mounted"] is True
            return
    pytest.fail("the probe did not recover after the stuck call returned")


def test_disk_validate_rejects_mounts_with_exclusions() -> None:
    """exclude_fstypes next to mounts is reported with the fix."""
    assert DiskProbe.validate({"mounts": ["/"], "exclude_fstypes": ["nfs"]}) == [
        "exclude_fstypes only applies when mounts is not given; remove one of them."
    ]
    assert DiskProbe.validate({"mounts": ["/"]}) == []
