"""The samples of one field of one target kept for window functions
(``p95(latency_ms[5m])``), and the windows a policy reads."""

from __future__ import annotations

import bisect
import math
from typing import Any

from medic.policy.expr_windows import Window
from medic.policy.model import Policy

# Samples one ring holds at most; beyond it the older half is thinned.
MAX_POINTS = 2048


def _time(point: tuple[float, float]) -> float:
    return point[0]


class Ring:
    """The samples of one field of one target, oldest first, at most :data:`MAX_POINTS`.

    Older than the longest window (plus one interval) is dropped. Past the cap, every
    other sample of the older half goes: recent samples stay dense, old ones thin out.
    """

    __slots__ = ("points",)

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def add(self, t: float, value: float, keep_from: float) -> None:
        points = self.points
        if points and t <= points[-1][0]:
            return  # already have it (a refill overlapping the live samples)
        points.append((t, value))
        if points[0][0] < keep_from:
            del points[: bisect.bisect_left(points, keep_from, key=_time)]
        if len(points) > MAX_POINTS:
            half = len(points) // 2
            points[:half] = points[0:half:2]


def number(value: Any) -> float | None:
    """A ring keeps numbers; booleans count as 1 and 0."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def policy_windows(policy: Policy) -> tuple[Window, ...]:
    """The windows the policy's conditions read, in a stable order."""
    found = set(policy.when.windows)
    if policy.clear_when is not None:
        found |= policy.clear_when.windows
    return tuple(sorted(found, key=lambda w: w.key))
