"""User-supplied regexes run on RE2: linear time, bounded text, constructs RE2 lacks refused."""

from __future__ import annotations

import time

import pytest

from medic.errors import PatternError
from medic.patterns import MAX_PROGRAM, MAX_SUBJECT, compile_pattern, pattern_problem
from medic.probes.base import probes


@pytest.mark.parametrize(
    ("pattern", "construct", "position"),
    [
        ("ok(?=x)", "lookahead `(?=`", 3),
        ("ok(?!x)", "negative lookahead `(?!`", 3),
        ("(?<=a)b", "lookbehind `(?<=`", 1),
        ("(?<!a)b", "negative lookbehind `(?<!`", 1),
        (r"(a)\1", r"backreference `\1`", 4),
        (r"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)\12", r"backreference `\12`", 37),
        ("(?P<n>a)(?P=n)", "named backreference `(?P=`", 9),
        ("(?>ab)", "atomic group `(?>`", 1),
        ("a++", "possessive quantifier `++`", 2),
        ("a*+", "possessive quantifier `*+`", 2),
        ("a{2,3}+", "possessive quantifier `{2,3}+`", 2),
        ("(?(1)a|b)", "conditional group `(?(`", 1),
        ("a(?#note)", "comment `(?#`", 2),
        ("(?x) a b", "verbose flag `(?x`", 1),
        ("(?ia)x", "ASCII flag `(?ia`", 1),
        (r"end\Z", r"end-of-text anchor `\Z`", 4),
        (r"\u00e9", r"\u escape `\u`", 1),
        (r"\N{EM DASH}", r"named character `\N`", 1),
        ("a{,3}", "repetition without a minimum `{,3}`", 2),
    ],
)
def test_constructs_re2_lacks_are_refused_with_their_position(
    pattern: str, construct: str, position: int
) -> None:
    """Each construct RE2 lacks (or reads differently) is named, placed, and explained."""
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert caught.value.problem == (
        f"{construct} is not supported (patterns run on RE2, in linear time)"
    )
    assert caught.value.position == position
    assert caught.value.hint


def test_lookahead_message_reads_whole() -> None:
    """The full text: what, where in the pattern, why, and the rewrite."""
    assert pattern_problem("pattern", "ok(?=x)") == (
        "pattern 'ok(?=x)': invalid regex: lookahead `(?=` is not supported (patterns run on "
        "RE2, in linear time) (character 3 of the pattern); rewrite without it: match the "
        "text itself, or test it with two patterns"
    )


@pytest.mark.parametrize(
    "pattern",
    [r"[(?=]x", r"\(?=x", r"\101", "a{2}", "a{2,}", "{literal}", "x{", r"\d+\.\d+", "(?i)err"],
)
def test_look_alikes_are_accepted(pattern: str) -> None:
    """Escaped or bracketed look-alikes, octal codes and real repetitions compile."""
    compile_pattern(pattern)


def test_named_groups_keep_working() -> None:
    """(?P<name>...) and (?<name>...) capture; the names come out in order."""
    pattern = compile_pattern(r"(?P<level>[A-Z]+) (?<code>\d+)")
    assert pattern.group_names == ("level", "code")
    assert pattern.groups("at ERROR 503 now") == {"level": "ERROR", "code": "503"}
    assert pattern.groups("nothing here") is None


def test_nested_repetition_is_linear() -> None:
    """(a+)+$ on 'a'*N+'b' returns at once; Python's re would take about 2^N steps."""
    pattern = compile_pattern("(a+)+$")
    start = time.perf_counter()
    assert not pattern.search("a" * 100_000 + "b")
    assert not pattern.search("a" * 50 + "b", limit=10**6)
    assert time.perf_counter() - start < 0.5


