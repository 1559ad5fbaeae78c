"""Glob filters become SQLite GLOB with fnmatch's meaning, bound as a parameter."""

from __future__ import annotations

import fnmatch
import random
import sqlite3

from medic.audit.globs import name_clause, sqlite_glob


def test_a_plain_name_stays_an_exact_match() -> None:
    """No glob character: `column = ?`, so the index serves it as before."""
    assert name_clause("policy", "web-memory") == ("policy = ?", "web-memory")
    assert name_clause("target", "db?") == ("target GLOB ?", "db?")


def test_sqlite_glob_matches_what_fnmatch_matches() -> None:
    """20,000 random patterns over glob-heavy text: SQLite GLOB agrees with fnmatchcase."""
    conn = sqlite3.connect(":memory:")
    rng = random.Random(1)  # noqa: S311 -- test data, not security
    wrong = []
    for _ in range(20_000):
        pattern = "".join(rng.choice("ab^!]-[*?/z") for _ in range(rng.randint(1, 6)))
        text = "".join(rng.choice("ab^!]-[/z") for _ in range(rng.randint(0, 5)))
        (got,) = conn.execute("SELECT ? GLOB ?", (text, sqlite_glob(pattern))).fetchone()
        if bool(got) != fnmatch.fnmatchcase(text, pattern):
            wrong.append((pattern, text))
    assert wrong == []


def test_the_differences_between_the_dialects_are_rewritten() -> None:
    """[!x] -> [^x]; a leading ^ is made literal; an unclosed [ is literal."""
    assert sqlite_glob("db[!1]") == "db[^1]"
    assert sqlite_glob("[^a]") == "[a^]"
    assert sqlite_glob("[^]") == "^"
    assert sqlite_glob("web[") == "web[[]"
