"""The agent starts the API it is handed (``agent.serve``) at the one safe moment."""

from __future__ import annotations

from pathlib import Path

import pytest

from medic.config import AgentConfig, ApiConfig
from medic.engine.agent import Agent
from medic.errors import ConfigError


class FakeServer:
    """What a started API gives back: its address and its stop."""

    port = 4321
    url = "http://127.0.0.1:4321"

    def __init__(self) -> None:
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


def make_agent(root: Path, *, enabled: bool = True) -> tuple[Agent, list[str]]:
    """An agent with no policies and the kinds of the events it audits, as they come."""
    (root / "policies").mkdir(parents=True, exist_ok=True)
    config = AgentConfig(
        host="h",
        state_dir=root / "state",
        policy_paths=(root / "policies",),
        api=ApiConfig(port=0, enabled=enabled),
        watch=False,
    )
    agent = Agent(config)
    kinds: list[str] = []
    agent.audit.on_event(lambda event: kinds.append(event.kind.value))
    return agent, kinds


@pytest.mark.asyncio
async def test_the_api_starts_before_anything_is_recorded(tmp_path: Path) -> None:
    """serve() runs before agent.started is audited; its port makes the links; stop stops it."""
    agent, kinds = make_agent(tmp_path)
    server = FakeServer()
    seen: list[list[str]] = []

    async def serve(view: Agent) -> FakeServer:
        seen.append(list(kinds))
        return server

    agent.serve = serve
    await agent.start()
    assert seen == [[]] and "agent.started" in kinds
    assert agent.api is server and agent.engine.public_url == "http://127.0.0.1:4321"
    await agent.stop()
    assert server.stopped


@pytest.mark.asyncio
async def test_an_api_that_cannot_bind_ends_the_start(tmp_path: Path) -> None:
    """A serve() that fails ends the start: the error reaches the caller, nothing is audited."""
    agent, kinds = make_agent(tmp_path)

    async def serve(view: Agent) -> FakeServer:
        raise ConfigError("the API address 127.0.0.1:1 is already in use")

    agent.serve = serve
    with pytest.raises(ConfigError):
        await agent.start()
    assert "agent.started" not in kinds and agent.runners == {}


@pytest.mark.asyncio
async def test_no_api_when_disabled_or_not_handed_one(tmp_path: Path) -> None:
    """api.enabled: false, or no serve handed in: the agent runs without an API."""
    called: list[bool] = []

    async def serve(view: Agent) -> FakeServer:
        called.append(True)
        return FakeServer()

    agent, _ = make_agent(tmp_path / "off", enabled=False)
    agent.serve = serve
    await agent.start()
    await agent.stop()
    bare, _ = make_agent(tmp_path / "bare")
    await bare.start()
    await bare.stop()
    assert called == [] and agent.api is None and bare.api is None
