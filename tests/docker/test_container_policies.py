"""The container policy pack (policies/containers/) loads, and its garbage check works.

The health, memory and log policies are the shapes the e2e tests in this folder run
for real (test_health_e2e, test_memory_e2e); here each file must load on its own with
the probes and conditions the runbook line calls for. The prune policy's check runs
against the real engine through the real ``command`` probe (the prune itself never
runs in a test: it would remove other people's stopped containers).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from medic.policy.loader import is_test_file, load_paths
from medic.probes.commands.command import CommandProbe

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies" / "containers"
CHECK = PACK / "checks" / "docker_garbage.py"
EXPECTED = {
    "health.yaml": {"container-unhealthy": ("container", 'health == "unhealthy"')},
    "memory.yaml": {
        "container-memory-high": ("container", "memory_percent > 90"),
        "container-oom-killed": ("container", "oom_killed"),
    },
    "logs.yaml": {"container-error-burst": ("container.logs", "match_count > 20")},
    "prune.yaml": {
        "docker-garbage": ("command", "dangling_images > 20 or stopped_containers > 10")
    },
}


def load_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docker_garbage", CHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_each_container_policy_file_loads_with_its_runbook_condition(filename: str) -> None:
    """Each file loads alone, without errors, into the policies its runbook line names."""
    result = load_paths([PACK / filename], notifiers={"oncall"})
    assert [str(e) for e in result.errors] == []
    loaded = {p.name: (p.probe.type, p.when.text) for p in result.policies}
    assert loaded == EXPECTED[filename]


def test_the_pack_holds_exactly_the_expected_files() -> None:
    """No policy file in the pack goes untested."""
    policies = [p.name for p in PACK.glob("*.y*ml") if not is_test_file(p)]
    assert sorted(policies) == sorted(EXPECTED)


def test_memory_policy_waits_five_minutes_and_restarts() -> None:
    """memory_percent > 90 must hold for 5 m before container.restart runs."""
    (high, _) = load_paths([PACK / "memory.yaml"], notifiers={"oncall"}).policies
    assert high.hold == 300.0
    assert [s.type for s in high.remediate] == ["container.restart"]


def test_error_burst_verifies_after_the_window_and_escalates() -> None:
    """The log policy verifies only once the window holds no line from before the restart."""
    (burst,) = load_paths([PACK / "logs.yaml"], notifiers={"oncall"}).policies
    assert burst.verify.after > 600.0
    assert burst.escalate.notify == ("oncall",)
    assert burst.escalate.after_failures == 1


def test_garbage_filters_leave_ignored_and_young_containers_alone() -> None:
    """The count and the prune share filters: day-old, stopped, not labelled medic.ignore."""
    check = load_check()
    assert check.filters("24h") == (
        {"dangling": True},
        {"until": "24h", "label!": "medic.ignore=true"},
    )
    now = time.time()
    cutoff = now - check.seconds("24h")
    old = {"Created": now - 2 * 86400, "Labels": {}}
    assert check.is_garbage(old, cutoff) is True
    assert check.is_garbage({**old, "Labels": {"medic.ignore": "True"}}, cutoff) is False
    assert check.is_garbage({"Created": now - 60, "Labels": {}}, cutoff) is False
    assert check.seconds("90m") == 5400.0


@pytest.mark.integration
@pytest.mark.asyncio
async def test_garbage_check_reads_the_real_engine_through_the_command_probe(
    docker_client: Any,
) -> None:
    """The check prints Nagios perfdata that become dangling_images and stopped_containers."""
    probe = CommandProbe({"name": "docker-garbage", "argv": [sys.executable, str(CHECK)]})
    probe.timeout = 30.0
    fields = (await probe.measure())["docker-garbage"]
    assert (fields["status"], fields["exit_code"]) == ("ok", 0)
    assert fields["output"].startswith("OK - ")
    assert isinstance(fields["dangling_images"], int)
    assert isinstance(fields["stopped_containers"], int)
    assert fields["dangling_images"] >= 0 and fields["stopped_containers"] >= 0