def test_a_search_reads_at_most_the_limit() -> None:
    """Text past MAX_SUBJECT is not searched; a smaller limit can be given."""
    pattern = compile_pattern("needle")
    assert pattern.search("x" * (MAX_SUBJECT - 6) + "needle")
    assert not pattern.search("x" * MAX_SUBJECT + "needle")
    assert not pattern.search("xxneedle", limit=4)


def test_end_anchors_do_not_match_at_the_cut() -> None:
    """$, \\z and \\b see the text goes on, so a cut text does not fake an end."""
    text = "a" * (MAX_SUBJECT + 10)
    assert not compile_pattern("a$").search(text)
    assert not compile_pattern(r"a\z").search(text)
    assert not compile_pattern(r"a\b").search(text)
    assert compile_pattern("a$").search("a" * 10)


def test_dollar_does_not_match_before_a_final_newline() -> None:
    """RE2's $ (without (?m)) is the very end of the text, unlike Python's."""
    assert not compile_pattern("ok$").search("ok\n")
    assert compile_pattern("(?m)ok$").search("ok\n")


def test_fullmatch_refuses_text_longer_than_the_limit() -> None:
    """A value longer than the limit never matches whole (it cannot be read whole)."""
    pattern = compile_pattern("a*")
    assert pattern.fullmatch("a" * 100)
    assert not pattern.fullmatch("a" * 100, limit=50)


def test_ignore_case_and_ascii_classes() -> None:
    """ignore_case folds letters; \\d is ASCII digits only."""
    assert compile_pattern("error", ignore_case=True).search("FATAL ERROR")
    assert not compile_pattern("error").search("FATAL ERROR")
    assert not compile_pattern(r"^\d$").search("٣")  # an Arabic-Indic digit


def test_undecodable_text_is_read_not_raised() -> None:
    """A lone surrogate in the text is read as '?' instead of raising."""
    assert compile_pattern("b").search("a\udcffb")


def test_a_pattern_too_large_is_refused() -> None:
    """More than MAX_PROGRAM instructions is an error naming the size."""
    with pytest.raises(PatternError) as caught:
        compile_pattern("x{1000}")
    assert caught.value.problem == (
        f"too large: it compiles to 1004 RE2 instructions, at most {MAX_PROGRAM}"
    )


@pytest.mark.parametrize(
    ("pattern", "problem", "position"),
    [
        ("worker(", "missing ) to close `(`", 7),
        ("[a-", "missing ] to close `[`", 1),
        ("a)b", "unexpected )", 2),
        (r"\q", r"invalid escape sequence `\q`", 1),
        ("x{1001}", "invalid repetition size `{1001}`", 2),
    ],
)
def test_invalid_patterns_say_where(pattern: str, problem: str, position: int) -> None:
    """RE2's complaint comes with the character of the pattern it is about."""
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert (caught.value.problem, caught.value.position) == (problem, position)


def test_non_text_pattern_is_refused() -> None:
    """A number where a pattern belongs is an error, not a crash."""
    assert pattern_problem("pattern", 5) == (
        "pattern 5: invalid regex: expected text, not int; quote it in the YAML"
    )


@pytest.mark.parametrize(
    ("probe", "options"),
    [
        ("log", {"path": "/var/log/app.log", "pattern": "error(?!ok)"}),
        ("container.logs", {"name": "web", "pattern": "error(?!ok)"}),
        ("process", {"cmdline": "error(?!ok)"}),
        ("alertmanager", {"alertname": "~error(?!ok)"}),
        ("alertmanager", {"alertname": "X", "labels": {"job": "~error(?!ok)"}}),
    ],
)
def test_every_probe_pattern_option_refuses_what_re2_lacks(
    probe: str, options: dict[str, object]
) -> None:
    """Each probe option that takes a regex reports a lookahead at validate time."""
    cls = probes.get(probe)
    assert cls is not None
    problems = cls.validate(options)
    assert len(problems) == 1
    assert "negative lookahead `(?!` is not supported" in problems[0]
    assert "(character 6 of the pattern)" in problems[0]
