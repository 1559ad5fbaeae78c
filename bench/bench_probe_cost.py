"""What one run of each host-level probe costs: median and p99 wall time, and CPU.

Run: ``.venv/bin/python bench/bench_probe_cost.py``. Each probe's ``measure()`` runs
200 times back to back (the command probe 50 times, with ``/bin/true``); the figures
are wall time per run and how many runs one core could do per second, counting the
CPU of every thread of the agent and of the programs it started.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchkit import report, time_runs
from medic.probes.base import Probe
from medic.probes.commands.command import CommandProbe
from medic.probes.system.disk import DiskProbe
from medic.probes.system.file import FileProbe
from medic.probes.system.host import CpuProbe, LoadProbe, MemoryProbe
from medic.probes.system.process import ProcessProbe


async def bench(label: str, make: Callable[[], Probe], runs: int) -> None:
    probe = make()
    await probe.measure()  # first run: baselines, imports, caches
    walls, cpu, _ = await time_runs(probe, runs)
    await probe.close()
    report(label, runs, walls, cpu, width=37)


def setup() -> tuple[Path, subprocess.Popen[bytes], str]:
    """A scratch directory with 20 files, and a running process to look for."""
    work = Path(tempfile.mkdtemp(prefix="medic-bench-"))
    name = "mdc-bench-slp"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", work / name)
    sleeper = subprocess.Popen([str(work / name), "3600"])
    for i in range(20):
        (work / f"db-{i}.dump").write_bytes(b"x" * i)
    (work / "app.pid").write_text(str(sleeper.pid))
    return work, sleeper, name


async def main() -> None:
    work, sleeper, name = setup()
    options: list[tuple[str, Callable[[], Probe], int]] = [
        ("host.memory", lambda: MemoryProbe({}), 200),
        ("host.cpu", lambda: CpuProbe({}), 200),
        ("host.load", lambda: LoadProbe({}), 200),
        ("host.disk (discovered mounts)", lambda: DiskProbe({}), 200),
        ("host.disk (mounts: [/])", lambda: DiskProbe({"mounts": ["/"]}), 200),
        ("process name (shared /proc listing)", lambda: ProcessProbe({"name": name}), 200),
        ("process cmdline (shared listing)", lambda: ProcessProbe({"cmdline": f"{name} 36"}), 200),
        ("process pidfile", lambda: ProcessProbe({"pidfile": str(work / "app.pid")}), 200),
        ("process absent (fresh /proc scan)", lambda: ProcessProbe({"name": "absent-x"}), 200),
        ("file", lambda: FileProbe({"path": str(work / "db-3.dump")}), 200),
        (
            "file glob (20 matches)",
            lambda: FileProbe({"path": f"{work}/db-*.dump", "glob": True}),
            200,
        ),
        ("command /bin/true", lambda: CommandProbe({"argv": ["/bin/true"]}), 50),
    ]
    procs = sum(1 for p in os.listdir("/proc") if p.isdigit())  # noqa: PTH208 - a count
    print(f"host: {os.cpu_count()} CPUs, {procs} processes; wall time and CPU per run")
    try:
        for label, make, runs in options:
            await bench(label, make, runs)
    finally:
        sleeper.kill()
        sleeper.wait()
        shutil.rmtree(work)


def run() -> Any:
    return asyncio.run(main())


if __name__ == "__main__":
    run()
