"""Policy files in, validated :class:`~medic.policy.model.Policy` objects out.

Each file goes through three stages and every problem found is kept, in line order:

1. YAML structure with positions (:mod:`medic.policy.yamlpos`);
2. the envelope JSON Schema, then each probe's and action's own options schema
   (:mod:`medic.policy.schema`, told plainly by :mod:`medic.policy.messages`);
3. semantic checks against the registries, conditions and notifiers
   (:mod:`medic.policy.semantic`); policy names must be unique across all files, and
   ``depends_on`` must name policies defined in some file and make no cycle.

A file with any error contributes no policies: on reload the agent keeps running the
previous version of that file, while good files still load. Nothing here raises for
bad input; every problem is a :class:`~medic.errors.PolicyError` in the result.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog

from medic.actions.base import Action, actions
from medic.errors import Location, PolicyError
from medic.policy.durations import parse_duration
from medic.policy.messages import schema_errors
from medic.policy.model import (
    DEFAULT_APPROVAL_TIMEOUT,
    DEFAULT_PROBE_FAILURES,
    Approval,
    Escalation,
    Limits,
    Policy,
    ProbeSpec,
    Step,
    Verify,
)
from medic.policy.schema import envelope_validator
from medic.policy.semantic import SHARED_PROBE_KEYS, PolicyCheck, PolicyChecker
from medic.policy.windows import MaintenanceWindow
from medic.policy.yamlpos import Document, parse_yaml
from medic.probes.base import Probe, probes
from medic.registry import Registry

log = structlog.get_logger(__name__)

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class FileResult:
    """One file's outcome: its policies, or the errors that reject it as a whole."""

    path: Path
    policies: tuple[Policy, ...]
    errors: tuple[PolicyError, ...]


@dataclass(frozen=True)
class LoadResult:
    files: tuple[FileResult, ...]

    @property
    def policies(self) -> list[Policy]:
        """Policies from files without errors."""
        return [p for f in self.files if not f.errors for p in f.policies]

    @property
    def errors(self) -> list[PolicyError]:
        return [e for f in self.files for e in f.errors]


@dataclass(frozen=True)
class _Context:
    """What every file is checked against: the registries and the configured notifiers."""

    notifiers: Collection[str] | None
    probes: Registry[type[Probe]]
    actions: Registry[type[Action]]


@dataclass(frozen=True)
class _Loaded:
    result: FileResult
    names: tuple[tuple[str, Location], ...]  # every named policy, even in a rejected file
    # (policy, the policy it depends on, where that name is written)
    depends: tuple[tuple[str, str, Location], ...] = ()


def load_text(
    text: str,
    file: str,
    *,
    notifiers: Collection[str] | None = None,
    probe_registry: Registry[type[Probe]] = probes,
    action_registry: Registry[type[Action]] = actions,
) -> FileResult:
    """Validate one file's text; ``file`` is how messages name it."""
    context = _Context(notifiers, probe_registry, action_registry)
    return _load_text(text, file, Path(file), context).result


def load_paths(
    paths: Sequence[Path],
    *,
    notifiers: Collection[str] | None = None,
    probe_registry: Registry[type[Probe]] = probes,
    action_registry: Registry[type[Action]] = actions,
) -> LoadResult:
    """Load files and directories (``*.yaml``/``*.yml``, recursive, sorted).

    ``notifiers``: the agent config's notifier names; when given, ``escalate.notify``
    must name only these. A later file reusing an earlier policy name is rejected.
    """
    context = _Context(notifiers, probe_registry, action_registry)
    seen: dict[str, Location] = {}
    loaded_files: list[tuple[_Loaded, list[PolicyError]]] = []
    for path, missing in _expand(paths):
        if missing is not None:
            loaded_files.append((_Loaded(FileResult(path, (), (missing,)), ()), []))
            continue
        loaded = _load_file(path, context)
        duplicates = []
        for name, where in loaded.names:
            if name in seen:
                duplicates.append(_duplicate(name, where, seen[name]))
            else:
                seen[name] = where
        loaded_files.append((loaded, duplicates))
    _check_dependencies(loaded_files, seen)
    files: list[FileResult] = []
    for loaded, problems in loaded_files:
        result = loaded.result
        if problems:
            errors = _ordered([*result.errors, *problems])
            result = replace(result, policies=(), errors=errors)
        files.append(result)
    return LoadResult(tuple(files))


