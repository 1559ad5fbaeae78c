"""A container in a crash loop: started at most the policy's limit, then escalated once.

The real agent (``medic run`` in a subprocess) watches a real container whose command
exits 1 a fifth of a second after every start. Each start is audited as an intent
before it happens; the fourth attempt is refused by the rate limit, audited with its
reason, and a human is paged exactly once, at a real local webhook receiver.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit.agent_harness import AgentProcess
from kit.http_stub import Reply, Request, StubServer

pytestmark = pytest.mark.integration

# Once the page arrived, keep measuring this long to show no second one follows.
QUIET_AFTER_PAGE = 3.0


class Receiver(StubServer):
    """A local webhook receiver: each delivery's X-Medic-Event header and JSON body."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        super().__init__(self.keep, "/hook")

    def keep(self, request: Request) -> Reply:
        self.received.append(
            {"event": request.headers.get("X-Medic-Event"), "body": request.json()}
        )
        return Reply()

    def escalations(self) -> list[dict[str, Any]]:
        return [r for r in self.received if r["event"] == "escalation"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver standing in for the on-call channel."""
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_crash_loop_is_restarted_to_the_limit_then_escalated_once(
    tmp_path: Path, receiver: Receiver, run_container: Any, container_state: Any
) -> None:
    """Three starts, then rate_limit suppressions in the audit and exactly one page."""
    crashing = run_container("sh", "-c", "sleep 0.2; exit 1")
    agent = AgentProcess(tmp_path)
    config = yaml.safe_load(agent.config.read_text())
    config["notifiers"] = {"oncall": {"type": "webhook", "url": receiver.url}}
    agent.config.write_text(yaml.safe_dump(config))
    agent.write_policy(
        "crash.yaml",
        [
            {
                "name": "crash-loop",
                "description": "Start the container again when it stopped.",
                # Polled every second so the loop keeps being evaluated after the page.
                "probe": {"type": "container", "name": crashing.name, "every": "1s"},
                "when": "not running",
                "remediate": [{"container.start": {"timeout": "10s"}}],
                "verify": {"after": "1s"},
                "limits": {"max": 3, "per": "1h", "cooldown": "0s"},
                "escalate": {"after_failures": 99, "notify": ["oncall"], "on_suppressed": True},
            }
        ],
    )
    try:
        agent.start()
        agent.wait_for(lambda: len(receiver.escalations()) >= 1, what="the escalation", timeout=60)
        # The loop goes on being measured; no further attempt and no second page.
        time.sleep(QUIET_AFTER_PAGE)
    finally:
        agent.stop()

    started = agent.events("action.started")
    assert len(started) == 3
    assert {e["target"] for e in started} == {crashing.name}
    assert len(agent.events("action.succeeded")) == 3
    suppressed = agent.events("action.suppressed")
    assert suppressed, "the refused fourth attempt is not in the audit"
    assert {e["details"]["reason"] for e in suppressed} == {"rate_limit"}
    assert suppressed[0]["id"] > started[-1]["id"]
    escalated = agent.events("incident.escalated")
    assert len(escalated) == 1
    assert len(receiver.escalations()) == 1
    body = receiver.escalations()[0]["body"]
    assert body["reason"] == "suppressed:rate_limit"
    assert body["policy"] == "crash-loop"
    assert body["target"] == crashing.name
    assert {e["incident"] for e in [*suppressed, *escalated]} == {body["incident"]}
    state = container_state(crashing)
    assert (state["Running"], state["ExitCode"]) == (False, 1)
