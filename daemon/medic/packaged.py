"""The files Medic ships beside its code: example packs, the systemd unit, the docs page.

Their source of truth is the repository root (``policies/``, ``systemd/``, ``docs/``);
building the wheel copies them into the package as ``medic/share/`` with the same
relative paths (see ``setup.py``). Run from a checkout (``PYTHONPATH=daemon`` or an
editable install) there is no ``share/``, and the checkout's own files are used.
"""

from __future__ import annotations

from pathlib import Path

from medic.errors import MedicError

# Keep in step with SHARED in setup.py (a test builds a wheel and compares).
SHARED = ("policies", "systemd/medic.service", "systemd/medic.default", "docs/deployment.md")

_PACKAGE = Path(__file__).resolve().parent
_SHARE = _PACKAGE / "share"
_CHECKOUT = _PACKAGE.parents[1]


def shared(rel: str) -> Path:
    """Where the shipped file or folder ``rel`` (one of :data:`SHARED`) is on this install."""
    if rel not in SHARED:
        raise ValueError(f"{rel!r} is not shipped with Medic; shipped: {', '.join(SHARED)}")
    for base in (_SHARE, _CHECKOUT):
        if (base / rel).exists():
            return base / rel
    raise MedicError(
        f"{rel} is missing from this installation of Medic (looked in {_SHARE})",
        hint="reinstall from a wheel (pip install medic-agent) or run from a full checkout",
    )


def packs() -> dict[str, Path]:
    """The example policy packs, by name (``host``, ``containers``, ...)."""
    root = shared("policies")
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir()}
