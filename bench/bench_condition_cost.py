"""What one condition costs to evaluate: typical conditions, and adversarial regexes.

Every `matches` runs on RE2 over at most MAX_SUBJECT characters, and a pattern
compiles to at most MAX_PROGRAM instructions, so even the worst pattern on the worst
text has a ceiling. This prints the time per evaluation (median and slowest of the
repeats) for:

- typical conditions (comparisons, a case-insensitive search in a short line and in a
  full 16 KiB command output);
- nested repetition, `(a+)+$` on 'a'*N + 'b' for growing N: exponential on Python's
  `re`, flat on RE2 (N beyond MAX_SUBJECT is cut);
- the most expensive patterns we know for RE2 (DFA state blow-up, the largest program
  allowed) on MAX_SUBJECT characters of random text: the ceiling.

`--python-re` adds Python's backtracking `re` on `(a+)+$` for small N, for comparison.

    .venv/bin/python bench/bench_condition_cost.py [--python-re]
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from medic.patterns import MAX_PROGRAM, MAX_SUBJECT
from medic.policy.expr import compile_expression

REPEATS = 20


def per_call(call: Callable[[], object], repeats: int = REPEATS) -> tuple[float, float]:
    """Median and slowest wall time of ``call``, in seconds."""
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), max(walls)


def row(label: str, condition: str, fields: Mapping[str, Any], repeats: int = REPEATS) -> None:
    expression = compile_expression(condition)
    value = expression.evaluate(fields)
    median, worst = per_call(lambda: expression.evaluate(fields), repeats)
    print(f"{label:<52} {median * 1e6:10.1f} us  max {worst * 1e6:10.1f} us  -> {value}")


def main() -> None:
    print(f"MAX_SUBJECT = {MAX_SUBJECT} characters, MAX_PROGRAM = {MAX_PROGRAM} instructions")
    print("\n# typical conditions")
    line = "2024-05-01T10:00:00Z api[123]: request served in 12ms " * 4
    output = ("OK - queue depth 120 | depth=120;1000;5000 " * 400)[:MAX_SUBJECT]
    row(
        "status == 'critical' or depth > 5000",
        'status == "critical" or depth > 5000',
        {"status": "ok", "depth": 120},
    )
    row(
        "memory_percent > 90 and not running",
        "memory_percent > 90 and not running",
        {"memory_percent": 50.0, "running": True},
    )
    row("line matches (?i)error (200 chars)", 'line matches "(?i)error"', {"line": line})
    row(
        "output matches (?i)error|fatal (16 KiB)",
        'output matches "(?i)error|fatal"',
        {"output": output},
    )
    row(
        "output matches named groups (16 KiB)",
        r'output matches "(?P<level>ERROR|WARN) (?P<msg>.*)"',
        {"output": output},
    )

    print("\n# nested repetition: output matches (a+)+$ on 'a'*N + 'b'")
    for n in (10, 100, 1_000, 10_000, 100_000, 1_000_000):
        row(f"N = {n}", 'output matches "(a+)+$"', {"output": "a" * n + "b"})

    print(f"\n# the ceiling: {MAX_SUBJECT} characters of random a/b")
    rng = random.Random(1)
    text = "".join(rng.choice("ab") for _ in range(MAX_SUBJECT))
    for pattern in (
        "(a|b)*a(a|b){20}c",  # a DFA of 2^20 states: RE2's cache thrashes
        "((a|b){1,24}){1,20}c",  # 964 instructions, just under MAX_PROGRAM
        "(.*a){30}",
        r"^(\w+\s?)*$",
    ):
        row(f"matches {pattern}", f'output matches "{pattern}"', {"output": text}, 5)

    if "--python-re" in sys.argv:
        print("\n# for comparison, Python's re: (a+)+$ on 'a'*N + 'b'")
        pattern = re.compile(r"(a+)+$")
        for n in (16, 18, 20, 22):
            subject = "a" * n + "b"
            median, _ = per_call(lambda s=subject: pattern.search(s), 3)  # type: ignore[misc]
            print(f"N = {n:<49} {median * 1e6:10.1f} us")


if __name__ == "__main__":
    main()
