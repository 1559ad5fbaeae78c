"""Reloading policies: which files count, and which runners start, stop or stay.

A file with errors is audited as rejected and keeps its previous good version running,
while good files load; a deleted file's policies stop. A policy whose definition did
not change keeps its runner untouched, and one whose probe did not change keeps its
targets' state (and an open probe-failure incident) across the edit.
"""

from __future__ import annotations

import structlog

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.engine.context import EngineContext
from medic.engine.runner import PolicyRunner
from medic.policy.model import Policy
from medic.policy.reach import escalation_warnings
from medic.policy.result import LoadResult

log = structlog.get_logger("medic.agent")


def take_load(running: LoadResult, fresh: LoadResult, audit: AuditStore, now: float) -> LoadResult:
    """Audit a fresh load against the set that ran before; return the set to run now.

    Each rejected file is audited as ``policy.rejected`` (with whether its last good
    version keeps running), and a file rejected last time that loads now as
    ``policy.accepted``.
    """
    ran = {f.path: f for f in running.files}
    for fr in fresh.files:
        before = ran.get(fr.path)
        if fr.errors:
            kept = before is not None and before.runs
            audit.emit(
                AuditEvent(
                    Kind.POLICY_REJECTED,
                    now,
                    outcome="rejected",
                    details={
                        "file": str(fr.path),
                        "errors": [str(e) for e in fr.errors],
                        "kept_previous": kept,
                    },
                )
            )
            for err in fr.errors:
                log.error("policy.rejected", error=str(err), kept_previous=kept)
        elif before is not None and before.errors:
            names = [p.name for p in fr.policies]
            audit.emit(
                AuditEvent(
                    Kind.POLICY_ACCEPTED,
                    now,
                    outcome="accepted",
                    details={"file": str(fr.path), "policies": names},
                )
            )
            log.info("policy.accepted", file=str(fr.path), policies=names)
    return fresh.over(running)


async def swap_runners(
    runners: dict[str, PolicyRunner],
    policies: dict[str, Policy],
    engine: EngineContext,
    now: float,
) -> dict[str, list[str]]:
    """Make ``runners`` run exactly ``policies``: stop the removed, restart the changed.

    Returns the names ``added``, ``changed`` and ``removed``.
    """
    changes: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
    for name in [n for n in runners if n not in policies]:
        await runners.pop(name).stop()
        engine.audit.emit(AuditEvent(Kind.POLICY_REMOVED, now, policy=name))
        changes["removed"].append(name)
    for name, policy in policies.items():
        old = runners.get(name)
        if old is not None and old.policy.digest == policy.digest:
            continue
        changes["changed" if old is not None else "added"].append(name)
        states = None
        if old is not None:
            await old.stop()
            if old.policy.probe == policy.probe:
                states = old.states  # same targets: keep their state across the edit
        try:
            runner = PolicyRunner(policy, engine, states)
        except Exception as exc:  # a plugin that fails to build rejects just this policy
            log.error("policy.start_failed", policy=name, error=str(exc))
            continue
        if old is not None:
            runner.health = old.health  # an open "(probe)" incident stays open
            runner.measured = old.measured and states is not None
        runners[name] = runner
        runner.start()
        engine.audit.emit(
            AuditEvent(
                Kind.POLICY_LOADED,
                now,
                policy=name,
                details={
                    "file": str(policy.source) if policy.source else None,
                    "digest": policy.digest,
                    "dry_run": runner.dry_run,
                    "changed": old is not None,
                },
            )
        )
        for warning in escalation_warnings(policy):
            engine.audit.emit(
                AuditEvent(
                    Kind.POLICY_WARNING,
                    now,
                    policy=name,
                    outcome="escalation",
                    details={"warning": warning.message, "hint": warning.hint},
                )
            )
    return changes


def warn_unknown_dependencies(
    runners: dict[str, PolicyRunner], audit: AuditStore, now: float
) -> None:
    """A ``depends_on`` name with no loaded policy counts as never firing: say so."""
    for name, runner in sorted(runners.items()):
        for dep in runner.policy.depends_on:
            if dep not in runners:
                warning = f"depends_on names {dep!r}, which is not loaded; it counts as not firing"
                audit.emit(
                    AuditEvent(
                        Kind.POLICY_WARNING,
                        now,
                        policy=name,
                        outcome="unknown_dependency",
                        details={"warning": warning, "depends_on": dep},
                    )
                )
