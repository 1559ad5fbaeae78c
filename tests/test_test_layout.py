"""The test tree's layout: shared helpers in the ``kit`` package, nothing on sys.path by
hand, no conftest imported by name, so any set of test folders runs in one call."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# Spelled in two parts so this file does not find itself.
FORBIDDEN = ("sys.path." + "insert", "sys.path." + "append", "from " + "conftest import")


def _sources() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_test_edits_sys_path_or_imports_a_conftest() -> None:
    """No file under tests/ puts a folder on sys.path or imports a conftest by name."""
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _sources()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if any(word in line for word in FORBIDDEN) or line.strip() == "import " + "conftest"
    ]
    assert found == [], "move the helper into tests/kit/ and import it from there"


def test_no_test_imports_another_folders_test_module() -> None:
    """A test module found only because another folder's test was collected first is
    missing when its own folder runs alone: shared pieces live in tests/kit/."""
    imported = re.compile(r"^\s*(?:from|import) (test_\w+)", re.MULTILINE)
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources()
        for name in imported.findall(path.read_text())
        if not (path.parent / f"{name}.py").exists()
    ]
    assert found == [], "move what they share into tests/kit/"


def test_test_folders_hold_only_tests_and_fixtures() -> None:
    """Outside tests/kit/ a module is a test_*.py or a conftest.py: a helper beside its
    tests would be imported by its bare name and could shadow another folder's."""
    kit = TESTS / "kit"
    helpers = [
        str(path.relative_to(ROOT))
        for path in _sources()
        if kit not in path.parents
        and not path.name.startswith("test_")
        and path.name != "conftest.py"
    ]
    assert helpers == [], "move these into tests/kit/"


def test_api_web_and_fleet_collect_together_from_another_directory(tmp_path: Path) -> None:
    """Three folders whose conftests used to shadow each other collect in one call, run
    from a directory outside the checkout."""
    folders = [str(TESTS / name) for name in ("api", "web", "fleet")]
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*argv, *folders],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " error" not in done.stdout.splitlines()[-1], done.stdout[-3000:]
