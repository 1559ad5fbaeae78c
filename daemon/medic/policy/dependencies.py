"""``depends_on`` across policy files: every name defined somewhere, and no cycles.

A policy that depends on another does not act while that one fires. The loader
collects each file's dependencies (:func:`dependencies_of`) and, once every file is
read, checks them all together (:func:`check_dependencies`): a name no file defines
gets a did-you-mean, and each policy of a cycle gets an error naming the whole cycle.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from medic.errors import Location, PolicyError
from medic.policy.yamlpos import Document

# (policy, the policy it depends on, where that name is written)
Dependency = tuple[str, str, Location]


def dependencies_of(doc: Document, file: str, raw: list[Any]) -> Iterator[Dependency]:
    """Every (policy, depends_on name, where it is written) of a file."""
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        names = item.get("depends_on")
        for dep_index, dep in enumerate(names if isinstance(names, list) else []):
            if isinstance(dep, str) and dep != item["name"]:
                where = doc.locate(("policies", index, "depends_on", dep_index))
                yield item["name"], dep, Location(file, where.line, where.column)


def check_dependencies(
    files: Sequence[tuple[Sequence[Dependency], list[PolicyError]]], defined: Collection[str]
) -> None:
    """``depends_on`` names a policy some file defines, and no dependencies form a cycle.

    ``files``: each file's dependencies with the list its problems are added to;
    ``defined``: every policy name of every file. A name defined in a rejected file
    still counts: that file keeps its previous version running, and one typo must not
    reject the files that depend on it.
    """
    graph: dict[str, list[tuple[str, Location]]] = {}
    owner: dict[str, list[PolicyError]] = {}
    for depends, problems in files:
        for policy, dep, where in depends:
            graph.setdefault(policy, []).append((dep, where))
            owner[policy] = problems
            if dep not in defined:
                close = difflib.get_close_matches(dep, list(defined), n=1, cutoff=0.6)
                guess = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(
                    PolicyError(
                        f"depends_on names {dep!r}, which no policy file defines{guess}",
                        location=where,
                        policy=policy,
                        hint="name a policy from the loaded files, or remove it",
                    )
                )
    for cycle in _cycles(graph):
        text = " -> ".join([*cycle, cycle[0]])
        for index, policy in enumerate(cycle):
            nxt = cycle[(index + 1) % len(cycle)]
            where = next(w for d, w in graph[policy] if d == nxt)
            owner[policy].append(
                PolicyError(
                    f"depends_on makes a cycle: {text}",
                    location=where,
                    policy=policy,
                    hint="policies that inhibit each other would never act; remove one link",
                )
            )


def _cycles(graph: dict[str, list[tuple[str, Location]]]) -> list[list[str]]:
    """Each dependency cycle once, as the policies in it, in dependency order."""
    found: list[list[str]] = []
    for start in sorted(graph):
        # Walk every path from ``start``; a path that comes back to it is a cycle.
        paths: list[list[str]] = [[start]]
        while paths:
            path = paths.pop()
            for dep, _ in graph.get(path[-1], ()):
                if dep == start:
                    if not any(set(path) == set(c) for c in found):
                        found.append(path)
                elif dep not in path and dep > start:  # each cycle from its least member
                    paths.append([*path, dep])
    return found
