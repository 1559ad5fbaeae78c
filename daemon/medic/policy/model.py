"""Policies as the engine sees them: frozen, validated, durations in seconds.

The loader (``medic.policy.loader``) turns YAML into these; nothing else builds them
from user input, so everything here can be trusted to be valid. Defaults come from
:mod:`medic.policy.defaults`, the table the schema shows too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medic.errors import Location
from medic.policy import defaults
from medic.policy.expr import Expression
from medic.policy.windows import MaintenanceWindow


@dataclass(frozen=True)
class ProbeSpec:
    type: str
    options: Mapping[str, Any]
    every: float
    timeout: float


@dataclass(frozen=True)
class Step:
    """One remediation step: an action type, its options and its timeout."""

    type: str
    options: Mapping[str, Any]
    timeout: float
    # Names the step's output for later steps: {steps.<id>.stdout} (medic.actions.outputs).
    id: str | None = None


@dataclass(frozen=True)
class Verify:
    """Re-probe ``after`` seconds once the steps ran; healed when the condition cleared."""

    after: float = defaults.seconds("verify.after")


@dataclass(frozen=True)
class Limits:
    """How often a policy may act on one target, and on how many at once."""

    max: int = defaults.number("limits.max")
    per: float = defaults.seconds("limits.per")
    cooldown: float = defaults.seconds("limits.cooldown")
    max_targets: int | None = None
    max_targets_percent: float | None = None

    def target_cap(self, selected: int) -> int:
        """How many targets may be under remediation at once, given how many are selected."""
        caps = []
        if self.max_targets is not None:
            caps.append(self.max_targets)
        if self.max_targets_percent is not None:
            caps.append(max(1, int(selected * self.max_targets_percent / 100)))
        return min(caps) if caps else max(selected, 1)


# How loud a policy's pages are, quietest first; notifiers map them to their own.
SEVERITIES = ("info", "warning", "error", "critical")


@dataclass(frozen=True)
class Level:
    """A further on-call level: paged ``after`` seconds after the first page of an
    incident, if nobody acknowledged it by then."""

    after: float
    notify: tuple[str, ...]


@dataclass(frozen=True)
class Escalation:
    """When and to whom a human is told.

    ``notify`` is the first level, paged at once; ``levels`` come after it while
    nobody acknowledges; ``repeat`` re-sends the latest level paged at that interval.
    """

    notify: tuple[str, ...] = ()
    after_failures: int = defaults.number("escalate.after_failures")
    on_suppressed: bool = defaults.flag("escalate.on_suppressed")
    # Consecutive probe failures before escalating (``probe_failing``); 0 never does.
    on_probe_failure: int = defaults.number("escalate.on_probe_failure")
    levels: tuple[Level, ...] = ()
    repeat: float | None = None
    # None: not set, each notifier uses its own default (PagerDuty's `severity` option).
    severity: str | None = None
    # Told (never paged) when an incident healed without anyone having been paged.
    notify_healed: tuple[str, ...] = ()

    def level_notify(self, level: int) -> tuple[str, ...]:
        """The channels of ``level`` (0: ``notify``, 1: the first of ``levels`` ...)."""
        return self.notify if level == 0 else self.levels[level - 1].notify


@dataclass(frozen=True)
class Approval:
    """A human must say yes before the steps run; no answer within ``timeout`` escalates.

    ``notify`` names the channels that are asked; empty means the policy's
    ``escalate.notify``.
    """

    timeout: float = defaults.seconds("approval.timeout")
    notify: tuple[str, ...] = ()


@dataclass(frozen=True)
class FleetBudget:
    """How many agents of a fleet group may act at once (a count or a share of the
    group's live members), and in each window ``per``; see docs/fleet.md."""

    group: str
    max: int | None = None
    max_percent: float | None = None
    per: float = defaults.seconds("fleet_budget.per")
    # How long to wait for a free slot before counting the budget as exhausted.
    wait: float = defaults.seconds("fleet_budget.wait")
    # etcd unreachable: "escalate" (fail closed: do not act) or "act" (fail open).
    on_unreachable: str = defaults.word("fleet_budget.on_unreachable")


@dataclass(frozen=True)
class Policy:
    name: str
    probe: ProbeSpec
    when: Expression
    clear_when: Expression | None = None
    hold: float = defaults.seconds("for")
    remediate: tuple[Step, ...] = ()
    # ``finally:``: steps run after ``remediate`` whatever happened to it.
    finally_steps: tuple[Step, ...] = ()
    verify: Verify = field(default_factory=Verify)
    limits: Limits = field(default_factory=Limits)
    escalate: Escalation = field(default_factory=Escalation)
    dry_run: bool = defaults.flag("dry_run")
    description: str = ""
    # Free-form labels that silences and maintenance windows can match on.
    labels: Mapping[str, str] = field(default_factory=dict)
    # Policies that, while firing, stop this one from acting (the cause pages, not this).
    depends_on: tuple[str, ...] = ()
    # None: act without asking.
    approval: Approval | None = None
    maintenance: tuple[MaintenanceWindow, ...] = ()
    # None: this policy's actions are not counted against a fleet budget.
    fleet_budget: FleetBudget | None = None
    source: Location | None = None
    # ``probes:``: named probes, in order; the first gives the targets, the others are
    # read as one context shared by all targets. Empty: the one ``probe`` above.
    probes: tuple[tuple[str, ProbeSpec], ...] = ()
    # Hash of the policy's YAML definition: on reload an unchanged policy keeps its state.
    digest: str = ""

    def is_cleared(self, fields: Mapping[str, Any]) -> bool:
        """True when the problem counts as gone (hysteresis: ``clear_when`` if given)."""
        if self.clear_when is not None:
            return bool(self.clear_when.evaluate(fields))
        return not self.when.evaluate(fields)

    @property
    def approval_notify(self) -> tuple[str, ...]:
        """Who is asked for approval: ``approval.notify``, else ``escalate.notify``."""
        if self.approval is not None and self.approval.notify:
            return self.approval.notify
        return self.escalate.notify
