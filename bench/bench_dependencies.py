"""``depends_on`` benchmark: 1,000 densely linked policies validate in under 1 s.

    .venv/bin/python bench/bench_dependencies.py [--policies 1000] [--links 20]

Three figures:

(a) the cycle check alone on ``--policies`` policies that each depend on every other
    (one big cycle component, n*(n-1) links);
(b) ``load_paths`` end to end on ``--policies`` policies in one file, each depending on
    ``--links`` others, with cycles (each reports its error);
(c) the same without cycles (each depends only on policies defined before it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from medic.errors import Location, PolicyError
from medic.policy.dependencies import Dependency, check_dependencies
from medic.policy.loader import load_paths

TARGET_S = 1.0


def dense_check(count: int) -> float:
    """Seconds to check ``count`` policies that each depend on all the others."""
    names = [f"p{i:04d}" for i in range(count)]
    where = Location("bench.yaml", 1, 1)
    deps: list[Dependency] = [(a, b, where) for a in names for b in names if a != b]
    problems: list[PolicyError] = []
    start = time.perf_counter()
    check_dependencies([(deps, problems)], set(names))
    elapsed = time.perf_counter() - start
    assert len(problems) == count, len(problems)
    return elapsed


def policy_file(count: int, links: int, *, cyclic: bool) -> str:
    lines = ["version: 1", "policies:"]
    for index in range(count):
        if cyclic:
            deps = [f"p{(index + k) % count:04d}" for k in range(1, links + 1)]
        else:
            deps = [f"p{j:04d}" for j in range(max(0, index - links), index)]
        lines += [
            f"  - name: p{index:04d}",
            "    probe: {type: host.memory}",
            "    when: percent > 90",
            f"    depends_on: [{', '.join(deps)}]",
        ]
    return "\n".join(lines) + "\n"


def load(count: int, links: int, *, cyclic: bool) -> float:
    with tempfile.TemporaryDirectory(prefix="medic-bench-deps-") as tmp:
        path = Path(tmp) / "dense.yaml"
        path.write_text(policy_file(count, links, cyclic=cyclic))
        start = time.perf_counter()
        result = load_paths([path])
        elapsed = time.perf_counter() - start
    assert bool(result.errors) == cyclic, [str(e) for e in result.errors[:3]]
    return elapsed


def show(label: str, seconds: float) -> None:
    verdict = "ok" if seconds <= TARGET_S else "OVER TARGET"
    print(f"{label:58} {seconds * 1000:8.1f} ms  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--links", type=int, default=20)
    args = parser.parse_args()
    n, k = args.policies, args.links
    load(10, 2, cyclic=False)  # compile the validators outside the timings
    show(f"(a) cycle check, {n} policies x {n - 1} links each", dense_check(n))
    show(f"(b) load_paths, {n} policies x {k} links, cyclic", load(n, k, cyclic=True))
    show(f"(c) load_paths, {n} policies x {k} links, acyclic", load(n, k, cyclic=False))


if __name__ == "__main__":
    main()