def _check_dependencies(
    loaded_files: list[tuple[_Loaded, list[PolicyError]]], seen: dict[str, Location]
) -> None:
    """``depends_on`` names a policy some file defines, and no dependencies form a cycle.

    A name defined in a rejected file still counts: that file keeps its previous
    version running, and one typo must not reject the files that depend on it.
    """
    graph: dict[str, list[tuple[str, Location]]] = {}
    owner: dict[str, list[PolicyError]] = {}
    for loaded, problems in loaded_files:
        for policy, dep, where in loaded.depends:
            graph.setdefault(policy, []).append((dep, where))
            owner[policy] = problems
            if dep not in seen:
                close = difflib.get_close_matches(dep, list(seen), n=1, cutoff=0.6)
                guess = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(
                    PolicyError(
                        f"depends_on names {dep!r}, which no policy file defines{guess}",
                        location=where,
                        policy=policy,
                        hint="name a policy from the loaded files, or remove it",
                    )
                )
    for cycle in _cycles(graph):
        text = " -> ".join([*cycle, cycle[0]])
        for index, policy in enumerate(cycle):
            nxt = cycle[(index + 1) % len(cycle)]
            where = next(w for d, w in graph[policy] if d == nxt)
            owner[policy].append(
                PolicyError(
                    f"depends_on makes a cycle: {text}",
                    location=where,
                    policy=policy,
                    hint="policies that inhibit each other would never act; remove one link",
                )
            )


def _cycles(graph: dict[str, list[tuple[str, Location]]]) -> list[list[str]]:
    """Each dependency cycle once, as the policies in it, in dependency order."""
    found: list[list[str]] = []
    for start in sorted(graph):
        # Walk every path from ``start``; a path that comes back to it is a cycle.
        paths: list[list[str]] = [[start]]
        while paths:
            path = paths.pop()
            for dep, _ in graph.get(path[-1], ()):
                if dep == start:
                    if not any(set(path) == set(c) for c in found):
                        found.append(path)
                elif dep not in path and dep > start:  # each cycle from its least member
                    paths.append([*path, dep])
    return found


def _expand(paths: Sequence[Path]) -> Iterator[tuple[Path, PolicyError | None]]:
    done: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif path.exists():
            found = [path]
        else:
            yield (
                path,
                PolicyError(
                    "no such file or directory",
                    location=Location(str(path)),
                    hint="check the path, or create the file",
                ),
            )
            continue
        for file in found:
            if file.resolve() not in done:
                done.add(file.resolve())
                yield file, None


def _load_file(path: Path, context: _Context) -> _Loaded:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        error = PolicyError(f"cannot read the file: {reason}", location=Location(file))
        return _Loaded(FileResult(path, (), (error,)), ())
    return _load_text(text, file, path, context)


def _load_text(text: str, file: str, path: Path, context: _Context) -> _Loaded:
    try:
        return _validate(text, file, path, context)
    except Exception as exc:  # a bug here must reject one file, never stop the agent
        log.exception("policy_load_crashed", file=file)
        error = PolicyError(
            f"internal error while loading this file: {exc!r}",
            location=Location(file),
            hint="this is a bug in medic or a plugin; please report it",
        )
        return _Loaded(FileResult(path, (), (error,)), ())


