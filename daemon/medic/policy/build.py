"""A validated policy, as model objects: defaults filled in, durations in seconds.

Only policies that passed every stage of the loader get here, so the shape of the
raw mapping is known and nothing is checked again. The policy's own values come typed
from stage 3 (:mod:`medic.policy.values`, read once); a key the policy does not write
takes the model's default (:mod:`medic.policy.defaults`). :func:`digest` fingerprints a
policy's definition: on reload, a policy whose digest did not change keeps running.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from medic.actions.base import Action
from medic.durations import parse_duration
from medic.errors import Location
from medic.policy.model import (
    Approval,
    Escalation,
    FleetBudget,
    Limits,
    Policy,
    ProbeSpec,
    Step,
    Verify,
)
from medic.policy.semantic import SHARED_PROBE_KEYS, STEP_KEYS, PolicyCheck
from medic.policy.windows import MaintenanceWindow
from medic.policy.yamlpos import Document
from medic.probes.base import Probe


def digest(raw: Any) -> str:
    """A stable hash of a policy's definition: unchanged text keeps its state on reload."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def build_policy(doc: Document, file: str, index: int, check: PolicyCheck) -> Policy:
    """The model object for a policy that passed every stage (so its shape is known)."""
    raw: dict[str, Any] = doc.data["policies"][index]
    probe_cls = check.probe_cls
    assert probe_cls is not None and check.when is not None  # guaranteed by the checks
    named = tuple(
        (name, probe_spec(spec, check.named[name][0]))
        for name, spec in raw.get("probes", {}).items()
        if check.named is not None
    )
    values = check.values
    where = doc.locate(("policies", index))
    return Policy(
        name=raw["name"],
        probe=probe_spec(raw["probe"], probe_cls) if not named else combined(named),
        probes=named,
        when=check.when,
        clear_when=check.clear_when,
        remediate=steps(raw.get("remediate", []), check.step_classes),
        finally_steps=steps(raw.get("finally", []), check.finally_classes),
        verify=Verify(**values.verify),
        limits=Limits(**values.limits),
        escalate=Escalation(**values.escalate),
        approval=None if values.approval is None else Approval(**values.approval),
        maintenance=tuple(
            MaintenanceWindow(schedule=check.schedules[i], **window)
            for i, window in enumerate(values.windows)
        ),
        fleet_budget=None if values.fleet_budget is None else FleetBudget(**values.fleet_budget),
        **values.policy,
        source=Location(file, where.line, where.column),
        digest=digest(raw),
    )


def probe_spec(probe: dict[str, Any], cls: type[Probe]) -> ProbeSpec:
    """One probe's spec, the shared keys taken out of its options."""
    return ProbeSpec(
        type=probe["type"],
        options={k: v for k, v in probe.items() if k not in SHARED_PROBE_KEYS},
        every=parse_duration(probe.get("every", cls.default_every)),
        timeout=parse_duration(probe.get("timeout", cls.default_timeout)),
    )


# The type the runner's metrics and the API show for a policy with ``probes:``.
NAMED_PROBES = "probes"


def combined(named: tuple[tuple[str, ProbeSpec], ...]) -> ProbeSpec:
    """The spec of named probes read together: as often as the most frequent asks,
    and as long as the slowest may take."""
    return ProbeSpec(
        type=NAMED_PROBES,
        options={name: {"type": s.type, **s.options} for name, s in named},
        every=min(s.every for _, s in named),
        timeout=max(s.timeout for _, s in named),
    )


def steps(raw: list[Any], classes: dict[int, type[Action]]) -> tuple[Step, ...]:
    """The steps of ``remediate:`` or ``finally:``, timeouts defaulted by their class."""
    out = []
    for index, item in enumerate(raw):
        ((kind, options),) = item.items()
        options = options or {}
        out.append(
            Step(
                type=kind,
                options={k: v for k, v in options.items() if k not in STEP_KEYS},
                timeout=parse_duration(options.get("timeout", classes[index].default_timeout)),
                id=options.get("id"),
            )
        )
    return tuple(out)
