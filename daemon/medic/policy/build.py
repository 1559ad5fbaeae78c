"""A validated policy, as model objects: defaults filled in, durations in seconds.

Only policies that passed every stage of the loader get here, so the shape of the
raw mapping is known and nothing is checked again. :func:`digest` fingerprints a
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
    DEFAULT_APPROVAL_TIMEOUT,
    DEFAULT_PROBE_FAILURES,
    Approval,
    Escalation,
    FleetBudget,
    Level,
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
    limits = raw.get("limits", {})
    share = limits.get("max_targets")
    escalate = raw.get("escalate", {})
    approval = raw.get("approval", {})
    where = doc.locate(("policies", index))
    return Policy(
        name=raw["name"],
        probe=probe_spec(raw["probe"], probe_cls) if not named else combined(named),
        probes=named,
        when=check.when,
        clear_when=check.clear_when,
        hold=parse_duration(raw.get("for", 0)),
        remediate=steps(raw.get("remediate", []), check.step_classes),
        finally_steps=steps(raw.get("finally", []), check.finally_classes),
        verify=Verify(after=parse_duration(raw.get("verify", {}).get("after", 30))),
        limits=Limits(
            max=limits.get("max", 3),
            per=parse_duration(limits.get("per", 3600)),
            cooldown=parse_duration(limits.get("cooldown", 300)),
            max_targets=share if isinstance(share, int) else None,
            max_targets_percent=float(share[:-1]) if isinstance(share, str) else None,
        ),
        escalate=Escalation(
            notify=tuple(escalate.get("notify", ())),
            after_failures=escalate.get("after_failures", 1),
            on_suppressed=escalate.get("on_suppressed", True),
            on_probe_failure=escalate.get("on_probe_failure", DEFAULT_PROBE_FAILURES),
            levels=tuple(
                Level(after=parse_duration(level["after"]), notify=tuple(level["notify"]))
                for level in escalate.get("levels", ())
            ),
            repeat=parse_duration(escalate["repeat"]) if "repeat" in escalate else None,
            severity=escalate.get("severity"),
            notify_healed=tuple(escalate.get("notify_healed", ())),
        ),
        dry_run=raw.get("dry_run", False),
        description=raw.get("description", ""),
        labels=dict(raw.get("labels", {})),
        depends_on=tuple(raw.get("depends_on", ())),
        approval=Approval(
            timeout=parse_duration(approval.get("timeout", DEFAULT_APPROVAL_TIMEOUT)),
            notify=tuple(approval.get("notify", ())),
        )
        if approval.get("required")
        else None,
        maintenance=tuple(
            MaintenanceWindow(
                schedule=check.schedules[i],
                duration=parse_duration(window["duration"]),
                timezone=window.get("timezone", "UTC"),
                act=window.get("act", False),
                reason=window.get("reason", ""),
            )
            for i, window in enumerate(raw.get("maintenance", []))
        ),
        fleet_budget=fleet_budget(raw.get("fleet_budget")),
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


def fleet_budget(raw: dict[str, Any] | None) -> FleetBudget | None:
    """The policy's ``fleet_budget:`` (already checked by the schema), or None."""
    if raw is None:
        return None
    share = raw["max"]
    return FleetBudget(
        group=raw["group"],
        max=share if isinstance(share, int) else None,
        max_percent=float(share[:-1]) if isinstance(share, str) else None,
        per=parse_duration(raw.get("per", 0)),
        wait=parse_duration(raw.get("wait", 0)),
        on_unreachable=raw.get("on_unreachable", "escalate"),
    )
