"""Agent footprint: RSS and CPU of `medic run` with 100 policies every 10 s.

Starts the real agent as a subprocess (API on, audit on), lets it settle, then samples
its resident memory and CPU time over a window. Target (DESIGN.md): RSS <= 60 MB and
CPU <= 1 % of a core.

    .venv/bin/python bench/bench_footprint.py [--policies 100] [--seconds 60]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

PROBES = ["host.memory", "host.load", "host.disk", "host.cpu"]
WHEN = {
    "host.memory": "percent > 1000",
    "host.load": "load1 > 100000",
    "host.disk": "percent > 1000",
    "host.cpu": "percent > 1000",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policies", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "policies").mkdir()
        policies = [
            {
                "name": f"fp-{i}",
                "probe": {"type": PROBES[i % len(PROBES)], "every": "10s"},
                "when": WHEN[PROBES[i % len(PROBES)]],
                "remediate": [{"command": {"argv": ["true"]}}],
            }
            for i in range(args.policies)
        ]
        (root / "policies" / "fp.yaml").write_text(
            yaml.safe_dump({"version": 1, "policies": policies})
        )
        (root / "medic.yaml").write_text(
            yaml.safe_dump(
                {
                    "state_dir": "state",
                    "policies": ["policies"],
                    "watch": True,
                    "api": {"listen": f"127.0.0.1:{free_port()}"},
                    "log": {"format": "json", "level": "warning"},
                }
            )
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "medic", "run", "--config", str(root / "medic.yaml")],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            p = psutil.Process(proc.pid)
            time.sleep(15)  # start-up, imports, first evaluations
            cpu0 = p.cpu_times()
            t0 = time.monotonic()
            peak = 0
            while time.monotonic() - t0 < args.seconds:
                peak = max(peak, p.memory_info().rss)
                time.sleep(1)
            cpu1 = p.cpu_times()
            elapsed = time.monotonic() - t0
            cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsed
            rss = p.memory_info().rss
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"agent footprint, {args.policies} policies every 10s, {args.seconds:g}s window")
    print(f"  RSS {rss / 2**20:.1f} MB (peak {peak / 2**20:.1f} MB, target <= 60 MB)")
    print(f"  CPU {cpu * 100:.2f}% of one core (target <= 1%)")


if __name__ == "__main__":
    main()
