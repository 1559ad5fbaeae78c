"""Alertmanager receiver: alerts per second taken, and firing webhook -> remediation started.

Starts the real agent (`medic run`, API with a token, audit on) as a subprocess and
talks to it over loopback HTTP exactly as Alertmanager does (version-4 webhook
payloads with a bearer token):

(a) time from a firing webhook POST to the ``action.started`` audit event of the
    policy it triggers (an ``alertmanager`` probe; the webhook wakes the policy through
    its watch(), so this does not wait for the interval, set to 1 h here): N runs, each
    a new alert; the figure is the event's own time minus the moment the POST was sent;
(b) how many alerts per second the receiver takes: TOTAL alerts (unique fingerprints,
    none matching a policy) in webhook payloads of BATCH, from CONCURRENCY connections;
    prints alerts/s and request latency p50/p99.

    .venv/bin/python bench/bench_alertmanager.py [--runs 20] [--alerts 10000] [--batch 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

TOKEN = "bench-token"  # noqa: S105 -- a throwaway token for a local benchmark agent
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def webhook(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """A version-4 payload as Alertmanager posts it."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="BenchLoad"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "medic",
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": alerts,
    }


def alert(name: str, n: int) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": name, "instance": f"host-{n}:9100", "severity": "page"},
        "annotations": {"summary": f"{name} on host-{n}"},
        "startsAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": f"{name[:4].encode().hex()}{n:08x}",
    }


class Agent:
    """`medic run` in a temporary directory with one alertmanager policy."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        (root / "policies").mkdir()
        policy = {
            "name": "bench-fire",
            "probe": {"type": "alertmanager", "alertname": "BenchFire", "every": "1h"},
            "when": "firing",
            "remediate": [{"command": {"argv": ["true"], "timeout": "10s"}}],
            "verify": {"after": "1h"},
            "limits": {"max": 100, "per": "1h", "cooldown": "0s"},
        }
        (root / "policies" / "bench.yaml").write_text(
            yaml.safe_dump({"version": 1, "policies": [policy]})
        )
        config = {
            "state_dir": "state",
            "policies": ["policies"],
            "api": {"listen": f"127.0.0.1:{self.port}", "token": {"env": "MEDIC_API_TOKEN"}},
            "log": {"format": "json", "level": "info"},
            "limits": {"max_concurrent_actions": 8, "circuit_breaker": {"max_actions": 1000}},
        }
        (root / "medic.yaml").write_text(yaml.safe_dump(config))
        self.db = root / "state" / "audit.db"
        self.log = (root / "agent.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "medic", "run", "--config", str(root / "medic.yaml")],
            cwd=root,
            stdout=self.log,
            stderr=self.log,
            env={**os.environ, "MEDIC_API_TOKEN": TOKEN},
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                async with session.get(self.url + "/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise SystemExit("the agent did not answer /health within 60 s; see its log")

    def action_started(self, target_part: str) -> float | None:
        """The wall time of the action.started event whose target contains ``target_part``."""
        if not self.db.exists():
            return None
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute(
                "select time from events where kind = 'action.started' and target like ?",
                (f"%{target_part}%",),
            ).fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()
        if row is None:
            return None
        return datetime.fromisoformat(row[0].replace("Z", "+00:00")).timestamp()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> None:
    async with session.post(url + "/api/v1/alertmanager", json=body, headers=HEADERS) as r:
        if r.status != 200:
            raise SystemExit(f"the receiver answered {r.status}: {await r.text()}")
        await r.read()


async def fire_to_action(agent: Agent, session: aiohttp.ClientSession, runs: int) -> list[float]:
    latencies = []
    for n in range(runs):
        body = webhook([alert("BenchFire", n)])
        sent = time.time()
        await post(session, agent.url, body)
        deadline = time.monotonic() + 10
        started = None
        while started is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            started = agent.action_started(f"host-{n}:9100")
        if started is None:
            raise SystemExit(f"run {n}: no action.started within 10 s")
        latencies.append(started - sent)
    return latencies


async def throughput(
    agent: Agent, session: aiohttp.ClientSession, total: int, batch: int, concurrency: int
) -> tuple[float, list[float]]:
    bodies = [
        webhook([alert("BenchLoad", i) for i in range(start, min(start + batch, total))])
        for start in range(0, total, batch)
    ]
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            t0 = time.perf_counter()
            await post(session, agent.url, body)
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started), latencies


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(Path(tmp))
        try:
            connector = aiohttp.TCPConnector(limit=args.concurrency)
            async with aiohttp.ClientSession(connector=connector) as session:
                await agent.ready(session)
                await asyncio.sleep(2)  # let start-up evaluations settle
                fire = await fire_to_action(agent, session, args.runs)
                rate, request_latency = await throughput(
                    agent, session, args.alerts, args.batch, args.concurrency
                )
        finally:
            agent.stop()
    print(f"firing webhook POST -> action.started, {args.runs} runs (real agent)")
    print(f"  p50 {quantile(fire, 0.5) * 1000:.1f} ms, p99 {quantile(fire, 0.99) * 1000:.1f} ms")
    print(
        f"receiver: {args.alerts} alerts in payloads of {args.batch}, "
        f"{args.concurrency} connections"
    )
    print(f"  {rate:,.0f} alerts/s")
    print(
        f"  request latency p50 {quantile(request_latency, 0.5) * 1000:.1f} ms, "
        f"p99 {quantile(request_latency, 0.99) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
