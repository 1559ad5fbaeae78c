"""The arrows between Medic's packages point down: each rule read from the source's imports.

Every module under ``daemon/medic`` is parsed (never imported) and each import is
classed by where it stands: at module level (runs on import), under
``if TYPE_CHECKING:`` (types only), or inside a function (runs when called). The rules:

- ``engine/`` imports nothing of ``api/`` or ``cli/``: ``medic run`` wires the two.
- ``api/`` imports nothing of ``engine/``: it sees the agent only as the
  ``AgentView`` protocol it defines itself (``api/view.py``), and the engine's
  exceptions are ``medic.errors``'.
- ``engine/core/`` holds the pure decisions: no asyncio, sqlite3, aiohttp or other
  I/O library, nothing of the engine outside ``core/``, and only plain data from the
  rest of Medic (:data:`CORE_MAY_IMPORT`).
- A helper the runner uses never imports ``engine/runner.py`` back, not even for
  types: it returns decisions or takes a narrow protocol.
- ``probes/``, ``actions/``, ``notify/``, ``drivers/`` and the plugin kit import nothing
  of ``engine/`` or ``policy/``.
- No import circle at module level, between modules or between packages.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "daemon"
PACKAGE = ROOT / "medic"
PLUGINS = ("medic.probes", "medic.actions", "medic.notify")

# Plugins (the built-ins and anyone's) depend on the plugin kit (medic/plugin.py), not
# on the policy language: durations, schema fragments and cron live outside policy/.
PLUGINS_DRIVERS = (*PLUGINS, "medic.drivers", "medic.plugin", "medic.option_schemas")

# What the pure core may import from the rest of Medic: records and pure functions.
CORE_MAY_IMPORT = frozenset(
    {
        "medic.audit.events",
        "medic.clock",
        "medic.config",
        "medic.errors",
        "medic.durations",
        "medic.policy.model",
        "medic.policy.windows",
    }
)
# The engine's pure decisions, all in engine/core/.
CORE_MODULES = frozenset(
    {
        "approvals",
        "consult",
        "gate",
        "limits",
        "probehealth",
        "sight",
        "silences",
        "state",
        "state_approval",
        "target_state",
        "tiers",
    }
)
# Libraries that do I/O or run an event loop: none of them in the pure core.
IO_LIBRARIES = frozenset(
    {
        "aiohttp",
        "asyncio",
        "concurrent",
        "http",
        "os",
        "requests",
        "selectors",
        "shutil",
        "socket",
        "sqlite3",
        "sqlite_utils",
        "structlog",
        "subprocess",
        "threading",
        "time",
        "urllib",
    }
)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (``from a import b``: a.b when that is a module)
    line: int
    where: str  # "module", "types" (under TYPE_CHECKING) or "function"

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target} ({self.where} level)"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, source: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: resolve against the importing module's package
        package = source.split(".") if is_package else source.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    for alias in node.names:
        full = f"{base}.{alias.name}"
        yield full if full in modules() else base


def _walk(body: list[ast.stmt], source: str, is_package: bool, where: str) -> Iterator[Import]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(node, source, is_package):
                yield Import(source, target, node.lineno, where)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _walk(node.body, source, is_package, "types")
            yield from _walk(node.orelse, source, is_package, where)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk(node.body, source, is_package, "function")
        else:  # if/try/with/class bodies run with the statement that holds them
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, None) or ():
                    inner = child.body if isinstance(child, ast.ExceptHandler) else [child]
                    if isinstance(child, ast.match_case):
                        inner = child.body
                    yield from _walk(inner, source, is_package, where)


@cache
def imports() -> tuple[Import, ...]:
    out: list[Import] = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(), str(path))
        out.extend(_walk(tree.body, name, path.name == "__init__.py", "module"))
    return tuple(out)


def under(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def package_of(name: str) -> str:
    """The first level below ``medic``: ``medic.engine.core.state`` -> ``medic.engine``."""
    return ".".join(name.split(".")[:2])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def broken(rule: Callable[[Import], bool]) -> list[str]:
    """Every import that breaks ``rule``, as ``module:line imports target``."""
    return [str(imp) for imp in imports() if rule(imp)]


def test_the_walk_sees_the_tree() -> None:
    """The parser finds the packages and the kinds of import the rules rely on."""
    assert {"medic.engine.runner", "medic.api.server", "medic.engine.core.state"} <= set(modules())
    wheres = {imp.where for imp in imports()}
    assert wheres == {"module", "types", "function"}


def test_engine_imports_no_api_or_cli() -> None:
    """Nothing under engine/ imports api/ or cli/, at any level: cli/run.py wires them."""

    def upward(imp: Import) -> bool:
        return under(imp.source, "medic.engine") and under(imp.target, "medic.api", "medic.cli")

    assert broken(upward) == []


def test_api_imports_nothing_of_the_engine() -> None:
    """api/ sees the agent only through its own AgentView protocol, and the engine's
    exceptions through medic.errors: it imports no module under engine/, at any level."""

    def inward(imp: Import) -> bool:
        return under(imp.source, "medic.api") and under(imp.target, "medic.engine")

    assert broken(inward) == []


def test_plugins_import_no_engine() -> None:
    """probes/, actions/, notify/, drivers/ and the kit import nothing of engine/."""
    assert (
        broken(lambda i: under(i.source, *PLUGINS_DRIVERS) and under(i.target, "medic.engine"))
        == []
    )


def test_plugins_import_nothing_of_the_policy_language() -> None:
    """A plugin, a driver or the kit imports no policy/ module, at any level."""
    assert (
        broken(lambda i: under(i.source, *PLUGINS_DRIVERS) and under(i.target, "medic.policy"))
        == []
    )


def test_the_core_is_pure() -> None:
    """engine/core/ imports no I/O library, nothing of the engine outside core/, and
    only plain data from the rest of Medic."""

    def impure(imp: Import) -> bool:
        if not under(imp.source, "medic.engine.core"):
            return False
        if imp.target.split(".")[0] in IO_LIBRARIES:
            return True
        if under(imp.target, "medic.engine"):
            return not under(imp.target, "medic.engine.core")
        return under(imp.target, "medic") and imp.target not in CORE_MAY_IMPORT

    core = {name.rsplit(".", 1)[-1] for name in modules() if under(name, "medic.engine.core")}
    assert core >= CORE_MODULES
    assert broken(impure) == []


def test_the_runner_helpers_do_not_import_it_back() -> None:
    """No engine module the runner imports imports engine/runner.py, not even for types:
    the helpers return decisions (engine/core) or take a narrow protocol."""
    helpers = {
        imp.target
        for imp in imports()
        if imp.source == "medic.engine.runner" and under(imp.target, "medic.engine")
    }
    assert {"medic.engine.asking", "medic.engine.probing", "medic.engine.fleet_gate"} <= helpers
    assert broken(lambda i: i.source in helpers and i.target == "medic.engine.runner") == []


def test_no_module_level_circle_between_modules() -> None:
    """Importing any module never comes back to itself through module-level imports."""
    graph: dict[str, set[str]] = {}
    for imp in imports():
        if imp.where == "module" and imp.target in modules() and imp.target != imp.source:
            graph.setdefault(imp.source, set()).add(imp.target)
    assert cycles(graph) == []


def test_no_module_level_circle_between_packages() -> None:
    """The packages under medic (and its top-level modules) form no circle at module
    level."""
    graph: dict[str, set[str]] = {}
    for imp in imports():
        if imp.where != "module" or not under(imp.target, "medic") or imp.target == "medic":
            continue
        source, target = package_of(imp.source), package_of(imp.target)
        if source != target:
            graph.setdefault(source, set()).add(target)
    assert cycles(graph) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_cycles_finds_circles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    """The circle finder reports a circle, and only a circle."""
    assert cycles(graph) == expected
