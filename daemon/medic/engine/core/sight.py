"""What one probe run means for Medic's sight of a policy's targets: a pure decision.

A failed run is audited once per new error (``probe.failed``; a repeat is not) and
counts against the probe's health (:mod:`medic.engine.core.probehealth`); the first
good run after failures audits the recovery and clears the health. A measurement
that selects no target is audited once, when that starts. The runner applies a
:class:`Sight` in order: its notes, the health change (through the same silence ->
audit -> page path as every target's transition), then the notes of ``then``.
"""

from __future__ import annotations

from dataclasses import dataclass

from medic.audit.events import Kind
from medic.engine.core import probehealth as ph
from medic.engine.core.target_state import Note
from medic.policy.model import Policy

HEALTHY = ph.ProbeHealth()
EMPTY_NOTE = Note(
    Kind.SELECTION_EMPTY, details={"note": "the probe selected no targets; nothing is acted on"}
)


@dataclass(frozen=True)
class Sight:
    """The runner's next steps after a probe run."""

    # The error of the last run (None: it measured).
    last_error: str | None
    # Policy-wide audit notes (no target): probe.failed, probe.recovered.
    notes: tuple[Note, ...] = ()
    # The probe's health changed: the runner settles it like a target's transition.
    health: ph.HealthChange | None = None
    # Whether the last measurement selected nothing (None: a failed run, unchanged).
    empty: bool | None = None
    # Notes after the health change: the selection became empty.
    then: tuple[Note, ...] = ()


def failed(
    last_error: str | None, health: ph.ProbeHealth, policy: Policy, error: str, outcome: str
) -> Sight:
    """A run failed with ``error`` (``outcome``: timeout or error)."""
    notes = () if error == last_error else (Note(Kind.PROBE_FAILED, outcome, {"error": error}),)
    return Sight(error, notes, ph.failed(health, policy, error))


def measured(
    last_error: str | None, health: ph.ProbeHealth, was_empty: bool | None, empty: bool
) -> Sight | None:
    """A run measured (``empty``: it selected no target); None when nothing changes,
    which is every run of a healthy probe (identity checks first: the hot path)."""
    if last_error is None and health is HEALTHY and was_empty is empty:
        return None
    notes = (
        () if last_error is None else (Note(Kind.PROBE_RECOVERED, details={"after": last_error}),)
    )
    change = None
    if health is not HEALTHY:
        change = ph.recovered(health) if health != HEALTHY else ph.HealthChange(HEALTHY)
    then = (EMPTY_NOTE,) if empty and was_empty is not True else ()
    return Sight(None, notes, change, empty, then)
