"""The ``container`` probe against the real engine: fields, health, OOM, selection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from medic.drivers import docker as docker_client
from medic.drivers.docker import detect_own_container_id
from medic.probes.containers.container import ContainerProbe, cpu_percent, memory_used
from medic.probes.containers.container_select import Selection, validate_selection

pytestmark = pytest.mark.integration

HEALTHCHECK = {
    "test": ["CMD", "/bin/sh", "-c", "test -f /tmp/ok"],
    "interval": 1_000_000_000,
    "timeout": 1_000_000_000,
    "retries": 1,
}
# Seen when a systemd container run with `-v /sys/fs/cgroup:/sys/fs/cgroup:rw` left empty
# directories (hugetlb, perf_event, ...) in the host's cgroup v1 tmpfs.
NO_STATS = (
    "the engine lost track of container cgroups (empty stats, no OOM events): check the "
    "host's /sys/fs/cgroup for directories that are not cgroup mounts"
)
FULL_ID = "a95cb9a52d58595637855a3bc5ee45f5d31ec187ab3ef11cafc7112a319e7ca3"


async def measure(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    probe = ContainerProbe(options)
    try:
        return await probe.measure()
    finally:
        await probe.close()


@pytest.mark.asyncio
async def test_running_container_fields(run_container: Any) -> None:
    """A running container reports state, usage against its limit, image and short id."""
    container = run_container(mem_limit="64m")
    probe = ContainerProbe({"name": container.name})
    first = (await probe.measure())[container.name]
    assert first["running"] is True
    assert first["status"] == "running"
    assert first["health"] == "none"
    assert first["exit_code"] == 0
    assert first["oom_killed"] is False
    assert first["restart_count"] == 0
    assert 0 <= first["uptime"] < 60
    assert first["memory_limit_bytes"] == 64 * 1024 * 1024
    assert first["memory_bytes"] is not None, NO_STATS
    assert 0 < first["memory_bytes"] < first["memory_limit_bytes"]
    assert first["memory_percent"] == round(first["memory_bytes"] / (64 * 1024 * 1024) * 100, 2)
    assert first["pids"] >= 2  # docker-init and sleep
    assert first["image"] == "medic-test/busybox:1"
    assert first["id"] == container.id[:12]
    assert first["cpu_percent"] is None  # one-shot stats: no earlier sample yet
    # A second read can take up to a second; until it lands the last figures stand in.
    for _ in range(40):
        second = (await probe.measure())[container.name]
        if second["cpu_percent"] is not None:
            break
        await asyncio.sleep(0.1)
    assert isinstance(second["cpu_percent"], float)
    assert 0 <= second["cpu_percent"] <= 200
    await probe.close()


@pytest.mark.asyncio
async def test_stopped_container_exit_code(run_container: Any, wait_until: Any) -> None:
    """An exited container stays a target, with its exit code and no usage figures."""
    container = run_container("sh", "-c", "exit 3")
    container.wait(timeout=10)
    fields = (await measure({"name": container.name}))[container.name]
    assert fields["running"] is False
    assert fields["status"] == "exited"
    assert fields["exit_code"] == 3
    assert fields["oom_killed"] is False
    assert fields["uptime"] is None
    assert fields["memory_bytes"] is None
    assert fields["cpu_percent"] is None


@pytest.mark.asyncio
async def test_all_false_leaves_stopped_containers_out(run_container: Any) -> None:
    """With all: false a stopped container is not a target."""
    container = run_container("sh", "-c", "exit 0")
    container.wait(timeout=10)
    assert await measure({"name": container.name, "all": False}) == {}


@pytest.mark.asyncio
async def test_oom_killed_container(run_container: Any) -> None:
    """A container killed for memory reports oom_killed and exit code 137."""
    container = run_container(
        "sh",
        "-c",
        "x=a; while true; do x=$x$x; done",
        mem_limit="32m",
        memswap_limit="32m",
        init=False,
    )
    result = container.wait(timeout=30)
    assert result["StatusCode"] == 137
    fields = (await measure({"name": container.name}))[container.name]
    assert fields["oom_killed"] is True, NO_STATS
    assert fields["exit_code"] == 137
    assert fields["running"] is False


@pytest.mark.asyncio
async def test_health_states(run_container: Any, wait_until: Any, container_state: Any) -> None:
    """Health goes healthy while the check passes, unhealthy once it fails."""
    container = run_container("sh", "-c", "touch /tmp/ok; exec sleep 3600", healthcheck=HEALTHCHECK)
    probe = ContainerProbe({"name": container.name})
    first = (await probe.measure())[container.name]
    assert first["health"] in {"starting", "healthy"}
    wait_until(lambda: container_state(container)["Health"]["Status"] == "healthy", what="healthy")
    assert (await probe.measure())[container.name]["health"] == "healthy"
    container.exec_run(["rm", "/tmp/ok"])
    wait_until(
        lambda: container_state(container)["Health"]["Status"] == "unhealthy", what="unhealthy"
    )
    assert (await probe.measure())[container.name]["health"] == "unhealthy"
    await probe.close()


@pytest.mark.asyncio
async def test_selection_by_name_and_id(run_container: Any) -> None:
    """name and id select exactly one container; an unknown name selects nothing."""
    container = run_container()
    run_container()
    assert list(await measure({"name": container.name})) == [container.name]
    assert list(await measure({"id": container.id[:12]})) == [container.name]
    assert list(await measure({"id": container.id})) == [container.name]
    assert await measure({"name": container.name + "-missing"}) == {}
    # A name is matched whole, not as a prefix of another container's name.
    assert await measure({"name": container.name[:-2]}) == {}


@pytest.mark.asyncio
async def test_selection_by_labels_skips_ignored(run_container: Any, unique: str) -> None:
    """Label selection needs every label; medic.ignore=true drops a container."""
    both = run_container(labels={"app": unique, "tier": "web"})
    other_tier = run_container(labels={"app": unique, "tier": "db"})
    ignored = run_container(labels={"app": unique, "tier": "web", "medic.ignore": "true"})
    found = await measure({"labels": {"app": unique, "tier": "web"}})
    assert set(found) == {both.name}
    found = await measure({"labels": {"app": unique}})
    assert set(found) == {both.name, other_tier.name}
    assert ignored.name not in found


@pytest.mark.asyncio
async def test_label_values_written_as_yaml_scalars(run_container: Any, unique: str) -> None:
    """YAML true and numbers match the strings Docker stores ("true", "8080")."""
    container = run_container(labels={"run": unique, "canary": "true", "port": "8080"})
    found = await measure({"labels": {"run": unique, "canary": True, "port": 8080}})
    assert set(found) == {container.name}


@pytest.mark.asyncio
async def test_opt_in_label(run_container: Any) -> None:
    """opt_in_label selects containers labelled medic.enable=true (any case), no others."""
    enabled = run_container(labels={"medic.enable": "true"})
    shouting = run_container(labels={"medic.enable": "TRUE"})
    disabled = run_container(labels={"medic.enable": "false"})
    unlabelled = run_container()
    opted_out = run_container(labels={"medic.enable": "true", "medic.ignore": "true"})
    found = await measure({"opt_in_label": True})
    assert enabled.name in found
    assert shouting.name in found
    assert disabled.name not in found
    assert unlabelled.name not in found
    assert opted_out.name not in found


@pytest.mark.asyncio
async def test_compose_selection(run_container: Any, unique: str) -> None:
    """compose selects by Compose's project and service labels."""
    project = f"shop{unique}"
    api = run_container(
        labels={"com.docker.compose.project": project, "com.docker.compose.service": "api"}
    )
    worker = run_container(
        labels={"com.docker.compose.project": project, "com.docker.compose.service": "worker"}
    )
    run_container(labels={"com.docker.compose.project": f"other{unique}"})
    assert set(await measure({"compose": {"project": project, "service": "api"}})) == {api.name}
    everything = await measure({"compose": {"project": project}})
    assert set(everything) == {api.name, worker.name}


