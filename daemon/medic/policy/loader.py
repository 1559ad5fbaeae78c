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
previous version of that file, while good files still load. Nothing here raises for
bad input; every problem is a :class:`~medic.errors.PolicyError` in the result.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from medic.actions.base import Action, actions
from medic.errors import Location, PolicyError
from medic.logsetup import get_logger
from medic.policy.build import build_policy
from medic.policy.dependencies import Dependency, check_dependencies, dependencies_of
from medic.policy.messages import schema_errors
from medic.policy.model import Policy
from medic.policy.schema import envelope_validator
from medic.policy.semantic import PolicyCheck, PolicyChecker
from medic.policy.yamlpos import parse_yaml
from medic.probes.base import Probe, probes
from medic.registry import Registry

log = get_logger(__name__)

SUFFIXES = (".yaml", ".yml")
# Policy test files beside the policies: `medic test` reads them, the loader does not.
TEST_SUFFIXES = (".test.yaml", ".test.yml")


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
    depends: tuple[Dependency, ...] = ()


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
    must name only these. A later file reusing an earlier policy name is rejected
    (a file with errors of its own never claims a name before a good file).
    """
    context = _Context(notifiers, probe_registry, action_registry)
    seen: dict[str, Location] = {}
    loaded_files: list[tuple[_Loaded, list[PolicyError]]] = []
    for path, missing in _expand(paths):
        if missing is not None:
            loaded_files.append((_Loaded(FileResult(path, (), (missing,)), ()), []))
            continue
        loaded_files.append((_load_file(path, context), []))
    # A file that is rejected anyway never takes a name from a good one: good files
    # claim their names first, in order; a broken file reusing one is told so.
    for clean in (True, False):
        for loaded, duplicates in loaded_files:
            if bool(loaded.result.errors) == clean:
                continue
            for name, where in loaded.names:
                if name in seen:
                    duplicates.append(_duplicate(name, where, seen[name]))
                else:
                    seen[name] = where
    check_dependencies([(loaded.depends, problems) for loaded, problems in loaded_files], seen)
    files: list[FileResult] = []
    for loaded, problems in loaded_files:
        result = loaded.result
        if problems:
            errors = _ordered([*result.errors, *problems])
            result = replace(result, policies=(), errors=errors)
        files.append(result)
    return LoadResult(tuple(files))


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
    return _load_data(data, file, Path(file), context).result


def _load_file(path: Path, context: _Context) -> _Loaded:
    file = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        error = PolicyError(f"cannot read the file: {exc.strerror}", location=Location(file))
        return _Loaded(FileResult(path, (), (error,)), ())
    return _load_data(data, file, path, context)


def _load_data(data: bytes, file: str, path: Path, context: _Context) -> _Loaded:
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
        return _Loaded(FileResult(path, (), (error,)), ())
    return _load_text(text, file, path, context)


def _load_text(text: str, file: str, path: Path, context: _Context) -> _Loaded:
    try:
        return _validate(text, file, path, context)
    except Exception as exc:  # a bug here must reject one file, never stop the agent
        log.exception("policy.load_crashed", file=file)
        error = PolicyError(
            f"internal error while loading this file: {exc!r}",
            location=Location(file, 1, 1),
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
    depends = tuple(dependencies_of(doc, file, raw if isinstance(raw, list) else []))
    if errors:
        return _Loaded(FileResult(path, (), _ordered(errors)), tuple(names.items()), depends)
    policies = tuple(build_policy(doc, file, index, check) for index, check in checks.items())
    return _Loaded(FileResult(path, policies, ()), tuple(names.items()), depends)


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
