"""Policy files in, validated :class:`~medic.policy.model.Policy` objects out.

Each file goes through three stages and every problem found is kept, in line order:

1. YAML structure with positions (:mod:`medic.policy.yamlpos`);
2. the envelope JSON Schema, then each probe's and action's own options schema
   (:mod:`medic.policy.schema`, told plainly by :mod:`medic.policy.messages`);
3. semantic checks against the registries, conditions and notifiers
   (:mod:`medic.policy.semantic`); policy names must be unique across all files, and
   ``depends_on`` must name policies defined in some file and make no cycle
   (:mod:`medic.policy.dependencies`).

A file that passes all three becomes model objects (:mod:`medic.policy.build`).

A file with any error contributes no policies: on reload the agent keeps running the
previous version of that file (:meth:`~medic.policy.result.LoadResult.over`), while good
files still load. Nothing here raises for bad input; every problem is a
:class:`~medic.errors.PolicyError` in the :class:`~medic.policy.result.LoadResult`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from medic.actions.base import Action, actions
from medic.errors import Location, PolicyError
from medic.logsetup import get_logger
from medic.policy.bounds import MAX_FILE_BYTES
from medic.policy.build import build_policy
from medic.policy.dependencies import check_dependencies, dependencies_of
from medic.policy.messages import schema_errors
from medic.policy.result import FileResult, LoadResult
from medic.policy.schema import envelope_validator
from medic.policy.semantic import PolicyCheck, PolicyChecker
from medic.policy.yamlpos import parse_yaml
from medic.probes.base import Probe, probes
from medic.registry import Registry
from medic.regular_file import FileTooBigError, NotRegularFileError, read_regular

__all__ = [
    "SUFFIXES",
    "TEST_SUFFIXES",
    "FileResult",
    "LoadResult",
    "is_test_file",
    "load_bytes",
    "load_paths",
    "load_text",
]

log = get_logger(__name__)

SUFFIXES = (".yaml", ".yml")
# Policy test files beside the policies: `medic test` reads them, the loader does not.
TEST_SUFFIXES = (".test.yaml", ".test.yml")
_READ_HINTS: dict[type[OSError], str] = {
    NotRegularFileError: "point the path at a YAML file",
    FileTooBigError: "split the policies into smaller files",
}


@dataclass(frozen=True)
class _Context:
    """What every file is checked against: the registries and the configured notifiers."""

    notifiers: Collection[str] | None
    probes: Registry[type[Probe]]
    actions: Registry[type[Action]]


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
    return _load_text(text, file, Path(file), context)


def load_paths(
    paths: Sequence[Path],
    *,
    notifiers: Collection[str] | None = None,
    probe_registry: Registry[type[Probe]] = probes,
    action_registry: Registry[type[Action]] = actions,
) -> LoadResult:
    """Load files and directories (``*.yaml``/``*.yml``, recursive, sorted).

    ``notifiers``: the agent config's notifier names; when given, ``escalate.notify``
    must name only these. A later file reusing an earlier policy name is rejected
    (a file with errors of its own never claims a name before a good file).
    """
    context = _Context(notifiers, probe_registry, action_registry)
    seen: dict[str, Location] = {}
    loaded: list[tuple[FileResult, list[PolicyError]]] = []
    for path, missing in _expand(paths):
        if missing is not None:
            loaded.append((FileResult(path, (), (missing,)), []))
            continue
        loaded.append((_load_file(path, context), []))
    # A file that is rejected anyway never takes a name from a good one: good files
    # claim their names first, in order; a broken file reusing one is told so.
    for clean in (True, False):
        for result, duplicates in loaded:
            if bool(result.errors) == clean:
                continue
            for name, where in result.names:
                if name in seen:
                    duplicates.append(_duplicate(name, where, seen[name]))
                else:
                    seen[name] = where
    check_dependencies([(result.depends, problems) for result, problems in loaded], seen)
    return LoadResult(
        tuple(
            replace(result, policies=(), errors=_ordered([*result.errors, *problems]))
            if problems
            else result
            for result, problems in loaded
        )
    )


def is_test_file(path: Path) -> bool:
    """``*.test.yaml``: policy tests for ``medic test``, not policies (skipped in folders)."""
    return path.name.endswith(TEST_SUFFIXES)


def _expand(paths: Sequence[Path]) -> Iterator[tuple[Path, PolicyError | None]]:
    done: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SUFFIXES and p.is_file() and not is_test_file(p)
            )
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


def load_bytes(
    data: bytes,
    file: str,
    *,
    notifiers: Collection[str] | None = None,
    probe_registry: Registry[type[Probe]] = probes,
    action_registry: Registry[type[Action]] = actions,
) -> FileResult:
    """Validate one file's bytes as read from disk (UTF-8, a leading BOM allowed)."""
    context = _Context(notifiers, probe_registry, action_registry)
    return _load_data(data, file, Path(file), context)


def _load_file(path: Path, context: _Context) -> FileResult:
    file = str(path)
    try:
        data = read_regular(file, MAX_FILE_BYTES)
    except OSError as exc:
        error = PolicyError(
            f"cannot read the file: {exc.strerror}",
            location=Location(file),
            hint=_READ_HINTS.get(type(exc), "check the file's permissions, or fix the path"),
        )
        return FileResult(path, (), (error,))
    return _load_data(data, file, path, context)


def _load_data(data: bytes, file: str, path: Path, context: _Context) -> FileResult:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        error = PolicyError(
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be read",
            location=Location(file, line, column),
            hint="save the file as UTF-8",
        )
        return FileResult(path, (), (error,))
    return _load_text(text, file, path, context)


def _load_text(text: str, file: str, path: Path, context: _Context) -> FileResult:
    try:
        return _validate(text, file, path, context)
    except Exception as exc:  # a bug here must reject one file, never stop the agent
        log.exception("policy.load_crashed", file=file)
        error = PolicyError(
            f"internal error while loading this file: {exc!r}",
            location=Location(file, 1, 1),
            hint="this is a bug in medic or a plugin; please report it",
        )
        return FileResult(path, (), (error,))


def _validate(text: str, file: str, path: Path, context: _Context) -> FileResult:
    doc, errors = parse_yaml(text, file)
    if doc is None:
        return FileResult(path, (), _ordered(errors))
    if doc.data is None:
        empty = PolicyError(
            "the file is empty",
            location=Location(file, 1, 1),
            hint="start it with `version: 1` and a `policies:` list",
        )
        return FileResult(path, (), (empty,))
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
    depends = tuple(dependencies_of(doc, file, raw if isinstance(raw, list) else []))
    from medic.secret_notices import text_notices  # here: secret_notices reads policy/

    # Old secret spellings, without a second parse, in the options of the classes used.
    found = text_notices(text, doc, file, [c for k in checks.values() for c in _classes(k)])
    named = tuple(names.items())
    if errors:
        return FileResult(path, (), _ordered(errors), names=named, depends=depends, notices=found)
    policies = tuple(build_policy(doc, file, index, check) for index, check in checks.items())
    return FileResult(path, policies, (), names=named, depends=depends, notices=found)


def _classes(check: PolicyCheck) -> Iterator[type]:
    """The probe and action classes one policy uses (those its checks found)."""
    if check.probe_cls is not None:
        yield check.probe_cls
    yield from (cls for cls, _ in (check.named or {}).values())
    yield from check.step_classes.values()
    yield from check.finally_classes.values()


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