@pytest.mark.asyncio
async def test_own_container_is_never_a_target(
    run_container: Any, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container Medic runs in is left out of every selection."""
    own = run_container(labels={"run": unique})
    other = run_container(labels={"run": unique})
    monkeypatch.setattr(docker_client, "own_container_id", lambda: own.id[:12])
    assert set(await measure({"labels": {"run": unique}})) == {other.name}
    assert await measure({"name": own.name}) == {}


def test_validate_requires_exactly_one_selector() -> None:
    """validate() says which selector to choose, or which two collide."""
    assert validate_selection({}) == [
        "choose the containers with exactly one of name, id, labels, compose or opt_in_label"
    ]
    assert validate_selection({"name": "web", "labels": {"a": "b"}}) == [
        "name and labels both choose containers; "
        "keep exactly one of name, id, labels, compose or opt_in_label"
    ]
    assert validate_selection({"opt_in_label": False}) == [
        "opt_in_label: false selects no containers; "
        "write opt_in_label: true to select those labelled medic.enable=true"
    ]
    assert ContainerProbe.validate({"name": "web", "all": False}) == []


def test_selection_matches_events_like_lists() -> None:
    """matches() applies name, labels, opt-in and medic.ignore to event attributes."""
    labels = Selection.from_options({"labels": {"app": "web"}})
    assert labels.matches("a", FULL_ID, {"app": "web"})
    assert not labels.matches("a", FULL_ID, {"app": "web", "medic.ignore": "True"})
    assert not labels.matches("a", FULL_ID, {"app": "api"})
    opt_in = Selection.from_options({"opt_in_label": True})
    assert opt_in.matches("a", FULL_ID, {"medic.enable": "true"})
    assert not opt_in.matches("a", FULL_ID, {})
    assert Selection.from_options({"id": FULL_ID[:12]}).matches("a", FULL_ID, {})


def test_detect_own_container_id() -> None:
    """Own id comes from cgroup v1, else mountinfo, else a short-id hostname in a container."""
    cgroup = f"12:memory:/docker/{FULL_ID}\n"
    systemd = f"0::/system.slice/docker-{FULL_ID}.scope\n"
    mount = f"90 72 254:0 /var/lib/docker/containers/{FULL_ID}/hostname /etc/hostname rw - ext4\n"
    assert detect_own_container_id(cgroup, "", "web", True) == FULL_ID
    assert detect_own_container_id(systemd, "", "", False) == FULL_ID
    assert detect_own_container_id("0::/\n", mount, "", True) == FULL_ID
    assert detect_own_container_id("0::/\n", "", FULL_ID[:12], True) == FULL_ID[:12]
    assert detect_own_container_id("0::/\n", "", FULL_ID[:12], False) is None
    assert detect_own_container_id("0::/\n", "", "webhost", True) is None


def test_usage_arithmetic() -> None:
    """CPU percent follows docker stats (100 per core); memory excludes inactive file cache."""
    assert cpu_percent(2_000, 20_000, (1_000, 10_000), 2) == 20.0
    assert cpu_percent(2_000, 20_000, None, 2) is None
    assert cpu_percent(500, 20_000, (1_000, 10_000), 2) is None  # counter reset by a restart
    stats = {"memory_stats": {"usage": 1000, "stats": {"total_inactive_file": 300}}}
    assert memory_used(stats) == 700
    assert memory_used({"memory_stats": {"usage": 1000, "stats": {"inactive_file": 100}}}) == 900
    assert memory_used({}) is None
