"""What the policy fuzz tests share: the shipped packs, mutations, and the verdict on one file.

A mutation changes a shipped policy file the way people and tools break files: a value
swapped for a hostile one (``.nan``, a 5,000-digit integer, ``1ms``, a mapping where a
word belongs), a line dropped, doubled or cut, bytes that are not UTF-8, control
characters, an unclosed bracket or quote, a self-merging alias, deep nesting. Every
mutant must be refused or accepted cleanly: never an internal error, every error at a
file and a line, and never slower than :data:`MAX_SECONDS`.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from medic.policy.loader import load_bytes

PACKS = Path(__file__).resolve().parents[2] / "policies"
MAX_SECONDS = 2.0

HOSTILE_VALUES = [
    ".nan",
    ".NaN",
    ".inf",
    "-.inf",
    "-1",
    "0",
    "0s",
    "1ms",
    "0.0001",
    "1" + "0" * 400,
    "9" * 5000,
    "1.0e+400",
    "99999999999999999999w",
    "1e3",
    "yes",
    "no",
    "null",
    "~",
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "{a: {b: {c: 1}}}",
    "''",
    '"\\x01\\x7f"',
    "0000-01-01",
    "2024-13-45",
    "2024-01-01T25:61:61Z",
    "!!binary aGVsbG8=",
    "!!float nan",
    "!!int 1_000_000_000_000_000_000_000",
    "!!timestamp 0000-00-00",
    "!custom x",
    "*undefined",
    "&a [*a]",
    "0x7fffffffffffffffffff",
    "0o777777777777777777777777777",
    "1:00:00:00:00:00",
    "'" + "x" * 20000 + "'",
    "'\U0001f600'",
]
_VALUE = re.compile(r"(:\s+)([^\s#][^\n#]*?)(\s*(?:#.*)?)$", re.MULTILINE)
_INLINE = re.compile(r"(:\s*)([^,{}\[\]\n]+)([,}\]])")


def pack_files() -> list[tuple[str, bytes]]:
    """Every shipped policy file, as (name, bytes)."""
    files = sorted(p for p in PACKS.rglob("*") if p.suffix in (".yaml", ".yml"))
    return [(str(p.relative_to(PACKS.parent)), p.read_bytes()) for p in files]


def _replace_value(rng: random.Random, text: str) -> str:
    """One block or inline value swapped for a hostile one."""
    pattern = rng.choice([_VALUE, _INLINE])
    found = list(pattern.finditer(text))
    if not found:
        return text
    match = rng.choice(found)
    value = rng.choice(HOSTILE_VALUES)
    return text[: match.start(2)] + value + text[match.end(2) :]


def _lines(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    index = rng.randrange(len(lines))
    action = rng.choice(["drop", "double", "swap", "indent", "dedent"])
    if action == "drop":
        del lines[index]
    elif action == "double":
        lines.insert(index, lines[index])
    elif action == "swap" and index + 1 < len(lines):
        lines[index], lines[index + 1] = lines[index + 1], lines[index]
    elif action == "indent":
        lines[index] = " " * rng.choice([1, 2, 3, 4]) + lines[index]
    else:
        lines[index] = lines[index].lstrip()
    return "\n".join(lines)


def _insert(rng: random.Random, text: str) -> str:
    """A hostile fragment at a random place: a bracket, a quote, an alias, a tab."""
    pieces = [
        "[",
        "{",
        "'",
        '"',
        "]",
        "}",
        "\t",
        ": ",
        "- ",
        "&c {<<: *c}",
        "x: &c {<<: *c}\n",
        "<<: *nowhere\n",
        "---\n",
        "%YAML 1.1\n",
        "? [a, b]\n",
        "x: " + "[" * 200 + "]" * 200 + "\n",
        "x: " + "{a: " * 70 + "1" + "}" * 70 + "\n",
        "# " + "y" * 100_000 + "\n",
        "\u2028",
        "\ufeff",
    ]
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(pieces) + text[at:]


TEXT_MUTATIONS: list[Callable[[random.Random, str], str]] = [
    _replace_value,
    _replace_value,
    _replace_value,
    _lines,
    _insert,
]


def _bytes(rng: random.Random, data: bytes) -> bytes:
    """Bytes a text editor would not write: invalid UTF-8, controls, NUL, BOMs, a cut."""
    at = rng.randrange(len(data) + 1)
    piece = rng.choice(
        [b"\xff", b"\xc3\x28", b"\x00", b"\x01", b"\x1b[31m", b"\x7f", b"\xef\xbb\xbf", b"\r"]
    )
    if rng.random() < 0.2:
        return data[:at]
    return data[:at] + piece + data[at:]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to three mutations of a shipped file."""
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.15:
            data = _bytes(rng, data)
            continue
        text = data.decode("utf-8", errors="surrogateescape")
        text = rng.choice(TEXT_MUTATIONS)(rng, text)
        data = text.encode("utf-8", errors="surrogateescape")
    return data


class Tally:
    """Counts of what the fuzzed files came to, and every breach of the rules."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.breaches: list[str] = []
        self.slowest = 0.0

    def check(self, name: str, data: bytes) -> None:
        """Validate ``data`` in process and record any rule it breaks."""
        start = time.perf_counter()
        result = load_bytes(data, name)
        elapsed = time.perf_counter() - start
        self.slowest = max(self.slowest, elapsed)
        self.counts["files"] += 1
        self.counts["valid" if not result.errors else "refused"] += 1
        self.counts["errors"] += len(result.errors)
        if elapsed > MAX_SECONDS:
            self.breaches.append(f"{name}: took {elapsed:.2f}s: {data[:200]!r}")
        for error in result.errors:
            where = error.location
            if "internal error" in error.message:
                self.counts["internal"] += 1
                self.breaches.append(f"{name}: {error}: {data[:300]!r}")
            elif where is None or where.file != name or where.line is None:
                self.counts["no line"] += 1
                self.breaches.append(f"{name}: no line: {error}: {data[:300]!r}")

    def summary(self, label: str) -> str:
        c = self.counts
        return (
            f"{label}: {c['files']} files, {c['valid']} valid, {c['refused']} refused "
            f"({c['errors']} errors), {c['internal']} internal errors, "
            f"{c['no line']} errors without a line, slowest {self.slowest * 1000:.0f} ms"
        )
