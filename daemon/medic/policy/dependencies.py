"""``depends_on`` across policy files: every name defined somewhere, and no cycles.

A policy that depends on another does not act while that one fires. The loader
collects each file's dependencies (:func:`dependencies_of`) and, once every file is
read, checks them all together (:func:`check_dependencies`): a name no file defines
gets a did-you-mean, and each policy of a cycle gets an error naming the whole cycle.
"""

from __future__ import annotations

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
            links = graph.get(policy)
            if links is None:
                links = graph[policy] = []
                owner[policy] = problems
            links.append((dep, where))
            if dep not in defined:
                import difflib  # here: only a mistake needs a guess

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
    for component in _strong_components(graph):
        cycles = _Cycles(graph, component)
        for policy in component:
            cycle = cycles.through(policy)
            where = next(w for d, w in graph[policy] if d == cycle[1])
            owner[policy].append(
                PolicyError(
                    f"depends_on makes a cycle: {_show_cycle(cycle)}",
                    location=where,
                    policy=policy,
                    hint="policies that inhibit each other would never act; remove one link",
                )
            )


# A cycle longer than this is shown by its ends: the message stays one readable line.
_SHOWN = 8


def _show_cycle(cycle: list[str]) -> str:
    """The cycle from its least policy, so every member's message shows the same text."""
    first = cycle.index(min(cycle))
    names = [*cycle[first:], *cycle[:first], cycle[first]]
    if len(names) > _SHOWN:
        hidden = len(names) - _SHOWN
        names = [*names[: _SHOWN // 2], f"... {hidden} more ...", *names[-_SHOWN // 2 :]]
    return " -> ".join(names)


def _strong_components(graph: dict[str, list[tuple[str, Location]]]) -> list[list[str]]:
    """Groups of policies that all reach each other (more than one policy), sorted.

    Tarjan's algorithm without recursion: linear in policies plus links, so a
    thousand densely linked policies take milliseconds.
    """
    adjacency = {node: [dep for dep, _ in links] for node, links in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def enter(node: str) -> tuple[str, Iterator[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        return node, iter(adjacency.get(node, ()))

    for root in sorted(graph):
        if root in index:
            continue
        work = [enter(root)]
        while work:
            node, deps = work[-1]
            for dep in deps:
                if dep not in index:
                    work.append(enter(dep))
                    break
                if dep in on_stack and index[dep] < low[node]:
                    low[node] = index[dep]
            else:  # every link of ``node`` followed: back to the policy that led here
                work.pop()
                if work and low[node] < low[work[-1][0]]:
                    low[work[-1][0]] = low[node]
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


class _Cycles:
    """A cycle through any policy of one component, from two breadth-first trees.

    Every member reaches the root (the least name) and the root reaches every member,
    so ``member -> its first link -> ... -> root -> ... -> member`` is a closed walk;
    cutting out the detours where it passes a policy twice leaves a cycle. Building
    the trees is linear, and each cycle costs its own length.
    """

    def __init__(self, graph: dict[str, list[tuple[str, Location]]], members: list[str]) -> None:
        self.members = set(members)
        self.root = members[0]
        self.links = {m: [d for d, _ in graph[m] if d in self.members] for m in members}
        backward: dict[str, list[str]] = {m: [] for m in members}
        for member, deps in self.links.items():
            for dep in deps:
                backward[dep].append(member)
        self.from_root = self._tree(self.links)  # member -> the policy before it from root
        self.to_root = self._tree(backward)  # member -> the next policy towards root

    def _tree(self, edges: dict[str, list[str]]) -> dict[str, str]:
        parent: dict[str, str] = {}
        frontier = [self.root]
        while frontier:
            following = []
            for node in frontier:
                for nxt in edges[node]:
                    if nxt not in parent and nxt != self.root:
                        parent[nxt] = node
                        following.append(nxt)
            frontier = following
        return parent

    def through(self, policy: str) -> list[str]:
        """The policies of a cycle that starts with ``policy`` and its first link in it."""
        walk = [policy]
        node = self.links[policy][0]
        while node != self.root:
            walk.append(node)
            node = self.to_root[node]
        walk.append(self.root)
        down = [policy]
        while down[-1] != self.root:
            down.append(self.from_root[down[-1]])
        walk.extend(reversed(down[1:-1]))
        # cut detours: when a policy comes round again, drop what lies between
        cycle: list[str] = []
        seen: dict[str, int] = {}
        for node in walk if walk[-1] != policy else walk[:-1]:
            if node in seen:
                for dropped in cycle[seen[node] + 1 :]:
                    del seen[dropped]
                del cycle[seen[node] + 1 :]
            else:
                seen[node] = len(cycle)
                cycle.append(node)
        return cycle
