"""Every third-party module Medic imports is a declared dependency of the distribution."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def imported_top_levels() -> dict[str, str]:
    """Top-level module name -> one file of daemon/medic that imports it (absolute imports)."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "daemon" / "medic").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_declared() -> None:
    """Imported directly -> in [project] dependencies (no leaning on a dependency's deps)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    owners = packages_distributions()
    missing = {}
    for module, where in imported_top_levels().items():
        if module in sys.stdlib_module_names or module in ("medic", "__future__"):
            continue
        dists = {canonicalize_name(d) for d in owners.get(module, [module])}
        if not dists & declared:
            missing[module] = (sorted(dists), where)
    assert missing == {}


def test_the_scan_sees_the_imports_it_must_judge() -> None:
    """The scan finds the direct imports of requests and yarl (so the check above can fail)."""
    modules = imported_top_levels()
    assert modules["requests"] == "daemon/medic/drivers/docker.py"
    assert {"yarl", "aiohttp", "yaml", "re2"} <= set(modules)
