"""Looking a type up imports the module that holds it, not every plugin (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from medic.registry import entry_names_for

REPO = Path(__file__).resolve().parent.parent


def _modules_after(code: str) -> set[str]:
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_entry_names_tried_for_a_type() -> None:
    """The name, dots as underscores, then its first and last dotted parts."""
    assert entry_names_for("container.logs") == (
        "container.logs",
        "container_logs",
        "container",
        "logs",
    )
    assert entry_names_for("process") == ("process",)


def test_one_lookup_imports_one_module() -> None:
    """`probes.get("process")` imports the process probe and no other probe module."""
    modules = _modules_after(
        """
        from medic.probes.base import probes
        from medic.actions.base import actions
        assert probes.get("process").type_name == "process"
        assert actions.get("command").type_name == "command"
        """
    )
    assert "medic.probes.system.process" in modules
    assert "medic.actions.command" in modules
    assert [m for m in modules if m.startswith("medic.probes.network")] == []
    assert "medic.actions.container" not in modules


def test_a_missed_guess_loads_every_module() -> None:
    """A type no guess finds (`log` lives in entry `logfile`), or no type at all, is
    looked for in every module: the answer never depends on the guess."""
    modules = _modules_after(
        """
        from medic.probes.base import probes
        assert probes.get("log").type_name == "log"
        assert probes.get("no.such.type") is None
        """
    )
    assert "medic.probes.network.http" in modules
