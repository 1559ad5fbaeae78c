"""The worked third-party plugin (examples/medic-plugin-example), installed as a user
would next to Medic, is loaded and run by the real ``medic`` command (docs/plugins.md).

Medic's wheel of this checkout and the example are pip-installed into one ``--target``
folder; the shared virtualenv provides the dependencies and the ``medic`` script. A
fresh virtualenv would have to download every dependency on each run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "medic-plugin-example"
MEDIC = Path(sys.executable).parent / "medic"


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Medic (this checkout's wheel) and the example plugin, installed into one folder."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "src"  # a copy: building writes egg-info next to the sources
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("*.egg-info", "build"))
    target = root / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", str(target), str(wheel), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def medic(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``medic`` script, importing Medic and the plugin from ``site`` only."""
    env = {**os.environ, "PYTHONPATH": str(site), "NO_COLOR": "1"}
    return subprocess.run(
        [str(MEDIC), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_example_imports_nothing_but_the_plugin_kit() -> None:
    """Every medic import in the example package is ``from medic.plugin import ...``."""
    lines = [
        line.strip()
        for path in sorted(EXAMPLE.rglob("*.py"))
        for line in path.read_text().splitlines()
        if line.strip().startswith(("from medic", "import medic"))
    ]
    assert lines
    assert [line for line in lines if not line.startswith("from medic.plugin import")] == []


def test_medic_lists_the_plugin_probe(site: Path, tmp_path: Path) -> None:
    """`medic probe --list` names example.spool beside the built-ins."""
    listed = medic(site, "probe", "--list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines() if line.strip()}
    assert "host.memory" in rows
    assert "exists, files, oldest_age" in rows["example.spool"]


def test_medic_validates_a_policy_using_the_plugin(site: Path, tmp_path: Path) -> None:
    """`medic validate` accepts the example's policy and refuses a misspelt option of it."""
    checked = medic(site, "validate", str(EXAMPLE / "policy.yaml"), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 polic" in checked.stdout
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        (EXAMPLE / "policy.yaml").read_text().replace("older_than: 1h", "older_then: 1h")
    )
    refused = medic(site, "validate", str(wrong), cwd=tmp_path)
    assert refused.returncode != 0
    assert "older_then" in refused.stdout + refused.stderr


def test_medic_runs_the_plugin_probe_once(site: Path, tmp_path: Path) -> None:
    """`medic probe example.spool` measures a real directory through the installed plugin."""
    spool = tmp_path / "spool"
    spool.mkdir()
    for name in ("a.msg", "b.msg"):
        (spool / name).write_text("x")
    old = time.time() - 7200
    os.utime(spool / "a.msg", (old, old))
    (spool / "sub").mkdir()
    run = medic(site, "probe", "example.spool", f"path={spool}", "-o", "json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    fields = json.loads(run.stdout)[str(spool)]
    assert fields["exists"] is True
    assert fields["files"] == 2
    assert fields["oldest_age"] >= 7190


SWEEP = """
import asyncio, sys
from medic.plugin import ActionContext, actions
cls = actions.get("example.sweep")
step = cls({"to": sys.argv[2], "older_than": "1h"})
ctx = ActionContext(policy="p", target=sys.argv[1], incident="i", fields={}, timeout=5.0)
print(step.describe(ctx))
print(asyncio.run(step.run(ctx)).summary)
"""


def sweep(site: Path, spool: Path, stuck: Path, aged: Path) -> subprocess.CompletedProcess[str]:
    """Make ``aged`` two hours old, then run example.sweep from the installed plugin."""
    old = time.time() - 7200
    os.utime(aged, (old, old))
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", SWEEP, str(spool), str(stuck)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_the_plugin_action_moves_only_old_files_aside(site: Path, tmp_path: Path) -> None:
    """example.sweep, loaded through its entry point, moves the old file and leaves the new."""
    spool, stuck = tmp_path / "spool", tmp_path / "stuck"
    spool.mkdir()
    (spool / "old.msg").write_text("x")
    (spool / "new.msg").write_text("y")
    done = sweep(site, spool, stuck, aged=spool / "old.msg")
    assert done.stdout.splitlines() == [
        f"move files older than 1h from {spool} to {stuck}",
        f"moved 1 file(s) to {stuck}",
    ]
    assert sorted(p.name for p in spool.iterdir()) == ["new.msg"]
    assert sorted(p.name for p in stuck.iterdir()) == ["old.msg"]


def test_the_plugin_action_never_overwrites_a_file_already_set_aside(
    site: Path, tmp_path: Path
) -> None:
    """example.sweep leaves an old file in the spool when ``to`` already has that name."""
    spool, stuck = tmp_path / "spool", tmp_path / "stuck"
    spool.mkdir()
    stuck.mkdir()
    (spool / "msg.1").write_text("second")
    (stuck / "msg.1").write_text("first")
    done = sweep(site, spool, stuck, aged=spool / "msg.1")
    assert done.stdout.splitlines()[-1] == f"moved 0 file(s) to {stuck}"
    assert (stuck / "msg.1").read_text() == "first"
    assert (spool / "msg.1").read_text() == "second"
