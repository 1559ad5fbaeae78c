"""A wheel of this checkout, built from a copy so the shared tree is not written to
(tests/packaging checks what it holds; tests/systemd installs it in a node)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a build reads: the package, its metadata, and what setup.py ships inside it.
SOURCES = (
    "pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "NOTICE",
    "daemon/medic", "policies", "systemd", "docs/deployment.md",
)  # fmt: skip


def build_wheel(out: Path) -> Path:
    """``pip wheel --no-deps`` of a copy of this checkout under ``out``; the wheel's path."""
    src = out / "src"
    for rel in SOURCES:
        source, target = ROOT / rel, src / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(source, target)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"building the medic wheel failed:\n{done.stderr[-3000:]}", pytrace=False)
    return next(out.glob("*.whl"))
