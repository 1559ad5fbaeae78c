"""Memory pressure inside a real container: restarted before the kernel kills it, and
an OOM kill noticed through the engine's event stream.

The pressure is real: the host's stress-ng (scripts/provision-stress.sh) runs inside
the container's cgroup through ``chroot /host``, with the host's root mounted
read-only and a tmpfs for its scratch files.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from kit.agent_harness import AgentProcess
from kit.containers import memory_usage, oom_events

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
HOST_ROOT = {"/": {"bind": "/host", "mode": "ro"}}
STRESS = "stress-ng --temp-path /tmp --vm 1 --vm-keep"
# 200 MiB of 256 MiB (~80 %) at once; 20 s later 100 MiB more, which the kernel would
# answer with the OOM killer. Medic must restart the container in between.
GROWING = f"{STRESS} --vm-bytes 200M & sleep 20; exec {STRESS} --vm-bytes 100M"
STATS_HINT = (
    "the engine reports no memory figures for a running container with a memory limit; "
    "on these hosts that happens when stray directories (cpu,cpuacct, hugetlb, perf_event, "
    "net_cls,net_prio) sit in the cgroup v1 tmpfs /sys/fs/cgroup without being mount "
    "points (left by a container run with --cgroupns=host -v /sys/fs/cgroup:rw): remove "
    "them (never a mount point) and run the test again"
)


@pytest.fixture(scope="module")
def stress_ng() -> str:
    """The host's stress-ng, which the containers run through chroot."""
    path = shutil.which("stress-ng")
    if path is None:
        pytest.fail(
            "stress-ng is not installed on the host; run scripts/provision-stress.sh "
            "(or `make provision`)",
            pytrace=False,
        )
    return path


def run_stress(run_container: Any, script: str, limit: str, **kwargs: Any) -> Any:
    """A container limited to ``limit`` (no swap) running ``script`` with the host's tools."""
    return run_container(
        "/bin/busybox",
        "chroot",
        "/host",
        "/bin/sh",
        "-c",
        script,
        mem_limit=limit,
        memswap_limit=limit,
        volumes=HOST_ROOT,
        tmpfs={"/host/tmp": "size=16m"},
        **kwargs,
    )


def test_memory_hog_is_restarted_before_the_kernel_kills_it(
    tmp_path: Path,
    stress_ng: str,
    docker_client: Any,
    run_container: Any,
    container_state: Any,
    wait_until: Any,
) -> None:
    """memory_percent > 75 under a 256 MiB limit -> restart, with no OOM kill on the way."""
    since = int(time.time()) - 1
    hog = run_stress(run_container, GROWING, "256m")
    try:
        wait_until(lambda: memory_usage(docker_client, hog) > 0, timeout=10, what="stats")
    except pytest.fail.Exception:
        pytest.fail(STATS_HINT, pytrace=False)
    first_start = container_state(hog)["StartedAt"]
    agent = AgentProcess(tmp_path)
    agent.write_policy(
        "memory.yaml",
        [
            {
                "name": "hog-memory",
                "description": "Restart the container before it runs out of memory.",
                "probe": {"type": "container", "name": hog.name, "every": "1s"},
                "when": "memory_percent > 75",
                "remediate": [{"container.restart": {"stop_timeout": "2s", "timeout": "30s"}}],
                "verify": {"after": "2s"},
                "limits": {"max": 1, "per": "1h", "cooldown": "0s"},
            }
        ],
    )
    agent.run_until("action.succeeded", what="the restart", timeout=30)

    (detected, *_) = agent.events("incident.detected")
    assert detected["values"]["memory_percent"] > 75
    assert detected["values"]["memory_limit_bytes"] == 256 * MiB
    assert detected["values"]["oom_killed"] is False
    (started,) = agent.events("action.started")
    assert (started["details"]["type"], started["target"]) == ("container.restart", hog.name)
    assert container_state(hog)["StartedAt"] != first_start
    assert oom_events(docker_client, hog, since) == [], "the kernel OOM-killed in the container"


def test_oom_kill_is_noticed_from_the_event_stream(
    tmp_path: Path,
    stress_ng: str,
    docker_client: Any,
    run_container: Any,
    container_state: Any,
    unique: str,
) -> None:
    """A container the kernel OOM-kills opens an incident with oom_killed true at once."""
    since = int(time.time()) - 1
    agent = AgentProcess(tmp_path)
    name = f"medic-test-oom-{unique}"
    agent.write_policy(
        "oom.yaml",
        [
            {
                "name": "oom-killed",
                "description": "Start a container the kernel killed for memory, once.",
                # Far longer than the test: only the oom/die events can wake it in time.
                "probe": {"type": "container", "name": name, "every": "5m"},
                "when": "oom_killed",
                "remediate": [{"container.start": {"timeout": "30s"}}],
                "verify": {"after": "1m"},
                "limits": {"max": 1, "per": "1h", "cooldown": "0s"},
            }
        ],
    )
    try:
        agent.start()
        # The first (jittered) measurement found nothing; the next one is minutes away.
        agent.wait_for(lambda: bool(agent.events("probe.empty")), what="the first measurement")
        script = f"exec {STRESS} --vm-bytes 200M --oomable"
        hog = run_stress(run_container, script, "64m", name=name)
        agent.wait_for(
            lambda: bool(agent.events("incident.detected")), what="the OOM incident", timeout=30
        )
    finally:
        agent.stop()

    assert container_state(hog)["OOMKilled"] is True
    assert len(oom_events(docker_client, hog, since)) >= 1
    (detected,) = agent.events("incident.detected")
    assert detected["target"] == name
    assert detected["values"]["oom_killed"] is True
    assert detected["values"]["running"] is False
