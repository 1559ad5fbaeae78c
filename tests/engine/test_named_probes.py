"""probes: several named probes measured together; the first gives the targets."""

from __future__ import annotations

import textwrap

import pytest

from kit.runner import Kit, ValueProbe, kit_fixture, settle  # noqa: F401  (the kit fixture)
from medic.audit.events import Kind
from medic.engine.multiprobe import MultiProbe
from medic.engine.runner import PolicyRunner
from medic.policy.loader import load_text


def runner(kit: Kit, when: str = "local.height < network.height - 10") -> PolicyRunner:
    text = textwrap.dedent(
        f"""\
        version: 1
        policies:
          - name: node-lagging
            probes:
              local: {{type: test.value}}
              network: {{type: test.value, timeout: 2s}}
            when: {when}
            remediate:
              - test.record: {{}}
        """
    )
    result = load_text(text, "lag.yaml")
    assert result.errors == (), [str(e) for e in result.errors]
    return kit.runner(result.policies[0])


def members(r: PolicyRunner) -> tuple[ValueProbe, ValueProbe]:
    assert isinstance(r.probe, MultiProbe)
    local, network = r.probe.members.values()
    assert isinstance(local, ValueProbe) and isinstance(network, ValueProbe)
    return local, network


@pytest.mark.asyncio
async def test_each_target_is_compared_with_the_shared_context(kit: Kit) -> None:
    """Two nodes against one network height: only the node 20 blocks behind fires."""
    r = runner(kit)
    local, network = members(r)
    local.readings = {"node-a": {"height": 100}, "node-b": {"height": 115}}
    network.readings = {"mainnet": {"height": 120}}
    await r.evaluate()
    await settle(r)
    assert r.states["node-a"].values == {"local": {"height": 100}, "network": {"height": 120}}
    assert kit.kinds("node-a")[:2] == ["incident.detected", "incident.fired"]
    assert kit.kinds("node-b") == []


@pytest.mark.asyncio
async def test_a_context_probe_with_several_targets_fails_the_measurement(kit: Kit) -> None:
    """A context probe must yield one target: two are a probe failure, nothing is judged."""
    r = runner(kit)
    local, network = members(r)
    local.readings = {"node-a": {"height": 100}}
    network.readings = {"eu": {"height": 120}, "us": {"height": 121}}
    await r.evaluate()
    await kit.engine.drain_writes()
    (failed,) = kit.of(Kind.PROBE_FAILED.value)
    assert failed.details["error"] == (
        "ProbeError: probe 'network' selected 2 targets (eu, us); a context probe needs exactly one"
    )
    assert r.states == {}


@pytest.mark.asyncio
async def test_a_failing_context_probe_is_a_probe_failure_named_after_it(kit: Kit) -> None:
    """The network probe erring fails the evaluation with its name in the audit."""
    r = runner(kit)
    local, network = members(r)
    local.readings = {"node-a": {"height": 100}}
    network.error = "connection refused"
    await r.evaluate()
    await kit.engine.drain_writes()
    (failed,) = kit.of(Kind.PROBE_FAILED.value)
    assert failed.details["error"] == "ProbeError: probe 'network': connection refused"


def test_named_probes_each_keep_their_own_timeout(kit: Kit) -> None:
    """The network probe's 2s timeout is its own; the policy's spec spans the slowest."""
    r = runner(kit)
    assert isinstance(r.probe, MultiProbe)
    assert r.probe.timeouts == {"local": 10.0, "network": 2.0}
    assert r.policy.probe.type == "probes" and r.policy.probe.timeout == 10.0
