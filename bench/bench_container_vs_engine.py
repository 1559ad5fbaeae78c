"""Container health paths against the engine's own clock: Medic beside Docker's restart policy.

Every latency starts at the engine's own event (its ``timeNano``), so nothing the bench
does to cause it (an ``exec``, a health check's interval) is counted:

- unhealthy -> restart requested: a busybox container whose health check fails once a
  file exists in its tmpfs (the restart clears it); Medic's policy
  ``health == "unhealthy"`` -> ``container.restart``. From the ``health_status:
  unhealthy`` event to Medic's ``action.started`` (the intent, written just before the
  request goes to the engine). Docker itself never restarts an unhealthy container
  outside Swarm, so there is no engine figure to set beside it.
- died -> start requested: the container's main process is killed from inside (so the
  engine does not count it as stopped by hand); Medic's policy ``not running`` ->
  ``container.start``, no restart policy. From the ``die`` event to ``action.started``,
  and, like for like with the engine, to the next ``start`` event.
- died -> started by Docker (``--restart on-failure``): the same kill, the same ``die``
  to ``start`` events. The engine waits 100 ms before its first restart and doubles
  the wait for a container that ran under 10 s, so each kill is made on a fresh
  container: the engine's best case, its first restart.

Medic runs as ``medic run`` in a subprocess with only that policy (events on, polling
every 30 s). Needs the engine and the test image (scripts/build-test-images.sh).

    .venv/bin/python bench/bench_container_vs_engine.py [--kills 20] [--gap 1.5]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docker.errors import NotFound

from bench_container_restart import IMAGE, count, docker_client, reached, started_times, wait
from benchkit import p99, write_restart_agent

LABELS = {"medic.test": "1", "medic.bench": "container-vs-engine"}
HEALTH = {
    "test": ["CMD", "test", "!", "-e", "/run/bad"],
    "interval": 250_000_000,  # ns
    "timeout": 1_000_000_000,
    "retries": 1,
}


def run_container(client: Any, name: str, **extra: Any) -> Any:
    return client.containers.run(
        IMAGE,
        ["sleep", "86400"],
        detach=True,
        name=name,
        network_mode="none",
        init=True,  # docker-init passes a TERM sent from inside on to sleep
        tmpfs={"/run": ""},
        labels=LABELS,
        **extra,
    )


class Events:
    """The container's events as they happen, (action, seconds), read by a thread: the
    engine keeps only its last 256 events, too few on a busy host to ask afterwards."""

    def __init__(self, client: Any, name: str) -> None:
        self.seen: list[tuple[str, float]] = []
        self._stream = client.events(filters={"container": name}, decode=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):  # the stream is closed under it at the end
            for event in self._stream:
                if "timeNano" in event:
                    self.seen.append((event["Action"], event["timeNano"] / 1e9))

    def has(self, action: str, n: int = 1) -> bool:
        return sum(1 for name, _ in self.seen if name == action) >= n

    def close(self, action: str, n: int = 1) -> list[tuple[str, float]]:
        """All events, once ``n`` of ``action`` came (the stream trails the engine)."""
        wait(lambda: self.has(action, n), f"{n} {action} events", 10)
        self._stream.close()
        self._thread.join(5)
        return list(self.seen)


def after(events: list[tuple[str, float]], action: str, t: float) -> float:
    return min(at for name, at in events if name == action and at >= t)


def medic_agent(root: Path, policy: dict[str, Any], kills: int) -> subprocess.Popen[bytes]:
    config = write_restart_agent(root, policy, kills)
    return subprocess.Popen(
        [sys.executable, "-m", "medic", "run", "--config", str(config)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def policy(container: str, when: str, step: dict[str, Any], kills: int) -> dict[str, Any]:
    return {
        "name": "bench",
        "probe": {"type": "container", "name": container, "every": "30s"},
        "when": when,
        "remediate": [step],
        "verify": {"after": "500ms"},
        "limits": {"max": 10 * kills, "per": "1h", "cooldown": "0s"},
    }


def with_medic(
    client: Any, root: Path, kills: int, gap: float, unhealthy: bool
) -> tuple[list[float], list[float]]:
    """Medic's latencies: to its request, and to the engine's start event (died only)."""
    name = f"medic-bench-{uuid.uuid4().hex[:10]}"
    if unhealthy:
        container = run_container(client, name, healthcheck=HEALTH)
        rule = policy(
            name, 'health == "unhealthy"', {"container.restart": {"stop_timeout": 1}}, kills
        )
        trigger, cause = ["touch", "/run/bad"], "health_status: unhealthy"
    else:
        container = run_container(client, name)
        rule = policy(name, "not running", {"container.start": {"timeout": "30s"}}, kills)
        trigger, cause = ["kill", "1"], "die"
    stream = Events(client, name)
    agent = medic_agent(root, rule, kills)
    db = root / "state" / "audit.db"
    try:
        wait(lambda: count(db, "policy.loaded") == 1, "the agent to load the policy", 60)
        if unhealthy:
            wait(lambda: health(client, name) == "healthy", "the container to be healthy", 30)
        time.sleep(2.5)  # the first measurement has run, the event stream is open
        for i in range(kills):
            container.exec_run(trigger, detach=True)
            wait(lambda i=i: reached(db, "verify.healed", i + 1), f"heal {i + 1}", 60)
            if unhealthy:
                wait(lambda: health(client, name) == "healthy", "healthy again", 30)
            time.sleep(gap + random.uniform(0.0, 1.0))
    finally:
        # the died run's last start event, else the health run's last unhealthy one
        events = stream.close(
            *(("health_status: unhealthy", kills) if unhealthy else ("start", kills))
        )
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
        with contextlib.suppress(NotFound):
            container.remove(force=True)
    causes = sorted(at for action, at in events if action == cause)
    requested = started_times(db)
    if len(causes) != kills or len(requested) != kills:
        raise SystemExit(f"{len(causes)} {cause} events, {len(requested)} requests for {kills}")
    to_request = [r - c for r, c in zip(requested, causes, strict=True)]
    to_start = [] if unhealthy else [after(events, "start", c) - c for c in causes]
    return to_request, to_start


def health(client: Any, name: str) -> str:
    state = client.containers.get(name).attrs["State"]
    return str((state.get("Health") or {}).get("Status", "none"))


def with_engine(client: Any, kills: int) -> list[float]:
    """Docker's own on-failure restart, die -> start, a fresh container each kill."""
    out = []
    for _ in range(kills):
        name = f"medic-bench-{uuid.uuid4().hex[:10]}"
        container = run_container(client, name, restart_policy={"Name": "on-failure"})
        stream = Events(client, name)
        try:
            time.sleep(0.3)
            container.exec_run(["kill", "1"], detach=True)
            events = stream.close("start")
            died = after(events, "die", 0.0)
            out.append(after(events, "start", died) - died)
        finally:
            with contextlib.suppress(NotFound):
                container.remove(force=True)
    return out


