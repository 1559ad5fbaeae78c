"""Container killed -> restart requested: the real agent, event-driven and poll-only.

Runs `medic run` as a subprocess with one ``container`` policy (``when: not running``,
``container.start``) on a real busybox container, and kills that container N times
with ``docker kill``. For each kill the latency is the ``action.started`` event's time
in the audit DB (the intent, written just before the start request goes to the engine)
minus the moment just before the kill request. Two modes, each with a fresh agent and
container:

- event-driven: the policy polls every 30 s; the engine's event stream (die, kill, ...)
  is what wakes it. Target (DESIGN.md): p50 <= 100 ms, p99 <= 500 ms.
- poll-only: the same agent with the container probe's event stream switched off
  (``ContainerProbe.watches = False``, set before the CLI starts), polling every
  ``--poll-every`` (5 s by default, what the common restart-sidecars do).

Between kills the bench waits for the restart to be verified, then ``--gap`` seconds
(1.5 by default) plus a random share of one poll interval (of 1 s in the event-driven
run), so each kill lands at a random point of the poll cycle of a container that has
been up for a while. With a shorter gap
(``--gap 0.3``) kills also land inside the measurements that follow a restart, each of
which can wait up to 1 s for the engine's statistics sample; the event that arrives
meanwhile is served when that measurement ends, which shows in the p99. Needs the
engine and the test image (scripts/provision-docker.sh, scripts/build-test-images.sh).

    .venv/bin/python bench/bench_container_restart.py [--kills 50] [--poll-every 5s]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound, NotFound

from benchkit import write_restart_agent
from medic.clock import parse_iso
from medic.durations import parse_duration

IMAGE = "medic-test/busybox:1"
# The CLI, with the container probe's event stream off: polling alone must notice.
POLL_ONLY = (
    "import sys; from medic.probes.containers.container import ContainerProbe; "
    "ContainerProbe.watches = False; from medic.cli import main; "
    "sys.argv[0] = 'medic'; sys.exit(main())"
)


def wait(check: Callable[[], object], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def count(db: Path, kind: str) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("select count(*) from events where kind = ?", (kind,)).fetchone()
        return int(row[0])
    except sqlite3.OperationalError:  # the agent has not created the table yet
        return 0
    finally:
        conn.close()


def reached(db: Path, kind: str, n: int) -> bool:
    return count(db, kind) >= n


def started_times(db: Path) -> list[float]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("select time from events where kind = 'action.started' order by id")
        return [parse_iso(r[0]) for r in rows]
    finally:
        conn.close()


def percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(share * (len(sorted_values) - 1)))]


def report(name: str, latencies: list[float]) -> None:
    ms = sorted(x * 1000 for x in latencies)
    over = sum(1 for x in ms if x > 500.0)
    print(
        f"{name:38} kills={len(ms)}  p50={statistics.median(ms):7.1f} ms  "
        f"p99={percentile(ms, 0.99):7.1f} ms  max={ms[-1]:7.1f} ms  over 500 ms: {over}"
    )


def write_agent(root: Path, container: str, every: str, kills: int) -> Path:
    policy = {
        "name": "bench-container",
        "description": "Start the benchmark's container again the moment it dies.",
        "probe": {"type": "container", "name": container, "every": every},
        "when": "not running",
        "remediate": [{"container.start": {"timeout": "30s"}}],
        "verify": {"after": "200ms"},
        "limits": {"max": 10 * kills, "per": "1h", "cooldown": "0s"},
    }
    return write_restart_agent(root, policy, kills)


def bench(
    client: Any, root: Path, kills: int, every: str, *, events: bool, gap: float
) -> list[float]:
    """Kill a fresh container ``kills`` times under a fresh agent; the latencies."""
    spread = 1.0 if events else parse_duration(every)
    name = f"medic-bench-{uuid.uuid4().hex[:10]}"
    container = client.containers.run(
        IMAGE,
        ["sleep", "86400"],
        detach=True,
        name=name,
        network_mode="none",
        init=True,
        labels={"medic.test": "1", "medic.bench": "container-restart"},
    )
    config = write_agent(root, name, every, kills)
    db = root / "state" / "audit.db"
    command = ["-m", "medic"] if events else ["-c", POLL_ONLY]
    agent = subprocess.Popen(
        [sys.executable, *command, "run", "--config", str(config)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed_at: list[float] = []
    try:
        wait(lambda: count(db, "policy.loaded") == 1, "the agent to load the policy", 60)
        time.sleep(2.5)  # the first (jittered) measurement has run, the stream is open
        for i in range(kills):
            killed_at.append(time.time())
            container.kill()
            wait(partial(reached, db, "verify.healed", i + 1), f"restart {i + 1} verified", 60)
            time.sleep(gap + random.uniform(0.0, spread))
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
        with contextlib.suppress(NotFound):
            container.remove(force=True)
    started = started_times(db)
    if len(started) != kills:
        raise SystemExit(f"{len(started)} restarts were started for {kills} kills")
    return [s - k for s, k in zip(started, killed_at, strict=True)]


def docker_client() -> Any:
    """The Docker engine's client, or exit saying how to get the engine or the image."""
    try:
        client = docker.from_env(timeout=60)
        client.images.get(IMAGE)
    except ImageNotFound:
        raise SystemExit(f"{IMAGE} is missing: run scripts/build-test-images.sh") from None
    except DockerException as exc:
        raise SystemExit(f"no Docker engine ({exc}): run scripts/provision-docker.sh") from None
    return client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--poll-every", default="5s", help="poll-only interval (default 5s)")
    parser.add_argument("--events-only", action="store_true", help="skip the poll-only run")
    parser.add_argument("--gap", type=float, default=1.5, help="least seconds between kills")
    args = parser.parse_args()
    client = docker_client()
    with tempfile.TemporaryDirectory() as tmp:
        event_driven = bench(
            client, Path(tmp) / "events", args.kills, "30s", events=True, gap=args.gap
        )
    report("event-driven (poll every 30s)", event_driven)
    if args.events_only:
        return
    with tempfile.TemporaryDirectory() as tmp:
        polled = bench(
            client, Path(tmp) / "poll", args.kills, args.poll_every, events=False, gap=args.gap
        )
    report(f"poll-only (every {args.poll_every}, no events)", polled)


if __name__ == "__main__":
    main()
