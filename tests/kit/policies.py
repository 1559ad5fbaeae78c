"""Build Policy objects for engine tests without going through YAML."""

from __future__ import annotations

from typing import Any

from medic.policy.expr import compile_expression
from medic.policy.model import Escalation, Limits, Policy, ProbeSpec, Step, Verify


def make_policy(
    *,
    when: str = "value > 90",
    clear_when: str | None = None,
    hold: float = 0.0,
    steps: int = 1,
    limits: Limits | None = None,
    escalate: Escalation | None = None,
    verify_after: float = 30.0,
    name: str = "p",
    remediate: tuple[Step, ...] | None = None,
    **extra: Any,
) -> Policy:
    return Policy(
        name=name,
        probe=ProbeSpec(type="test.value", options={}, every=10.0, timeout=5.0),
        when=compile_expression(when),
        clear_when=compile_expression(clear_when) if clear_when else None,
        hold=hold,
        remediate=remediate
        if remediate is not None
        else tuple(Step("command", {"argv": ["true"]}, 10.0) for _ in range(steps)),
        verify=Verify(after=verify_after),
        limits=limits or Limits(),
        escalate=escalate or Escalation(),
        **extra,
    )
