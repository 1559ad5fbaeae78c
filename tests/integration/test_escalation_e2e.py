"""The real agent pages a real local webhook receiver, signed, and resolves when healed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit.agent_harness import AgentProcess
from kit.http_stub import Reply, Request, StubServer
from medic.clock import parse_iso
from medic.notify.signing import verify

pytestmark = pytest.mark.integration

SECRET = "e2e-secret"


class Receiver(StubServer):
    """A local webhook receiver that checks each delivery's signature."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        super().__init__(self.keep, "/hook")

    def keep(self, request: Request) -> Reply:
        headers = request.headers
        ok = verify(
            SECRET, headers["X-Medic-Timestamp"], request.body, headers["X-Medic-Signature"]
        )
        self.received.append(
            {"signed": ok, "event": headers["X-Medic-Event"], "body": request.json()}
        )
        return Reply()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def paging_agent(tmp_path: Path, receiver: Receiver) -> tuple[AgentProcess, Path]:
    """An agent whose one policy pages `oncall` (the receiver, signed) while a file exists."""
    flag = tmp_path / "problem"
    flag.write_text("x")
    agent = AgentProcess(tmp_path)
    config = yaml.safe_load(agent.config.read_text())
    config["notifiers"] = {
        "oncall": {"type": "webhook", "url": receiver.url, "secret": {"env": "MEDIC_HOOK_SECRET"}}
    }
    agent.config.write_text(yaml.safe_dump(config))
    agent.write_policy(
        "esc.yaml",
        [
            {
                "name": "flag-present",
                "probe": {"type": "file", "path": str(flag), "every": "1s"},
                "when": "exists",
                "escalate": {"notify": ["oncall"]},
            }
        ],
    )
    return agent, flag


def test_escalation_then_resolve_reach_a_signed_webhook(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A firing escalate-only policy pages once; when it clears, a resolve follows."""
    monkeypatch.setenv("MEDIC_HOOK_SECRET", SECRET)
    agent, flag = paging_agent(tmp_path, receiver)
    try:
        agent.start()
        agent.wait_for(lambda: len(receiver.received) == 1, what="the escalation")
        flag.unlink()
        agent.wait_for(lambda: len(receiver.received) == 2, what="the resolve")
    finally:
        agent.stop()
    first, second = receiver.received
    assert first["signed"] and second["signed"]
    assert (first["event"], second["event"]) == ("escalation", "resolve")
    assert first["body"]["reason"] == "no_remediation"
    assert first["body"]["policy"] == "flag-present"
    assert first["body"]["incident"] == second["body"]["incident"]
    sent = agent.events("notification.sent")
    assert [e["details"]["notification"] for e in sent] == ["escalation", "resolve"]
    assert len(agent.events("incident.escalated")) == 1


def test_resolve_is_sent_when_the_problem_went_away_during_a_restart(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paged, then the agent stops, the problem goes, the agent starts: the page is resolved."""
    monkeypatch.setenv("MEDIC_HOOK_SECRET", SECRET)
    agent, flag = paging_agent(tmp_path, receiver)
    try:
        agent.start()
        agent.wait_for(lambda: len(receiver.received) == 1, what="the escalation")
        assert agent.stop() == 0
        flag.unlink()
        agent.start()
        agent.wait_for(lambda: len(receiver.received) == 2, what="the resolve after restart")
    finally:
        agent.stop()
    first, second = receiver.received
    assert (first["event"], second["event"]) == ("escalation", "resolve")
    assert first["body"]["incident"] == second["body"]["incident"]
    cleared = agent.events("incident.cleared")
    assert cleared[-1]["details"]["reason"] == "cleared while the agent was not running"
    assert len(agent.events("incident.escalated")) == 1  # no second page for the same incident


@pytest.fixture
def lead() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def test_unacknowledged_page_goes_up_a_level_on_time_across_a_crash(
    tmp_path: Path, receiver: Receiver, lead: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Level 2 is paged 3 s after level 1 even though the agent was killed in between;
    each level is paged once, and the resolve reaches both levels."""
    monkeypatch.setenv("MEDIC_HOOK_SECRET", SECRET)
    agent, flag = paging_agent(tmp_path, receiver)
    config = yaml.safe_load(agent.config.read_text())
    config["notifiers"]["lead"] = {**config["notifiers"]["oncall"], "url": lead.url}
    agent.config.write_text(yaml.safe_dump(config))
    agent.write_policy(
        "esc.yaml",
        [
            {
                "name": "flag-present",
                "probe": {"type": "file", "path": str(flag), "every": "1s"},
                "when": "exists",
                "escalate": {
                    "notify": ["oncall"],
                    "levels": [{"after": "3s", "notify": ["lead"]}],
                },
            }
        ],
    )
    try:
        agent.start()
        agent.wait_for(lambda: len(receiver.received) == 1, what="the level-1 page")
        agent.kill9()
        agent.start()
        agent.wait_for(lambda: len(lead.received) == 1, what="the level-2 page", timeout=15)
        flag.unlink()
        agent.wait_for(lambda: len(lead.received) == 2, what="the resolve to level 2")
        agent.wait_for(lambda: len(receiver.received) == 2, what="the resolve to level 1")
    finally:
        agent.stop()
    page, resolve = lead.received
    assert (page["event"], resolve["event"]) == ("escalation", "resolve")
    assert page["body"]["reason"] == "unacknowledged:level2"
    escalated = agent.events("incident.escalated")
    assert [e["details"].get("level") for e in escalated] == [None, 2]
    first, second = (e["time"] for e in escalated)
    waited = parse_iso(second) - parse_iso(first)
    assert 3.0 <= waited < 5.5, waited


def test_a_quiet_heal_sends_one_notice_to_notify_healed(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Healed at the first attempt with nobody paged: one resolve-style notice, no page."""
    monkeypatch.setenv("MEDIC_HOOK_SECRET", SECRET)
    agent, flag = paging_agent(tmp_path, receiver)
    agent.write_policy(
        "esc.yaml",
        [
            {
                "name": "flag-present",
                "probe": {"type": "file", "path": str(flag), "every": "1s"},
                "when": "exists",
                "remediate": [{"command": {"argv": ["rm", "-f", str(flag)], "timeout": "5s"}}],
                "verify": {"after": "1s"},
                "escalate": {"notify": ["oncall"], "notify_healed": ["oncall"]},
            }
        ],
    )
    try:
        agent.start()
        agent.wait_for(lambda: len(receiver.received) == 1, what="the healed notice")
    finally:
        agent.stop()
    [notice] = receiver.received
    assert notice["signed"] and notice["event"] == "resolve"
    assert notice["body"]["reason"] == "healed"
    assert "nobody was paged" in notice["body"]["summary"]
    assert agent.events("incident.escalated") == []
