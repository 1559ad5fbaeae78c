"""What loading policy files gives: one :class:`FileResult` per file, a :class:`LoadResult` for all.

These two are the only envelopes on the load path. ``medic validate``, ``medic test``,
``medic diff`` and the agent read the same :class:`LoadResult`; the agent also keeps the
one it runs, made by :meth:`LoadResult.over` from a fresh load and the one before it
(a rejected file keeps running its last good version), and the API lists its rejected
files from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medic.errors import Location, PolicyError
from medic.policy.dependencies import Dependency
from medic.policy.model import Policy


@dataclass(frozen=True)
class FileResult:
    """One file's outcome: its policies, or the errors that reject it as a whole.

    Loaded fresh, a file with errors gives no policies. In the set an agent runs
    (:meth:`LoadResult.over`) a rejected file that loaded before gives its last good
    version's policies, and ``kept`` says so.
    """

    path: Path
    policies: tuple[Policy, ...]
    errors: tuple[PolicyError, ...]
    kept: bool = False
    # What the checks across files read (unique names, ``depends_on``), also for a
    # rejected file: every named policy with where its name is written, and its links.
    names: tuple[tuple[str, Location], ...] = field(default=(), compare=False, repr=False)
    depends: tuple[Dependency, ...] = field(default=(), compare=False, repr=False)

    @property
    def runs(self) -> bool:
        """True when it gives policies to run: it loaded, or it keeps its last good version."""
        return not self.errors or self.kept


@dataclass(frozen=True)
class LoadResult:
    """Every file of a load, in load order (paths as given, each folder sorted)."""

    files: tuple[FileResult, ...] = ()

    @property
    def policies(self) -> list[Policy]:
        """The policies to run: from files that loaded (and kept versions of rejected ones)."""
        return [p for f in self.files for p in f.policies]

    @property
    def errors(self) -> list[PolicyError]:
        return [e for f in self.files for e in f.errors]

    def running(self) -> dict[str, Policy]:
        """The policies by name, the first of each name."""
        out: dict[str, Policy] = {}
        for policy in self.policies:
            out.setdefault(policy.name, policy)
        return out

    def rejected(self) -> list[dict[str, Any]]:
        """Files whose last load failed: ``{"file", "errors": [str, ...]}``, by path."""
        last = {f.path: f for f in self.files if f.errors}
        return [
            {"file": str(path), "errors": [str(e) for e in fr.errors]}
            for path, fr in sorted(last.items())
        ]

    def over(self, previous: LoadResult) -> LoadResult:
        """This fresh load as the agent runs it after ``previous``, the set it ran before.

        A file rejected now keeps the policies it ran before (``kept``); a file that is
        gone is dropped. Files that ran before keep their place, so when two give the
        same name the one that ran stays the one that runs; the others follow in load
        order.
        """
        ran = {f.path: f for f in previous.files if f.runs}
        fresh: dict[Path, FileResult] = {}
        for fr in self.files:
            before = ran.get(fr.path)
            if fr.errors and before is not None:
                fresh[fr.path] = replace(fr, policies=before.policies, kept=True)
            else:
                fresh[fr.path] = fr
        order = [p for p in ran if p in fresh] + [p for p in fresh if p not in ran]
        return LoadResult(tuple(fresh[p] for p in order))
