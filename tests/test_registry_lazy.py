"""Looking a type up imports the module that holds it, not every plugin (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from medic.registry import Registry, entry_names_for

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


def test_a_lookup_waits_for_an_import_under_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second thread asking for a type while the first imports its module gets the
    class, not None (policies load in a worker while the loop looks types up)."""
    registry: Registry[type] = Registry("probe", "medic.tests.slow-group")
    monkeypatch.setattr(sys.modules[__name__], "SLOW_REGISTRY", registry, raising=False)
    (tmp_path / "medic_slow_plugin.py").write_text(
        "import time\n"
        f"from {__name__} import SLOW_REGISTRY\n"
        "time.sleep(0.3)\n"
        "@SLOW_REGISTRY.register('slow')\n"
        "class Slow:\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._entries = {"slow": EntryPoint("slow", "medic_slow_plugin", "medic.tests.slow-group")}
    found: dict[str, object] = {}
    first = threading.Thread(target=lambda: found.update(first=registry.get("slow")))
    first.start()
    time.sleep(0.1)  # the first thread is inside the import now
    found["second"] = registry.get("slow")
    first.join()
    assert found["first"] is not None
    assert found["second"] is found["first"]
