"""Build hook: ship the example packs, the systemd unit and the deployment page.

``policies/``, ``systemd/`` and ``docs/`` stay at the repository root, their one source
of truth; building the wheel copies them into the package as ``medic/share/`` with the
same relative paths, where :mod:`medic.packaged` finds them (``medic init``,
``scripts/install-node.sh``). Everything else lives in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Keep in step with medic.packaged.SHARED (a test builds a wheel and compares).
SHARED = ("policies", "systemd/medic.service", "systemd/medic.default", "docs/deployment.md")


class BuildWithShare(build_py):
    """``build_py`` that also copies :data:`SHARED` into ``medic/share/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them from the checkout itself
        share = Path(self.build_lib) / "medic" / "share"
        for rel in SHARED:
            source, target = ROOT / rel, share / rel
            if not source.exists():
                raise SystemExit(f"setup.py: {source} is missing; build from a full checkout")
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(
                    source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                shutil.copy2(source, target)


setup(cmdclass={"build_py": BuildWithShare})
