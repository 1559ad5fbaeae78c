"""Plugins depend on the plugin kit, never on the policy language or the engine (issue 15).

The arrows point down: ``probes/``, ``actions/``, ``notify/`` and ``drivers/`` import
neither ``medic.policy`` nor ``medic.engine`` (not even inside a function), actions
and probes share clients through ``drivers/``, and importing the kit and every
built-in plugin loads no module of the policy language or the engine at all.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "daemon" / "medic"
PLUGIN_DIRS = ("probes", "actions", "notify", "drivers")
ABOVE = ("medic.policy", "medic.engine", "medic.api", "medic.cli")


def imported(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, anywhere in it, with the line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def offenders(folders: tuple[str, ...], banned: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        for folder in folders
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        for line, name in imported(path)
        if name in banned or name.startswith(tuple(f"{b}." for b in banned))
    ]


def test_no_plugin_module_imports_the_policy_language_or_the_engine() -> None:
    """No module under probes/, actions/, notify/ or drivers/ imports policy/ or engine/."""
    assert offenders(PLUGIN_DIRS, ABOVE) == []


def test_the_kit_imports_nothing_above_it() -> None:
    """medic.plugin and the modules it re-exports from import no policy/engine module."""
    kit = ("plugin.py", "option_schemas.py", "durations.py", "cron.py", "proc.py", "secrets.py")
    found = [
        f"{name}:{line} imports {module}"
        for name in kit
        for line, module in imported(PACKAGE / name)
        if module.startswith(tuple(f"{b}." for b in ABOVE))
    ]
    assert found == []


def test_actions_reach_shared_clients_through_drivers_not_probes() -> None:
    """No action imports a probe module; notifiers import neither probes nor actions."""
    assert offenders(("actions",), ("medic.probes",)) == []
    assert offenders(("notify",), ("medic.probes", "medic.actions")) == []
    assert offenders(("drivers",), ("medic.probes", "medic.actions", "medic.notify")) == []


def test_loading_the_kit_and_every_plugin_loads_no_policy_or_engine_module() -> None:
    """A fresh interpreter that imports medic.plugin and loads every registry holds no
    module of policy/, engine/, api/ or cli/."""
    code = (
        "import json, sys\n"
        "from medic.plugin import actions, notifiers, probes\n"
        "for registry in (probes, actions, notifiers):\n"
        "    registry.load()\n"
        "    assert registry.names(), registry.kind\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert [m for m in modules if m.startswith(tuple(f"{b}." for b in ABOVE))] == []


def closed_by_hand(path: Path) -> list[int]:
    """Lines of dict literals in ``path`` that write ``"additionalProperties": False``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "additionalProperties"
                    and isinstance(value, ast.Constant)
                    and value.value is False
                ):
                    lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("folder", PLUGIN_DIRS)
def test_plugins_close_their_schemas_with_options_schema(folder: str) -> None:
    """No plugin writes ``additionalProperties: False`` by hand: options_schema() does."""
    found = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        for line in closed_by_hand(path)
    ]
    assert found == []