def line(name: str, seconds: list[float]) -> float:
    ms = [s * 1000 for s in seconds]
    p50 = statistics.median(ms)
    figures = f"p50 {p50:7.1f} ms  p99 {p99(ms):7.1f} ms  max {max(ms):7.1f} ms"
    print(f"  {name:46} n={len(ms):3}  {figures}")
    return p50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--gap", type=float, default=1.5, help="least seconds between kills")
    args = parser.parse_args()
    client = docker_client()
    runs: dict[str, Callable[[Path], tuple[list[float], list[float]]]] = {
        "unhealthy": lambda root: with_medic(client, root, args.kills, args.gap, True),
        "died": lambda root: with_medic(client, root, args.kills, args.gap, False),
    }
    results = {}
    for key, run in runs.items():
        with tempfile.TemporaryDirectory() as tmp:
            results[key] = run(Path(tmp))
    engine = with_engine(client, args.kills)
    print("container paths, from the engine's event (its own clock)")
    line("unhealthy -> restart requested (Medic)", results["unhealthy"][0])
    print("  unhealthy -> restart (Docker, outside Swarm)    never")
    medic_request = line("died -> start requested (Medic)", results["died"][0])
    medic_start = line("died -> start event (Medic)", results["died"][1])
    docker_start = line("died -> start event (Docker on-failure, 1st)", engine)
    print(
        f"  ratio Docker/Medic, die -> start event: p50 {docker_start / medic_start:.1f}x "
        f"(to Medic's request: {docker_start / medic_request:.1f}x)"
    )


if __name__ == "__main__":
    main()
