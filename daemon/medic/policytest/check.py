"""Run test files and judge each case: did the engine write what the case expects?

Expectations are matched in order against the events in time order: each must be
found after the one before it. ``at`` matches an event within :data:`AT_SLACK`
seconds (the engine wakes a hair after a verification or a cooldown is due). Kinds
listed under ``never`` must not occur at all; ``expect: nothing`` means no incident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medic.audit.events import AuditEvent
from medic.errors import Location, PolicyError
from medic.policy.loader import load_paths
from medic.policy.messages import choices
from medic.policy.model import Policy, ProbeSpec
from medic.policytest.fleet import without_budget
from medic.policytest.sim import T0, reason_of, simulate
from medic.policytest.spec import Case, Expectation, load_test_file
from medic.probes.base import probes

AT_SLACK = 0.1
# Kinds that mean "something happened to a target": `expect: nothing` allows none.
_HAPPENINGS = ("incident.", "action.", "verify.", "approval.")


@dataclass
class CaseResult:
    case: Case
    file: Path
    events: list[AuditEvent] = field(default_factory=list)
    # The first expectation not met, or the problem, with where it was written.
    failure: str | None = None
    where: Location | None = None
    matched: list[tuple[Expectation, float | None]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass
class Run:
    results: list[CaseResult] = field(default_factory=list)
    errors: list[PolicyError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(r.ok for r in self.results)


def find_test_files(paths: Iterable[Path]) -> list[Path]:
    out: set[Path] = set()
    for path in paths:
        if path.is_dir():
            out.update(path.rglob("*.test.yaml"))
            out.update(path.rglob("*.test.yml"))
        else:
            out.add(path)
    return sorted(out)


def run_paths(paths: Iterable[Path]) -> Run:
    """Load every test file under ``paths`` and run its cases."""
    return asyncio.run(_run(find_test_files(paths)))


async def _run(files: list[Path]) -> Run:
    run = Run()
    policies_of: dict[tuple[Path, ...], dict[str, Policy]] = {}
    for path in files:
        spec = load_test_file(path)
        run.errors.extend(spec.errors)
        if spec.errors:
            continue
        key = tuple(spec.policy_paths)
        if key not in policies_of:
            loaded = load_paths(list(key))
            run.errors.extend(loaded.errors)
            policies_of[key] = {p.name: p for p in loaded.policies}
        known = policies_of[key]
        for case in spec.cases:
            policy = known.get(case.policy)
            if policy is None:
                hint = choices(case.policy, sorted(known), "policies in the files tested")
                run.errors.append(
                    PolicyError(
                        f"test {case.name!r} names policy {case.policy!r}, which is not in "
                        f"the files it tests{hint}",
                        location=case.where,
                        hint="name a policy of `policies:` (default: the folder's policy files)",
                    )
                )
                continue
            problem = _unknown_field(case, policy) or without_budget(
                case.name, case.fleet, policy, case.where
            )
            if problem is not None:
                run.errors.append(problem)
                continue
            run.results.append(await judge(case, policy, path))
    return run


def _unknown_field(case: Case, policy: Policy) -> PolicyError | None:
    if bool(policy.probes) != (case.named is not None):
        shape = "probe -> target -> field" if policy.probes else "target -> field"
        return PolicyError(
            f"test {case.name!r}: policy {policy.name!r} "
            f"{'has named probes' if policy.probes else 'has one probe'}; its input is "
            f"{shape} -> series",
            location=case.where,
            hint="see docs/testing.md, named probes",
        )
    if case.named is None:
        return _unknown_in(case, policy.probe, case.input, "")
    specs = dict(policy.probes)
    for name, inputs in case.named.items():
        if name not in specs:
            return PolicyError(
                f"test {case.name!r}: input names probe {name!r}, which policy "
                f"{policy.name!r} does not have{choices(name, list(specs), 'probes')}",
                location=case.where,
                hint="key the input by the policy's probe names",
            )
        problem = _unknown_in(case, specs[name], inputs, f"{name}.")
        if problem is not None:
            return problem
    return None


def _unknown_in(
    case: Case, spec: ProbeSpec, inputs: Mapping[str, Mapping[str, Any]], prefix: str
) -> PolicyError | None:
    cls = probes.get(spec.type)
    if cls is None or cls.dynamic_fields:
        return None
    valid = sorted({*cls.field_names(), *cls.option_fields(spec.options)})
    for target, fields in inputs.items():
        for name in fields:
            if name not in valid:
                return PolicyError(
                    f"test {case.name!r}: field {name!r} of {prefix}{target!r} is not yielded "
                    f"by probe {spec.type!r}{choices(name, valid, 'fields')}",
                    location=case.where,
                    hint=f"`medic probe {spec.type}` lists what it yields",
                )
    return None


async def judge(case: Case, policy: Policy, file: Path) -> CaseResult:
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await simulate(case, policy)
    result = CaseResult(case, file, events)
    result.seconds = loop.time() - started
    _match(result)
    return result


def _match(result: CaseResult) -> None:
    case, events = result.case, result.events
    position = 0
    for expectation in case.expect:
        found = None
        while position < len(events):
            event = events[position]
            position += 1
            if _fits(expectation, event):
                found = event
                break
        if found is None:
            result.failure = f"expected {expectation.describe()}, not found"
            if result.matched:
                after = result.matched[-1][1]
                result.failure += f" after the event matched at {_rel(after)}"
            result.where = expectation.where
            return
        result.matched.append((expectation, found.time - T0))
    for event in events:
        if event.kind.value in case.never:
            result.failure = (
                f"{event.kind.value} must never happen, but did at {_rel(event.time - T0)}"
            )
            result.where = case.where
            return
        if case.nothing and event.kind.value.startswith(_HAPPENINGS):
            result.failure = f"expected nothing, but {event.kind.value} at {_rel(event.time - T0)}"
            result.where = case.where
            return


def _fits(expectation: Expectation, event: AuditEvent) -> bool:
    if event.kind.value != expectation.event:
        return False
    if expectation.at is not None and abs(event.time - T0 - expectation.at) > AT_SLACK:
        return False
    if expectation.target is not None and event.target != expectation.target:
        return False
    if expectation.reason is not None and reason_of(event) != expectation.reason:
        return False
    if expectation.outcome is not None and event.outcome != expectation.outcome:
        return False
    return expectation.level is None or event.details.get("level", 1) == expectation.level


def _rel(seconds: float | None) -> str:
    from medic.policytest.spec import show_time

    return show_time(seconds or 0.0)