def _validate(text: str, file: str, path: Path, context: _Context) -> _Loaded:
    doc, errors = parse_yaml(text, file)
    if doc is None:
        return _Loaded(FileResult(path, (), _ordered(errors)), ())
    if doc.data is None:
        empty = PolicyError(
            "the file is empty",
            location=Location(file, 1, 1),
            hint="start it with `version: 1` and a `policies:` list",
        )
        return _Loaded(FileResult(path, (), (empty,)), ())
    errors.extend(schema_errors(envelope_validator(), doc.data, (), doc, file))
    raw = doc.data.get("policies") if isinstance(doc.data, dict) else None
    checks: dict[int, PolicyCheck] = {}
    names: dict[str, Location] = {}
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict):
            continue
        check = PolicyChecker(
            doc,
            file,
            index,
            probe_registry=context.probes,
            action_registry=context.actions,
            notifiers=context.notifiers,
        ).run()
        errors.extend(check.errors)
        checks[index] = check
        name = item.get("name")
        if isinstance(name, str):
            where = doc.locate(("policies", index, "name"))
            here = Location(file, where.line, where.column)
            if name in names:
                errors.append(_duplicate(name, here, names[name]))
            else:
                names[name] = here
    depends = tuple(_depends(doc, file, raw if isinstance(raw, list) else []))
    if errors:
        return _Loaded(FileResult(path, (), _ordered(errors)), tuple(names.items()), depends)
    policies = tuple(_build(doc, file, index, check) for index, check in checks.items())
    return _Loaded(FileResult(path, policies, ()), tuple(names.items()), depends)


def _depends(doc: Document, file: str, raw: list[Any]) -> Iterator[tuple[str, str, Location]]:
    """Every (policy, depends_on name, where it is written) of a file."""
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        names = item.get("depends_on")
        for dep_index, dep in enumerate(names if isinstance(names, list) else []):
            if isinstance(dep, str) and dep != item["name"]:
                where = doc.locate(("policies", index, "depends_on", dep_index))
                yield item["name"], dep, Location(file, where.line, where.column)


def _duplicate(name: str, here: Location, first: Location) -> PolicyError:
    return PolicyError(
        f"duplicate policy name {name!r}; first defined at {first}",
        location=here,
        policy=name,
        hint="policy names must be unique across all policy files; rename one",
    )


def _ordered(errors: Sequence[PolicyError]) -> tuple[PolicyError, ...]:
    """Errors in line order, each once (merged YAML anchors can report one twice)."""
    unique: dict[tuple[str, str], PolicyError] = {}
    for error in errors:
        unique.setdefault((str(error.location), error.message), error)
    return tuple(
        sorted(
            unique.values(),
            key=lambda e: (e.location.line or 0, e.location.column or 0) if e.location else (0, 0),
        )
    )


def digest(raw: Any) -> str:
    """A stable hash of a policy's definition: unchanged text keeps its state on reload."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _build(doc: Document, file: str, index: int, check: PolicyCheck) -> Policy:
    """The model object for a policy that passed every stage (so its shape is known)."""
    raw: dict[str, Any] = doc.data["policies"][index]
    probe_cls = check.probe_cls
    assert probe_cls is not None and check.when is not None  # guaranteed by the checks
    probe = raw["probe"]
    steps = []
    for step_index, item in enumerate(raw.get("remediate", [])):
        ((kind, options),) = item.items()
        options = options or {}
        cls = check.step_classes[step_index]
        steps.append(
            Step(
                type=kind,
                options={k: v for k, v in options.items() if k != "timeout"},
                timeout=parse_duration(options.get("timeout", cls.default_timeout)),
            )
        )
    limits = raw.get("limits", {})
    share = limits.get("max_targets")
    escalate = raw.get("escalate", {})
    approval = raw.get("approval", {})
    where = doc.locate(("policies", index))
    return Policy(
        name=raw["name"],
        probe=ProbeSpec(
            type=probe["type"],
            options={k: v for k, v in probe.items() if k not in SHARED_PROBE_KEYS},
            every=parse_duration(probe.get("every", probe_cls.default_every)),
            timeout=parse_duration(probe.get("timeout", probe_cls.default_timeout)),
        ),
        when=check.when,
        clear_when=check.clear_when,
        hold=parse_duration(raw.get("for", 0)),
        remediate=tuple(steps),
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
            )
            for i, window in enumerate(raw.get("maintenance", []))
        ),
        source=Location(file, where.line, where.column),
        digest=digest(raw),
    )
