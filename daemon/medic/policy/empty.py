"""Zero policies is a mistake until said otherwise.

An agent pointed at an empty or wrong directory would run, report healthy and heal
nothing: a volume that was not mounted, a typo in ``policies:``. ``medic validate``
fails on it unless ``--allow-empty``; ``medic run`` starts (files may appear later and
are then picked up) but logs the same message as an error at every load that finds none.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog

from medic.errors import Location, PolicyError
from medic.policy.result import LoadResult

log = structlog.get_logger("medic.policies")


def no_policies(
    result: LoadResult, paths: Sequence[Path], *, escape: str = ""
) -> PolicyError | None:
    """The error for a load that found no policy at all (and no error); else ``None``.

    ``escape`` ends the hint: how to say that none is intended."""
    if result.errors or any(f.policies for f in result.files):
        return None
    searched = ", ".join(str(p) for p in paths) or "(no paths)"
    read = "1 policy file" if len(result.files) == 1 else f"{len(result.files)} policy files"
    return PolicyError(
        f"no policies found in {searched} ({read} read)",
        location=Location(str(paths[0])) if len(paths) == 1 else None,
        hint="point the config's `policies:` (or PATHS) at your policy files; "
        "`medic init DIR` writes the example packs" + (f"; {escape}" if escape else ""),
    )


def warn_if_empty(result: LoadResult, paths: Sequence[Path]) -> bool:
    """Log ``policies.none`` as an error when a load found no policy; True if it did."""
    empty = no_policies(result, paths)
    if empty is not None:
        log.error("policies.none", message=empty.message, hint=empty.hint)
    return empty is not None
