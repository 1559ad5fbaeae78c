"""What the benchmark scripts share: CPU clock, percentiles, the probe timing loop, and
the agent set-up of the restart benchmarks. Scripts run as `python bench/NAME.py`, so
this folder is on the import path."""

from __future__ import annotations

import resource
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from medic.probes.base import Probe


def cpu_seconds() -> float:
    """CPU of every thread of this process plus its reaped children (microsecond grain)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def time_runs(
    probe: Probe, runs: int, before: Callable[[], Awaitable[None] | None] | None = None
) -> tuple[list[float], float, int]:
    """Wall time of each `measure()`, the CPU they used, and the targets of the last one.

    ``before`` runs ahead of each measurement (a reconnect, more log lines) and is left
    out of both figures."""
    walls: list[float] = []
    cpu = 0.0
    targets = 0
    for _ in range(runs):
        if before is not None:
            pending = before()
            if pending is not None:
                await pending
        cpu_start = cpu_seconds()
        start = time.perf_counter()
        targets = len(await probe.measure())
        walls.append(time.perf_counter() - start)
        cpu += cpu_seconds() - cpu_start
    return walls, cpu, targets


def report(label: str, runs: int, walls: list[float], cpu: float, width: int = 38) -> None:
    print(
        f"{label:<{width}} {runs:>4}  median {statistics.median(walls) * 1000:7.3f} ms"
        f"  p99 {p99(walls) * 1000:7.3f} ms  cpu {cpu / runs * 1000:7.3f} ms"
        f"  {runs / cpu:7.0f} runs/s/core"
    )


def docstring_policies() -> list[dict[str, Any]]:
    """Every policy in the installed probes' and actions' docstring examples."""
    from medic.actions.base import actions
    from medic.policy.schema import docstring_example
    from medic.probes.base import probes

    found: list[dict[str, Any]] = []
    for _, cls in [*probes.items(), *actions.items()]:
        example = docstring_example(cls)
        if example:
            found.extend(yaml.safe_load(example)["policies"])
    if not found:
        raise SystemExit("no docstring examples found: are the probes installed?")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_restart_agent(root: Path, policy: dict[str, Any], kills: int) -> Path:
    """A policy dir with ``policy`` and an agent config whose limits allow every kill."""
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "bench.yaml").write_text(
        yaml.safe_dump({"version": 1, "policies": [policy]}, sort_keys=False)
    )
    config = {
        "state_dir": "state",
        "policies": ["policies"],
        "watch": False,
        "api": {"listen": f"127.0.0.1:{free_port()}"},
        "log": {"format": "json", "level": "warning"},
        "limits": {"circuit_breaker": {"max_actions": 10 * kills, "per": "1m"}},
    }
    (root / "medic.yaml").write_text(yaml.safe_dump(config))
    return root / "medic.yaml"
