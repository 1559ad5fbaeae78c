"""Carrying out a policy's remediation steps for one target, with intent before outcome.

For each step the intent (``action.started``) is committed to the audit log before
the action runs; the outcome (succeeded, failed, timed out) is written after. The
first step that fails ends the attempt: later steps usually assume earlier ones
worked. In dry-run nothing runs; each step is recorded as ``action.would_run``.

No intent, no action: when the intent cannot be committed (a full disk), the step
does not run, the audit alarm goes up (:mod:`medic.engine.audit_alarm`) and the
attempt ends with a :data:`NOT_RUN` outcome, so the runner puts the target back to
firing instead of leaving it half-remediated.

The policy's ``finally:`` steps run after that, whatever happened: a step failed,
timed out, was refused, or the agent is stopping. Each is audited like any step with
``finally: true`` in its details, and each runs even when an earlier one failed (they
undo: leave maintenance mode, release a lock). In dry-run they are ``action.would_run``.

A step with an ``id`` publishes its output to the later steps of the same attempt
(:mod:`medic.actions.outputs`): the names it published are audited with its outcome,
and the later step's plan (audited with its intent) shows the values it was filled with.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog

from medic.actions.base import Action, ActionContext, ActionResult, actions
from medic.actions.outputs import step_outputs
from medic.audit.events import AuditEvent, Kind
from medic.deadline import within
from medic.engine.audit_alarm import REASON
from medic.engine.context import EngineContext
from medic.errors import ActionError, MedicError
from medic.policy.model import Policy, Step

log = structlog.get_logger("medic.remediation")

# The runner's hard stop comes a little after a step's own timeout, so an action that
# handles its timeout (killing its process group, keeping the output) reports it first.
ACTION_GRACE = 0.5
# The outcome kind of a step that never ran because its intent could not be written.
NOT_RUN = Kind.SUPPRESSED


@dataclass(frozen=True)
class StepOutcome:
    step: int
    type: str
    kind: Kind
    summary: str
    details: Mapping[str, Any]
    # A ``finally:`` step: its outcome does not make the attempt a success or a failure.
    cleanup: bool = False

    @property
    def ok(self) -> bool:
        return self.kind in (Kind.ACTION_SUCCEEDED, Kind.ACTION_WOULD_RUN)

    @property
    def ran(self) -> bool:
        return self.kind != NOT_RUN

    def as_history(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "action": self.type,
            "outcome": self.kind.value,
            "summary": self.summary,
        }


def build_actions(policy: Policy, *, cleanup: bool = False) -> list[Action]:
    """The actions of ``remediate:`` (or, with ``cleanup``, of ``finally:``)."""
    out = []
    for step in policy.finally_steps if cleanup else policy.remediate:
        cls = actions.get(step.type)
        if cls is None:  # the loader rejects unknown types; a plugin may have vanished
            raise ActionError(f"action type {step.type!r} is not registered")
        out.append(cls(step.options))
    return out


async def _run_one(action: Action, ctx: ActionContext) -> tuple[Kind, ActionResult]:
    try:
        result = await within(action.run(ctx), ctx.timeout + ACTION_GRACE)
    except TimeoutError:
        return Kind.ACTION_TIMED_OUT, ActionResult(False, f"timed out after {ctx.timeout:g}s")
    except ActionError as exc:
        return Kind.ACTION_FAILED, ActionResult(False, exc.message, exc.fields)
    except Exception as exc:  # an action bug must end in an audited failure, not a crash
        log.exception("action.crashed", action=action.type_name)
        return Kind.ACTION_FAILED, ActionResult(False, f"{type(exc).__name__}: {exc}")
    if result.ok:
        return Kind.ACTION_SUCCEEDED, result
    if result.details.get("timed_out"):
        return Kind.ACTION_TIMED_OUT, result
    return Kind.ACTION_FAILED, result


async def run_steps(
    engine: EngineContext,
    policy: Policy,
    steps: list[Action],
    *,
    target: str,
    incident: str,
    fields: Mapping[str, Any],
    attempt: int,
    dry_run: bool,
    cleanup: list[Action] | None = None,
) -> list[StepOutcome]:
    """Run ``remediate:`` up to the first step that does not succeed, then every step of
    ``finally:`` (``cleanup``: its actions; None builds them from the policy)."""
    run = _Attempt(engine, policy, target, incident, fields, attempt, dry_run)
    if cleanup is None:
        cleanup = build_actions(policy, cleanup=True)
    try:
        for index, (spec, action) in enumerate(zip(policy.remediate, steps, strict=True)):
            outcome = await run.step(index, spec, action)
            if outcome.kind not in (Kind.ACTION_SUCCEEDED, Kind.ACTION_WOULD_RUN):
                break
    finally:  # cancelled too: undoing what was started matters most when stopping
        first = len(policy.remediate)
        for offset, (spec, action) in enumerate(zip(policy.finally_steps, cleanup, strict=True)):
            await run.step(first + offset, spec, action, cleanup=True)
    return run.outcomes


class _Attempt:
    """One attempt's steps for one target: intent before outcome, outputs passed on."""

    def __init__(
        self,
        engine: EngineContext,
        policy: Policy,
        target: str,
        incident: str,
        fields: Mapping[str, Any],
        attempt: int,
        dry_run: bool,
    ) -> None:
        self.engine, self.policy = engine, policy
        self.target, self.incident, self.fields = target, incident, fields
        self.attempt, self.dry_run = attempt, dry_run
        self.outcomes: list[StepOutcome] = []
        self.outputs: dict[str, str] = {}

    def event(
        self,
        kind: Kind,
        details: Mapping[str, Any],
        *,
        outcome: str | None = None,
        action: str | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            kind,
            self.engine.clock.wall(),
            policy=self.policy.name,
            target=self.target,
            incident=self.incident,
            action=action,
            outcome=outcome,
            values=self.fields,
            details=details,
        )

    async def step(
        self, index: int, spec: Step, action: Action, *, cleanup: bool = False
    ) -> StepOutcome:
        """Run one step (or record it as would-run) and keep its outcome."""
        outcome = replace(await self._step(index, spec, action, cleanup), cleanup=cleanup)
        self.outcomes.append(outcome)
        return outcome

    async def _step(self, index: int, spec: Step, action: Action, cleanup: bool) -> StepOutcome:
        engine, event = self.engine, self.event
        ctx = _context(
            engine,
            self.policy,
            spec,
            self.target,
            self.incident,
            self.fields,
            self.attempt,
            self.dry_run,
            self.outputs,
        )
        plan = action.describe(ctx)
        step_info: dict[str, Any] = {
            "step": index,
            "type": spec.type,
            "attempt": self.attempt,
            "plan": plan,
            **({"finally": True} if cleanup else {}),
        }
        if self.dry_run:
            engine.audit.emit(event(Kind.ACTION_WOULD_RUN, step_info, outcome="dry_run"))
            return StepOutcome(index, spec.type, Kind.ACTION_WOULD_RUN, plan, {})
        action_id = uuid.uuid4().hex[:16]
        intent = event(
            Kind.ACTION_STARTED, {**step_info, "timeout": spec.timeout}, action=action_id
        )
        try:
            await engine.audit.emit_durable(intent)
        except MedicError as exc:  # the intent is not on disk: the step must not run
            engine.alarm.failed(exc.message)
            log.error("action.not_run", action=spec.type, reason="intent not written")
            summary = f"not run: the intent could not be written ({exc.message})"
            return StepOutcome(index, spec.type, NOT_RUN, summary, {"reason": REASON})
        engine.running_actions += 1
        try:
            if engine.stopping:  # admitted before the agent began to stop: never start it
                raise asyncio.CancelledError
            kind, result = await _run_one(action, ctx)
        except asyncio.CancelledError:
            engine.audit.emit(
                event(
                    Kind.ACTION_INTERRUPTED,
                    {**step_info, "reason": "agent stopping"},
                    outcome="interrupted",
                    action=action_id,
                )
            )
            raise
        finally:
            engine.running_actions -= 1
        outcome = {Kind.ACTION_SUCCEEDED: "ok", Kind.ACTION_FAILED: "failed"}.get(kind, "timeout")
        engine.metrics.actions.labels(spec.type, outcome).inc()
        published: dict[str, Any] = {}
        if spec.id is not None and kind == Kind.ACTION_SUCCEEDED:
            made = step_outputs(spec.id, result.details)
            self.outputs.update(made)
            published = {"id": spec.id, "outputs": sorted(made)}
        engine.audit.emit(
            event(
                kind,
                {**step_info, "summary": result.summary, **result.details, **published},
                outcome=outcome,
                action=action_id,
            )
        )
        return StepOutcome(index, spec.type, kind, result.summary, result.details)


def _context(
    engine: EngineContext,
    policy: Policy,
    step: Step,
    target: str,
    incident: str,
    fields: Mapping[str, Any],
    attempt: int,
    dry_run: bool,
    outputs: Mapping[str, str],
) -> ActionContext:
    return ActionContext(
        policy=policy.name,
        target=target,
        incident=incident,
        fields=fields,
        timeout=step.timeout,
        dry_run=dry_run,
        host=engine.host,
        attempt=attempt,
        outputs=dict(outputs),
    )
