"""The condition language: parsing, evaluation, null semantics, units, errors, safety."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import pytest

from medic.errors import ExpressionError
from medic.patterns import MAX_SUBJECT
from medic.policy.expr import Expression, compile_expression
from medic.policy.expr_parser import MAX_NESTING


def evaluate(text: str, fields: dict[str, Any] | None = None) -> Any:
    """Compile ``text`` and evaluate it against ``fields``."""
    return compile_expression(text).evaluate(fields or {})


# -- evaluation -----------------------------------------------------------------------

EVALUATION = [
    ("memory_percent > 90", {"memory_percent": 95.5}, True),
    ("memory_percent > 90", {"memory_percent": 90}, False),
    ("memory_percent >= 90", {"memory_percent": 90}, True),
    ("memory_percent < 80", {"memory_percent": 79}, True),
    ("memory_percent <= 80", {"memory_percent": 81}, False),
    ("status == 'running'", {"status": "running"}, True),
    ('status != "running"', {"status": "exited"}, True),
    ('status in ["critical", "unknown"]', {"status": "unknown"}, True),
    ('status in ["critical", "unknown"]', {"status": "ok"}, False),
    ('status not in ["critical", "unknown"]', {"status": "ok"}, True),
    ("'err' in output", {"output": "an error occurred"}, True),
    ("'app' in labels", {"labels": {"app": "web"}}, True),
    ("'tier' in labels", {"labels": {"app": "web"}}, False),
    ("code in [500, 502, 503]", {"code": 502}, True),
    ("code in allowed", {"code": 2, "allowed": [1, 2]}, True),
    ('output matches "(?i)error"', {"output": "FATAL ERROR"}, True),
    ('output matches "^ok$"', {"output": "not ok"}, False),
    (r'version matches "\d+\.\d+"', {"version": "v1.25"}, True),
    ("oom_killed", {"oom_killed": True}, True),
    ("oom_killed", {"oom_killed": False}, False),
    ("not oom_killed", {"oom_killed": False}, True),
    ("restarts", {"restarts": 3}, 3),
    ("42", {}, 42),
    ("1.5", {}, 1.5),
    ("'text'", {}, "text"),
    ("true", {}, True),
    ("false", {}, False),
    ("null", {}, None),
    ("[1, 'a', true]", {}, (1, "a", True)),
    ("[x, 2]", {"x": 1}, [1, 2]),
    ("[]", {}, ()),
    ("[1, 2,]", {}, (1, 2)),
    ("used / total * 100 > 90", {"used": 95, "total": 100}, True),
    ("7 % 3", {}, 1),
    ("7 / 2", {}, 3.5),
    ("'a' + 'b'", {}, "ab"),
    ("-x", {"x": 4}, -4),
    ("- -3", {}, 3),
    ("-(2 + 3)", {}, -5),
    ("abs(-3)", {}, 3),
    ("abs(delta) > 5", {"delta": -7}, True),
    ("len(name)", {"name": "web"}, 3),
    ("len(items)", {"items": [1, 2]}, 2),
    ("len(labels)", {"labels": {"a": 1}}, 1),
    ("lower(status) == 'up'", {"status": "UP"}, True),
    ("min(3, 1, 2)", {}, 1),
    ("max(3, 1, 2)", {}, 3),
    ("max(sizes)", {"sizes": [4, 9, 2]}, 9),
    ("min('b', 'a')", {}, "a"),
    ("round(2.6)", {}, 3),
    ("round(2.567, 2)", {}, 2.57),
    ("labels.app == 'web'", {"labels": {"app": "web"}}, True),
    ("a.b.c", {"a": {"b": {"c": 7}}}, 7),
    ("1 == 1.0", {}, True),
    ("'a' < 'b'", {}, True),
    ("[1, 2] == [1, 2]", {}, True),
    ("x == [1, 2]", {"x": [1, 2]}, True),
    ("x > 1 and (y < 2 or z == 3)", {"x": 2, "y": 5, "z": 3}, True),
]


@pytest.mark.parametrize(("text", "fields", "expected"), EVALUATION)
def test_evaluates(text: str, fields: dict[str, Any], expected: Any) -> None:
    """Each condition evaluates to the value an operator would expect."""
    result = evaluate(text, fields)
    assert result == expected
    assert type(result) is type(expected)


PRECEDENCE = [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 - 4 - 3", 3),
    ("24 / 4 / 3", 2.0),
    ("2 * 3 % 4", 2),
    ("-2 * 3", -6),
    ("1 + 2 > 2", True),
    ("true or false and false", True),
    ("(true or false) and false", False),
    ("not true or true", True),
    ("not (true or true)", False),
    ("not 1 > 2", True),
    ("not not true", True),
    ("1 in [1] and 2 in [2]", True),
    ("1 + 1 in [2]", True),
    ("false and false or true", True),
]


@pytest.mark.parametrize(("text", "expected"), PRECEDENCE)
def test_precedence(text: str, expected: Any) -> None:
    """Operators bind as documented: or < and < not < comparisons < + - < * / % < unary -."""
    assert evaluate(text) == expected


# -- unit suffixes ----------------------------------------------------------------------

SUFFIXES = [
    ("500ms", 0.5),
    ("30s", 30),
    ("5m", 300),
    ("26h", 93600),
    ("7d", 604800),
    ("2w", 1209600),
    ("1.5h", 5400.0),
    ("512B", 512),
    ("1KB", 1000),
    ("10MB", 10_000_000),
    ("2GB", 2_000_000_000),
    ("1TB", 10**12),
    ("1KiB", 1024),
    ("512MiB", 512 * 1024**2),
    ("2GiB", 2 * 1024**3),
    ("1TiB", 1024**4),
    ("1h + 30m", 5400),
]


@pytest.mark.parametrize(("text", "expected"), SUFFIXES)
def test_unit_suffixes(text: str, expected: float) -> None:
    """Durations become seconds and sizes bytes (KB is 1000, KiB is 1024)."""
    assert evaluate(text) == expected


def test_duration_suffix_in_condition() -> None:
    """`age > 26h` compares against 93600 seconds."""
    expression = compile_expression("age > 26h")
    assert expression.evaluate({"age": 93601}) is True
    assert expression.evaluate({"age": 93600}) is False


# -- null semantics ---------------------------------------------------------------------

NULLS = [
    ("missing", None),
    ("missing > 90", None),
    ("missing <= 90", None),
    ("90 < missing", None),
    ("missing + 1", None),
    ("missing * 2 > 1", None),
    ("-missing", None),
    ("missing matches 'x'", None),
    ("missing == null", True),
    ("missing != null", False),
    ("missing == 0", False),
    ("missing != 0", True),
    ("not missing", None),
    ("not (missing > 3)", None),
    ("missing > 3 and true", None),
    ("missing > 3 and false", False),
    ("missing > 3 or true", True),
    ("missing > 3 or false", None),
    ("'a' in missing", None),
    ("'a' not in missing", None),
    ("null in [1, null]", True),
    ("missing.deeper", None),
    ("abs(missing)", None),
    ("len(missing)", None),
    ("lower(missing)", None),
    ("max(1, missing)", None),
    ("round(missing)", None),
]


@pytest.mark.parametrize(("text", "expected"), NULLS)
def test_missing_field_semantics(text: str, expected: Any) -> None:
    """A missing field is null; null propagates through ordering, arithmetic and not."""
    assert evaluate(text, {"present": 1}) is expected


def test_missing_field_never_fires_even_negated() -> None:
    """A condition over a missing field is falsy, negated or not."""
    for text in ("cpu > 90", "not (cpu > 90)", "cpu > 90 and disk > 1", "not cpu"):
        assert not evaluate(text, {})


TYPE_MISMATCHES = [
    ("'a' < 1", False),
    ("1 >= 'a'", False),
    ("true > false", False),
    ("true == 1", False),
    ("1 == true", False),
    ("0 == false", False),
    ("1 == '1'", False),
    ("1 != '1'", True),
    ("1 / 0", None),
    ("1 % 0", None),
    ("x / 0.0", None),
    ("'a' * 3", None),
    ("'a' - 'b'", None),
    ("true + 1", None),
    ("-'a'", None),
    ("1 matches 'x'", None),
    ("1 in 'abc'", False),
    ("1 in 5", None),
    ("[1] < [2]", False),
    ("abs('a')", None),
    ("len(5)", None),
    ("lower(5)", None),
    ("min(1, 'a')", None),
    ("max([])", None),
    ("round('a')", None),
    ("round(1.5, 'a')", None),
    ("round(5, -1000)", None),
    ("round(x)", None),
]


@pytest.mark.parametrize(("text", "expected"), TYPE_MISMATCHES)
def test_type_mismatches_never_raise(text: str, expected: Any) -> None:
    """Mixing types gives false or null, never a TypeError; booleans only compare with ==."""
    assert evaluate(text, {"x": math.inf}) is expected


def test_evaluate_survives_values_whose_equality_raises() -> None:
    """A probe value with a raising __eq__ is unequal to everything, not a crash."""

    class Hostile:
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("boom")

        __hash__ = object.__hash__

    assert evaluate("x == 'a'", {"x": Hostile()}) is False
    assert evaluate("x in ['a']", {"x": Hostile()}) is False


def test_short_circuit_skips_right_operand() -> None:
    """`and` stops at the first false operand and `or` at the first true one."""
    reads: list[str] = []

    class Recording(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            reads.append(key)
            return super().get(key, default)

    compile_expression("a and b").evaluate(Recording(a=False, b=True))
    compile_expression("c or d").evaluate(Recording(c=True, d=True))
    assert reads == ["a", "c"]


# -- names ----------------------------------------------------------------------------

NAMES = [
    ("memory_percent > 90", {"memory_percent"}),
    ("labels.app == 'web' and labels.tier == 'db'", {"labels"}),
    ("max(a, b) > c + d", {"a", "b", "c", "d"}),
    ("x in [y, 1] or not z matches 'q'", {"x", "y", "z"}),
    ("1 + 2", set()),
    ("'status' == 'x'", set()),
    ("len(len_field)", {"len_field"}),
    ("x.__class__", {"x"}),
]


@pytest.mark.parametrize(("text", "names"), NAMES)
def test_names_lists_first_segment_of_every_field(text: str, names: set[str]) -> None:
    """`names` holds every field read (first segment of dotted names), no function names."""
    assert compile_expression(text).names == frozenset(names)


# -- errors ---------------------------------------------------------------------------

ERRORS = [
    ("", "expression is empty", 1, "write a condition, like memory_percent > 90"),
    ("   ", "expression is empty", 1, "write a condition, like memory_percent > 90"),
    (
        "memory_percent > )",
        "unexpected ')' at column 18: expected a value after '>'",
        18,
        None,
    ),
    ("(1 + )", "unexpected ')' at column 6: expected a value after '+'", 6, None),
    (")", "unexpected ')' at column 1: expected a value", 1, None),
    ("()", "unexpected ')' at column 2: expected a value", 2, None),
    (
        "x > 1 and",
        "unexpected end of expression at column 10: expected a value after 'and'",
        10,
        None,
    ),
    ("not", "unexpected end of expression at column 4: expected a value after 'not'", 4, None),
    ("x > not y", "unexpected 'not' at column 5: expected a value after '>'", 5, None),
    (
        "x > 1 y",
        "unexpected 'y' at column 7: expected an operator or end of expression",
        7,
        None,
    ),
    (
        "x > 1 AND y",
        "unexpected 'AND' at column 7: expected an operator or end of expression",
        7,
        "keywords are lowercase: write and",
    ),
    (
        "age > 5 m",
        "unexpected 'm' at column 9: expected an operator or end of expression",
        9,
        "write the unit right after the number: 5m",
    ),
    (
        "x > (1 + 2",
        "unexpected end of expression at column 11: expected ')' to close '(' at column 5",
        11,
        None,
    ),
    (
        "x in [1 2]",
        "unexpected '2' at column 9: expected ',' or ']' to close '[' at column 6",
        9,
        None,
    ),
    (
        "max(a b)",
        "unexpected 'b' at column 7: expected ',' or ')' to close 'max(' at column 4",
        7,
        None,
    ),
    (
        "mean(cpu) > 1",
        "unknown function 'mean' at column 1; valid: abs, len, lower, max, min, round"
        "; over a window: availability, avg, changes, delta, increase, max, min,"
        " p50, p90, p95, p99, rate",
        1,
        None,
    ),
    (
        "x > __import__('os')",
        "unknown function '__import__' at column 5; valid: abs, len, lower, max, min, round"
        "; over a window: availability, avg, changes, delta, increase, max, min,"
        " p50, p90, p95, p99, rate",
        5,
        None,
    ),
    (
        "round(1, 2, 3)",
        "wrong number of arguments for round() at column 1: expected 1 or 2, got 3",
        1,
        None,
    ),
    ("abs()", "wrong number of arguments for abs() at column 1: expected 1, got 0", 1, None),
    (
        "min()",
        "wrong number of arguments for min() at column 1: expected at least 1, got 0",
        1,
        None,
    ),
    ("name == 'web", "unterminated string starting at column 9", 9, "close it with '"),
    ('x == "a', "unterminated string starting at column 6", 6, 'close it with "'),
    (
        "x > 90%",
        "unexpected '%' after 90 at column 7",
        7,
        "write 90; percent fields are already 0-100",
    ),
    (
        "cpu > 90% and up",
        "unexpected '%' after 90 at column 9",
        9,
        "write 90; percent fields are already 0-100",
    ),
    ("1 < x < 3", "comparisons cannot be chained at column 7", 7, "write 1 < x and x < 3"),
    ("a == b != c", "comparisons cannot be chained at column 8", 8, "write a == b and b != c"),
    (
        "x in y not in z",
        "comparisons cannot be chained at column 8",
        8,
        "write x in y and y not in z",
    ),
    ("a && b", "unexpected '&&' at column 3", 3, "use and / or / not"),
    ("a || b", "unexpected '||' at column 3", 3, "use and / or / not"),
    ("!a", "unexpected '!' at column 1", 1, "use and / or / not"),
    ("x = 1", "unexpected '=' at column 3", 3, "write == to compare"),
    (
        "oom_killed == True",
        "unknown name 'True' at column 15",
        15,
        "write true/false/null in lowercase",
    ),
    ("x == None", "unknown name 'None' at column 6", 6, "write true/false/null in lowercase"),
    ("x @ 1", "unexpected character '@' at column 3", 3, None),
    (
        "x.y()",
        "unknown function 'x.y' at column 1; valid: abs, len, lower, max, min, round"
        "; over a window: availability, avg, changes, delta, increase, max, min,"
        " p50, p90, p95, p99, rate",
        1,
        None,
    ),
    ("'a'.upper()", "unexpected character '.' at column 4", 4, None),
    (
        "labels.",
        "unexpected end of expression at column 8: expected a field name after '.'",
        8,
        None,
    ),
    ("labels.1", "unexpected '1' at column 8: expected a field name after '.'", 8, None),
    (
        "output matches pattern",
        "unexpected 'pattern' at column 16: expected a string literal after 'matches'",
        16,
        None,
    ),
    (
        'output matches "(error"',
        "invalid regex at column 17: missing ) to close `(`",
        17,
        "close the group, or write \\( for a literal (",
    ),
    (
        'output matches "ok(?=x)"',
        "invalid regex at column 19: lookahead `(?=` is not supported "
        "(patterns run on RE2, in linear time)",
        19,
        "rewrite without it: match the text itself, or test it with two patterns",
    ),
    (
        r"output matches 'it\'s (a)\\1'",
        r"invalid regex at column 26: backreference `\1` is not supported "
        "(patterns run on RE2, in linear time)",
        26,
        "rewrite without it: RE2 cannot match a group's text again; spell out the alternatives",
    ),
    (
        "size > 5mb",
        "unknown unit 'mb' in '5mb' at column 8",
        8,
        "valid units: ms, s, m, h, d, w (seconds); B, KB, MB, GB, TB, KiB, MiB, GiB, TiB (bytes); "
        "combine parts with +, like 1h + 30m",
    ),
    (
        "age > 1h30m",
        "unknown unit 'h30m' in '1h30m' at column 7",
        7,
        "valid units: ms, s, m, h, d, w (seconds); B, KB, MB, GB, TB, KiB, MiB, GiB, TiB (bytes); "
        "combine parts with +, like 1h + 30m",
    ),
    (
        "(" * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1),
        f"expression nests too deeply at column {MAX_NESTING + 1}",
        MAX_NESTING + 1,
        f"nest at most {MAX_NESTING} levels of (), [], not and -",
    ),
]


@pytest.mark.parametrize(("text", "message", "column", "hint"), ERRORS)
def test_error_messages(text: str, message: str, column: int, hint: str | None) -> None:
    """Every syntax error names what was found, what was expected, and its 1-based column."""
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert caught.value.message == message
    assert caught.value.column == column
    assert caught.value.hint == hint


def test_non_text_condition_is_an_error() -> None:
    """YAML `when: true` arrives as a bool; the error says to quote it."""
    with pytest.raises(ExpressionError) as caught:
        compile_expression(True)  # type: ignore[arg-type]
    assert caught.value.message == "expected a condition as text, got bool"
    assert caught.value.hint == 'quote it, like when: "true"'


# -- strings --------------------------------------------------------------------------

STRINGS = [
    (r"'it\'s'", "it's"),
    (r'"say \"hi\""', 'say "hi"'),
    (r"'a\\b'", "a\\b"),
    (r"'\d+'", "\\d+"),
    ('"it\'s"', "it's"),
]


@pytest.mark.parametrize(("text", "expected"), STRINGS)
def test_string_escapes(text: str, expected: str) -> None:
    """Backslash escapes only the quote and itself, so regexes keep their backslashes."""
    assert evaluate(text) == expected


# -- safety ---------------------------------------------------------------------------


class _Secretive:
    """An object whose attributes a condition must never reach."""

    secret = "leaked"

    def __getitem__(self, key: str) -> str:
        return "leaked"


SAFETY = [
    ("__class__", {}),
    ("__class__", {"x": 1}),
    ("x.__class__", {"x": "a string"}),
    ("x.__class__", {"x": {}}),
    ("x.__class__.__name__", {"x": 1}),
    ("x.secret", {"x": _Secretive()}),
    ("x.__dict__", {"x": _Secretive()}),
    ("__builtins__", {}),
]


@pytest.mark.parametrize(("text", "fields"), SAFETY)
def test_no_access_to_python_internals(text: str, fields: dict[str, Any]) -> None:
    """Dunder names are plain missing fields and dotted names never read attributes."""
    assert evaluate(text, fields) is None


def test_dotted_name_reads_only_mapping_keys() -> None:
    """`x.__class__` reads the key "__class__" of a mapping, nothing else."""
    assert evaluate("x.__class__", {"x": {"__class__": "just data"}}) == "just data"


def test_long_chains_do_not_recurse() -> None:
    """A 2,000-term `and` or `+` chain evaluates without hitting the recursion limit."""
    fields = {f"f{index}": 1 for index in range(2000)}
    conjunction = " and ".join(f"f{index} == 1" for index in range(2000))
    total = " + ".join(f"f{index}" for index in range(2000))
    assert evaluate(conjunction, fields) is True
    assert evaluate(total, fields) == 2000


def test_deepest_allowed_nesting_compiles() -> None:
    """Exactly MAX_NESTING levels of parentheses are accepted."""
    assert evaluate("(" * MAX_NESTING + "1" + ")" * MAX_NESTING) == 1


# -- the Expression object ------------------------------------------------------------


def test_compile_is_cached_by_text() -> None:
    """The same text compiles once; later calls return the same Expression."""
    assert compile_expression("cached_field > 1") is compile_expression("cached_field > 1")


def test_expression_is_frozen_and_compares_by_text() -> None:
    """Expressions are immutable values equal when their text is equal."""
    expression = compile_expression("x > 1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        expression.text = "y"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        expression.root.op = "<"  # type: ignore[attr-defined]
    assert expression == Expression("x > 1", frozenset({"x"}), root=compile_expression("1").root)
    assert "root" not in repr(expression)


def test_evaluate_reuses_the_tree() -> None:
    """One compiled condition evaluates many measurements with different results."""
    expression = compile_expression("memory_percent > 90")
    results = [expression.evaluate({"memory_percent": value}) for value in (50, 91, 89, 100)]
    assert results == [False, True, False, True]


# -- regexes run in linear time (issue 9, finding 2) ------------------------------------


@pytest.mark.timeout(10)
def test_nested_repetition_on_outside_text_returns_at_once() -> None:
    """(a+)+$ on 'a'*5000+'b' is false within milliseconds (Python's re: about 2^5000 steps)."""
    expression = compile_expression('output matches "(a+)+$"')
    start = time.perf_counter()
    assert expression.evaluate({"output": "a" * 5000 + "b"}) is False
    assert time.perf_counter() - start < 0.5


def test_matches_reads_the_first_max_subject_characters() -> None:
    """A match past MAX_SUBJECT characters of the text is not seen."""
    expression = compile_expression('output matches "needle"')
    assert expression.evaluate({"output": "x" * (MAX_SUBJECT - 6) + "needle"}) is True
    assert expression.evaluate({"output": "x" * MAX_SUBJECT + "needle"}) is False
