"""Fleet budgets on etcd: the latency a slot adds to each action, and decisions per second.

Starts a real 3-member etcd cluster (local processes on free loopback ports, data in
a temp dir), then, through the agent's own client (:mod:`medic.fleet.budget`):

(a) added latency per action: N times, take a slot of a budget of 3 and give it back
    (the two etcd round trips an action pays: acquire before the intent, release after
    verification); prints p50/p99 of the acquire and of the release;
(b) budget decisions per second: CONCURRENCY askers hammer a budget of 3 for SECONDS,
    each asking, and giving back at once what it got; prints decisions/s (taken and
    exhausted both count: each is a full decision against etcd).

    .venv/bin/python bench/bench_fleet.py [--runs 200] [--concurrency 20] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from medic.fleet.budget import Budgets
from medic.fleet.client import Etcd
from medic.policy.model import FleetBudget

OWNER = {"policy": "bench", "target": "t", "incident": "i"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster(root: Path) -> tuple[list[str], list[subprocess.Popen[bytes]]]:
    binary = shutil.which("etcd")
    if binary is None:
        sys.exit("etcd is not installed: run scripts/provision-etcd.sh as root")
    clients = [_port() for _ in range(3)]
    peers = [_port() for _ in range(3)]
    initial = ",".join(f"m{i}=http://127.0.0.1:{p}" for i, p in enumerate(peers))
    procs = []
    for i in range(3):
        argv = [
            binary, f"--name=m{i}", f"--data-dir={root / f'm{i}'}",
            f"--listen-client-urls=http://127.0.0.1:{clients[i]}",
            f"--advertise-client-urls=http://127.0.0.1:{clients[i]}",
            f"--listen-peer-urls=http://127.0.0.1:{peers[i]}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peers[i]}",
            f"--initial-cluster={initial}", "--initial-cluster-state=new",
        ]  # fmt: skip
        log = (root / f"m{i}.log").open("wb")
        procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
    urls = [f"http://127.0.0.1:{p}" for p in clients]
    deadline = time.monotonic() + 30
    for url in urls:
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as resp:  # noqa: S310 - loopback URL made here
                    if b'"true"' in resp.read():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("etcd cluster did not become healthy")
            time.sleep(0.1)
    return urls, procs


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))] * 1000


async def latency(urls: list[str], runs: int) -> None:
    etcd = Etcd(urls)
    budgets = Budgets(etcd, "bench", lease_ttl=15)
    budget = FleetBudget("bench-latency", max=3)
    takes, gives = [], []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            decision = await budgets.acquire(budget, **OWNER)
            t1 = time.perf_counter()
            assert decision.slot is not None, decision
            await decision.slot.release()
            gives.append(time.perf_counter() - t1)
            takes.append(t1 - t0)
    finally:
        await etcd.close()
    print(
        f"(a) slot acquire: p50 {pct(takes, 0.5):.1f} ms, p99 {pct(takes, 0.99):.1f} ms; "
        f"release: p50 {pct(gives, 0.5):.1f} ms, p99 {pct(gives, 0.99):.1f} ms ({runs} runs)"
    )


async def throughput(urls: list[str], concurrency: int, seconds: float) -> None:
    etcd = Etcd(urls)
    budget = FleetBudget("bench-rate", max=3)
    counts = {"taken": 0, "exhausted": 0, "unreachable": 0}
    stop = time.monotonic() + seconds

    async def asker(n: int) -> None:
        budgets = Budgets(etcd, f"h{n}", lease_ttl=15)
        while time.monotonic() < stop:
            decision = await budgets.acquire(budget, **OWNER)
            counts[decision.outcome] += 1
            if decision.slot is not None:
                await decision.slot.release()

    try:
        await asyncio.gather(*(asker(n) for n in range(concurrency)))
    finally:
        await etcd.close()
    total = sum(counts.values())
    print(
        f"(b) {total / seconds:.0f} budget decisions/s from {concurrency} askers "
        f"(taken {counts['taken']}, exhausted {counts['exhausted']}, "
        f"unreachable {counts['unreachable']} in {seconds:g}s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="medic-bench-etcd-") as tmp:
        urls, procs = start_cluster(Path(tmp))
        try:
            asyncio.run(latency(urls, args.runs))
            asyncio.run(throughput(urls, args.concurrency, args.seconds))
        finally:
            for proc in procs:
                proc.kill()
                proc.wait(10)


if __name__ == "__main__":
    main()
