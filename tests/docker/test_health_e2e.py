"""A container made unhealthy through its own HEALTHCHECK is restarted by the real agent.

The container's HEALTHCHECK tests for ``/tmp/ok``; its command creates that file at
every start. The test removes the file, the engine marks the container unhealthy, the
``health_status`` event wakes the policy, and the restart makes it healthy again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kit.agent_harness import AgentProcess

pytestmark = pytest.mark.integration

SECOND = 1_000_000_000  # the engine counts healthcheck intervals in nanoseconds
HEALTHCHECK = {
    "test": ["CMD", "/bin/sh", "-c", "test -f /tmp/ok"],
    "interval": SECOND,
    "timeout": SECOND,
    "retries": 1,
}


def test_unhealthy_container_is_restarted_and_healthy_again(
    tmp_path: Path, run_container: Any, container_state: Any, wait_until: Any
) -> None:
    """health == "unhealthy" -> container.restart -> verified healed, engine says healthy."""
    web = run_container("sh", "-c", "touch /tmp/ok; exec sleep 3600", healthcheck=HEALTHCHECK)
    wait_until(
        lambda: container_state(web)["Health"]["Status"] == "healthy",
        timeout=30,
        what="the container's first healthy check",
    )
    first_start = container_state(web)["StartedAt"]
    agent = AgentProcess(tmp_path)
    agent.write_policy(
        "health.yaml",
        [
            {
                "name": "web-unhealthy",
                "description": "Restart the web container when its HEALTHCHECK fails.",
                # A long interval: the health_status event is what wakes the policy.
                "probe": {"type": "container", "name": web.name, "every": "1m"},
                "when": 'health == "unhealthy"',
                "remediate": [{"container.restart": {"stop_timeout": "2s", "timeout": "30s"}}],
                "verify": {"after": "3s"},
                "limits": {"max": 2, "per": "1h", "cooldown": "0s"},
            }
        ],
    )
    try:
        agent.start()
        agent.wait_for(lambda: bool(agent.events("policy.loaded")), what="policy.loaded")
        exit_code, _ = web.exec_run(["rm", "/tmp/ok"])
        assert exit_code == 0
        agent.wait_for(
            lambda: bool(agent.events("verify.healed")), what="the verified restart", timeout=60
        )
    finally:
        agent.stop()

    detected = agent.events("incident.detected")
    assert len(detected) == 1
    assert detected[0]["values"]["health"] == "unhealthy"
    started = agent.events("action.started")
    assert [(e["details"]["type"], e["target"]) for e in started] == [
        ("container.restart", web.name)
    ]
    (succeeded,) = agent.events("action.succeeded")
    assert succeeded["details"]["status_after"] == "running"
    wait_until(
        lambda: container_state(web)["Health"]["Status"] == "healthy",
        timeout=30,
        what="the restarted container to be healthy",
    )
    assert container_state(web)["StartedAt"] != first_start
